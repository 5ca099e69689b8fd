//! A sealed token file of arbitrary bytes never opens and never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::token::{MemoryStore, SealingKey, SoftToken};

fuzz_target!(|data: &[u8]| {
    let key = SealingKey::from_key_file(
        b"-----BEGIN SYMBOLON SEALING KEY-----\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n-----END SYMBOLON SEALING KEY-----\n",
    )
    .expect("fixed key");
    assert!(SoftToken::open(MemoryStore { data: data.to_vec() }, key).is_err());
});

//! Public keys, private keys and sealing key files from arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::keys::{IdentityPublicKey, RsaPrivateKey, RsaPublicKey};

fuzz_target!(|data: &[u8]| {
    let _ = RsaPublicKey::from_pem_or_der(data);
    let _ = IdentityPublicKey::from_pem_or_der(data);
    let _ = RsaPrivateKey::import_pem(data);
    let _ = symbolon::token::SealingKey::from_key_file(data);
});

//! The weak-key checks over arbitrary moduli (up to 4096 bits): an answer,
//! never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::keys::weak::check_modulus;

fuzz_target!(|data: &[u8]| {
    if data.len() <= 512 {
        let _ = check_modulus(data);
    }
});

//! Public keys, private keys and sealing key files from arbitrary bytes.
//! An EC key that parses re-parses from its canonical SPKI to itself (one
//! point, one encoding: the duplicate check depends on it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::keys::{EcCurve, EcPublicKey, IdentityPublicKey, PublicKey, RsaPrivateKey, RsaPublicKey};

fuzz_target!(|data: &[u8]| {
    let _ = RsaPublicKey::from_pem_or_der(data);
    let _ = IdentityPublicKey::from_pem_or_der(data);
    let _ = RsaPrivateKey::import_pem(data);
    let _ = symbolon::token::SealingKey::from_key_file(data);
    if let Ok(k) = PublicKey::from_pem_or_der(data) {
        assert_eq!(PublicKey::from_spki_der(k.spki_der()).as_ref(), Ok(&k));
    }
    for curve in EcCurve::SIGNING.into_iter().chain([EcCurve::X25519]) {
        if let Ok(k) = EcPublicKey::from_point(curve, data) {
            let again = EcPublicKey::from_spki_der(k.spki_der()).unwrap();
            assert_eq!(again, k);
            assert_eq!(EcPublicKey::from_point(curve, k.point()).unwrap(), k);
        }
    }
});

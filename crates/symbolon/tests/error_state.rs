//! The module's error state (docs/design.md §2.6): once entered, every cryptographic
//! operation is refused until the process restarts. Its own test binary, so
//! its own process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use symbolon::issuer::IssuerIdentity;
use symbolon::keys::{
    HashAlgorithm, KeyError, MessageDigest, RsaAlgorithm, RsaPrivateKey, SignatureScheme,
};
use symbolon::self_test::{ensure, enter_error_state};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token, TokenError};

#[test]
fn error_state_refuses_every_operation() {
    ensure().unwrap();
    let key = SealingKey::generate().unwrap();
    let file = key.to_key_file();
    let mut t = SoftToken::create(MemoryStore::default(), key).unwrap();
    let slot = SlotName::new("a").unwrap();
    let pk = t.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
    let d = MessageDigest::of(HashAlgorithm::Sha256, b"m");
    let sig = t.sign(&slot, SignatureScheme::Pkcs1Sha256, &d).unwrap();
    let ct = pk.encrypt_oaep(b"x").unwrap();
    let store = t.store().clone();

    enter_error_state("operator kill switch");
    let is_self_test = |e: TokenError| matches!(e, TokenError::Key(KeyError::SelfTest(_)));
    assert!(ensure().is_err());
    assert!(is_self_test(
        t.sign(&slot, SignatureScheme::Pkcs1Sha256, &d).unwrap_err()
    ));
    assert!(is_self_test(t.decrypt(&slot, &ct).unwrap_err()));
    assert!(is_self_test(
        t.generate(&SlotName::new("b").unwrap(), RsaAlgorithm::Rsa2048)
            .unwrap_err()
    ));
    assert!(is_self_test(t.attest(&slot, b"").unwrap_err()));
    assert!(matches!(
        pk.verify(SignatureScheme::Pkcs1Sha256, b"m", &sig),
        Err(KeyError::SelfTest(_))
    ));
    assert!(matches!(pk.encrypt_oaep(b"x"), Err(KeyError::SelfTest(_))));
    assert!(matches!(
        RsaPrivateKey::generate(RsaAlgorithm::Rsa2048),
        Err(KeyError::SelfTest(_))
    ));
    assert!(IssuerIdentity::generate().is_err());
    let reopened = SoftToken::open(store, SealingKey::from_key_file(file.as_bytes()).unwrap());
    assert!(matches!(
        reopened,
        Err(TokenError::Key(KeyError::SelfTest(_)))
    ));
    assert!(ensure().unwrap_err().to_string().contains("error state"));
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The soft token state machine end to end over a memory store: generation,
//! signing, decryption, trust, issuer commands, attestation, tamper.

use symbolon::issuer::{IssuerIdentity, TokenTarget};
use symbolon::keys::{HashAlgorithm, MessageDigest, RsaAlgorithm, RsaPrivateKey, SignatureScheme};
use symbolon::token::{
    KeyOrigin, MemoryStore, SealingKey, SignedCommand, SlotName, SoftToken, Token, TokenError,
    TokenStatus,
};

const OTHER_CERT: &[u8] = include_bytes!("data/other-key.der");

fn slot(s: &str) -> SlotName {
    SlotName::new(s).unwrap()
}

fn new_token() -> (SoftToken<MemoryStore>, ()) {
    (
        SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap(),
        (),
    )
}

fn target(t: &SoftToken<MemoryStore>) -> TokenTarget {
    let info = t.info().unwrap();
    TokenTarget {
        serial: info.serial,
        sequence: info.command_sequence,
        transport_key: t.transport_key().unwrap(),
    }
}

#[test]
fn generate_sign_decrypt_and_reopen() {
    let key = SealingKey::generate().unwrap();
    let key_file = key.to_key_file();
    let mut t = SoftToken::create(MemoryStore::default(), key).unwrap();
    assert_eq!(t.info().unwrap().status, TokenStatus::New);
    let pk = t.generate(&slot("sig"), RsaAlgorithm::Rsa2048).unwrap();
    assert_eq!(t.info().unwrap().status, TokenStatus::Active);
    let d = MessageDigest::of(HashAlgorithm::Sha256, b"hello");
    let sig = t
        .sign(&slot("sig"), SignatureScheme::Pkcs1Sha256, &d)
        .unwrap();
    pk.verify(SignatureScheme::Pkcs1Sha256, b"hello", &sig)
        .unwrap();
    let ct = pk.encrypt_oaep(b"k").unwrap();
    assert_eq!(t.decrypt(&slot("sig"), &ct).unwrap().as_slice(), b"k");
    assert_eq!(
        t.generate(&slot("sig"), RsaAlgorithm::Rsa2048).unwrap_err(),
        TokenError::SlotOccupied(slot("sig"))
    );
    assert_eq!(
        t.public_key(&slot("nope")).unwrap_err(),
        TokenError::SlotNotFound(slot("nope"))
    );

    let store = t.store().clone();
    let again = SoftToken::open(
        store,
        SealingKey::from_key_file(key_file.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(again.public_key(&slot("sig")).unwrap(), pk);
    assert_eq!(again.info().unwrap(), t.info().unwrap());
}

#[test]
fn trust_is_fixed_by_the_first_key() {
    let (mut t, _) = new_token();
    let issuer = IssuerIdentity::generate().unwrap();
    t.trust_issuer(issuer.public_key()).unwrap();
    assert!(matches!(
        t.trust_issuer(issuer.public_key()),
        Err(TokenError::AlreadyTrusted(_))
    ));
    t.generate(&slot("a"), RsaAlgorithm::Rsa2048).unwrap();
    let other = IssuerIdentity::generate().unwrap();
    assert_eq!(
        t.trust_issuer(other.public_key()),
        Err(TokenError::TrustFixed)
    );
}

#[test]
fn accept_key_and_certificate_commands() {
    let (mut t, _) = new_token();
    let issuer = IssuerIdentity::generate().unwrap();
    let stranger = IssuerIdentity::generate().unwrap();
    t.trust_issuer(issuer.public_key()).unwrap();

    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let cmd = issuer.authorize_key(&target(&t), &slot("k"), &key).unwrap();

    // Untrusted issuer, forged signature, wrong token: refused, nothing changes.
    let from_stranger = stranger
        .authorize_key(&target(&t), &slot("k"), &key)
        .unwrap();
    assert!(matches!(
        t.accept_key(&from_stranger),
        Err(TokenError::UntrustedIssuer(_))
    ));
    let mut forged = cmd.clone();
    forged.command.slot = slot("elsewhere");
    assert_eq!(t.accept_key(&forged), Err(TokenError::BadAuthorization));
    let (other_token, _) = new_token();
    let for_other = issuer
        .authorize_key(&target(&other_token), &slot("k"), &key)
        .unwrap();
    assert!(matches!(
        t.accept_key(&for_other),
        Err(TokenError::WrongToken { .. })
    ));
    assert!(t.info().unwrap().slots.is_empty());
    let before = t.store().data.clone();

    // The real one, then its replay.
    let json = cmd.to_json().unwrap();
    let cmd = SignedCommand::from_json(&json).unwrap();
    assert_eq!(t.accept_key(&cmd).unwrap(), *key.public_key());
    assert_ne!(t.store().data, before);
    assert!(matches!(
        t.accept_key(&cmd),
        Err(TokenError::ReplayedCommand {
            expected: 1,
            got: 0
        })
    ));
    let info = t.info().unwrap();
    assert_eq!(
        info.slots[0].origin,
        KeyOrigin::Issuer {
            issuer: issuer.public_key().fingerprint()
        }
    );

    // A certificate for another key is refused; garbage is refused.
    let c = issuer
        .authorize_certificate(&target(&t), &slot("k"), OTHER_CERT.to_vec())
        .unwrap();
    assert_eq!(
        t.write_certificate(&c),
        Err(TokenError::CertificateMismatch(slot("k")))
    );
    let c = issuer
        .authorize_certificate(&target(&t), &slot("k"), b"junk".to_vec())
        .unwrap();
    assert!(matches!(
        t.write_certificate(&c),
        Err(TokenError::InvalidCertificate(_))
    ));
    assert_eq!(
        t.certificate(&slot("k")),
        Err(TokenError::NoCertificate(slot("k")))
    );
    // A key command offered as a certificate write is refused.
    let k2 = issuer
        .authorize_key(&target(&t), &slot("k2"), &key)
        .unwrap();
    assert!(matches!(
        t.write_certificate(&k2),
        Err(TokenError::InvalidInput(_))
    ));
}

#[test]
fn attestation_names_origin_and_verifies() {
    let (mut t, _) = new_token();
    let pk = t.generate(&slot("a"), RsaAlgorithm::Rsa2048).unwrap();
    let att = t.attest(&slot("a"), b"nonce").unwrap();
    let dev = t.device_key().unwrap();
    let s = att
        .verify(&dev, Some(&pk.clone().into()), Some(b"nonce"))
        .unwrap();
    assert_eq!(s.origin, KeyOrigin::Generated);
    assert!(!s.exportable);
    let parsed = symbolon::token::Attestation::from_json(&att.to_json().unwrap()).unwrap();
    assert_eq!(parsed, att);
    assert!(att.verify(&dev, None, Some(b"other")).is_err());
    let (other, _) = new_token();
    assert!(att
        .verify(&other.device_key().unwrap(), None, None)
        .is_err());
    let mut forged = att.clone();
    forged.statement.exportable = true;
    assert!(forged.verify(&dev, None, None).is_err());
    assert!(t.attest(&slot("a"), &[0u8; 65]).is_err());
}

#[test]
fn tamper_zeroises_and_kills() {
    let (mut t, _) = new_token();
    t.generate(&slot("a"), RsaAlgorithm::Rsa2048).unwrap();
    let serial = t.serial();
    t.tamper().unwrap();
    assert_eq!(t.info(), Err(TokenError::Tampered { serial }));
    let d = MessageDigest::of(HashAlgorithm::Sha256, b"x");
    assert!(matches!(
        t.sign(&slot("a"), SignatureScheme::Pkcs1Sha256, &d),
        Err(TokenError::Tampered { .. })
    ));
    assert_eq!(t.store().data.len(), symbolon::token::SEALED_HEADER_LEN);
    let reopened = SoftToken::open(t.store().clone(), SealingKey::generate().unwrap());
    assert!(matches!(reopened, Err(TokenError::Tampered { .. })));
}

#[test]
fn a_changed_byte_kills_the_token_on_open() {
    let key = SealingKey::generate().unwrap();
    let file = key.to_key_file();
    let t = SoftToken::create(MemoryStore::default(), key).unwrap();
    let mut store = t.store().clone();
    let last = store.data.len() - 1;
    store.data[last] ^= 1;
    let k = SealingKey::from_key_file(file.as_bytes()).unwrap();
    let err = SoftToken::open(&mut store, k).err().unwrap();
    assert!(matches!(err, TokenError::Tampered { .. }));
    // The open zeroised the store: only the tombstone header is left.
    assert_eq!(store.data.len(), symbolon::token::SEALED_HEADER_LEN);
    let k = SealingKey::from_key_file(file.as_bytes()).unwrap();
    assert!(matches!(
        SoftToken::open(&mut store, k),
        Err(TokenError::Tampered { .. })
    ));
}

#[test]
fn ec_keys_generate_sign_attest_and_reopen() {
    use symbolon::keys::{EcCurve, EcSigningInput, KeyAlgorithm, PublicKey};
    let key = SealingKey::generate().unwrap();
    let key_file = key.to_key_file();
    let mut t = SoftToken::create(MemoryStore::default(), key).unwrap();
    let mut keys = Vec::new();
    for curve in EcCurve::SIGNING {
        let name = slot(curve.name());
        let pk = t.generate_key(&name, KeyAlgorithm::Ec(curve)).unwrap();
        assert_eq!(pk.curve(), Some(curve));
        let PublicKey::Ec(ec) = &pk else {
            panic!("not EC")
        };
        let sig = match curve.natural_hash() {
            Some(h) => {
                let d = MessageDigest::of(h, b"hello");
                let sig = t.sign_ec(&name, EcSigningInput::Digest(&d)).unwrap();
                ec.verify(Some(h), b"hello", &sig).unwrap();
                sig
            }
            None => {
                let sig = t.sign_ec(&name, EcSigningInput::Message(b"hello")).unwrap();
                ec.verify(None, b"hello", &sig).unwrap();
                sig
            }
        };
        assert!(!sig.is_empty());
        // RSA-only operations say what the slot holds.
        for r in [
            t.decrypt(&name, b"x").map(|_| ()),
            t.public_key(&name).map(|_| ()),
            t.sign(
                &name,
                SignatureScheme::Pkcs1Sha256,
                &MessageDigest::of(HashAlgorithm::Sha256, b"x"),
            )
            .map(|_| ()),
        ] {
            match r {
                Err(TokenError::WrongKeyType { holds, .. }) => {
                    assert_eq!(holds, KeyAlgorithm::Ec(curve))
                }
                other => panic!("{other:?}"),
            }
        }
        // The attestation names the EC key, and verifies against it only.
        let att = t.attest(&name, b"n").unwrap();
        let dev = t.device_key().unwrap();
        att.verify(&dev, Some(&pk), Some(b"n")).unwrap();
        let parsed = symbolon::token::Attestation::from_json(&att.to_json().unwrap()).unwrap();
        assert_eq!(parsed, att);
        keys.push((name, pk));
    }
    let rsa = t.generate(&slot("rsa"), RsaAlgorithm::Rsa2048).unwrap();
    let d = MessageDigest::of(HashAlgorithm::Sha256, b"x");
    assert!(matches!(
        t.sign_ec(&slot("rsa"), EcSigningInput::Digest(&d)),
        Err(TokenError::WrongKeyType { .. })
    ));
    // ECDSA on P-384 takes SHA-384 digests only; Ed25519 no digest.
    assert!(t
        .sign_ec(&slot("p384"), EcSigningInput::Digest(&d))
        .is_err());
    assert!(t
        .sign_ec(&slot("ed25519"), EcSigningInput::Digest(&d))
        .is_err());
    assert!(t
        .sign_ec(&slot("p256"), EcSigningInput::Message(b"m"))
        .is_err());
    assert_eq!(
        t.generate_key(&slot("p256"), KeyAlgorithm::Ec(EcCurve::P256))
            .unwrap_err(),
        TokenError::SlotOccupied(slot("p256"))
    );
    let info = t.info().unwrap();
    let algs: Vec<String> = info.slots.iter().map(|s| s.algorithm.to_string()).collect();
    assert_eq!(algs, ["ed25519", "p256", "p384", "rsa-2048"]);

    // The sealed state carries EC keys: reopened, each signs as before.
    let again = SoftToken::open(
        t.store().clone(),
        SealingKey::from_key_file(key_file.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(again.info().unwrap(), info);
    assert_eq!(again.public_key(&slot("rsa")).unwrap(), rsa);
    for (name, pk) in keys {
        assert_eq!(again.slot_public_key(&name).unwrap(), pk);
        let PublicKey::Ec(ec) = &pk else { panic!() };
        if let Some(h) = ec.curve().natural_hash() {
            let d = MessageDigest::of(h, b"again");
            let sig = again.sign_ec(&name, EcSigningInput::Digest(&d)).unwrap();
            ec.verify(Some(h), b"again", &sig).unwrap();
        }
    }
}

/// A slot where a joint key is being made is taken: no key is generated or
/// written there meanwhile, and the finished joint key attests as joint.
#[test]
fn a_joint_key_in_the_making_holds_its_slot_and_attests_as_joint() {
    use symbolon::joint::chained::new_partial;
    let (mut t, ()) = new_token();
    let issuer = IssuerIdentity::generate().unwrap();
    t.trust_issuer(issuer.public_key()).unwrap();
    let j = slot("j");
    let issuer_partial = new_partial(2048).unwrap();
    let provider_partial = new_partial(2048).unwrap();
    t.joint_mut()
        .unwrap()
        .joint_init(&j, RsaAlgorithm::Rsa2048, 65537, &issuer_partial)
        .unwrap();
    assert!(matches!(
        t.generate(&j, RsaAlgorithm::Rsa2048),
        Err(TokenError::SlotOccupied(_))
    ));
    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let cmd = issuer.authorize_key(&target(&t), &j, &key).unwrap();
    assert!(matches!(
        t.accept_key(&cmd),
        Err(TokenError::SlotOccupied(_))
    ));
    let joint = t.joint_mut().unwrap();
    joint.joint_contribute(&j, &provider_partial).unwrap();
    let public = joint.joint_finish(&j).unwrap();
    let attestation = t.attest(&j, b"n").unwrap();
    assert_eq!(attestation.statement.origin, KeyOrigin::Joint);
    assert!(attestation.statement.origin.made_in_token());
    assert_eq!(
        attestation.statement.public_key,
        symbolon::keys::PublicKey::from(public)
    );
}

#[test]
fn hpke_opens_recovery_shares_for_ec_keys_and_nothing_else() {
    use symbolon::escrow::enclave_share::share_info;
    use symbolon::escrow::{ArbitratorId, RecoveryId};
    use symbolon::keys::hpke;
    use symbolon::keys::{EcCurve, KeyAlgorithm, PublicKey};
    let (mut t, ()) = new_token();
    let request = RecoveryId::random().unwrap();
    let info = share_info(&request, &ArbitratorId::new("a").unwrap());
    let other = share_info(&request, &ArbitratorId::new("b").unwrap());
    for (name, curve) in [
        ("p256", EcCurve::P256),
        ("p384", EcCurve::P384),
        ("x25519", EcCurve::X25519),
    ] {
        let PublicKey::Ec(pk) = t
            .generate_key(&slot(name), KeyAlgorithm::Ec(curve))
            .unwrap()
        else {
            panic!("not an EC key")
        };
        let sealed = hpke::seal(&pk, &info, b"share").unwrap();
        assert_eq!(
            t.open_hpke(&slot(name), &info, &sealed).unwrap().as_slice(),
            b"share"
        );
        // Another share's info, a flipped byte: refused, nothing comes out.
        assert_eq!(
            t.open_hpke(&slot(name), &other, &sealed)
                .unwrap_err()
                .code(),
            symbolon::Code::DecryptionFailed
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(t.open_hpke(&slot(name), &info, &bad).is_err());
        // Sealed content's content key (or anything but a share) stays in
        // the token.
        for foreign in [
            &b"symbolon-content v2 key0123456789abcdef"[..],
            b"",
            b"info",
        ] {
            let ct = hpke::seal(&pk, foreign, &[7; 32]).unwrap();
            let e = t.open_hpke(&slot(name), foreign, &ct).unwrap_err();
            assert_eq!(e.code(), symbolon::Code::InvalidInput);
            assert!(e.to_string().contains("only recovery shares"), "{e}");
        }
        let mut long = info.clone();
        long.resize(symbolon::token::MAX_HPKE_INFO + 1, 0);
        let e = t.open_hpke(&slot(name), &long, &sealed).unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
        let big = vec![0; symbolon::token::MAX_HPKE_SEALED + 1];
        let e = t.open_hpke(&slot(name), &info, &big).unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
    }
    // Keys that do not agree: RSA, Ed25519.
    t.generate(&slot("rsa"), RsaAlgorithm::Rsa2048).unwrap();
    t.generate_key(&slot("ed"), KeyAlgorithm::Ec(EcCurve::Ed25519))
        .unwrap();
    for name in ["rsa", "ed"] {
        assert!(matches!(
            t.open_hpke(&slot(name), &info, &[0; 100]).unwrap_err(),
            TokenError::WrongKeyType { .. }
        ));
    }
}

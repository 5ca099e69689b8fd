//! Every parser of outside input returns an error, never a panic, whatever
//! the bytes (docs/design.md §2.5): sealed files, issuer commands, attestations,
//! keys, PEM. Property tests here run in CI on every change; `fuzz/` holds the
//! matching cargo-fuzz targets for long runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use symbolon::keys::{IdentityPublicKey, RsaPrivateKey, RsaPublicKey};
use symbolon::token::{Attestation, MemoryStore, SealingKey, SignedCommand, SoftToken};

fn sealed_token() -> (Vec<u8>, String) {
    let key = SealingKey::generate().unwrap();
    let file = key.to_key_file().to_string();
    let t = SoftToken::create(MemoryStore::default(), key).unwrap();
    (t.store().data.clone(), file)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_sealed_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let key = SealingKey::generate().unwrap();
        let opened = SoftToken::open(MemoryStore { data }, key).is_ok();
        prop_assert!(!opened);
    }

    #[test]
    fn mutated_sealed_token(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let (mut data, file) = SEALED.with(|s| s.clone());
        for (i, v) in &edits {
            let i = i.index(data.len());
            data[i] ^= v | 1;
        }
        let key = SealingKey::from_key_file(file.as_bytes()).unwrap();
        let opened = SoftToken::open(MemoryStore { data }, key).is_ok();
        prop_assert!(!opened);
    }

    #[test]
    fn arbitrary_command_and_attestation_json(text in ".{0,300}") {
        let _ = SignedCommand::from_json(&text);
        let _ = Attestation::from_json(&text);
    }

    #[test]
    fn structured_json_with_wrong_values(
        token in "[0-9a-f]{0,40}", seq in any::<i64>(), slot in ".{0,20}", b in "[A-Za-z0-9+/=]{0,40}",
    ) {
        let cmd = format!(
            r#"{{"format":"symbolon-issuer-command-v1","token":"{token}","sequence":{seq},"slot":{slot:?},"action":"accept-key","public_key":"{b}","wrapped_key":"{b}","issuer":"{b}","signature":"{b}"}}"#
        );
        prop_assert!(SignedCommand::from_json(&cmd).is_err());
    }

    /// Identities, alternative names, name-policy rules and their judgement:
    /// refused with an error or decided, never a panic; what parses has a
    /// canonical form that parses to the same thing.
    #[test]
    fn vetting_inputs(text in "[ -~é]{0,80}", kind in 0usize..6, der in proptest::collection::vec(any::<u8>(), 0..120)) {
        use symbolon::vetting::{CertName, NamePolicy, NamePolicyText, NameRule};
        use symbolon::x509::{parse_identity, AltNames, DnsName};
        let _ = parse_identity(&text);
        let _ = AltNames::parse_tagged([text.as_str()]);
        let prefix = ["dns:", "ip:", "email:", "dn:", "", "dns:*."][kind];
        let rule = format!("{prefix}{text}");
        if let Ok(r) = rule.parse::<NameRule>() {
            let again: NameRule = r.to_string().parse().unwrap();
            prop_assert_eq!(again.to_string(), r.to_string());
            let p = NamePolicy::parse(&NamePolicyText { allow: vec![rule.clone()], deny: vec![] }).unwrap();
            if let Ok(d) = text.parse::<DnsName>() {
                let _ = p.judge(&CertName::Dns(d));
            }
            if let Ok(n) = parse_identity(&text) {
                let _ = p.judge_certificate(&n, &AltNames::default());
            }
        }
        if let Ok(san) = <x509_cert::ext::pkix::SubjectAltName as der::Decode>::from_der(&der) {
            let _ = AltNames::from_extension(&san);
        }
    }

    #[test]
    fn arbitrary_key_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = RsaPublicKey::from_pem_or_der(&data);
        let _ = IdentityPublicKey::from_pem_or_der(&data);
        let _ = RsaPrivateKey::import_pem(&data);
        let _ = SealingKey::from_key_file(&data);
    }

    #[test]
    fn arbitrary_pem(body in "[A-Za-z0-9+/=\n]{0,200}", label in "(PUBLIC KEY|PRIVATE KEY|RSA PRIVATE KEY|CERTIFICATE|X)") {
        let text = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let _ = RsaPublicKey::from_pem_or_der(text.as_bytes());
        let _ = RsaPrivateKey::import_pem(text.as_bytes());
    }
}

thread_local! {
    static SEALED: (Vec<u8>, String) = sealed_token();
}

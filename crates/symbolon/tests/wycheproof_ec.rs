//! Project Wycheproof's ECDSA (P-256, P-384; SHA-256/384/512; DER) and
//! Ed25519 verification vectors against symbolon's EC key layer: every key
//! is read through the CA's strict SPKI parser (`EcPublicKey::from_spki_der`)
//! and every signature through `EcPublicKey::verify`, the code that checks
//! EC proof of possession and EC statements.
//!
//! The files are in `tests/data/wycheproof/` (source and licence in its
//! README). Policy: `valid` must verify, `invalid` must not; the files hold
//! no `acceptable` case, and one appearing fails the test until a policy
//! for it is written here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;
use symbolon::keys::{EcCurve, EcPublicKey, HashAlgorithm};

fn files() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wycheproof");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        // The signature files; key agreement is wycheproof_agreement.rs's.
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("ecdsa_") || n.starts_with("ed25519_")
        })
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn hash(name: &str) -> HashAlgorithm {
    name.parse().unwrap()
}

#[test]
fn every_ecdsa_and_ed25519_vector() {
    let mut counted = std::collections::BTreeMap::<(EcCurve, &str), usize>::new();
    let files = files();
    assert_eq!(files.len(), 6, "the six vector files");
    for (name, file) in &files {
        let schema = file["schema"].as_str().unwrap();
        for group in file["testGroups"].as_array().unwrap() {
            let der = hex::decode(group["publicKeyDer"].as_str().unwrap()).unwrap();
            let key = EcPublicKey::from_spki_der(&der)
                .unwrap_or_else(|e| panic!("{name}: the group's key: {e}"));
            let h = match schema {
                "ecdsa_verify_schema.json" => Some(hash(group["sha"].as_str().unwrap())),
                "eddsa_verify_schema.json" => None,
                other => panic!("{name}: unexpected schema {other}"),
            };
            let expected_curve = match (schema, group["publicKey"]["curve"].as_str()) {
                (_, Some("secp256r1")) => EcCurve::P256,
                (_, Some("secp384r1")) => EcCurve::P384,
                ("eddsa_verify_schema.json", _) => EcCurve::Ed25519,
                other => panic!("{name}: curve {other:?}"),
            };
            assert_eq!(key.curve(), expected_curve, "{name}");
            for t in group["tests"].as_array().unwrap() {
                let id = t["tcId"].as_u64().unwrap();
                let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
                let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
                let verified = key.verify(h, &msg, &sig).is_ok();
                let result = t["result"].as_str().unwrap();
                match result {
                    "valid" => assert!(verified, "{name} #{id} ({}) must verify", t["comment"]),
                    "invalid" => {
                        assert!(!verified, "{name} #{id} ({}) must not verify", t["comment"])
                    }
                    other => panic!("{name} #{id}: result {other} has no policy here"),
                }
                *counted.entry((key.curve(), result)).or_default() += 1;
            }
        }
    }
    // Every file contributed, valid and invalid cases alike.
    for curve in EcCurve::SIGNING {
        for result in ["valid", "invalid"] {
            assert!(
                counted.get(&(curve, result)).copied().unwrap_or(0) > 50,
                "{curve} {result}: {counted:?}"
            );
        }
    }
}

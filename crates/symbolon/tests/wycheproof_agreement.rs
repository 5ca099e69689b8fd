//! Project Wycheproof's key agreement vectors — ECDH on P-256 and P-384
//! (public keys as points) and X25519 — against the code that opens
//! HPKE-sealed content in a token: the peer's key is read as an HPKE
//! encapsulated key is (`Kem::parse_enc`: uncompressed points only, on the
//! curve, X25519 canonical and not of small order) and the secret computed
//! by `EcPrivateKey::agree`, the soft token's Diffie-Hellman.
//!
//! The files are in `tests/data/wycheproof/` (source and licence in its
//! README). Policy: `valid` must agree on the vector's shared secret;
//! `invalid` must be refused. `acceptable` (X25519 only: public keys on
//! the twist, non-canonical or of low order; one P-256 case) either agrees
//! on the vector's secret or is refused — and every low-order or
//! non-canonical public key, whose shared secret is predictable, must be
//! refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use serde_json::Value;
use symbolon::keys::hpke::Kem;
use symbolon::keys::{EcCurve, EcPrivateKey};

fn file(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The vector's private key as a token's slot key: PKCS#8 in PEM, read by
/// the same import a token's `accept-key` uses.
fn private_key(curve: EcCurve, hex_private: &str) -> EcPrivateKey {
    let raw = hex::decode(hex_private).unwrap();
    let pkcs8 = match curve {
        EcCurve::X25519 => {
            // RFC 8410: OneAsymmetricKey { 0, id-X25519, OCTET STRING { OCTET STRING(32) } }.
            let mut der = hex::decode("302e020100300506032b656e04220420").unwrap();
            der.extend_from_slice(&raw);
            der
        }
        _ => {
            let n = curve.field_len();
            // Wycheproof writes private values as signed integers: strip a
            // leading zero byte, pad to the field length.
            let trimmed: Vec<u8> = raw.iter().copied().skip_while(|b| *b == 0).collect();
            let mut be = vec![0u8; n - trimmed.len()];
            be.extend_from_slice(&trimmed);
            let alg = if curve == EcCurve::P384 {
                &agreement::ECDH_P384
            } else {
                &agreement::ECDH_P256
            };
            let k = agreement::PrivateKey::from_private_key(alg, &be).unwrap();
            let der: Pkcs8V1Der<'_> = k.as_der().unwrap();
            der.as_ref().to_vec()
        }
    };
    let pem = symbolon::pem::encode("PRIVATE KEY", &pkcs8);
    EcPrivateKey::import_pem(pem.as_bytes()).unwrap()
}

#[test]
fn every_ecdh_and_x25519_vector() {
    let mut counted = std::collections::BTreeMap::<(EcCurve, String), usize>::new();
    for (name, curve) in [
        ("ecdh_secp256r1_ecpoint_test.json", EcCurve::P256),
        ("ecdh_secp384r1_ecpoint_test.json", EcCurve::P384),
        ("x25519_test.json", EcCurve::X25519),
    ] {
        let kem = Kem::for_curve(curve).unwrap();
        for group in file(name)["testGroups"].as_array().unwrap() {
            for t in group["tests"].as_array().unwrap() {
                let id = t["tcId"].as_u64().unwrap();
                let comment = t["comment"].as_str().unwrap();
                let flags: Vec<&str> = t["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect();
                let public = hex::decode(t["public"].as_str().unwrap()).unwrap();
                let shared = hex::decode(t["shared"].as_str().unwrap()).unwrap();
                let key = private_key(curve, t["private"].as_str().unwrap());
                let agreed = kem
                    .parse_enc(&public)
                    .ok()
                    .and_then(|peer| key.agree(&peer).ok());
                let result = t["result"].as_str().unwrap();
                match result {
                    "valid" => assert_eq!(
                        agreed.as_deref().map(Vec::as_slice),
                        Some(shared.as_slice()),
                        "{name} #{id} ({comment}) must agree"
                    ),
                    "invalid" => {
                        assert!(agreed.is_none(), "{name} #{id} ({comment}) must be refused")
                    }
                    "acceptable" => {
                        let predictable = flags.iter().any(|f| {
                            matches!(
                                *f,
                                "LowOrderPublic" | "ZeroSharedSecret" | "NonCanonicalPublic"
                            )
                        });
                        if predictable {
                            assert!(agreed.is_none(), "{name} #{id} ({comment}) must be refused");
                        } else if let Some(s) = &agreed {
                            assert_eq!(s.as_slice(), shared.as_slice(), "{name} #{id} ({comment})");
                        }
                    }
                    other => panic!("{name} #{id}: result {other} has no policy here"),
                }
                *counted.entry((curve, result.to_string())).or_default() += 1;
            }
        }
    }
    for curve in EcCurve::AGREEMENT {
        assert!(
            counted.get(&(curve, "valid".into())).copied().unwrap_or(0) > 50,
            "{curve}: {counted:?}"
        );
    }
    assert!(
        counted[&(EcCurve::P256, "invalid".into())] > 10,
        "{counted:?}"
    );
    assert!(
        counted[&(EcCurve::X25519, "acceptable".into())] > 100,
        "{counted:?}"
    );
}

//! An ACME client's account key for the service's tests and benches: a
//! P-256 key (aws-lc), its JWK, the flattened JWS requests it signs, and
//! the external account binding an officer's MAC key makes (RFC 8555
//! §7.3.4). `tests/acme_attacks.rs` and the issuance bench both use it.
#![allow(dead_code, unreachable_pub)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// A fresh P-256 account key.
pub struct AcmeKey {
    pair: EcdsaKeyPair,
    /// Its PKCS#8 DER (for a CSR of the key itself).
    pub pkcs8: Vec<u8>,
    /// Its public JWK.
    pub jwk: Value,
}

impl AcmeKey {
    pub fn new() -> AcmeKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let p = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..]),
        });
        AcmeKey {
            pair,
            pkcs8: pkcs8.as_ref().to_vec(),
            jwk,
        }
    }

    /// Its JWK thumbprint (RFC 7638).
    pub fn thumbprint(&self) -> String {
        symbolon::acme::Jwk::from_value(&self.jwk)
            .unwrap()
            .thumbprint()
    }

    /// A flattened JWS over `payload` with `header` (ES256).
    pub fn sign(&self, header: Value, payload: &str) -> Value {
        let p = URL_SAFE_NO_PAD.encode(header.to_string());
        let b = URL_SAFE_NO_PAD.encode(payload);
        let sig = self
            .pair
            .sign(&SystemRandom::new(), format!("{p}.{b}").as_bytes())
            .unwrap();
        json!({ "protected": p, "payload": b, "signature": URL_SAFE_NO_PAD.encode(sig.as_ref()) })
    }
}

/// The external account binding of `jwk` under the officer's key `kid`
/// (`hmac` its MAC key) for the new-account URL `url`.
pub fn eab_binding(kid: &str, hmac: &[u8], url: &str, jwk: &Value) -> Value {
    use aws_lc_rs::hmac as mac;
    let p = URL_SAFE_NO_PAD.encode(json!({ "alg": "HS256", "kid": kid, "url": url }).to_string());
    let b = URL_SAFE_NO_PAD.encode(jwk.to_string());
    let tag = mac::sign(
        &mac::Key::new(mac::HMAC_SHA256, hmac),
        format!("{p}.{b}").as_bytes(),
    );
    json!({ "protected": p, "payload": b, "signature": URL_SAFE_NO_PAD.encode(tag.as_ref()) })
}

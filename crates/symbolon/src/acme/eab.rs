//! External account binding (RFC 8555 §7.3.4): a new account's request
//! carries a JWS, MACed with a key an officer issued out of band, over the
//! account's public key. It ties the account to the principal the key was
//! issued for.

use aws_lc_rs::hmac;
use serde_json::Value;

use super::jwk::Jwk;
use super::jws::Jws;
use super::problem::{malformed, Problem, ProblemType};

/// Longest key identifier read.
pub const MAX_KID: usize = 64;

/// A binding as received, before its MAC is checked.
#[derive(Debug, Clone)]
pub struct ExternalBinding {
    /// The key identifier the officer gave out.
    pub kid: String,
    jws: Jws,
    algorithm: hmac::Algorithm,
}

fn unauthorized(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::Unauthorized, detail)
}

impl ExternalBinding {
    /// Reads `externalAccountBinding`: HS256, HS384 or HS512, a `kid`, the
    /// new-account URL, no nonce.
    pub fn parse(v: &Value) -> Result<Self, Problem> {
        let jws = Jws::from_value(v)?;
        let algorithm = match jws.header_str("alg")? {
            Some("HS256") => hmac::HMAC_SHA256,
            Some("HS384") => hmac::HMAC_SHA384,
            Some("HS512") => hmac::HMAC_SHA512,
            _ => {
                return Err(Problem::new(
                    ProblemType::BadSignatureAlgorithm,
                    "the external account binding is MACed with HS256, HS384 or HS512",
                ))
            }
        };
        if jws.header_str("nonce")?.is_some() {
            return Err(malformed("the external account binding carries no nonce"));
        }
        let kid = jws
            .header_str("kid")?
            .filter(|k| !k.is_empty() && k.len() <= MAX_KID)
            .ok_or_else(|| {
                malformed("the external account binding names no kid (of at most 64 characters)")
            })?
            .to_string();
        Ok(Self {
            kid,
            jws,
            algorithm,
        })
    }

    /// Checks the MAC under `key`, that the binding was made for
    /// `new_account_url`, and that it binds `account_key`.
    pub fn verify(
        &self,
        key: &[u8],
        account_key: &Jwk,
        new_account_url: &str,
    ) -> Result<(), Problem> {
        // Constant-time comparison of the tag (aws-lc's hmac::verify).
        hmac::verify(
            &hmac::Key::new(self.algorithm, key),
            self.jws.signing_input(),
            self.jws.signature(),
        )
        .map_err(|_| {
            unauthorized(format!(
                "the external account binding's MAC does not verify under the key of kid {}",
                self.kid
            ))
        })?;
        if self.jws.header_str("url")? != Some(new_account_url) {
            return Err(unauthorized(
                "the external account binding was made for another URL than this newAccount",
            ));
        }
        let bound: Value = serde_json::from_slice(&self.jws.payload)
            .map_err(|_| malformed("the external account binding's payload is not a JWK"))?;
        if Jwk::from_value(&bound)?.thumbprint() != account_key.thumbprint() {
            return Err(unauthorized(
                "the external account binding binds another key than the one signing this request",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::jws::tests::TestKey;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn binding(key: &[u8], kid: &str, url: &str, jwk: &Value) -> Value {
        let p = URL_SAFE_NO_PAD
            .encode(serde_json::json!({ "alg": "HS256", "kid": kid, "url": url }).to_string());
        let b = URL_SAFE_NO_PAD.encode(jwk.to_string());
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, key),
            format!("{p}.{b}").as_bytes(),
        );
        serde_json::json!({ "protected": p, "payload": b, "signature": URL_SAFE_NO_PAD.encode(tag.as_ref()) })
    }

    #[test]
    fn a_binding_verifies_only_with_its_key_url_and_account_key() {
        let k = TestKey::new();
        let jwk = Jwk::from_value(&k.jwk).unwrap();
        let url = "https://ca/acme/server/new-account";
        let b = ExternalBinding::parse(&binding(b"0123456789abcdef", "kid1", url, &k.jwk)).unwrap();
        assert_eq!(b.kid, "kid1");
        b.verify(b"0123456789abcdef", &jwk, url).unwrap();
        assert!(b
            .verify(b"0123456789abcdeX", &jwk, url)
            .unwrap_err()
            .detail
            .contains("MAC"));
        assert!(b
            .verify(b"0123456789abcdef", &jwk, "https://ca/other")
            .unwrap_err()
            .detail
            .contains("URL"));
        let other = Jwk::from_value(&TestKey::new().jwk).unwrap();
        assert!(b
            .verify(b"0123456789abcdef", &other, url)
            .unwrap_err()
            .detail
            .contains("another key"));
    }

    #[test]
    fn a_binding_with_a_nonce_or_a_signature_algorithm_is_refused() {
        let k = TestKey::new();
        let signed = k.sign(
            serde_json::json!({ "alg": "ES256", "kid": "k", "url": "u" }),
            b"{}",
        );
        assert!(ExternalBinding::parse(&signed)
            .unwrap_err()
            .is(ProblemType::BadSignatureAlgorithm));
        let p = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k","url":"u","nonce":"n"}"#);
        let v = serde_json::json!({ "protected": p, "payload": "", "signature": "" });
        assert!(ExternalBinding::parse(&v)
            .unwrap_err()
            .detail
            .contains("nonce"));
    }
}

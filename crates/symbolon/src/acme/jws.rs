//! The signed requests of ACME (RFC 8555 §6.2): a JWS in the flattened
//! JSON serialization (RFC 7515 §7.2.2) with one protected header naming
//! `alg`, `nonce`, `url` and exactly one of `jwk` (a new account, a
//! revocation by the certificate's key) or `kid` (the account URL).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::jwk::{Jwk, JwsAlgorithm};
use super::problem::{malformed, Problem, ProblemType};

/// Largest request body read as a JWS (a CSR for an 8192-bit key with a
/// hundred names fits many times over).
pub const MAX_JWS: usize = 64 * 1024;

/// A JWS as received: its parts, decoded, and the text it signs.
#[derive(Debug, Clone)]
pub struct Jws {
    signing_input: String,
    signature: Vec<u8>,
    header: Map<String, Value>,
    /// The decoded payload; empty for a POST-as-GET.
    pub payload: Vec<u8>,
}

/// Who signed a request, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A key given whole (`jwk`).
    Key(Jwk),
    /// An account, by its URL (`kid`).
    Account(String),
}

/// The checked protected header of a request.
#[derive(Debug, Clone)]
pub struct RequestHeader {
    /// `alg`.
    pub alg: JwsAlgorithm,
    /// `nonce`: the service checks it was one it gave and is unused.
    pub nonce: String,
    /// `url`: the request's own URL.
    pub url: String,
    /// `jwk` or `kid`.
    pub signer: Signer,
}

/// A JSON object whose members are each named once (a second `url` or
/// `kid` would be read one way here and another way elsewhere).
struct UniqueObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut m = Map::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    if m.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!(
                            "member {:?} appears twice",
                            k.chars().take(20).collect::<String>()
                        )));
                    }
                    m.insert(k, v);
                }
                Ok(UniqueObject(m))
            }
        }
        d.deserialize_map(Members)
    }
}

fn unique_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, Problem> {
    serde_json::from_slice::<UniqueObject>(bytes)
        .map(|u| u.0)
        .map_err(|e| {
            malformed(format!(
                "{what} is not a JSON object with each member once: {e}"
            ))
        })
}

fn b64(name: &str, text: &str) -> Result<Vec<u8>, Problem> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| malformed(format!("the JWS {name} is not base64url without padding")))
}

impl Jws {
    /// Reads a flattened JWS from a request body or a JSON value.
    pub fn from_value(v: &Value) -> Result<Self, Problem> {
        let m = v.as_object().ok_or_else(|| {
            malformed("the body is not a JWS object (flattened JSON serialization)")
        })?;
        if let Some(extra) = m
            .keys()
            .find(|k| !matches!(k.as_str(), "protected" | "payload" | "signature"))
        {
            return Err(malformed(format!(
                "the JWS has a {:?} member: ACME takes one signature with a protected header only",
                extra.chars().take(20).collect::<String>()
            )));
        }
        let part = |name: &str| {
            m.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(format!("the JWS has no {name} string")))
        };
        let (protected, payload, signature) =
            (part("protected")?, part("payload")?, part("signature")?);
        let header = unique_object(
            &b64("protected header", protected)?,
            "the JWS protected header",
        )?;
        // No extension is understood, so none may be critical; an
        // unencoded payload (RFC 7797) is not ACME's.
        if header.contains_key("crit") || header.contains_key("b64") {
            return Err(malformed(
                "the JWS header asks for extensions (crit, b64) this service does not implement",
            ));
        }
        Ok(Self {
            signing_input: format!("{protected}.{payload}"),
            signature: b64("signature", signature)?,
            header,
            payload: b64("payload", payload)?,
        })
    }

    /// Reads a request body.
    pub fn parse(body: &[u8]) -> Result<Self, Problem> {
        if body.len() > MAX_JWS {
            return Err(malformed(format!("requests are at most {MAX_JWS} bytes")));
        }
        Self::from_value(&Value::Object(unique_object(body, "the body")?))
    }

    /// A header member that is a string, if present.
    pub fn header_str(&self, name: &str) -> Result<Option<&str>, Problem> {
        match self.header.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(malformed(format!(
                "the JWS header's {name} is not a string"
            ))),
        }
    }

    /// The header's `jwk`, checked, if present.
    pub fn header_jwk(&self) -> Result<Option<Jwk>, Problem> {
        self.header.get("jwk").map(Jwk::from_value).transpose()
    }

    /// The header of a request to the service: an asymmetric `alg`, a
    /// `nonce`, the `url`, and `jwk` or `kid`, not both.
    pub fn request_header(&self) -> Result<RequestHeader, Problem> {
        let alg = JwsAlgorithm::parse(
            self.header_str("alg")?
                .ok_or_else(|| malformed("the JWS header has no alg"))?,
        )?;
        let nonce = self
            .header_str("nonce")?
            .ok_or_else(|| Problem::new(ProblemType::BadNonce, "the JWS header has no nonce"))?
            .to_string();
        let url = self
            .header_str("url")?
            .ok_or_else(|| Problem::new(ProblemType::Unauthorized, "the JWS header has no url"))?
            .to_string();
        let signer = match (self.header_jwk()?, self.header_str("kid")?) {
            (Some(k), None) => Signer::Key(k),
            (None, Some(kid)) => Signer::Account(kid.to_string()),
            _ => {
                return Err(malformed(
                    "the JWS header names its key by exactly one of jwk and kid",
                ))
            }
        };
        Ok(RequestHeader {
            alg,
            nonce,
            url,
            signer,
        })
    }

    /// Checks the signature with `key` under `alg`.
    pub fn verify(&self, alg: JwsAlgorithm, key: &Jwk) -> Result<(), Problem> {
        key.verify(alg, self.signing_input.as_bytes(), &self.signature)
    }

    /// The text the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Whether the payload is empty: a POST-as-GET (RFC 8555 §6.3).
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }

    /// The payload as a JSON object (`{}` for requests with nothing to say).
    pub fn payload_json(&self) -> Result<Map<String, Value>, Problem> {
        match serde_json::from_slice(&self.payload) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(malformed("the JWS payload is not a JSON object")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    /// A P-256 account key for tests, and its JWK.
    pub(crate) struct TestKey {
        pair: EcdsaKeyPair,
        pub(crate) jwk: Value,
    }

    impl TestKey {
        pub(crate) fn new() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
            let p = pair.public_key().as_ref().to_vec();
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..]),
            });
            Self { pair, jwk }
        }

        /// A flattened JWS over `payload` with `header`.
        pub(crate) fn sign(&self, header: Value, payload: &[u8]) -> Value {
            let p = URL_SAFE_NO_PAD.encode(header.to_string());
            let b = URL_SAFE_NO_PAD.encode(payload);
            let sig = self
                .pair
                .sign(&SystemRandom::new(), format!("{p}.{b}").as_bytes())
                .unwrap();
            serde_json::json!({ "protected": p, "payload": b, "signature": URL_SAFE_NO_PAD.encode(sig.as_ref()) })
        }
    }

    #[test]
    fn a_signed_request_parses_and_verifies() {
        let k = TestKey::new();
        let jws = k.sign(
            serde_json::json!({ "alg": "ES256", "nonce": "n1", "url": "https://ca/acme/new-account", "jwk": k.jwk }),
            br#"{"termsOfServiceAgreed":true}"#,
        );
        let parsed = Jws::parse(jws.to_string().as_bytes()).unwrap();
        let h = parsed.request_header().unwrap();
        assert_eq!(h.nonce, "n1");
        let Signer::Key(key) = &h.signer else {
            panic!("a jwk header")
        };
        parsed.verify(h.alg, key).unwrap();
        assert!(!parsed.is_post_as_get());
        // One byte of the payload changed: the signature no longer holds.
        let mut tampered = jws.clone();
        tampered["payload"] =
            Value::String(URL_SAFE_NO_PAD.encode(br#"{"termsOfServiceAgreed":false}"#));
        let t = Jws::parse(tampered.to_string().as_bytes()).unwrap();
        assert!(t.verify(h.alg, key).is_err());
    }

    #[test]
    fn malformed_requests_are_refused_with_reasons() {
        let k = TestKey::new();
        let both = k.sign(
            serde_json::json!({ "alg": "ES256", "nonce": "n", "url": "u", "jwk": k.jwk, "kid": "a" }),
            b"",
        );
        assert!(Jws::parse(both.to_string().as_bytes())
            .unwrap()
            .request_header()
            .unwrap_err()
            .detail
            .contains("exactly one"));
        let no_nonce = k.sign(
            serde_json::json!({ "alg": "ES256", "url": "u", "kid": "a" }),
            b"",
        );
        assert!(Jws::parse(no_nonce.to_string().as_bytes())
            .unwrap()
            .request_header()
            .unwrap_err()
            .is(ProblemType::BadNonce));
        let mut extra = k.sign(serde_json::json!({ "alg": "ES256" }), b"");
        extra["header"] = serde_json::json!({});
        assert!(Jws::parse(extra.to_string().as_bytes()).is_err());
        let crit = k.sign(serde_json::json!({ "alg": "ES256", "crit": ["x"] }), b"");
        assert!(Jws::parse(crit.to_string().as_bytes()).is_err());
        assert!(Jws::parse(b"not json").is_err());
        // A member twice, outside or in the protected header.
        let twice = br#"{"protected":"e30","payload":"","signature":"","payload":"x"}"#;
        assert!(Jws::parse(twice).unwrap_err().detail.contains("twice"));
        let p = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","url":"a","url":"b"}"#);
        let body = format!(r#"{{"protected":"{p}","payload":"","signature":""}}"#);
        assert!(Jws::parse(body.as_bytes())
            .unwrap_err()
            .detail
            .contains("twice"));
        assert!(Jws::parse(&vec![b' '; MAX_JWS + 1]).is_err());
        let mac = k.sign(
            serde_json::json!({ "alg": "HS256", "nonce": "n", "url": "u", "kid": "a" }),
            b"",
        );
        assert!(Jws::parse(mac.to_string().as_bytes())
            .unwrap()
            .request_header()
            .unwrap_err()
            .is(ProblemType::BadSignatureAlgorithm));
    }
}

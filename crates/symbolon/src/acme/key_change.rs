//! Account key rollover (RFC 8555 §7.3.5): the outer request is signed by
//! the account's current key; its payload is a JWS signed by the new key,
//! naming the account and the old key, for the same URL.

use serde_json::Value;

use super::jwk::{Jwk, JwsAlgorithm};
use super::jws::Jws;
use super::problem::{malformed, Problem};

/// A key change, checked: the new key signed it.
#[derive(Debug, Clone)]
pub struct KeyChange {
    /// The new key.
    pub new_key: Jwk,
    /// The account URL it names.
    pub account: String,
    /// The old key it names.
    pub old_key: Jwk,
}

impl KeyChange {
    /// Reads and checks the inner JWS (the outer request's payload) made
    /// for `url`.
    pub fn parse(payload: &[u8], url: &str) -> Result<Self, Problem> {
        let v: Value = serde_json::from_slice(payload)
            .map_err(|_| malformed("the key change's payload is not a JWS"))?;
        let inner = Jws::from_value(&v)?;
        let alg = JwsAlgorithm::parse(
            inner
                .header_str("alg")?
                .ok_or_else(|| malformed("the inner JWS has no alg"))?,
        )?;
        if inner.header_str("nonce")?.is_some() {
            return Err(malformed("the inner JWS of a key change carries no nonce"));
        }
        if inner.header_str("url")? != Some(url) {
            return Err(malformed("the inner JWS names another url than the outer"));
        }
        let new_key = inner
            .header_jwk()?
            .ok_or_else(|| malformed("the inner JWS names the new key by jwk"))?;
        inner.verify(alg, &new_key)?;
        let body = inner.payload_json()?;
        let account = body
            .get("account")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("the key change names no account"))?
            .to_string();
        let old_key = Jwk::from_value(
            body.get("oldKey")
                .ok_or_else(|| malformed("the key change names no oldKey"))?,
        )?;
        Ok(Self {
            new_key,
            account,
            old_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::jws::tests::TestKey;

    #[test]
    fn the_new_key_must_sign_for_the_same_url() {
        let (old, new) = (TestKey::new(), TestKey::new());
        let body =
            serde_json::json!({ "account": "https://ca/acme/p/account/1", "oldKey": old.jwk });
        let inner = new.sign(
            serde_json::json!({ "alg": "ES256", "jwk": new.jwk, "url": "https://ca/acme/p/key-change" }),
            body.to_string().as_bytes(),
        );
        let c =
            KeyChange::parse(inner.to_string().as_bytes(), "https://ca/acme/p/key-change").unwrap();
        assert_eq!(c.new_key, Jwk::from_value(&new.jwk).unwrap());
        assert_eq!(c.old_key, Jwk::from_value(&old.jwk).unwrap());
        assert!(KeyChange::parse(inner.to_string().as_bytes(), "https://ca/other").is_err());
        // Signed by the old key while naming the new one: refused.
        let forged = old.sign(
            serde_json::json!({ "alg": "ES256", "jwk": new.jwk, "url": "https://ca/acme/p/key-change" }),
            body.to_string().as_bytes(),
        );
        assert!(KeyChange::parse(
            forged.to_string().as_bytes(),
            "https://ca/acme/p/key-change"
        )
        .is_err());
    }
}

//! Renewal with a new key (docs/revocation.md): the old key, inside its
//! token, signs that the new key takes its certificate's place (as CMP's
//! key update request proves with the old key, RFC 4210 §5.3.5). The CA
//! then certifies the new key under the old certificate's subject, names
//! and role, once per old certificate, and supersedes the old one when the
//! new one is delivered.

use serde::{Deserialize, Serialize};

use super::self_request::{verify_signed, SCHEME};
use super::RevocationError;
use crate::keys::{Fingerprint, MessageDigest, PublicKey};

/// The old key's authorisation, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalAuthorization {
    /// The certificate renewed (lower-case hex).
    pub old_serial: String,
    /// When it was signed (Unix seconds).
    pub signed_at: i64,
    /// The signature, hex, by the old key (PKCS#1 v1.5 with SHA-256 for
    /// RSA; ECDSA or Ed25519 for EC keys, as for self-revocation).
    pub signature: String,
}

/// The bytes the old key signs: the CA, the old certificate, the new key.
pub fn renewal_statement(
    ca: &Fingerprint,
    old_serial: &str,
    new_key: &Fingerprint,
    at: i64,
) -> Vec<u8> {
    format!(
        "symbolon renewal v1\nca {ca}\nold-serial {old_serial}\nnew-key {new_key}\nsigned-at {at}\n"
    )
    .into_bytes()
}

/// The digest an RSA old key signs (with [`SCHEME`]).
pub fn renewal_digest(
    ca: &Fingerprint,
    old_serial: &str,
    new_key: &Fingerprint,
    at: i64,
) -> MessageDigest {
    MessageDigest::of(
        SCHEME.hash(),
        &renewal_statement(ca, old_serial, new_key, at),
    )
}

impl RenewalAuthorization {
    /// Checks the signature by `old_key` over this CA and `new_key`, and
    /// its time near `now`.
    pub fn verify(
        &self,
        ca: &Fingerprint,
        old_key: &PublicKey,
        new_key: &Fingerprint,
        now: i64,
    ) -> Result<(), RevocationError> {
        super::self_request::require_lower_hex("old_serial", &self.old_serial)?;
        verify_signed(
            "renewal",
            old_key,
            &renewal_statement(ca, &self.old_serial, new_key, self.signed_at),
            &self.signature,
            self.signed_at,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{RsaAlgorithm, RsaPrivateKey};
    use crate::revocation::self_request::MAX_SKEW;

    #[test]
    fn the_old_key_authorises_exactly_this_new_key_here_and_now() {
        let old = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let new = Fingerprint::of_spki(b"new key");
        let ca = Fingerprint::of_spki(b"ca");
        let at = 1_800_000_000;
        let sig = old
            .sign_digest(SCHEME, &renewal_digest(&ca, "40aa", &new, at))
            .unwrap();
        let a = RenewalAuthorization {
            old_serial: "40aa".into(),
            signed_at: at,
            signature: hex::encode(sig),
        };
        a.verify(
            &ca,
            &PublicKey::from(old.public_key().clone()),
            &new,
            at + 60,
        )
        .unwrap();
        let other = Fingerprint::of_spki(b"another new key");
        assert!(a
            .verify(&ca, &PublicKey::from(old.public_key().clone()), &other, at)
            .is_err());
        assert!(a
            .verify(
                &Fingerprint::of_spki(b"ca2"),
                &PublicKey::from(old.public_key().clone()),
                &new,
                at
            )
            .is_err());
        assert!(matches!(
            a.verify(
                &ca,
                &PublicKey::from(old.public_key().clone()),
                &new,
                at + MAX_SKEW + 1
            ),
            Err(RevocationError::Stale { .. })
        ));
        let wrong = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        assert!(a
            .verify(&ca, &PublicKey::from(wrong.public_key().clone()), &new, at)
            .is_err());
    }
}

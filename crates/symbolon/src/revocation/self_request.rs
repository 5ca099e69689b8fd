//! A subscriber revoking its own certificate: a statement signed inside
//! its token by the certified key itself, so the token is all it needs
//! (docs/revocation.md). The statement names the CA (its key's
//! fingerprint), the certificate's serial, the reason and when it was
//! signed; the CA takes it within [`MAX_SKEW`] of its own clock, so a
//! statement cannot be kept and replayed later.

use serde::{Deserialize, Serialize};

use super::{RevocationError, RevocationReason};
use crate::keys::{Fingerprint, MessageDigest, PublicKey, SignatureAlgorithm, SignatureScheme};

/// How far the statement's time may be from the CA's (seconds).
pub const MAX_SKEW: i64 = 300;

/// The scheme an RSA key signs the statement with. An ECDSA key signs the
/// statement's bytes with its curve's hash (SHA-256 on P-256, SHA-384 on
/// P-384; a DER signature), an Ed25519 key signs them as they are.
pub const SCHEME: SignatureScheme = SignatureScheme::Pkcs1Sha256;

/// What the subscriber signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfRevocation {
    /// The certificate's serial (lower-case hex).
    pub serial: String,
    /// Why.
    pub reason: RevocationReason,
    /// When it was signed (Unix seconds).
    pub signed_at: i64,
    /// The signature, hex, by the certified key ([`SCHEME`] for RSA).
    pub signature: String,
}

/// The bytes signed: a domain label, the CA, and the fields, one a line.
pub fn statement(ca: &Fingerprint, serial: &str, reason: RevocationReason, at: i64) -> Vec<u8> {
    format!(
        "symbolon self-revocation v1\nca {ca}\nserial {serial}\nreason {reason}\nsigned-at {at}\n"
    )
    .into_bytes()
}

/// The digest the token signs.
pub fn statement_digest(
    ca: &Fingerprint,
    serial: &str,
    reason: RevocationReason,
    at: i64,
) -> MessageDigest {
    MessageDigest::of(SCHEME.hash(), &statement(ca, serial, reason, at))
}

impl SelfRevocation {
    /// Checks the statement: a reason a subscriber may give, a time near
    /// `now`, and a signature by `key` (the certified key) over this CA.
    pub fn verify(
        &self,
        ca: &Fingerprint,
        key: &PublicKey,
        now: i64,
    ) -> Result<(), RevocationError> {
        require_lower_hex("serial", &self.serial)?;
        if !self.reason.subscriber_may_give() {
            return Err(RevocationError::Invalid(format!(
                "a subscriber may not give the reason {} (holds and the CA's own compromise are the CA's to record)",
                self.reason
            )));
        }
        verify_signed(
            "self-revocation",
            key,
            &statement(ca, &self.serial, self.reason, self.signed_at),
            &self.signature,
            self.signed_at,
            now,
        )
    }
}

/// A serial as the statements name it: lower-case hex, so one event has
/// one statement.
pub(crate) fn require_lower_hex(what: &str, serial: &str) -> Result<(), RevocationError> {
    if serial.is_empty()
        || !serial
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(RevocationError::Invalid(format!(
            "{what} {serial:?}: the statement names the serial in lower-case hex"
        )));
    }
    Ok(())
}

/// A statement's check: signed within [`MAX_SKEW`] of `now`, its hex
/// `signature` by `key` over `message` (self-revocations and renewals):
/// [`SCHEME`] for an RSA key, ECDSA with the curve's hash or Ed25519 for an
/// EC key.
pub(crate) fn verify_signed(
    what: &'static str,
    key: &PublicKey,
    message: &[u8],
    signature: &str,
    signed_at: i64,
    now: i64,
) -> Result<(), RevocationError> {
    if signed_at.abs_diff(now) > MAX_SKEW.unsigned_abs() {
        return Err(RevocationError::Stale { signed_at, now });
    }
    let sig =
        hex::decode(signature).map_err(|e| RevocationError::Invalid(format!("signature: {e}")))?;
    let checked = match key {
        PublicKey::Rsa(k) => {
            k.verify_digest(SCHEME, &MessageDigest::of(SCHEME.hash(), message), &sig)
        }
        PublicKey::Ec(k) => {
            let alg = k
                .curve()
                .natural_hash()
                .map_or(SignatureAlgorithm::Ed25519, SignatureAlgorithm::Ecdsa);
            key.verify(alg, message, &sig)
        }
    };
    checked.map_err(|_| RevocationError::BadSignature(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{RsaAlgorithm, RsaPrivateKey};

    #[test]
    fn only_the_certified_key_near_now_over_this_ca_revokes() {
        let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let ca = key.public_key().fingerprint();
        let other_ca = Fingerprint::of_spki(b"another CA");
        let at = 1_800_000_000;
        let reason = RevocationReason::KeyCompromise;
        let sig = key
            .sign_digest(SCHEME, &statement_digest(&ca, "40aa", reason, at))
            .unwrap();
        let r = SelfRevocation {
            serial: "40aa".into(),
            reason,
            signed_at: at,
            signature: hex::encode(sig),
        };
        r.verify(&ca, &PublicKey::from(key.public_key().clone()), at + 10)
            .unwrap();
        assert!(r
            .verify(&other_ca, &PublicKey::from(key.public_key().clone()), at)
            .is_err());
        assert!(matches!(
            r.verify(
                &ca,
                &PublicKey::from(key.public_key().clone()),
                at + MAX_SKEW + 1
            ),
            Err(RevocationError::Stale { .. })
        ));
        let wrong = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        assert_eq!(
            r.verify(&ca, &PublicKey::from(wrong.public_key().clone()), at)
                .unwrap_err(),
            RevocationError::BadSignature("self-revocation")
        );
        let other_serial = SelfRevocation {
            serial: "40ab".into(),
            ..r.clone()
        };
        assert!(other_serial
            .verify(&ca, &PublicKey::from(key.public_key().clone()), at)
            .is_err());
        let hold = SelfRevocation {
            reason: RevocationReason::CertificateHold,
            ..r
        };
        assert!(matches!(
            hold.verify(&ca, &PublicKey::from(key.public_key().clone()), at),
            Err(RevocationError::Invalid(_))
        ));
    }
}

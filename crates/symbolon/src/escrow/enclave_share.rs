//! An approving arbitrator's share re-encrypted to the recovery enclave
//! (FIG. 10, the share passed on with the approval; docs/recovery-shares.md).
//!
//! To the enclave's EC key (P-256) the share is sealed with HPKE (RFC 9180,
//! base mode) under an `info` naming the request and the arbitrator, so a
//! sealed share opens for that approval only:
//!
//! ```text
//! info  = canonical("symbolon recovery share v1", request id, arbitrator)
//! share = kem_id (2 bytes, big-endian) ‖ enc ‖ ct
//! ```
//!
//! An enclave key of an earlier release is RSA-3072, and shares sealed to
//! it are RSA-OAEP-SHA-256 ciphertexts: an arbitrator seals to whichever
//! key the CA's enclave statement names, and the enclave opens both while
//! approvals made before an upgrade are pending.

use crate::encoding::Writer;
use crate::keys::hpke::{self, Kem};
use crate::keys::PublicKey;

use super::{ArbitratorId, EscrowError, RecoveryId};

/// The HPKE `info` of `arbitrator`'s share for `request`.
pub fn share_info(request: &RecoveryId, arbitrator: &ArbitratorId) -> Vec<u8> {
    // The domain a token opens HPKE ciphertexts of out of itself.
    let mut w = Writer::with_domain(crate::token::HPKE_OPEN_DOMAIN);
    w.bytes(request.as_bytes());
    w.str(arbitrator.as_str());
    w.into_bytes().to_vec()
}

/// Seals `arbitrator`'s share `file` for `request` to the enclave key:
/// HPKE to an EC key, RSA-OAEP-SHA-256 to an RSA one.
pub fn seal_share(
    enclave: &PublicKey,
    request: &RecoveryId,
    arbitrator: &ArbitratorId,
    file: &[u8],
) -> Result<Vec<u8>, EscrowError> {
    let cannot = |e: crate::keys::KeyError| {
        EscrowError::InvalidInput(format!("cannot encrypt to the enclave key: {e}"))
    };
    match enclave {
        PublicKey::Rsa(k) => k.encrypt_oaep(file).map_err(cannot),
        PublicKey::Ec(k) => {
            let kem = Kem::for_curve(k.curve()).map_err(cannot)?;
            let sealed = hpke::seal(k, &share_info(request, arbitrator), file).map_err(cannot)?;
            let mut out = Vec::with_capacity(2 + sealed.len());
            out.extend_from_slice(&kem.id().to_be_bytes());
            out.extend_from_slice(&sealed);
            Ok(out)
        }
    }
}

/// The HPKE part (`enc ‖ ct`) of a share sealed with `kem`, or `None` when
/// the share does not start with that KEM's id or is too short for it (an
/// RSA-OAEP share, or one sealed to another curve).
pub fn hpke_part(share: &[u8], kem: Kem) -> Option<&[u8]> {
    let (id, rest) = share.split_first_chunk::<2>()?;
    (u16::from_be_bytes(*id) == kem.id() && rest.len() >= kem.sealed_len(0)).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{EcCurve, EcPrivateKey, KeyError};

    fn ids() -> (RecoveryId, ArbitratorId, ArbitratorId) {
        (
            RecoveryId::random().unwrap(),
            ArbitratorId::new("alice").unwrap(),
            ArbitratorId::new("bob").unwrap(),
        )
    }

    #[test]
    fn a_share_opens_for_its_request_and_arbitrator_only() {
        let enclave = EcPrivateKey::generate(EcCurve::P256).unwrap();
        let (request, alice, bob) = ids();
        let public = PublicKey::Ec(enclave.public_key().clone());
        let share = seal_share(&public, &request, &alice, b"the share file").unwrap();
        let part = hpke_part(&share, Kem::P256).unwrap();
        let open = |info: &[u8]| {
            hpke::open::<KeyError>(enclave.public_key(), info, part, |e| enclave.agree(e))
        };
        assert_eq!(
            open(&share_info(&request, &alice)).unwrap().as_slice(),
            b"the share file"
        );
        // Moved to another arbitrator's approval or another request: no.
        assert!(open(&share_info(&request, &bob)).is_err());
        let other = RecoveryId::random().unwrap();
        assert!(open(&share_info(&other, &alice)).is_err());
        // Another KEM's id, or too short: not an HPKE share for this key.
        assert!(hpke_part(&share, Kem::X25519).is_none());
        assert!(hpke_part(&share[..2 + 65 + 15], Kem::P256).is_none());
        assert!(hpke_part(&[0x00], Kem::P256).is_none());
    }

    #[test]
    fn an_rsa_enclave_key_gets_oaep() {
        let enclave =
            crate::keys::RsaPrivateKey::generate(crate::keys::RsaAlgorithm::Rsa2048).unwrap();
        let (request, alice, _) = ids();
        let public = PublicKey::Rsa(enclave.public_key().clone());
        let share = seal_share(&public, &request, &alice, b"the share file").unwrap();
        assert_eq!(share.len(), 256);
        assert_eq!(
            enclave.decrypt_oaep(&share).unwrap().as_slice(),
            b"the share file"
        );
    }

    #[test]
    fn a_signing_only_enclave_key_is_refused() {
        let ed = EcPrivateKey::generate(EcCurve::Ed25519).unwrap();
        let (request, alice, _) = ids();
        let e = seal_share(
            &PublicKey::Ec(ed.public_key().clone()),
            &request,
            &alice,
            b"x",
        )
        .unwrap_err();
        assert!(e.to_string().contains("Ed25519"), "{e}");
    }
}

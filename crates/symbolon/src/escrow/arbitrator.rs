//! An arbitrator's identity: the age X25519 identity its shares are sealed
//! to and the P-256 key that signs its approvals and refusals. Sealed at rest
//! like an issuer identity (its own magic), opened only to decide.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{
    Approval, ArbitratorId, ArbitratorPublic, Decision, EscrowDeposit, EscrowError, RecoveryRequest,
};
use crate::encoding::{Reader, Writer};
use crate::keys::{IdentityKeyPair, PublicKey};
use crate::token::{
    open_sealed, seal, OpenFailure, SealedKind, SealingKey, TokenError, TokenSerial,
};

const DOMAIN: &str = "symbolon arbitrator identity v1";

/// An arbitrator's secret identity. No `Debug`, `Clone` or `Serialize`.
pub struct ArbitratorIdentity {
    id: ArbitratorId,
    shares: age::x25519::Identity,
    approvals: IdentityKeyPair,
}

impl ArbitratorIdentity {
    /// A new identity named `id`.
    pub fn generate(id: ArbitratorId) -> Result<Self, EscrowError> {
        Ok(Self {
            id,
            shares: age::x25519::Identity::generate(),
            approvals: IdentityKeyPair::generate()
                .map_err(|e| EscrowError::Internal(e.to_string()))?,
        })
    }

    /// The public parts the registry records.
    pub fn public(&self) -> ArbitratorPublic {
        ArbitratorPublic {
            id: self.id.clone(),
            share_recipient: self.shares.to_public().to_string(),
            approval_key: self.approvals.public_key().clone(),
        }
    }

    /// The sealed form.
    pub fn seal(&self, key: &SealingKey) -> Result<Vec<u8>, TokenError> {
        let mut w = Writer::with_domain(DOMAIN);
        w.str(self.id.as_str());
        w.str(self.shares.to_string().expose_secret());
        w.bytes(self.approvals.pkcs8_der());
        seal(
            SealedKind::Arbitrator,
            TokenSerial::from_bytes([0; 16]),
            1,
            &w.into_bytes(),
            key,
        )
    }

    /// Opens a sealed identity.
    pub fn open(data: &[u8], key: &SealingKey) -> Result<Self, TokenError> {
        let plain = match open_sealed(SealedKind::Arbitrator, data, key) {
            Ok((_, p)) => p,
            Err(OpenFailure::Refuse(e)) => return Err(e),
            Err(OpenFailure::Tampered(h)) => {
                return Err(TokenError::Tampered {
                    serial: Some(h.serial),
                })
            }
        };
        let bad = |m: String| TokenError::NotAToken(format!("arbitrator identity: {m}"));
        let mut r = Reader::new(&plain);
        r.domain(DOMAIN).map_err(|e| bad(e.to_string()))?;
        let id = ArbitratorId::new(r.str("name").map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
        let secret = Zeroizing::new(
            r.str("share key")
                .map_err(|e| bad(e.to_string()))?
                .to_string(),
        );
        let shares = age::x25519::Identity::from_str(&secret).map_err(|e| bad(e.to_string()))?;
        let pkcs8 = Zeroizing::new(
            r.bytes("approval key")
                .map_err(|e| bad(e.to_string()))?
                .to_vec(),
        );
        r.finish().map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            id,
            shares,
            approvals: IdentityKeyPair::from_pkcs8_der(pkcs8)?,
        })
    }

    /// The name.
    pub fn id(&self) -> &ArbitratorId {
        &self.id
    }

    /// Opens this arbitrator's envelope of `deposit` and checks the share
    /// against the commitments; the share itself stays inside.
    pub fn check_share(&self, deposit: &EscrowDeposit, envelope: &[u8]) -> Result<(), EscrowError> {
        let file = self.open_envelope(envelope)?;
        deposit.check_share(&self.id, &file).map(drop)
    }

    fn open_envelope(&self, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
        age::decrypt(&self.shares, envelope)
            .map(Zeroizing::new)
            .map_err(|e| EscrowError::BadShare {
                arbitrator: self.id.to_string(),
                reason: format!("the envelope does not open with this arbitrator's key: {e}"),
            })
    }

    /// Approves `request`: opens the envelope, checks the share, re-encrypts
    /// it to the enclave key (HPKE, or RSA-OAEP-SHA-256 to an RSA key:
    /// [`super::enclave_share`]) and signs the next link after `previous`.
    pub fn approve(
        &self,
        request: &RecoveryRequest,
        deposit: &EscrowDeposit,
        envelope: &[u8],
        enclave: &PublicKey,
        previous: [u8; 32],
    ) -> Result<Approval, EscrowError> {
        if request.escrow != deposit.id {
            return Err(EscrowError::InvalidInput(
                "the request is for another escrow".into(),
            ));
        }
        let file = self.open_envelope(envelope)?;
        deposit.check_share(&self.id, &file)?;
        let share = super::enclave_share::seal_share(enclave, &request.id, &self.id, &file)?;
        Approval::sign(
            &self.approvals,
            request,
            self.id.clone(),
            previous,
            Decision::Approve { share },
        )
    }

    /// Refuses `request`, signed, with a reason.
    pub fn refuse(
        &self,
        request: &RecoveryRequest,
        reason: &str,
        previous: [u8; 32],
    ) -> Result<Approval, EscrowError> {
        Approval::sign(
            &self.approvals,
            request,
            self.id.clone(),
            previous,
            Decision::Refuse {
                reason: reason.to_string(),
            },
        )
    }
}

//! Recovery (FIG. 8–12 and the modification for a destroyed device): a
//! request names the key, the reason and the target token; arbitrators
//! approve or refuse with signatures chained in order; the enclave checks
//! the chain, the order, every share, combines, decrypts, checks the key
//! against the registered one, and checks the target.
//!
//! ```text
//! request hash  = SHA-256(canonical request)
//! approval      = (request id, request hash, arbitrator, previous hash, decision)
//!                 signed by the arbitrator's approval key (ECDSA P-256)
//! previous hash = the request hash for the first approval, else SHA-256 of
//!                 the previous approval's signed bytes and signature
//! decision      = approve: SHA-256 of the share re-encrypted to the enclave
//!                 refuse:  the reason
//! ```

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::{sha256, ArbitratorId, EscrowDeposit, EscrowError, EscrowId};
use crate::encoding::Writer;
use crate::keys::{Fingerprint, IdentityKeyPair, IdentityPublicKey, PrivateKey};
use crate::token::{SlotName, TokenSerial};

/// Requests made before callers were authenticated (no requester).
const REQUEST_DOMAIN_V1: &str = "symbolon recovery v1 request";
/// Requests naming the authenticated caller that filed them.
const REQUEST_DOMAIN: &str = "symbolon recovery v2 request";
const APPROVAL_DOMAIN: &str = "symbolon recovery v1 approval";

random_id!(
    /// A recovery request's identity: 16 random bytes, shown as hex.
    RecoveryId,
    "a recovery request id",
    crate::escrow::EscrowError,
    invalid: crate::escrow::EscrowError::InvalidInput,
    internal: crate::escrow::EscrowError::Internal,
);

/// A request to recover an escrowed key into a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRequest {
    /// Its identity.
    pub id: RecoveryId,
    /// The escrow.
    pub escrow: EscrowId,
    /// The key.
    pub key: Fingerprint,
    /// Why, in the requester's words.
    pub reason: String,
    /// The token the key goes into.
    pub target: TokenSerial,
    /// That token's device identity key (from its registration).
    pub target_device: Fingerprint,
    /// The slot it goes into.
    pub slot: SlotName,
    /// Whether the target is a new token instead of the bound one.
    pub rebind: bool,
    /// When, seconds since the Unix epoch.
    pub created_at: u64,
    /// The authenticated party (a station) that filed it: arbitrators see
    /// and sign it, and only it receives the recovered key's commands.
    /// Empty for requests filed before callers were authenticated.
    pub requester: String,
}

impl RecoveryRequest {
    /// The canonical encoding arbitrators sign through its hash.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(REQUEST_DOMAIN);
        w.bytes(self.id.as_bytes());
        w.bytes(self.escrow.as_bytes());
        w.bytes(self.key.as_bytes());
        w.str(&self.reason);
        w.bytes(self.target.as_bytes());
        w.bytes(self.target_device.as_bytes());
        w.str(self.slot.as_str());
        w.bool(self.rebind);
        w.u64(self.created_at);
        w.str(&self.requester);
        w.into_bytes().to_vec()
    }

    /// SHA-256 of the encoding.
    pub fn hash(&self) -> [u8; 32] {
        sha256(&self.encode())
    }

    /// Reads the canonical encoding.
    pub fn decode(data: &[u8]) -> Result<Self, EscrowError> {
        use crate::encoding::Reader;
        let bad = |e: crate::encoding::DecodeError| {
            EscrowError::InvalidInput(format!("recovery request: {e}"))
        };
        let inv = |m: &str| EscrowError::InvalidInput(format!("recovery request: {m}"));
        let mut r = Reader::new(data);
        let v2 = match r.domain(REQUEST_DOMAIN) {
            Ok(()) => true,
            Err(_) => {
                r = Reader::new(data);
                r.domain(REQUEST_DOMAIN_V1).map_err(bad)?;
                false
            }
        };
        let id = RecoveryId(
            r.bytes("id")
                .map_err(bad)?
                .try_into()
                .map_err(|_| inv("id"))?,
        );
        let escrow: EscrowId = hex::encode(r.bytes("escrow").map_err(bad)?).parse()?;
        let key = Fingerprint::from_bytes(
            r.bytes("key")
                .map_err(bad)?
                .try_into()
                .map_err(|_| inv("key"))?,
        );
        let reason = r.str("reason").map_err(bad)?.to_string();
        let target = TokenSerial::from_bytes(
            r.bytes("target")
                .map_err(bad)?
                .try_into()
                .map_err(|_| inv("target"))?,
        );
        let target_device = Fingerprint::from_bytes(
            r.bytes("device")
                .map_err(bad)?
                .try_into()
                .map_err(|_| inv("device"))?,
        );
        let slot = SlotName::new(r.str("slot").map_err(bad)?).map_err(|e| inv(&e.to_string()))?;
        let rebind = r.bool("rebind").map_err(bad)?;
        let created_at = r.u64("created").map_err(bad)?;
        let requester = if v2 {
            r.str("requester").map_err(bad)?.to_string()
        } else {
            String::new()
        };
        r.finish().map_err(bad)?;
        Ok(Self {
            id,
            escrow,
            key,
            reason,
            target,
            target_device,
            slot,
            rebind,
            created_at,
            requester,
        })
    }
}

/// What an arbitrator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved, with its share sealed to the enclave
    /// ([`super::enclave_share`]).
    Approve {
        /// The share, for the enclave only.
        share: Vec<u8>,
    },
    /// Refused, with a reason.
    Refuse {
        /// Why.
        reason: String,
    },
}

/// One link of the approval chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The request.
    pub request: RecoveryId,
    /// Its hash.
    pub request_hash: [u8; 32],
    /// Who.
    pub arbitrator: ArbitratorId,
    /// The previous link's hash (the request hash for the first).
    pub previous: [u8; 32],
    /// What.
    pub decision: Decision,
    /// The arbitrator's signature.
    pub signature: Vec<u8>,
}

impl Approval {
    /// Makes and signs a link.
    pub fn sign(
        key: &IdentityKeyPair,
        request: &RecoveryRequest,
        arbitrator: ArbitratorId,
        previous: [u8; 32],
        decision: Decision,
    ) -> Result<Self, EscrowError> {
        let mut a = Self {
            request: request.id,
            request_hash: request.hash(),
            arbitrator,
            previous,
            decision,
            signature: Vec::new(),
        };
        a.signature = key
            .sign(&a.to_be_signed())
            .map_err(|e| EscrowError::Internal(e.to_string()))?;
        Ok(a)
    }

    /// The bytes the arbitrator signs.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(APPROVAL_DOMAIN);
        w.bytes(self.request.as_bytes());
        w.bytes(&self.request_hash);
        w.str(self.arbitrator.as_str());
        w.bytes(&self.previous);
        match &self.decision {
            Decision::Approve { share } => {
                w.u8(1);
                w.bytes(&sha256(share));
            }
            Decision::Refuse { reason } => {
                w.u8(2);
                w.str(reason);
            }
        }
        w.into_bytes().to_vec()
    }

    /// This link's hash, which the next link names.
    pub fn hash(&self) -> [u8; 32] {
        let mut data = self.to_be_signed();
        data.extend_from_slice(&self.signature);
        sha256(&data)
    }

    /// The canonical encoding (for storage and transport).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&self.to_be_signed());
        match &self.decision {
            Decision::Approve { share } => w.bytes(share),
            Decision::Refuse { .. } => w.bytes(&[]),
        }
        w.bytes(&self.signature);
        w.into_bytes().to_vec()
    }

    /// Reads the canonical encoding.
    pub fn decode(data: &[u8]) -> Result<Self, EscrowError> {
        use crate::encoding::Reader;
        let bad =
            |e: crate::encoding::DecodeError| EscrowError::InvalidInput(format!("approval: {e}"));
        let mut outer = Reader::new(data);
        let signed = outer.bytes("signed").map_err(bad)?;
        let share = outer.bytes("share").map_err(bad)?.to_vec();
        let signature = outer.bytes("signature").map_err(bad)?.to_vec();
        outer.finish().map_err(bad)?;
        let mut r = Reader::new(signed);
        r.domain(APPROVAL_DOMAIN).map_err(bad)?;
        let fixed16 = |b: &[u8]| -> Result<[u8; 16], EscrowError> {
            b.try_into()
                .map_err(|_| EscrowError::InvalidInput("approval id".into()))
        };
        let fixed32 = |b: &[u8]| -> Result<[u8; 32], EscrowError> {
            b.try_into()
                .map_err(|_| EscrowError::InvalidInput("approval hash".into()))
        };
        let request = RecoveryId(fixed16(r.bytes("request").map_err(bad)?)?);
        let request_hash = fixed32(r.bytes("request hash").map_err(bad)?)?;
        let arbitrator = ArbitratorId::new(r.str("arbitrator").map_err(bad)?)?;
        let previous = fixed32(r.bytes("previous").map_err(bad)?)?;
        let decision = match r.u8("decision").map_err(bad)? {
            1 => {
                let digest = fixed32(r.bytes("share digest").map_err(bad)?)?;
                if digest != sha256(&share) {
                    return Err(EscrowError::InvalidInput(
                        "the approval's share is not the one it signed".into(),
                    ));
                }
                Decision::Approve { share }
            }
            2 => Decision::Refuse {
                reason: r.str("reason").map_err(bad)?.to_string(),
            },
            _ => return Err(EscrowError::InvalidInput("unknown decision".into())),
        };
        r.finish().map_err(bad)?;
        Ok(Self {
            request,
            request_hash,
            arbitrator,
            previous,
            decision,
            signature,
        })
    }
}

/// Checks the chain: each link signed by its registered arbitrator, made
/// for this request, linked to the one before, one decision per arbitrator.
/// Returns the approving arbitrators in order.
pub fn verify_chain(
    request: &RecoveryRequest,
    chain: &[Approval],
    keys: &BTreeMap<ArbitratorId, IdentityPublicKey>,
) -> Result<Vec<ArbitratorId>, EscrowError> {
    let request_hash = request.hash();
    let mut previous = request_hash;
    let mut seen = Vec::new();
    let mut approving = Vec::new();
    for (i, a) in chain.iter().enumerate() {
        let key = keys
            .get(&a.arbitrator)
            .ok_or_else(|| EscrowError::UnknownArbitrator(a.arbitrator.to_string()))?;
        key.verify(&a.to_be_signed(), &a.signature)
            .map_err(|_| EscrowError::ForgedApproval {
                position: i + 1,
                arbitrator: a.arbitrator.to_string(),
            })?;
        if a.request != request.id || a.request_hash != request_hash {
            return Err(EscrowError::ReplayedApproval {
                arbitrator: a.arbitrator.to_string(),
            });
        }
        if a.previous != previous {
            return Err(EscrowError::BrokenChain { position: i + 1 });
        }
        if seen.contains(&a.arbitrator) {
            return Err(EscrowError::AlreadyDecided(a.arbitrator.to_string()));
        }
        seen.push(a.arbitrator.clone());
        if matches!(a.decision, Decision::Approve { .. }) {
            approving.push(a.arbitrator.clone());
        }
        previous = a.hash();
    }
    Ok(approving)
}

/// The enclave's recovery: chain, order against the policy, every share
/// (opened by `enclave_open` with the enclave key in the server's token,
/// given the share's HPKE `info` and its bytes: [`super::enclave_share`];
/// it answers [`EscrowError::InvalidInput`] for a share that does not open,
/// which is blamed on its arbitrator, and any other error for a failure of
/// its own, which is not),
/// combination, the escrowed key, its consistency with the registered
/// public key, and the target binding. Returns the key for the caller to
/// wrap to the target token and drop.
pub fn recover(
    request: &RecoveryRequest,
    chain: &[Approval],
    deposit: &EscrowDeposit,
    keys: &BTreeMap<ArbitratorId, IdentityPublicKey>,
    enclave_open: impl Fn(&[u8], &[u8]) -> Result<Zeroizing<Vec<u8>>, EscrowError>,
) -> Result<PrivateKey, EscrowError> {
    if request.escrow != deposit.id || request.key != deposit.fingerprint() {
        return Err(EscrowError::InvalidInput(
            "the request is for another escrow".into(),
        ));
    }
    let approving = verify_chain(request, chain, keys)?;
    let policy = deposit.policy()?;
    if !policy.evaluate(&approving).satisfied() {
        return Err(EscrowError::PolicyNotSatisfied(
            policy
                .status_tree(&approving)
                .render()
                .trim_end()
                .replace('\n', "; "),
        ));
    }
    let mut leaves = BTreeMap::new();
    for a in chain {
        let Decision::Approve { share } = &a.decision else {
            continue;
        };
        let bad = |reason: &str| EscrowError::BadShare {
            arbitrator: a.arbitrator.to_string(),
            reason: reason.into(),
        };
        let info = super::enclave_share::share_info(&request.id, &a.arbitrator);
        let file = enclave_open(&info, share).map_err(|e| match e {
            EscrowError::InvalidInput(_) => bad("it does not decrypt with the enclave key"),
            other => other,
        })?;
        leaves.insert(
            a.arbitrator.clone(),
            deposit.read_share(&a.arbitrator, &file)?,
        );
    }
    // The combination checks every share and every node it makes in one
    // batched equation; only when that fails are the shares checked one
    // by one, to name the arbitrator whose share is bad.
    let root = match super::sharing::combine(&policy, &deposit.commitments, &leaves) {
        Ok(root) => root,
        Err(damaged) => {
            for a in chain {
                if let Some(l) = leaves.get(&a.arbitrator) {
                    if !deposit.commitments.verify(&l.path, l.value()) {
                        return Err(super::deposit::share_mismatch(&a.arbitrator));
                    }
                }
            }
            return Err(damaged);
        }
    }
    .ok_or_else(|| EscrowError::PolicyNotSatisfied("too few valid shares".into()))?;
    let key = deposit.open(&root)?;
    if key.public_key() != deposit.public_key {
        return Err(EscrowError::EscrowDamaged(
            "the escrowed key is not the registered key".into(),
        ));
    }
    // The consistency check: a fresh signature verifies under the
    // registered public key (and, for RSA, a fresh secret round-trips).
    key.pairwise_consistency_test().map_err(|e| {
        EscrowError::EscrowDamaged(format!(
            "the recovered key fails its consistency check: {e}"
        ))
    })?;
    if request.target_device != deposit.bound_device && !request.rebind {
        return Err(EscrowError::WrongTarget {
            target: request.target.to_string(),
        });
    }
    Ok(key)
}

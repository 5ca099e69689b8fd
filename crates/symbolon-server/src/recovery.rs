//! Escrow and recovery in the service (third embodiment, FIG. 7–12): the
//! registry of arbitrators and deposits, recovery requests and their
//! approval chains, and the recovery enclave: its P-256 key in the CA's token
//! (slot `recovery-kem`, the key arbitrators seal their shares to with HPKE;
//! docs/recovery-shares.md) and its
//! issuer identity (which signs the command that writes a recovered key into
//! the target token). Everything is audited, refusals with whom they blame.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use symbolon::Code;

use serde_json::json;
use symbolon::escrow::{
    enclave_share, recover, verify_chain, Approval, ArbitratorId, ArbitratorPublic,
    EnclaveStatement, EscrowDeposit, EscrowError, EscrowId, Policy, RecoveryId, RecoveryRequest,
    StatusNode,
};
use symbolon::issuer::{IssuerIdentity, TokenTarget};
use symbolon::keys::hpke::Kem;
use symbolon::keys::{
    EcCurve, Fingerprint, IdentityPublicKey, KeyAlgorithm, PublicKey, RsaPublicKey,
};
use symbolon::token::{SignedCommand, SlotName, Token, TokenError, TokenSerial};
use symbolon_store::{Actor, ArbitratorRecord, AuditKind, ClaimScope, StoreError};
use zeroize::Zeroizing;

use crate::{CaService, ServiceError};

/// The slot of the enclave key in the CA token.
const ENCLAVE_SLOT: &str = "recovery-kem";
/// The enclave key's curve: P-256, which every PKCS#11 device derives with
/// (`CKM_ECDH1_DERIVE`), unlike X25519.
const ENCLAVE_CURVE: EcCurve = EcCurve::P256;
/// The slot of the RSA-3072 enclave key of earlier releases, kept (when
/// the token has it) to open shares of approvals made before an upgrade.
const LEGACY_SLOT: &str = "recovery";

/// The recovery enclave's keys.
pub(crate) struct Enclave {
    slots: EnclaveSlots,
    issuer: Arc<IssuerIdentity>,
    statement: EnclaveStatement,
}

/// Where the enclave's share keys are in the CA token.
#[derive(Clone)]
struct EnclaveSlots {
    /// The key the statement names (HPKE).
    kem: SlotName,
    /// Its KEM.
    kem_id: Kem,
    /// The earlier releases' RSA key, if the token holds one.
    legacy: Option<SlotName>,
}

impl EnclaveSlots {
    /// The enclave's share key in the CA token, made there on first use (a
    /// concurrent process may win the race, which is fine), and the
    /// earlier releases' RSA key if the token holds one.
    fn prepare(token: &mut (dyn Token + Send + Sync)) -> Result<(PublicKey, Self), ServiceError> {
        let slot = SlotName::new(ENCLAVE_SLOT)?;
        // By code, not variant: through a token agent errors arrive as
        // `TokenError::Remote` with the same codes.
        let public = match token.slot_public_key(&slot) {
            Ok(k) => k,
            Err(e) if e.code() == Code::SlotNotFound => {
                match token.generate_key(&slot, KeyAlgorithm::Ec(ENCLAVE_CURVE)) {
                    Ok(k) => k,
                    Err(e) if e.code() == Code::SlotOccupied => token.slot_public_key(&slot)?,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let kem_id = public
            .curve()
            .and_then(|c| Kem::for_curve(c).ok())
            .ok_or_else(|| {
                ServiceError::Setup(format!(
                    "the CA token's slot {ENCLAVE_SLOT} holds a {} key; the recovery enclave \
                     needs a P-256, P-384 or X25519 key there (the slot is the enclave's)",
                    public.algorithm().name()
                ))
            })?;
        let legacy_slot = SlotName::new(LEGACY_SLOT)?;
        let legacy = match token.slot_public_key(&legacy_slot) {
            Ok(PublicKey::Rsa(_)) => Some(legacy_slot),
            Ok(PublicKey::Ec(_)) => None,
            Err(e) if e.code() == Code::SlotNotFound => None,
            Err(e) => return Err(e.into()),
        };
        Ok((
            public,
            Self {
                kem: slot,
                kem_id,
                legacy,
            },
        ))
    }

    /// Opens a share with the key it was sealed to: HPKE when it names the
    /// enclave's KEM (and, if it does not open so, RSA-OAEP when there is
    /// an RSA key: one OAEP ciphertext in 2^16 starts with the same two
    /// bytes), else RSA-OAEP with the earlier key. A share that opens with
    /// neither is the arbitrator's fault (`InvalidInput`); a failure of the
    /// token is the enclave's own (`Internal`), blamed on no one.
    fn open(
        &self,
        token: &(dyn Token + Send + Sync),
        info: &[u8],
        share: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
        let hpke = enclave_share::hpke_part(share, self.kem_id)
            .map(|sealed| token.open_hpke(&self.kem, info, sealed));
        let opened = match (hpke, &self.legacy) {
            (Some(Ok(file)), _) => Ok(file),
            (Some(Err(e)), Some(legacy)) if e.code() == Code::DecryptionFailed => {
                token.decrypt(legacy, share)
            }
            (Some(Err(e)), _) => Err(e),
            (None, Some(legacy)) => token.decrypt(legacy, share),
            (None, None) => {
                return Err(EscrowError::InvalidInput(
                    "the share is not sealed to the enclave key".into(),
                ))
            }
        };
        opened.map_err(|e| match e.code() {
            Code::DecryptionFailed | Code::InvalidInput | Code::MalformedKey => {
                EscrowError::InvalidInput(e.to_string())
            }
            _ => EscrowError::Internal(e.to_string()),
        })
    }
}

impl Enclave {
    /// Makes sure the CA token holds the enclave key, and has the CA sign
    /// the statement naming it.
    pub(crate) fn prepare(
        token: &mut (dyn Token + Send + Sync),
        issuer: IssuerIdentity,
        ca_slot: &SlotName,
        ca_signer: &symbolon::x509::CaSigner,
        chain: &[Vec<u8>],
    ) -> Result<Self, ServiceError> {
        let (public, slots) = EnclaveSlots::prepare(token)?;
        let statement = EnclaveStatement::sign(
            public,
            issuer.public_key().clone(),
            chain.to_vec(),
            ca_signer,
            |r| token.sign_request(ca_slot, r),
        )?;
        Ok(Self {
            slots,
            issuer: Arc::new(issuer),
            statement,
        })
    }
}

/// A recovery request as the status shows it.
pub struct RecoveryStatus {
    /// The request.
    pub request: RecoveryRequest,
    /// The escrow's policy.
    pub policy: Policy,
    /// The decisions, in order: who, and whether they approved.
    pub decisions: Vec<(ArbitratorId, bool)>,
    /// The tree with who approved and in what order.
    pub tree: StatusNode,
    /// The hash the next approval must name as its previous link.
    pub head: [u8; 32],
    /// Whether the policy holds over the approvals so far.
    pub satisfied: bool,
    /// Who may approve now (empty once the policy holds, or when the
    /// request can no longer be met).
    pub may_act: Vec<ArbitratorId>,
    /// Whether the enclave completed it.
    pub completed: bool,
    /// The station that deposited the escrow (None before callers were
    /// authenticated): arbitrators see whether the requester is another.
    pub depositor: Option<String>,
}

/// The commands that put a recovered key and its certificate into the target token.
pub struct RecoveryOutcome {
    /// `accept-key`, signed by the enclave's issuer identity.
    pub accept_key: SignedCommand,
    /// `write-certificate` with the key's last certificate, if it had one.
    pub write_certificate: Option<SignedCommand>,
    /// The recovered key's fingerprint.
    pub key: Fingerprint,
    /// A rebinding: the device the key left, now marked replaced, and its
    /// certificates (to revoke).
    pub replaced: Option<Replaced>,
}

/// The device a rebinding replaced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Replaced {
    /// The old token.
    pub token: TokenSerial,
    /// The certificates of keys generated on or delivered to it.
    pub certificates: Vec<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl From<EscrowError> for ServiceError {
    fn from(e: EscrowError) -> Self {
        ServiceError::Escrow(e)
    }
}

fn arbitrator_public(r: &ArbitratorRecord) -> Result<ArbitratorPublic, ServiceError> {
    Ok(ArbitratorPublic {
        id: ArbitratorId::new(&r.id)?,
        share_recipient: r.share_recipient.clone(),
        approval_key: IdentityPublicKey::from_spki_der(&r.approval_key)
            .map_err(TokenError::from)?,
    })
}

impl CaService {
    /// The enclave's public key (arbitrators encrypt shares to it) and its
    /// issuer key (tokens that may receive recovered keys trust it), signed
    /// by the issuing CA.
    pub fn enclave_statement(&self) -> &EnclaveStatement {
        &self.enclave.statement
    }

    /// Registers an arbitrator.
    pub async fn register_arbitrator(
        &self,
        a: &ArbitratorPublic,
        by: &Actor,
    ) -> Result<(), ServiceError> {
        // An arbitrator registers itself only: its credential's name is its
        // identifier (bound at enrollment).
        if a.id.as_str() != by.name.as_str() {
            return Err(ServiceError::forbidden(format!(
                "this credential is bound to the arbitrator {}; it cannot register {}",
                by.name, a.id
            )));
        }
        age_recipient(&a.share_recipient)?;
        Ok(self
            .registry
            .register_arbitrator(&ArbitratorRecord {
                id: a.id.to_string(),
                share_recipient: a.share_recipient.clone(),
                approval_key: a.approval_key.spki_der().to_vec(),
            })
            .await?)
    }

    /// A registered arbitrator.
    pub async fn arbitrator(&self, id: &ArbitratorId) -> Result<ArbitratorPublic, ServiceError> {
        arbitrator_public(&self.registry.arbitrator(id.as_str()).await?)
    }

    /// The registered arbitrators a policy names.
    pub async fn arbitrators_of(
        &self,
        policy: &Policy,
    ) -> Result<Vec<ArbitratorPublic>, ServiceError> {
        let mut out = Vec::new();
        for a in policy.arbitrators() {
            match self.registry.arbitrator(a.as_str()).await {
                Ok(r) => out.push(arbitrator_public(&r)?),
                Err(StoreError::NotFound(_)) => {
                    return Err(EscrowError::UnknownArbitrator(a.to_string()).into())
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Records a station's deposit: the policy's arbitrators registered, an
    /// envelope for each and no one else, the key known to the registry.
    pub async fn deposit(
        &self,
        deposit: &EscrowDeposit,
        envelopes: Vec<(ArbitratorId, Vec<u8>)>,
    ) -> Result<(), ServiceError> {
        let policy = deposit.policy()?;
        self.arbitrators_of(&policy).await?;
        let mut named: Vec<&ArbitratorId> = policy.arbitrators();
        named.sort();
        let mut given: Vec<&ArbitratorId> = envelopes.iter().map(|(a, _)| a).collect();
        given.sort();
        if named != given {
            return Err(EscrowError::InvalidInput(
                "the deposit needs exactly one envelope per arbitrator of its policy".into(),
            )
            .into());
        }
        self.registry.key(&deposit.fingerprint()).await?;
        let record = deposit.encode();
        self.registry
            .record_escrow(
                deposit.id.as_bytes(),
                deposit.fingerprint(),
                &record,
                envelopes
                    .into_iter()
                    .map(|(a, e)| (a.to_string(), e))
                    .collect(),
                &json!({
                    "escrow": deposit.id.to_string(),
                    "deposit_sha256": symbolon::evidence::sha256_hex(&record),
                    "key": deposit.fingerprint(),
                    "policy": deposit.policy,
                    "bound_token": deposit.bound_token,
                    "bound_device": deposit.bound_device,
                }),
            )
            .await?;
        Ok(())
    }

    /// A deposit.
    pub async fn escrow(&self, id: &EscrowId) -> Result<EscrowDeposit, ServiceError> {
        Ok(EscrowDeposit::decode(
            &self.registry.escrow(id.as_bytes()).await?,
        )?)
    }

    /// One arbitrator's envelope.
    pub async fn envelope(
        &self,
        id: &EscrowId,
        arbitrator: &ArbitratorId,
        by: &Actor,
    ) -> Result<Vec<u8>, ServiceError> {
        if arbitrator.as_str() != by.name.as_str() {
            return Err(ServiceError::forbidden(format!(
                "an arbitrator reads its own envelope only; this credential is {}",
                by.name
            )));
        }
        Ok(self
            .registry
            .escrow_share(id.as_bytes(), arbitrator.as_str())
            .await?)
    }

    /// Files a request to recover `key` into `slot` of the registered token
    /// `target`. A target other than the bound token makes it a rebinding,
    /// which the arbitrators see and sign.
    pub async fn request_recovery(
        &self,
        key: &Fingerprint,
        reason: &str,
        target: TokenSerial,
        slot: SlotName,
        by: &Actor,
    ) -> Result<RecoveryRequest, ServiceError> {
        if reason.trim().is_empty() || reason.len() > 1000 {
            return Err(EscrowError::InvalidInput(
                "a recovery request needs a reason (at most 1000 bytes)".into(),
            )
            .into());
        }
        let (_, record) = self.registry.escrow_for_key(key).await?;
        let deposit = EscrowDeposit::decode(&record)?;
        let token = self.registry.token(&target).await?;
        // FIG. 10's device secret ID: a key is recovered only into a device
        // a station or officer vouched for, and not into one a recovery
        // already replaced.
        if !crate::vetting::device_evidence(&token).is_vouched() {
            return Err(ServiceError::Invalid {
                code: symbolon::Code::DeviceNotTrusted,
                message: format!(
                    "token {target} was registered before devices were vouched for; a station or registration officer must register it again before a key is recovered into it"
                ),
            });
        }
        if let Some(by) = token.replaced_by {
            return Err(ServiceError::Invalid {
                code: symbolon::Code::WrongTarget,
                message: format!("token {target} was replaced by token {by} in a recovery; recover into a device in service"),
            });
        }
        if token.transport_key.is_none() {
            return Err(EscrowError::InvalidInput(format!(
                "token {target} was registered without its transport key; register it again with `symbolon token register`"
            ))
            .into());
        }
        let target_device = Fingerprint::of_spki(&token.device_key);
        let request = RecoveryRequest {
            id: RecoveryId::random()?,
            escrow: deposit.id,
            key: *key,
            reason: reason.to_string(),
            target,
            target_device,
            slot,
            rebind: target_device != deposit.bound_device,
            created_at: now(),
            requester: by.name.to_string(),
        };
        self.registry
            .create_recovery(
                &request.id.to_string(),
                deposit.id.as_bytes(),
                &request.encode(),
                &json!({
                    "request": request.id.to_string(),
                    "request_sha256": hex::encode(request.hash()),
                    "key": key,
                    "reason": reason,
                    "target": target,
                    "rebind": request.rebind,
                    "requester": request.requester,
                }),
            )
            .await?;
        Ok(request)
    }

    async fn load(
        &self,
        id: &RecoveryId,
    ) -> Result<(RecoveryRequest, EscrowDeposit, Vec<Approval>, bool), ServiceError> {
        let r = self.registry.recovery(&id.to_string()).await?;
        let request = RecoveryRequest::decode(&r.request)?;
        let deposit = EscrowDeposit::decode(&self.registry.escrow(&r.escrow_id).await?)?;
        let chain = r
            .approvals
            .iter()
            .map(|a| Approval::decode(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((request, deposit, chain, r.completed))
    }

    /// The request, its policy, who decided in what order, what is missing.
    pub async fn recovery_status(&self, id: &RecoveryId) -> Result<RecoveryStatus, ServiceError> {
        let (request, deposit, chain, completed) = self.load(id).await?;
        let policy = deposit.policy()?;
        let (approving, may_act) = turns(&policy, &chain);
        let depositor = self
            .registry
            .escrow_depositor(deposit.id.as_bytes())
            .await?;
        Ok(RecoveryStatus {
            depositor,
            may_act,
            tree: policy.status_tree(&approving),
            satisfied: policy.evaluate(&approving).satisfied(),
            head: chain
                .last()
                .map(Approval::hash)
                .unwrap_or_else(|| request.hash()),
            decisions: chain
                .iter()
                .map(|a| {
                    (
                        a.arbitrator.clone(),
                        matches!(a.decision, symbolon::escrow::Decision::Approve { .. }),
                    )
                })
                .collect(),
            policy,
            request,
            completed,
        })
    }

    /// Appends an arbitrator's signed decision to the chain: it must verify,
    /// be for this request, name the current head, and come from an
    /// arbitrator of the policy who has not decided yet.
    pub async fn add_approval(
        &self,
        id: &RecoveryId,
        approval: Approval,
        by: &Actor,
    ) -> Result<usize, ServiceError> {
        // The signer must also be the caller: an approval relayed by anyone
        // else is refused, even with a valid signature.
        if approval.arbitrator.as_str() != by.name.as_str() {
            return Err(ServiceError::forbidden(format!(
                "an arbitrator submits its own decisions only; this credential is {}, the approval is {}'s",
                by.name, approval.arbitrator
            )));
        }
        let (request, deposit, mut chain, completed) = self.load(id).await?;
        // A refusal stands even if it cannot be recorded; that is logged.
        let refuse = |e: EscrowError| async move {
            if let Err(log) = self
                .audit(AuditKind::RecoveryRefused, json!({ "request": id.to_string(), "step": "approval", "error": e.to_string(), "code": e.code() }))
                .await
            {
                tracing::error!(error = %log, "cannot record a refused approval in the audit log");
            }
            Err::<usize, ServiceError>(e.into())
        };
        if completed {
            return refuse(EscrowError::InvalidInput(
                "the recovery was completed already".into(),
            ))
            .await;
        }
        let policy = deposit.policy()?;
        if !policy.arbitrators().contains(&&approval.arbitrator) {
            return refuse(EscrowError::InvalidInput(format!(
                "{} is not an arbitrator of this escrow's policy",
                approval.arbitrator
            )))
            .await;
        }
        // An approval before its turn would count for nothing and use up the
        // arbitrator's one decision: refuse it and store nothing. (A refusal
        // is final whenever it comes, so it is taken at any time.)
        let (approving, open) = turns(&policy, &chain);
        let out_of_turn = matches!(
            approval.decision,
            symbolon::escrow::Decision::Approve { .. }
        ) && !policy.evaluate(&approving).satisfied()
            && !chain.iter().any(|a| a.arbitrator == approval.arbitrator)
            && !open.contains(&approval.arbitrator);
        if out_of_turn {
            let waiting_for = if open.is_empty() {
                "nobody: the request can no longer be met".to_string()
            } else {
                let names: Vec<&str> = open.iter().map(ArbitratorId::as_str).collect();
                format!("waiting for {}", names.join(", "))
            };
            return refuse(EscrowError::NotYourTurn {
                arbitrator: approval.arbitrator.to_string(),
                waiting_for,
            })
            .await;
        }
        // New shares are sealed to the enclave's key the statement names
        // (HPKE); RSA-OAEP shares are opened only in approvals recorded
        // before an upgrade, never taken anew.
        if let symbolon::escrow::Decision::Approve { share } = &approval.decision {
            if share.len() > 2 + symbolon::token::MAX_HPKE_SEALED
                || enclave_share::hpke_part(share, self.enclave.slots.kem_id).is_none()
            {
                return refuse(EscrowError::InvalidInput(
                    "the share is not sealed to the enclave's key with HPKE \
                     (docs/recovery-shares.md); fetch the enclave statement again \
                     (`symbolon recovery enclave`) and approve with a current symbolon"
                        .into(),
                ))
                .await;
            }
        }
        let keys = self.keys_of(&policy).await?;
        chain.push(approval.clone());
        if let Err(e) = verify_chain(&request, &chain, &keys) {
            if let EscrowError::BrokenChain { .. } = e {
                return Err(StoreError::ChainMoved(id.to_string()).into());
            }
            return refuse(e).await;
        }
        let position = chain.len() - 1;
        let approve = matches!(
            approval.decision,
            symbolon::escrow::Decision::Approve { .. }
        );
        self.registry
            .append_approval(
                &id.to_string(),
                position,
                approval.arbitrator.as_str(),
                &approval.encode(),
                approve,
                &json!({ "request": id.to_string(), "arbitrator": approval.arbitrator, "position": position + 1, "hash": hex::encode(approval.hash()) }),
            )
            .await?;
        Ok(position)
    }

    async fn keys_of(
        &self,
        policy: &Policy,
    ) -> Result<BTreeMap<ArbitratorId, IdentityPublicKey>, ServiceError> {
        Ok(self
            .arbitrators_of(policy)
            .await?
            .into_iter()
            .map(|a| (a.id, a.approval_key))
            .collect())
    }

    /// The enclave completes a request: recovers the key (every check in
    /// `escrow::recover`), claims the request (once ever), and signs the
    /// commands writing the key and its certificate into the target token,
    /// whose next command sequence is `sequence`.
    pub async fn complete_recovery(
        &self,
        id: &RecoveryId,
        sequence: u64,
        by: &Actor,
    ) -> Result<RecoveryOutcome, ServiceError> {
        // The outcome (the commands that write the key into the target) goes
        // to the station that asked for the recovery (named in the request
        // the arbitrators signed), no one else.
        crate::service::must_own(
            self.registry.recovery_requester(&id.to_string()).await?,
            by,
            "this recovery request",
        )?;
        let (request, deposit, chain, completed) = self.load(id).await?;
        let audit_refusal = |e: &EscrowError| json!({ "request": id.to_string(), "step": "complete", "error": e.to_string(), "code": e.code() });
        if completed {
            let e = EscrowError::InvalidInput(
                "the recovery was completed already; a request recovers once".into(),
            );
            self.audit(AuditKind::RecoveryRefused, audit_refusal(&e))
                .await?;
            return Err(StoreError::AlreadyClaimed {
                scope: ClaimScope::RecoveryCompletion.as_str(),
                id: id.to_string(),
            }
            .into());
        }
        let keys = self.keys_of(&deposit.policy()?).await?;
        let deposit_device = deposit.bound_device;
        let target = self.registry.token(&request.target).await?;
        // Checked when the request was filed; a registry that lost it since
        // is damaged.
        let transport_der = target.transport_key.as_deref().ok_or_else(|| {
            StoreError::Corrupt(format!("token {} lost its transport key", request.target))
        })?;
        let transport = RsaPublicKey::from_der(transport_der).map_err(TokenError::from)?;
        let certificate = self
            .registry
            .latest_certificate_for_key(&request.key)
            .await?;
        let approvals = chain.len();
        let enclave = EnclaveWork {
            token: Arc::clone(&self.token),
            slots: self.enclave.slots.clone(),
            issuer: Arc::clone(&self.enclave.issuer),
            request: request.clone(),
            chain,
            deposit,
            keys,
            transport,
            certificate,
            sequence,
        };
        let outcome = tokio::task::spawn_blocking(move || enclave.run())
            .await
            .map_err(|e| ServiceError::Setup(format!("the recovery task failed: {e}")))?;
        let mut outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                self.audit(AuditKind::RecoveryRefused, audit_refusal(&e))
                    .await?;
                return Err(e.into());
            }
        };
        // The one-shot commit point: the commands leave only for the
        // completion that claimed the request.
        // A rebinding replaces the bound device (when it is registered here):
        // marked in the same transaction as the claim.
        let old = if request.rebind {
            self.registry.token_by_device(&deposit_device).await?
        } else {
            None
        };
        self.registry
            .claim_recovery(
                &id.to_string(),
                &json!({
                    "request": id.to_string(),
                    "key": outcome.key,
                    "target": request.target,
                    "slot": request.slot.as_str(),
                    "rebind": request.rebind,
                    "replaced": old,
                    "approvals": approvals,
                }),
                old.map(|o| (o, request.target)),
            )
            .await?;
        if let Some(token) = old {
            outcome.replaced = Some(Replaced {
                token,
                certificates: self.registry.device_certificates(&token).await?,
            });
        }
        Ok(outcome)
    }
}

/// The enclave's part of a completion, run off the async threads with
/// everything it needs moved in: the recovery itself (`escrow::recover`)
/// and the signed commands writing the key and its certificate into the
/// target token. The key is dropped (zeroised) before this returns.
struct EnclaveWork {
    token: Arc<dyn Token + Send + Sync>,
    slots: EnclaveSlots,
    issuer: Arc<IssuerIdentity>,
    request: RecoveryRequest,
    chain: Vec<Approval>,
    deposit: EscrowDeposit,
    keys: BTreeMap<ArbitratorId, IdentityPublicKey>,
    transport: RsaPublicKey,
    certificate: Option<Vec<u8>>,
    sequence: u64,
}

impl EnclaveWork {
    fn run(self) -> Result<RecoveryOutcome, EscrowError> {
        let key = recover(
            &self.request,
            &self.chain,
            &self.deposit,
            &self.keys,
            |info, share| self.slots.open(&*self.token, info, share),
        )?;
        let target = TokenTarget {
            serial: self.request.target,
            sequence: self.sequence,
            transport_key: self.transport,
        };
        let accept_key = self
            .issuer
            .authorize_key(&target, &self.request.slot, &key)
            .map_err(|e| EscrowError::Internal(e.to_string()))?;
        let fingerprint = key.public_key().fingerprint();
        drop(key);
        let write_certificate = self
            .certificate
            .map(|der| {
                self.issuer.authorize_certificate(
                    &TokenTarget {
                        sequence: self.sequence + 1,
                        ..target
                    },
                    &self.request.slot,
                    der,
                )
            })
            .transpose()
            .map_err(|e| EscrowError::Internal(e.to_string()))?;
        Ok(RecoveryOutcome {
            accept_key,
            write_certificate,
            key: fingerprint,
            replaced: None,
        })
    }
}

fn age_recipient(s: &str) -> Result<(), ServiceError> {
    if s.starts_with("age1") && s.len() > 10 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(
            EscrowError::InvalidInput(format!("{s:?} is not an age X25519 recipient (age1…)"))
                .into(),
        )
    }
}

/// Who approved so far, in order, and who may approve now: those
/// [`Policy::may_act`] names that have not decided yet (a refusal, too, is
/// an arbitrator's one decision).
fn turns(policy: &Policy, chain: &[Approval]) -> (Vec<ArbitratorId>, Vec<ArbitratorId>) {
    let approving: Vec<ArbitratorId> = chain
        .iter()
        .filter(|a| matches!(a.decision, symbolon::escrow::Decision::Approve { .. }))
        .map(|a| a.arbitrator.clone())
        .collect();
    let open = policy
        .may_act(&approving)
        .into_iter()
        .filter(|a| !chain.iter().any(|d| &d.arbitrator == a))
        .collect();
    (approving, open)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use symbolon::escrow::enclave_share::{seal_share, share_info};
    use symbolon::keys::RsaAlgorithm;
    use symbolon::token::{MemoryStore, SealingKey, SoftToken};

    fn token() -> SoftToken<MemoryStore> {
        SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap()
    }

    fn ids() -> (RecoveryId, ArbitratorId) {
        (
            RecoveryId::random().unwrap(),
            ArbitratorId::new("a").unwrap(),
        )
    }

    #[test]
    fn a_new_enclave_makes_a_p256_key_once_and_opens_hpke_shares_only() {
        let mut t = token();
        let (public, slots) = EnclaveSlots::prepare(&mut t).unwrap();
        assert_eq!(public.curve(), Some(EcCurve::P256));
        assert!(slots.legacy.is_none());
        // Prepared again (a restart): the same key.
        let (again, _) = EnclaveSlots::prepare(&mut t).unwrap();
        assert_eq!(again, public);
        let (request, a) = ids();
        let share = seal_share(&public, &request, &a, b"file").unwrap();
        let info = share_info(&request, &a);
        assert_eq!(slots.open(&t, &info, &share).unwrap().as_slice(), b"file");
        // Sealed to an RSA key: no key here opens it.
        let rsa = symbolon::keys::RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let oaep = seal_share(
            &PublicKey::Rsa(rsa.public_key().clone()),
            &request,
            &a,
            b"f",
        );
        let e = slots.open(&t, &info, &oaep.unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("not sealed to the enclave key"),
            "{e}"
        );
    }

    #[test]
    fn an_upgraded_enclave_opens_shares_of_either_key() {
        let mut t = token();
        let legacy = SlotName::new(LEGACY_SLOT).unwrap();
        let rsa = PublicKey::Rsa(t.generate(&legacy, RsaAlgorithm::Rsa2048).unwrap());
        let (public, slots) = EnclaveSlots::prepare(&mut t).unwrap();
        assert_eq!(slots.legacy.as_ref(), Some(&legacy));
        assert_eq!(public.curve(), Some(EcCurve::P256));
        let (request, a) = ids();
        let info = share_info(&request, &a);
        let hpke = seal_share(&public, &request, &a, b"new").unwrap();
        assert_eq!(slots.open(&t, &info, &hpke).unwrap().as_slice(), b"new");
        let oaep = seal_share(&rsa, &request, &a, b"old").unwrap();
        assert_eq!(slots.open(&t, &info, &oaep).unwrap().as_slice(), b"old");
        // An OAEP ciphertext that happens to start with the KEM's id (one
        // in 2^16) is still opened, by the RSA key.
        let prefix = slots.kem_id.id().to_be_bytes();
        let lookalike = (0..1 << 22)
            .map(|_| seal_share(&rsa, &request, &a, b"old").unwrap())
            .find(|c| c.starts_with(&prefix))
            .unwrap();
        assert_eq!(
            slots.open(&t, &info, &lookalike).unwrap().as_slice(),
            b"old"
        );
        // Neither key's: the arbitrator's fault.
        let mut bad = hpke.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(
            slots.open(&t, &info, &bad),
            Err(EscrowError::InvalidInput(_))
        ));
        // The token failing is the enclave's own fault, blamed on no one.
        t.tamper().unwrap();
        assert!(matches!(
            slots.open(&t, &info, &hpke),
            Err(EscrowError::Internal(_))
        ));
    }

    #[test]
    fn a_slot_holding_another_kind_of_key_is_a_setup_error() {
        let mut t = token();
        t.generate(&SlotName::new(ENCLAVE_SLOT).unwrap(), RsaAlgorithm::Rsa2048)
            .unwrap();
        let Err(e) = EnclaveSlots::prepare(&mut t) else {
            panic!("an RSA key in the enclave's slot was taken")
        };
        assert_eq!(e.code(), Code::Setup);
        assert!(e.to_string().contains("rsa-2048"), "{e}");
    }
}

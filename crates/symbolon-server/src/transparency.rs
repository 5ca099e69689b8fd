//! The transparency log's signing side (docs/transparency.md §6): the log
//! key, an Ed25519 key in the CA's token (slot `log`, made once and kept
//! across restarts), and the checkpoints it signs over the registry's tree.
//! A checkpoint is signed when someone asks for one and the tree has grown,
//! at most once per [`CHECKPOINT_INTERVAL`]: the signing cost is amortised
//! over every entry appended meanwhile, and a flood of requests costs no
//! more than one signature a second. Every checkpoint is kept; the log
//! never signs two heads for one size (the registry refuses it).
//!
//! Witnesses an admin registered (their C2SP `tlog-cosignature` keys) send
//! their cosignatures of checkpoints they checked; the service verifies
//! each against the checkpoint it signed for that size, keeps it, and
//! serves the checkpoint with every cosignature it holds, or the newest
//! checkpoint that at least k witnesses cosigned.

use std::time::Duration;

use symbolon::ca::CaError;
use symbolon::keys::{EcCurve, EcSigningInput, KeyAlgorithm, PublicKey};
use symbolon::token::{SlotName, Token};
use symbolon::transparency::checkpoint::Checkpoint;
use symbolon::transparency::entry::LogEntry;
use symbolon::transparency::merkle::verify_consistency;
use symbolon::transparency::note::{cosignature_time, KeyKind, Note, NoteSignature, VerifierKey};
use symbolon::transparency::proof::{ConsistencyProof, InclusionProof};
use symbolon::Code;

use crate::service::now;
use crate::{CaService, ServiceError};

/// The CA token's slot that holds the log key.
pub const LOG_SLOT: &str = "log";
/// A new checkpoint is signed at most this often.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// How far in the future a cosignature's time may be (clock skew).
pub const COSIGNATURE_SKEW: Duration = Duration::from_secs(600);
/// Most witnesses a client may ask to have cosigned.
pub const MAX_REQUIRED_WITNESSES: u32 = 32;
/// Most witnesses registered: a checkpoint with all their lines stays far
/// below the signature limit every verifier here applies (100).
pub const MAX_WITNESSES: usize = 32;

/// The log key and the lock that makes one signer at a time.
pub struct TransparencyLog {
    slot: SlotName,
    key: VerifierKey,
    signing: tokio::sync::Mutex<()>,
}

/// The log's origin, which is also its key's name: fixed by the CA key, so
/// it stays the same across restarts and differs between CAs.
pub fn origin_for(ca_key: &PublicKey) -> String {
    let fp = ca_key.fingerprint().to_string();
    let hex = fp.strip_prefix("sha256:").unwrap_or(&fp);
    format!("symbolon-log/{}", &hex[..16.min(hex.len())])
}

impl TransparencyLog {
    /// The log key in the CA token, made there the first time (while the
    /// service starts, before the token is shared).
    pub(crate) fn prepare(
        token: &mut (dyn Token + Send + Sync),
        ca_key: &PublicKey,
    ) -> Result<Self, ServiceError> {
        let slot = SlotName::new(LOG_SLOT)?;
        let public = match token.slot_public_key(&slot) {
            Ok(k) => k,
            Err(e) if e.code() == Code::SlotNotFound => {
                match token.generate_key(&slot, KeyAlgorithm::Ec(EcCurve::Ed25519)) {
                    Ok(k) => k,
                    Err(e) if e.code() == Code::SlotOccupied => token.slot_public_key(&slot)?,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let public = match public {
            PublicKey::Ec(k) if k.curve() == EcCurve::Ed25519 => k,
            other => {
                return Err(ServiceError::Setup(format!(
                    "the CA token's slot {LOG_SLOT:?} holds a {} key; the log key is Ed25519",
                    other.kind()
                )))
            }
        };
        let key = VerifierKey::ed25519(&origin_for(ca_key), public)
            .map_err(|e| ServiceError::Setup(e.to_string()))?;
        Ok(Self {
            slot,
            key,
            signing: tokio::sync::Mutex::new(()),
        })
    }
}

fn internal(m: String) -> ServiceError {
    ServiceError::Refused(CaError::Internal(m))
}

impl CaService {
    /// The log's verifier key (`name+id+key`).
    pub fn log_key(&self) -> &VerifierKey {
        &self.log.key
    }

    /// The newest checkpoint: the one signed last, or a new one over the
    /// whole tree when it has grown and the last is older than
    /// [`CHECKPOINT_INTERVAL`].
    pub async fn checkpoint(&self) -> Result<String, ServiceError> {
        self.checkpoint_covering(0).await
    }

    /// [`CaService::checkpoint`], but of a tree of at least `min` entries
    /// (signed now if the last one is smaller): an evidence bundle's
    /// proofs all lead to one checkpoint that holds its newest entry.
    pub(crate) async fn checkpoint_covering(&self, min: u64) -> Result<String, ServiceError> {
        let fresh = |c: &symbolon_store::StoredCheckpoint| {
            c.size >= min && now() - c.signed_at < CHECKPOINT_INTERVAL.as_secs() as i64
        };
        if let Some(c) = self.registry.latest_checkpoint().await? {
            if fresh(&c) || c.size == self.registry.log_size().await? {
                return self.with_cosignatures(c.size, c.note).await;
            }
        }
        let _one = self.log.signing.lock().await;
        let latest = self.registry.latest_checkpoint().await?;
        let size = self.registry.log_size().await?;
        if let Some(c) = &latest {
            if c.size > size {
                return Err(ServiceError::Invalid {
                    code: Code::LogInconsistent,
                    message: format!(
                        "the log signed a tree of {} entries but holds {size}: its tail was cut; nothing is signed",
                        c.size
                    ),
                });
            }
            if fresh(c) || c.size == size {
                return self.with_cosignatures(c.size, c.note.clone()).await;
            }
        }
        let root = self.registry.log_root(size).await?;
        // A log never signs a head its earlier ones cannot be linked to
        // (C2SP tlog-checkpoint): a tree rewritten under the service is
        // refused here, before a forked checkpoint exists.
        if let Some(c) = latest {
            let proof = self.registry.log_consistency_proof(c.size, size).await?;
            if let Err(e) = verify_consistency(c.size, size, &c.root, &root, &proof) {
                tracing::error!(signed = c.size, now = size, error = %e, "the log tree no longer extends its last checkpoint");
                return Err(ServiceError::Invalid {
                    code: Code::LogInconsistent,
                    message: format!(
                        "the log's tree of {size} entries does not extend the checkpoint it signed at {} ({e}): the registry was rewritten; nothing is signed",
                        c.size
                    ),
                });
            }
        }
        let body = Checkpoint {
            origin: self.log.key.name().to_owned(),
            size,
            root,
        }
        .body();
        let token = self.token.clone();
        let slot = self.log.slot.clone();
        let message = body.clone();
        let signature = self
            .cpu
            .signing
            .run(move || token.sign_ec(&slot, EcSigningInput::Message(message.as_bytes())))
            .await
            .map_err(|e| internal(format!("the log signer stopped: {e}")))??;
        let note = format!("{body}\n{}", self.log.key.signature_line(&signature));
        // The token's answer is checked before it is published.
        Checkpoint::open(&note, &self.log.key, &[])
            .map_err(|e| internal(format!("the log key's checkpoint does not verify: {e}")))?;
        self.registry
            .record_checkpoint(size, root, note.clone())
            .await?;
        Ok(note)
    }

    /// A signed checkpoint with the cosignature lines kept for its size.
    async fn with_cosignatures(&self, size: u64, mut note: String) -> Result<String, ServiceError> {
        for line in self.registry.cosignatures(size).await? {
            note.push_str(&line);
        }
        Ok(note)
    }

    /// The newest checkpoint at least `k` registered witnesses cosigned
    /// (of those named in `by`, when given: the ones a client trusts), with
    /// all its cosignatures.
    pub async fn witnessed_checkpoint(
        &self,
        k: u32,
        by: Option<&[&str]>,
    ) -> Result<String, ServiceError> {
        let invalid = |message: String| ServiceError::Invalid {
            code: Code::InvalidInput,
            message,
        };
        if !(1..=MAX_REQUIRED_WITNESSES).contains(&k) {
            return Err(invalid(format!(
                "witnesses: from 1 to {MAX_REQUIRED_WITNESSES}"
            )));
        }
        if let Some(names) = by {
            if names.iter().any(|n| n.is_empty()) {
                return Err(invalid("by: witness names, none empty".into()));
            }
            if names.len() > MAX_REQUIRED_WITNESSES as usize || names.len() < k as usize {
                return Err(invalid(format!(
                    "by: from witnesses={k} to {MAX_REQUIRED_WITNESSES} witness names"
                )));
            }
        }
        let c = self
            .registry
            .latest_witnessed_checkpoint(k, by)
            .await?
            .ok_or_else(|| {
                ServiceError::from(symbolon_store::StoreError::NotFound(format!(
                    "a checkpoint cosigned by {k} witnesses (so far)"
                )))
            })?;
        self.with_cosignatures(c.size, c.note).await
    }

    /// The registered witnesses' keys.
    pub async fn witness_keys(&self) -> Result<Vec<VerifierKey>, ServiceError> {
        self.registry
            .witnesses()
            .await?
            .iter()
            .map(|w| {
                VerifierKey::parse(&w.vkey).map_err(|e| {
                    ServiceError::from(symbolon_store::StoreError::Corrupt(format!(
                        "witness {}: {e}",
                        w.name
                    )))
                })
            })
            .collect()
    }

    /// Registers a witness by its cosignature key (`name+id+base64(0x04 ‖
    /// key)`); audited.
    pub async fn add_witness(&self, vkey: &str) -> Result<VerifierKey, ServiceError> {
        let invalid = |message: String| ServiceError::Invalid {
            code: Code::InvalidInput,
            message,
        };
        let key = VerifierKey::parse(vkey).map_err(|e| invalid(e.to_string()))?;
        if key.kind() != KeyKind::Cosignature {
            return Err(invalid(
                "a witness key is a cosignature key (signed-note type 0x04, `symbolon log witness-key`)"
                    .into(),
            ));
        }
        if key.name() == self.log.key.name() || key.public_key() == self.log.key.public_key() {
            return Err(invalid("the log cannot witness itself".into()));
        }
        // Clients name the witnesses they trust in one comma-separated
        // query parameter.
        if key.name().contains(',') {
            return Err(invalid("a witness name here cannot hold a comma".into()));
        }
        if self.registry.witnesses().await?.len() >= MAX_WITNESSES {
            return Err(ServiceError::Invalid {
                code: Code::Refused,
                message: format!(
                    "{MAX_WITNESSES} witnesses are registered, the most this log serves"
                ),
            });
        }
        self.registry
            .add_witness(
                key.name(),
                &key.to_string(),
                &hex::encode(key.public_key().point()),
            )
            .await?;
        Ok(key)
    }

    /// Removes witness `name` (audited): its cosignatures are no longer
    /// served or counted, and it is no longer heard.
    pub async fn remove_witness(&self, name: &str) -> Result<(), ServiceError> {
        self.registry.remove_witness(name).await?;
        Ok(())
    }

    /// Takes a witness's cosignature of the checkpoint the log signed for
    /// `size`: the line must come from a registered witness, verify over
    /// that checkpoint, and carry a time not in the future. Kept once per
    /// size and witness.
    pub async fn cosign(&self, size: u64, line: &str) -> Result<(String, bool), ServiceError> {
        let refused = |code: Code, message: String| ServiceError::Invalid { code, message };
        let sig = NoteSignature::parse_line(line)
            .map_err(|e| refused(Code::InvalidInput, e.to_string()))?;
        let witnesses = self.witness_keys().await?;
        let Some(witness) = witnesses
            .iter()
            .find(|w| w.name() == sig.name && w.id() == sig.id)
        else {
            return Err(ServiceError::Denied {
                code: Code::Forbidden,
                message: format!(
                    "{:?} (key ID {:08x}) is not a registered witness; an admin registers witnesses (`symbolon log witness-add`)",
                    sig.name, sig.id
                ),
            });
        };
        let time = cosignature_time(&sig.signature)
            .ok_or_else(|| refused(Code::BadSignature, "not a timestamped cosignature".into()))?;
        if time > (now() as u64).saturating_add(COSIGNATURE_SKEW.as_secs()) {
            return Err(refused(
                Code::InvalidInput,
                format!(
                    "the cosignature's time {time} is in the future; check the witness's clock"
                ),
            ));
        }
        let stored = self.registry.checkpoint_at(size).await?.ok_or_else(|| {
            ServiceError::from(symbolon_store::StoreError::NotFound(format!(
                "a checkpoint of {size} entries"
            )))
        })?;
        let note = Note::parse(&stored.note)
            .map_err(|e| internal(format!("a stored checkpoint: {e}")))?
            .with_signature(sig.clone());
        let trusted = [witness.clone()];
        let signers = note
            .open(&self.log.key, &trusted)
            .map(|(_, s)| s.len())
            .unwrap_or(0);
        if signers != 1 {
            return Err(refused(
                Code::BadSignature,
                format!(
                    "the cosignature of {} does not verify over the checkpoint of {size} entries",
                    witness.name()
                ),
            ));
        }
        let line = witness.signature_line(&sig.signature);
        let time = i64::try_from(time).map_err(|_| refused(Code::InvalidInput, "time".into()))?;
        let new = self
            .registry
            .record_cosignature(size, witness.name(), line, time)
            .await?;
        Ok((witness.name().to_owned(), new))
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries.
    pub async fn log_inclusion(&self, seq: u64, size: u64) -> Result<InclusionProof, ServiceError> {
        let index = seq.checked_sub(1).ok_or_else(|| ServiceError::Invalid {
            code: Code::InvalidInput,
            message: "entries are numbered from 1".into(),
        })?;
        let hashes = self.registry.log_inclusion_proof(index, size).await?;
        Ok(InclusionProof::new(index, size, hashes))
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub async fn log_consistency(
        &self,
        old: u64,
        new: u64,
    ) -> Result<ConsistencyProof, ServiceError> {
        let hashes = self.registry.log_consistency_proof(old, new).await?;
        Ok(ConsistencyProof::new(old, new, hashes))
    }

    /// Entry `seq` of the log.
    pub async fn log_entry(&self, seq: i64) -> Result<LogEntry, ServiceError> {
        Ok(self.registry.log_entry(seq).await?)
    }
}

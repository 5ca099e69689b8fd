//! Gathering a key's evidence bundle (docs/transparency.md §10): its log
//! entries, found through the registry's index of the objects entries
//! name, the records those entries are about, and one checkpoint every
//! entry's inclusion proof leads to.

use std::collections::BTreeSet;

use serde_json::Value;
use symbolon::escrow::{EscrowDeposit, EscrowId};
use symbolon::evidence::bundle::MAX_ENTRIES;
use symbolon::evidence::refs::admits;
use symbolon::evidence::{
    BundledArbitrator, BundledAttestation, BundledRecovery, EvidenceBundle, ProvenEntry,
    EVIDENCE_FORMAT,
};
use symbolon::keys::Fingerprint;
use symbolon::transparency::checkpoint::Checkpoint;
use symbolon::transparency::entry::LogEntry;
use symbolon::transparency::note::Note;
use symbolon::Code;
use symbolon_store::{CertificateSerial, LogRef, StoreError};

use crate::service::{CaService, ServiceError};

/// Entry kinds of refused requests that name a key without changing it.
const REFUSALS: [&str; 2] = ["certification-refused", "request-refused"];

/// The objects of a key's history, as its entries name them.
#[derive(Default)]
struct Objects {
    serials: BTreeSet<String>,
    escrows: BTreeSet<String>,
    requests: BTreeSet<String>,
    chains: BTreeSet<String>,
    registrations: BTreeSet<String>,
    tokens: BTreeSet<String>,
    arbitrators: BTreeSet<String>,
}

fn field<'a>(detail: &'a Value, name: &str) -> Option<&'a str> {
    detail.get(name).and_then(Value::as_str)
}

impl Objects {
    /// What the entries about the key itself name.
    fn of(key: &Fingerprint, entries: &[LogEntry]) -> Self {
        let key = key.to_string();
        let mut o = Self::default();
        for e in entries {
            let detail: Value = serde_json::from_str(&e.detail).unwrap_or_default();
            if field(&detail, "key") != Some(key.as_str()) {
                continue;
            }
            let take = |set: &mut BTreeSet<String>, name: &str| {
                if let Some(v) = field(&detail, name) {
                    set.insert(v.to_string());
                }
            };
            match e.kind.as_str() {
                "certificate-issued" => {
                    take(&mut o.serials, "serial");
                    take(&mut o.registrations, "registration");
                    take(&mut o.tokens, "generated_on_token");
                }
                "key-escrowed" => {
                    take(&mut o.escrows, "escrow");
                    take(&mut o.tokens, "bound_token");
                }
                "recovery-requested" => {
                    take(&mut o.requests, "request");
                    take(&mut o.tokens, "target");
                }
                "joint-chain-posted" => take(&mut o.chains, "id"),
                _ => {}
            }
        }
        o
    }

    /// The references whose entries belong in the bundle (of each, the
    /// entries `refs::admits`).
    fn refs(&self) -> Vec<LogRef> {
        let mut out = Vec::new();
        out.extend(self.serials.iter().cloned().map(LogRef::Serial));
        out.extend(self.escrows.iter().cloned().map(LogRef::Escrow));
        out.extend(self.requests.iter().cloned().map(LogRef::Request));
        out.extend(self.chains.iter().cloned().map(LogRef::Chain));
        out.extend(self.registrations.iter().cloned().map(LogRef::Registration));
        out.extend(self.tokens.iter().cloned().map(LogRef::Token));
        out.extend(self.arbitrators.iter().cloned().map(LogRef::Arbitrator));
        out
    }
}

impl CaService {
    /// The evidence bundle of `key`: everything about it the log holds,
    /// proven against one checkpoint. A key neither the registry nor the
    /// log knows is `not_found`.
    pub async fn evidence(&self, key: &Fingerprint) -> Result<EvidenceBundle, ServiceError> {
        // Entries, then the records they name, then the entries again: a
        // record read here had its entry committed with it, so the second
        // pass holds every record's entry.
        let first = self.entries_about(key, None).await?;
        if first.is_empty() {
            // Nothing in the log names it: a key the registry knows gets a
            // bundle with nothing to show; any other is not_found.
            self.registry.key(key).await?;
        }
        let mut objects = Objects::of(key, &first);
        let mut bundle = self.records(key, &mut objects).await?;
        let entries = self.entries_about(key, Some(&objects)).await?;
        let newest = entries.last().map_or(0, |e| e.seq as u64);
        let note = self.checkpoint_covering(newest).await?;
        let size = Note::parse(&note)
            .and_then(|n| Checkpoint::parse_body(n.text()))
            .map_err(|e| {
                ServiceError::from(StoreError::Corrupt(format!("the log's checkpoint: {e}")))
            })?
            .size;
        for entry in entries {
            let index = entry.seq as u64 - 1;
            let proof = self.registry.log_inclusion_proof(index, size).await?;
            bundle.entries.push(ProvenEntry { entry, proof });
        }
        bundle.checkpoint = note;
        Ok(bundle)
    }

    /// The entries naming the key, and with `objects` those naming its
    /// records, in log order.
    async fn entries_about(
        &self,
        key: &Fingerprint,
        objects: Option<&Objects>,
    ) -> Result<Vec<LogEntry>, ServiceError> {
        self.registry.index_log().await?;
        // A refused request changed nothing about the key, and anyone with
        // a credential can make one naming any key: refusals would let
        // them swell someone else's bundle. They stay in the log.
        let mut seqs: BTreeSet<i64> = self
            .registry
            .log_naming(&[LogRef::Key(*key)])
            .await?
            .into_iter()
            .filter(|(_, kind)| !REFUSALS.contains(&kind.as_str()))
            .map(|(s, _)| s)
            .collect();
        if let Some(o) = objects {
            for r in o.refs() {
                let text = r.as_text();
                for (seq, kind) in self.registry.log_naming(std::slice::from_ref(&r)).await? {
                    if admits(&text, &kind) {
                        seqs.insert(seq);
                    }
                }
            }
        }
        let seqs: Vec<i64> = seqs.into_iter().collect();
        if seqs.len() > MAX_ENTRIES {
            return Err(ServiceError::Invalid {
                code: Code::Refused,
                message: format!(
                    "key {key} has {} log entries; a bundle holds at most {MAX_ENTRIES}",
                    seqs.len()
                ),
            });
        }
        Ok(self.registry.audit_entries_at(&seqs).await?)
    }

    /// The records the key's entries name; the arbitrators of its escrow
    /// policies join `objects`.
    async fn records(
        &self,
        key: &Fingerprint,
        objects: &mut Objects,
    ) -> Result<EvidenceBundle, ServiceError> {
        let corrupt = |what: String| ServiceError::from(StoreError::Corrupt(what));
        let mut bundle = EvidenceBundle {
            format: EVIDENCE_FORMAT.into(),
            key: *key,
            checkpoint: String::new(),
            entries: Vec::new(),
            ca_chain: self.chain().to_vec(),
            certificates: Vec::new(),
            attestations: Vec::new(),
            escrows: Vec::new(),
            arbitrators: Vec::new(),
            recoveries: Vec::new(),
            joint_chains: Vec::new(),
        };
        for s in &objects.serials {
            let serial: CertificateSerial = s.parse()?;
            let c = self.registry.certificate(&serial).await?;
            if let Some(a) = c.attestation {
                bundle.attestations.push(BundledAttestation {
                    serial: s.clone(),
                    attestation: a,
                });
            }
            bundle.certificates.push(c.der);
        }
        for id in &objects.escrows {
            let escrow: EscrowId = id
                .parse()
                .map_err(|e| corrupt(format!("escrow id {id}: {e}")))?;
            let record = self.registry.escrow(escrow.as_bytes()).await?;
            let deposit =
                EscrowDeposit::decode(&record).map_err(|e| corrupt(format!("escrow {id}: {e}")))?;
            let policy = deposit
                .policy()
                .map_err(|e| corrupt(format!("escrow {id}: {e}")))?;
            objects
                .arbitrators
                .extend(policy.arbitrators().iter().map(|a| a.to_string()));
            bundle.escrows.push(record);
        }
        for id in &objects.arbitrators {
            let a = self.registry.arbitrator(id).await?;
            bundle.arbitrators.push(BundledArbitrator {
                id: a.id,
                approval_key: a.approval_key,
            });
        }
        for id in &objects.requests {
            let r = self.registry.recovery(id).await?;
            bundle.recoveries.push(BundledRecovery {
                request: r.request,
                approvals: r.approvals,
            });
        }
        for id in &objects.chains {
            let (_, body) = self.registry.joint_message(id).await?;
            bundle.joint_chains.push(body);
        }
        Ok(bundle)
    }
}

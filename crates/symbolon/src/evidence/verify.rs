//! The offline check of an evidence bundle (docs/transparency.md §10):
//! every entry is in the log the checkpoint signs and opens to what it
//! committed, every record is the one an entry names (by hash or by every
//! field the entry states), every signature in the records verifies, and
//! every entry is about the key. A failure names the part.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::bundle::{EvidenceBundle, EVIDENCE_FORMAT, MAX_ENTRIES};
use super::sha256_hex;
use crate::escrow::{verify_chain, Approval, ArbitratorId, EscrowDeposit, Policy, RecoveryRequest};
use crate::joint::ChainMessage;
use crate::keys::{Fingerprint, IdentityPublicKey};
use crate::token::Attestation;
use crate::transparency::checkpoint::Checkpoint;
use crate::transparency::commitment::committed_fields;
use crate::transparency::merkle::verify_inclusion;
use crate::transparency::note::VerifierKey;
use crate::x509::{certificate_public_key, verify_path};

/// Which part of a bundle failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {why}")]
pub struct EvidenceError {
    /// The part: "the checkpoint", "entry 17 (certificate-issued)",
    /// "certificate 0a…", "recovery r-…, approval 2", …
    pub part: String,
    /// What is wrong with it.
    pub why: String,
}

fn fail(part: impl Into<String>, why: impl Into<String>) -> EvidenceError {
    EvidenceError {
        part: part.into(),
        why: why.into(),
    }
}

/// What a verified bundle shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    /// The key.
    pub key: Fingerprint,
    /// The log's origin and the size of the tree the proofs lead to.
    pub origin: String,
    /// The checkpoint's tree size.
    pub size: u64,
    /// Entries proven.
    pub entries: usize,
    /// Each certificate: serial, subject and status.
    pub certificates: Vec<CertificateFinding>,
    /// The tokens that attested the key was generated inside them.
    pub attested_by: Vec<String>,
    /// Who vetted the subscriber, and when (Unix seconds).
    pub vetted: Vec<(String, i64)>,
    /// Each escrow: its id and policy.
    pub escrows: Vec<(String, String)>,
    /// Each recovery: id, the arbitrators who approved in order, and
    /// whether the enclave completed it.
    pub recoveries: Vec<RecoveryFinding>,
    /// Each joint-key chain: id, purpose and state.
    pub joint_chains: Vec<(String, String, String)>,
}

/// A certificate of the key, as the bundle shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateFinding {
    /// Hex.
    pub serial: String,
    /// Its subject.
    pub subject: String,
    /// `good`, `revoked (reason)` or `on hold`.
    pub status: String,
}

/// A recovery of the key, as the bundle shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryFinding {
    /// The request.
    pub id: String,
    /// Who approved, in order.
    pub approved_by: Vec<String>,
    /// Whether the enclave recovered the key.
    pub completed: bool,
}

/// A proven entry, opened.
struct Opened {
    seq: i64,
    at: i64,
    kind: String,
    detail: Value,
}

impl Opened {
    fn part(&self) -> String {
        format!("entry {} ({})", self.seq, self.kind)
    }

    fn str(&self, field: &str) -> Option<&str> {
        self.detail.get(field).and_then(Value::as_str)
    }
}

/// The entries, and what of the key the bundle's records name.
struct Ledger {
    entries: Vec<Opened>,
    /// Objects that tie an entry to the key: "serial:…", "escrow:…", …
    names: BTreeSet<String>,
}

impl Ledger {
    fn find<'a>(
        &'a self,
        kind: &'a str,
        field: &'a str,
        value: &'a str,
    ) -> impl Iterator<Item = &'a Opened> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.kind == kind && e.str(field) == Some(value))
    }

    fn one<'a>(
        &'a self,
        kind: &'a str,
        field: &'a str,
        value: &'a str,
        part: &str,
    ) -> Result<&'a Opened, EvidenceError> {
        self.find(kind, field, value).next().ok_or_else(|| {
            fail(
                part,
                format!("no {kind} entry with {field} {value} in the bundle"),
            )
        })
    }
}

/// Checks `bundle` against the pinned CA `root` (DER) and the log key.
pub fn verify(
    bundle: &EvidenceBundle,
    root: &[u8],
    log_key: &VerifierKey,
) -> Result<EvidenceReport, EvidenceError> {
    if bundle.format != EVIDENCE_FORMAT {
        return Err(fail(
            "the bundle",
            format!("format {:?} is not {EVIDENCE_FORMAT}", bundle.format),
        ));
    }
    if bundle.entries.len() > MAX_ENTRIES {
        return Err(fail(
            "the bundle",
            format!("more than {MAX_ENTRIES} entries"),
        ));
    }
    let (checkpoint, _, _) = Checkpoint::open(&bundle.checkpoint, log_key, &[])
        .map_err(|e| fail("the checkpoint", e.to_string()))?;
    let mut ledger = prove_entries(bundle, &checkpoint)?;
    let mut report = EvidenceReport {
        key: bundle.key,
        origin: checkpoint.origin.clone(),
        size: checkpoint.size,
        entries: ledger.entries.len(),
        certificates: Vec::new(),
        attested_by: Vec::new(),
        vetted: Vec::new(),
        escrows: Vec::new(),
        recoveries: Vec::new(),
        joint_chains: Vec::new(),
    };
    ledger.names.insert(format!("key:{}", bundle.key));
    check_certificates(bundle, root, &mut ledger, &mut report)?;
    check_attestations(bundle, &mut ledger, &mut report)?;
    let policies = check_escrows(bundle, &mut ledger, &mut report)?;
    let keys = check_arbitrators(bundle, &mut ledger)?;
    check_recoveries(bundle, &policies, &keys, &mut ledger, &mut report)?;
    check_joint_chains(bundle, &mut ledger, &mut report)?;
    check_relevance(&ledger)?;
    Ok(report)
}

/// Refuses a second record of the same identity (reported twice, it would
/// look like two).
fn once(seen: &mut BTreeSet<String>, part: &str, id: &str) -> Result<(), EvidenceError> {
    if seen.insert(id.to_string()) {
        Ok(())
    } else {
        Err(fail(part, "it is in the bundle twice"))
    }
}

/// Every entry in the checkpoint's tree, in strictly increasing order, with
/// its committed fields opened.
fn prove_entries(
    bundle: &EvidenceBundle,
    checkpoint: &Checkpoint,
) -> Result<Ledger, EvidenceError> {
    let mut entries = Vec::with_capacity(bundle.entries.len());
    let mut last = 0i64;
    for p in &bundle.entries {
        let e = &p.entry;
        let part = format!("entry {} ({})", e.seq, e.kind);
        if e.seq <= last {
            return Err(fail(part, "entries must be in log order, each once"));
        }
        last = e.seq;
        if !e.hash_matches() {
            return Err(fail(part, "it does not match its hash (it was edited)"));
        }
        let index = e
            .index()
            .ok_or_else(|| fail(&part, "its sequence number is not ≥ 1"))?;
        verify_inclusion(
            index,
            checkpoint.size,
            &e.leaf_hash(),
            &p.proof,
            &checkpoint.root,
        )
        .map_err(|x| fail(&part, format!("its inclusion proof does not verify: {x}")))?;
        let detail = e.opened_detail().map_err(|x| fail(&part, x.to_string()))?;
        // Every committed field opened: a withheld opening (a revocation's
        // reason, say) would leave the report to guess.
        for field in committed_fields(&e.detail) {
            if !e.openings.as_ref().is_some_and(|o| o.contains_key(&field)) {
                return Err(fail(
                    &part,
                    format!("its field {field:?} is committed but the bundle does not open it"),
                ));
            }
        }
        entries.push(Opened {
            seq: e.seq,
            at: e.at,
            kind: e.kind.clone(),
            detail,
        });
    }
    Ok(Ledger {
        entries,
        names: BTreeSet::new(),
    })
}

fn check_certificates(
    bundle: &EvidenceBundle,
    root: &[u8],
    ledger: &mut Ledger,
    report: &mut EvidenceReport,
) -> Result<(), EvidenceError> {
    let key = bundle.key.to_string();
    let mut seen = BTreeSet::new();
    for der in &bundle.certificates {
        let cert = crate::x509::parse_certificate(der)
            .map_err(|e| fail("a certificate", e.to_string()))?;
        let serial = crate::x509::serial_hex(&cert);
        let part = format!("certificate {serial}");
        once(&mut seen, &part, &serial)?;
        let pk = certificate_public_key(&cert).map_err(|e| fail(&part, e.to_string()))?;
        if pk.fingerprint() != bundle.key {
            return Err(fail(
                &part,
                format!("it certifies {}, not {key}", pk.fingerprint()),
            ));
        }
        // Checked when it was issued: a certificate stays evidence after it
        // expires or its CA's certificate does.
        let issued = cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time();
        verify_path(der, &bundle.ca_chain, root, issued).map_err(|e| fail(&part, e.to_string()))?;
        let entry = ledger.one("certificate-issued", "serial", &serial, &part)?;
        // The device the key was attested on, as the issuance names it
        // (its registration belongs here even without the attestation
        // file, which certificates issued before migration 0010 lack).
        let device = entry
            .str("generated_on_token")
            .map(|t| format!("token:{t}"));
        let subject = cert.tbs_certificate().subject().to_string();
        if entry.str("key") != Some(key.as_str()) {
            return Err(fail(
                entry.part(),
                format!("it names another key than certificate {serial}'s"),
            ));
        }
        if entry.str("subject") != Some(subject.as_str()) {
            return Err(fail(
                entry.part(),
                format!("its subject is not certificate {serial}'s"),
            ));
        }
        // Who vetted the subscriber, when the issuance consumed a
        // registration.
        if let Some(reg) = entry.str("registration") {
            let vetting =
                ledger.one("subscriber-registered", "registration", reg, &entry.part())?;
            let by = vetting
                .detail
                .pointer("/by/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            report.vetted.push((by.to_string(), vetting.at));
            ledger.names.insert(format!("registration:{reg}"));
        }
        ledger.names.extend(device);
        ledger.names.insert(format!("serial:{serial}"));
        report.certificates.push(CertificateFinding {
            status: status(ledger, &serial),
            serial,
            subject,
        });
    }
    Ok(())
}

/// A certificate's status from its revocation entries, in log order.
fn status(ledger: &Ledger, serial: &str) -> String {
    let mut status = "good".to_string();
    for e in &ledger.entries {
        let names_it = e.str("serial") == Some(serial)
            || e.detail
                .get("certificates")
                .and_then(Value::as_array)
                .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(serial)));
        if !names_it {
            continue;
        }
        match e.kind.as_str() {
            "certificate-revoked" => {
                let reason = e.str("reason").unwrap_or("unspecified");
                status = if reason == "certificateHold" {
                    "on hold".into()
                } else {
                    format!("revoked ({reason})")
                };
            }
            "certificate-released" => status = "good".into(),
            _ => {}
        }
    }
    status
}

fn check_attestations(
    bundle: &EvidenceBundle,
    ledger: &mut Ledger,
    report: &mut EvidenceReport,
) -> Result<(), EvidenceError> {
    let mut seen = BTreeSet::new();
    for a in &bundle.attestations {
        let part = format!("the attestation of certificate {}", a.serial);
        once(&mut seen, &part, &a.serial)?;
        if !ledger.names.contains(&format!("serial:{}", a.serial)) {
            return Err(fail(part, "the bundle has no such certificate"));
        }
        let issued = ledger.one("certificate-issued", "serial", &a.serial, &part)?;
        if issued.str("attestation") != Some(sha256_hex(a.attestation.as_bytes()).as_str()) {
            return Err(fail(part, "it is not the attestation the certificate was issued on (its hash differs from the entry's)"));
        }
        let att = Attestation::from_json(&a.attestation).map_err(|e| fail(&part, e.to_string()))?;
        let s = &att.statement;
        let token = s.token.to_string();
        let device = s.device_key.fingerprint().to_string();
        let registered = ledger
            .find("token-registered", "token", &token)
            .any(|e| e.str("device_key") == Some(device.as_str()));
        if !registered {
            return Err(fail(
                part,
                format!("no token-registered entry for token {token} with device key {device}"),
            ));
        }
        let pk = match &s.public_key {
            k if k.fingerprint() == bundle.key => k.clone(),
            k => {
                return Err(fail(
                    part,
                    format!("it attests {}, not the key", k.fingerprint()),
                ))
            }
        };
        att.verify(&s.device_key, Some(&pk), None)
            .map_err(|e| fail(&part, e.to_string()))?;
        if !s.origin.made_in_token() {
            return Err(fail(
                part,
                format!("the key was {}, not made on the token", s.origin),
            ));
        }
        ledger.names.insert(format!("token:{token}"));
        report.attested_by.push(token);
    }
    Ok(())
}

fn check_escrows(
    bundle: &EvidenceBundle,
    ledger: &mut Ledger,
    report: &mut EvidenceReport,
) -> Result<BTreeMap<String, Policy>, EvidenceError> {
    let mut policies = BTreeMap::new();
    for record in &bundle.escrows {
        let deposit =
            EscrowDeposit::decode(record).map_err(|e| fail("an escrow deposit", e.to_string()))?;
        let id = deposit.id.to_string();
        let part = format!("escrow {id}");
        if policies.contains_key(&id) {
            return Err(fail(part, "it is in the bundle twice"));
        }
        if deposit.fingerprint() != bundle.key {
            return Err(fail(
                part,
                format!("it escrows {}, not the key", deposit.fingerprint()),
            ));
        }
        let entry = ledger.one("key-escrowed", "escrow", &id, &part)?;
        let fields = [
            ("key", bundle.key.to_string()),
            ("policy", deposit.policy.clone()),
            ("bound_token", deposit.bound_token.to_string()),
            ("bound_device", deposit.bound_device.to_string()),
        ];
        for (field, want) in fields {
            if entry.str(field) != Some(want.as_str()) {
                return Err(fail(
                    entry.part(),
                    format!("its {field} is not the deposit's"),
                ));
            }
        }
        // Entries from before deposits were hashed state every field but
        // the commitments; later ones bind the whole record.
        if let Some(h) = entry.detail.get("deposit_sha256") {
            if h.as_str() != Some(sha256_hex(record).as_str()) {
                return Err(fail(
                    part,
                    "the record is not the one deposited (its hash differs from the entry's)",
                ));
            }
        }
        let policy = deposit.policy().map_err(|e| fail(&part, e.to_string()))?;
        for a in policy.arbitrators() {
            ledger.names.insert(format!("arbitrator:{a}"));
        }
        ledger.names.insert(format!("escrow:{id}"));
        ledger
            .names
            .insert(format!("token:{}", deposit.bound_token));
        report.escrows.push((id.clone(), deposit.policy.clone()));
        policies.insert(id, policy);
    }
    Ok(policies)
}

fn check_arbitrators(
    bundle: &EvidenceBundle,
    ledger: &mut Ledger,
) -> Result<BTreeMap<ArbitratorId, IdentityPublicKey>, EvidenceError> {
    let mut keys = BTreeMap::new();
    for a in &bundle.arbitrators {
        let part = format!("arbitrator {}", a.id);
        let id = ArbitratorId::new(&a.id).map_err(|e| fail(&part, e.to_string()))?;
        if keys.contains_key(&id) {
            return Err(fail(part, "it is in the bundle twice"));
        }
        let key = IdentityPublicKey::from_spki_der(&a.approval_key)
            .map_err(|e| fail(&part, e.to_string()))?;
        let fp = key.fingerprint().to_string();
        let registered = ledger
            .find("arbitrator-registered", "arbitrator", &a.id)
            .any(|e| e.str("approval_key") == Some(fp.as_str()));
        if !registered {
            return Err(fail(
                part,
                format!("no arbitrator-registered entry with approval key {fp}"),
            ));
        }
        if !ledger.names.contains(&format!("arbitrator:{}", a.id)) {
            return Err(fail(part, "no escrow policy in the bundle names it"));
        }
        keys.insert(id, key);
    }
    Ok(keys)
}

fn check_recoveries(
    bundle: &EvidenceBundle,
    policies: &BTreeMap<String, Policy>,
    keys: &BTreeMap<ArbitratorId, IdentityPublicKey>,
    ledger: &mut Ledger,
    report: &mut EvidenceReport,
) -> Result<(), EvidenceError> {
    let mut seen = BTreeSet::new();
    for r in &bundle.recoveries {
        let request = RecoveryRequest::decode(&r.request)
            .map_err(|e| fail("a recovery request", e.to_string()))?;
        let id = request.id.to_string();
        let part = format!("recovery {id}");
        once(&mut seen, &part, &id)?;
        if request.key != bundle.key {
            return Err(fail(
                part,
                format!("it recovers {}, not the key", request.key),
            ));
        }
        let policy = policies.get(&request.escrow.to_string()).ok_or_else(|| {
            fail(
                &part,
                format!("its escrow {} is not in the bundle", request.escrow),
            )
        })?;
        let entry = ledger.one("recovery-requested", "request", &id, &part)?;
        if entry.str("key") != Some(bundle.key.to_string().as_str())
            || entry.str("target") != Some(request.target.to_string().as_str())
        {
            return Err(fail(
                entry.part(),
                "its key or target token is not the request's",
            ));
        }
        if let Some(h) = entry.detail.get("request_sha256") {
            if h.as_str() != Some(hex::encode(request.hash()).as_str()) {
                return Err(fail(
                    part,
                    "the request is not the one filed (its hash differs from the entry's)",
                ));
            }
        }
        let mut chain = Vec::with_capacity(r.approvals.len());
        for (i, a) in r.approvals.iter().enumerate() {
            let apart = format!("{part}, approval {}", i + 1);
            let approval = Approval::decode(a).map_err(|e| fail(&apart, e.to_string()))?;
            let hash = hex::encode(approval.hash());
            let recorded = ledger.entries.iter().any(|e| {
                matches!(e.kind.as_str(), "recovery-approved" | "recovery-declined")
                    && e.str("request") == Some(id.as_str())
                    && e.str("hash") == Some(hash.as_str())
                    && e.detail.get("position").and_then(Value::as_u64) == Some(i as u64 + 1)
            });
            if !recorded {
                return Err(fail(
                    apart,
                    "no recovery-approved or -declined entry records this link at this position",
                ));
            }
            chain.push(approval);
        }
        let approving =
            verify_chain(&request, &chain, keys).map_err(|e| fail(&part, e.to_string()))?;
        let completed = ledger
            .find("recovery-completed", "request", &id)
            .next()
            .is_some();
        if completed && !policy.evaluate(&approving).satisfied() {
            return Err(fail(part, "the log says it completed, but its approvals do not satisfy the escrow's policy in order"));
        }
        ledger.names.insert(format!("request:{id}"));
        ledger.names.insert(format!("token:{}", request.target));
        report.recoveries.push(RecoveryFinding {
            id,
            approved_by: approving.iter().map(ToString::to_string).collect(),
            completed,
        });
    }
    Ok(())
}

fn check_joint_chains(
    bundle: &EvidenceBundle,
    ledger: &mut Ledger,
    report: &mut EvidenceReport,
) -> Result<(), EvidenceError> {
    let mut seen = BTreeSet::new();
    for text in &bundle.joint_chains {
        let chain = ChainMessage::parse(text.as_bytes())
            .map_err(|e| fail("a joint-key chain", e.to_string()))?;
        let id = chain.id().to_string();
        let part = format!("joint-key chain {id}");
        once(&mut seen, &part, &id)?;
        let key = chain.key();
        if key.fingerprint() != bundle.key {
            return Err(fail(
                part,
                format!("it is about {}, not the key", key.fingerprint()),
            ));
        }
        let posted = ledger.one("joint-chain-posted", "id", &id, &part)?;
        // A post records the links the file came with; posts from before
        // it did leave only the later links to compare.
        let whole = posted.detail.get("signed_by").is_some();
        let state = chain.status().map_err(|e| fail(&part, e.to_string()))?;
        // The links the log recorded, in order, are the chain's.
        let mut logged: Vec<String> = Vec::new();
        for e in ledger
            .entries
            .iter()
            .filter(|e| e.kind.starts_with("joint-chain-") && e.str("id") == Some(id.as_str()))
        {
            if let Some(list) = e.detail.get("signed_by").and_then(Value::as_array) {
                logged.extend(list.iter().filter_map(Value::as_str).map(String::from));
            }
        }
        let links: Vec<&str> = chain.links().iter().map(|l| l.party.as_str()).collect();
        let logged: Vec<&str> = logged.iter().map(String::as_str).collect();
        let agrees = if whole {
            links == logged
        } else {
            links.ends_with(&logged)
        };
        if !agrees {
            return Err(fail(part, "its links are not the ones the log recorded"));
        }
        ledger.names.insert(format!("chain:{id}"));
        let purpose = serde_json::to_value(chain.purpose())
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        report.joint_chains.push((id, purpose, state.name().into()));
    }
    Ok(())
}

/// Every entry names the key or an object of its records, in a way that
/// makes it part of this key's history (`refs::admits`).
fn check_relevance(ledger: &Ledger) -> Result<(), EvidenceError> {
    for e in &ledger.entries {
        let refs = super::refs::refs(&e.kind, &e.detail);
        let about = refs
            .iter()
            .any(|r| ledger.names.contains(r) && super::refs::admits(r, &e.kind));
        if !about {
            return Err(fail(e.part(), "it is about nothing of this key's"));
        }
    }
    Ok(())
}

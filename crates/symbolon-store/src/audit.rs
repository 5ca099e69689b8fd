//! The audit log's entries and chain arithmetic.
//!
//! `hash = SHA-256(canonical("symbolon/audit-entry/v1", seq, at, kind, detail,
//! prev_hash))`, where `prev_hash` is the previous entry's hash (32 zero bytes
//! before the first). Editing an entry breaks its hash; removing or
//! reordering entries breaks a `prev_hash` or the sequence; cutting entries off
//! the end breaks the agreement with the head row.

use std::fmt;

use serde::Serialize;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A station reserved a public key.
    KeyReserved,
    /// A reservation was given up; the key can never be used.
    ReservationAbandoned,
    /// The CA issued a certificate.
    CertificateIssued,
    /// The CA refused a request.
    CertificationRefused,
    /// A token's device key was registered.
    TokenRegistered,
    /// The CA was initialised.
    CaInitialised,
    /// A certificate was written into a token by a station.
    IssuanceCompleted,
    /// A content owner's station was initialised.
    OwnerInitialised,
    /// A content owner wrote a decryption key into a user's token.
    DecryptionKeyProvisioned,
    /// A content owner accepted an order and issued a licence.
    LicenceIssued,
    /// A content owner refused an order.
    OrderRefused,
    /// An arbitrator was registered.
    ArbitratorRegistered,
    /// A key was escrowed under a policy.
    KeyEscrowed,
    /// Someone asked for a key to be recovered.
    RecoveryRequested,
    /// An arbitrator approved a recovery request.
    RecoveryApproved,
    /// An arbitrator refused a recovery request.
    RecoveryDeclined,
    /// The enclave refused to complete a recovery (with whom it blames).
    RecoveryRefused,
    /// The enclave recovered a key into a token.
    RecoveryCompleted,
    /// A joint-key chain file entered the mailbox.
    JointChainPosted,
    /// A party extended a joint-key chain file in the mailbox.
    JointChainExtended,
    /// A modulus was found to share a prime with others: the new key is
    /// refused, the others are reported (both can be factored).
    SharedPrimeFound,
    /// An admin granted a role: an enrollment code was made.
    RoleGranted,
    /// A credential was issued (enrollment, or the first admin's bootstrap).
    CredentialIssued,
    /// A credential was revoked.
    CredentialRevoked,
    /// The service refused a state-changing request (who, what, why; a
    /// bounded digest of the input, never the input).
    RequestRefused,
    /// A registration officer recorded a vetted subscriber.
    SubscriberRegistered,
    /// A registration was withdrawn.
    RegistrationWithdrawn,
    /// An admin set a station's name policy.
    NamePolicySet,
    /// An admin trusted a manufacturer root.
    ManufacturerTrusted,
    /// A recovery moved a key to a new device; the old one is replaced.
    TokenReplaced,
    /// A certificate was revoked (or a hold made final).
    CertificateRevoked,
    /// A certificate's hold was released: it is good again.
    CertificateReleased,
    /// The CA signed a CRL.
    CrlIssued,
    /// A token was reported tampered with.
    TokenTampered,
    /// The CA certified its OCSP responder's key.
    ResponderCertified,
    /// The CA certified its delegated response signer's key.
    ResponseSignerCertified,
    /// An admin registered a witness of the transparency log.
    LogWitnessAdded,
    /// An admin removed a witness of the transparency log.
    LogWitnessRemoved,
    /// An officer issued an ACME external account binding key.
    AcmeEabIssued,
    /// An ACME account was created (its binding spent).
    AcmeAccountCreated,
    /// An ACME account's contacts were changed.
    AcmeAccountUpdated,
    /// An ACME account was deactivated.
    AcmeAccountDeactivated,
    /// An ACME account's key was rolled over.
    AcmeAccountKeyChanged,
}

impl AuditKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyReserved => "key-reserved",
            Self::ReservationAbandoned => "reservation-abandoned",
            Self::CertificateIssued => "certificate-issued",
            Self::CertificationRefused => "certification-refused",
            Self::TokenRegistered => "token-registered",
            Self::CaInitialised => "ca-initialised",
            Self::IssuanceCompleted => "issuance-completed",
            Self::OwnerInitialised => "owner-initialised",
            Self::DecryptionKeyProvisioned => "decryption-key-provisioned",
            Self::LicenceIssued => "licence-issued",
            Self::OrderRefused => "order-refused",
            Self::ArbitratorRegistered => "arbitrator-registered",
            Self::KeyEscrowed => "key-escrowed",
            Self::RecoveryRequested => "recovery-requested",
            Self::RecoveryApproved => "recovery-approved",
            Self::RecoveryDeclined => "recovery-declined",
            Self::RecoveryRefused => "recovery-refused",
            Self::RecoveryCompleted => "recovery-completed",
            Self::JointChainPosted => "joint-chain-posted",
            Self::JointChainExtended => "joint-chain-extended",
            Self::SharedPrimeFound => "shared-prime-found",
            Self::RoleGranted => "role-granted",
            Self::CredentialIssued => "credential-issued",
            Self::CredentialRevoked => "credential-revoked",
            Self::RequestRefused => "request-refused",
            Self::SubscriberRegistered => "subscriber-registered",
            Self::RegistrationWithdrawn => "registration-withdrawn",
            Self::NamePolicySet => "name-policy-set",
            Self::ManufacturerTrusted => "manufacturer-trusted",
            Self::TokenReplaced => "token-replaced",
            Self::CertificateRevoked => "certificate-revoked",
            Self::CertificateReleased => "certificate-released",
            Self::CrlIssued => "crl-issued",
            Self::TokenTampered => "token-tampered",
            Self::ResponderCertified => "responder-certified",
            Self::ResponseSignerCertified => "response-signer-certified",
            Self::LogWitnessAdded => "log-witness-added",
            Self::LogWitnessRemoved => "log-witness-removed",
            Self::AcmeEabIssued => "acme-eab-issued",
            Self::AcmeAccountCreated => "acme-account-created",
            Self::AcmeAccountUpdated => "acme-account-updated",
            Self::AcmeAccountDeactivated => "acme-account-deactivated",
            Self::AcmeAccountKeyChanged => "acme-account-key-changed",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored entry: the transparency log's entry type, whose encoding is
/// both the chain hash's input and the tree's leaf.
pub use symbolon::transparency::entry::LogEntry as AuditEntry;

/// A verified chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// Entries checked.
    pub entries: i64,
    /// The head hash, hex.
    pub head: String,
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The sequence number where it breaks.
    pub seq: i64,
    /// What is wrong there.
    pub reason: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit chain broken at entry {}: {}",
            self.seq, self.reason
        )
    }
}

/// Walks the chain in order, a page at a time, and names the first broken
/// link: memory stays one page however long the log is (`audit verify` at
/// 10^6 entries reads them 10^4 at a time).
pub(crate) struct ChainWalk {
    prev: [u8; 32],
    expected_seq: i64,
}

impl ChainWalk {
    pub(crate) fn new() -> Self {
        Self {
            prev: GENESIS_HASH,
            expected_seq: 1,
        }
    }

    /// The next entries, in order.
    pub(crate) fn feed(&mut self, entries: &[AuditEntry]) -> Result<(), BrokenLink> {
        for e in entries {
            let expected_seq = self.expected_seq;
            if e.seq != expected_seq {
                return Err(BrokenLink {
                    seq: expected_seq,
                    reason: format!(
                        "entry {expected_seq} is missing (next present is {})",
                        e.seq
                    ),
                });
            }
            if e.prev_hash != self.prev {
                return Err(BrokenLink {
                    seq: e.seq,
                    reason:
                        "its link to the previous entry does not match (removed or reordered entries)"
                            .into(),
                });
            }
            // A stored hash of the wrong length cannot match either.
            let hash = <[u8; 32]>::try_from(e.hash.as_slice()).ok();
            match hash {
                Some(hash) if e.hash_matches() => self.prev = hash,
                _ => {
                    return Err(BrokenLink {
                        seq: e.seq,
                        reason: "its contents do not match its hash (the entry was edited)".into(),
                    })
                }
            }
            self.expected_seq += 1;
        }
        Ok(())
    }

    /// The end of the entries: they must end where the head row says.
    pub(crate) fn finish(
        self,
        head_seq: i64,
        head_hash: &[u8],
    ) -> Result<AuditVerification, BrokenLink> {
        let last = self.expected_seq - 1;
        if last != head_seq || self.prev.as_slice() != head_hash {
            return Err(BrokenLink {
                seq: last + 1,
                reason: format!("the log ends at entry {last} but its head says {head_seq} (entries cut from the end)"),
            });
        }
        Ok(AuditVerification {
            entries: last,
            head: hex::encode(self.prev),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use symbolon::transparency::entry::chain_hash;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_vec();
        (1..=n)
            .map(|seq| {
                let detail = format!("{{\"i\":{seq}}}");
                let hash = chain_hash(seq, 7, "key-reserved", &detail, &prev).to_vec();
                AuditEntry {
                    seq,
                    at: 7,
                    kind: "key-reserved".into(),
                    detail,
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                    openings: None,
                }
            })
            .collect()
    }

    fn walk(pages: &[&[AuditEntry]], head: &AuditEntry) -> Result<AuditVerification, BrokenLink> {
        let mut w = ChainWalk::new();
        for page in pages {
            w.feed(page)?;
        }
        w.finish(head.seq, &head.hash)
    }

    #[test]
    fn a_chain_walked_in_pages_is_checked_across_their_edges() {
        let mut entries = chain(10);
        let head = entries[9].clone();
        let v = walk(&[&entries[..4], &entries[4..], &[]], &head).unwrap();
        assert_eq!((v.entries, v.head), (10, hex::encode(&head.hash)));
        // An entry edited right at a page's edge is named.
        entries[4].detail = "{\"i\":0}".into();
        let broken = walk(&[&entries[..4], &entries[4..]], &head).unwrap_err();
        assert_eq!(broken.seq, 5);
        // A page missing between two others: the gap is named.
        let entries = chain(10);
        let broken = walk(&[&entries[..4], &entries[6..]], &head).unwrap_err();
        assert_eq!((broken.seq, broken.reason.contains("missing")), (5, true));
        // Entries cut from the end: the head disagrees.
        let broken = walk(&[&entries[..8]], &head).unwrap_err();
        assert_eq!(broken.seq, 9);
        // A stored hash of the wrong length is an edit, not a panic.
        let mut entries = chain(3);
        entries[2].hash.push(0);
        let head = entries[2].clone();
        assert_eq!(walk(&[&entries], &head).unwrap_err().seq, 3);
    }
}

//! The proof files a third person is handed and the whole offline checks
//! (docs/transparency.md §7): that an entry is in the log a checkpoint
//! signs, and that one checkpoint's log extends another's. Each check
//! names the part that failed: the checkpoint, the entry, or the proof.

use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::entry::LogEntry;
use super::merkle::{verify_consistency, verify_inclusion, Hash, ProofError};
use super::note::{NoteError, VerifierKey};

/// The format tag of an inclusion proof file.
pub const INCLUSION_FORMAT: &str = "symbolon-log-inclusion/1";
/// The format tag of a consistency proof file.
pub const CONSISTENCY_FORMAT: &str = "symbolon-log-consistency/1";
/// The most hashes a proof file may hold: 2·64, more than any tree of
/// 2^64 entries needs.
pub const MAX_PROOF_HASHES: usize = 128;

/// An inclusion proof: entry `index` (its `seq` − 1) in the tree of `size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// [`INCLUSION_FORMAT`].
    pub format: String,
    /// The leaf index.
    pub index: u64,
    /// The tree size it is proven in.
    pub size: u64,
    /// The RFC 9162 audit path, base64, leaf side first.
    #[serde(with = "b64_hashes")]
    pub hashes: Vec<Hash>,
}

/// A consistency proof between the trees of `old` and `new` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// [`CONSISTENCY_FORMAT`].
    pub format: String,
    /// The older tree's size.
    pub old: u64,
    /// The newer tree's size.
    pub new: u64,
    /// The RFC 9162 consistency proof, base64.
    #[serde(with = "b64_hashes")]
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// A proof file for `hashes`.
    pub fn new(index: u64, size: u64, hashes: Vec<Hash>) -> Self {
        Self {
            format: INCLUSION_FORMAT.into(),
            index,
            size,
            hashes,
        }
    }
}

impl ConsistencyProof {
    /// A proof file for `hashes`.
    pub fn new(old: u64, new: u64, hashes: Vec<Hash>) -> Self {
        Self {
            format: CONSISTENCY_FORMAT.into(),
            old,
            new,
            hashes,
        }
    }
}

/// Which part of an offline check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A checkpoint does not open with the log key.
    #[error("{which}checkpoint: {source}")]
    Checkpoint {
        /// Which one ("the ", "the old ", "the new ").
        which: &'static str,
        /// Why.
        source: NoteError,
    },
    /// The entry is not what its own hash says (edited).
    #[error("the entry: {0}")]
    Entry(String),
    /// The proof file does not fit the entry or checkpoints.
    #[error("the proof: {0}")]
    Proof(String),
    /// The proof does not lead from the entry, or the older checkpoint, to
    /// the checkpoint's root: the entry is not in that log, or the log was
    /// rewritten.
    #[error("the proof does not verify: {0}")]
    Verification(ProofError),
}

/// Checks offline that `entry` is in the log whose checkpoint `note` the
/// log key signed: the entry's chain hash, the proof's index and size
/// against the entry and the checkpoint, then the RFC 9162 path.
pub fn check_inclusion(
    entry: &LogEntry,
    proof: &InclusionProof,
    note: &str,
    log_key: &VerifierKey,
) -> Result<Checkpoint, CheckError> {
    let (checkpoint, _, _) =
        Checkpoint::open(note, log_key, &[]).map_err(|source| CheckError::Checkpoint {
            which: "the ",
            source,
        })?;
    if proof.format != INCLUSION_FORMAT {
        return Err(CheckError::Proof(format!(
            "format {:?} is not {INCLUSION_FORMAT}",
            proof.format
        )));
    }
    if !entry.hash_matches() {
        return Err(CheckError::Entry(format!(
            "entry {} does not match its hash (it was edited)",
            entry.seq
        )));
    }
    let Some(index) = entry.index() else {
        return Err(CheckError::Entry(format!(
            "sequence number {} is not ≥ 1",
            entry.seq
        )));
    };
    if proof.index != index {
        return Err(CheckError::Proof(format!(
            "it proves leaf {}, but entry {} is leaf {index}",
            proof.index, entry.seq
        )));
    }
    if proof.size != checkpoint.size {
        return Err(CheckError::Proof(format!(
            "it is for a tree of {} entries; the checkpoint signs {}",
            proof.size, checkpoint.size
        )));
    }
    verify_inclusion(
        index,
        checkpoint.size,
        &entry.leaf_hash(),
        &proof.hashes,
        &checkpoint.root,
    )
    .map_err(CheckError::Verification)?;
    Ok(checkpoint)
}

/// Checks offline that the log of checkpoint `new` extends that of `old`,
/// both signed by the log key.
pub fn check_consistency(
    old: &str,
    new: &str,
    proof: &ConsistencyProof,
    log_key: &VerifierKey,
) -> Result<(Checkpoint, Checkpoint), CheckError> {
    let open = |note: &str, which: &'static str| {
        Checkpoint::open(note, log_key, &[])
            .map(|(c, _, _)| c)
            .map_err(|source| CheckError::Checkpoint { which, source })
    };
    let (old, new) = (open(old, "the old ")?, open(new, "the new ")?);
    if proof.format != CONSISTENCY_FORMAT {
        return Err(CheckError::Proof(format!(
            "format {:?} is not {CONSISTENCY_FORMAT}",
            proof.format
        )));
    }
    if (proof.old, proof.new) != (old.size, new.size) {
        return Err(CheckError::Proof(format!(
            "it is between sizes {} and {}; the checkpoints sign {} and {}",
            proof.old, proof.new, old.size, new.size
        )));
    }
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof.hashes)
        .map_err(CheckError::Verification)?;
    Ok((old, new))
}

/// A proof's hashes as base64 strings (at most [`MAX_PROOF_HASHES`]); also
/// the form an evidence bundle carries them in.
pub(crate) mod b64_hashes {
    use super::{Hash, B64, MAX_PROOF_HASHES};
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(|h| B64.encode(h)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        let strings = Vec::<String>::deserialize(d)?;
        if strings.len() > MAX_PROOF_HASHES {
            return Err(serde::de::Error::custom(format!(
                "{} hashes; no proof needs more than {MAX_PROOF_HASHES}",
                strings.len()
            )));
        }
        strings
            .iter()
            .map(|s| {
                B64.decode(s)
                    .ok()
                    .and_then(|b| Hash::try_from(b).ok())
                    .ok_or_else(|| serde::de::Error::custom("a hash is not 32 bytes of base64"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{EcCurve, EcPublicKey};
    use crate::transparency::entry::chain_hash;
    use crate::transparency::merkle::{consistency_proof, inclusion_proof, root, MemoryTree};
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
    use base64::Engine as _;

    struct Log {
        pair: Ed25519KeyPair,
        key: VerifierKey,
        entries: Vec<LogEntry>,
        tree: MemoryTree,
    }

    impl Log {
        fn new(n: i64) -> Self {
            let pair = Ed25519KeyPair::from_seed_unchecked(&[3u8; 32]).unwrap();
            let public =
                EcPublicKey::from_point(EcCurve::Ed25519, pair.public_key().as_ref()).unwrap();
            let key = VerifierKey::ed25519("ca.example/log", public).unwrap();
            let mut log = Self {
                pair,
                key,
                entries: Vec::new(),
                tree: MemoryTree::new(),
            };
            for _ in 0..n {
                log.append();
            }
            log
        }

        fn append(&mut self) {
            let seq = self.entries.len() as i64 + 1;
            let prev = self.entries.last().map_or(vec![0; 32], |e| e.hash.clone());
            let detail = format!("{{\"n\":{seq}}}");
            let hash = chain_hash(
                seq,
                1_700_000_000 + seq,
                "certificate-issued",
                &detail,
                &prev,
            );
            let e = LogEntry {
                seq,
                at: 1_700_000_000 + seq,
                kind: "certificate-issued".into(),
                detail,
                prev_hash: prev,
                hash: hash.to_vec(),
                openings: None,
            };
            self.tree.push(e.leaf_hash()).unwrap();
            self.entries.push(e);
        }

        fn checkpoint(&self, size: u64) -> String {
            let c = Checkpoint {
                origin: self.key.name().into(),
                size,
                root: root(&self.tree, size).unwrap(),
            };
            let body = c.body();
            format!(
                "{body}\n{}",
                self.key
                    .signature_line(self.pair.sign(body.as_bytes()).as_ref())
            )
        }
    }

    #[test]
    fn an_entry_checks_against_a_checkpoint_and_each_tampering_is_named() {
        let log = Log::new(11);
        let note = log.checkpoint(11);
        let e = log.entries[6].clone();
        let proof = InclusionProof::new(6, 11, inclusion_proof(&log.tree, 6, 11).unwrap());
        let json = serde_json::to_string(&proof).unwrap();
        let proof: InclusionProof = serde_json::from_str(&json).unwrap();
        check_inclusion(&e, &proof, &note, &log.key).unwrap();

        let mut edited = e.clone();
        edited.detail = "{\"n\":70}".into();
        assert!(matches!(
            check_inclusion(&edited, &proof, &note, &log.key),
            Err(CheckError::Entry(_))
        ));
        // Edited and re-hashed: the chain hash matches, the tree does not.
        edited.hash = chain_hash(
            7,
            edited.at,
            &edited.kind,
            &edited.detail,
            &edited.prev_hash,
        )
        .to_vec();
        assert!(matches!(
            check_inclusion(&edited, &proof, &note, &log.key),
            Err(CheckError::Verification(_))
        ));
        let other = log.entries[5].clone();
        assert!(matches!(
            check_inclusion(&other, &proof, &note, &log.key),
            Err(CheckError::Proof(_))
        ));
        let older = log.checkpoint(10);
        assert!(matches!(
            check_inclusion(&e, &proof, &older, &log.key),
            Err(CheckError::Proof(_))
        ));
        let forged = note.replacen("\n11\n", "\n12\n", 1);
        assert!(matches!(
            check_inclusion(&e, &proof, &forged, &log.key),
            Err(CheckError::Checkpoint { .. })
        ));
        let mut bent = proof.clone();
        bent.hashes[1][0] ^= 1;
        assert!(matches!(
            check_inclusion(&e, &bent, &note, &log.key),
            Err(CheckError::Verification(_))
        ));
    }

    #[test]
    fn two_checkpoints_check_and_a_rewritten_log_is_caught() {
        let log = Log::new(20);
        let (old, new) = (log.checkpoint(7), log.checkpoint(20));
        let proof = ConsistencyProof::new(7, 20, consistency_proof(&log.tree, 7, 20).unwrap());
        check_consistency(&old, &new, &proof, &log.key).unwrap();
        // Swapped, or sizes that do not match the proof.
        assert!(check_consistency(&new, &old, &proof, &log.key).is_err());
        // A log that cut its tail at 5 and grew again with other entries:
        // the heads it signed cannot be linked.
        let mut forked = Log::new(5);
        for i in 0..15 {
            forked.append();
            let last = forked.entries.last_mut().unwrap();
            last.detail = format!("{{\"forked\":{i}}}");
        }
        // Rebuild the fork's tree from its edited entries.
        forked.tree = MemoryTree::new();
        for e in &forked.entries {
            forked.tree.push(e.leaf_hash()).unwrap();
        }
        let fork_new = forked.checkpoint(20);
        let fork_proof =
            ConsistencyProof::new(7, 20, consistency_proof(&forked.tree, 7, 20).unwrap());
        assert!(matches!(
            check_consistency(&old, &fork_new, &fork_proof, &log.key),
            Err(CheckError::Verification(_))
        ));
    }

    #[test]
    fn proof_files_refuse_unknown_fields_and_oversized_lists() {
        let ok = r#"{"format":"symbolon-log-inclusion/1","index":0,"size":1,"hashes":[]}"#;
        serde_json::from_str::<InclusionProof>(ok).unwrap();
        let extra = r#"{"format":"symbolon-log-inclusion/1","index":0,"size":1,"hashes":[],"x":1}"#;
        assert!(serde_json::from_str::<InclusionProof>(extra).is_err());
        let short = r#"{"format":"symbolon-log-inclusion/1","index":0,"size":1,"hashes":["AAAA"]}"#;
        assert!(serde_json::from_str::<InclusionProof>(short).is_err());
        let h = format!("\"{}\"", B64.encode([0u8; 32]));
        let many = format!(
            r#"{{"format":"symbolon-log-consistency/1","old":1,"new":2,"hashes":[{}]}}"#,
            vec![h; MAX_PROOF_HASHES + 1].join(",")
        );
        assert!(serde_json::from_str::<ConsistencyProof>(&many).is_err());
    }
}

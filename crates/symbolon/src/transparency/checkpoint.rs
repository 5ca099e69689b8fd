//! Checkpoints (C2SP `tlog-checkpoint`, docs/transparency.md §6): the
//! signed tree head, a note whose text is the log's origin, the tree size
//! in decimal and the root hash in base64, one per line.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::merkle::Hash;
use super::note::{Note, NoteError, VerifierKey};

/// The tree head a checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity: its key's name.
    pub origin: String,
    /// How many entries the tree holds.
    pub size: u64,
    /// The tree head of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, size, base64 root, each ending in a newline
    /// (no extension lines).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint's note text strictly: a non-empty origin, a
    /// size in decimal without leading zeros, a 32-byte root in base64;
    /// extension lines, which the specification allows, are refused, as
    /// this log writes none and a verifier could not audit them.
    pub fn parse_body(text: &str) -> Result<Self, NoteError> {
        let bad = |m: String| NoteError::Malformed(format!("not a checkpoint: {m}"));
        let Some(body) = text.strip_suffix('\n') else {
            return Err(bad("the text does not end in a newline".into()));
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root] = lines[..] else {
            return Err(bad(format!(
                "{} lines; a checkpoint here has three (origin, size, root)",
                lines.len()
            )));
        };
        if origin.is_empty() {
            return Err(bad("the origin is empty".into()));
        }
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        let size_value = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical && size.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(format!("the size {size:?} is not a decimal count")))?;
        let root_bytes = B64
            .decode(root)
            .map_err(|_| bad("the root hash is not base64".into()))?;
        let root_hash: Hash = root_bytes
            .try_into()
            .map_err(|_| bad("the root hash is not 32 bytes".into()))?;
        if B64.encode(root_hash) != root {
            return Err(bad("the root hash is not in canonical base64".into()));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size: size_value,
            root: root_hash,
        })
    }

    /// Opens a signed checkpoint: the note must carry a valid signature by
    /// `log_key`, whose name must be the origin (so one log's checkpoint is
    /// never taken for another's); the witnesses in `witnesses` that
    /// cosigned it are returned.
    pub fn open<'k>(
        note: &str,
        log_key: &VerifierKey,
        witnesses: &'k [VerifierKey],
    ) -> Result<(Self, Note, Vec<&'k VerifierKey>), NoteError> {
        let parsed = Note::parse(note)?;
        let (text, signers) = parsed.open(log_key, witnesses)?;
        let checkpoint = Self::parse_body(text)?;
        if checkpoint.origin != log_key.name() {
            return Err(NoteError::Malformed(format!(
                "the checkpoint is of log {:?}, not of {:?}",
                checkpoint.origin,
                log_key.name()
            )));
        }
        Ok((checkpoint, parsed, signers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{EcCurve, EcPublicKey};
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};

    fn log() -> (Ed25519KeyPair, VerifierKey) {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        let public = EcPublicKey::from_point(EcCurve::Ed25519, pair.public_key().as_ref()).unwrap();
        let key = VerifierKey::ed25519("ca.example/log", public).unwrap();
        (pair, key)
    }

    fn sign(pair: &Ed25519KeyPair, key: &VerifierKey, c: &Checkpoint) -> String {
        let body = c.body();
        format!(
            "{body}\n{}",
            key.signature_line(pair.sign(body.as_bytes()).as_ref())
        )
    }

    #[test]
    fn a_signed_checkpoint_opens_and_round_trips() {
        let (pair, key) = log();
        let c = Checkpoint {
            origin: "ca.example/log".into(),
            size: 20852163,
            root: [9; 32],
        };
        let note = sign(&pair, &key, &c);
        let (opened, parsed, witnesses) = Checkpoint::open(&note, &key, &[]).unwrap();
        assert_eq!(opened, c);
        assert_eq!(parsed.to_string(), note);
        assert!(witnesses.is_empty());
    }

    #[test]
    fn bodies_that_are_not_canonical_are_refused() {
        let root = B64.encode([1u8; 32]);
        for bad in [
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n\n{root}\n"),
            format!("\n1\n{root}\n"),
            format!("o\n1\n{root}"),
            format!("o\n1\n{root}\next\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            "o\n1\nAAAA\n".into(),
            format!("o\n1\n{}\n", &root[..root.len() - 1]),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n0\n{root}\n"))
                .unwrap()
                .size,
            0
        );
    }

    #[test]
    fn another_logs_checkpoint_or_an_altered_one_is_refused() {
        let (pair, key) = log();
        let other = Checkpoint {
            origin: "other.example/log".into(),
            size: 1,
            root: [0; 32],
        };
        // Signed by this log's key, but naming another log.
        assert!(Checkpoint::open(&sign(&pair, &key, &other), &key, &[]).is_err());
        let c = Checkpoint {
            origin: "ca.example/log".into(),
            size: 5,
            root: [3; 32],
        };
        let note = sign(&pair, &key, &c).replacen("\n5\n", "\n6\n", 1);
        assert!(matches!(
            Checkpoint::open(&note, &key, &[]),
            Err(NoteError::BadSignature(_))
        ));
    }
}

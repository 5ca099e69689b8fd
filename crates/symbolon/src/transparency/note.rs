//! Signed notes (C2SP `signed-note`, docs/transparency.md §6): a UTF-8
//! text ending in a newline, a blank line, then one line per signature,
//! `— <key name> base64(key ID ‖ signature)`. The log's checkpoints are
//! signed notes; witnesses add their lines to the same note.
//!
//! Only Ed25519 keys (signature type 0x01) are verified here: the log key
//! is Ed25519, and the specification asks verifiers to support only the
//! types their design needs. Lines from keys the verifier does not know
//! are ignored, as the specification requires, so a checkpoint carrying
//! other parties' cosignatures still opens.

use std::fmt;

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::keys::{EcCurve, EcPublicKey};

/// The signature type byte of Ed25519 signed-note keys.
pub const ED25519_TYPE: u8 = 0x01;
/// The longest note accepted: the specification asks for a bound and at
/// least 16 signatures; 64 KiB holds hundreds of Ed25519 lines.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// The most signature lines accepted.
pub const MAX_SIGNATURES: usize = 100;
/// What starts every signature line: em dash, space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not in the signed-note format.
    #[error("not a signed note: {0}")]
    Malformed(String),
    /// A verifier key string is not `name+keyid+base64(type ‖ key)`.
    #[error("not a signed-note verifier key: {0}")]
    BadKey(String),
    /// A line from a known key does not verify: the note was altered or
    /// the signature forged.
    #[error(
        "the signature of {0} does not verify: the note was altered or not signed by that key"
    )]
    BadSignature(String),
    /// No line comes from a key the verifier trusts.
    #[error("the note carries no signature of {0}")]
    Unsigned(String),
}

fn malformed(m: impl Into<String>) -> NoteError {
    NoteError::Malformed(m.into())
}

/// `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`, big-endian: the key ID
/// the specification recommends.
pub fn key_id(name: &str, kind: u8, public: &[u8]) -> u32 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[kind]);
    ctx.update(public);
    let d = ctx.finish();
    let b = d.as_ref();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Refuses a key name the format cannot carry: empty, or holding a space
/// or '+' (the key string's separator).
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() {
        return Err(NoteError::BadKey("the key name is empty".into()));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(NoteError::BadKey(format!(
            "the key name {name:?} holds a space, a control character or '+'"
        )));
    }
    Ok(())
}

/// A signed-note verifier key: a name and an Ed25519 public key, written
/// `name+<8 hex digits of the key ID>+base64(0x01 ‖ key)` (the form the Go
/// `sumdb/note` package and the C2SP tools read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    public: EcPublicKey,
}

impl VerifierKey {
    /// The key of `name` for an Ed25519 public key.
    pub fn ed25519(name: &str, public: EcPublicKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if public.curve() != EcCurve::Ed25519 {
            return Err(NoteError::BadKey(format!(
                "a {} key cannot sign notes here; the log key is Ed25519",
                public.curve()
            )));
        }
        let id = key_id(name, ED25519_TYPE, public.point());
        Ok(Self {
            name: name.to_owned(),
            id,
            public,
        })
    }

    /// Parses `name+keyid+base64(type ‖ key)`, checking that the ID is the
    /// one the name and key give.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let s = s.trim();
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey(
                "expected name+keyid+key (three parts separated by '+')".into(),
            ));
        };
        check_key_name(name)?;
        if id.len() != 8
            || !id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(NoteError::BadKey(format!(
                "the key ID {id:?} is not 8 lower-case hexadecimal digits"
            )));
        }
        let id = u32::from_str_radix(id, 16)
            .map_err(|_| NoteError::BadKey(format!("the key ID {id:?} is not hexadecimal")))?;
        let raw = B64
            .decode(key)
            .map_err(|_| NoteError::BadKey("the key is not base64".into()))?;
        let Some((&kind, point)) = raw.split_first() else {
            return Err(NoteError::BadKey("the key is empty".into()));
        };
        if kind != ED25519_TYPE {
            return Err(NoteError::BadKey(format!(
                "signature type 0x{kind:02x} is not supported (only Ed25519, 0x01)"
            )));
        }
        let public = EcPublicKey::from_point(EcCurve::Ed25519, point)
            .map_err(|e| NoteError::BadKey(format!("the Ed25519 key: {e}")))?;
        let key = Self::ed25519(name, public)?;
        if key.id != id {
            return Err(NoteError::BadKey(format!(
                "the key ID {id:08x} is not the one name and key give ({:08x})",
                key.id
            )));
        }
        Ok(key)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &EcPublicKey {
        &self.public
    }

    /// The signature line for `signature` (64 bytes of Ed25519 over the
    /// note text) by this key.
    pub fn signature_line(&self, signature: &[u8]) -> String {
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }

    fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        self.public.verify(None, text.as_bytes(), signature).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(self.public.point());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub name: String,
    /// The signer's key ID.
    pub id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A parsed, not yet verified, signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note strictly: UTF-8 without control characters
    /// other than newline, a text ending in a newline, one blank line, at
    /// least one and at most [`MAX_SIGNATURES`] well-formed signature lines,
    /// and nothing after the last.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(malformed(format!(
                "{} bytes is longer than the {MAX_NOTE_LEN}-byte limit",
                note.len()
            )));
        }
        if note.chars().any(|c| c != '\n' && c.is_control()) {
            return Err(malformed("it holds a control character other than newline"));
        }
        // The signatures follow the last blank line.
        let Some(split) = note.rfind("\n\n") else {
            return Err(malformed(
                "no blank line separates the text from the signatures",
            ));
        };
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if !sigs.ends_with('\n') {
            return Err(malformed(
                "the last signature line does not end in a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(malformed(format!("more than {MAX_SIGNATURES} signatures")));
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text (with its final newline): trust it only after
    /// [`Note::open`].
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies the lines of the keys in `trusted` (matched by name and
    /// ID; lines of unknown keys are ignored). Refuses the note when a
    /// trusted key's line fails, or when `required` has no line that
    /// verifies. Returns the text and the trusted keys that signed it.
    pub fn open<'k>(
        &self,
        required: &VerifierKey,
        trusted: &'k [VerifierKey],
    ) -> Result<(&str, Vec<&'k VerifierKey>), NoteError> {
        let mut signed_by_required = false;
        let mut signers: Vec<&VerifierKey> = Vec::new();
        for sig in &self.signatures {
            let known = std::iter::once(required)
                .chain(trusted.iter())
                .find(|k| k.name == sig.name && k.id == sig.id);
            let Some(key) = known else { continue };
            if !key.verifies(&self.text, &sig.signature) {
                return Err(NoteError::BadSignature(key.name.clone()));
            }
            if key == required {
                signed_by_required = true;
            }
            if let Some(t) = trusted.iter().find(|t| *t == key) {
                if !signers.contains(&t) {
                    signers.push(t);
                }
            }
        }
        if !signed_by_required {
            return Err(NoteError::Unsigned(format!(
                "{} (key ID {:08x})",
                required.name, required.id
            )));
        }
        Ok((&self.text, signers))
    }

    /// The note with another signature line appended (a witness's
    /// cosignature), unless the same key already signed.
    pub fn with_signature(mut self, sig: NoteSignature) -> Self {
        if !self
            .signatures
            .iter()
            .any(|s| s.name == sig.name && s.id == sig.id)
        {
            self.signatures.push(sig);
        }
        self
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            let mut blob = s.id.to_be_bytes().to_vec();
            blob.extend_from_slice(&s.signature);
            writeln!(f, "{SIG_PREFIX}{} {}", s.name, B64.encode(blob))?;
        }
        Ok(())
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
        return Err(malformed(format!(
            "the line {:?} after the blank line is not a signature (\"\u{2014} name signature\")",
            line.chars().take(60).collect::<String>()
        )));
    };
    let Some((name, blob)) = rest.split_once(' ') else {
        return Err(malformed(
            "a signature line has no space between name and signature",
        ));
    };
    check_key_name(name).map_err(|e| malformed(e.to_string()))?;
    let raw = B64
        .decode(blob)
        .map_err(|_| malformed(format!("the signature of {name} is not base64")))?;
    if raw.len() < 5 {
        return Err(malformed(format!(
            "the signature of {name} is shorter than a key ID and one byte"
        )));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // golang.org/x/mod/sumdb/note's example key and note (note_test.go and
    // example_test.go; BSD-3-Clause): an implementation no one here wrote.
    const PETER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

    fn peter_note() -> String {
        format!("{PETER_TEXT}\n\u{2014} PeterNeumann {PETER_SIG}\n")
    }

    #[test]
    fn the_go_reference_note_opens_and_our_signing_reproduces_it() {
        let key = VerifierKey::parse(PETER_KEY).unwrap();
        assert_eq!(key.to_string(), PETER_KEY);
        assert_eq!(key.id(), 0xc74f20a3);
        let note = Note::parse(&peter_note()).unwrap();
        let (text, _) = note.open(&key, &[]).unwrap();
        assert_eq!(text, PETER_TEXT);
        assert_eq!(note.to_string(), peter_note());
        // Ed25519 is deterministic: the Go signer's seed signs the same line.
        let seed = B64.decode(PETER_SEED).unwrap();
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed[1..]).unwrap();
        let sig = pair.sign(PETER_TEXT.as_bytes());
        assert_eq!(
            format!("{PETER_TEXT}\n{}", key.signature_line(sig.as_ref())),
            peter_note()
        );
    }

    #[test]
    fn altered_notes_and_keys_are_refused() {
        let key = VerifierKey::parse(PETER_KEY).unwrap();
        let altered = peter_note().replace("cryptography", "cryptographY");
        assert!(matches!(
            Note::parse(&altered).unwrap().open(&key, &[]),
            Err(NoteError::BadSignature(_))
        ));
        // A line by an unknown key is ignored; then nothing verifies.
        let other = peter_note().replace("PeterNeumann", "PaulNeumann");
        assert!(matches!(
            Note::parse(&other).unwrap().open(&key, &[]),
            Err(NoteError::Unsigned(_))
        ));
        for bad in [
            PETER_TEXT.to_string(),
            format!("{PETER_TEXT}\n"),
            format!("{PETER_TEXT}\n\u{2014} PeterNeumann {PETER_SIG}"),
            format!("{PETER_TEXT}\n- PeterNeumann {PETER_SIG}\n"),
            format!("{PETER_TEXT}\n\u{2014} PeterNeumann {PETER_SIG}\n\n"),
            format!("{PETER_TEXT}\n\u{2014} PeterNeumann AAAA\n"),
            format!("{PETER_TEXT}\n\u{2014} Peter+Neumann {PETER_SIG}\n"),
            format!("a\tb\n{PETER_TEXT}\n\u{2014} PeterNeumann {PETER_SIG}\n"),
            "x".repeat(MAX_NOTE_LEN + 1),
        ] {
            assert!(Note::parse(&bad).is_err(), "{bad:?}");
        }
        // Every single-character change of the key string is refused or
        // names another key.
        for i in 0..PETER_KEY.len() {
            let mut b = PETER_KEY.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            if let Ok(k) = VerifierKey::parse(std::str::from_utf8(&b).unwrap()) {
                assert_ne!(k, key);
            }
        }
        assert!(VerifierKey::parse(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
        assert!(VerifierKey::parse(
            "PeterNeumann+c74f20a3+AhpjZ2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
        assert!(VerifierKey::parse("PeterNeumann").is_err());
    }

    #[test]
    fn extra_lines_of_unknown_keys_are_ignored_and_kept() {
        let key = VerifierKey::parse(PETER_KEY).unwrap();
        let note = Note::parse(&peter_note())
            .unwrap()
            .with_signature(NoteSignature {
                name: "witness.example/w1".into(),
                id: 7,
                signature: vec![1; 72],
            });
        let again = Note::parse(&note.to_string()).unwrap();
        assert_eq!(again, note);
        assert_eq!(again.signatures().len(), 2);
        again.open(&key, &[]).unwrap();
    }
}

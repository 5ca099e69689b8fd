//! Signed notes (C2SP `signed-note`, docs/transparency.md §6): a UTF-8
//! text ending in a newline, a blank line, then one line per signature,
//! `— <key name> base64(key ID ‖ signature)`. The log's checkpoints are
//! signed notes; witnesses add their lines to the same note.
//!
//! Two key types are verified here, the ones this design needs: Ed25519
//! (signature type 0x01), the log's, and timestamped Ed25519 witness
//! cosignatures (0x04, C2SP `tlog-cosignature` v1), the witnesses'. Lines
//! from keys the verifier does not know are ignored, as the specification
//! requires, so a checkpoint carrying other parties' lines still opens.

use std::fmt;

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::keys::{EcCurve, EcPublicKey};

/// The signature type byte of Ed25519 signed-note keys.
pub const ED25519_TYPE: u8 = 0x01;
/// The signature type byte of timestamped Ed25519 witness cosignatures
/// (C2SP `tlog-cosignature`, v1).
pub const COSIGNATURE_TYPE: u8 = 0x04;
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

/// What a verifier key signs: the note text, or a timestamped
/// cosignature over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519 over the note text (type 0x01): the log's key.
    Ed25519,
    /// Ed25519 over `cosignature/v1`, the time and the note text, the
    /// signature preceded by the time (type 0x04): a witness's key.
    Cosignature,
}

impl KeyKind {
    /// Its signature type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            Self::Ed25519 => ED25519_TYPE,
            Self::Cosignature => COSIGNATURE_TYPE,
        }
    }
}

/// The message a witness signs for a checkpoint text at `time` (Unix
/// seconds): `cosignature/v1`, `time <t>`, then the text.
pub fn cosignature_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// A signed-note verifier key: a name, a type and an Ed25519 public key,
/// written `name+<8 hex digits of the key ID>+base64(type ‖ key)` (the
/// form the Go `sumdb/note` package and the C2SP tools read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    kind: KeyKind,
    public: EcPublicKey,
}

impl VerifierKey {
    /// The key of `name` for an Ed25519 public key signing notes (0x01).
    pub fn ed25519(name: &str, public: EcPublicKey) -> Result<Self, NoteError> {
        Self::new(name, KeyKind::Ed25519, public)
    }

    /// The key of witness `name` for an Ed25519 public key cosigning
    /// checkpoints (0x04).
    pub fn cosigner(name: &str, public: EcPublicKey) -> Result<Self, NoteError> {
        Self::new(name, KeyKind::Cosignature, public)
    }

    fn new(name: &str, kind: KeyKind, public: EcPublicKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if public.curve() != EcCurve::Ed25519 {
            return Err(NoteError::BadKey(format!(
                "a {} key cannot sign notes here; log and witness keys are Ed25519",
                public.curve()
            )));
        }
        let id = key_id(name, kind.type_byte(), public.point());
        Ok(Self {
            name: name.to_owned(),
            id,
            kind,
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
        let kind = match kind {
            ED25519_TYPE => KeyKind::Ed25519,
            COSIGNATURE_TYPE => KeyKind::Cosignature,
            other => {
                return Err(NoteError::BadKey(format!(
                    "signature type 0x{other:02x} is not supported (Ed25519 0x01, cosignature 0x04)"
                )))
            }
        };
        let public = EcPublicKey::from_point(EcCurve::Ed25519, point)
            .map_err(|e| NoteError::BadKey(format!("the Ed25519 key: {e}")))?;
        let key = Self::new(name, kind, public)?;
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

    /// What it signs.
    pub fn kind(&self) -> KeyKind {
        self.kind
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

    /// The cosignature line for `signature` (64 bytes of Ed25519 over
    /// [`cosignature_message`] at `time`) by this witness key.
    pub fn cosignature_line(&self, time: u64, signature: &[u8]) -> String {
        let mut stamped = time.to_be_bytes().to_vec();
        stamped.extend_from_slice(signature);
        self.signature_line(&stamped)
    }

    fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        match self.kind {
            KeyKind::Ed25519 => self.public.verify(None, text.as_bytes(), signature).is_ok(),
            KeyKind::Cosignature => {
                let Some(time) = cosignature_time(signature) else {
                    return false;
                };
                let message = cosignature_message(text, time);
                self.public
                    .verify(None, message.as_bytes(), &signature[8..])
                    .is_ok()
            }
        }
    }
}

/// The time a cosignature's bytes (after the key ID) carry: 8 bytes,
/// big-endian, at most 2^63 − 1, before a 64-byte signature.
pub fn cosignature_time(signature: &[u8]) -> Option<u64> {
    if signature.len() != 72 {
        return None;
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&signature[..8]);
    Some(u64::from_be_bytes(t)).filter(|t| *t <= i64::MAX as u64)
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![self.kind.type_byte()];
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

impl NoteSignature {
    /// Parses one signature line (`— name base64`, with or without its
    /// final newline).
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.contains('\n') || line.chars().any(char::is_control) {
            return Err(malformed(
                "a signature line is one line without control characters",
            ));
        }
        parse_signature_line(line)
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

    // A checkpoint of the transparency.dev staging CT log arche2025h1 as
    // the log published it, with its public witnesses' cosignatures; the
    // log's Ed25519 key and the remora.n621.de witness's cosignature key
    // are their published verifier keys. Lines of the other types (0x05,
    // the other witnesses) are ignored.
    const ARCHE_NOTE: &str = "arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

\u{2014} arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
\u{2014} arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
\u{2014} transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
\u{2014} witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
\u{2014} remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
\u{2014} witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
";
    const ARCHE_KEY: &str =
        "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
    const REMORA_KEY: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

    #[test]
    fn a_published_checkpoint_and_a_witness_cosignature_verify() {
        let log = VerifierKey::parse(ARCHE_KEY).unwrap();
        let remora = VerifierKey::parse(REMORA_KEY).unwrap();
        assert_eq!(
            (log.kind(), remora.kind()),
            (KeyKind::Ed25519, KeyKind::Cosignature)
        );
        assert_eq!(remora.to_string(), REMORA_KEY);
        let note = Note::parse(ARCHE_NOTE).unwrap();
        let witnesses = [remora.clone()];
        let (_, signers) = note.open(&log, &witnesses).unwrap();
        assert_eq!(signers, vec![&remora]);
        let line = note
            .signatures()
            .iter()
            .find(|s| s.id == remora.id())
            .unwrap();
        assert!(cosignature_time(&line.signature).is_some());
        // The size changed: the log's line and the witness's both fail.
        let clobbered = ARCHE_NOTE.replacen("1432088532", "42", 1);
        assert!(Note::parse(&clobbered).unwrap().open(&log, &[]).is_err());
        let only_witness = Note::parse(&clobbered).unwrap();
        assert!(matches!(
            only_witness.open(&log, &witnesses),
            Err(NoteError::BadSignature(_))
        ));
        // A cosignature key is not the log's: the same bytes under type
        // 0x01 have another ID, and the line is not theirs.
        let as_log = VerifierKey::ed25519("remora.n621.de", remora.public_key().clone()).unwrap();
        assert_ne!(as_log.id(), remora.id());
    }

    #[test]
    fn our_cosignatures_verify_and_a_changed_time_does_not() {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
        let public = EcPublicKey::from_point(
            EcCurve::Ed25519,
            aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref(),
        )
        .unwrap();
        let witness = VerifierKey::cosigner("w.example/1", public).unwrap();
        let log = VerifierKey::parse(PETER_KEY).unwrap();
        let time = 1_700_000_000u64;
        let sig = pair.sign(cosignature_message(PETER_TEXT, time).as_bytes());
        let note = format!(
            "{}{}",
            peter_note(),
            witness.cosignature_line(time, sig.as_ref())
        );
        let witnesses = [witness.clone()];
        let (_, signers) = Note::parse(&note).unwrap().open(&log, &witnesses).unwrap();
        assert_eq!(signers.len(), 1);
        let mut parsed = Note::parse(&note).unwrap();
        let mut line = parsed.signatures()[1].clone();
        line.signature[7] ^= 1;
        parsed = Note::parse(&peter_note()).unwrap().with_signature(line);
        assert!(parsed.open(&log, &witnesses).is_err());
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

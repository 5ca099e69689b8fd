//! The agent's wire messages (docs/agent-protocol.md): typed requests that
//! mirror the `Token` and `JointToken` traits one to one, and typed replies.
//! Binary fields are base64, secrets travel in zeroising [`WireSecret`]s, the
//! issuer command, attestation and joint chain files in their JSON file
//! forms. A frame may carry one raw attachment after its
//! JSON, separated by a NUL byte (which JSON text never contains): content
//! chunks travel that way, without base64.

use std::io::{IoSlice, Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use symbolon::joint::RotateStep;
use symbolon::keys::{HashAlgorithm, KeyAlgorithm, RsaAlgorithm, SignatureScheme};
use symbolon::token::{SlotName, TokenInfo};
use symbolon::Code;
use zeroize::Zeroizing;

/// Largest frame either side accepts: a 16 MiB content chunk in base64
/// with room to spare.
pub const MAX_FRAME: usize = 24 * 1024 * 1024;

/// A request. Each variant is one `Token` or `JointToken` operation, its
/// arguments typed: a malformed slot name, algorithm or base64 field is
/// refused when the frame is decoded, before the token sees it. Variants
/// without arguments are empty structs, so an unknown field is refused on
/// them too (serde checks fields of struct variants only).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// `Token::info`.
    Info {},
    /// `Token::device_key`.
    DeviceKey {},
    /// `Token::transport_key`.
    TransportKey {},
    /// `Token::trust_issuer`.
    TrustIssuer {
        /// The issuer's SubjectPublicKeyInfo.
        issuer: Bytes,
    },
    /// `Token::generate`.
    Generate {
        /// Slot.
        slot: SlotName,
        /// Key size.
        algorithm: RsaAlgorithm,
    },
    /// `Token::generate_key`: any algorithm (`rsa-*`, `p256`, `p384`,
    /// `ed25519`).
    GenerateKey {
        /// Slot.
        slot: SlotName,
        /// Algorithm.
        algorithm: KeyAlgorithm,
    },
    /// `Token::slot_public_key`: RSA or EC.
    SlotPublicKey {
        /// Slot.
        slot: SlotName,
    },
    /// `Token::sign_ec`: a digest (ECDSA; `hash` names its algorithm) or
    /// the message itself (Ed25519; no `hash`).
    SignEc {
        /// Slot.
        slot: SlotName,
        /// The digest's hash, or none for a message.
        #[serde(default)]
        hash: Option<HashAlgorithm>,
        /// Digest or message.
        data: Bytes,
    },
    /// `Token::public_key`.
    PublicKey {
        /// Slot.
        slot: SlotName,
    },
    /// `Token::sign`.
    Sign {
        /// Slot.
        slot: SlotName,
        /// Padding and hash.
        scheme: SignatureScheme,
        /// The digest.
        digest: Bytes,
    },
    /// `Token::decrypt`.
    Decrypt {
        /// Slot.
        slot: SlotName,
        /// The RSA-OAEP ciphertext.
        ciphertext: Bytes,
    },
    /// `Token::open_hpke`.
    OpenHpke {
        /// Slot.
        slot: SlotName,
        /// The HPKE `info`.
        info: Bytes,
        /// `enc ‖ ct`.
        sealed: Bytes,
    },
    /// `Token::certificate`.
    Certificate {
        /// Slot.
        slot: SlotName,
    },
    /// `Token::write_certificate`.
    WriteCertificate {
        /// The signed command in its file form (JSON text).
        command: String,
    },
    /// `Token::accept_key`.
    AcceptKey {
        /// The signed command in its file form (JSON text).
        command: String,
    },
    /// `Token::attest`.
    Attest {
        /// Slot.
        slot: SlotName,
        /// The verifier's nonce.
        nonce: Bytes,
    },
    /// `Token::tamper`.
    Tamper {},
    /// `JointToken::joint_init`.
    JointInit {
        /// Slot.
        slot: SlotName,
        /// Key size.
        algorithm: RsaAlgorithm,
        /// e's starting value.
        e: u64,
        /// The issuer's partial.
        partial: WireSecret,
    },
    /// `JointToken::joint_contribute`.
    JointContribute {
        /// Slot.
        slot: SlotName,
        /// The partial.
        partial: WireSecret,
    },
    /// `JointToken::joint_finish`.
    JointFinish {
        /// Slot.
        slot: SlotName,
    },
    /// `JointToken::joint_reissue_begin`.
    JointReissueBegin {
        /// Slot.
        slot: SlotName,
        /// The signed request form (the joint chain file's text).
        permission: String,
    },
    /// `JointToken::joint_check`.
    JointCheck {
        /// Slot.
        slot: SlotName,
        /// The new check (the joint chain file's text).
        message: String,
    },
    /// `JointToken::joint_rotate`.
    JointRotate {
        /// Slot.
        slot: SlotName,
        /// The step.
        step: WireRotateStep,
    },
    /// `JointToken::joint_rewrap`.
    JointRewrap {
        /// Slot.
        slot: SlotName,
        /// The sealed content's header.
        header: Bytes,
    },
    /// `JointToken::joint_reissue_enter`.
    JointReissueEnter {
        /// Slot.
        slot: SlotName,
        /// The partial.
        partial: WireSecret,
    },
    /// `JointToken::joint_reissue_finish`.
    JointReissueFinish {
        /// Slot.
        slot: SlotName,
    },
    /// `JointToken::joint_output_d0`.
    JointOutputD0 {
        /// Slot.
        slot: SlotName,
        /// The age recipient.
        recipient: String,
    },
    /// `Token::put_object`.
    PutObject {
        /// Name.
        name: SlotName,
        /// Data.
        data: Bytes,
    },
    /// `Token::object`.
    Object {
        /// Name.
        name: SlotName,
    },
    /// `Token::objects`.
    Objects {},
    /// `Token::open_content`: starts a content session on this connection.
    OpenContent {
        /// Slot.
        slot: SlotName,
        /// The sealed content header.
        header: Bytes,
        /// The wrapped content key (from the header or a licence).
        wrapped_key: Bytes,
    },
    /// `ChunkOpener::open_chunk` in a session. Without `chunk`, the chunk
    /// is the frame's attachment, and so is the plaintext in the answer.
    OpenChunk {
        /// The session `open-content` answered.
        session: u64,
        /// Whether this is the final chunk.
        last: bool,
        /// Ciphertext and tag.
        #[serde(default)]
        chunk: Option<Bytes>,
    },
    /// Ends a content session.
    CloseContent {
        /// The session.
        session: u64,
    },
    /// Unseals a whole file in the agent: the frame carries two file
    /// descriptors (SCM_RIGHTS), the sealed input positioned just after its
    /// header and the output. The agent reads, opens and writes itself, so
    /// the plaintext never crosses the socket.
    UnsealFiles {
        /// Slot.
        slot: SlotName,
        /// The sealed content header, as read from the input.
        header: Bytes,
        /// The wrapped content key (from the header or a licence).
        wrapped_key: Bytes,
    },
}

/// A rotation step (FIG. 21) on the wire: `JointRotate`'s `step`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WireRotateStep {
    /// Fresh primes and e from `e`.
    Begin {
        /// e′.
        e: u64,
    },
    /// A party's old partial and, except for party 0, its new one.
    Enter {
        /// The party's place.
        party: u32,
        /// The old partial.
        old: WireSecret,
        /// The new partial.
        #[serde(default)]
        new: Option<WireSecret>,
    },
    /// The new key replaces the old.
    Commit {},
}

impl From<RotateStep> for WireRotateStep {
    fn from(step: RotateStep) -> Self {
        match step {
            RotateStep::Begin { e_start } => Self::Begin { e: e_start },
            RotateStep::Enter { party, old, new } => Self::Enter {
                party,
                old: WireSecret(old),
                new: new.map(WireSecret),
            },
            RotateStep::Commit => Self::Commit {},
        }
    }
}

impl From<WireRotateStep> for RotateStep {
    fn from(step: WireRotateStep) -> Self {
        match step {
            WireRotateStep::Begin { e } => Self::Begin { e_start: e },
            WireRotateStep::Enter { party, old, new } => Self::Enter {
                party,
                old: old.0,
                new: new.map(|n| n.0),
            },
            WireRotateStep::Commit {} => Self::Commit,
        }
    }
}

/// A successful answer. Each request has one kind of reply; the client
/// refuses any other as a protocol fault.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Reply {
    /// The operation is done; nothing to return.
    Done {},
    /// `info`.
    Info {
        /// Serial, state, slots and trust list.
        info: TokenInfo,
    },
    /// A public key.
    PublicKey {
        /// Its SubjectPublicKeyInfo.
        spki: Bytes,
    },
    /// A signature.
    Signature {
        /// The signature.
        signature: Bytes,
    },
    /// A decryption's plaintext.
    Plaintext {
        /// The plaintext.
        plaintext: WireSecret,
    },
    /// A slot's certificate.
    Certificate {
        /// DER.
        certificate: Bytes,
    },
    /// An attestation in its file form.
    Attestation {
        /// JSON text.
        attestation: String,
    },
    /// The offset δ a party adds to its partial.
    Offset {
        /// δ.
        offset: u64,
    },
    /// A check with the token's views (the joint chain file's text).
    Check {
        /// The file's text.
        message: String,
    },
    /// What a rotation step did.
    Rotated {
        /// The outcome.
        outcome: WireRotateOutcome,
    },
    /// A re-wrapped content header.
    Header {
        /// The header's bytes.
        header: Bytes,
    },
    /// d0 sealed to its recipient (age).
    D0 {
        /// The age file.
        d0: Bytes,
    },
    /// A data object.
    Object {
        /// Its bytes.
        data: Bytes,
    },
    /// The data objects' names.
    Objects {
        /// Names.
        objects: Vec<SlotName>,
    },
    /// A content session.
    Session {
        /// Its number on this connection.
        session: u64,
    },
    /// A chunk's plaintext: the frame's attachment, or inline when the
    /// chunk came inline.
    Chunk {
        /// The plaintext, when not attached.
        #[serde(default)]
        plaintext: Option<WireSecret>,
    },
    /// A file unsealed into its output.
    Unsealed {
        /// Plaintext bytes written.
        bytes: u64,
    },
}

impl Reply {
    /// The reply's name on the wire, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Done {} => "done",
            Self::Info { .. } => "info",
            Self::PublicKey { .. } => "public-key",
            Self::Signature { .. } => "signature",
            Self::Plaintext { .. } => "plaintext",
            Self::Certificate { .. } => "certificate",
            Self::Attestation { .. } => "attestation",
            Self::Offset { .. } => "offset",
            Self::Check { .. } => "check",
            Self::Rotated { .. } => "rotated",
            Self::Header { .. } => "header",
            Self::D0 { .. } => "d0",
            Self::Object { .. } => "object",
            Self::Objects { .. } => "objects",
            Self::Session { .. } => "session",
            Self::Chunk { .. } => "chunk",
            Self::Unsealed { .. } => "unsealed",
        }
    }
}

/// What a rotation step did, on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WireRotateOutcome {
    /// The rotation began; this will be the new key.
    Begun {
        /// Its SubjectPublicKeyInfo.
        spki: Bytes,
    },
    /// A party's partials were accepted.
    Entered {
        /// The offset δ for the party's new partial.
        #[serde(default)]
        offset: Option<u64>,
        /// Parties still to enter.
        waiting: Vec<u32>,
    },
    /// The new key is in the slot.
    Committed {
        /// Its SubjectPublicKeyInfo.
        spki: Bytes,
    },
}

/// Public bytes on the wire, as base64. `Debug` shows only the length:
/// a request or reply may be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Self(b.to_vec())
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        B64.decode(text.as_bytes())
            .map(Self)
            .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
    }
}

/// A secret crossing the socket (a partial exponent, a plaintext), base64
/// on the wire. Held decoded in zeroising memory on both sides — the base64
/// text too, while it exists — with no `Display` and a redacted `Debug`.
pub struct WireSecret(Zeroizing<Vec<u8>>);

impl WireSecret {
    /// A copy of `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self(Zeroizing::new(secret.to_vec()))
    }

    /// The secret, borrowed.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl From<Zeroizing<Vec<u8>>> for WireSecret {
    fn from(secret: Zeroizing<Vec<u8>>) -> Self {
        Self(secret)
    }
}

impl std::fmt::Debug for WireSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WireSecret(<redacted>)")
    }
}

impl Serialize for WireSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written once into a buffer of its final size, zeroised after.
        let mut text = Zeroizing::new(String::with_capacity(self.0.len().div_ceil(3) * 4));
        B64.encode_string(&self.0[..], &mut text);
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for WireSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SecretVisitor)
    }
}

/// Decodes base64 straight into zeroising memory; an owned string serde
/// built (JSON with escapes) is zeroised too.
struct SecretVisitor;

impl SecretVisitor {
    fn decode<E: serde::de::Error>(text: &str) -> Result<WireSecret, E> {
        let mut out = Zeroizing::new(vec![0u8; text.len().div_ceil(4) * 3]);
        let n = B64
            .decode_slice(text.as_bytes(), &mut out)
            .map_err(|e| E::custom(format!("not base64: {e}")))?;
        out.truncate(n);
        Ok(WireSecret(out))
    }
}

impl serde::de::Visitor<'_> for SecretVisitor {
    type Value = WireSecret;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<WireSecret, E> {
        Self::decode(text)
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<WireSecret, E> {
        let text = Zeroizing::new(text);
        Self::decode(&text)
    }
}

/// An error as it crosses the socket.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireError {
    /// Stable code (`TokenError::code`).
    pub code: Code,
    /// Message.
    pub message: String,
}

/// A response: exactly one of `ok` and `error`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    /// Success.
    Ok(Reply),
    /// Failure.
    Error(WireError),
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut frame = Vec::new();
    Ok(read_frame_into(r, &mut frame)?.map(|len| {
        frame.truncate(len);
        frame
    }))
}

/// Reads one frame into `buf[..len]`, growing `buf` when it is short and
/// never shrinking it, so a connection reuses one buffer for every chunk;
/// returns `len`, or `None` at a clean end of stream.
pub fn read_frame_into(r: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = frame_len(len)?;
    read_frame_body(r, len, buf)?;
    Ok(Some(len))
}

/// A frame's length from its 4-byte head, refused beyond [`MAX_FRAME`]
/// before anything is allocated.
pub(super) fn frame_len(head: [u8; 4]) -> std::io::Result<usize> {
    let len = u32::from_be_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    Ok(len)
}

/// Reads a frame's `len` bytes after its head into `buf[..len]`.
pub(super) fn read_frame_body(
    r: &mut impl Read,
    len: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    r.read_exact(&mut buf[..len])
}

/// Waits until `fd` is readable, polling without sleeping for up to `spin`
/// first. A sleeping reader is woken by an inter-processor interrupt, which
/// costs tens of microseconds on virtual machines; for a reply that is
/// usually a few hundred microseconds away, a short busy wait is cheaper.
pub fn wait_readable(fd: impl std::os::fd::AsFd, spin: std::time::Duration) -> std::io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let start = std::time::Instant::now();
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = if start.elapsed() < spin {
            Some(&zero)
        } else {
            None
        };
        match poll(&mut fds, timeout) {
            Ok(0) => std::hint::spin_loop(),
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    write_frame_with(w, body, None)
}

/// Writes one frame: the JSON and, after a NUL, the raw attachment. One
/// `writev` from the parts where they lie: a split frame costs the peer an
/// extra wake-up, a frame assembled first costs a copy of the attachment.
pub fn write_frame_with(
    w: &mut impl Write,
    json: &[u8],
    attachment: Option<&[u8]>,
) -> std::io::Result<()> {
    let total = json.len() + attachment.map_or(0, |a| a.len() + 1);
    let len = u32::try_from(total)
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?
        .to_be_bytes();
    let mut parts = [
        IoSlice::new(&len),
        IoSlice::new(json),
        IoSlice::new(if attachment.is_some() { &[0] } else { &[] }),
        IoSlice::new(attachment.unwrap_or_default()),
    ];
    let mut parts = &mut parts[..];
    while !parts.is_empty() {
        match w.write_vectored(parts) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    w.flush()
}

/// Splits a frame into its JSON and its attachment, if any.
pub fn split_attachment(frame: &[u8]) -> (&[u8], Option<&[u8]>) {
    match frame.iter().position(|&b| b == 0) {
        Some(i) => (&frame[..i], Some(&frame[i + 1..])),
        None => (frame, None),
    }
}

/// [`split_attachment`] of a frame whose attachment is opened in place.
pub fn split_attachment_mut(frame: &mut [u8]) -> (&[u8], Option<&mut [u8]>) {
    match frame.iter().position(|&b| b == 0) {
        Some(i) => {
            let (json, rest) = frame.split_at_mut(i);
            (json, Some(&mut rest[1..]))
        }
        None => (frame, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes a call, as a full socket
    /// buffer does.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn frames_survive_short_writes_and_reuse_one_buffer() {
        for step in [1, 3, 7, 4096, usize::MAX] {
            let mut w = Trickle {
                out: Vec::new(),
                step,
            };
            write_frame_with(&mut w, br#"{"a":1}"#, Some(&[9u8; 300])).unwrap();
            write_frame_with(&mut w, br#"{"b":2}"#, None).unwrap();
            write_frame_with(&mut w, b"{}", Some(&[])).unwrap();
            let mut r = w.out.as_slice();
            let mut buf = Vec::new();
            let len = read_frame_into(&mut r, &mut buf).unwrap().unwrap();
            let (json, attached) = split_attachment_mut(&mut buf[..len]);
            assert_eq!(
                (json, attached.map(|a| a.to_vec())),
                (&br#"{"a":1}"#[..], Some(vec![9u8; 300]))
            );
            // A shorter frame read into the same buffer: only its own bytes.
            let len = read_frame_into(&mut r, &mut buf).unwrap().unwrap();
            assert_eq!(split_attachment(&buf[..len]), (&br#"{"b":2}"#[..], None));
            assert!(buf.len() >= 308, "the buffer is kept, not shrunk");
            let len = read_frame_into(&mut r, &mut buf).unwrap().unwrap();
            assert_eq!(split_attachment(&buf[..len]), (&b"{}"[..], Some(&[][..])));
            assert_eq!(read_frame_into(&mut r, &mut buf).unwrap(), None);
        }
        // A frame announced over the limit is refused before any allocation.
        let mut r = &((MAX_FRAME as u32) + 1).to_be_bytes()[..];
        let e = read_frame_into(&mut r, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        // A stream that cannot take a byte is an error, not a loop.
        let mut w = Trickle {
            out: Vec::new(),
            step: 0,
        };
        let e = write_frame_with(&mut w, b"{}", Some(b"x")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WriteZero);
    }

    #[test]
    fn malformed_arguments_are_refused_when_the_frame_is_decoded() {
        for (text, needle) in [
            (
                r#"{"op":"sign","slot":".x","scheme":"pkcs1-sha256","digest":""}"#,
                "slot name",
            ),
            (
                r#"{"op":"sign","slot":"a","scheme":"rsa-md5","digest":""}"#,
                "unknown variant",
            ),
            (
                r#"{"op":"generate","slot":"a","algorithm":"rsa-1024"}"#,
                "unknown variant",
            ),
            (
                r#"{"op":"decrypt","slot":"a","ciphertext":"!!"}"#,
                "not base64",
            ),
            (
                r#"{"op":"joint-contribute","slot":"a","partial":"***"}"#,
                "not base64",
            ),
            (
                r#"{"op":"joint-rotate","slot":"a","step":{"step":"enter","party":1}}"#,
                "old",
            ),
            (
                r#"{"op":"certificate","slot":"a","extra":1}"#,
                "unknown field",
            ),
            (r#"{"op":"info","x":1}"#, "unknown field"),
            (r#"{"op":"tamper","force":true}"#, "unknown field"),
            (
                r#"{"op":"joint-rotate","slot":"a","step":{"step":"commit","e":3}}"#,
                "unknown field",
            ),
        ] {
            let e = serde_json::from_str::<Request>(text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn replies_round_trip_typed_and_secrets_stay_out_of_debug() {
        let replies = [
            Reply::Done {},
            Reply::Plaintext {
                plaintext: WireSecret::new(b"content key"),
            },
            Reply::Rotated {
                outcome: WireRotateOutcome::Entered {
                    offset: Some(4),
                    waiting: vec![2, 3],
                },
            },
            Reply::Objects {
                objects: vec![SlotName::new("a").unwrap()],
            },
        ];
        for reply in replies {
            let text = serde_json::to_string(&Response::Ok(reply)).unwrap();
            let Response::Ok(back) = serde_json::from_str::<Response>(&text).unwrap() else {
                panic!("{text}")
            };
            let debug = format!("{back:?}");
            assert!(!debug.contains("content key"), "{debug}");
            if let Reply::Plaintext { plaintext } = back {
                assert_eq!(plaintext.expose(), b"content key");
                assert!(debug.contains("redacted"), "{debug}");
            }
        }
        // An escaped string (serde builds an owned String) decodes too.
        let escaped = r#"{"reply":"plaintext","plaintext":"Y29udGVudCBr\u005aXk="}"#;
        let Reply::Plaintext { plaintext } = serde_json::from_str(escaped).unwrap() else {
            panic!("plaintext")
        };
        assert_eq!(plaintext.expose(), b"content key");
    }

    #[test]
    fn attachments_round_trip_and_json_frames_stay_json() {
        let mut wire = Vec::new();
        write_frame_with(&mut wire, br#"{"op":"info"}"#, Some(&[0, 1, 2, 0, 255])).unwrap();
        write_frame(&mut wire, br#"{"op":"tamper"}"#).unwrap();
        let mut r = wire.as_slice();
        let a = read_frame(&mut r).unwrap().unwrap();
        assert_eq!(
            split_attachment(&a),
            (&br#"{"op":"info"}"#[..], Some(&[0u8, 1, 2, 0, 255][..]))
        );
        let b = read_frame(&mut r).unwrap().unwrap();
        assert_eq!(split_attachment(&b), (&br#"{"op":"tamper"}"#[..], None));
        assert!(read_frame(&mut r).unwrap().is_none());
    }
}

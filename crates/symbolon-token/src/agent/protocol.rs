//! The agent's wire messages. Requests mirror the `Token` trait one to one;
//! binary fields are base64, the issuer command and attestation travel in
//! their JSON file forms. A frame may carry one raw attachment after its
//! JSON, separated by a NUL byte (which JSON text never contains): content
//! chunks travel that way, without base64.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use symbolon::Code;
use zeroize::Zeroizing;

/// Largest frame either side accepts: a 16 MiB content chunk in base64
/// with room to spare.
pub const MAX_FRAME: usize = 24 * 1024 * 1024;

/// A request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// `Token::info`.
    Info,
    /// `Token::device_key`.
    DeviceKey,
    /// `Token::transport_key`.
    TransportKey,
    /// `Token::trust_issuer`; SPKI DER, base64.
    TrustIssuer {
        /// Issuer key.
        issuer: String,
    },
    /// `Token::generate`.
    Generate {
        /// Slot.
        slot: String,
        /// Algorithm name.
        algorithm: String,
    },
    /// `Token::generate_key`: any algorithm (`rsa-*`, `p256`, `p384`,
    /// `ed25519`); the answer's `spki` is the public key.
    GenerateKey {
        /// Slot.
        slot: String,
        /// Algorithm name.
        algorithm: String,
    },
    /// `Token::slot_public_key`: RSA or EC.
    SlotPublicKey {
        /// Slot.
        slot: String,
    },
    /// `Token::sign_ec`: a digest (ECDSA; `hash` names its algorithm) or
    /// the message itself (Ed25519; no `hash`), base64.
    SignEc {
        /// Slot.
        slot: String,
        /// The digest's hash (`sha256`, `sha384`), or none for a message.
        #[serde(default)]
        hash: Option<String>,
        /// Digest or message, base64.
        data: String,
    },
    /// `Token::public_key`.
    PublicKey {
        /// Slot.
        slot: String,
    },
    /// `Token::sign`.
    Sign {
        /// Slot.
        slot: String,
        /// Scheme name.
        scheme: String,
        /// Digest, base64.
        digest: String,
    },
    /// `Token::decrypt`.
    Decrypt {
        /// Slot.
        slot: String,
        /// Ciphertext, base64.
        ciphertext: String,
    },
    /// `Token::certificate`.
    Certificate {
        /// Slot.
        slot: String,
    },
    /// `Token::write_certificate`.
    WriteCertificate {
        /// The signed command, JSON.
        command: String,
    },
    /// `Token::accept_key`.
    AcceptKey {
        /// The signed command, JSON.
        command: String,
    },
    /// `Token::attest`.
    Attest {
        /// Slot.
        slot: String,
        /// Nonce, hex.
        nonce: String,
    },
    /// `Token::tamper`.
    Tamper,
    /// `Token::joint_init`.
    JointInit {
        /// Slot.
        slot: String,
        /// Algorithm name.
        algorithm: String,
        /// e's starting value.
        e: u64,
        /// The issuer's partial, base64.
        partial: WireSecret,
    },
    /// `Token::joint_contribute`.
    JointContribute {
        /// Slot.
        slot: String,
        /// The partial, base64.
        partial: WireSecret,
    },
    /// `Token::joint_finish`.
    JointFinish {
        /// Slot.
        slot: String,
    },
    /// `Token::joint_reissue_begin`.
    JointReissueBegin {
        /// Slot.
        slot: String,
        /// The signed request form (the chain file's text).
        permission: String,
    },
    /// `Token::joint_check`.
    JointCheck {
        /// Slot.
        slot: String,
        /// The new check (the chain file's text).
        message: String,
    },
    /// `Token::joint_rotate`: `begin` with `e`, `enter` with `party`, `old`
    /// and `new` (base64), or `commit`.
    JointRotate {
        /// Slot.
        slot: String,
        /// begin, enter or commit.
        step: String,
        /// e′ for begin.
        #[serde(default)]
        e: Option<u64>,
        /// The party for enter.
        #[serde(default)]
        party: Option<u32>,
        /// The old partial for enter, base64.
        #[serde(default)]
        old: Option<WireSecret>,
        /// The new partial for enter, base64.
        #[serde(default)]
        new: Option<WireSecret>,
    },
    /// `Token::joint_rewrap`.
    JointRewrap {
        /// Slot.
        slot: String,
        /// The sealed content's header, base64.
        header: String,
    },
    /// `Token::joint_reissue_enter`.
    JointReissueEnter {
        /// Slot.
        slot: String,
        /// The partial, base64.
        partial: WireSecret,
    },
    /// `Token::joint_reissue_finish`.
    JointReissueFinish {
        /// Slot.
        slot: String,
    },
    /// `Token::joint_output_d0`.
    JointOutputD0 {
        /// Slot.
        slot: String,
        /// The age recipient.
        recipient: String,
    },
    /// `Token::put_object`.
    PutObject {
        /// Name.
        name: String,
        /// Data, base64.
        data: String,
    },
    /// `Token::object`.
    Object {
        /// Name.
        name: String,
    },
    /// `Token::objects`.
    Objects,
    /// `Token::open_content`: starts a content session on this connection.
    OpenContent {
        /// Slot.
        slot: String,
        /// The sealed content header, base64.
        header: String,
        /// The wrapped content key (from the header or a licence), base64.
        wrapped_key: String,
    },
    /// `ChunkOpener::open_chunk` in a session. Without `chunk`, the chunk
    /// is the frame's attachment, and so is the plaintext in the answer.
    OpenChunk {
        /// The session `open-content` answered.
        session: u64,
        /// Whether this is the final chunk.
        last: bool,
        /// Ciphertext and tag, base64.
        #[serde(default)]
        chunk: Option<String>,
    },
    /// Ends a content session.
    CloseContent {
        /// The session.
        session: u64,
    },
}

/// A secret crossing the socket (a partial exponent, base64): held in
/// zeroising memory on both sides, with no `Display` and a redacted `Debug`,
/// so a request can be logged or printed without it.
pub struct WireSecret(Zeroizing<String>);

impl WireSecret {
    /// Base64 of `secret`, written once into a buffer of its final size.
    pub fn encode(secret: &[u8]) -> Self {
        let mut text = Zeroizing::new(String::with_capacity(secret.len().div_ceil(3) * 4));
        B64.encode_string(secret, &mut text);
        Self(text)
    }

    /// The secret's bytes.
    pub fn decode(&self) -> Result<Zeroizing<Vec<u8>>, base64::DecodeSliceError> {
        let mut out = Zeroizing::new(vec![0u8; self.0.len().div_ceil(4) * 3]);
        let n = B64.decode_slice(self.0.as_bytes(), &mut out)?;
        out.truncate(n);
        Ok(out)
    }
}

impl std::fmt::Debug for WireSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WireSecret(<redacted>)")
    }
}

impl Serialize for WireSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WireSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The String serde builds is moved, not copied, into zeroising memory.
        Ok(Self(Zeroizing::new(String::deserialize(d)?)))
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
    /// Success with a result.
    Ok(serde_json::Value),
    /// Failure.
    Error(WireError),
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(body))
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

/// Writes one frame: JSON, and an attachment after a NUL when given.
pub fn write_frame_with(
    w: &mut impl Write,
    json: &[u8],
    attachment: Option<&[u8]>,
) -> std::io::Result<()> {
    let total = json.len() + attachment.map_or(0, |a| a.len() + 1);
    let len = u32::try_from(total)
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    // One buffer, one write: a split frame costs an extra wake-up of the peer.
    let mut frame = Vec::with_capacity(4 + total);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(json);
    if let Some(a) = attachment {
        frame.push(0);
        frame.extend_from_slice(a);
    }
    w.write_all(&frame)?;
    w.flush()
}

/// Splits a frame into its JSON and its attachment, if any.
pub fn split_attachment(frame: &[u8]) -> (&[u8], Option<&[u8]>) {
    match frame.iter().position(|&b| b == 0) {
        Some(i) => (&frame[..i], Some(&frame[i + 1..])),
        None => (frame, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

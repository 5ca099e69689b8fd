//! The agent's client side: a `Token` whose every call crosses the socket.

use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use symbolon::content::{ChunkOpener, ContentError, ContentHeader};
use symbolon::joint::{ChainMessage, RotateOutcome, RotateStep};
use symbolon::keys::{
    EcSigningInput, IdentityPublicKey, KeyAlgorithm, MessageDigest, PublicKey, RsaAlgorithm,
    RsaPublicKey, SignatureScheme,
};
use symbolon::token::{
    Attestation, JointToken, SignedCommand, SlotName, Token, TokenError, TokenInfo,
};
use symbolon::Code;
use zeroize::{Zeroize as _, Zeroizing};

use super::fds::write_frame_with_fds;
use super::protocol::{
    read_frame_into, split_attachment, wait_readable, write_frame_with, Bytes, Reply, Request,
    Response, WireRotateOutcome, WireSecret,
};

/// Takes the one reply kind a request has, or names the protocol fault.
macro_rules! expect {
    ($reply:expr, $pattern:pat => $value:expr) => {
        match $reply {
            $pattern => Ok($value),
            other => Err(unexpected(&other)),
        }
    };
}

fn unexpected(reply: &Reply) -> TokenError {
    TokenError::AgentProtocol(format!(
        "the agent answered with a {} reply, which this request does not have",
        reply.kind()
    ))
}

/// How long a client busy-waits for a reply before sleeping: about one
/// RSA-3072 private-key operation.
const REPLY_SPIN: std::time::Duration = std::time::Duration::from_micros(700);

/// How often a client waiting on a file unseal reports progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// A connection to a token agent. Clones share the connection.
#[derive(Clone)]
pub struct AgentClient {
    stream: Arc<Mutex<UnixStream>>,
}

impl AgentClient {
    /// Connects to the agent at `path`.
    pub fn connect(path: &Path) -> Result<Self, TokenError> {
        let stream = UnixStream::connect(path).map_err(|e| {
            TokenError::Storage(format!(
                "no token agent answers at {} ({e}); start one with `symbolon token serve --token FILE --socket {}`",
                path.display(),
                path.display()
            ))
        })?;
        Ok(Self {
            stream: Arc::new(Mutex::new(stream)),
        })
    }

    fn call(&self, request: &Request) -> Result<Reply, TokenError> {
        call(&self.stream, request)
    }

    /// A request whose answer is a public key.
    fn call_spki(&self, request: &Request) -> Result<Vec<u8>, TokenError> {
        expect!(self.call(request)?, Reply::PublicKey { spki } => spki.0)
    }

    /// A request whose answer is `done`.
    fn call_done(&self, request: &Request) -> Result<(), TokenError> {
        expect!(self.call(request)?, Reply::Done {} => ())
    }

    /// Unseals a whole file inside the agent: `input` is the sealed file,
    /// read from its current offset (just after `header`, which the caller
    /// read from it), and `output` the file the plaintext is written to
    /// from its current offset. Both must be regular files. The plaintext
    /// never enters this process. `progress` is called every 100 ms while
    /// the agent works (the input's offset, shared with the agent, says how
    /// far it is). Returns the plaintext's length.
    pub fn unseal_files(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
        wrapped_key: &[u8],
        input: BorrowedFd<'_>,
        output: BorrowedFd<'_>,
        progress: &mut dyn FnMut(),
    ) -> Result<u64, TokenError> {
        let io = |e: std::io::Error| TokenError::Storage(format!("token agent connection: {e}"));
        let request = Request::UnsealFiles {
            slot: slot.clone(),
            header: Bytes(header.to_bytes()),
            wrapped_key: wrapped_key.into(),
        };
        let body = serde_json::to_vec(&request)
            .map_err(|e| TokenError::AgentProtocol(format!("cannot encode the request: {e}")))?;
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        write_frame_with_fds(&stream, &body, &[input, output]).map_err(io)?;
        while !readable_within(&*stream, PROGRESS_EVERY).map_err(io)? {
            progress();
        }
        let mut buf = Vec::new();
        let len = read_frame_into(&mut &*stream, &mut buf)
            .map_err(io)?
            .ok_or_else(|| TokenError::Storage("the token agent closed the connection".into()))?;
        let reply = match serde_json::from_slice::<Response>(&buf[..len])
            .map_err(|e| TokenError::AgentProtocol(format!("malformed reply: {e}")))?
        {
            Response::Ok(v) => v,
            Response::Error(e) => {
                return Err(TokenError::Remote {
                    code: e.code,
                    message: e.message,
                })
            }
        };
        expect!(reply, Reply::Unsealed { bytes } => bytes)
    }
}

/// Whether `fd` becomes readable within `wait`.
fn readable_within(fd: impl AsFd, wait: std::time::Duration) -> std::io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One request and its answer; the lock keeps request and reply paired.
fn call(stream: &Mutex<UnixStream>, request: &Request) -> Result<Reply, TokenError> {
    // A reply may carry a secret (a partial's share): zeroised once read.
    let mut buf = Zeroizing::new(Vec::new());
    call_with(stream, request, None, &mut buf).map(|(v, _)| v)
}

/// A request with an optional raw attachment; the answer, read into `buf`,
/// and where in `buf` its attachment lies.
fn call_with(
    stream: &Mutex<UnixStream>,
    request: &Request,
    attachment: Option<&[u8]>,
    buf: &mut Vec<u8>,
) -> Result<(Reply, Option<Range<usize>>), TokenError> {
    let io = |e: std::io::Error| TokenError::Storage(format!("token agent connection: {e}"));
    // The body may hold a secret (a partial): zeroised once sent.
    let body = serde_json::to_vec(request)
        .map(Zeroizing::new)
        .map_err(|e| TokenError::AgentProtocol(format!("cannot encode the request: {e}")))?;
    let mut stream = stream.lock().unwrap_or_else(|p| p.into_inner());
    write_frame_with(&mut *stream, &body, attachment).map_err(io)?;
    wait_readable(&*stream, REPLY_SPIN).map_err(io)?;
    let len = read_frame_into(&mut *stream, buf)
        .map_err(io)?
        .ok_or_else(|| TokenError::Storage("the token agent closed the connection".into()))?;
    let (json, attached) = split_attachment(&buf[..len]);
    let attached = attached.map(|a| len - a.len()..len);
    match serde_json::from_slice::<Response>(json)
        .map_err(|e| TokenError::AgentProtocol(format!("malformed reply: {e}")))?
    {
        Response::Ok(v) => Ok((v, attached)),
        Response::Error(e) => Err(TokenError::Remote {
            code: e.code,
            message: e.message,
        }),
    }
}

/// A content session in the agent: chunks cross the socket, the payload key
/// stays on the other side.
struct AgentOpener {
    stream: Arc<Mutex<UnixStream>>,
    session: u64,
    index: u64,
    /// The replies, one chunk's plaintext at a time: one buffer for the
    /// session, each plaintext wiped from it once copied out.
    buf: Zeroizing<Vec<u8>>,
}

impl ChunkOpener for AgentOpener {
    fn open_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<usize, ContentError> {
        let (reply, plain) = call_with(
            &self.stream,
            &Request::OpenChunk {
                session: self.session,
                last,
                chunk: None,
            },
            Some(chunk),
            &mut self.buf,
        )
        .map_err(|e| match e {
            // The agent's opener knows the same index; keep the typed error.
            TokenError::Remote {
                code: Code::ContentAltered,
                ..
            } => ContentError::ChunkAltered { index: self.index },
            other => ContentError::Io(other.to_string()),
        })?;
        self.index += 1;
        let opened = match (reply, plain.clone()) {
            (Reply::Chunk { plaintext: None }, Some(plain))
                if plain.len() + symbolon::content::TAG_LEN == chunk.len() =>
            {
                chunk[..plain.len()].copy_from_slice(&self.buf[plain.clone()]);
                Ok(plain.len())
            }
            (Reply::Chunk { plaintext: None }, Some(_)) => Err(ContentError::Io(
                "the agent answered a chunk of the wrong length".into(),
            )),
            _ => Err(ContentError::Io(
                "the agent answered without the chunk's plaintext".into(),
            )),
        };
        if let Some(plain) = plain {
            self.buf[plain].zeroize();
        }
        opened
    }
}

impl Drop for AgentOpener {
    fn drop(&mut self) {
        // Best effort: the agent also closes a connection's sessions when
        // the connection ends, so a lost close leaves nothing open for long.
        if let Err(e) = call(
            &self.stream,
            &Request::CloseContent {
                session: self.session,
            },
        ) {
            tracing::debug!(error = %e, "cannot close a content session in the agent");
        }
    }
}

impl Token for AgentClient {
    fn info(&self) -> Result<TokenInfo, TokenError> {
        expect!(self.call(&Request::Info {})?, Reply::Info { info } => info)
    }

    fn device_key(&self) -> Result<IdentityPublicKey, TokenError> {
        Ok(IdentityPublicKey::from_spki_der(
            &self.call_spki(&Request::DeviceKey {})?,
        )?)
    }

    fn transport_key(&self) -> Result<RsaPublicKey, TokenError> {
        Ok(RsaPublicKey::from_der(
            &self.call_spki(&Request::TransportKey {})?,
        )?)
    }

    fn trust_issuer(&mut self, issuer: &IdentityPublicKey) -> Result<(), TokenError> {
        self.call_done(&Request::TrustIssuer {
            issuer: issuer.spki_der().into(),
        })
    }

    fn generate(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
    ) -> Result<RsaPublicKey, TokenError> {
        Ok(RsaPublicKey::from_der(&self.call_spki(
            &Request::Generate {
                slot: slot.clone(),
                algorithm,
            },
        )?)?)
    }

    fn public_key(&self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        match self.slot_public_key(slot)? {
            PublicKey::Rsa(k) => Ok(k),
            other => Err(TokenError::WrongKeyType {
                slot: slot.clone(),
                holds: other.algorithm(),
                operation: "an RSA public key",
                needs: "an RSA key",
            }),
        }
    }

    fn generate_key(
        &mut self,
        slot: &SlotName,
        algorithm: KeyAlgorithm,
    ) -> Result<PublicKey, TokenError> {
        Ok(PublicKey::from_spki_der(&self.call_spki(
            &Request::GenerateKey {
                slot: slot.clone(),
                algorithm,
            },
        )?)?)
    }

    fn slot_public_key(&self, slot: &SlotName) -> Result<PublicKey, TokenError> {
        Ok(PublicKey::from_spki_der(&self.call_spki(
            &Request::SlotPublicKey { slot: slot.clone() },
        )?)?)
    }

    fn sign_ec(&self, slot: &SlotName, input: EcSigningInput<'_>) -> Result<Vec<u8>, TokenError> {
        let (hash, data) = match input {
            EcSigningInput::Digest(d) => (Some(d.algorithm()), d.as_bytes()),
            EcSigningInput::Message(m) => (None, m),
        };
        let reply = self.call(&Request::SignEc {
            slot: slot.clone(),
            hash,
            data: data.into(),
        })?;
        expect!(reply, Reply::Signature { signature } => signature.0)
    }

    fn sign(
        &self,
        slot: &SlotName,
        scheme: SignatureScheme,
        digest: &MessageDigest,
    ) -> Result<Vec<u8>, TokenError> {
        let reply = self.call(&Request::Sign {
            slot: slot.clone(),
            scheme,
            digest: digest.as_bytes().into(),
        })?;
        expect!(reply, Reply::Signature { signature } => signature.0)
    }

    fn decrypt(
        &self,
        slot: &SlotName,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let reply = self.call(&Request::Decrypt {
            slot: slot.clone(),
            ciphertext: ciphertext.into(),
        })?;
        expect!(reply, Reply::Plaintext { plaintext } => plaintext.into_inner())
    }

    fn open_hpke(
        &self,
        slot: &SlotName,
        info: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let reply = self.call(&Request::OpenHpke {
            slot: slot.clone(),
            info: info.into(),
            sealed: sealed.into(),
        })?;
        expect!(reply, Reply::Plaintext { plaintext } => plaintext.into_inner())
    }

    fn certificate(&self, slot: &SlotName) -> Result<Vec<u8>, TokenError> {
        let reply = self.call(&Request::Certificate { slot: slot.clone() })?;
        expect!(reply, Reply::Certificate { certificate } => certificate.0)
    }

    fn write_certificate(&mut self, command: &SignedCommand) -> Result<(), TokenError> {
        self.call_done(&Request::WriteCertificate {
            command: command.to_json()?,
        })
    }

    fn accept_key(&mut self, command: &SignedCommand) -> Result<PublicKey, TokenError> {
        Ok(PublicKey::from_spki_der(&self.call_spki(
            &Request::AcceptKey {
                command: command.to_json()?,
            },
        )?)?)
    }

    fn attest(&self, slot: &SlotName, nonce: &[u8]) -> Result<Attestation, TokenError> {
        let reply = self.call(&Request::Attest {
            slot: slot.clone(),
            nonce: nonce.into(),
        })?;
        let text = expect!(reply, Reply::Attestation { attestation } => attestation)?;
        Attestation::from_json(&text).map_err(|e| TokenError::AgentProtocol(e.to_string()))
    }

    fn tamper(&mut self) -> Result<(), TokenError> {
        self.call_done(&Request::Tamper {})
    }

    fn joint(&self) -> Option<&dyn JointToken> {
        Some(self)
    }

    fn joint_mut(&mut self) -> Option<&mut dyn JointToken> {
        Some(self)
    }

    fn put_object(&mut self, name: &SlotName, data: &[u8]) -> Result<(), TokenError> {
        self.call_done(&Request::PutObject {
            name: name.clone(),
            data: data.into(),
        })
    }

    fn object(&self, name: &SlotName) -> Result<Vec<u8>, TokenError> {
        let reply = self.call(&Request::Object { name: name.clone() })?;
        expect!(reply, Reply::Object { data } => data.0)
    }

    fn objects(&self) -> Result<Vec<SlotName>, TokenError> {
        expect!(self.call(&Request::Objects {})?, Reply::Objects { objects } => objects)
    }

    fn open_content(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
        wrapped_key: &[u8],
    ) -> Result<Box<dyn ChunkOpener + Send>, TokenError> {
        let reply = self.call(&Request::OpenContent {
            slot: slot.clone(),
            header: Bytes(header.to_bytes()),
            wrapped_key: wrapped_key.into(),
        })?;
        let session = expect!(reply, Reply::Session { session } => session)?;
        Ok(Box::new(AgentOpener {
            stream: Arc::clone(&self.stream),
            session,
            index: 0,
            buf: Zeroizing::new(Vec::new()),
        }))
    }
}

/// The agent forwards every joint operation; a token behind it that has no
/// joint capability answers `unsupported`.
impl JointToken for AgentClient {
    fn joint_init(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
        e_start: u64,
        partial: &[u8],
    ) -> Result<u64, TokenError> {
        let reply = self.call(&Request::JointInit {
            slot: slot.clone(),
            algorithm,
            e: e_start,
            partial: WireSecret::new(partial),
        })?;
        expect!(reply, Reply::Offset { offset } => offset)
    }

    fn joint_contribute(&mut self, slot: &SlotName, partial: &[u8]) -> Result<u64, TokenError> {
        let reply = self.call(&Request::JointContribute {
            slot: slot.clone(),
            partial: WireSecret::new(partial),
        })?;
        expect!(reply, Reply::Offset { offset } => offset)
    }

    fn joint_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        Ok(RsaPublicKey::from_der(&self.call_spki(
            &Request::JointFinish { slot: slot.clone() },
        )?)?)
    }

    fn joint_reissue_begin(
        &mut self,
        slot: &SlotName,
        permission: &ChainMessage,
    ) -> Result<(), TokenError> {
        self.call_done(&Request::JointReissueBegin {
            slot: slot.clone(),
            permission: permission.to_json()?,
        })
    }

    fn joint_check(
        &self,
        slot: &SlotName,
        message: &ChainMessage,
    ) -> Result<ChainMessage, TokenError> {
        let reply = self.call(&Request::JointCheck {
            slot: slot.clone(),
            message: message.to_json()?,
        })?;
        let text = expect!(reply, Reply::Check { message } => message)?;
        Ok(ChainMessage::parse(text.as_bytes())?)
    }

    fn joint_rotate(
        &mut self,
        slot: &SlotName,
        step: RotateStep,
    ) -> Result<RotateOutcome, TokenError> {
        let reply = self.call(&Request::JointRotate {
            slot: slot.clone(),
            step: step.into(),
        })?;
        Ok(
            match expect!(reply, Reply::Rotated { outcome } => outcome)? {
                WireRotateOutcome::Begun { spki } => RotateOutcome::Begun {
                    public: RsaPublicKey::from_der(&spki.0)?,
                },
                WireRotateOutcome::Entered { offset, waiting } => {
                    RotateOutcome::Entered { offset, waiting }
                }
                WireRotateOutcome::Committed { spki } => RotateOutcome::Committed {
                    public: RsaPublicKey::from_der(&spki.0)?,
                },
            },
        )
    }

    fn joint_rewrap(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
    ) -> Result<ContentHeader, TokenError> {
        let reply = self.call(&Request::JointRewrap {
            slot: slot.clone(),
            header: Bytes(header.to_bytes()),
        })?;
        let bytes = expect!(reply, Reply::Header { header } => header.0)?;
        Ok(ContentHeader::read_from(&mut &bytes[..])?)
    }

    fn joint_reissue_enter(&mut self, slot: &SlotName, partial: &[u8]) -> Result<(), TokenError> {
        self.call_done(&Request::JointReissueEnter {
            slot: slot.clone(),
            partial: WireSecret::new(partial),
        })
    }

    fn joint_reissue_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        Ok(RsaPublicKey::from_der(&self.call_spki(
            &Request::JointReissueFinish { slot: slot.clone() },
        )?)?)
    }

    fn joint_output_d0(&mut self, slot: &SlotName, recipient: &str) -> Result<Vec<u8>, TokenError> {
        let reply = self.call(&Request::JointOutputD0 {
            slot: slot.clone(),
            recipient: recipient.to_string(),
        })?;
        expect!(reply, Reply::D0 { d0 } => d0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::protocol::{read_frame, write_frame};

    /// A client whose agent answers every request with `reply`.
    fn client_answered_with(reply: &'static str) -> AgentClient {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            while let Ok(Some(_)) = read_frame(&mut theirs) {
                if write_frame(&mut theirs, reply.as_bytes()).is_err() {
                    return;
                }
            }
        });
        AgentClient {
            stream: Arc::new(Mutex::new(ours)),
        }
    }

    #[test]
    fn a_reply_of_the_wrong_kind_is_a_protocol_fault_not_bad_input() {
        let client = client_answered_with(r#"{"ok":{"reply":"done"}}"#);
        let slot = SlotName::new("s").unwrap();
        let digest = MessageDigest::of(symbolon::keys::HashAlgorithm::Sha256, b"x");
        let e = client
            .sign(&slot, SignatureScheme::Pkcs1Sha256, &digest)
            .unwrap_err();
        assert_eq!(e.code(), Code::AgentProtocol);
        assert!(e.to_string().contains("done reply"), "{e}");
        let e = client.decrypt(&slot, b"c").unwrap_err();
        assert_eq!(e.code(), Code::AgentProtocol, "{e}");
    }

    #[test]
    fn an_untyped_reply_is_refused() {
        let client = client_answered_with(r#"{"ok":{"spki":"AAAA"}}"#);
        let e = client.transport_key().unwrap_err();
        assert_eq!(e.code(), Code::AgentProtocol);
        assert!(e.to_string().contains("malformed reply"), "{e}");
    }
}

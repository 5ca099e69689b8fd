//! The agent's server side: accept, check the peer, dispatch to the token.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use symbolon::content::{ChunkOpener, ContentHeader};
use symbolon::joint::{ChainMessage, RotateOutcome, RotateStep};
use symbolon::keys::{EcSigningInput, IdentityPublicKey, MessageDigest};
use symbolon::token::{
    joint_of, joint_of_mut, JointToken, SignedCommand, SlotName, Token, TokenError,
};
use symbolon::Code;
use thiserror::Error;

use super::fds::read_frame_with_fds;
use super::file_unseal::unseal_files;
use super::protocol::{
    split_attachment_mut, wait_readable, write_frame_with, Bytes, Reply, Request, Response,
    WireError, WireRotateOutcome, WireSecret,
};
use zeroize::{Zeroize as _, Zeroizing};

/// How long a connection thread busy-waits for the next request before
/// sleeping (see `wait_readable`).
const NEXT_REQUEST_SPIN: std::time::Duration = std::time::Duration::from_micros(100);

/// Most connections served at once; more are told the agent is busy.
const MAX_CONNECTIONS: usize = 64;

/// Why the agent could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgentError {
    /// Another agent answers on that socket.
    #[error("another token agent is already serving {0}")]
    AlreadyServing(PathBuf),
    /// Socket I/O failed.
    #[error("socket {path}: {source}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Binds the socket (mode 0600), removing a stale one left by a dead agent.
pub fn bind(path: &Path) -> Result<UnixListener, AgentError> {
    let sock_err = |source| AgentError::Socket {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(AgentError::AlreadyServing(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(sock_err)?;
    }
    let listener = UnixListener::bind(path).map_err(sock_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(sock_err)?;
    Ok(listener)
}

/// Serves `token` on `listener` until the listener fails.
pub fn serve<T>(listener: UnixListener, token: T) -> Result<(), AgentError>
where
    T: Token + Send + Sync + 'static,
{
    Agent::new(token).serve(listener)
}

/// The token held by an agent. Cloning shares it; [`Agent::close`] drops it
/// (zeroising every key) so a signal handler can end the process cleanly.
pub struct Agent<T> {
    token: Arc<RwLock<Option<T>>>,
}

impl<T> Clone for Agent<T> {
    fn clone(&self) -> Self {
        Self {
            token: Arc::clone(&self.token),
        }
    }
}

impl<T: Token + Send + Sync + 'static> Agent<T> {
    /// Takes ownership of an open token.
    pub fn new(token: T) -> Self {
        Self {
            token: Arc::new(RwLock::new(Some(token))),
        }
    }

    /// Drops the token once no request is using it; later requests are told
    /// the agent is shutting down.
    pub fn close(&self) {
        let mut guard = self.token.write().unwrap_or_else(|p| p.into_inner());
        *guard = None;
    }

    /// Serves on `listener` until it fails. Each connection gets a thread;
    /// reads share the token, writes take it exclusively.
    pub fn serve(&self, listener: UnixListener) -> Result<(), AgentError> {
        serve_shared(listener, &self.token)
    }
}

fn serve_shared<T>(listener: UnixListener, token: &Arc<RwLock<Option<T>>>) -> Result<(), AgentError>
where
    T: Token + Send + Sync + 'static,
{
    let active = Arc::new(AtomicUsize::new(0));
    let unsealing = Arc::new(AtomicUsize::new(0));
    let uid = rustix::process::geteuid();
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        match rustix::net::sockopt::socket_peercred(&stream) {
            Ok(cred) if cred.uid == uid => {}
            Ok(cred) => {
                tracing::warn!(
                    peer_uid = cred.uid.as_raw(),
                    "refused a connection from another user"
                );
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read peer credentials; connection refused");
                continue;
            }
        }
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            // The connection is dropped either way; the reply is a courtesy.
            let _ = send(
                &mut stream,
                error_response(
                    Code::Busy,
                    "the agent is serving too many connections; retry",
                ),
            );
            continue;
        }
        let token = Arc::clone(token);
        let active = Arc::clone(&active);
        let unsealing = Arc::clone(&unsealing);
        std::thread::spawn(move || {
            connection(stream, &token, &unsealing);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

/// The reply sent when a reply cannot be encoded (a test checks it decodes).
const UNENCODABLE_REPLY: &[u8] =
    br#"{"error":{"code":"agent_protocol","message":"the token agent could not encode its reply"}}"#;

fn send(stream: &mut UnixStream, response: Response) -> std::io::Result<()> {
    send_with(stream, response, None)
}

fn send_with(
    stream: &mut UnixStream,
    response: Response,
    attachment: Option<&[u8]>,
) -> std::io::Result<()> {
    // A reply may carry a secret (a plaintext): zeroised once sent. A reply
    // that cannot be encoded becomes a protocol error the client can read,
    // never an empty frame.
    let body = match serde_json::to_vec(&response) {
        Ok(body) => zeroize::Zeroizing::new(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a reply");
            zeroize::Zeroizing::new(UNENCODABLE_REPLY.to_vec())
        }
    };
    write_frame_with(stream, &body, attachment)
}

/// Opens one chunk of a session in place; returns its plaintext's length.
fn open_chunk<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    session: u64,
    last: bool,
    chunk: &mut [u8],
) -> Result<usize, TokenError> {
    // A session dies with its token: a tamper on any connection ends it,
    // and this connection's payload keys go at once.
    if let Err(e) = with_read(token, |t| t.check_live()) {
        sessions.open.clear();
        return Err(e);
    }
    let opener = sessions
        .open
        .get_mut(&session)
        .ok_or_else(|| TokenError::InvalidInput(format!("no content session {session}")))?;
    let opened = opener.open_chunk(chunk, last);
    if opened.is_err() {
        // A chunk refused ends its session (as a failure ends an unseal in
        // process): no second try under the same key.
        sessions.open.remove(&session);
    }
    Ok(opened?)
}

fn error_response(code: Code, message: &str) -> Response {
    Response::Error(WireError {
        code,
        message: message.into(),
    })
}

/// Content sessions a connection may hold open at once.
const MAX_SESSIONS: usize = 16;

/// One connection's open content sessions: the payload keys stay in the
/// agent; the client holds only a number.
#[derive(Default)]
struct Sessions {
    open: HashMap<u64, Box<dyn ChunkOpener + Send>>,
    next: u64,
}

fn connection<T: Token>(
    mut stream: UnixStream,
    token: &RwLock<Option<T>>,
    unsealing: &AtomicUsize,
) {
    let mut sessions = Sessions::default();
    // One buffer for every frame of the connection. A request may carry a
    // secret (a partial) and a chunk is opened in place: each frame is
    // zeroised once handled, the whole buffer when the connection ends.
    let mut buf = Zeroizing::new(Vec::new());
    let mut fds = Vec::new();
    loop {
        // A client that sends back to back is usually here within microseconds.
        if wait_readable(&stream, NEXT_REQUEST_SPIN).is_err() {
            return;
        }
        let len = match read_frame_with_fds(&stream, &mut buf, &mut fds) {
            Ok(Some(len)) => len,
            Ok(None) => return,
            Err(e) => {
                // Framing is lost: say why, then close this connection only.
                let code = if e.kind() == ErrorKind::InvalidData {
                    Code::AgentProtocol
                } else {
                    Code::Io
                };
                // The connection closes either way; the reply says why.
                let _ = send(&mut stream, error_response(code, &e.to_string()));
                return;
            }
        };
        let frame = &mut buf[..len];
        let conn = Conn {
            token,
            sessions: &mut sessions,
            unsealing,
        };
        let sent = answer(conn, &mut stream, frame, std::mem::take(&mut fds));
        frame.zeroize();
        if sent.is_err() {
            return;
        }
        // An idle connection does not keep a large frame's memory (up to
        // MAX_FRAME each): beyond a 1 MiB chunk's frame, the buffer goes.
        if buf.len() > KEPT_FRAME_BUFFER {
            buf = Zeroizing::new(Vec::new());
        }
    }
}

/// The largest frame buffer a connection keeps between requests: a 1 MiB
/// chunk (the content format allows up to 16 MiB) and its JSON.
const KEPT_FRAME_BUFFER: usize = (1 << 20) + 4096;

/// What a request may reach on its connection.
struct Conn<'a, T> {
    token: &'a RwLock<Option<T>>,
    sessions: &'a mut Sessions,
    /// File unseals running in the whole agent.
    unsealing: &'a AtomicUsize,
}

/// Answers one request frame and the descriptors that came with it.
fn answer<T: Token>(
    conn: Conn<'_, T>,
    stream: &mut UnixStream,
    frame: &mut [u8],
    fds: Vec<std::os::fd::OwnedFd>,
) -> std::io::Result<()> {
    let Conn {
        token,
        sessions,
        unsealing,
    } = conn;
    let (json_part, attachment) = split_attachment_mut(frame);
    let request = serde_json::from_slice::<Request>(json_part);
    // Descriptors belong to `unseal-files` alone; any others are closed
    // unused, and the request refused.
    match (request, attachment) {
        (
            Ok(Request::UnsealFiles {
                slot,
                header,
                wrapped_key,
            }),
            None,
        ) => {
            let client = std::os::fd::AsFd::as_fd(&*stream);
            let response = unseal_files(
                token,
                unsealing,
                client,
                &slot,
                &header.0,
                &wrapped_key.0,
                fds,
            );
            send(stream, response)
        }
        (Ok(Request::UnsealFiles { .. }), Some(_)) => send(
            stream,
            error_response(Code::AgentProtocol, "unseal-files carries no attachment"),
        ),
        (Ok(_), _) if !fds.is_empty() => send(
            stream,
            error_response(
                Code::AgentProtocol,
                "file descriptors came with a request that takes none",
            ),
        ),
        (request, attachment) => answer_plain(token, sessions, stream, request, attachment),
    }
}

/// Answers a request that came without descriptors.
fn answer_plain<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    stream: &mut UnixStream,
    request: Result<Request, serde_json::Error>,
    attachment: Option<&mut [u8]>,
) -> std::io::Result<()> {
    match (request, attachment) {
        // The fast path: the chunk and its plaintext as raw attachments,
        // opened where the chunk was read.
        (
            Ok(Request::OpenChunk {
                session,
                last,
                chunk: None,
            }),
            Some(chunk),
        ) => match open_chunk(token, sessions, session, last, chunk) {
            Ok(n) => send_with(
                stream,
                Response::Ok(Reply::Chunk { plaintext: None }),
                Some(&chunk[..n]),
            ),
            Err(e) => send(stream, error_response(e.code(), &e.to_string())),
        },
        // A chunk inline and another attached: which one was meant?
        (Ok(Request::OpenChunk { chunk: Some(_), .. }), Some(_)) => send(
            stream,
            error_response(
                Code::AgentProtocol,
                "open-chunk carries its chunk inline or attached, not both",
            ),
        ),
        (Ok(request), _) => send(
            stream,
            match dispatch(token, sessions, request) {
                Ok(v) => Response::Ok(v),
                Err(e) => error_response(e.code(), &e.to_string()),
            },
        ),
        (Err(e), _) => send(
            stream,
            error_response(
                Code::AgentProtocol,
                &format!("not a valid agent request: {e}"),
            ),
        ),
    }
}

fn closing() -> TokenError {
    TokenError::Storage("the token agent is shutting down".into())
}

// A panic while holding the lock cannot leave the token half-changed (changes
// are committed whole), so a poisoned lock is still usable.
pub(super) fn with_read<T, R>(
    token: &RwLock<Option<T>>,
    f: impl FnOnce(&T) -> Result<R, TokenError>,
) -> Result<R, TokenError> {
    let guard = token.read().unwrap_or_else(|p| p.into_inner());
    f(guard.as_ref().ok_or_else(closing)?)
}

pub(super) fn with_write<T, R>(
    token: &RwLock<Option<T>>,
    f: impl FnOnce(&mut T) -> Result<R, TokenError>,
) -> Result<R, TokenError> {
    let mut guard = token.write().unwrap_or_else(|p| p.into_inner());
    f(guard.as_mut().ok_or_else(closing)?)
}

/// An open-chunk request in JSON without its chunk.
fn no_chunk() -> TokenError {
    TokenError::InvalidInput(
        "open-chunk needs a chunk (base64, or as the frame's attachment)".into(),
    )
}

/// A public key in an answer.
fn spki(der: &[u8]) -> Reply {
    Reply::PublicKey { spki: der.into() }
}

fn dispatch<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    request: Request,
) -> Result<Reply, TokenError> {
    Ok(match request {
        Request::Info {} => Reply::Info {
            info: with_read(token, |t| t.info())?,
        },
        Request::DeviceKey {} => spki(with_read(token, |t| t.device_key())?.spki_der()),
        Request::TransportKey {} => spki(with_read(token, |t| t.transport_key())?.spki_der()),
        Request::TrustIssuer { issuer } => {
            let key = IdentityPublicKey::from_spki_der(&issuer.0)?;
            with_write(token, |t| t.trust_issuer(&key))?;
            Reply::Done {}
        }
        Request::Generate { slot, algorithm } => {
            spki(with_write(token, |t| t.generate(&slot, algorithm))?.spki_der())
        }
        Request::GenerateKey { slot, algorithm } => {
            spki(with_write(token, |t| t.generate_key(&slot, algorithm))?.spki_der())
        }
        Request::SlotPublicKey { slot } => {
            spki(with_read(token, |t| t.slot_public_key(&slot))?.spki_der())
        }
        Request::SignEc { slot, hash, data } => {
            let signature = match hash {
                Some(h) => {
                    let digest = MessageDigest::from_bytes(h, &data.0)?;
                    with_read(token, |t| t.sign_ec(&slot, EcSigningInput::Digest(&digest)))?
                }
                None => with_read(token, |t| {
                    t.sign_ec(&slot, EcSigningInput::Message(&data.0))
                })?,
            };
            Reply::Signature {
                signature: Bytes(signature),
            }
        }
        Request::PublicKey { slot } => spki(with_read(token, |t| t.public_key(&slot))?.spki_der()),
        Request::Sign {
            slot,
            scheme,
            digest,
        } => {
            let digest = MessageDigest::from_bytes(scheme.hash(), &digest.0)?;
            Reply::Signature {
                signature: Bytes(with_read(token, |t| t.sign(&slot, scheme, &digest))?),
            }
        }
        Request::Decrypt { slot, ciphertext } => Reply::Plaintext {
            plaintext: with_read(token, |t| t.decrypt(&slot, &ciphertext.0))?.into(),
        },
        Request::OpenHpke { slot, info, sealed } => Reply::Plaintext {
            plaintext: with_read(token, |t| t.open_hpke(&slot, &info.0, &sealed.0))?.into(),
        },
        Request::Certificate { slot } => Reply::Certificate {
            certificate: Bytes(with_read(token, |t| t.certificate(&slot))?),
        },
        Request::WriteCertificate { command } => {
            let command = SignedCommand::from_json(&command)?;
            with_write(token, |t| t.write_certificate(&command))?;
            Reply::Done {}
        }
        Request::AcceptKey { command } => {
            let command = SignedCommand::from_json(&command)?;
            spki(with_write(token, |t| t.accept_key(&command))?.spki_der())
        }
        Request::Attest { slot, nonce } => Reply::Attestation {
            attestation: with_read(token, |t| t.attest(&slot, &nonce.0))?.to_json()?,
        },
        Request::Tamper {} => {
            with_write(token, |t| t.tamper())?;
            Reply::Done {}
        }
        Request::PutObject { name, data } => {
            with_write(token, |t| t.put_object(&name, &data.0))?;
            Reply::Done {}
        }
        Request::Object { name } => Reply::Object {
            data: Bytes(with_read(token, |t| t.object(&name))?),
        },
        Request::Objects {} => Reply::Objects {
            objects: with_read(token, |t| t.objects())?,
        },
        Request::OpenContent {
            slot,
            header,
            wrapped_key,
        } => open_content(token, sessions, &slot, &header.0, &wrapped_key.0)?,
        Request::OpenChunk {
            session,
            last,
            chunk,
        } => {
            let mut chunk = Zeroizing::new(chunk.ok_or_else(no_chunk)?.0);
            let n = open_chunk(token, sessions, session, last, &mut chunk)?;
            chunk.truncate(n);
            Reply::Chunk {
                plaintext: Some(WireSecret::from(chunk)),
            }
        }
        Request::CloseContent { session } => {
            sessions.open.remove(&session).ok_or_else(|| {
                TokenError::InvalidInput(format!("no content session {session} on this connection"))
            })?;
            Reply::Done {}
        }
        Request::UnsealFiles { .. } => {
            return Err(TokenError::InvalidInput(
                "unseal-files needs its two file descriptors".into(),
            ))
        }
        joint => dispatch_joint(token, joint)?,
    })
}

/// The joint-key requests, for a token with that capability.
fn dispatch_joint<T: Token>(
    token: &RwLock<Option<T>>,
    request: Request,
) -> Result<Reply, TokenError> {
    // A check and a re-wrap read the joint slot; every other joint
    // request changes it and takes the token for itself.
    if matches!(
        request,
        Request::JointCheck { .. } | Request::JointRewrap { .. }
    ) {
        with_read(token, |t| joint_read(joint_of(t)?, request))
    } else {
        with_write(token, |t| joint_write(joint_of_mut(t)?, request))
    }
}

/// The joint requests that only read the slot.
fn joint_read(j: &dyn JointToken, request: Request) -> Result<Reply, TokenError> {
    match request {
        Request::JointCheck { slot, message } => {
            let message = ChainMessage::parse(message.as_bytes())?;
            Ok(Reply::Check {
                message: j.joint_check(&slot, &message)?.to_json()?,
            })
        }
        Request::JointRewrap { slot, header } => {
            let header = ContentHeader::read_from(&mut &header.0[..])?;
            Ok(Reply::Header {
                header: Bytes(j.joint_rewrap(&slot, &header)?.to_bytes()),
            })
        }
        other => Err(not_joint_request(&other)),
    }
}

/// The joint requests that change the slot.
fn joint_write(j: &mut dyn JointToken, request: Request) -> Result<Reply, TokenError> {
    match request {
        Request::JointInit {
            slot,
            algorithm,
            e,
            partial,
        } => Ok(Reply::Offset {
            offset: j.joint_init(&slot, algorithm, e, partial.expose())?,
        }),
        Request::JointContribute { slot, partial } => Ok(Reply::Offset {
            offset: j.joint_contribute(&slot, partial.expose())?,
        }),
        Request::JointFinish { slot } => Ok(spki(j.joint_finish(&slot)?.spki_der())),
        Request::JointReissueBegin { slot, permission } => {
            j.joint_reissue_begin(&slot, &ChainMessage::parse(permission.as_bytes())?)?;
            Ok(Reply::Done {})
        }
        Request::JointRotate { slot, step } => Ok(Reply::Rotated {
            outcome: match j.joint_rotate(&slot, RotateStep::from(step))? {
                RotateOutcome::Begun { public } => WireRotateOutcome::Begun {
                    spki: public.spki_der().into(),
                },
                RotateOutcome::Entered { offset, waiting } => {
                    WireRotateOutcome::Entered { offset, waiting }
                }
                RotateOutcome::Committed { public } => WireRotateOutcome::Committed {
                    spki: public.spki_der().into(),
                },
            },
        }),
        Request::JointReissueEnter { slot, partial } => {
            j.joint_reissue_enter(&slot, partial.expose())?;
            Ok(Reply::Done {})
        }
        Request::JointReissueFinish { slot } => Ok(spki(j.joint_reissue_finish(&slot)?.spki_der())),
        Request::JointOutputD0 { slot, recipient } => Ok(Reply::D0 {
            d0: Bytes(j.joint_output_d0(&slot, &recipient)?),
        }),
        other => Err(not_joint_request(&other)),
    }
}

fn not_joint_request(request: &Request) -> TokenError {
    TokenError::Internal(format!("{request:?} is not a joint-key request"))
}

/// Opens a content session: the header checked whole, the content key
/// unwrapped inside the token, the opener kept for the connection.
fn open_content<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    slot: &SlotName,
    header: &[u8],
    wrapped_key: &[u8],
) -> Result<Reply, TokenError> {
    if sessions.open.len() >= MAX_SESSIONS {
        return Err(TokenError::InvalidInput(format!(
            "a connection may hold at most {MAX_SESSIONS} content sessions"
        )));
    }
    let header = parse_header(header)?;
    let opener = with_read(token, |t| t.open_content(slot, &header, wrapped_key))?;
    sessions.next += 1;
    sessions.open.insert(sessions.next, opener);
    Ok(Reply::Session {
        session: sessions.next,
    })
}

/// The header a request carries, whole: nothing may follow it.
pub(super) fn parse_header(bytes: &[u8]) -> Result<ContentHeader, TokenError> {
    let mut input = bytes;
    let header = ContentHeader::read_from(&mut input)?;
    if !input.is_empty() {
        return Err(TokenError::InvalidInput(
            "bytes follow the content header".into(),
        ));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::test_support::token_and_sealed;
    use crate::agent::AgentClient;
    use symbolon::content::{ContentError, DEFAULT_CHUNK_LOG2};

    #[test]
    fn shares_open_through_the_agent_and_content_keys_do_not() {
        use symbolon::keys::{hpke, EcCurve, KeyAlgorithm, PublicKey};
        use symbolon::token::{MemoryStore, SealingKey, SoftToken};
        let dir = tempfile::tempdir().unwrap();
        let slot = SlotName::new("e").unwrap();
        let mut t =
            SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
        let PublicKey::Ec(pk) = t
            .generate_key(&slot, KeyAlgorithm::Ec(EcCurve::P256))
            .unwrap()
        else {
            panic!("not an EC key")
        };
        let sock = dir.path().join("a.sock");
        let listener = bind(&sock).unwrap();
        std::thread::spawn(move || serve(listener, t));
        let agent = AgentClient::connect(&sock).unwrap();
        let request = symbolon::escrow::RecoveryId::random().unwrap();
        let info = |a: &str| {
            let a = symbolon::escrow::ArbitratorId::new(a).unwrap();
            symbolon::escrow::enclave_share::share_info(&request, &a)
        };
        let sealed = hpke::seal(&pk, &info("a"), b"a share").unwrap();
        assert_eq!(
            agent
                .open_hpke(&slot, &info("a"), &sealed)
                .unwrap()
                .as_slice(),
            b"a share"
        );
        let e = agent.open_hpke(&slot, &info("b"), &sealed).unwrap_err();
        assert_eq!(e.code(), Code::DecryptionFailed, "{e}");
        let info = b"symbolon-content v2 key0123456789abcdef";
        let content = hpke::seal(&pk, info, &[7; 32]).unwrap();
        let e = agent.open_hpke(&slot, info, &content).unwrap_err();
        assert_eq!(e.code(), Code::InvalidInput, "{e}");
    }

    #[test]
    fn a_refused_chunk_ends_its_session() {
        let dir = tempfile::tempdir().unwrap();
        let plain = vec![7u8; 3000];
        let (t, slot, sealed) = token_and_sealed(&plain, DEFAULT_CHUNK_LOG2);
        let sock = dir.path().join("a.sock");
        let listener = bind(&sock).unwrap();
        std::thread::spawn(move || serve(listener, t));
        let agent = AgentClient::connect(&sock).unwrap();
        let mut input = sealed.as_slice();
        let header = ContentHeader::read_from(&mut input).unwrap();
        let open = || {
            agent
                .open_content(&slot, &header, header.wrapped_key())
                .unwrap()
        };
        // The one chunk, genuine, opens in a fresh session.
        let mut chunk = input.to_vec();
        assert_eq!(open().open_chunk(&mut chunk, true).unwrap(), plain.len());
        // Altered: refused, and the genuine chunk after it finds no session.
        let mut opener = open();
        let mut bad = input.to_vec();
        bad[10] ^= 1;
        assert!(matches!(
            opener.open_chunk(&mut bad, true),
            Err(ContentError::ChunkAltered { index: 0 })
        ));
        let mut chunk = input.to_vec();
        match opener.open_chunk(&mut chunk, true) {
            Err(ContentError::Io(m)) => assert!(m.contains("no content session"), "{m}"),
            other => panic!("a second try in a failed session: {other:?}"),
        }
    }

    #[test]
    fn the_fallback_reply_is_a_protocol_error_the_client_reads() {
        match serde_json::from_slice::<Response>(UNENCODABLE_REPLY).unwrap() {
            Response::Error(e) => assert_eq!(e.code, Code::AgentProtocol),
            Response::Ok(_) => panic!("the fallback is an error"),
        }
    }

    #[test]
    fn secrets_in_requests_are_redacted_from_debug() {
        let r = Request::JointContribute {
            slot: SlotName::new("j").unwrap(),
            partial: WireSecret::new(b"the partial exponent"),
        };
        let text = serde_json::to_string(&r).unwrap();
        let back: Request = serde_json::from_str(&text).unwrap();
        let debug = format!("{back:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains("dGhlIHBhcnRpYWw"), "{debug}");
        let Request::JointContribute { partial, .. } = back else {
            panic!("round trip")
        };
        assert_eq!(&partial.into_inner()[..], b"the partial exponent");
    }
}

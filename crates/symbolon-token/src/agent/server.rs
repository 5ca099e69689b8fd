//! The agent's server side: accept, check the peer, dispatch to the token.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use symbolon::content::{ChunkOpener, ContentHeader};
use symbolon::joint::{ChainMessage, RotateOutcome, RotateStep};
use symbolon::keys::{
    EcSigningInput, HashAlgorithm, IdentityPublicKey, KeyAlgorithm, MessageDigest, RsaAlgorithm,
    SignatureScheme,
};
use symbolon::token::{SignedCommand, SlotName, Token, TokenError};
use symbolon::Code;
use thiserror::Error;

use super::protocol::{
    read_frame, split_attachment, wait_readable, write_frame_with, Request, Response, WireError,
    WireSecret,
};

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
        std::thread::spawn(move || {
            connection(stream, &token);
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

/// Opens one chunk of a session; returns its plaintext.
fn open_chunk<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    session: u64,
    last: bool,
    mut chunk: Vec<u8>,
) -> Result<Vec<u8>, TokenError> {
    // A session dies with its token: a tamper on any connection ends it.
    with_read(token, |t| t.info().map(drop))?;
    let opener = sessions
        .open
        .get_mut(&session)
        .ok_or_else(|| TokenError::InvalidInput(format!("no content session {session}")))?;
    let n = opener.open_chunk(&mut chunk, last)?;
    chunk.truncate(n);
    Ok(chunk)
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

fn connection<T: Token>(mut stream: UnixStream, token: &RwLock<Option<T>>) {
    let mut sessions = Sessions::default();
    loop {
        // A client that sends back to back is usually here within microseconds.
        if wait_readable(&stream, NEXT_REQUEST_SPIN).is_err() {
            return;
        }
        // A request may carry a secret (a partial): its frame is zeroised
        // once handled.
        let frame = match read_frame(&mut stream) {
            Ok(Some(f)) => zeroize::Zeroizing::new(f),
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
        let (json_part, attachment) = split_attachment(&frame);
        if let (
            Some(chunk),
            Ok(Request::OpenChunk {
                session,
                last,
                chunk: None,
            }),
        ) = (attachment, serde_json::from_slice::<Request>(json_part))
        {
            // The fast path: the chunk and its plaintext as raw attachments.
            let sent = match open_chunk(token, &mut sessions, session, last, chunk.to_vec()) {
                Ok(plain) => send_with(&mut stream, Response::Ok(Value::Null), Some(&plain)),
                Err(e) => send(&mut stream, error_response(e.code(), &e.to_string())),
            };
            if sent.is_err() {
                return;
            }
            continue;
        }
        let response = match serde_json::from_slice::<Request>(json_part) {
            Ok(request) => match dispatch(token, &mut sessions, request) {
                Ok(v) => Response::Ok(v),
                Err(e) => error_response(e.code(), &e.to_string()),
            },
            Err(e) => error_response(
                Code::AgentProtocol,
                &format!("not a valid agent request: {e}"),
            ),
        };
        if send(&mut stream, response).is_err() {
            return;
        }
    }
}

fn secret(field: &str, v: &WireSecret) -> Result<zeroize::Zeroizing<Vec<u8>>, TokenError> {
    v.decode()
        .map_err(|e| TokenError::AgentProtocol(format!("{field}: {e}")))
}

fn b64(field: &str, v: &str) -> Result<Vec<u8>, TokenError> {
    B64.decode(v)
        .map_err(|e| TokenError::InvalidInput(format!("{field}: {e}")))
}

fn closing() -> TokenError {
    TokenError::Storage("the token agent is shutting down".into())
}

// A panic while holding the lock cannot leave the token half-changed (changes
// are committed whole), so a poisoned lock is still usable.
fn with_read<T, R>(
    token: &RwLock<Option<T>>,
    f: impl FnOnce(&T) -> Result<R, TokenError>,
) -> Result<R, TokenError> {
    let guard = token.read().unwrap_or_else(|p| p.into_inner());
    f(guard.as_ref().ok_or_else(closing)?)
}

fn with_write<T, R>(
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

/// A public key in an answer: its SubjectPublicKeyInfo, base64.
fn spki(der: &[u8]) -> Value {
    json!({ "spki": B64.encode(der) })
}

fn dispatch<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    request: Request,
) -> Result<Value, TokenError> {
    let slot_name = |s: &str| SlotName::new(s);
    Ok(match request {
        Request::Info => {
            let info = with_read(token, |t| t.info())?;
            serde_json::to_value(info).map_err(|e| TokenError::InvalidInput(e.to_string()))?
        }
        Request::DeviceKey => spki(with_read(token, |t| t.device_key())?.spki_der()),
        Request::TransportKey => spki(with_read(token, |t| t.transport_key())?.spki_der()),
        Request::TrustIssuer { issuer } => {
            let key = IdentityPublicKey::from_spki_der(&b64("issuer", &issuer)?)?;
            with_write(token, |t| t.trust_issuer(&key))?;
            Value::Null
        }
        Request::Generate { slot, algorithm } => generate(token, &slot, &algorithm)?,
        Request::GenerateKey { slot, algorithm } => generate_key(token, &slot, &algorithm)?,
        Request::SlotPublicKey { slot } => {
            let slot = slot_name(&slot)?;
            spki(with_read(token, |t| t.slot_public_key(&slot))?.spki_der())
        }
        Request::SignEc { slot, hash, data } => sign_ec(token, &slot, hash.as_deref(), &data)?,
        Request::PublicKey { slot } => {
            let slot = slot_name(&slot)?;
            spki(with_read(token, |t| t.public_key(&slot))?.spki_der())
        }
        Request::Sign {
            slot,
            scheme,
            digest,
        } => sign(token, &slot, &scheme, &digest)?,
        Request::Decrypt { slot, ciphertext } => decrypt(token, &slot, &ciphertext)?,
        Request::Certificate { slot } => {
            let slot = slot_name(&slot)?;
            json!({ "certificate": B64.encode(with_read(token, |t| t.certificate(&slot))?) })
        }
        Request::WriteCertificate { command } => {
            let command = SignedCommand::from_json(&command)?;
            with_write(token, |t| t.write_certificate(&command))?;
            Value::Null
        }
        Request::AcceptKey { command } => {
            let command = SignedCommand::from_json(&command)?;
            spki(with_write(token, |t| t.accept_key(&command))?.spki_der())
        }
        Request::Attest { slot, nonce } => attest(token, &slot, &nonce)?,
        Request::Tamper => {
            with_write(token, |t| t.tamper())?;
            Value::Null
        }
        Request::JointInit {
            slot,
            algorithm,
            e,
            partial,
        } => joint_init(token, &slot, &algorithm, e, &partial)?,
        Request::JointContribute { slot, partial } => joint_contribute(token, &slot, &partial)?,
        Request::JointFinish { slot } => {
            let slot = slot_name(&slot)?;
            spki(with_write(token, |t| t.joint_finish(&slot))?.spki_der())
        }
        Request::JointReissueBegin { slot, permission } => {
            joint_reissue_begin(token, &slot, &permission)?
        }
        Request::JointCheck { slot, message } => joint_check(token, &slot, &message)?,
        Request::JointRotate {
            slot,
            step,
            e,
            party,
            old,
            new,
        } => joint_rotate(token, &slot, &step, e, party, old, new)?,
        Request::JointRewrap { slot, header } => joint_rewrap(token, &slot, &header)?,
        Request::JointReissueEnter { slot, partial } => {
            joint_reissue_enter(token, &slot, &partial)?
        }
        Request::JointReissueFinish { slot } => {
            let slot = slot_name(&slot)?;
            spki(with_write(token, |t| t.joint_reissue_finish(&slot))?.spki_der())
        }
        Request::JointOutputD0 { slot, recipient } => {
            let slot = slot_name(&slot)?;
            json!({ "d0": B64.encode(with_write(token, |t| t.joint_output_d0(&slot, &recipient))?) })
        }
        Request::PutObject { name, data } => put_object(token, &name, &data)?,
        Request::Object { name } => {
            let name = slot_name(&name)?;
            json!({ "data": B64.encode(with_read(token, |t| t.object(&name))?) })
        }
        Request::Objects => {
            let names = with_read(token, |t| t.objects())?;
            json!({ "objects": names.iter().map(SlotName::as_str).collect::<Vec<_>>() })
        }
        Request::OpenContent {
            slot,
            header,
            wrapped_key,
        } => open_content(token, sessions, &slot, &header, &wrapped_key)?,
        Request::OpenChunk {
            session,
            last,
            chunk,
        } => {
            let chunk = b64("chunk", &chunk.ok_or_else(no_chunk)?)?;
            json!({ "plaintext": B64.encode(open_chunk(token, sessions, session, last, chunk)?) })
        }
        Request::CloseContent { session } => {
            sessions.open.remove(&session);
            Value::Null
        }
    })
}

/// `Token::sign_ec` over a digest of `hash`, or over the message.
fn sign_ec<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    hash: Option<&str>,
    data: &str,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let data = b64("data", data)?;
    let sig = match hash {
        Some(h) => {
            let digest = MessageDigest::from_bytes(h.parse::<HashAlgorithm>()?, &data)?;
            with_read(token, |t| t.sign_ec(&slot, EcSigningInput::Digest(&digest)))?
        }
        None => with_read(token, |t| t.sign_ec(&slot, EcSigningInput::Message(&data)))?,
    };
    Ok(json!({ "signature": B64.encode(sig) }))
}

/// One step of a FIG. 21 rotation: begin (with e′), enter (with a party's
/// old and new partials) or commit.
fn joint_rotate<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    step: &str,
    e: Option<u64>,
    party: Option<u32>,
    old: Option<WireSecret>,
    new: Option<WireSecret>,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let step = match (step, e, party, old) {
        ("begin", Some(e_start), None, None) => RotateStep::Begin { e_start },
        ("enter", None, Some(party), Some(old)) => RotateStep::Enter {
            party,
            old: secret("old", &old)?,
            new: new.map(|n| secret("new", &n)).transpose()?,
        },
        ("commit", None, None, None) => RotateStep::Commit,
        _ => {
            return Err(TokenError::InvalidInput(
                "a rotation step is begin (with e), enter (with party and old) or commit".into(),
            ))
        }
    };
    Ok(match with_write(token, |t| t.joint_rotate(&slot, step))? {
        RotateOutcome::Begun { public } => {
            json!({ "outcome": "begun", "spki": B64.encode(public.spki_der()) })
        }
        RotateOutcome::Entered { offset, waiting } => {
            json!({ "outcome": "entered", "offset": offset, "waiting": waiting })
        }
        RotateOutcome::Committed { public } => {
            json!({ "outcome": "committed", "spki": B64.encode(public.spki_der()) })
        }
    })
}

/// Opens a content session: the header checked whole, the content key
/// unwrapped inside the token, the opener kept for the connection.
fn open_content<T: Token>(
    token: &RwLock<Option<T>>,
    sessions: &mut Sessions,
    slot: &str,
    header: &str,
    wrapped_key: &str,
) -> Result<Value, TokenError> {
    if sessions.open.len() >= MAX_SESSIONS {
        return Err(TokenError::InvalidInput(format!(
            "a connection may hold at most {MAX_SESSIONS} content sessions"
        )));
    }
    let slot = SlotName::new(slot)?;
    let header_bytes = b64("header", header)?;
    let mut input = header_bytes.as_slice();
    let header = ContentHeader::read_from(&mut input)?;
    if !input.is_empty() {
        return Err(TokenError::InvalidInput(
            "bytes follow the content header".into(),
        ));
    }
    let wrapped = b64("wrapped_key", wrapped_key)?;
    let opener = with_read(token, |t| t.open_content(&slot, &header, &wrapped))?;
    sessions.next += 1;
    sessions.open.insert(sessions.next, opener);
    Ok(json!({ "session": sessions.next }))
}

/// `Token::joint_init`: the first partial and e, in a new joint slot.
fn joint_init<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    algorithm: &str,
    e: u64,
    partial: &WireSecret,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let alg: RsaAlgorithm = algorithm.parse()?;
    let partial = secret("partial", partial)?;
    Ok(json!({ "offset": with_write(token, |t| t.joint_init(&slot, alg, e, &partial))? }))
}

/// `Token::joint_contribute`: another party's partial.
fn joint_contribute<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    partial: &WireSecret,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let partial = secret("partial", partial)?;
    Ok(json!({ "offset": with_write(token, |t| t.joint_contribute(&slot, &partial))? }))
}

/// `Token::joint_reissue_begin`: a FIG. 20 form every party signed.
fn joint_reissue_begin<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    permission: &str,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let permission = ChainMessage::parse(permission.as_bytes())?;
    with_write(token, |t| t.joint_reissue_begin(&slot, &permission))?;
    Ok(Value::Null)
}

/// `Token::joint_check`: the token's views of a FIG. 19 chain.
fn joint_check<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    message: &str,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let message = ChainMessage::parse(message.as_bytes())?;
    Ok(json!({ "message": with_read(token, |t| t.joint_check(&slot, &message))?.to_json()? }))
}

/// `Token::joint_rewrap`: a content header rewrapped to the joint key.
fn joint_rewrap<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    header: &str,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let header = ContentHeader::read_from(&mut &b64("header", header)?[..])?;
    Ok(
        json!({ "header": B64.encode(with_read(token, |t| t.joint_rewrap(&slot, &header))?.to_bytes()) }),
    )
}

/// `Token::joint_reissue_enter`: a partial entered into the reissued slot.
fn joint_reissue_enter<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    partial: &WireSecret,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let partial = secret("partial", partial)?;
    with_write(token, |t| t.joint_reissue_enter(&slot, &partial))?;
    Ok(Value::Null)
}

/// `Token::sign` over a digest.
fn sign<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    scheme: &str,
    digest: &str,
) -> Result<Value, TokenError> {
    let scheme: SignatureScheme = scheme.parse()?;
    let digest = MessageDigest::from_bytes(scheme.hash(), &b64("digest", digest)?)?;
    let slot = SlotName::new(slot)?;
    let sig = with_read(token, |t| t.sign(&slot, scheme, &digest))?;
    Ok(json!({ "signature": B64.encode(sig) }))
}

/// `Token::decrypt` (RSA-OAEP).
fn decrypt<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    ciphertext: &str,
) -> Result<Value, TokenError> {
    let slot = SlotName::new(slot)?;
    let ct = b64("ciphertext", ciphertext)?;
    let pt = with_read(token, |t| t.decrypt(&slot, &ct))?;
    Ok(json!({ "plaintext": B64.encode(pt.as_slice()) }))
}

/// `Token::attest` with the verifier's nonce.
fn attest<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    nonce: &str,
) -> Result<Value, TokenError> {
    let nonce = hex::decode(nonce).map_err(|e| TokenError::InvalidInput(format!("nonce: {e}")))?;
    let slot = SlotName::new(slot)?;
    Ok(json!({ "attestation": with_read(token, |t| t.attest(&slot, &nonce))?.to_json()? }))
}

/// `Token::put_object`.
fn put_object<T: Token>(
    token: &RwLock<Option<T>>,
    name: &str,
    data: &str,
) -> Result<Value, TokenError> {
    let name = SlotName::new(name)?;
    let data = b64("data", data)?;
    with_write(token, |t| t.put_object(&name, &data))?;
    Ok(Value::Null)
}

/// `Token::generate` (RSA).
fn generate<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    algorithm: &str,
) -> Result<Value, TokenError> {
    let alg: RsaAlgorithm = algorithm.parse()?;
    let slot = SlotName::new(slot)?;
    Ok(spki(
        with_write(token, |t| t.generate(&slot, alg))?.spki_der(),
    ))
}

/// `Token::generate_key` (RSA or EC).
fn generate_key<T: Token>(
    token: &RwLock<Option<T>>,
    slot: &str,
    algorithm: &str,
) -> Result<Value, TokenError> {
    let alg: KeyAlgorithm = algorithm.parse()?;
    let slot = SlotName::new(slot)?;
    Ok(spki(
        with_write(token, |t| t.generate_key(&slot, alg))?.spki_der(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            slot: "j".into(),
            partial: WireSecret::encode(b"the partial exponent"),
        };
        let text = serde_json::to_string(&r).unwrap();
        let back: Request = serde_json::from_str(&text).unwrap();
        let debug = format!("{back:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains("dGhlIHBhcnRpYWw"), "{debug}");
        let Request::JointContribute { partial, .. } = back else {
            panic!("round trip")
        };
        assert_eq!(&partial.decode().unwrap()[..], b"the partial exponent");
    }
}

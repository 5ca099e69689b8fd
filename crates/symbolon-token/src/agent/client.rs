//! The agent's client side: a `Token` whose every call crosses the socket.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use symbolon::content::{ChunkOpener, ContentError, ContentHeader};
use symbolon::joint::{ChainMessage, RotateOutcome, RotateStep};
use symbolon::keys::{
    EcSigningInput, IdentityPublicKey, KeyAlgorithm, MessageDigest, PublicKey, RsaAlgorithm,
    RsaPublicKey, SignatureScheme,
};
use symbolon::token::{Attestation, SignedCommand, SlotName, Token, TokenError, TokenInfo};
use symbolon::Code;
use zeroize::Zeroizing;

use super::protocol::{
    read_frame, split_attachment, wait_readable, write_frame_with, Request, Response, WireSecret,
};

/// How long a client busy-waits for a reply before sleeping: about one
/// RSA-3072 private-key operation.
const REPLY_SPIN: std::time::Duration = std::time::Duration::from_micros(700);

/// A connection to a token agent.
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

    fn call(&self, request: &Request) -> Result<Value, TokenError> {
        call(&self.stream, request)
    }

    fn field(v: &Value, name: &str) -> Result<Vec<u8>, TokenError> {
        v.get(name)
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| TokenError::AgentProtocol(format!("the reply lacks {name}")))
    }
}

fn offset(v: &Value) -> Result<u64, TokenError> {
    v.get("offset")
        .and_then(Value::as_u64)
        .ok_or_else(|| TokenError::AgentProtocol("the reply lacks offset".into()))
}

/// One request and its answer; the lock keeps request and reply paired.
fn call(stream: &Mutex<UnixStream>, request: &Request) -> Result<Value, TokenError> {
    call_with(stream, request, None).map(|(v, _)| v)
}

/// A request with an optional raw attachment; the answer and its attachment.
fn call_with(
    stream: &Mutex<UnixStream>,
    request: &Request,
    attachment: Option<&[u8]>,
) -> Result<(Value, Option<Vec<u8>>), TokenError> {
    let io = |e: std::io::Error| TokenError::Storage(format!("token agent connection: {e}"));
    // The body may hold a secret (a partial): zeroised once sent.
    let body = serde_json::to_vec(request)
        .map(Zeroizing::new)
        .map_err(|e| TokenError::AgentProtocol(format!("cannot encode the request: {e}")))?;
    let mut stream = stream.lock().unwrap_or_else(|p| p.into_inner());
    write_frame_with(&mut *stream, &body, attachment).map_err(io)?;
    wait_readable(&*stream, REPLY_SPIN).map_err(io)?;
    let frame = read_frame(&mut *stream)
        .map_err(io)?
        .ok_or_else(|| TokenError::Storage("the token agent closed the connection".into()))?;
    let (json, attached) = split_attachment(&frame);
    match serde_json::from_slice::<Response>(json)
        .map_err(|e| TokenError::AgentProtocol(format!("malformed reply: {e}")))?
    {
        Response::Ok(v) => Ok((v, attached.map(<[u8]>::to_vec))),
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
}

impl ChunkOpener for AgentOpener {
    fn open_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<usize, ContentError> {
        let (_, plain) = call_with(
            &self.stream,
            &Request::OpenChunk {
                session: self.session,
                last,
                chunk: None,
            },
            Some(chunk),
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
        let plain = plain
            .ok_or_else(|| ContentError::Io("the agent answered without the plaintext".into()))?;
        if plain.len() + symbolon::content::TAG_LEN != chunk.len() {
            return Err(ContentError::Io(
                "the agent answered a chunk of the wrong length".into(),
            ));
        }
        chunk[..plain.len()].copy_from_slice(&plain);
        Ok(plain.len())
    }
}

impl Drop for AgentOpener {
    fn drop(&mut self) {
        // Best effort: the agent also closes a connection's sessions when
        // the connection ends, so a lost close leaves nothing open for long.
        let _ = call(
            &self.stream,
            &Request::CloseContent {
                session: self.session,
            },
        );
    }
}

impl Token for AgentClient {
    fn info(&self) -> Result<TokenInfo, TokenError> {
        serde_json::from_value(self.call(&Request::Info)?)
            .map_err(|e| TokenError::AgentProtocol(format!("malformed reply: {e}")))
    }

    fn device_key(&self) -> Result<IdentityPublicKey, TokenError> {
        Ok(IdentityPublicKey::from_spki_der(&Self::field(
            &self.call(&Request::DeviceKey)?,
            "spki",
        )?)?)
    }

    fn transport_key(&self) -> Result<RsaPublicKey, TokenError> {
        Ok(RsaPublicKey::from_der(&Self::field(
            &self.call(&Request::TransportKey)?,
            "spki",
        )?)?)
    }

    fn trust_issuer(&mut self, issuer: &IdentityPublicKey) -> Result<(), TokenError> {
        self.call(&Request::TrustIssuer {
            issuer: B64.encode(issuer.spki_der()),
        })
        .map(|_| ())
    }

    fn generate(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
    ) -> Result<RsaPublicKey, TokenError> {
        let v = self.call(&Request::Generate {
            slot: slot.to_string(),
            algorithm: algorithm.name().into(),
        })?;
        Ok(RsaPublicKey::from_der(&Self::field(&v, "spki")?)?)
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
        let v = self.call(&Request::GenerateKey {
            slot: slot.to_string(),
            algorithm: algorithm.name().into(),
        })?;
        Ok(PublicKey::from_spki_der(&Self::field(&v, "spki")?)?)
    }

    fn slot_public_key(&self, slot: &SlotName) -> Result<PublicKey, TokenError> {
        let v = self.call(&Request::SlotPublicKey {
            slot: slot.to_string(),
        })?;
        Ok(PublicKey::from_spki_der(&Self::field(&v, "spki")?)?)
    }

    fn sign_ec(&self, slot: &SlotName, input: EcSigningInput<'_>) -> Result<Vec<u8>, TokenError> {
        let (hash, data) = match input {
            EcSigningInput::Digest(d) => (Some(d.algorithm().name().to_string()), d.as_bytes()),
            EcSigningInput::Message(m) => (None, m),
        };
        let v = self.call(&Request::SignEc {
            slot: slot.to_string(),
            hash,
            data: B64.encode(data),
        })?;
        Self::field(&v, "signature")
    }

    fn sign(
        &self,
        slot: &SlotName,
        scheme: SignatureScheme,
        digest: &MessageDigest,
    ) -> Result<Vec<u8>, TokenError> {
        let v = self.call(&Request::Sign {
            slot: slot.to_string(),
            scheme: scheme.name().into(),
            digest: B64.encode(digest.as_bytes()),
        })?;
        Self::field(&v, "signature")
    }

    fn decrypt(
        &self,
        slot: &SlotName,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let v = self.call(&Request::Decrypt {
            slot: slot.to_string(),
            ciphertext: B64.encode(ciphertext),
        })?;
        Ok(Zeroizing::new(Self::field(&v, "plaintext")?))
    }

    fn certificate(&self, slot: &SlotName) -> Result<Vec<u8>, TokenError> {
        Self::field(
            &self.call(&Request::Certificate {
                slot: slot.to_string(),
            })?,
            "certificate",
        )
    }

    fn write_certificate(&mut self, command: &SignedCommand) -> Result<(), TokenError> {
        self.call(&Request::WriteCertificate {
            command: command.to_json()?,
        })
        .map(|_| ())
    }

    fn accept_key(&mut self, command: &SignedCommand) -> Result<PublicKey, TokenError> {
        let v = self.call(&Request::AcceptKey {
            command: command.to_json()?,
        })?;
        Ok(PublicKey::from_spki_der(&Self::field(&v, "spki")?)?)
    }

    fn attest(&self, slot: &SlotName, nonce: &[u8]) -> Result<Attestation, TokenError> {
        let v = self.call(&Request::Attest {
            slot: slot.to_string(),
            nonce: hex::encode(nonce),
        })?;
        let text = v
            .get("attestation")
            .and_then(Value::as_str)
            .ok_or_else(|| TokenError::AgentProtocol("the reply lacks the attestation".into()))?;
        Attestation::from_json(text).map_err(|e| TokenError::AgentProtocol(e.to_string()))
    }

    fn tamper(&mut self) -> Result<(), TokenError> {
        self.call(&Request::Tamper).map(|_| ())
    }

    fn joint_init(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
        e_start: u64,
        partial: &[u8],
    ) -> Result<u64, TokenError> {
        let partial = WireSecret::encode(partial);
        let v = self.call(&Request::JointInit {
            slot: slot.to_string(),
            algorithm: algorithm.name().into(),
            e: e_start,
            partial,
        })?;
        offset(&v)
    }

    fn joint_contribute(&mut self, slot: &SlotName, partial: &[u8]) -> Result<u64, TokenError> {
        let partial = WireSecret::encode(partial);
        let v = self.call(&Request::JointContribute {
            slot: slot.to_string(),
            partial,
        })?;
        offset(&v)
    }

    fn joint_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        let v = self.call(&Request::JointFinish {
            slot: slot.to_string(),
        })?;
        Ok(RsaPublicKey::from_der(&Self::field(&v, "spki")?)?)
    }

    fn joint_reissue_begin(
        &mut self,
        slot: &SlotName,
        permission: &ChainMessage,
    ) -> Result<(), TokenError> {
        self.call(&Request::JointReissueBegin {
            slot: slot.to_string(),
            permission: permission.to_json()?,
        })
        .map(|_| ())
    }

    fn joint_check(
        &self,
        slot: &SlotName,
        message: &ChainMessage,
    ) -> Result<ChainMessage, TokenError> {
        let v = self.call(&Request::JointCheck {
            slot: slot.to_string(),
            message: message.to_json()?,
        })?;
        let text = v
            .get("message")
            .and_then(|m| m.as_str())
            .ok_or_else(|| TokenError::AgentProtocol("the agent sent no check".into()))?;
        Ok(ChainMessage::parse(text.as_bytes())?)
    }

    fn joint_rotate(
        &mut self,
        slot: &SlotName,
        step: RotateStep,
    ) -> Result<RotateOutcome, TokenError> {
        let request = match step {
            RotateStep::Begin { e_start } => Request::JointRotate {
                slot: slot.to_string(),
                step: "begin".into(),
                e: Some(e_start),
                party: None,
                old: None,
                new: None,
            },
            RotateStep::Enter { party, old, new } => Request::JointRotate {
                slot: slot.to_string(),
                step: "enter".into(),
                e: None,
                party: Some(party),
                old: Some(WireSecret::encode(&old)),
                new: new.map(|n| WireSecret::encode(&n)),
            },
            RotateStep::Commit => Request::JointRotate {
                slot: slot.to_string(),
                step: "commit".into(),
                e: None,
                party: None,
                old: None,
                new: None,
            },
        };
        let v = self.call(&request)?;
        let public = || -> Result<RsaPublicKey, TokenError> {
            Ok(RsaPublicKey::from_der(&Self::field(&v, "spki")?)?)
        };
        Ok(match v.get("outcome").and_then(|o| o.as_str()) {
            Some("begun") => RotateOutcome::Begun { public: public()? },
            Some("committed") => RotateOutcome::Committed { public: public()? },
            Some("entered") => {
                RotateOutcome::Entered {
                    offset: v.get("offset").and_then(|o| o.as_u64()),
                    waiting: serde_json::from_value(v.get("waiting").cloned().ok_or_else(
                        || TokenError::AgentProtocol("the reply lacks waiting".into()),
                    )?)
                    .map_err(|e| TokenError::AgentProtocol(format!("waiting: {e}")))?,
                }
            }
            _ => {
                return Err(TokenError::AgentProtocol(
                    "the agent sent no rotation outcome".into(),
                ))
            }
        })
    }

    fn joint_rewrap(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
    ) -> Result<ContentHeader, TokenError> {
        let v = self.call(&Request::JointRewrap {
            slot: slot.to_string(),
            header: B64.encode(header.to_bytes()),
        })?;
        Ok(ContentHeader::read_from(
            &mut &Self::field(&v, "header")?[..],
        )?)
    }

    fn joint_reissue_enter(&mut self, slot: &SlotName, partial: &[u8]) -> Result<(), TokenError> {
        let partial = WireSecret::encode(partial);
        self.call(&Request::JointReissueEnter {
            slot: slot.to_string(),
            partial,
        })
        .map(|_| ())
    }

    fn joint_reissue_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        let v = self.call(&Request::JointReissueFinish {
            slot: slot.to_string(),
        })?;
        Ok(RsaPublicKey::from_der(&Self::field(&v, "spki")?)?)
    }

    fn joint_output_d0(&mut self, slot: &SlotName, recipient: &str) -> Result<Vec<u8>, TokenError> {
        Self::field(
            &self.call(&Request::JointOutputD0 {
                slot: slot.to_string(),
                recipient: recipient.to_string(),
            })?,
            "d0",
        )
    }

    fn put_object(&mut self, name: &SlotName, data: &[u8]) -> Result<(), TokenError> {
        self.call(&Request::PutObject {
            name: name.to_string(),
            data: B64.encode(data),
        })
        .map(|_| ())
    }

    fn object(&self, name: &SlotName) -> Result<Vec<u8>, TokenError> {
        Self::field(
            &self.call(&Request::Object {
                name: name.to_string(),
            })?,
            "data",
        )
    }

    fn objects(&self) -> Result<Vec<SlotName>, TokenError> {
        let v = self.call(&Request::Objects)?;
        v.get("objects")
            .and_then(Value::as_array)
            .ok_or_else(|| TokenError::AgentProtocol("the reply lacks objects".into()))?
            .iter()
            .map(|n| {
                let name = n.as_str().ok_or_else(|| {
                    TokenError::AgentProtocol("an object name is not text".into())
                })?;
                SlotName::new(name)
            })
            .collect()
    }

    fn open_content(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
        wrapped_key: &[u8],
    ) -> Result<Box<dyn ChunkOpener + Send>, TokenError> {
        let v = self.call(&Request::OpenContent {
            slot: slot.to_string(),
            header: B64.encode(header.to_bytes()),
            wrapped_key: B64.encode(wrapped_key),
        })?;
        let session = v
            .get("session")
            .and_then(Value::as_u64)
            .ok_or_else(|| TokenError::AgentProtocol("the reply lacks the session".into()))?;
        Ok(Box::new(AgentOpener {
            stream: Arc::clone(&self.stream),
            session,
            index: 0,
        }))
    }
}

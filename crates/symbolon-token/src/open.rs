//! Turning a `--token` argument into a token: a soft-token file path,
//! `agent:/path/to.sock` for a token agent, or an RFC 7512 `pkcs11:` URI
//! for a hardware token (docs/design.md §4).

use std::path::{Path, PathBuf};

use symbolon::token::{Token, TokenError};

use crate::agent::AgentClient;
use crate::file::{default_sealing_key_path, open_token, LOCK_WAIT};
use crate::pkcs11::{Pkcs11Token, Pkcs11Uri};

/// Where a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSpec {
    /// A soft-token file opened in this process.
    File {
        /// The sealed state file.
        path: PathBuf,
        /// Its sealing key file.
        sealing_key: PathBuf,
    },
    /// A token agent's socket.
    Agent(PathBuf),
    /// A token on a PKCS#11 device.
    Pkcs11(Pkcs11Uri),
}

impl TokenSpec {
    /// Parses a `--token` value; `sealing_key` overrides the default
    /// `<token>.sealing-key` for files.
    pub fn parse(token: &str, sealing_key: Option<&Path>) -> Result<Self, TokenError> {
        if let Some(sock) = token.strip_prefix("agent:") {
            if sock.is_empty() {
                return Err(TokenError::InvalidInput(
                    "agent: needs a socket path, e.g. agent:/run/user/1000/symbolon.sock".into(),
                ));
            }
            return Ok(Self::Agent(PathBuf::from(sock)));
        }
        if token.starts_with("pkcs11:") {
            return Ok(Self::Pkcs11(Pkcs11Uri::parse(token)?));
        }
        if token.is_empty() {
            return Err(TokenError::InvalidInput(
                "--token needs a file path or agent:SOCKET".into(),
            ));
        }
        let path = PathBuf::from(token);
        let sealing_key = sealing_key
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_sealing_key_path(&path));
        Ok(Self::File { path, sealing_key })
    }

    /// Opens the token.
    pub fn open(&self) -> Result<Box<dyn Token + Send + Sync>, TokenError> {
        Ok(match self {
            Self::File { path, sealing_key } => Box::new(open_token(path, sealing_key, LOCK_WAIT)?),
            Self::Agent(sock) => Box::new(AgentClient::connect(sock)?),
            Self::Pkcs11(uri) => Box::new(Pkcs11Token::open(uri)?),
        })
    }
}

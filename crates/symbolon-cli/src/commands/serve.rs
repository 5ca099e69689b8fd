//! `symbolon token serve`: the token agent's process.

use std::path::Path;

use symbolon_token::agent::{bind, harden_process, serve};
use symbolon_token::file::{default_sealing_key_path, open_token};

use crate::error::CliError;

pub(crate) fn run(token: &Path, sealing_key: Option<&Path>, socket: &Path) -> Result<(), CliError> {
    let hardening = harden_process();
    if !hardening.no_core_dumps {
        tracing::warn!(
            "could not disable core dumps; secrets could reach a core file if the agent crashed"
        );
    }
    if !hardening.memory_locked {
        tracing::warn!(
            "could not lock memory; secrets may be swapped to disk (raise RLIMIT_MEMLOCK)"
        );
    }
    let key_path = sealing_key
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_sealing_key_path(token));
    // The agent holds the token's lock for its whole life: no other process
    // opens the token while it serves.
    let t = open_token(token, &key_path, std::time::Duration::ZERO)?;
    let listener = bind(socket).map_err(|e| CliError::new("io", e.to_string()))?;
    eprintln!(
        "symbolon token agent serving {} on {}",
        token.display(),
        socket.display()
    );
    serve(listener, t).map_err(|e| CliError::new("io", e.to_string()))
}

//! `symbolon token serve`: the token agent's process.

use std::path::{Path, PathBuf};
use symbolon::Code;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use symbolon_token::agent::{bind, harden_process, Agent};
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
    // Handlers first: from the moment the socket exists (which is how a
    // supervisor knows the agent is up), a SIGTERM closes the agent
    // cleanly. One that comes earlier waits here until the agent is open.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| CliError::new(Code::Io, format!("cannot install signal handlers: {e}")))?;
    let key_path = sealing_key
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_sealing_key_path(token));
    // The agent holds the token's lock for its whole life: no other process
    // opens the token while it serves.
    let agent = Agent::new(open_token(token, &key_path, std::time::Duration::ZERO)?);
    let listener = bind(socket).map_err(|e| CliError::new(Code::Io, e.to_string()))?;
    let closer = agent.clone();
    let socket_path: PathBuf = socket.to_path_buf();
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // Zeroise the keys (waiting for any request in flight), then go.
            closer.close();
            // The socket file is only a name: one left behind is replaced
            // by the next start.
            if let Err(e) = std::fs::remove_file(&socket_path) {
                tracing::debug!(error = %e, "socket file not removed");
            }
            tracing::info!(signal = sig, "token agent stopped");
            std::process::exit(0);
        }
    });
    eprintln!(
        "symbolon token agent serving {} on {}",
        token.display(),
        socket.display()
    );
    agent
        .serve(listener)
        .map_err(|e| CliError::new(Code::Io, e.to_string()))
}

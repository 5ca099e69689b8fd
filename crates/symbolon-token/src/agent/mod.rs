//! The token agent: one process holds the unsealed token and answers token
//! operations over a Unix socket, so it is the only process with secrets in
//! memory (the patent's tamper-resistant enclosure, played by a process
//! boundary, like ssh-agent).
//!
//! Wire: each message is a 4-byte big-endian length and a JSON body
//! ([`protocol`]). Only the socket owner's UID may connect. A whole file is
//! unsealed in the agent from descriptors the client passes ([`fds`]).

mod client;
pub mod fds;
mod file_unseal;
mod harden;
pub mod protocol;
mod server;
#[cfg(test)]
mod test_support;

pub use client::AgentClient;
pub use harden::{harden_process, Hardening};
pub use server::{bind, serve, Agent, AgentError};

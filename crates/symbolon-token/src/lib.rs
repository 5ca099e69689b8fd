//! Token I/O for symbolon: where the soft token's sealed state lives on disk
//! ([`file`](mod@file)), and the token agent that holds an unsealed token in one
//! hardened process and serves it over a Unix socket ([`agent`]), like
//! ssh-agent; and tokens on PKCS#11 devices ([`pkcs11`]). [`open`] turns a
//! `--token` argument into a [`Token`]; [`tls`] lets a token's key sign TLS
//! handshakes; [`write_behind`] overlaps producing plaintext with writing it
//! (the CLI's unseal and the agent's).
//!
//! [`Token`]: symbolon::token::Token

pub mod agent;
pub mod file;
pub mod open;
pub mod pkcs11;
pub mod tls;
pub mod write_behind;

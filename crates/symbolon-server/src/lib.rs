//! The symbolon service: the certification issuing center (patent 140) and
//! the registry over HTTP.
//!
//! [`data_dir`] lays out and opens the data directory (CA token, CA
//! certificate, configuration, registry); [`service`] is the CA's pipeline
//! (review → register → issue → record → sign the response), async over the
//! registry and the CA's token; [`recovery`] adds escrow deposits, recovery
//! requests, approval chains and the recovery enclave; [`http`] is the thin axum layer: decode,
//! call, render, with JSON errors that carry a stable code.
//!
//! The edge (docs/access.md): [`tls`] makes the service's TLS configuration,
//! [`edge`] accepts connections and reads each client certificate, [`gate`]
//! authenticates every request against the credentials on record, applies
//! the authorization table and the rate limits ([`rate_limit`]) and runs the
//! handler as its caller; [`credentials`] issues operator credentials and
//! the service's own TLS certificate.

pub mod acme;
mod acme_order;
pub mod acme_validate;
pub mod cmp;
mod cpu;
pub mod credentials;
pub mod data_dir;
pub mod delegate;
pub mod edge;
pub mod est;
pub mod evidence;
pub mod gate;
pub mod http;
mod http_acme;
mod http_admin;
mod http_cmp;
mod http_est;
mod http_joint;
mod http_log;
mod http_recovery;
mod http_revocation;
mod http_vetting;
mod joint_mailbox;
pub mod ocsp;
pub mod owner;
pub mod rate_limit;
pub mod recovery;
pub mod renewal;
pub mod response_signer;
pub mod revocation;
pub mod service;
mod shared_primes;
pub mod tls;
pub mod transparency;
pub mod vetting;

pub use data_dir::{read_chain, CaConfig, DataDir, OpenedCa};
pub use service::{CaService, ServiceError};

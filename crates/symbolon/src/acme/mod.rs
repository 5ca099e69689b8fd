//! ACME (RFC 8555; docs/acme.md), the protocol Web servers' clients
//! (certbot, lego) speak: signed requests (JWS) from account keys, external
//! account binding to a principal, orders for DNS names proven by http-01
//! or tls-alpn-01 (RFC 8737), key rollover. Pure: the service fetches the
//! challenge answers and keeps the objects; this module judges.

pub mod challenge;
pub mod eab;
pub mod identifier;
pub mod jwk;
pub mod jws;
pub mod key_change;
pub mod order;
pub mod problem;

pub use challenge::{key_authorization, ChallengeType};
pub use eab::ExternalBinding;
pub use jwk::{Jwk, JwsAlgorithm};
pub use jws::{Jws, RequestHeader, Signer};
pub use key_change::KeyChange;
pub use order::{Authorization, Status};
pub use problem::{Problem, ProblemType};

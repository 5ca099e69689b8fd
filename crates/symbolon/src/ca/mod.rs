//! The certification issuing center's decisions (patent FIG. 5–6, emb. 2),
//! pure: review a request (proof of possession, identity match, key checks,
//! attestation) and sign and check the response bound to the request's
//! nonce. The service wires these to the registry and the CA's token.

mod error;
mod key_checks;
mod policy;
mod response;
mod review;

pub use error::CaError;
pub use key_checks::{check_key, check_key_with, check_subject_key, SMALL_PRIME_BOUND};
pub use policy::{default_curves, CaPolicy};
pub use response::CertifyResponse;
pub use review::{attestation_nonce, request_spki, review, Approved, CertifyRequest, RequestForm};

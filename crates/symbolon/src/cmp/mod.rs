//! CMP's messages (RFC 4210 as updated by RFC 9480, the Lightweight CMP
//! profile RFC 9483; docs/cmp.md): the PKIMessage a client posts, its
//! protection (a MAC from a shared secret, or a signature), the bodies this
//! CA answers (`ir`, `cr`, `p10cr`, `kur`, `rr`, `certConf`, `genm`), and
//! the protected answers it builds. Pure: the HTTP transfer (RFC 6712) and
//! the decisions live in the server.

mod body;
mod error;
mod header;
mod message;
mod protection;
mod status;

pub use body::{CertStatus, RequestBody, RevocationRequest, MAX_GENM_ITEMS};
pub use error::CmpError;
pub use header::{InfoTypeAndValue, PkiHeader, ID_IT_CA_CERTS, ID_IT_IMPLICIT_CONFIRM};
pub use message::{Message, Request, MAX_MESSAGE};
pub use protection::{
    PbmParams, RequestProtection, ID_PASSWORD_BASED_MAC, MAX_ITERATIONS, MIN_ITERATIONS,
};
pub use status::{FailInfo, PkiStatus, PkiStatusInfo};

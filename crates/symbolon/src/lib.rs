//! symbolon core: the domain of US patent 5,768,389 as pure, synchronous Rust.
//!
//! Keys that no one ever knows live only inside a [`token`]: generated there or
//! accepted there under an issuer's signed authorisation, used there, never read
//! out. This crate holds the key material types ([`keys`]), the token trait and
//! the soft token state machine with its sealed at-rest format ([`token`]), the
//! issuer side of authorised writes ([`issuer`]), the CA's review and X.509
//! ([`ca`], [`x509`]), sealed content, orders and licences ([`content`]) and
//! the power-on self-tests that gate every cryptographic operation
//! ([`self_test`]).
//!
//! Nothing here opens a file or a socket: storage is behind
//! [`token::SealedStore`], so the same state machine runs over a file, over
//! memory in tests, or over a TPM later.

#[macro_use]
mod random_id;

pub mod access;
pub mod acme;
pub mod ca;
pub mod cmp;
pub mod code;
pub mod content;
pub mod duration;
pub mod encoding;
pub mod escrow;
pub mod est;
pub mod evidence;
pub mod issuer;
pub mod joint;
pub mod keys;
pub mod pem;
pub mod revocation;
pub mod self_test;
mod self_test_vectors;
pub mod token;
pub mod transparency;
pub mod vetting;
pub mod x509;

pub use code::{Code, ExitClass};

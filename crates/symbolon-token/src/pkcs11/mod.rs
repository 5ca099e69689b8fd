//! Hardware tokens: the `Token` trait over a PKCS#11 module, named by an
//! RFC 7512 URI (`--token pkcs11:token=LABEL?module-path=…&pin-source=…`).

mod ec;
mod state;
mod token;
mod uri;

pub use token::Pkcs11Token;
pub use uri::{PinSource, Pkcs11Uri, MODULE_ENV, PIN_ENV};

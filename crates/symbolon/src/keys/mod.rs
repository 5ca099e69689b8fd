//! Key material: RSA keys for users' slots and transport, EC public keys
//! (P-256, P-384, Ed25519) a CA certifies, P-256 identity keys for devices
//! and issuers, digests and fingerprints.
//!
//! Every private key type here zeroises on drop, has no `Debug`, `Display`,
//! `Serialize` or accessor that yields its bytes outside this crate; the only
//! way its bytes leave is [`wrap`], encrypted to a token's transport key.

mod algorithm;
mod digest;
mod ec_private;
mod ec_public;
mod error;
mod fingerprint;
pub mod hpke;
mod identity;
pub mod oaep;
mod private_key;
mod public_key;
mod rsa_private;
mod rsa_public;
pub mod shared_primes;
mod sign_request;
#[cfg(test)]
pub(crate) mod test_primes;
pub mod weak;
pub mod wrap;

pub use algorithm::{HashAlgorithm, KeyAlgorithm, RsaAlgorithm, SignatureScheme};
pub use digest::MessageDigest;
pub use ec_private::{EcPrivateKey, EcSigningInput};
pub use ec_public::{EcCurve, EcPublicKey};
pub use error::KeyError;
pub use fingerprint::Fingerprint;
pub use identity::{IdentityKeyPair, IdentityPublicKey};
pub use private_key::{PrivateKey, PrivateKeyRef};
pub use public_key::{PublicKey, SignatureAlgorithm};
pub use rsa_private::RsaPrivateKey;
pub use rsa_public::{rsa_components, RsaPublicKey, MIN_PUBLIC_EXPONENT};
pub use sign_request::SignRequest;

/// Fills `out` from the system CSPRNG (aws-lc's DRBG seeded by the OS).
pub fn random_bytes(out: &mut [u8]) -> Result<(), KeyError> {
    aws_lc_rs::rand::fill(out).map_err(|_| KeyError::Rng)
}

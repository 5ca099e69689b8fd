//! What a signer is asked to sign, for either kind of key: the shape of
//! the closures through which the CA's token signs certificates, CRLs and
//! OCSP responses whatever its key's algorithm (docs/ec-keys.md).

use super::{
    EcPrivateKey, EcSigningInput, KeyError, MessageDigest, RsaPrivateKey, SignatureScheme,
};

/// A request to a signing key: an RSA signature over a digest under a
/// scheme, or an EC one (a digest for ECDSA, the message for Ed25519).
#[derive(Debug, Clone, Copy)]
pub enum SignRequest<'a> {
    /// RSA: the scheme and the digest.
    Rsa(SignatureScheme, &'a MessageDigest),
    /// ECDSA or Ed25519.
    Ec(EcSigningInput<'a>),
}

/// Refuses a request for the other kind of key.
fn wrong_kind(holds: &'static str) -> KeyError {
    KeyError::Unsupported {
        kind: "signature request",
        name: format!("a request for another kind of key than {holds}"),
        supported: "RSA requests for RSA keys, EC requests for EC keys",
    }
}

impl RsaPrivateKey {
    /// Signs an RSA request; an EC one is refused.
    pub fn sign_request(&self, request: SignRequest<'_>) -> Result<Vec<u8>, KeyError> {
        match request {
            SignRequest::Rsa(scheme, digest) => self.sign_digest(scheme, digest),
            SignRequest::Ec(_) => Err(wrong_kind("RSA")),
        }
    }
}

impl EcPrivateKey {
    /// Signs an EC request; an RSA one is refused.
    pub fn sign_request(&self, request: SignRequest<'_>) -> Result<Vec<u8>, KeyError> {
        match request {
            SignRequest::Ec(input) => self.sign(input),
            SignRequest::Rsa(..) => Err(wrong_kind("EC")),
        }
    }
}

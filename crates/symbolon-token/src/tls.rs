//! A token as a TLS key: a rustls signing key whose private half stays in
//! the token (soft file, agent or PKCS#11). rustls hands over the handshake
//! transcript to sign; the digest is made here and the token signs it, so
//! the service's server key and every operator's client credential sign
//! their handshakes without ever being exported (docs/access.md).

use std::sync::Arc;

use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme as TlsScheme};
use symbolon::keys::{HashAlgorithm, MessageDigest, RsaPublicKey, SignatureScheme};
use symbolon::token::{SlotName, Token};

/// A token shared between the TLS stack and whoever else uses it (a
/// token's signing takes `&self`: no lock here).
pub type SharedToken = Arc<dyn Token + Send + Sync>;

/// A slot's RSA key, for rustls.
#[derive(Clone)]
pub struct TokenSigningKey {
    token: SharedToken,
    slot: SlotName,
    public: RsaPublicKey,
}

impl std::fmt::Debug for TokenSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigningKey")
            .field("slot", &self.slot)
            .field("key", &self.public.fingerprint())
            .finish()
    }
}

impl TokenSigningKey {
    /// The key in `slot` of `token`.
    pub fn new(token: SharedToken, slot: SlotName, public: RsaPublicKey) -> Self {
        Self {
            token,
            slot,
            public,
        }
    }
}

/// The schemes offered, most preferred first: PSS (the only RSA schemes TLS
/// 1.3 allows), then PKCS#1 v1.5 for TLS 1.2 peers.
const SCHEMES: [(TlsScheme, SignatureScheme, HashAlgorithm); 6] = [
    (
        TlsScheme::RSA_PSS_SHA256,
        SignatureScheme::PssSha256,
        HashAlgorithm::Sha256,
    ),
    (
        TlsScheme::RSA_PSS_SHA384,
        SignatureScheme::PssSha384,
        HashAlgorithm::Sha384,
    ),
    (
        TlsScheme::RSA_PSS_SHA512,
        SignatureScheme::PssSha512,
        HashAlgorithm::Sha512,
    ),
    (
        TlsScheme::RSA_PKCS1_SHA256,
        SignatureScheme::Pkcs1Sha256,
        HashAlgorithm::Sha256,
    ),
    (
        TlsScheme::RSA_PKCS1_SHA384,
        SignatureScheme::Pkcs1Sha384,
        HashAlgorithm::Sha384,
    ),
    (
        TlsScheme::RSA_PKCS1_SHA512,
        SignatureScheme::Pkcs1Sha512,
        HashAlgorithm::Sha512,
    ),
];

impl SigningKey for TokenSigningKey {
    fn choose_scheme(&self, offered: &[TlsScheme]) -> Option<Box<dyn Signer>> {
        let (tls, scheme, hash) = SCHEMES.into_iter().find(|(s, ..)| offered.contains(s))?;
        Some(Box::new(TokenSigner {
            key: self.clone(),
            tls,
            scheme,
            hash,
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.public.spki_der()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

/// One handshake's signature.
#[derive(Debug)]
struct TokenSigner {
    key: TokenSigningKey,
    tls: TlsScheme,
    scheme: SignatureScheme,
    hash: HashAlgorithm,
}

impl Signer for TokenSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let digest = MessageDigest::of(self.hash, message);
        self.key
            .token
            .sign(&self.key.slot, self.scheme, &digest)
            .map_err(|e| rustls::Error::General(format!("the token could not sign: {e}")))
    }

    fn scheme(&self) -> TlsScheme {
        self.tls
    }
}

//! A signer description for the x509-cert builders: the public key and the
//! algorithm, nothing secret. The signature itself comes from a closure (a
//! token operation), after `finalize` hands over the to-be-signed bytes.

use der::asn1::{Any, BitString};
use der::Encode;
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey};
use x509_cert::builder::Builder;

use super::X509Error;
use crate::keys::{
    EcPublicKey, EcSigningInput, HashAlgorithm, MessageDigest, PublicKey, RsaPublicKey,
    SignRequest, SignatureScheme,
};

/// The public half of an RSA signer and its PKCS#1 v1.5 scheme.
#[derive(Debug, Clone)]
pub struct RsaSigner {
    public: RsaPublicKey,
    scheme: SignatureScheme,
}

/// SPKI DER, as the builder wants a verifying key.
#[derive(Debug, Clone)]
pub struct SpkiDer(Vec<u8>);

impl EncodePublicKey for SpkiDer {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        der::Document::try_from(self.0.as_slice()).map_err(Into::into)
    }
}

impl signature::Keypair for RsaSigner {
    type VerifyingKey = SpkiDer;
    fn verifying_key(&self) -> SpkiDer {
        SpkiDer(self.public.spki_der().to_vec())
    }
}

impl DynSignatureAlgorithmIdentifier for RsaSigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned {
            oid: scheme_oid(self.scheme),
            parameters: Some(Any::null()),
        })
    }
}

pub(crate) fn scheme_oid(scheme: SignatureScheme) -> const_oid::ObjectIdentifier {
    use const_oid::db::rfc5912;
    match scheme {
        SignatureScheme::Pkcs1Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
        SignatureScheme::Pkcs1Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
        _ => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
    }
}

impl RsaSigner {
    /// A signer for `public` with a PKCS#1 v1.5 scheme (X.509 and PKCS#10
    /// signatures here are sha256/384/512WithRSAEncryption).
    pub fn new(public: RsaPublicKey, scheme: SignatureScheme) -> Result<Self, X509Error> {
        if scheme.is_pss() {
            return Err(X509Error::UnsupportedAlgorithm(scheme.name().into()));
        }
        Ok(Self { public, scheme })
    }

    /// The public key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// The scheme.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// Two-phase signing: encode the to-be-signed part, have `sign` sign its
    /// digest, check the signature against the public key (a faulty or wrong
    /// signer never yields a bad object), assemble.
    pub(crate) fn build<B, E>(
        &self,
        mut builder: B,
        sign: impl FnOnce(SignatureScheme, &MessageDigest) -> Result<Vec<u8>, E>,
    ) -> Result<B::Output, X509Error>
    where
        B: Builder,
        E: std::fmt::Display,
    {
        let tbs = builder
            .finalize(self)
            .map_err(X509Error::encoding("to-be-signed data"))?;
        let digest = MessageDigest::of(self.scheme.hash(), &tbs);
        let sig = sign(self.scheme, &digest).map_err(|e| X509Error::Signing(e.to_string()))?;
        self.public
            .verify_digest(self.scheme, &digest, &sig)
            .map_err(|_| X509Error::BadSignature("freshly made"))?;
        let bits = BitString::from_bytes(&sig).map_err(X509Error::encoding("signature"))?;
        builder
            .assemble(bits, self)
            .map_err(X509Error::encoding("signed object"))
    }
}

impl RsaSigner {
    /// Signs already-encoded to-be-signed bytes (a CRL's `TBSCertList`, an
    /// OCSP `ResponseData`): `sign` signs their digest inside the token, the
    /// signature is checked against the public key before it is used.
    /// Returns the signature algorithm and the signature.
    pub fn sign_tbs<E: std::fmt::Display>(
        &self,
        tbs: &[u8],
        sign: impl FnOnce(SignatureScheme, &MessageDigest) -> Result<Vec<u8>, E>,
    ) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), X509Error> {
        let digest = MessageDigest::of(self.scheme.hash(), tbs);
        let sig = sign(self.scheme, &digest).map_err(|e| X509Error::Signing(e.to_string()))?;
        self.public
            .verify_digest(self.scheme, &digest, &sig)
            .map_err(|_| X509Error::BadSignature("freshly made"))?;
        let alg = self
            .signature_algorithm_identifier()
            .map_err(X509Error::encoding("signature algorithm"))?;
        Ok((alg, sig))
    }
}

/// The public half of an EC signer (docs/ec-keys.md): ECDSA with its
/// curve's hash (ecdsa-with-SHA256 on P-256, ecdsa-with-SHA384 on P-384),
/// or Ed25519.
#[derive(Debug, Clone)]
pub struct EcSigner {
    public: EcPublicKey,
}

impl signature::Keypair for EcSigner {
    type VerifyingKey = SpkiDer;
    fn verifying_key(&self) -> SpkiDer {
        SpkiDer(self.public.spki_der().to_vec())
    }
}

impl DynSignatureAlgorithmIdentifier for EcSigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        use const_oid::db::{rfc5912, rfc8410};
        // RFC 5758 §3.2 and RFC 8410 §3: the parameters are absent.
        Ok(AlgorithmIdentifierOwned {
            oid: match self.public.curve().natural_hash() {
                Some(HashAlgorithm::Sha384) => rfc5912::ECDSA_WITH_SHA_384,
                Some(_) => rfc5912::ECDSA_WITH_SHA_256,
                None => rfc8410::ID_ED_25519,
            },
            parameters: None,
        })
    }
}

impl EcSigner {
    /// A signer for `public`; an X25519 key cannot sign.
    pub fn new(public: EcPublicKey) -> Result<Self, X509Error> {
        public.require_signing()?;
        Ok(Self { public })
    }

    /// Signs `message` through `sign` (a digest of the curve's hash for
    /// ECDSA, the message for Ed25519) and checks the signature.
    fn sign_message<E: std::fmt::Display>(
        &self,
        message: &[u8],
        sign: impl FnOnce(EcSigningInput<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, X509Error> {
        let hash = self.public.curve().natural_hash();
        let sig = match hash {
            Some(h) => sign(EcSigningInput::Digest(&MessageDigest::of(h, message))),
            None => sign(EcSigningInput::Message(message)),
        }
        .map_err(|e| X509Error::Signing(e.to_string()))?;
        self.public
            .verify(hash, message, &sig)
            .map_err(|_| X509Error::BadSignature("freshly made"))?;
        Ok(sig)
    }

    /// The public key.
    pub fn public_key(&self) -> &EcPublicKey {
        &self.public
    }

    /// Two-phase signing as [`RsaSigner`]'s: `sign` gets the digest
    /// (ECDSA) or the to-be-signed bytes (Ed25519), and its signature is
    /// checked against the public key before it is used.
    pub(crate) fn build<B, E>(
        &self,
        mut builder: B,
        sign: impl FnOnce(EcSigningInput<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<B::Output, X509Error>
    where
        B: Builder,
        E: std::fmt::Display,
    {
        let tbs = builder
            .finalize(self)
            .map_err(X509Error::encoding("to-be-signed data"))?;
        let sig = self.sign_message(&tbs, sign)?;
        let bits = BitString::from_bytes(&sig).map_err(X509Error::encoding("signature"))?;
        builder
            .assemble(bits, self)
            .map_err(X509Error::encoding("signed object"))
    }
}

/// The CA key's signer, RSA (PKCS#1 v1.5 with SHA-256) or EC (ECDSA with
/// its curve's hash, or Ed25519): what certificates, CRLs, OCSP responses
/// and signed answers are made with (docs/ec-keys.md, "An EC CA key"). It
/// holds nothing secret; `sign` closures reach the key in its token
/// ([`crate::token::Token::sign_request`]).
#[derive(Debug, Clone)]
pub enum CaSigner {
    /// An RSA CA key.
    Rsa(RsaSigner),
    /// An ECDSA P-256/P-384 or Ed25519 CA key.
    Ec(EcSigner),
}

impl CaSigner {
    /// The signer for a CA key: RSA signs with sha256WithRSAEncryption,
    /// ECDSA with its curve's hash; an X25519 key is refused.
    pub fn new(public: PublicKey) -> Result<Self, X509Error> {
        match public {
            PublicKey::Rsa(k) => RsaSigner::new(k, SignatureScheme::Pkcs1Sha256).map(Self::Rsa),
            PublicKey::Ec(k) => EcSigner::new(k).map(Self::Ec),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::Rsa(s) => PublicKey::Rsa(s.public_key().clone()),
            Self::Ec(s) => PublicKey::Ec(s.public_key().clone()),
        }
    }

    /// The public key's SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        match self {
            Self::Rsa(s) => s.public_key().spki_der(),
            Self::Ec(s) => s.public_key().spki_der(),
        }
    }

    /// Two-phase signing of an x509-cert builder's output (see
    /// [`RsaSigner`]): the signature is checked before it is used.
    pub(crate) fn build<B, E>(
        &self,
        builder: B,
        sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<B::Output, X509Error>
    where
        B: Builder,
        E: std::fmt::Display,
    {
        match self {
            Self::Rsa(s) => s.build(builder, |scheme, d| sign(SignRequest::Rsa(scheme, d))),
            Self::Ec(s) => s.build(builder, |input| sign(SignRequest::Ec(input))),
        }
    }

    /// Signs already-encoded to-be-signed bytes (a CRL's `TBSCertList`, an
    /// OCSP `ResponseData`); returns the signature algorithm and the
    /// signature, checked against the public key.
    pub fn sign_tbs<E: std::fmt::Display>(
        &self,
        tbs: &[u8],
        sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), X509Error> {
        match self {
            Self::Rsa(s) => s.sign_tbs(tbs, |scheme, d| sign(SignRequest::Rsa(scheme, d))),
            Self::Ec(s) => {
                let sig = s.sign_message(tbs, |input| sign(SignRequest::Ec(input)))?;
                let alg = s
                    .signature_algorithm_identifier()
                    .map_err(X509Error::encoding("signature algorithm"))?;
                Ok((alg, sig))
            }
        }
    }

    /// Signs a message (a signed answer's bytes) with the key's natural
    /// algorithm ([`PublicKey::natural_signature_algorithm`]); the
    /// signature is checked before it is returned.
    pub fn sign_message<E: std::fmt::Display>(
        &self,
        message: &[u8],
        sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, X509Error> {
        match self {
            Self::Rsa(s) => {
                let digest = MessageDigest::of(s.scheme().hash(), message);
                let sig = sign(SignRequest::Rsa(s.scheme(), &digest))
                    .map_err(|e| X509Error::Signing(e.to_string()))?;
                s.public_key()
                    .verify_digest(s.scheme(), &digest, &sig)
                    .map_err(|_| X509Error::BadSignature("freshly made"))?;
                Ok(sig)
            }
            Self::Ec(s) => s.sign_message(message, |input| sign(SignRequest::Ec(input))),
        }
    }
}

impl signature::Keypair for CaSigner {
    type VerifyingKey = SpkiDer;
    fn verifying_key(&self) -> SpkiDer {
        SpkiDer(self.spki_der().to_vec())
    }
}

impl DynSignatureAlgorithmIdentifier for CaSigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        match self {
            Self::Rsa(s) => s.signature_algorithm_identifier(),
            Self::Ec(s) => s.signature_algorithm_identifier(),
        }
    }
}

/// DER of anything encodable, as an X509Error on failure.
pub(crate) fn to_der(what: &'static str, v: &impl Encode) -> Result<Vec<u8>, X509Error> {
    v.to_der().map_err(X509Error::encoding(what))
}

//! Errors of the key layer.

use thiserror::Error;

/// Why a key operation failed. Decryption and signature failures carry no
/// detail on purpose: detail there is an oracle.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a key of the expected kind.
    #[error("not a valid {kind}: {reason}")]
    Malformed {
        /// The kind of key expected.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A well-formed key that the policy refuses (size, exponent).
    #[error("key refused: {0}")]
    Refused(String),
    /// A well-formed key that anyone can break, found while parsing it (an
    /// even modulus, an exponent too large or even to hold): its class.
    #[error("{0}")]
    Weak(super::weak::WeakKey),
    /// A well-formed public key of a type or curve symbolon does not
    /// certify or hold (explicit EC parameters, P-521, secp256k1, X25519
    /// for signing, DSA): what it is and what is supported.
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// An algorithm or scheme name that symbolon does not offer.
    #[error("unsupported {kind} {name:?}; supported: {supported}")]
    Unsupported {
        /// What kind of name.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names accepted.
        supported: &'static str,
    },
    /// A digest of the wrong length for its algorithm.
    #[error("a {algorithm} digest is {expected} bytes, got {got}")]
    DigestLength {
        /// The hash algorithm.
        algorithm: &'static str,
        /// Its output length.
        expected: usize,
        /// The length supplied.
        got: usize,
    },
    /// The digest's algorithm does not match the scheme's.
    #[error("scheme {scheme} signs {expected} digests, got a {got} digest")]
    DigestMismatch {
        /// The signature scheme.
        scheme: &'static str,
        /// The hash the scheme uses.
        expected: &'static str,
        /// The hash of the digest supplied.
        got: &'static str,
    },
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// Decryption failed (wrong key, or a ciphertext that was not made for it).
    #[error("decryption failed")]
    DecryptionFailed,
    /// Key generation failed.
    #[error("key generation failed")]
    Generation,
    /// A freshly generated or accepted key failed its pairwise consistency test.
    #[error("pairwise consistency test failed: the key pair does not match")]
    PairwiseConsistency,
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Rng,
    /// The cryptographic module is in its error state after a failed self-test.
    #[error(transparent)]
    SelfTest(#[from] crate::self_test::SelfTestError),
    /// An internal failure of the crypto library that no input explains.
    #[error("internal cryptographic failure in {0}")]
    Internal(&'static str),
}

//! A message digest whose length is checked against its algorithm.

use aws_lc_rs::digest;

use super::{HashAlgorithm, KeyError};

/// The hash of a message, ready to be signed: the token signs digests, so a
/// large file never crosses into the token or over the agent socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDigest {
    algorithm: HashAlgorithm,
    bytes: Vec<u8>,
}

impl MessageDigest {
    /// Hashes `message`.
    pub fn of(algorithm: HashAlgorithm, message: &[u8]) -> Self {
        let d = digest::digest(algorithm.aws(), message);
        Self {
            algorithm,
            bytes: d.as_ref().to_vec(),
        }
    }

    /// Hashes everything `reader` yields, in constant memory.
    pub fn of_reader(
        algorithm: HashAlgorithm,
        reader: &mut impl std::io::Read,
    ) -> std::io::Result<Self> {
        let mut ctx = digest::Context::new(algorithm.aws());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
        }
        Ok(Self {
            algorithm,
            bytes: ctx.finish().as_ref().to_vec(),
        })
    }

    /// A digest computed elsewhere; its length must fit the algorithm.
    pub fn from_bytes(algorithm: HashAlgorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != algorithm.output_len() {
            return Err(KeyError::DigestLength {
                algorithm: algorithm.name(),
                expected: algorithm.output_len(),
                got: bytes.len(),
            });
        }
        Ok(Self {
            algorithm,
            bytes: bytes.to_vec(),
        })
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn to_aws(&self) -> Result<digest::Digest, KeyError> {
        digest::Digest::import_less_safe(&self.bytes, self.algorithm.aws())
            .map_err(|_| KeyError::Internal("digest import"))
    }
}

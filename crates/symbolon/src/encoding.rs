//! Canonical binary encoding for signed statements and sealed state.
//!
//! Signatures must cover one exact byte string, so every signed structure
//! (issuer commands, attestations) and the token's sealed plaintext are written
//! with this length-prefixed encoding: fixed-width big-endian integers and
//! `u32`-length-prefixed byte strings, no optional whitespace, no map ordering.
//! The writer keeps its buffer in [`Zeroizing`] because sealed state passes
//! through it in the clear.

use thiserror::Error;
use zeroize::Zeroizing;

/// Longest byte string a reader accepts: bounds memory on malformed input.
pub const MAX_FIELD_LEN: usize = 16 * 1024 * 1024;

/// A malformed encoding.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field did.
    #[error("truncated: the input ended inside {0}")]
    Truncated(&'static str),
    /// Bytes were left after the last field.
    #[error("{0} trailing bytes after the last field")]
    TrailingBytes(usize),
    /// A length prefix is larger than the reader accepts.
    #[error("field {0} is longer than the {MAX_FIELD_LEN}-byte limit")]
    TooLong(&'static str),
    /// A field holds a value outside its domain.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Appends fields to a buffer that is zeroised when dropped.
#[derive(Default)]
pub struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer that starts with a domain-separation label, so a signature over
    /// one kind of statement can never be taken for another.
    pub fn with_domain(domain: &str) -> Self {
        let mut w = Self::new();
        w.str(domain);
        w
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A length-prefixed byte string. Every field symbolon writes is bounded
    /// far below 4 GiB by the input limits of the CLI and the agent; a longer
    /// one would be cut at 4 GiB, never mis-framed.
    pub fn bytes(&mut self, v: &[u8]) {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.u32(len);
        self.buf.extend_from_slice(&v[..len as usize]);
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// A boolean as one byte, 0 or 1.
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }
}

/// Reads fields written by [`Writer`], never panicking on malformed input.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        if len > MAX_FIELD_LEN {
            return Err(DecodeError::TooLong(what));
        }
        self.take(len, what)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| DecodeError::Invalid {
            field: what,
            reason: "not UTF-8",
        })
    }

    /// A boolean written as 0 or 1.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid {
                field: what,
                reason: "not 0 or 1",
            }),
        }
    }

    /// Expects a domain label written by [`Writer::with_domain`].
    pub fn domain(&mut self, domain: &'static str) -> Result<(), DecodeError> {
        if self.str("domain")? != domain {
            return Err(DecodeError::Invalid {
                field: "domain",
                reason: "a statement of another kind",
            });
        }
        Ok(())
    }

    /// Bytes not read yet (for sections a newer writer appends).
    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    /// Succeeds only when every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.data.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let mut w = Writer::with_domain("d");
        w.u8(7);
        w.u16(0x1234);
        w.u64(u64::MAX);
        w.bytes(b"abc");
        w.bool(true);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        r.domain("d").unwrap();
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u16("b").unwrap(), 0x1234);
        assert_eq!(r.u64("c").unwrap(), u64::MAX);
        assert_eq!(r.bytes("d").unwrap(), b"abc");
        assert!(r.bool("e").unwrap());
        r.finish().unwrap();
    }

    #[test]
    fn other_domain_and_trailing_bytes_are_refused() {
        let bytes = Writer::with_domain("one").into_bytes();
        assert!(Reader::new(&bytes).domain("two").is_err());
        let mut longer = bytes.to_vec();
        longer.push(0);
        let mut r = Reader::new(&longer);
        r.domain("one").unwrap();
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(r.bytes("x"), Err(DecodeError::TooLong("x")));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&data);
            let _ = r.str("a").and_then(|_| r.bytes("b")).and_then(|_| r.u64("c"));
        }
    }
}

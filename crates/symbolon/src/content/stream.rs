//! The STREAM construction over AES-256-GCM (Hoang, Reyhanitabar, Rogaway,
//! Vizár 2015, as age uses it): chunk i is sealed under the nonce
//! `i (11 bytes, big-endian) ‖ last-flag`, so a chunk moved, dropped,
//! repeated or taken from another file (another salt, so another key) fails,
//! and so does a stream cut at a chunk boundary: its new last chunk was not
//! sealed as last (docs/content-format.md §4).
//!
//! Sealing and unsealing run in constant memory: one chunk buffer.

use std::io::{Read, Write};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};

use super::key::ContentKey;
use super::{ContentError, ContentHeader, ContentId, SALT_LEN, TAG_LEN};
use crate::keys::PublicKey;

/// Decrypts the chunks of one stream in order. A token returns one from
/// `Token::open_content`; the key inside it never leaves the token.
pub trait ChunkOpener {
    /// Decrypts the next chunk in place. `chunk` holds ciphertext and tag;
    /// on success its first `n` bytes are the plaintext and `n` is returned.
    fn open_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<usize, ContentError>;
}

/// The in-process opener: the payload key and the chunk counter.
pub struct StreamOpener {
    key: LessSafeKey,
    index: u64,
    finished: bool,
}

impl StreamOpener {
    /// Checks the header's MAC under `key` and returns the opener for its
    /// chunks. Only code in this crate holds a [`ContentKey`].
    pub(crate) fn new(key: &ContentKey, header: &ContentHeader) -> Result<Self, ContentError> {
        key.verify_header(header)?;
        Ok(Self {
            key: key.payload_key(header)?,
            index: 0,
            finished: false,
        })
    }
}

impl StreamOpener {
    /// The opener for a content key already unwrapped by a device that can
    /// decrypt but not run AES-GCM under a derived key (a PKCS#11 token):
    /// the key is used here and zeroised when `content_key` drops.
    pub fn from_content_key(
        content_key: &[u8],
        header: &ContentHeader,
    ) -> Result<Self, ContentError> {
        Self::new(&ContentKey::from_unwrapped(content_key)?, header)
    }
}

impl ChunkOpener for StreamOpener {
    fn open_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<usize, ContentError> {
        if self.finished {
            return Err(ContentError::TrailingData);
        }
        let index = self.index;
        let altered = ContentError::ChunkAltered { index };
        if chunk.len() < TAG_LEN {
            return Err(altered);
        }
        let plain = self
            .key
            .open_in_place(nonce(index, last), Aad::empty(), chunk)
            .map_err(|_| altered)?
            .len();
        self.index += 1;
        self.finished = last;
        Ok(plain)
    }
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// What sealing produced.
#[derive(Debug, Clone)]
pub struct SealSummary {
    /// The header written.
    pub header: ContentHeader,
    /// Plaintext bytes sealed.
    pub bytes: u64,
    /// Chunks written.
    pub chunks: u64,
}

/// Seals `input` to `recipient`: a fresh content key, wrapped with
/// RSA-OAEP-SHA-256 to an RSA key or with HPKE to a P-256, P-384 or X25519
/// key, then the chunks.
pub fn seal(
    input: &mut (impl Read + ?Sized),
    output: &mut (impl Write + ?Sized),
    recipient: &PublicKey,
    content_id: ContentId,
    chunk_log2: u8,
) -> Result<SealSummary, ContentError> {
    crate::self_test::ensure().map_err(|_| ContentError::Internal("self-test failed"))?;
    let key = ContentKey::generate()?;
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| ContentError::Internal("random"))?;
    let (version, wrapped) = super::wrap::wrap(recipient, &key, content_id)?;
    let header = ContentHeader::new(
        version,
        chunk_log2,
        recipient.fingerprint(),
        content_id,
        salt,
        wrapped,
    )?;
    seal_with_key(input, output, &key, header)
}

/// Sealing with a given content key and header (salt and wrapped key
/// filled in): deterministic, so the test vectors can be recomputed.
pub(crate) fn seal_with_key(
    input: &mut (impl Read + ?Sized),
    output: &mut (impl Write + ?Sized),
    key: &ContentKey,
    mut header: ContentHeader,
) -> Result<SealSummary, ContentError> {
    header.set_mac(key.header_mac(&header)?);
    let payload = key.payload_key(&header)?;
    output.write_all(&header.to_bytes()).map_err(write_error)?;

    let size = header.chunk_size();
    // One byte past the chunk tells whether another chunk follows. The
    // buffer holds plaintext between reads: wiped when dropped.
    let mut buf = zeroize::Zeroizing::new(vec![0u8; size + TAG_LEN + 1]);
    let mut have = 0usize;
    let (mut index, mut bytes) = (0u64, 0u64);
    loop {
        have += read_full(input, &mut buf[have..size + 1])?;
        let last = have <= size;
        let n = have.min(size);
        let carry = buf[size];
        let tag = payload
            .seal_in_place_separate_tag(nonce(index, last), Aad::empty(), &mut buf[..n])
            .map_err(|_| ContentError::Internal("AES-GCM seal"))?;
        output.write_all(&buf[..n]).map_err(write_error)?;
        output.write_all(tag.as_ref()).map_err(write_error)?;
        index += 1;
        bytes += n as u64;
        if last {
            break;
        }
        buf[0] = carry;
        have = 1;
    }
    output.flush().map_err(write_error)?;
    Ok(SealSummary {
        header,
        bytes,
        chunks: index,
    })
}

/// Unseals the chunks after `header` (already read from `input`) with
/// `opener`, writing each chunk's plaintext only once it has authenticated.
/// Returns the plaintext length. On error the output holds a prefix of the
/// plaintext: callers writing files write to a temporary name and rename it
/// only on success.
pub fn unseal(
    input: &mut (impl Read + ?Sized),
    header: &ContentHeader,
    opener: &mut dyn ChunkOpener,
    output: &mut (impl Write + ?Sized),
) -> Result<u64, ContentError> {
    let full = header.chunk_size() + TAG_LEN;
    // Chunks are opened in place: the buffer ends holding plaintext, wiped
    // when dropped (in an agent it would otherwise stay in freed memory).
    let mut buf = zeroize::Zeroizing::new(vec![0u8; full + 1]);
    let mut have = 0usize;
    let (mut index, mut bytes) = (0u64, 0u64);
    loop {
        have += read_full(input, &mut buf[have..])?;
        if have == 0 {
            return Err(ContentError::Truncated { chunks: index });
        }
        let last = have <= full;
        let n = have.min(full);
        let carry = buf[full];
        let plain = opener.open_chunk(&mut buf[..n], last)?;
        if last && plain == 0 && index > 0 {
            // The sealer writes an empty last chunk only for empty content.
            return Err(ContentError::ChunkAltered { index });
        }
        output.write_all(&buf[..plain]).map_err(write_error)?;
        index += 1;
        bytes += plain as u64;
        if last {
            break;
        }
        buf[0] = carry;
        have = 1;
    }
    output.flush().map_err(write_error)?;
    Ok(bytes)
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(input: &mut (impl Read + ?Sized), buf: &mut [u8]) -> Result<usize, ContentError> {
    let mut at = 0;
    while at < buf.len() {
        match input.read(&mut buf[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ContentError::Io(format!("cannot read the input: {e}"))),
        }
    }
    Ok(at)
}

fn write_error(e: std::io::Error) -> ContentError {
    ContentError::Io(format!("cannot write the output: {e}"))
}

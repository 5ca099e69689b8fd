//! PEM armour (RFC 7468) for the formats users already have tools for.

use thiserror::Error;
use zeroize::Zeroizing;

/// A PEM document that could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemError {
    /// Not PEM at all, or its base64 is broken.
    #[error("not a valid PEM document: {0}")]
    Malformed(String),
    /// PEM of another type than the one expected.
    #[error("expected PEM of type {expected}, found {found}")]
    WrongLabel {
        /// The labels that would have been accepted.
        expected: String,
        /// The label found.
        found: String,
    },
}

/// Encodes `der` as PEM with `label` (RFC 7468 §2: 64-character base64
/// lines, LF line endings). Written here rather than through `der::pem` so
/// that it cannot fail: the labels are this crate's constants (a test checks
/// each one decodes again), and base64 of any byte string is defined.
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(label, der.len()));
    encode_into(label, der, &mut out);
    out
}

/// [`encode`] for secret DER (a key file): written once into a buffer of
/// its final size, so no reallocation leaves a copy behind.
pub fn encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(encoded_len(label, der.len())));
    encode_into(label, der, &mut out);
    out
}

const LINE_BYTES: usize = 48; // 64 base64 characters

fn encoded_len(label: &str, len: usize) -> usize {
    let armour = "-----BEGIN -----\n".len() + "-----END -----\n".len() + 2 * label.len();
    let lines = len.div_ceil(LINE_BYTES);
    armour + len.div_ceil(3) * 4 + lines
}

fn encode_into(label: &str, der: &[u8], out: &mut String) {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in der.chunks(LINE_BYTES) {
        STANDARD.encode_string(line, out);
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

/// Decodes a PEM document whose label is one of `labels`; returns the label
/// found and the DER.
pub fn decode(text: &[u8], labels: &[&str]) -> Result<(String, Vec<u8>), PemError> {
    one_block(text)?;
    let (label, der) =
        der::pem::decode_vec(trim(text)).map_err(|e| PemError::Malformed(e.to_string()))?;
    if !labels.contains(&label) {
        return Err(PemError::WrongLabel {
            expected: labels.join(" or "),
            found: label.to_string(),
        });
    }
    Ok((label.to_string(), der))
}

/// Decodes every block of a PEM bundle (a certificate chain), each with
/// `label`, in order; text between blocks is ignored. At least one.
pub fn decode_all(text: &[u8], label: &str) -> Result<Vec<Vec<u8>>, PemError> {
    let text =
        std::str::from_utf8(text).map_err(|_| PemError::Malformed("not UTF-8 text".into()))?;
    let end = format!("-----END {label}-----");
    let begin = format!("-----BEGIN {label}-----");
    let mut out = Vec::new();
    for block in text.split_inclusive(end.as_str()) {
        let Some(start) = block.find("-----BEGIN ") else {
            continue;
        };
        let block = &block[start..];
        if !block.starts_with(&begin) {
            return Err(PemError::WrongLabel {
                expected: label.to_string(),
                found: block.lines().next().unwrap_or_default().to_string(),
            });
        }
        out.push(decode(block.as_bytes(), &[label])?.1);
    }
    if out.is_empty() {
        return Err(PemError::Malformed(format!("no {label} block")));
    }
    Ok(out)
}

/// Decodes a PEM document that holds a secret, keeping the DER in zeroising
/// memory.
pub fn decode_secret(
    text: &[u8],
    labels: &[&str],
) -> Result<(String, Zeroizing<Vec<u8>>), PemError> {
    one_block(text)?;
    // Decoded DER is never longer than its PEM: one buffer, sized once, so no
    // reallocation leaves a copy of the secret behind.
    let mut buf = Zeroizing::new(vec![0u8; text.len()]);
    let (label, len) = {
        let (label, der) = der::pem::decode(trim(text), &mut buf)
            .map_err(|e| PemError::Malformed(e.to_string()))?;
        (label.to_string(), der.len())
    };
    if !labels.contains(&label.as_str()) {
        return Err(PemError::WrongLabel {
            expected: labels.join(" or "),
            found: label,
        });
    }
    buf.truncate(len);
    Ok((label, buf))
}

/// One document is expected: say so plainly when a file holds several
/// (a chain, a key and its certificate), rather than fail on the second.
fn one_block(text: &[u8]) -> Result<(), PemError> {
    let begins = text.windows(11).filter(|w| w == b"-----BEGIN ").count();
    if begins > 1 {
        return Err(PemError::Malformed(format!(
            "the file holds {begins} PEM blocks; give one"
        )));
    }
    Ok(())
}

/// The DER in `data`: the block of a PEM document whose label is one of
/// `labels`, or `data` itself when it is not PEM (a DER file).
pub fn der_of<'a>(data: &'a [u8], labels: &[&str]) -> Result<std::borrow::Cow<'a, [u8]>, PemError> {
    if is_pem(data) {
        Ok(std::borrow::Cow::Owned(decode(data, labels)?.1))
    } else {
        Ok(std::borrow::Cow::Borrowed(data))
    }
}

/// Whether `data` looks like PEM rather than DER.
pub fn is_pem(data: &[u8]) -> bool {
    trim(data).starts_with(b"-----BEGIN ")
}

/// Whitespace around the armour is not part of it (RFC 7468 §2 and §3:
/// parsers should ignore it; pasted files often end in blank lines).
fn trim(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &data[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_label_check() {
        let pem = encode("PUBLIC KEY", &[0x30, 0x00]);
        let (label, der) = decode(pem.as_bytes(), &["PUBLIC KEY"]).unwrap();
        assert_eq!(label, "PUBLIC KEY");
        assert_eq!(der, vec![0x30, 0x00]);
        assert!(matches!(
            decode(pem.as_bytes(), &["CERTIFICATE"]),
            Err(PemError::WrongLabel { .. })
        ));
        assert!(matches!(
            decode(b"garbage", &["X"]),
            Err(PemError::Malformed(_))
        ));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let pem = encode("PUBLIC KEY", &[0x30, 0x03, 0x02, 0x01, 0x05]);
        for text in [
            format!("{pem}\n"),
            format!("{pem}\n\n  \t\n"),
            format!("\r\n\n{pem}"),
            pem.trim_end().to_string(),
            pem.replace('\n', "\r\n") + "\r\n\r\n",
        ] {
            let (_, der) = decode(text.as_bytes(), &["PUBLIC KEY"])
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(der, vec![0x30, 0x03, 0x02, 0x01, 0x05]);
            let (_, secret) = decode_secret(text.as_bytes(), &["PUBLIC KEY"]).unwrap();
            assert_eq!(&secret[..], &der[..]);
        }
    }

    #[test]
    fn encoding_matches_the_der_crate_and_every_label_decodes() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 95, 96, 97, 300] {
            let der: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for label in [
                "CERTIFICATE",
                "CERTIFICATE REQUEST",
                "PUBLIC KEY",
                crate::content::licence::LICENCE_LABEL,
                crate::content::order::ORDER_LABEL,
                "SYMBOLON SEALING KEY",
            ] {
                let ours = encode(label, &der);
                assert_eq!(ours.len(), encoded_len(label, len));
                assert_eq!(*encode_secret(label, &der), ours);
                if len > 0 {
                    // (the der crate writes an empty line for empty DER)
                    let theirs =
                        der::pem::encode_string(label, der::pem::LineEnding::LF, &der).unwrap();
                    assert_eq!(ours, theirs, "{label} {len}");
                    assert_eq!(decode(ours.as_bytes(), &[label]).unwrap().1, der);
                }
            }
        }
    }
}

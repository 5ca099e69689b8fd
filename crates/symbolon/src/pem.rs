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

/// Encodes `der` as PEM with `label`, LF line endings.
pub fn encode(label: &str, der: &[u8]) -> String {
    // Labels are constants of this crate and DER is never empty, so encoding
    // cannot fail; an empty string would still be refused by every reader.
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// Decodes a PEM document whose label is one of `labels`; returns the label
/// found and the DER.
pub fn decode(text: &[u8], labels: &[&str]) -> Result<(String, Vec<u8>), PemError> {
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

/// Decodes a PEM document that holds a secret, keeping the DER in zeroising
/// memory.
pub fn decode_secret(
    text: &[u8],
    labels: &[&str],
) -> Result<(String, Zeroizing<Vec<u8>>), PemError> {
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

/// Whether `data` looks like PEM rather than DER.
pub fn is_pem(data: &[u8]) -> bool {
    trim(data).starts_with(b"-----BEGIN ")
}

fn trim(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    &data[start..]
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
}

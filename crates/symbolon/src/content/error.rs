//! Errors of sealed content, orders and licences, each with a stable code.

use crate::Code;
use thiserror::Error;

/// Why sealing, unsealing, an order or a licence failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentError {
    /// Not a sealed content stream, or a version this build does not read.
    #[error("not symbolon sealed content: {0}")]
    NotSealed(String),
    /// The header fails its MAC: altered, or the key that opened it is not
    /// the one it was sealed with.
    #[error("the sealed content's header was altered (its MAC, or its wrapped content key, does not verify)")]
    HeaderAltered,
    /// A chunk fails authentication: altered, reordered, duplicated or from
    /// another file.
    #[error("chunk {index} of the sealed content does not authenticate (altered, reordered, or spliced from another file)")]
    ChunkAltered {
        /// The chunk's position, from 0.
        index: u64,
    },
    /// The stream ends before its final chunk.
    #[error("the sealed content is truncated: it ends after chunk {chunks} without a final chunk")]
    Truncated {
        /// How many chunks were read.
        chunks: u64,
    },
    /// Bytes follow the final chunk.
    #[error("data follows the final chunk of the sealed content")]
    TrailingData,
    /// The content is addressed to another key.
    #[error("the content is sealed to key {sealed_to}, not to {offered}")]
    WrongRecipient {
        /// The recipient key id in the header.
        sealed_to: String,
        /// The key offered.
        offered: String,
    },
    /// A purchase order that does not verify or is not acceptable.
    #[error("purchase order refused: {0}")]
    OrderRefused(String),
    /// A licence that does not verify or is not for this token and content.
    #[error("licence refused: {0}")]
    LicenceRefused(String),
    /// Malformed input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Reading or writing the stream failed.
    #[error("{0}")]
    Io(String),
    /// The cryptographic library refused an operation that cannot fail on
    /// valid input.
    #[error("internal cryptographic failure: {0}")]
    Internal(&'static str),
}

impl ContentError {
    /// The stable code for JSON bodies and exit-code mapping.
    pub fn code(&self) -> Code {
        match self {
            Self::NotSealed(_) | Self::InvalidInput(_) => Code::InvalidInput,
            Self::HeaderAltered
            | Self::ChunkAltered { .. }
            | Self::Truncated { .. }
            | Self::TrailingData => Code::ContentAltered,
            Self::WrongRecipient { .. } => Code::WrongRecipient,
            Self::OrderRefused(_) => Code::OrderRefused,
            Self::LicenceRefused(_) => Code::LicenceRefused,
            Self::Io(_) => Code::Io,
            Self::Internal(_) => Code::Internal,
        }
    }
}

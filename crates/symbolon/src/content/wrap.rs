//! The content key wrapped to a recipient key (docs/content-format.md §2,
//! §7): RSA-OAEP-SHA-256 to an RSA key (format version 1), HPKE to a
//! P-256, P-384 or X25519 key (version 2). A token unwraps by the kind of
//! key its slot holds, so a licence's wrapped key (made for the buyer's
//! slot key) opens a header sealed to the owner's key of another kind.

use zeroize::Zeroizing;

use super::key::ContentKey;
use super::{ContentError, ContentHeader, ContentId, VERSION, VERSION_HPKE};
use crate::keys::hpke::{self, Kem};
use crate::keys::{EcPublicKey, KeyError, PrivateKeyRef, PublicKey};

/// The HPKE `info` prefix; the content id follows it, so a wrapped key
/// moved into another content's header does not open.
const HPKE_INFO: &[u8] = b"symbolon-content v2 key";

fn info(content_id: ContentId) -> Vec<u8> {
    let mut out = HPKE_INFO.to_vec();
    out.extend_from_slice(content_id.as_bytes());
    out
}

/// The version a header sealed to `recipient` has, and the content key
/// wrapped to it.
pub(crate) fn wrap(
    recipient: &PublicKey,
    key: &ContentKey,
    content_id: ContentId,
) -> Result<(u8, Vec<u8>), ContentError> {
    let cannot = |e: KeyError| ContentError::InvalidInput(format!("cannot seal to this key: {e}"));
    match recipient {
        PublicKey::Rsa(k) => Ok((VERSION, k.encrypt_oaep(key.expose()).map_err(cannot)?)),
        PublicKey::Ec(k) => {
            let kem = Kem::for_curve(k.curve()).map_err(cannot)?;
            let sealed = hpke::seal(k, &info(content_id), key.expose()).map_err(cannot)?;
            let mut out = kem.id().to_be_bytes().to_vec();
            out.extend_from_slice(&sealed);
            Ok((VERSION_HPKE, out))
        }
    }
}

/// The KEM an HPKE-wrapped key names, if its length is that KEM's.
pub(crate) fn hpke_kem(wrapped: &[u8]) -> Option<Kem> {
    let (id, rest) = wrapped.split_first_chunk::<2>()?;
    let kem = Kem::from_id(u16::from_be_bytes(*id))?;
    (rest.len() == kem.sealed_len(super::key::CONTENT_KEY_LEN)).then_some(kem)
}

/// The content key, unwrapped with a slot's private key (RSA-OAEP or
/// HPKE by the key's kind).
pub(crate) fn unwrap(
    key: PrivateKeyRef<'_>,
    header: &ContentHeader,
    wrapped: &[u8],
) -> Result<ContentKey, ContentError> {
    let offered = key.public_key().fingerprint();
    let wrong = || not_opening(header, &offered);
    let unwrapped = match key {
        PrivateKeyRef::Rsa(k) => k.decrypt_oaep(wrapped).map_err(|e| match e {
            KeyError::DecryptionFailed => wrong(),
            other => ContentError::InvalidInput(other.to_string()),
        })?,
        PrivateKeyRef::Ec(k) => unwrap_hpke(k.public_key(), header, wrapped, |e| {
            k.agree(e).map_err(|e| match e {
                KeyError::DecryptionFailed => wrong(),
                other => ContentError::InvalidInput(other.to_string()),
            })
        })?,
    };
    ContentKey::from_unwrapped(&unwrapped)
}

/// The content key, HPKE-unwrapped for `recipient` whose Diffie-Hellman
/// `dh` computes (inside a token or device). For backends outside this
/// crate (a PKCS#11 device): the key is returned zeroising, and goes
/// straight into [`super::StreamOpener::from_content_key`].
pub fn unwrap_hpke(
    recipient: &EcPublicKey,
    header: &ContentHeader,
    wrapped: &[u8],
    dh: impl FnOnce(&EcPublicKey) -> Result<Zeroizing<Vec<u8>>, ContentError>,
) -> Result<Zeroizing<Vec<u8>>, ContentError> {
    let offered = recipient.fingerprint();
    let wrong = || not_opening(header, &offered);
    let kem =
        Kem::for_curve(recipient.curve()).map_err(|e| ContentError::InvalidInput(e.to_string()))?;
    // Wrapped to another kind of key (RSA, another curve): not ours.
    if hpke_kem(wrapped) != Some(kem) {
        return Err(wrong());
    }
    // The DH's own refusal passes through; every failure of the KEM or
    // the AEAD means the same to the caller: not sealed to this key.
    enum Failure {
        Key(KeyError),
        Dh(ContentError),
    }
    impl From<KeyError> for Failure {
        fn from(e: KeyError) -> Self {
            Self::Key(e)
        }
    }
    hpke::open(recipient, &info(header.content_id()), &wrapped[2..], |e| {
        dh(e).map_err(Failure::Dh)
    })
    .map_err(|f| match f {
        Failure::Dh(e) => e,
        Failure::Key(KeyError::Internal(what)) => ContentError::Internal(what),
        Failure::Key(KeyError::SelfTest(_)) => ContentError::Internal("self-test failed"),
        Failure::Key(_) => wrong(),
    })
}

/// Why a wrapped key does not open with the key `offered`: sealed to
/// another key, or — sealed to this very key and still not opening — the
/// header (its content id, bound in the HPKE info, or the wrapped key
/// itself) was altered.
fn not_opening(header: &ContentHeader, offered: &crate::keys::Fingerprint) -> ContentError {
    if header.recipient() == offered {
        ContentError::HeaderAltered
    } else {
        ContentError::WrongRecipient {
            sealed_to: header.recipient().to_string(),
            offered: offered.to_string(),
        }
    }
}

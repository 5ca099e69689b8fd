//! Certification paths from a leaf to a pinned root (RFC 5280 §6, the parts
//! a closed PKI needs): each certificate names and is signed by the next,
//! every issuer is a CA, every certificate is valid at the time given, and
//! the path ends at exactly the pinned root.

use std::time::SystemTime;

use const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE;
use der::{Any, Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use super::{parse_certificate, verify_signed_by, X509Error};

/// Checks `leaf` through `chain` (intermediates, nearest first; a copy of
/// the root at the end is allowed) up to the pinned `root` (DER) at `now`,
/// and returns the parsed leaf.
pub fn verify_path(
    leaf: &[u8],
    chain: &[Vec<u8>],
    root: &[u8],
    now: SystemTime,
) -> Result<Certificate, X509Error> {
    let bad = |m: String| X509Error::Path(m);
    let chain = match chain.last() {
        Some(last) if last.as_slice() == root => &chain[..chain.len() - 1],
        _ => chain,
    };
    let mut path = vec![parse_certificate(leaf)?];
    for der in chain {
        path.push(parse_certificate(der)?);
    }
    path.push(parse_certificate(root)?);
    for (depth, cert) in path.iter().enumerate() {
        let validity = cert.tbs_certificate().validity();
        if now < validity.not_before.to_system_time() || now > validity.not_after.to_system_time() {
            return Err(bad(format!(
                "certificate {depth} of the path (0 = the signer's) is not valid now (valid {} … {})",
                validity.not_before, validity.not_after
            )));
        }
    }
    for (depth, pair) in path.windows(2).enumerate() {
        let (child, parent) = (&pair[0], &pair[1]);
        let parent_subject = parent.tbs_certificate().subject().to_der();
        if parent_subject.ok() != child.tbs_certificate().issuer().to_der().ok() {
            return Err(bad(format!(
                "certificate {depth} names issuer {}, but the next certificate is {}",
                child.tbs_certificate().issuer(),
                parent.tbs_certificate().subject()
            )));
        }
        let constraints = parent
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .ok()
            .flatten()
            .map(|(_, bc)| bc);
        let Some(bc) = constraints.filter(|bc| bc.ca) else {
            return Err(bad(format!(
                "certificate {} is not a CA certificate",
                depth + 1
            )));
        };
        // RFC 5280 §4.2.1.9: at most pathLenConstraint CA certificates
        // below this one (the leaf not counted).
        if bc
            .path_len_constraint
            .is_some_and(|max| usize::from(max) < depth)
        {
            return Err(bad(format!(
                "certificate {} allows at most {} CA certificates below it, not {depth} (path length constraint)",
                depth + 1,
                bc.path_len_constraint.unwrap_or_default()
            )));
        }
        // RFC 5280 §4.2.1.3: a CA whose key usage is stated must be allowed
        // to sign certificates.
        let usage = parent
            .tbs_certificate()
            .get_extension::<x509_cert::ext::pkix::KeyUsage>()
            .ok()
            .flatten()
            .map(|(_, ku)| ku);
        if usage.is_some_and(|ku| !ku.key_cert_sign()) {
            return Err(bad(format!(
                "certificate {}'s key usage does not include keyCertSign",
                depth + 1
            )));
        }
        verify_signed_by(child, parent)?;
    }
    verify_signed_by(&path[path.len() - 1], &path[path.len() - 1])
        .map_err(|_| bad("the pinned root is not self-signed".into()))?;
    Ok(path.swap_remove(0))
}

/// Whether `cert` carries the extended key usage `purpose`, given as the
/// DER encoding of its OID (so OIDs with arcs wider than 32 bits work).
pub fn has_extended_key_usage(cert: &Certificate, purpose: &[u8]) -> bool {
    let Some(extensions) = cert.tbs_certificate().extensions() else {
        return false;
    };
    extensions
        .iter()
        .filter(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
        .filter_map(|e| Vec::<Any>::from_der(e.extn_value.as_bytes()).ok())
        .any(|purposes| {
            purposes
                .iter()
                .any(|p| p.to_der().ok().as_deref() == Some(purpose))
        })
}

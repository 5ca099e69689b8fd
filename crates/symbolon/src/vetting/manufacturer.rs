//! Evidence a third party can check that a device key lives in a device:
//! a certificate for the device key (its P-256 identity key) issued under a
//! manufacturer's root the admin trusts (`admin trust-manufacturer`). The
//! device's attestations, signed by that key, then carry the manufacturer's
//! word as well as the vouching station's (docs/vetting.md).

use std::time::SystemTime;

use der::Encode;
use x509_cert::ext::pkix::BasicConstraints;

use super::VettingError;
use crate::keys::Fingerprint;
use crate::x509::{parse_certificate, verify_path, verify_signed_by};

/// Most certificates in a device chain (device certificate + intermediates).
pub const MAX_DEVICE_CHAIN: usize = 5;

/// A manufacturer root the admin configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManufacturerRoot {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// SHA-256 of its key (SPKI), the id it is listed under.
    pub fingerprint: Fingerprint,
    /// Its subject, RFC 4514.
    pub subject: String,
}

impl ManufacturerRoot {
    /// Checks that `der` is a self-signed CA certificate valid at `now`.
    pub fn new(der: &[u8], now: SystemTime) -> Result<Self, VettingError> {
        let bad = |m: String| VettingError::Evidence(format!("manufacturer root: {m}"));
        let cert = parse_certificate(der).map_err(|e| bad(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let ca = tbs
            .get_extension::<BasicConstraints>()
            .ok()
            .flatten()
            .is_some_and(|(_, bc)| bc.ca);
        if !ca {
            return Err(bad(
                "not a CA certificate (basicConstraints cA is not set)".into()
            ));
        }
        if tbs.subject() != tbs.issuer() {
            return Err(bad(
                "not self-signed (give the root, not an intermediate)".into()
            ));
        }
        verify_signed_by(&cert, &cert).map_err(|e| bad(format!("its self-signature: {e}")))?;
        let v = tbs.validity();
        if now < v.not_before.to_system_time() || now > v.not_after.to_system_time() {
            return Err(bad(format!(
                "not valid now ({} … {})",
                v.not_before, v.not_after
            )));
        }
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            der: der.to_vec(),
            fingerprint: Fingerprint::of_spki(&spki),
            subject: tbs.subject().to_string(),
        })
    }
}

/// Checks a device certificate chain (the device key's certificate first,
/// then intermediates) against `roots`: the first certificate certifies
/// exactly `device_spki`, the path verifies up to one of the roots at `now`.
/// Returns that root.
pub fn verify_device_chain<'r>(
    device_spki: &[u8],
    chain: &[Vec<u8>],
    roots: &'r [ManufacturerRoot],
    now: SystemTime,
) -> Result<&'r ManufacturerRoot, VettingError> {
    let bad = |m: String| VettingError::Evidence(m);
    let (leaf, rest) = chain
        .split_first()
        .ok_or_else(|| bad("the device chain is empty".into()))?;
    if chain.len() > MAX_DEVICE_CHAIN {
        return Err(bad(format!(
            "at most {MAX_DEVICE_CHAIN} certificates in a device chain"
        )));
    }
    let cert = parse_certificate(leaf).map_err(|e| bad(format!("device certificate: {e}")))?;
    let certified = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| bad(e.to_string()))?;
    // The device's own certificate, not a CA's: a manufacturer's CA key
    // would otherwise pass as a device.
    let is_ca = cert
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
        .ok()
        .flatten()
        .is_some_and(|(_, bc)| bc.ca);
    if is_ca {
        return Err(bad(
            "the device certificate is a CA certificate, not a device's".into(),
        ));
    }
    if certified != device_spki {
        return Err(bad(format!(
            "the device certificate certifies key {}, not this device's key {}",
            Fingerprint::of_spki(&certified),
            Fingerprint::of_spki(device_spki)
        )));
    }
    if roots.is_empty() {
        return Err(bad(
            "no manufacturer root is configured (`symbolon admin trust-manufacturer ROOT.pem`)"
                .into(),
        ));
    }
    // The chain's top certificate names its issuer: the refusal reports why
    // the path fails under the root of that name, whatever order the roots
    // are tried in (another root's "wrong issuer" says nothing useful).
    let top_issuer = match rest.last() {
        Some(der) => parse_certificate(der)
            .map_err(|e| bad(format!("device chain: {e}")))?
            .tbs_certificate()
            .issuer()
            .clone(),
        None => cert.tbs_certificate().issuer().clone(),
    };
    let mut last = String::new();
    let mut named = None;
    for root in roots {
        match verify_path(leaf, rest, &root.der, now) {
            Ok(_) => return Ok(root),
            Err(e) => {
                let is_named = parse_certificate(&root.der)
                    .is_ok_and(|r| r.tbs_certificate().subject() == &top_issuer);
                if is_named && named.is_none() {
                    named = Some(e.to_string());
                }
                last = e.to_string();
            }
        }
    }
    Err(bad(format!(
        "the device certificate does not chain to a trusted manufacturer root ({})",
        named.unwrap_or(last)
    )))
}

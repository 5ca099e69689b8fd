//! Certificate revocation lists (RFC 5280 §5): a full CRL of everything
//! revoked and not released, and a delta CRL of what changed since a full
//! one (§5.2.4), signed inside the CA's token; and the reading of one (for
//! the CLI and for tests).

use std::time::{Duration, UNIX_EPOCH};

use const_oid::db::rfc5280;
use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::crl::BaseCrlNumber;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason, FreshestCrl};
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::{RevocationError, RevocationReason};
use crate::keys::{PublicKey, SignRequest, SignatureAlgorithm};
use crate::x509::CaSigner;

/// One revoked certificate as the CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The certificate's serial, big-endian (a positive DER INTEGER's
    /// content).
    pub serial: Vec<u8>,
    /// When it was revoked (Unix seconds).
    pub revoked_at: i64,
    /// Why.
    pub reason: RevocationReason,
    /// Since when the key is believed compromised or the certificate
    /// otherwise invalid (Unix seconds), when known and earlier.
    pub invalid_since: Option<i64>,
}

/// A certificate a delta CRL takes off the list: its hold was released
/// (listed with reason removeFromCRL, RFC 5280 §5.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedEntry {
    /// The certificate's serial, big-endian.
    pub serial: Vec<u8>,
    /// When it had been put on hold (Unix seconds): the entry it removes.
    pub revoked_at: i64,
}

/// What makes a CRL a delta CRL (RFC 5280 §5.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaOf {
    /// The number of the full CRL it is relative to (BaseCRLNumber): it
    /// combines with any full CRL numbered this or higher.
    pub base: u64,
    /// Entries that left the list since that CRL.
    pub removed: Vec<RemovedEntry>,
}

/// What a CRL says, besides its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlParams {
    /// The CRL number: monotonically increasing for this CA, one sequence
    /// for full and delta CRLs.
    pub number: u64,
    /// This update (Unix seconds).
    pub this_update: i64,
    /// The next update, by which a newer CRL will have been issued.
    pub next_update: i64,
    /// For a delta CRL: its base and what left the list.
    pub delta: Option<DeltaOf>,
    /// For a full CRL: where the delta CRLs are published (the Freshest
    /// CRL extension, §5.2.6).
    pub freshest: Option<String>,
}

/// A CRL read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlSummary {
    /// The CRL number.
    pub number: u64,
    /// This update (Unix seconds).
    pub this_update: i64,
    /// The next update (Unix seconds).
    pub next_update: Option<i64>,
    /// The entries.
    pub entries: Vec<RevokedEntry>,
    /// A delta CRL's base CRL number.
    pub delta_of: Option<u64>,
    /// A delta CRL's removeFromCRL entries (serials).
    pub removed: Vec<Vec<u8>>,
}

fn time(unix: i64, what: &'static str) -> Result<Time, RevocationError> {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    Time::try_from(t).map_err(|e| RevocationError::Encoding {
        what,
        reason: e.to_string(),
    })
}

fn unix(t: &Time) -> i64 {
    t.to_unix_duration().as_secs() as i64
}

fn encoding<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> RevocationError {
    move |e| RevocationError::Encoding {
        what,
        reason: e.to_string(),
    }
}

fn extension(
    id: der::asn1::ObjectIdentifier,
    value: &impl Encode,
) -> Result<Extension, RevocationError> {
    Ok(Extension {
        extn_id: id,
        critical: false,
        extn_value: OctetString::new(value.to_der().map_err(encoding("extension"))?)
            .map_err(encoding("extension"))?,
    })
}

fn uint(n: u64, what: &'static str) -> Result<der::asn1::Uint, RevocationError> {
    der::asn1::Uint::new(&n.to_be_bytes()).map_err(encoding(what))
}

/// A removeFromCRL entry.
fn removed(e: &RemovedEntry) -> Result<RevokedCert, RevocationError> {
    Ok(RevokedCert {
        serial_number: SerialNumber::new(&e.serial).map_err(encoding("serial"))?,
        revocation_date: time(e.revoked_at, "revocation date")?,
        crl_entry_extensions: Some(vec![extension(
            rfc5280::ID_CE_CRL_REASONS,
            &CrlReason::RemoveFromCRL,
        )?]),
    })
}

fn entry(e: &RevokedEntry) -> Result<RevokedCert, RevocationError> {
    let mut extensions = Vec::new();
    // RFC 5280 §5.3.1: unspecified is expressed by leaving the reason out.
    if e.reason != RevocationReason::Unspecified {
        extensions.push(extension(
            rfc5280::ID_CE_CRL_REASONS,
            &e.reason.crl_reason(),
        )?);
    }
    if let Some(since) = e.invalid_since {
        let at = GeneralizedTime::from_unix_duration(Duration::from_secs(
            u64::try_from(since).unwrap_or(0),
        ))
        .map_err(encoding("invalidity date"))?;
        extensions.push(extension(rfc5280::ID_CE_INVALIDITY_DATE, &at)?);
    }
    Ok(RevokedCert {
        serial_number: SerialNumber::new(&e.serial).map_err(encoding("serial"))?,
        revocation_date: time(e.revoked_at, "revocation date")?,
        crl_entry_extensions: (!extensions.is_empty()).then_some(extensions),
    })
}

/// Builds and signs a CRL for `issuer` (the CA certificate whose key
/// `signer` describes): CRL number and authority key identifier, one entry
/// per revoked certificate with its reason code and invalidity date; a
/// delta CRL's indicator (critical) and removeFromCRL entries, or a full
/// CRL's pointer to the delta CRLs.
pub fn build_crl<E: std::fmt::Display>(
    issuer: &Certificate,
    signer: &CaSigner,
    params: &CrlParams,
    entries: &[RevokedEntry],
    sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, RevocationError> {
    if params.next_update <= params.this_update {
        return Err(RevocationError::Invalid(
            "a CRL's next update must come after its this update".into(),
        ));
    }
    let issuer_spki = issuer.tbs_certificate().subject_public_key_info();
    let aki =
        AuthorityKeyIdentifier::try_from(der::referenced::OwnedToRef::owned_to_ref(issuer_spki))
            .map_err(encoding("authority key identifier"))?;
    let number = uint(params.number, "CRL number")?;
    let mut revoked = entries.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    let mut extensions = vec![
        extension(rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER, &aki)?,
        extension(rfc5280::ID_CE_CRL_NUMBER, &CrlNumber(number))?,
    ];
    if let Some(delta) = &params.delta {
        if delta.base >= params.number {
            return Err(RevocationError::Invalid(
                "a delta CRL's number must come after its base CRL's".into(),
            ));
        }
        for e in &delta.removed {
            revoked.push(removed(e)?);
        }
        // Critical, as RFC 5280 requires, so that a relying party that
        // does not know delta CRLs refuses the CRL. Not all do: OpenSSL 3.0
        // takes a delta CRL given alone for a full one (docs/revocation.md).
        // Deltas are to be used beside a full CRL, never alone.
        let mut indicator = extension(
            rfc5280::ID_CE_DELTA_CRL_INDICATOR,
            &BaseCrlNumber(uint(delta.base, "base CRL number")?),
        )?;
        indicator.critical = true;
        extensions.push(indicator);
    }
    if let Some(url) = &params.freshest {
        let uri = der::asn1::Ia5String::new(url).map_err(encoding("freshest CRL"))?;
        extensions.push(extension(
            rfc5280::ID_CE_FRESHEST_CRL,
            &FreshestCrl(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![
                    GeneralName::UniformResourceIdentifier(uri),
                ])),
                reasons: None,
                crl_issuer: None,
            }]),
        )?);
    }
    let algorithm = spki::DynSignatureAlgorithmIdentifier::signature_algorithm_identifier(signer)
        .map_err(encoding("signature algorithm"))?;
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: algorithm,
        issuer: issuer.tbs_certificate().subject().clone(),
        this_update: time(params.this_update, "this update")?,
        next_update: Some(time(params.next_update, "next update")?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(encoding("TBSCertList"))?;
    let (signature_algorithm, sig) = signer.sign_tbs(&tbs_der, sign)?;
    CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm,
        signature: BitString::from_bytes(&sig).map_err(encoding("signature"))?,
    }
    .to_der()
    .map_err(encoding("CRL"))
}

/// Reads a CRL and checks its signature against the CA key.
pub fn read_crl(der: &[u8], issuer_key: &PublicKey) -> Result<CrlSummary, RevocationError> {
    let crl = <CertificateList>::from_der(der).map_err(|e| RevocationError::Malformed {
        what: "CRL",
        reason: e.to_string(),
    })?;
    let scheme = SignatureAlgorithm::from_x509(
        &crl.signature_algorithm.oid,
        crl.signature_algorithm.parameters.as_ref(),
    )
    .map_err(|_| {
        RevocationError::Invalid(format!("CRL signed with {}", crl.signature_algorithm.oid))
    })?;
    let tbs = crl
        .tbs_cert_list
        .to_der()
        .map_err(encoding("TBSCertList"))?;
    let sig = crl
        .signature
        .as_bytes()
        .ok_or(RevocationError::BadSignature("CRL"))?;
    issuer_key
        .verify(scheme, &tbs, sig)
        .map_err(|_| RevocationError::BadSignature("CRL"))?;
    let t = &crl.tbs_cert_list;
    let number_in = |ext: &Extension, what: &'static str| -> Result<u64, RevocationError> {
        let n = der::asn1::Uint::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            RevocationError::Malformed {
                what,
                reason: e.to_string(),
            }
        })?;
        if n.as_bytes().len() > 8 {
            return Err(RevocationError::Invalid(format!("{what} over 64 bits")));
        }
        Ok(n.as_bytes()
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    };
    let mut number = 0u64;
    let mut delta_of = None;
    for ext in t.crl_extensions.iter().flatten() {
        if ext.extn_id == rfc5280::ID_CE_CRL_NUMBER {
            number = number_in(ext, "CRL number")?;
        } else if ext.extn_id == rfc5280::ID_CE_DELTA_CRL_INDICATOR {
            delta_of = Some(number_in(ext, "base CRL number")?);
        }
    }
    let mut removed = Vec::new();
    let mut entries = Vec::new();
    for r in t.revoked_certificates.iter().flatten() {
        let mut reason = RevocationReason::Unspecified;
        let mut invalid_since = None;
        let mut is_removal = false;
        for ext in r.crl_entry_extensions.iter().flatten() {
            if ext.extn_id == rfc5280::ID_CE_CRL_REASONS {
                let code = CrlReason::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                    RevocationError::Malformed {
                        what: "reason code",
                        reason: e.to_string(),
                    }
                })?;
                // removeFromCRL has a meaning in delta CRLs only.
                if code == CrlReason::RemoveFromCRL && delta_of.is_some() {
                    is_removal = true;
                    continue;
                }
                reason = RevocationReason::from_code(code as u8).ok_or_else(|| {
                    RevocationError::Invalid(format!("reason code {}", code as u8))
                })?;
            } else if ext.extn_id == rfc5280::ID_CE_INVALIDITY_DATE {
                let at = GeneralizedTime::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                    RevocationError::Malformed {
                        what: "invalidity date",
                        reason: e.to_string(),
                    }
                })?;
                invalid_since = Some(at.to_unix_duration().as_secs() as i64);
            }
        }
        if is_removal {
            removed.push(r.serial_number.as_bytes().to_vec());
            continue;
        }
        entries.push(RevokedEntry {
            serial: r.serial_number.as_bytes().to_vec(),
            revoked_at: unix(&r.revocation_date),
            reason,
            invalid_since,
        });
    }
    Ok(CrlSummary {
        number,
        this_update: unix(&t.this_update),
        next_update: t.next_update.as_ref().map(unix),
        entries,
        delta_of,
        removed,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keys::{RsaAlgorithm, RsaPrivateKey};
    use crate::x509::{parse_certificate, parse_identity, random_serial, self_signed_root};
    use std::time::SystemTime;

    pub(crate) fn test_ca() -> (RsaPrivateKey, CaSigner, Certificate) {
        let ca = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let signer = CaSigner::new(ca.public_key().clone().into()).unwrap();
        let root = self_signed_root(
            &parse_identity("CN=CRL Test Root").unwrap(),
            &signer,
            random_serial().unwrap(),
            SystemTime::now(),
            Duration::from_secs(86_400),
            |r| ca.sign_request(r),
        )
        .unwrap();
        (ca, signer, parse_certificate(&root).unwrap())
    }

    #[test]
    fn a_crl_reads_back_with_its_entries_and_refuses_tampering() {
        let (ca, signer, root) = test_ca();
        let entries = vec![
            RevokedEntry {
                serial: vec![0x40, 1, 2, 3],
                revoked_at: 1_800_000_000,
                reason: RevocationReason::KeyCompromise,
                invalid_since: Some(1_799_000_000),
            },
            RevokedEntry {
                serial: vec![0x41, 9],
                revoked_at: 1_800_000_100,
                reason: RevocationReason::Unspecified,
                invalid_since: None,
            },
        ];
        let params = CrlParams {
            number: 7,
            this_update: 1_800_000_200,
            next_update: 1_800_086_600,
            delta: None,
            freshest: None,
        };
        let der = build_crl(&root, &signer, &params, &entries, |r| ca.sign_request(r)).unwrap();
        let read = read_crl(&der, &ca.public_key().clone().into()).unwrap();
        assert_eq!(read.number, 7);
        assert_eq!(read.this_update, params.this_update);
        assert_eq!(read.next_update, Some(params.next_update));
        assert_eq!(read.entries, entries);

        let mut bad = der.clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        assert_eq!(
            read_crl(&bad, &ca.public_key().clone().into()).unwrap_err(),
            RevocationError::BadSignature("CRL")
        );
        let (other, _, _) = test_ca();
        assert!(read_crl(&der, &other.public_key().clone().into()).is_err());

        // An empty CRL leaves revokedCertificates out.
        let empty = build_crl(&root, &signer, &params, &[], |r| ca.sign_request(r)).unwrap();
        assert!(read_crl(&empty, &ca.public_key().clone().into())
            .unwrap()
            .entries
            .is_empty());
        let backwards = CrlParams {
            next_update: params.this_update,
            ..params
        };
        assert!(build_crl(&root, &signer, &backwards, &[], |r| ca.sign_request(r)).is_err());
    }

    #[test]
    fn a_delta_crl_names_its_base_and_what_left_the_list() {
        let (ca, signer, root) = test_ca();
        let key: PublicKey = ca.public_key().clone().into();
        let revoked = vec![RevokedEntry {
            serial: vec![0x40, 7],
            revoked_at: 1_800_000_000,
            reason: RevocationReason::Superseded,
            invalid_since: None,
        }];
        let params = CrlParams {
            number: 12,
            this_update: 1_800_000_200,
            next_update: 1_800_086_600,
            delta: Some(DeltaOf {
                base: 9,
                removed: vec![RemovedEntry {
                    serial: vec![0x41, 1],
                    revoked_at: 1_799_000_000,
                }],
            }),
            freshest: None,
        };
        let der = build_crl(&root, &signer, &params, &revoked, |r| ca.sign_request(r)).unwrap();
        let read = read_crl(&der, &key).unwrap();
        assert_eq!(read.number, 12);
        assert_eq!(read.delta_of, Some(9));
        assert_eq!(read.entries, revoked);
        assert_eq!(read.removed, vec![vec![0x41, 1]]);
        // The indicator is critical: a reader that knows no deltas stops.
        let crl = <CertificateList>::from_der(&der).unwrap();
        let indicator = crl
            .tbs_cert_list
            .crl_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == rfc5280::ID_CE_DELTA_CRL_INDICATOR)
            .unwrap();
        assert!(indicator.critical);

        // A base at or after the delta's own number is refused.
        let mut late = params.clone();
        late.delta.as_mut().unwrap().base = 12;
        assert!(build_crl(&root, &signer, &late, &[], |r| ca.sign_request(r)).is_err());

        // A full CRL points at the deltas and is no delta itself.
        let full = CrlParams {
            delta: None,
            freshest: Some("https://ca.example/v1/crl/delta".into()),
            ..params
        };
        let der = build_crl(&root, &signer, &full, &revoked, |r| ca.sign_request(r)).unwrap();
        let read = read_crl(&der, &key).unwrap();
        assert_eq!(read.delta_of, None);
        assert!(read.removed.is_empty());
        let crl = <CertificateList>::from_der(&der).unwrap();
        assert!(crl
            .tbs_cert_list
            .crl_extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == rfc5280::ID_CE_FRESHEST_CRL && !e.critical));
    }
}

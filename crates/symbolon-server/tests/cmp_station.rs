//! CMP signed by a station's credential (docs/cmp.md): a `p10cr` protected
//! by the credential's key in its token is certified under the station's
//! name policy, the answer signed by the CA's response signer, whose
//! certificate chains to the CA; a subject outside the policy is refused
//! in a rejection the client can read; the same message sent again is
//! refused, its transaction still open; an altered one does not verify.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use symbolon::access::Role;
use symbolon::ca::CaPolicy;
use symbolon::cmp::{Message, Request, RequestProtection};
use symbolon::keys::{
    EcCurve, EcPrivateKey, HashAlgorithm, MessageDigest, RsaAlgorithm, SignRequest,
    SignatureAlgorithm, SignatureScheme,
};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::vetting::NamePolicyText;
use symbolon::x509::{
    build_ec_csr_with_names, certificate_public_key, parse_certificate, parse_identity,
    verify_issued_by, AltNames, Certificate, EcSigner,
};
use symbolon_server::{CaService, DataDir};
use symbolon_store::{acting_as, Actor, Registry};
use x509_cert::der::Decode;

struct Station {
    service: Arc<CaService>,
    token: SoftToken<MemoryStore>,
    slot: SlotName,
    certificate: Certificate,
    admin_slot: SlotName,
    admin: Certificate,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// A CA, and a station credential whose key is in a soft token, allowed
/// to certify subjects under `O=Plant` only.
fn station() -> Station {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    data.init(
        "CN=cmp test CA",
        RsaAlgorithm::Rsa2048.into(),
        CaPolicy::default(),
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let slot = SlotName::new("credential").unwrap();
    let admin_slot = SlotName::new("admin").unwrap();
    let (service, token, certificate, admin) = rt.block_on(async {
        let registry = Registry::open(&data.database_url()).await.unwrap();
        let service = Arc::new(CaService::new(data.open().unwrap(), registry).unwrap());
        let mut token =
            SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
        let public = token.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
        let issued = service
            .bootstrap_credential(
                Role::Station,
                &"station-1".parse().unwrap(),
                &public,
                symbolon_server::credentials::CREDENTIAL_VALIDITY,
            )
            .await
            .unwrap();
        let admin_key = token.generate(&admin_slot, RsaAlgorithm::Rsa2048).unwrap();
        let admin_issued = service
            .bootstrap_credential(
                Role::Admin,
                &"admin-1".parse().unwrap(),
                &admin_key,
                symbolon_server::credentials::CREDENTIAL_VALIDITY,
            )
            .await
            .unwrap();
        let admin = Actor {
            role: Role::Admin,
            name: "admin".parse().unwrap(),
            credential: "0a0b".parse().unwrap(),
        };
        let policy = NamePolicyText {
            allow: vec!["dn:O=Plant".into()],
            deny: Vec::new(),
        };
        acting_as(
            admin,
            service.set_name_policy(&"station-1".parse().unwrap(), &policy),
        )
        .await
        .unwrap();
        (
            service,
            token,
            Certificate::from_der(&issued.certificate).unwrap(),
            Certificate::from_der(&admin_issued.certificate).unwrap(),
        )
    });
    Station {
        service,
        token,
        slot,
        certificate,
        admin_slot,
        admin,
        rt,
        _dir: dir,
    }
}

impl Station {
    /// A p10cr for a fresh P-256 key and `subject`, signed by the
    /// station's credential.
    fn p10cr(&self, subject: &str) -> Vec<u8> {
        self.p10cr_by(subject, &self.slot, &self.certificate)
    }

    /// The same, signed by the credential in `slot` whose certificate is
    /// `certificate`.
    fn p10cr_by(&self, subject: &str, slot: &SlotName, certificate: &Certificate) -> Vec<u8> {
        let key = EcPrivateKey::generate(EcCurve::P256).unwrap();
        let signer = EcSigner::new(key.public_key().clone()).unwrap();
        let csr = build_ec_csr_with_names(
            &parse_identity(subject).unwrap(),
            &AltNames::default(),
            &signer,
            |input| key.sign(input),
        )
        .unwrap();
        let ca = parse_certificate(&self.service.chain()[0]).unwrap();
        Message::p10cr(
            certificate.tbs_certificate().subject(),
            ca.tbs_certificate().subject(),
            &csr,
        )
        .unwrap()
        .protect_with_signature(
            x509_cert::spki::AlgorithmIdentifierOwned {
                oid: x509_cert::der::oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                parameters: Some(x509_cert::der::asn1::Null.into()),
            },
            certificate,
            &[],
            |m| {
                let digest = MessageDigest::of(HashAlgorithm::Sha256, m);
                self.token.sign_request(
                    slot,
                    SignRequest::Rsa(SignatureScheme::Pkcs1Sha256, &digest),
                )
            },
        )
        .unwrap()
    }

    fn send(&self, der: &[u8]) -> (Request, Option<String>) {
        let answer = self.rt.block_on(self.service.cmp(der, None));
        let read = Request::from_der(&answer.der).unwrap();
        (
            read,
            answer
                .refused
                .map(|(code, reason)| format!("{code}: {reason}")),
        )
    }
}

/// The answer is signed by a certificate the CA issued, and verifies.
fn check_signed_by_the_ca(service: &CaService, answer: &Request) {
    let RequestProtection::Signature(alg) = answer.protection().unwrap() else {
        panic!("a signed answer")
    };
    assert_eq!(alg, SignatureAlgorithm::Ecdsa(HashAlgorithm::Sha256));
    let signer = &answer.extra_certs[0];
    let ca = parse_certificate(&service.chain()[0]).unwrap();
    verify_issued_by(signer, &certificate_public_key(&ca).unwrap()).unwrap();
    answer
        .verify_signature(alg, &certificate_public_key(signer).unwrap())
        .unwrap();
}

#[test]
fn a_station_enrolls_by_signature_within_its_name_policy_only() {
    let s = station();
    let der = s.p10cr("CN=valve-3,O=Plant");
    let (answer, refused) = s.send(&der);
    assert_eq!(refused, None);
    // cp (3), signed by the response signer.
    assert_eq!(answer.body_number(), 3);
    check_signed_by_the_ca(&s.service, &answer);
    let issued =
        s.rt.block_on(s.service.registry().audit_entries(0, 1000))
            .unwrap();
    let last = issued
        .iter()
        .rev()
        .find(|e| e.kind == "certificate-issued")
        .unwrap();
    assert!(
        last.detail.contains("\"protocol\":\"cmp\"") && last.detail.contains("name-policy"),
        "{}",
        last.detail
    );

    // The same message again: its transaction waits for a certConf.
    let (again, refused) = s.send(&der);
    assert_eq!(again.body_number(), 3);
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.contains("transactionID")),
        "{refused:?}"
    );

    // Outside the policy: a rejection in the cp, signed, with the reason.
    let (answer, refused) = s.send(&s.p10cr("CN=valve-3,O=Elsewhere"));
    assert_eq!(answer.body_number(), 3);
    check_signed_by_the_ca(&s.service, &answer);
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.starts_with("not_registered") && r.contains("name policy")),
        "{refused:?}"
    );

    // One byte of the request altered (inside the CSR's subject): the
    // signature no longer verifies; an error, signed.
    let mut der = s.p10cr("CN=valve-4,O=Plant");
    let at = der.windows(7).position(|w| w == b"valve-4").unwrap();
    der[at] = b'V';
    let (answer, refused) = s.send(&der);
    assert_eq!(answer.body_number(), 23, "error");
    check_signed_by_the_ca(&s.service, &answer);
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.contains("does not verify")),
        "{refused:?}"
    );

    // An admin's credential is no station's: refused, signed.
    let (answer, refused) = s.send(&s.p10cr_by("CN=valve-5,O=Plant", &s.admin_slot, &s.admin));
    assert_eq!(answer.body_number(), 23, "error");
    check_signed_by_the_ca(&s.service, &answer);
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.starts_with("forbidden") && r.contains("role admin; only stations")),
        "{refused:?}"
    );

    // A revoked station credential is refused as such (not taken for a
    // plain certificate's holder).
    let serial = symbolon_store::CertificateSerial::from_bytes(
        s.certificate.tbs_certificate().serial_number().as_bytes(),
    );
    s.rt.block_on(s.service.revoke_credential(&serial)).unwrap();
    let (answer, refused) = s.send(&s.p10cr("CN=valve-6,O=Plant"));
    assert_eq!(answer.body_number(), 23, "error");
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.starts_with("unauthenticated") && r.contains("revoked")),
        "{refused:?}"
    );
}

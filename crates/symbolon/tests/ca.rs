//! The CA's decisions and the station's checks, without I/O: review of
//! requests (proof of possession, identity, key, attestation) and the signed,
//! nonce-bound response.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use symbolon::ca::{attestation_nonce, review, CaError, CaPolicy, CertifyRequest, CertifyResponse};
use symbolon::keys::{RsaAlgorithm, RsaPrivateKey, SignatureScheme};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::vetting::{DeviceEvidence, RegisteredDevice};
use symbolon::x509::{
    build_csr, issue_leaf, parse_certificate, parse_identity, random_serial, self_signed_root,
    CaSigner, CertificateRole, IssueParams, RsaSigner,
};

fn signer(k: &RsaPrivateKey) -> CaSigner {
    CaSigner::new(k.public_key().clone().into()).unwrap()
}

fn csr_signer(k: &RsaPrivateKey) -> RsaSigner {
    RsaSigner::new(k.public_key().clone(), SignatureScheme::Pkcs1Sha256).unwrap()
}

fn csr_for(k: &RsaPrivateKey, who: &str) -> Vec<u8> {
    build_csr(&parse_identity(who).unwrap(), &csr_signer(k), |s, d| {
        k.sign_digest(s, d)
    })
    .unwrap()
}

fn request(csr: Vec<u8>, identity: &str, role: CertificateRole) -> CertifyRequest {
    CertifyRequest {
        csr,
        form: symbolon::ca::RequestForm::Pkcs10,
        identity: identity.into(),
        role,
        attestation: None,
        domain_validated: false,
    }
}

#[test]
fn review_checks_possession_identity_role_and_attestation() {
    let policy = CaPolicy::default();
    let user = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let csr = csr_for(&user, "CN=Alice,O=Example");

    let ok = review(
        &request(csr.clone(), "CN=Alice, O=Example", CertificateRole::Client),
        &policy,
        None,
    )
    .unwrap();
    assert_eq!(&ok.public_key, user.public_key());
    assert_eq!(ok.attested_by, None);

    let e = review(
        &request(csr.clone(), "CN=Mallory,O=Example", CertificateRole::Client),
        &policy,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "identity_mismatch");

    let mut forged = csr.clone();
    let n = forged.len();
    forged[n - 9] ^= 0x40;
    let e = review(
        &request(forged, "CN=Alice,O=Example", CertificateRole::Client),
        &policy,
        None,
    )
    .unwrap_err();
    assert_eq!(e, CaError::BadRequestSignature);

    let e = review(
        &request(b"junk".to_vec(), "CN=Alice", CertificateRole::Client),
        &policy,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_request");

    let e = review(
        &request(csr.clone(), "CN=Alice,O=Example", CertificateRole::Server),
        &policy,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "attestation_required");

    let strict = CaPolicy {
        roles: vec![CertificateRole::Email],
        ..CaPolicy::default()
    };
    let e = review(
        &request(csr, "CN=Alice,O=Example", CertificateRole::Client),
        &strict,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_request");
}

#[test]
fn attestation_binds_the_token_key_to_this_request() {
    let policy = CaPolicy::default();
    let mut token =
        SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    let slot = SlotName::new("tls").unwrap();
    let pk = token.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
    let s = RsaSigner::new(pk, SignatureScheme::Pkcs1Sha256).unwrap();
    let csr = build_csr(&parse_identity("CN=www.example").unwrap(), &s, |sc, d| {
        token.sign(&slot, sc, d)
    })
    .unwrap();
    let registered = |key, evidence| RegisteredDevice { key, evidence };
    let vouched = DeviceEvidence::Vouched {
        by: "st-1".into(),
        role: "station".into(),
    };
    let device = registered(token.device_key().unwrap(), vouched.clone());

    let mut req = request(csr.clone(), "CN=www.example", CertificateRole::Server);
    req.attestation = Some(token.attest(&slot, &attestation_nonce(&csr)).unwrap());
    let ok = review(&req, &policy, Some(&device)).unwrap();
    assert_eq!(ok.attested_by, Some(token.info().unwrap().serial));
    assert_eq!(ok.device_evidence, Some(vouched.clone()));

    // A device nobody vouched for proves nothing.
    let unvouched = registered(token.device_key().unwrap(), DeviceEvidence::Unvouched);
    assert_eq!(
        review(&req, &policy, Some(&unvouched)).unwrap_err().code(),
        "device_not_trusted"
    );
    // A profile that wants the manufacturer's word: a station's is not enough.
    let strict = CaPolicy {
        manufacturer_evidence: vec![CertificateRole::Server],
        ..CaPolicy::default()
    };
    let e = review(&req, &strict, Some(&device)).unwrap_err();
    assert_eq!(e.code(), "device_not_trusted");
    assert!(e.to_string().contains("vouched for by st-1"), "{e}");
    let maker = DeviceEvidence::Manufacturer {
        by: "st-1".into(),
        root: "CN=Vendor Root".into(),
        root_key: symbolon::keys::Fingerprint::of_spki(b"root"),
    };
    let ok = review(
        &req,
        &strict,
        Some(&registered(token.device_key().unwrap(), maker.clone())),
    )
    .unwrap();
    assert_eq!(ok.device_evidence, Some(maker));

    // Not registered, another device, a nonce for another request.
    assert_eq!(
        review(&req, &policy, None).unwrap_err().code(),
        "bad_attestation"
    );
    let other = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    assert_eq!(
        review(
            &req,
            &policy,
            Some(&registered(other.device_key().unwrap(), vouched.clone()))
        )
        .unwrap_err()
        .code(),
        "bad_attestation"
    );
    req.attestation = Some(token.attest(&slot, b"some other request").unwrap());
    assert_eq!(
        review(&req, &policy, Some(&device)).unwrap_err().code(),
        "bad_attestation"
    );
}

/// A root CA, and an email certificate it issued for Alice's key: the CA
/// key, the root (DER and parsed), Alice's key, the issuance parameters and
/// the leaf (DER).
fn root_and_leaf() -> (
    RsaPrivateKey,
    Vec<u8>,
    x509_cert::Certificate,
    RsaPrivateKey,
    IssueParams,
    Vec<u8>,
) {
    let ca = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let root = self_signed_root(
        &parse_identity("CN=Root").unwrap(),
        &signer(&ca),
        random_serial().unwrap(),
        SystemTime::now(),
        Duration::from_secs(86400),
        |r| ca.sign_request(r),
    )
    .unwrap();
    let root_cert = parse_certificate(&root).unwrap();
    let user = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let params = IssueParams {
        serial: random_serial().unwrap(),
        not_before: SystemTime::now(),
        validity: Duration::from_secs(3600),
        subject: parse_identity("CN=Alice").unwrap(),
        public_key: user.public_key().clone().into(),
        role: CertificateRole::Email,
        extras: Default::default(),
    };
    let leaf = issue_leaf(&root_cert, &signer(&ca), &params, |r| ca.sign_request(r)).unwrap();
    (ca, root, root_cert, user, params, leaf)
}

#[test]
fn responses_are_bound_to_the_ca_the_nonce_and_the_key() {
    let (ca, root, _, user, params, leaf) = root_and_leaf();
    let resp = CertifyResponse::sign(
        leaf.clone(),
        vec![root.clone()],
        b"nonce-1".to_vec(),
        &signer(&ca),
        |r| ca.sign_request(r),
    )
    .unwrap();
    resp.verify(&root, b"nonce-1", user.public_key()).unwrap();
    let wire = CertifyResponse::from_json(&resp.to_json("ab").unwrap()).unwrap();
    assert_eq!(wire, resp);

    assert_eq!(
        resp.verify(&root, b"nonce-2", user.public_key())
            .unwrap_err(),
        CaError::ReplayedResponse
    );
    let other = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    assert_eq!(
        resp.verify(&root, b"nonce-1", other.public_key())
            .unwrap_err()
            .code(),
        "wrong_certificate"
    );
    for i in [10, leaf.len() / 2, leaf.len() - 3] {
        let mut t = resp.clone();
        t.certificate[i] ^= 1;
        assert_eq!(
            t.verify(&root, b"nonce-1", user.public_key()).unwrap_err(),
            CaError::BadResponseSignature
        );
    }
    let mut t = resp.clone();
    t.nonce = b"nonce-2".to_vec();
    assert_eq!(
        t.verify(&root, b"nonce-2", user.public_key()).unwrap_err(),
        CaError::BadResponseSignature
    );
    // A response signed by an impostor CA whose chain does not end at the pinned root.
    let fake = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let fake_root = self_signed_root(
        &parse_identity("CN=Root").unwrap(),
        &signer(&fake),
        random_serial().unwrap(),
        SystemTime::now(),
        Duration::from_secs(86400),
        |r| fake.sign_request(r),
    )
    .unwrap();
    let fake_leaf = issue_leaf(
        &parse_certificate(&fake_root).unwrap(),
        &signer(&fake),
        &params,
        |r| fake.sign_request(r),
    )
    .unwrap();
    let forged = CertifyResponse::sign(
        fake_leaf,
        vec![fake_root],
        b"nonce-1".to_vec(),
        &signer(&fake),
        |r| fake.sign_request(r),
    )
    .unwrap();
    assert_eq!(
        forged
            .verify(&root, b"nonce-1", user.public_key())
            .unwrap_err()
            .code(),
        "wrong_certificate"
    );
}

#[test]
fn delegated_responses_need_a_signer_the_ca_certified_for_responses() {
    use symbolon::keys::IdentityKeyPair;
    use symbolon::x509::{issue_delegate, Delegation};
    let (ca, root, root_cert, user, params, leaf) = root_and_leaf();
    let key = IdentityKeyPair::generate().unwrap();
    let certify_signer = |by: &RsaPrivateKey, issuer: &x509_cert::Certificate, from: SystemTime| {
        issue_delegate(
            Delegation::ResponseSigning,
            issuer,
            &signer(by),
            random_serial().unwrap(),
            key.public_key().spki_der(),
            from,
            Duration::from_secs(3600),
            |r| by.sign_request(r),
        )
        .unwrap()
    };
    let respond = |signer_der: Vec<u8>| {
        CertifyResponse::sign_delegated(
            leaf.clone(),
            vec![root.clone()],
            b"nonce-1".to_vec(),
            signer_der,
            |m| key.sign(m),
        )
        .unwrap()
    };
    // The CA's signer: accepted, and the response survives the wire.
    let good = respond(certify_signer(&ca, &root_cert, SystemTime::now()));
    good.verify(&root, b"nonce-1", user.public_key()).unwrap();
    let wire = CertifyResponse::from_json(&good.to_json("ab").unwrap()).unwrap();
    assert_eq!(wire, good);
    wire.verify(&root, b"nonce-1", user.public_key()).unwrap();
    // Tampered, or replayed for another nonce.
    let mut t = good.clone();
    t.certificate[20] ^= 1;
    assert_eq!(
        t.verify(&root, b"nonce-1", user.public_key()).unwrap_err(),
        CaError::BadResponseSignature
    );
    assert_eq!(
        good.verify(&root, b"nonce-2", user.public_key())
            .unwrap_err(),
        CaError::ReplayedResponse
    );
    // A signer certified by another CA (same name), or not valid now.
    let other = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let err = respond(certify_signer(&other, &root_cert, SystemTime::now()))
        .verify(&root, b"nonce-1", user.public_key())
        .unwrap_err();
    assert!(
        err.to_string().contains("not certified by the issuing CA"),
        "{err}"
    );
    let old = SystemTime::now() - Duration::from_secs(7200);
    let err = respond(certify_signer(&ca, &root_cert, old))
        .verify(&root, b"nonce-1", user.public_key())
        .unwrap_err();
    assert!(err.to_string().contains("not valid now"), "{err}");
    // A certificate of the CA for another purpose (its OCSP responder).
    let rsa = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let responder = issue_delegate(
        Delegation::OcspSigning,
        &root_cert,
        &signer(&ca),
        random_serial().unwrap(),
        rsa.public_key().spki_der(),
        SystemTime::now(),
        Duration::from_secs(3600),
        |r| ca.sign_request(r),
    )
    .unwrap();
    let err = respond(responder)
        .verify(&root, b"nonce-1", user.public_key())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not certified for signing responses"),
        "{err}"
    );

    // An end-entity certificate of this CA (its key the attacker's) put
    // first in the chain, "issuing" for the station's key and signing the
    // answer itself: its holder is no CA.
    let attacker = user;
    let victim = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let forged = issue_leaf(
        &parse_certificate(&leaf).unwrap(),
        &signer(&attacker),
        &IssueParams {
            public_key: victim.public_key().clone().into(),
            serial: random_serial().unwrap(),
            ..params.clone()
        },
        |r| attacker.sign_request(r),
    )
    .unwrap();
    let answer = CertifyResponse::sign(
        forged,
        vec![leaf.clone(), root.clone()],
        b"nonce-1".to_vec(),
        &signer(&attacker),
        |r| attacker.sign_request(r),
    )
    .unwrap();
    let err = answer
        .verify(&root, b"nonce-1", victim.public_key())
        .unwrap_err();
    assert_eq!(err.code(), "wrong_certificate", "{err}");
}

/// A request for `who` whose info carries `attributes` (raw DER of the
/// `[0]` contents' elements), signed properly by `k`: only its encoding is off.
fn csr_with_attributes(
    k: &RsaPrivateKey,
    who: &str,
    attributes: Vec<x509_cert::attr::Attribute>,
) -> Vec<u8> {
    use der::Encode;
    use symbolon::keys::{HashAlgorithm, MessageDigest};
    let good = csr_for(k, who);
    let mut req = <x509_cert::request::CertReq as der::Decode>::from_der(&good).unwrap();
    req.info.attributes = attributes.try_into().unwrap();
    let info = req.info.to_der().unwrap();
    let sig = k
        .sign_digest(
            SignatureScheme::Pkcs1Sha256,
            &MessageDigest::of(HashAlgorithm::Sha256, &info),
        )
        .unwrap();
    req.signature = der::asn1::BitString::from_bytes(&sig).unwrap();
    req.to_der().unwrap()
}

fn attribute(oid: &str, values: &[&[u8]]) -> x509_cert::attr::Attribute {
    x509_cert::attr::Attribute {
        oid: oid.parse().unwrap(),
        values: values
            .iter()
            .map(|v| <der::Any as der::Decode>::from_der(v).unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    }
}

#[test]
fn csrs_must_be_der() {
    let k = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    // extensionRequest with basicConstraints whose `critical FALSE` is
    // spelled out: BER, since DER omits a DEFAULT value.
    let explicit_false: &[u8] = &[
        0x30, 0x0e, // Extensions
        0x30, 0x0c, // Extension
        0x06, 0x03, 0x55, 0x1d, 0x13, // basicConstraints
        0x01, 0x01, 0x00, // critical FALSE
        0x04, 0x02, 0x30, 0x00, // extnValue: SEQUENCE {}
    ];
    let ber = csr_with_attributes(
        &k,
        "CN=Alice",
        vec![attribute("1.2.840.113549.1.9.14", &[explicit_false])],
    );
    let e = symbolon::x509::verify_csr(&ber).unwrap_err().to_string();
    assert!(
        e.contains("extensionRequest: extension 2.5.29.19") && e.contains("not DER"),
        "{e}"
    );
    // An attribute with an empty SET of values.
    let empty = csr_with_attributes(
        &k,
        "CN=Alice",
        vec![x509_cert::attr::Attribute {
            oid: "1.2.840.113549.1.9.7".parse().unwrap(),
            values: Default::default(),
        }],
    );
    let e = symbolon::x509::verify_csr(&empty).unwrap_err().to_string();
    assert!(
        e.contains("empty SET") && e.contains("1.2.840.113549.1.9.7"),
        "{e}"
    );
    // Both are refused by the CA's review as invalid requests.
    for csr in [ber, empty] {
        let err = review(
            &request(csr, "CN=Alice", CertificateRole::Client),
            &CaPolicy::default(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{err}");
    }
    // The same extension in DER, and no attributes at all, are fine.
    let der_ok: &[u8] = &[
        0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x04, 0x02, 0x30, 0x00,
    ];
    symbolon::x509::verify_csr(&csr_with_attributes(
        &k,
        "CN=Alice",
        vec![attribute("1.2.840.113549.1.9.14", &[der_ok])],
    ))
    .unwrap();
    symbolon::x509::verify_csr(&csr_with_attributes(&k, "CN=Alice", vec![])).unwrap();
}

#[test]
fn a_huge_public_exponent_is_a_weak_key_not_a_parse_error() {
    use der::Encode;
    let k = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let n = k.public_key().modulus().to_vec();
    for e_bytes in [vec![0x01, 0x00, 0x00, 0x00, 0x01], {
        let mut e = vec![0xff; 40];
        e[39] = 0xfd;
        e
    }] {
        let der = pkcs1::RsaPublicKey {
            modulus: pkcs1::UintRef::new(&n).unwrap(),
            public_exponent: pkcs1::UintRef::new(&e_bytes).unwrap(),
        }
        .to_der()
        .unwrap();
        let err = symbolon::keys::RsaPublicKey::from_der(&der)
            .and_then(|key| key.check_policy().map(|_| key))
            .unwrap_err();
        assert!(
            matches!(&err, symbolon::keys::KeyError::Weak(w) if w.detail.contains("Wiener"))
                || matches!(&err, symbolon::keys::KeyError::Refused(m) if m.contains("exponent")),
            "{err}"
        );
    }
}

#[test]
fn proven_domain_control_stands_in_for_a_server_key_attestation_and_nothing_else() {
    let user = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let csr = csr_for(&user, "CN=www.example");
    let mut req = request(csr, "CN=www.example", CertificateRole::Server);
    let e = review(&req, &CaPolicy::default(), None).unwrap_err();
    assert_eq!(e.code(), "attestation_required");
    // The names proven (ACME, docs/acme.md): a server certificate for a
    // key that lives in the server's software.
    req.domain_validated = true;
    let ok = review(&req, &CaPolicy::default(), None).unwrap();
    assert_eq!(ok.attested_by, None);
    assert_eq!(ok.alt_names.dns[0].as_str(), "www.example");
    // A CA that asks every key for its token's word still does.
    let strict = CaPolicy {
        require_attestation: true,
        ..CaPolicy::default()
    };
    let e = review(&req, &strict, None).unwrap_err();
    assert_eq!(e.code(), "attestation_required");

    // An empty subject takes the identity presented, with proof only.
    let empty = build_csr(&Default::default(), &csr_signer(&user), |s, d| {
        user.sign_digest(s, d)
    })
    .unwrap();
    let mut req = request(empty, "CN=www.example", CertificateRole::Server);
    req.domain_validated = true;
    let ok = review(&req, &CaPolicy::default(), None).unwrap();
    assert_eq!(ok.subject, parse_identity("CN=www.example").unwrap());
    req.domain_validated = false;
    req.role = CertificateRole::Client;
    let e = review(&req, &CaPolicy::default(), None).unwrap_err();
    assert_eq!(e.code(), "identity_mismatch");
}

//! The issuance station's workflow (`symbolon_client::Station`) against the
//! real service over TLS, without the binary: a key born in the token
//! (embodiment 4) and a key the station makes and writes into the token
//! (embodiments 1–2) are each certified, checked against the pinned root
//! and delivered; a refusal before certification abandons the reservation
//! and leaves the token as it was; a station pinned to another CA stops
//! before any key is made or any certificate issued.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use symbolon::access::Role;
use symbolon::ca::CaPolicy;
use symbolon::issuer::IssuerIdentity;
use symbolon::keys::{KeyAlgorithm, RsaAlgorithm};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::vetting::NamePolicyText;
use symbolon::x509::{parse_identity, AltNames, CertificateRole};
use symbolon::Code;
use symbolon_client::station::{register_token, reusable_slot, Enrollment, Station, StationError};
use symbolon_client::{ClientError, Credential, PinnedRoots, ServiceClient};
use symbolon_server::gate::Edge;
use symbolon_server::rate_limit::{Limit, RateLimiter};
use symbolon_server::tls::{server_config, ServerKey, ServiceNames};
use symbolon_server::{CaService, DataDir};
use symbolon_store::{acting_as, Actor, Registry};

struct Running {
    service: Arc<CaService>,
    client: ServiceClient,
    root: Vec<u8>,
    _dir: tempfile::TempDir,
}

/// A CA on a loopback port over TLS, and a client of it holding a station
/// credential.
fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    data.init(
        "CN=station test CA",
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
    let (service, tls, listener, credential) = rt.block_on(async {
        let registry = Registry::open(&data.database_url()).await.unwrap();
        let service = Arc::new(CaService::new(data.open().unwrap(), registry).unwrap());
        let tls = server_config(&service, &ServerKey::Own(ServiceNames::loopback()))
            .await
            .unwrap();
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
        let mut pem = symbolon::pem::encode("CERTIFICATE", &issued.certificate);
        for c in service.chain() {
            pem.push_str(&symbolon::pem::encode("CERTIFICATE", c));
        }
        Credential::install(&mut token, &slot, &pem).unwrap();
        // The station may certify any subject name (vetting is tested
        // elsewhere); an admin says so.
        let admin = Actor {
            role: Role::Admin,
            name: "admin".parse().unwrap(),
            credential: "0a0b".parse().unwrap(),
        };
        let allow_all = NamePolicyText {
            allow: vec!["dn:*".into()],
            deny: Vec::new(),
        };
        acting_as(
            admin,
            service.set_name_policy(&"station-1".parse().unwrap(), &allow_all),
        )
        .await
        .unwrap();
        let credential = Credential::open(Arc::new(token), &slot).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        (service, tls, listener, credential)
    });
    let addr = listener.local_addr().unwrap();
    let root = service.chain().last().unwrap().clone();
    let unlimited = Limit {
        per_second: 1e6,
        burst: 1e6,
    };
    let app = symbolon_server::http::router(Arc::new(Edge {
        service: Arc::clone(&service),
        limiter: RateLimiter::new(unlimited, unlimited),
    }));
    std::thread::spawn(move || {
        rt.block_on(async move {
            let never = std::future::pending::<()>();
            symbolon_server::edge::serve(listener, app, Some(tls.config), never)
                .await
                .unwrap();
        })
    });
    let roots = PinnedRoots::from_der(service.chain().to_vec());
    let client =
        ServiceClient::new(&format!("https://{addr}"), Some(&roots), Some(&credential)).unwrap();
    Running {
        service,
        client,
        root,
        _dir: dir,
    }
}

/// A user's token that trusts `issuer`, registered with the CA.
fn user_token(ca: &ServiceClient, issuer: &IssuerIdentity) -> SoftToken<MemoryStore> {
    let mut t = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    t.trust_issuer(issuer.public_key()).unwrap();
    let answer = register_token(ca, &t, None).unwrap();
    assert_eq!(answer["evidence"]["by"], "station-1", "{answer}");
    t
}

fn enrollment(identity: &str, slot: &str) -> Enrollment {
    Enrollment {
        identity: identity.into(),
        subject: parse_identity(identity).unwrap(),
        names: AltNames::default(),
        role: CertificateRole::DocumentSigning,
        slot: SlotName::new(slot).unwrap(),
    }
}

/// How many certificates the CA has issued.
fn issued_count(ca: &Running) -> usize {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ca.service.registry().audit_entries(0, 10_000))
        .unwrap()
        .iter()
        .filter(|a| a.kind == "certificate-issued")
        .count()
}

fn no_csr(_: &[u8]) -> Result<(), StationError> {
    Ok(())
}

#[test]
fn keys_made_in_the_token_and_by_the_station_are_certified_and_delivered() {
    let ca = start();
    let issuer = IssuerIdentity::generate().unwrap();
    let station = Station::new(&ca.client, &ca.root, &issuer);
    let mut token = user_token(&ca.client, &issuer);

    // Embodiment 4: born in the token; the request is handed out first.
    let e = enrollment("CN=Alice,O=Example", "sig");
    let mut kept = Vec::new();
    let issued = station
        .issue_on_token(
            &mut token,
            &e,
            KeyAlgorithm::Rsa(RsaAlgorithm::Rsa2048),
            false,
            &mut |csr| {
                kept = csr.to_vec();
                Ok(())
            },
        )
        .unwrap();
    assert!(!kept.is_empty());
    assert_eq!(token.certificate(&e.slot).unwrap(), issued.certificate);
    let cert = symbolon::x509::parse_certificate(&issued.certificate).unwrap();
    assert_eq!(
        hex::encode(cert.tbs_certificate().serial_number().as_bytes()),
        issued.serial
    );
    assert_eq!(token.slot_public_key(&e.slot).unwrap(), issued.public);

    // Embodiments 1–2: made by the station, now only in the token.
    let e = enrollment("CN=Alice,O=Example", "enc");
    let issued = station
        .issue_station_key(
            &mut token,
            &e,
            KeyAlgorithm::Rsa(RsaAlgorithm::Rsa2048),
            None,
            &mut no_csr,
        )
        .unwrap();
    assert_eq!(token.slot_public_key(&e.slot).unwrap(), issued.public);
    assert_eq!(token.certificate(&e.slot).unwrap(), issued.certificate);
    let slot = token
        .info()
        .unwrap()
        .slots
        .into_iter()
        .find(|s| s.name == e.slot)
        .unwrap();
    assert!(slot.has_certificate);

    // An occupied slot is never replaced.
    let e = reusable_slot(&token, &SlotName::new("enc").unwrap(), false, None).unwrap_err();
    assert_eq!(e.code(), Code::SlotOccupied);
}

#[test]
fn a_refusal_abandons_the_reservation_and_leaves_the_token_as_it_was() {
    let ca = start();
    let issuer = IssuerIdentity::generate().unwrap();
    let station = Station::new(&ca.client, &ca.root, &issuer);
    let mut token = user_token(&ca.client, &issuer);
    let before = token.info().unwrap();
    // An identity the CA cannot take (an empty common name).
    let mut e = enrollment("CN=Bob", "sig");
    e.identity = "CN=".into();
    let err = station
        .issue_station_key(
            &mut token,
            &e,
            KeyAlgorithm::Rsa(RsaAlgorithm::Rsa2048),
            None,
            &mut no_csr,
        )
        .unwrap_err();
    match &err {
        StationError::Service(ClientError::Refused { status, .. }) => {
            assert!((400..500).contains(status), "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(token.info().unwrap(), before, "the token changed");
    // The reservation was given up, with the station's reason.
    let audit = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ca.service.registry().audit_entries(0, 1000))
        .unwrap();
    let kinds: Vec<String> = audit.iter().map(|a| a.kind.to_string()).collect();
    assert!(
        kinds.iter().any(|k| k == "reservation-abandoned"),
        "{kinds:?}"
    );
}

#[test]
fn a_station_pinned_to_another_ca_stops_before_anything_is_made() {
    let ca = start();
    let issuer = IssuerIdentity::generate().unwrap();
    // The station pins another CA's root.
    let other = tempfile::tempdir().unwrap();
    let other_data = DataDir::new(other.path().join("d"));
    other_data
        .init(
            "CN=another CA",
            RsaAlgorithm::Rsa2048.into(),
            CaPolicy::default(),
            None,
        )
        .unwrap();
    let other_root = symbolon_server::read_chain(&other_data.chain_path()).unwrap();
    let station = Station::new(&ca.client, other_root.last().unwrap(), &issuer);
    let issued_before = issued_count(&ca);
    let mut token = user_token(&ca.client, &issuer);
    let e = enrollment("CN=Carol", "sig");
    let err = station
        .issue_on_token(
            &mut token,
            &e,
            KeyAlgorithm::Rsa(RsaAlgorithm::Rsa2048),
            false,
            &mut no_csr,
        )
        .unwrap_err();
    // Found before anything is made or sent: no key in the token, nothing
    // issued by a CA the station would then refuse.
    assert!(matches!(err, StationError::WrongCa(_)), "{err:?}");
    assert_eq!(err.code(), Code::WrongCertificate);
    assert!(err.to_string().contains("not the pinned one"), "{err}");
    assert!(token.info().unwrap().slots.is_empty());
    assert_eq!(issued_count(&ca), issued_before);
    // Pinned right, the same station issues.
    let station = Station::new(&ca.client, &ca.root, &issuer);
    station
        .issue_on_token(
            &mut token,
            &e,
            KeyAlgorithm::Rsa(RsaAlgorithm::Rsa2048),
            false,
            &mut no_csr,
        )
        .unwrap();
    assert_eq!(issued_count(&ca), issued_before + 1);
}

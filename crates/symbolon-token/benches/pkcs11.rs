//! Signing through symbolon's PKCS#11 token beside raw cryptoki signing
//! (what pkcs11-tool does: C_Sign with CKM_RSA_PKCS over a DigestInfo) on
//! the same SoftHSM2 key. Needs SoftHSM2; `scripts/bench` prints the ratio.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use symbolon::keys::{HashAlgorithm, MessageDigest, RsaAlgorithm, SignatureScheme};
use symbolon::token::{SlotName, Token};
use symbolon_token::pkcs11::{Pkcs11Token, Pkcs11Uri};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "bench-pin-246810";
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

fn bench(c: &mut Criterion) {
    if !std::path::Path::new(MODULE).exists() {
        eprintln!("pkcs11 bench skipped: no SoftHSM2 at {MODULE}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    // Before any module is loaded in this process, and before any thread.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let status = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--pin",
            PIN,
            "--so-pin",
            "so-bench",
        ])
        .output()
        .unwrap();
    assert!(status.status.success());
    std::fs::write(dir.path().join("pin"), PIN).unwrap();
    let uri = Pkcs11Uri::parse(&format!(
        "pkcs11:token=bench?module-path={MODULE}&pin-source=file:{}",
        dir.path().join("pin").display()
    ))
    .unwrap();
    let mut token = Pkcs11Token::init(&uri).unwrap();
    let slot = SlotName::new("bench").unwrap();
    token.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
    let digest = MessageDigest::of(HashAlgorithm::Sha256, b"benchmark message");

    // The raw path: its own session on the same device and key.
    let ctx = Pkcs11::new(MODULE).unwrap();
    let _ = ctx.initialize(CInitializeArgs::OsThreads);
    let slot_id = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim() == "bench")
        .unwrap();
    let session = ctx.open_ro_session(slot_id).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::new(PIN.into())));
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"bench".to_vec()),
        ])
        .unwrap()[0];
    let mut info = SHA256_DIGEST_INFO.to_vec();
    info.extend_from_slice(digest.as_bytes());

    let mut g = c.benchmark_group("pkcs11/rsa-2048");
    g.bench_function("sign/symbolon", |b| {
        b.iter(|| {
            token
                .sign(&slot, SignatureScheme::Pkcs1Sha256, &digest)
                .unwrap()
        })
    });
    g.bench_function("sign/raw-cryptoki", |b| {
        b.iter(|| session.sign(&Mechanism::RsaPkcs, key, &info).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

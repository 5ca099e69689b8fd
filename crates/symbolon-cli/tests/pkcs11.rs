//! Hardware tokens end to end: SoftHSM2 as the user's token and as the CA's,
//! OpenSC's pkcs11-tool on the same device as the peer that checks what
//! symbolon left there, and every device error a user can meet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `p11!(dir, "token info --token {uri}")`: `sym_ok` over the line's words.
macro_rules! p11 {
    ($dir:expr, $line:literal) => {
        sym_ok($dir, &argv(&format!($line)))
    };
}

/// `p11_fails!(dir, "…", code, needle)`: `sym_fails` over the line's words.
macro_rules! p11_fails {
    ($dir:expr, $line:literal, $code:expr, $needle:expr) => {
        sym_fails($dir, &argv(&format!($line)), $code, $needle)
    };
}

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Whether SoftHSM2 and pkcs11-tool are here; with SYMBOLON_REQUIRE_PEERS=1
/// their absence fails the test.
fn have_softhsm() -> bool {
    let here = Path::new(MODULE).exists()
        && Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_ok()
        && Command::new("pkcs11-tool").arg("--help").output().is_ok();
    if !here && std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("SoftHSM2 and OpenSC (softhsm2-util, pkcs11-tool, {MODULE}) are required (SYMBOLON_REQUIRE_PEERS=1)");
    }
    if !here {
        eprintln!("skipping: SoftHSM2 or OpenSC not installed");
    }
    here
}

/// A private SoftHSM2 store in `dir` (its own config, so tests never share
/// tokens) with a token `label` whose user PIN is written to `<label>.pin`.
fn softhsm_token(dir: &Path, label: &str, pin: &str) -> String {
    let conf = softhsm_conf(dir);
    succeeded(
        Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                pin,
                "--so-pin",
                "so-pin-5678",
            ])
            .env("SOFTHSM2_CONF", &conf),
    );
    let pin_file = dir.join(format!("{label}.pin"));
    std::fs::write(&pin_file, format!("{pin}\n")).unwrap();
    format!(
        "pkcs11:token={label}?module-path={MODULE}&pin-source=file:{}",
        pin_file.display()
    )
}

fn conf(dir: &Path) -> PathBuf {
    dir.join("softhsm2.conf")
}

/// `symbolon args…` with the test's SoftHSM2 store.
fn sym(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("SOFTHSM2_CONF", conf(dir))
        .env("SYMBOLON_LOG", "trace")
        .env_remove("SYMBOLON_TOKEN")
        .env_remove("SYMBOLON_DATABASE");
    service_env(dir, &mut cmd);
    let out = cmd.output().unwrap();
    Run::from(out)
}

/// `common::local_station_vets` with the SoftHSM2 environment (the CA key
/// may be on the device).
fn local_vets(dir: &Path, data: &str) {
    let local = format!("local:{data}");
    let admin = format!("{data}/admin.token");
    p11!(dir, "ca certificate --ca {local}");
    sym_ok(dir, &local_vets_args(&local, &admin));
}

fn sym_ok(dir: &Path, args: &[&str]) -> Run {
    expect_ok(args, sym(dir, args))
}

fn sym_fails(dir: &Path, args: &[&str], code: i32, needle: &str) -> Run {
    expect_failure(args, sym(dir, args), code, needle)
}

/// `pkcs11-tool args…` on token `label`.
fn pkcs11_tool(dir: &Path, label: &str, pin: &str, args: &[&str]) -> std::process::Output {
    Command::new("pkcs11-tool")
        .args([
            "--module",
            MODULE,
            "--token-label",
            label,
            "--login",
            "--pin",
            pin,
        ])
        .args(args)
        .current_dir(dir)
        .env("SOFTHSM2_CONF", conf(dir))
        .output()
        .unwrap()
}

/// The lines of pkcs11-tool's listing that describe the object of `class`
/// labelled `label`.
fn object_block(listing: &str, class: &str, label: &str) -> Option<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in listing.lines() {
        if !line.starts_with(' ') {
            blocks.push(String::new());
        }
        if let Some(b) = blocks.last_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks.into_iter().find(|b| {
        b.starts_with(class)
            && b.lines().any(|l| {
                let l = l.trim();
                l.strip_prefix("label:").map(str::trim) == Some(label)
            })
    })
}

#[test]
fn a_pkcs11_token_does_what_a_soft_token_does_and_pkcs11_tool_agrees() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pin = "pin-9f8e7d6c5b4a39281706";
    let uri = softhsm_token(dir, "alice", pin);
    p11!(dir, "ca init --data ca --algorithm rsa-2048");
    local_vets(dir, "ca");
    p11!(dir, "ca certificate --data ca --out root.pem");
    new_issuer(dir, "st");
    let mut outputs = vec![p11!(dir, "token init --token {uri}")];
    outputs.push(p11!(
        dir,
        "token trust-issuer --token {uri} --issuer-key st.pem"
    ));
    // The station's key enters the device by C_UnwrapKey; the certificate is a CKO_CERTIFICATE.
    outputs.push(p11!(dir, "issue --ca local:ca --ca-cert root.pem --issuer st --token {uri} --slot mail --identity CN=Alice --role email --out mail.crt"));
    openssl(dir, &["verify", "-CAfile", "root.pem", "mail.crt"]);
    openssl(
        dir,
        &words!["x509 -in mail.crt -pubkey -noout -out mail.pub"],
    );
    // A key generated on the device.
    outputs.push(p11!(
        dir,
        "token generate --token {uri} --slot gen --algorithm rsa-3072"
    ));
    p11!(
        dir,
        "token public-key --token {uri} --slot gen --out gen.pub"
    );

    // Every scheme verifies with OpenSSL; OAEP from OpenSSL decrypts.
    std::fs::write(dir.join("doc"), b"the contract").unwrap();
    for (scheme, args) in [
        ("pkcs1-sha256", vec!["-sha256"]),
        ("pkcs1-sha512", vec!["-sha512"]),
        (
            "pss-sha256",
            vec![
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ],
        ),
        (
            "pss-sha384",
            vec![
                "-sha384",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:48",
            ],
        ),
    ] {
        for (slot, key) in [("mail", "mail.pub"), ("gen", "gen.pub")] {
            sym_ok(
                dir,
                &argv_with(
                    &format!("token sign --token {uri} --slot {slot} --scheme"),
                    &[scheme, "--in", "doc", "--out", "doc.sig"],
                ),
            );
            let mut a = vec!["dgst"];
            a.extend(&args);
            a.extend(["-verify", key, "-signature", "doc.sig", "doc"]);
            openssl(dir, &a);
        }
    }
    std::fs::write(dir.join("secret"), b"for alice only").unwrap();
    openssl(
        dir,
        &words!["pkeyutl -encrypt -pubin -inkey mail.pub -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in secret -out secret.enc"],
    );
    let r = p11!(
        dir,
        "token decrypt --token {uri} --slot mail --in secret.enc"
    );
    assert_eq!(r.stdout, b"for alice only");
    p11_fails!(
        dir,
        "token decrypt --token {uri} --slot mail --in doc",
        4,
        ""
    );

    // Attestation states what the device reported.
    p11!(
        dir,
        "token public-key --token {uri} --device --out device.pem"
    );
    for (slot, local, origin) in [("gen", true, "generated"), ("mail", false, "issuer")] {
        p11!(
            dir,
            "token attest --token {uri} --slot {slot} --nonce 0badc0de --out att.json"
        );
        p11!(
            dir,
            "attestation verify --in att.json --device-key device.pem --nonce 0badc0de"
        );
        let att: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("att.json")).unwrap()).unwrap();
        assert_eq!(att["evidence"]["kind"], "pkcs11");
        assert_eq!(att["evidence"]["local"], local, "{slot}");
        assert_eq!(att["evidence"]["sensitive"], true);
        assert_eq!(att["evidence"]["extractable"], false);
        assert_eq!(att["origin"]["kind"], origin);
        assert_eq!(att["exportable"], false);
    }

    // pkcs11-tool sees what symbolon made: the objects, the certificate, the
    // key's protection; it cannot read the key; its signatures verify.
    let out = pkcs11_tool(dir, "alice", pin, &["--list-objects"]);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    for label in ["mail", "gen", "symbolon:device", "symbolon:transport"] {
        let block = object_block(&listing, "Private Key Object", label)
            .unwrap_or_else(|| panic!("no private key {label}: {listing}"));
        let access = block
            .lines()
            .find(|l| l.trim_start().starts_with("Access:"))
            .unwrap();
        assert!(access.contains("sensitive"), "{label}: {access}");
        assert!(
            !access.contains(" extractable") || access.contains("never extractable"),
            "{label}: {access}"
        );
    }
    assert!(
        object_block(&listing, "Certificate Object", "mail").is_some(),
        "{listing}"
    );
    let out = pkcs11_tool(
        dir,
        "alice",
        pin,
        &words!["--read-object --type cert --label mail -o mail.der"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem_der = openssl(dir, &["x509", "-in", "mail.crt", "-outform", "DER"]);
    assert_eq!(std::fs::read(dir.join("mail.der")).unwrap(), pem_der);
    let out = pkcs11_tool(
        dir,
        "alice",
        pin,
        &words!["--read-object --type privkey --label mail -o mail.key"],
    );
    assert!(
        !dir.join("mail.key").exists(),
        "pkcs11-tool read a private key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // pkcs11-tool picks the signing key by --id (--label alone may pick another).
    let block = object_block(&listing, "Private Key Object", "mail").unwrap();
    let id = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("ID:"))
        .unwrap()
        .trim()
        .to_string();
    let out = pkcs11_tool(
        dir,
        "alice",
        pin,
        &words![
            "--sign --mechanism SHA256-RSA-PKCS --id",
            &id,
            "-i doc -o tool.sig"
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    openssl(
        dir,
        &words!["dgst -sha256 -verify mail.pub -signature tool.sig doc"],
    );
    // Asked directly, the device refuses the private key's value.
    assert_sensitive(dir, "alice", pin, "mail");

    // Commands work once; the trust list is fixed.
    p11_fails!(
        dir,
        "token trust-issuer --token {uri} --issuer-key st.pem",
        5,
        "fixed"
    );
    p11_fails!(
        dir,
        "token generate --token {uri} --slot mail",
        5,
        "already holds a key"
    );

    // The PIN never shows, even at trace level.
    for r in &outputs {
        assert!(
            !find(&r.stdout, pin.as_bytes()) && !r.stderr.contains(pin),
            "the PIN leaked"
        );
    }

    // Tamper: the token is dead, its keys are gone from the device.
    p11!(dir, "token tamper --token {uri} --yes");
    p11_fails!(dir, "token info --token {uri}", 6, "tampered");
    let listing =
        String::from_utf8_lossy(&pkcs11_tool(dir, "alice", pin, &["--list-objects"]).stdout)
            .into_owned();
    assert!(
        object_block(&listing, "Private Key Object", "mail").is_none(),
        "{listing}"
    );
    assert!(
        object_block(&listing, "Private Key Object", "symbolon:device").is_none(),
        "{listing}"
    );
}

/// Reads CKA_PRIVATE_EXPONENT through cryptoki: the device must refuse.
fn assert_sensitive(dir: &Path, label: &str, pin: &str, key: &str) {
    use cryptoki::context::{CInitializeArgs, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    // The module reads SOFTHSM2_CONF when it initialises: do that in a child
    // process of this test binary, so the test's own environment stays put.
    if std::env::var("SYMBOLON_SENSITIVE_CHILD").is_err() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sensitive_child",
                "--nocapture",
                "--include-ignored",
            ])
            .env("SYMBOLON_SENSITIVE_CHILD", format!("{label}\n{pin}\n{key}"))
            .env("SOFTHSM2_CONF", conf(dir))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let ctx = Pkcs11::new(MODULE).unwrap();
    ctx.initialize(CInitializeArgs::OsThreads).unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim() == label)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new(pin.into())))
        .unwrap();
    let h = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(key.as_bytes().to_vec()),
        ])
        .unwrap()[0];
    let flags = session
        .get_attributes(h, &[AttributeType::Sensitive, AttributeType::Extractable])
        .unwrap();
    assert!(flags.contains(&Attribute::Sensitive(true)), "{flags:?}");
    assert!(flags.contains(&Attribute::Extractable(false)), "{flags:?}");
    let secret = session
        .get_attributes(h, &[AttributeType::PrivateExponent, AttributeType::Prime1])
        .unwrap_or_default();
    assert!(
        !secret
            .iter()
            .any(|a| matches!(a, Attribute::PrivateExponent(_) | Attribute::Prime1(_))),
        "the device gave out a private key component"
    );
}

#[test]
#[ignore = "run as a child of a_pkcs11_token_does_what_a_soft_token_does_and_pkcs11_tool_agrees"]
fn sensitive_child() {
    let spec = std::env::var("SYMBOLON_SENSITIVE_CHILD").unwrap();
    let mut parts = spec.lines();
    let (label, pin, key) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert_sensitive(Path::new("."), label, pin, key);
}

#[test]
fn the_ca_key_on_a_pkcs11_device_issues_over_http() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pin = "ca-pin-5a4b3c2d1e0f";
    let ca_uri = softhsm_token(dir, "ca", pin);
    sym_ok(dir, &words!["ca init --data data --ca-token", &ca_uri]);
    local_vets(dir, "data");
    assert!(
        !dir.join("data/ca.token").exists(),
        "a soft CA token was made"
    );
    let config = std::fs::read_to_string(dir.join("data/ca.json")).unwrap();
    assert!(config.contains("pkcs11:token=ca"), "{config}");
    assert!(!config.contains(pin), "the PIN went into ca.json");
    // The service opens the device from ca.json.
    let softhsm = conf(dir);
    let server = Server::start_env(
        dir,
        &["--data", "data"],
        &[("SOFTHSM2_CONF", softhsm.as_os_str())],
    );
    station_and_token(dir, &server);
    ok(
        dir,
        &words!["issue --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot k --identity CN=Carol --out carol.crt"],
    );
    openssl(dir, &["verify", "-CAfile", "root.pem", "carol.crt"]);
    drop(server);
    let listing = String::from_utf8_lossy(&pkcs11_tool(dir, "ca", pin, &["--list-objects"]).stdout)
        .into_owned();
    let block =
        object_block(&listing, "Private Key Object", "ca").unwrap_or_else(|| panic!("{listing}"));
    assert!(block.contains("never extractable"), "{block}");
    // A station's token on the device as well: issuance into PKCS#11 from a PKCS#11 CA.
    let user = softhsm_token(dir, "dave", "dave-pin-0011223344");
    sym_ok(dir, &words!["token init --token", &user]);
    sym_ok(
        dir,
        &words![
            "token trust-issuer --token",
            &user,
            "--issuer-key",
            "st.pem"
        ],
    );
    sym_ok(
        dir,
        &words![
            "issue --ca local:data --ca-cert root.pem --issuer st --token",
            &user,
            "--slot k --identity CN=Dave --out dave.crt"
        ],
    );
    openssl(dir, &["verify", "-CAfile", "root.pem", "dave.crt"]);
}

#[test]
fn protected_content_opens_in_a_pkcs11_token() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let uri = softhsm_token(dir, "erin", "erin-pin-99887766");
    p11!(dir, "ca init --data ca --algorithm rsa-2048");
    local_vets(dir, "ca");
    p11!(dir, "ca certificate --data ca --out root.pem");
    new_issuer(dir, "st");
    p11!(dir, "content owner init --owner owner --ca-cert root.pem");
    p11!(
        dir,
        "content owner public-key --owner owner --identity --out owner.pem"
    );
    p11!(
        dir,
        "content owner public-key --owner owner --out catalogue.pem"
    );
    p11!(dir, "token init --token {uri}");
    for issuer in ["st.pem", "owner.pem"] {
        sym_ok(
            dir,
            &argv_with(
                &format!("token trust-issuer --token {uri} --issuer-key"),
                &[issuer],
            ),
        );
    }
    p11!(dir, "issue --ca local:ca --ca-cert root.pem --issuer st --token {uri} --slot purchase --identity CN=Erin --role purchase-signing");
    p11!(
        dir,
        "content owner provision --owner owner --token {uri} --slot content --out erin.pem"
    );
    let film: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("film"), &film).unwrap();
    // Sealed to the provisioned key directly.
    p11!(dir, "seal --to erin.pem film direct.sealed");
    p11!(
        dir,
        "unseal --token {uri} --slot content direct.sealed direct.out"
    );
    assert_eq!(std::fs::read(dir.join("direct.out")).unwrap(), film);
    // Bought with an order signed on the device, licensed, opened.
    let id = "0123456789abcdef0123456789abcdef";
    p11!(
        dir,
        "seal --to catalogue.pem --content-id {id} film film.sealed"
    );
    sym_ok(
        dir,
        &argv_with(
            &format!("content order --token {uri} --slot purchase --content-id {id} --price"),
            &words![["2.50 EUR"], "--licence-slot content --out order.pem"],
        ),
    );
    p11!(
        dir,
        "content license --owner owner --order order.pem --content film.sealed --out erin.lic"
    );
    p11!(
        dir,
        "unseal --token {uri} --slot content --licence erin.lic film.sealed film.out"
    );
    assert_eq!(std::fs::read(dir.join("film.out")).unwrap(), film);
}

#[test]
fn device_errors_are_clear() {
    if !have_softhsm() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let uri = softhsm_token(dir, "frank", "frank-pin-1357");
    std::fs::write(dir.join("wrong.pin"), "not-the-pin\n").unwrap();
    let wrong = uri.replace("frank.pin", "wrong.pin");
    sym_fails(
        dir,
        &words!["token init --token", &wrong],
        5,
        "PIN is wrong",
    );
    p11_fails!(dir, "token info --token pkcs11:token=frank?module-path=/nonexistent/libp11.so&pin-source=file:frank.pin", 3, "no PKCS#11 module at /nonexistent/libp11.so");
    sym_fails(
        dir,
        &words![
            "token info --token",
            &uri.replace("token=frank", "token=nobody")
        ],
        3,
        "no PKCS#11 token matches",
    );
    p11_fails!(
        dir,
        "token info --token {uri}",
        3,
        "not initialised for symbolon"
    );
    sym_fails(
        dir,
        &words![
            "token info --token",
            &format!("pkcs11:token=frank?module-path={MODULE}&pin-value=frank-pin-1357")
        ],
        3,
        "process list",
    );
    sym_fails(
        dir,
        &words![
            "token info --token",
            &format!("pkcs11:token=frank?module-path={MODULE}&pin-source=file:missing.pin")
        ],
        3,
        "cannot read the PIN file",
    );
    p11!(dir, "token init --token {uri}");
    p11_fails!(dir, "token init --token {uri}", 3, "already initialised");
    // Joint keys need arithmetic a PKCS#11 device cannot run: said plainly.
    p11!(dir, "joint new-partial --bits 2048 --out p");
    p11_fails!(
        dir,
        "joint init --token {uri} --slot j --partial-file p",
        3,
        "which this token cannot run; make joint keys in a soft token"
    );
    sym_fails(
        dir,
        &argv_with(
            &format!("token sign --token {uri} --slot none --digest"),
            &[&"00".repeat(32)],
        ),
        3,
        "holds no key",
    );
}

#[test]
fn escrow_and_recovery_with_pkcs11_tokens_and_a_pkcs11_ca() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca_uri = softhsm_token(dir, "ca", "ca-pin-24680");
    sym_ok(
        dir,
        &words![
            "ca init --data data --algorithm rsa-2048 --ca-token",
            &ca_uri
        ],
    );
    let softhsm = conf(dir);
    let server = Server::start_env(
        dir,
        &["--data", "data"],
        &[("SOFTHSM2_CONF", softhsm.as_os_str())],
    );
    sym_ok(
        dir,
        &words!["ca certificate --ca", &server.url, "--out", "root.pem"],
    );
    new_issuer(dir, "st");
    for a in ["owner", "notary", "bank"] {
        sym_ok(dir, &words!["arbitrator init --arbitrator", a, "--name", a]);
        arbitrator_credential(dir, &server, a, a);
        sym_ok(
            dir,
            &words!["arbitrator register --arbitrator", a, "--ca", &server.url],
        );
    }
    // Alice's key, made by the station, escrowed, written into her HSM token.
    let alice = softhsm_token(dir, "alice", "alice-pin-13579");
    sym_ok(dir, &words!["token init --token", &alice]);
    sym_ok(
        dir,
        &words![
            "token trust-issuer --token",
            &alice,
            "--issuer-key",
            "st.pem"
        ],
    );
    let r = sym_ok(
        dir,
        &words![
            "--json issue --ca",
            &server.url,
            "--ca-cert root.pem --issuer st --token",
            &alice,
            "--slot mail --identity CN=Alice --escrow",
            ["seq(owner, any(1, notary, bank))"],
            "--out mail.crt"
        ],
    )
    .json();
    let key = r["fingerprint"].as_str().unwrap().to_string();
    std::fs::write(dir.join("note"), b"kept in the token").unwrap();
    sym_ok(
        dir,
        &words![
            "token put-object --token",
            &alice,
            "--name",
            "note",
            "--in",
            "note"
        ],
    );
    sym_ok(
        dir,
        &words![
            "token backup --token",
            &alice,
            "--slot",
            "mail",
            "--out",
            "alice.backup"
        ],
    );
    sym_ok(dir, &words!["token tamper --token", &alice, "--yes"]);

    // A new HSM token trusting the enclave (whose key is on the CA's HSM).
    let fresh = softhsm_token(dir, "alice2", "alice2-pin-97531");
    sym_ok(
        dir,
        &words![
            "recovery enclave --ca",
            &server.url,
            "--ca-cert",
            "root.pem",
            "--out",
            "enclave.pem"
        ],
    );
    sym_ok(dir, &words!["token init --token", &fresh]);
    sym_ok(
        dir,
        &words![
            "token trust-issuer --token",
            &fresh,
            "--issuer-key",
            "enclave.pem"
        ],
    );
    sym_ok(
        dir,
        &words!["token register --token", &fresh, "--ca", &server.url],
    );
    let id = sym_ok(
        dir,
        &words![
            "--json recovery request --ca",
            &server.url,
            "--key",
            &key,
            "--reason",
            ["device destroyed"],
            "--token",
            &fresh,
            "--slot mail"
        ],
    )
    .json()["request"]
        .as_str()
        .unwrap()
        .to_string();
    for a in ["owner", "bank"] {
        sym_ok(
            dir,
            &words![
                "recovery approve --arbitrator",
                a,
                "--ca",
                &server.url,
                "--ca-cert root.pem --request",
                &id
            ],
        );
    }
    sym_ok(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            &fresh
        ],
    );
    // The shares were opened on the CA's HSM: its enclave key is a P-256
    // key there (ECDH inside, HPKE's schedule outside), sensitive.
    let out = pkcs11_tool(dir, "ca", "ca-pin-24680", &["--list-objects"]);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let block = object_block(&listing, "Private Key Object; EC", "recovery-kem")
        .unwrap_or_else(|| panic!("no EC enclave key: {listing}"));
    assert!(block.contains("derive"), "{block}");
    assert!(block.contains("sensitive"), "{block}");
    std::fs::write(dir.join("doc"), b"after recovery").unwrap();
    sym_ok(
        dir,
        &words![
            "token sign --token",
            &fresh,
            "--slot",
            "mail",
            "--in",
            "doc",
            "--out",
            "doc.sig"
        ],
    );
    openssl(
        dir,
        &words!["x509 -in mail.crt -pubkey -noout -out mail.pub"],
    );
    openssl(
        dir,
        &words!["dgst -sha256 -verify mail.pub -signature doc.sig doc"],
    );
    sym_ok(
        dir,
        &words![
            "token restore --token",
            &fresh,
            "--slot",
            "mail",
            "--in",
            "alice.backup"
        ],
    );
    assert_eq!(
        sym_ok(
            dir,
            &words!["token get-object --token", &fresh, "--name", "note"]
        )
        .stdout,
        b"kept in the token"
    );
    // The recovered key sits in the device like any other: sensitive, not extractable.
    let listing = String::from_utf8_lossy(
        &pkcs11_tool(dir, "alice2", "alice2-pin-97531", &["--list-objects"]).stdout,
    )
    .into_owned();
    let block =
        object_block(&listing, "Private Key Object", "mail").unwrap_or_else(|| panic!("{listing}"));
    assert!(block.contains("sensitive"), "{block}");
}

#[test]
fn an_operator_credential_on_a_pkcs11_device_signs_the_handshake_there() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, "data");
    let pin = "cred-pin-24680";
    let uri = softhsm_token(dir, "cred", pin);
    p11!(dir, "token init --token {uri}");
    let code = ok(
        dir,
        &words![
            "--json admin grant --ca",
            &server.url,
            "--credential",
            server.admin.to_str().unwrap(),
            "--role auditor --name hsm-auditor"
        ],
    )
    .json()["code"]
        .as_str()
        .unwrap()
        .to_string();
    sym_ok(
        dir,
        &words!["enroll --ca", &server.url, "--code", &code, "--token", &uri],
    );
    // The credential works: the handshake was signed on the device.
    let list = sym_ok(
        dir,
        &argv_with(
            &format!("--credential {uri} --json admin list --ca"),
            &[&server.url],
        ),
    )
    .json();
    assert!(list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "hsm-auditor" && c["state"] == "active"));
    // The auditor may read but not grant.
    let r = sym(
        dir,
        &argv_with(
            &format!("--credential {uri} admin grant --ca"),
            &[&server.url, "--role", "station", "--name", "x"],
        ),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    // pkcs11-tool: the key is on the device, sensitive and never
    // extractable; the certificate beside it is a data object.
    let out = pkcs11_tool(dir, "cred", pin, &["--list-objects"]);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let block = object_block(&listing, "Private Key Object", "operator")
        .unwrap_or_else(|| panic!("no credential key: {listing}"));
    let access = block
        .lines()
        .find(|l| l.trim_start().starts_with("Access:"))
        .unwrap();
    assert!(access.contains("sensitive"), "{access}");
    assert!(
        !access.contains(" extractable") || access.contains("never extractable"),
        "{access}"
    );
    assert!(listing.contains("operator.crt"), "{listing}");
    assert_sensitive(dir, "cred", pin, "operator");
}

/// Registers `token` with the service, with a device chain; returns the run.
fn register_with_chain(dir: &Path, server: &Server, token: &str, chain: &str) -> Run {
    sym(
        dir,
        &argv_with(
            &format!("--json token register --token {token} --ca"),
            &[&server.url, "--device-chain", chain],
        ),
    )
}

fn issue_server_on(dir: &Path, server: &Server, token: &str, cn: &str) -> Run {
    sym(
        dir,
        &words![
            "issue --on-token --ca",
            &server.url,
            "--ca-cert root.pem --issuer st --token",
            token,
            "--slot tls --identity",
            cn,
            "--role server"
        ],
    )
}

#[test]
fn a_device_key_certified_by_its_manufacturer_is_manufacturer_evidence() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A CA whose server profile needs the manufacturer's word.
    p11!(
        dir,
        "ca init --data data --algorithm rsa-2048 --manufacturer-evidence server"
    );
    let server = Server::start(dir, "data");
    station_and_token(dir, &server);
    // A soft token a station vouched for: not enough for this profile.
    sym_ok(
        dir,
        &words!["token register --token t.tok --ca", &server.url],
    );
    let r = issue_server_on(dir, &server, "t.tok", "CN=soft.example");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("manufacturer root") && r.stderr.contains("vouched for by test-station"),
        "{}",
        r.stderr
    );

    // A device on SoftHSM2, and its manufacturer's root (ECDSA P-256) and
    // device certificate, made by OpenSSL.
    let uri = softhsm_token(dir, "maker", "maker-pin-13579");
    p11!(dir, "token init --token {uri}");
    p11!(dir, "token trust-issuer --token {uri} --issuer-key st.pem");
    p11!(
        dir,
        "token public-key --token {uri} --device --out hsm-device.pem"
    );
    p11!(
        dir,
        "token public-key --token t.tok --device --out soft-device.pem"
    );
    for (name, subject) in [
        ("vendor", "/O=Vendor/CN=Vendor Root"),
        ("rogue", "/CN=Rogue Root"),
    ] {
        openssl(
            dir,
            &words![
                "ecparam -name prime256v1 -genkey -noout -out",
                &format!("{name}.key")
            ],
        );
        openssl(
            dir,
            &words!["req -x509 -new -key", &format!("{name}.key"), "-subj", subject, "-days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out", &format!("{name}.pem")],
        );
    }
    let device_cert = |out: &str, key: &str, root: &str| {
        openssl(
            dir,
            &words![
                "x509 -new -force_pubkey",
                key,
                "-subj",
                ["/CN=maker device 1"],
                "-CA",
                &format!("{root}.pem"),
                "-CAkey",
                &format!("{root}.key"),
                "-days 30 -out",
                out
            ],
        );
    };
    device_cert("device.crt", "hsm-device.pem", "vendor");
    device_cert("rogue-device.crt", "hsm-device.pem", "rogue");
    device_cert("other-device.crt", "soft-device.pem", "vendor");

    // No manufacturer root trusted yet: the chain is refused, nothing registered.
    let r = register_with_chain(dir, &server, &uri, "device.crt");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("no manufacturer root is configured"),
        "{}",
        r.stderr
    );
    // Only an admin trusts a root; a station cannot.
    let r = sym(
        dir,
        &words!["admin trust-manufacturer --ca", &server.url, "vendor.pem"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    sym_ok(
        dir,
        &words![
            "admin trust-manufacturer --ca",
            &server.url,
            "--credential",
            server.admin.to_str().unwrap(),
            "vendor.pem"
        ],
    );
    // Signed by another key, or certifying another device's key: refused.
    let r = register_with_chain(dir, &server, &uri, "rogue-device.crt");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("does not chain to a trusted manufacturer root"),
        "{}",
        r.stderr
    );
    let r = register_with_chain(dir, &server, &uri, "other-device.crt");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("not this device's key"), "{}", r.stderr);
    // The device's own chain: accepted, and the registration says so.
    let r = register_with_chain(dir, &server, &uri, "device.crt");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["evidence"]["kind"], "manufacturer", "{v}");
    assert_eq!(v["evidence"]["by"], "test-station");
    assert!(
        v["evidence"]["root"]
            .as_str()
            .unwrap()
            .contains("CN=Vendor Root"),
        "{v}"
    );

    // What OpenSSL would refuse is refused: a CA certificate passed off as
    // a device's, a root's path length exceeded, an issuer whose key usage
    // does not include keyCertSign.
    openssl(
        dir,
        &words!["ec -in vendor.key -pubout -out vendor-pub.pem"],
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let register = |device: &str, chain: &str| {
        http(
            "POST",
            &format!("{}/v1/tokens", server.url),
            Some(&serde_json::json!({
                "serial": "00112233445566778899aabbccddeef0", "device_key": device, "device_chain": chain,
            })),
        )
    };
    let (s, v) = register(&read("vendor-pub.pem"), &read("vendor.pem"));
    assert_eq!(s, 403, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is a CA certificate"),
        "{v}"
    );
    std::fs::write(
        dir.join("ca.cnf"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("nosign.cnf"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    openssl(
        dir,
        &words!["ecparam -name prime256v1 -genkey -noout -out tight.key"],
    );
    openssl(
        dir,
        &words!["req -x509 -new -key tight.key -subj", ["/CN=Tight Root"], "-days 30 -addext basicConstraints=critical,CA:TRUE,pathlen:0 -addext keyUsage=critical,keyCertSign -out tight.pem"],
    );
    sym_ok(
        dir,
        &words![
            "admin trust-manufacturer --ca",
            &server.url,
            "--credential",
            server.admin.to_str().unwrap(),
            "tight.pem"
        ],
    );
    for (int, root, cnf, needle) in [
        ("deep", "tight", "ca.cnf", "path length"),
        ("nosign", "vendor", "nosign.cnf", "keyCertSign"),
    ] {
        openssl(
            dir,
            &words![
                "ecparam -name prime256v1 -genkey -noout -out",
                &format!("{int}.key")
            ],
        );
        openssl(
            dir,
            &words![
                "req -new -key",
                &format!("{int}.key"),
                "-subj",
                &format!("/CN={int} CA"),
                "-out",
                &format!("{int}.csr")
            ],
        );
        openssl(
            dir,
            &words![
                "x509 -req -in",
                &format!("{int}.csr"),
                "-CA",
                &format!("{root}.pem"),
                "-CAkey",
                &format!("{root}.key"),
                "-days 30 -extfile",
                cnf,
                "-out",
                &format!("{int}.pem")
            ],
        );
        device_cert(&format!("{int}-device.crt"), "hsm-device.pem", int);
        let chain = read(&format!("{int}-device.crt")) + &read(&format!("{int}.pem"));
        let (s, v) = register(&read("hsm-device.pem"), &chain);
        assert_eq!(s, 403, "{int}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{int}: {v}"
        );
    }

    // Its attested key passes the profile, and the issuance records why.
    let r = issue_server_on(dir, &server, &uri, "CN=maker.example");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let detail = last_audit_detail(&server, "certificate-issued");
    assert_eq!(detail["device"]["kind"], "manufacturer", "{detail}");
}

#[test]
fn ec_keys_are_made_and_used_on_the_device() {
    if !have_softhsm() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pin = "pin-ec-0123456789";
    let uri = softhsm_token(dir, "ec", pin);
    p11!(dir, "token init --token {uri}");
    new_issuer(dir, "st");
    p11!(dir, "token trust-issuer --token {uri} --issuer-key st.pem");
    std::fs::write(dir.join("doc"), b"signed on the device").unwrap();
    for (curve, verify) in [
        ("p256", &["dgst", "-sha256"][..]),
        ("p384", &["dgst", "-sha384"][..]),
        ("ed25519", &[][..]),
    ] {
        p11!(
            dir,
            "token generate --token {uri} --slot {curve} --algorithm {curve}"
        );
        let pubkey = format!("{curve}.pub");
        p11!(
            dir,
            "token public-key --token {uri} --slot {curve} --out {pubkey}"
        );
        let sig = format!("{curve}.sig");
        p11!(
            dir,
            "token sign --token {uri} --slot {curve} --in doc --out {sig}"
        );
        let out = if verify.is_empty() {
            openssl(
                dir,
                &words![
                    "pkeyutl -verify -pubin -inkey",
                    &pubkey,
                    "-rawin -in doc -sigfile",
                    &sig
                ],
            )
        } else {
            let mut a = verify.to_vec();
            a.extend_from_slice(&["-verify", &pubkey, "-signature", &sig, "doc"]);
            openssl(dir, &a)
        };
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.contains("Verified OK") || out.contains("Signature Verified Successfully"),
            "{curve}: {out}"
        );
        // Made on the device and never extractable: its attestation says so.
        let att = format!("{curve}.att");
        p11!(dir, "token attest --token {uri} --slot {curve} --out {att}");
        let a: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(&att)).unwrap()).unwrap();
        assert_eq!(a["exportable"], false, "{a}");
        assert_eq!(a["evidence"]["local"], true, "{a}");
        assert_eq!(a["evidence"]["never_extractable"], true, "{a}");
    }
    // pkcs11-tool, a peer, lists the EC keys under their slot names and
    // cannot read a private key out.
    let listing = pkcs11_tool(dir, "ec", pin, &["--list-objects"]);
    let text = String::from_utf8_lossy(&listing.stdout).into_owned();
    for curve in ["p256", "p384", "ed25519"] {
        let block = object_block(&text, "Private Key Object", curve)
            .unwrap_or_else(|| panic!("{curve} not listed: {text}"));
        assert!(block.contains("EC"), "{block}");
        assert!(
            block.contains("sensitive, always sensitive, never extractable, local"),
            "{block}"
        );
        // Signs; P-256 and P-384 keys also derive (ECDH, to open
        // HPKE-sealed content); none decrypts or unwraps.
        let usage = block
            .lines()
            .find(|l| l.trim().starts_with("Usage:"))
            .unwrap_or("");
        assert!(usage.contains("sign"), "{block}");
        assert_eq!(usage.contains("derive"), curve != "ed25519", "{block}");
        for not in ["decrypt", "unwrap"] {
            assert!(!usage.contains(not), "{block}");
        }
    }
    // Content sealed with HPKE to the device's P-256 and P-384 keys opens
    // there: CKM_ECDH1_DERIVE inside, the key never out. Another key of
    // the curve cannot open it; nothing is written on a refusal.
    std::fs::write(dir.join("plain"), vec![0x42u8; 100_000]).unwrap();
    for curve in ["p256", "p384"] {
        let sealed = format!("{curve}.sealed");
        sym_ok(
            dir,
            &["seal", "--to", &format!("{curve}.pub"), "plain", &sealed],
        );
        let opened = format!("{curve}.opened");
        p11!(dir, "unseal --token {uri} --slot {curve} {sealed} {opened}");
        assert_eq!(
            std::fs::read(dir.join(&opened)).unwrap(),
            std::fs::read(dir.join("plain")).unwrap()
        );
    }
    p11_fails!(
        dir,
        "unseal --token {uri} --slot p384 p256.sealed wrong.out",
        4,
        "sealed to"
    );
    assert!(!dir.join("wrong.out").exists());
    p11_fails!(
        dir,
        "unseal --token {uri} --slot ed25519 p256.sealed wrong.out",
        4,
        "sealed to"
    );
    // SoftHSM2 2.6 has no CKM_EC_MONTGOMERY_KEY_PAIR_GEN: X25519 is a clear
    // `unsupported`, and no slot is left behind.
    p11_fails!(
        dir,
        "token generate --token {uri} --slot x --algorithm x25519",
        3,
        "cannot generate"
    );
    p11_fails!(dir, "token public-key --token {uri} --slot x", 3, "");
    // The device refuses to read the private value out.
    assert_sensitive(dir, "ec", pin, "p256");
    // The token lists the slots with their curves; RSA-only operations on
    // an EC slot say what it holds.
    let info = p11!(dir, "token info --token {uri} --json").json();
    let mut algs: Vec<String> = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["algorithm"].as_str().unwrap().to_string())
        .collect();
    algs.sort();
    assert_eq!(algs, ["ed25519", "p256", "p384"]);
    p11_fails!(
        dir,
        "token decrypt --token {uri} --slot p256 --in doc",
        3,
        "holds a p256 key"
    );
    p11_fails!(
        dir,
        "token sign --token {uri} --slot p384 --scheme ecdsa-sha256 --in doc",
        3,
        "ecdsa-sha384 on p384"
    );
    // An issuer's EC keys enter the device by C_UnwrapKey (RSA-OAEP, then
    // AES-KWP of the PKCS#8): they sign there, OpenSSL verifies with the
    // key made outside, and the device keeps them sensitive.
    for (slot, args, verify) in [
        (
            "in-p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
            &["dgst", "-sha256"][..],
        ),
        (
            "in-p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            &["dgst", "-sha384"][..],
        ),
    ] {
        let key = format!("{slot}.key");
        let mut a = vec!["genpkey"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-out", &key]);
        openssl(dir, &a);
        let pubkey = format!("{slot}.pub");
        openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", &pubkey]);
        p11!(
            dir,
            "issuer accept-key --issuer st --token {uri} --slot {slot} --key {key}"
        );
        let sig = format!("{slot}.sig");
        p11!(
            dir,
            "token sign --token {uri} --slot {slot} --in doc --out {sig}"
        );
        let out = if verify.is_empty() {
            openssl(
                dir,
                &words![
                    "pkeyutl -verify -pubin -inkey",
                    &pubkey,
                    "-rawin -in doc -sigfile",
                    &sig
                ],
            )
        } else {
            let mut a = verify.to_vec();
            a.extend_from_slice(&["-verify", &pubkey, "-signature", &sig, "doc"]);
            openssl(dir, &a)
        };
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.contains("Verified OK") || out.contains("Signature Verified Successfully"),
            "{slot}: {out}"
        );
        let att = format!("{slot}.att");
        p11!(dir, "token attest --token {uri} --slot {slot} --out {att}");
        let a: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(&att)).unwrap()).unwrap();
        assert_eq!(a["origin"]["kind"], "issuer", "{a}");
        assert_eq!(a["exportable"], false, "{a}");
    }
    assert_sensitive(dir, "ec", pin, "in-p256");
    // SoftHSM2 2.6 makes Ed25519 keys but cannot unwrap one: refused as
    // unsupported, saying what to do, and nothing kept.
    openssl(
        dir,
        &["genpkey", "-algorithm", "ED25519", "-out", "in-ed.key"],
    );
    let before = p11!(dir, "token info --token {uri} --json").json();
    p11_fails!(
        dir,
        "issuer accept-key --issuer st --token {uri} --slot in-ed --key in-ed.key",
        3,
        "token generate --algorithm ed25519"
    );
    let after = p11!(dir, "token info --token {uri} --json").json();
    assert_eq!(after, before);
    // A command whose wrapped key was altered is refused; nothing is kept.
    let before = p11!(dir, "token info --token {uri} --json").json();
    p11!(dir, "issuer accept-key --issuer st --token {uri} --slot again --key in-p256.key --out again.cmd");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("again.cmd")).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = base64::Engine::decode(&b64, v["wrapped_key"].as_str().unwrap()).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    v["wrapped_key"] = base64::Engine::encode(&b64, &bytes).into();
    std::fs::write(dir.join("again.cmd"), v.to_string()).unwrap();
    let r = sym(
        dir,
        &words![
            "token accept-key --token",
            &uri,
            "--authorization again.cmd"
        ],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    let after = p11!(dir, "token info --token {uri} --json").json();
    assert_eq!(after["slots"], before["slots"], "{after}");
    assert_eq!(after["command_sequence"], before["command_sequence"]);
}

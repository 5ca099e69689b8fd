//! Weak keys, end to end (docs/weak-keys.md): a corpus of keys built
//! independently (scripts/weak-key-corpus.py, Python integers and
//! pyca/cryptography), one per class, refused over HTTP at certification and
//! at reservation with `weak_key` and the class, audited, never certified;
//! `keys check` says the same; badkeys agrees; a prime shared across keys is
//! caught; good keys from OpenSSL, aws-lc and SoftHSM2 pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value};
use symbolon::keys::weak::{check_public_key, Effort};
use symbolon::keys::RsaPublicKey;

/// The badkeys tool (scripts/test installs it from PyPI).
fn have_badkeys() -> bool {
    have_peer("badkeys (pip install badkeys)", "badkeys", &["--help"])
}

fn corpus(dir: &Path) -> Vec<Value> {
    weak_key_corpus(dir, &[])
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("corpus").join(name)).unwrap()
}

fn audit(server: &Server) -> Vec<Value> {
    http("GET", &format!("{}/v1/audit?limit=1000", server.url), None).1["entries"]
        .as_array()
        .unwrap()
        .clone()
}

fn detail(entry: &Value) -> Value {
    serde_json::from_str(entry["opened"].as_str().unwrap()).unwrap()
}

#[test]
fn every_class_is_refused_over_http_audited_and_never_certified() {
    if !have_pyca() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = corpus(dir);
    // The deep effort, so that the 32-bit factors are found too.
    let server = Server::start_with(dir, &["--data", "data", "--weak-key-effort", "deep"]);
    let certify = |csr: &str, name: &str| {
        http(
            "POST",
            &format!("{}/v1/certify", server.url),
            Some(&json!({ "csr": csr, "identity": format!("CN=weak {name}") })),
        )
    };
    let reserve = |public: &str| {
        http(
            "POST",
            &format!("{}/v1/reservations", server.url),
            Some(&json!({ "public_key": public })),
        )
    };
    let mut refusals = 0;
    for case in cases.iter().filter(|c| c["class"].is_string()) {
        let (name, class) = (
            case["name"].as_str().unwrap(),
            case["class"].as_str().unwrap(),
        );
        if class == "shared-prime" {
            continue; // below, after the key it shares with
        }
        let public = read(dir, case["public"].as_str().unwrap());
        let key = RsaPublicKey::from_pem_or_der(public.as_bytes()).unwrap();
        if let Some(csr) = case["csr"].as_str() {
            let (s, v) = certify(&read(dir, csr), name);
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (400, Some("weak_key")),
                "{name}: {v}"
            );
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(&format!("({class})")), "{name}: {message}");
            refusals += 1;
        }
        let (s, v) = reserve(&public);
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("weak_key")),
            "{name}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("({class})")),
            "{name}: {v}"
        );
        refusals += 1;
        // Nothing registered under it.
        let (s, _) = http(
            "GET",
            &format!("{}/v1/keys/{}", server.url, key.fingerprint()),
            None,
        );
        assert_eq!(s, 404, "{name} was registered");
        // The offline check says the same.
        let path = dir.join("corpus").join(case["public"].as_str().unwrap());
        let mut args = vec!["--json", "keys", "check", "--in", path.to_str().unwrap()];
        if case["deep"] == true {
            args.push("--deep");
            // ... and the standard effort does not claim it.
            let r = run(
                dir,
                &words!["--json keys check --in", path.to_str().unwrap()],
            );
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        }
        let r = run(dir, &args);
        assert_eq!(r.code, 5, "{name}: {}", r.stderr);
        assert_eq!(r.json()["class"], class, "{name}");
    }
    // An issuer cannot write a weak key into a token either: the token's
    // pairwise test runs the same checks on every key it accepts.
    station_trusted_by_token(dir);
    let before = std::fs::read(dir.join("t.tok")).unwrap();
    for case in cases
        .iter()
        .filter(|c| c["private"].is_string() && c["deep"] == false)
    {
        let Some(class) = case["class"].as_str() else {
            continue;
        };
        if class == "shared-prime" {
            continue;
        }
        let key = dir.join("corpus").join(case["private"].as_str().unwrap());
        let r = run(
            dir,
            &words![
                "issuer accept-key --issuer st --token t.tok --slot weak --key",
                key.to_str().unwrap()
            ],
        );
        assert_eq!(r.code, 5, "{}: {}", case["name"], r.stderr);
        assert!(
            r.stderr.contains(&format!("({class})")),
            "{}: {}",
            case["name"],
            r.stderr
        );
        assert_eq!(
            std::fs::read(dir.join("t.tok")).unwrap(),
            before,
            "the token changed"
        );
    }

    let entries = audit(&server);
    let audited = entries
        .iter()
        .filter(|e| e["kind"] == "certification-refused")
        .filter(|e| detail(e)["code"] == "weak_key" && detail(e)["class"].is_string())
        .count();
    assert_eq!(audited, refusals);

    // A shared prime: the first key is certified; the second, sharing one of
    // its primes, is refused, and the first is reported.
    let first = cases.iter().find(|c| c["name"] == "shared-first").unwrap();
    let second = cases.iter().find(|c| c["name"] == "shared-second").unwrap();
    let first_key =
        RsaPublicKey::from_pem_or_der(read(dir, first["public"].as_str().unwrap()).as_bytes())
            .unwrap()
            .fingerprint();
    let (s, v) = certify(&read(dir, first["csr"].as_str().unwrap()), "shared-first");
    assert_eq!(s, 200, "{v}");
    let first_serial = v["serial"].as_str().unwrap().to_string();
    for attempt in ["certify", "reserve"] {
        let (s, v) = if attempt == "certify" {
            certify(&read(dir, second["csr"].as_str().unwrap()), "shared-second")
        } else {
            reserve(&read(dir, second["public"].as_str().unwrap()))
        };
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("weak_key")),
            "{attempt}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("(shared-prime)") && message.contains(&first_key.to_string()),
            "{attempt}: {message}"
        );
    }
    let found: Vec<Value> = audit(&server)
        .iter()
        .filter(|e| e["kind"] == "shared-prime-found")
        .map(detail)
        .collect();
    assert!(!found.is_empty());
    assert_eq!(found[0]["shares_with"][0]["key"], first_key.to_string());
    assert_eq!(found[0]["shares_with"][0]["factor_bits"], 1024);
    // The first key can be factored now: its certificate was revoked in the
    // same transaction (docs/revocation.md).
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{first_serial}", server.url),
        None,
    );
    assert_eq!(rec["status"], "revoked", "{rec}");
    assert_eq!(rec["revocation"]["reason"], "keyCompromise", "{rec}");
    let revoked = audit(&server)
        .iter()
        .filter(|e| e["kind"] == "certificate-revoked")
        .map(detail)
        .find(|d| d["serial"] == first_serial.as_str())
        .unwrap();
    assert_eq!(revoked["origin"], "shared-prime");
    drop(server);

    // The batch scan over everything the registry has seen finds the pair
    // (and the refused square with itself is no pair).
    let r = run(dir, &["--json", "keys", "scan", "--data", "data"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let scan = r.json();
    let keys: Vec<&str> = scan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&first_key.to_string().as_str()), "{scan}");
    assert_eq!(keys.len(), 2, "{scan}");
    sym!(dir, "audit verify --data data");
}

#[test]
fn badkeys_agrees() {
    if !have_pyca() || !have_badkeys() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = corpus(dir);
    let deep: Vec<String> = cases
        .iter()
        .filter(|c| c["deep"] == true)
        .map(|c| {
            dir.join("corpus")
                .join(c["public"].as_str().unwrap())
                .display()
                .to_string()
        })
        .collect();
    let mut files: Vec<(String, Option<String>)> = cases
        .iter()
        .filter(|c| c["name"] != "shared-first" && c["name"] != "shared-second")
        .map(|c| {
            (
                dir.join("corpus")
                    .join(c["public"].as_str().unwrap())
                    .display()
                    .to_string(),
                c["class"].as_str().map(str::to_string),
            )
        })
        .collect();
    for i in 0..8 {
        let key = format!("good{i}.pem");
        openssl_rsa_key(dir, &key, 2048);
        let public = openssl(dir, &["pkey", "-in", &key, "-pubout"]);
        let path = dir.join(format!("good{i}.pub.pem"));
        std::fs::write(&path, public).unwrap();
        files.push((path.display().to_string(), None));
    }
    // badkeys' offline checks (its blocklist needs a download; its shared
    // prime list is its own data, docs/weak-keys.md).
    let out = Command::new("badkeys")
        .args([
            "-c",
            "fermat,roca,rsainvalid,rsapoly,smalld,smallfactors,pattern,xzbackdoor,rsabias",
            "-a",
        ])
        .args(files.iter().map(|(f, _)| f))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Classes symbolon finds that badkeys does not look for offline (its
    // list of published keys is a download).
    let ours_only = ["prime-modulus", "small-factor", "published"];
    for (file, class) in &files {
        let flagged = text
            .lines()
            .any(|l| l.ends_with(file.as_str()) && l.contains("vulnerability"));
        // The deep effort for the keys only it finds (seconds for a good key).
        let mut args = vec!["--json", "keys", "check", "--in", file.as_str()];
        if deep.contains(file) {
            args.push("--deep");
        }
        let r = run(dir, &args);
        let ours = r.json();
        // Everything badkeys flags, symbolon refuses.
        if flagged {
            assert_eq!(
                ours["weak"], true,
                "badkeys flags {file}, symbolon passes it: {text}"
            );
        }
        // What symbolon refuses, badkeys flags too, unless the class is one
        // it does not check (a prime modulus, a factor above 65537).
        if ours["weak"] == true && !flagged {
            let c = ours["class"].as_str().unwrap();
            assert!(
                ours_only.contains(&c),
                "{file}: symbolon says {c}, badkeys nothing: {text}"
            );
        }
        assert_eq!(ours["weak"], class.is_some(), "{file}: {ours}");
    }
}

#[test]
fn a_thousand_good_keys_from_three_generators_pass() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let check = |pem: &[u8], from: &str| {
        let key = RsaPublicKey::from_pem_or_der(pem).unwrap();
        check_public_key(&key, Effort::Standard)
            .unwrap_or_else(|w| panic!("a good {from} key refused: {w}"));
    };
    // OpenSSL: 420 keys, two processes at a time, 2048 and 3072 bits.
    let openssl_keys = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                s.spawn(move || {
                    (0..210)
                        .map(|i| {
                            let bits = if i % 10 == 0 { "3072" } else { "2048" };
                            let out = Command::new("sh")
                                .arg("-c")
                                .arg(format!(
                                    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:{bits} 2>/dev/null | openssl pkey -pubout"
                                ))
                                .current_dir(dir)
                                .output()
                                .unwrap();
                            assert!(out.status.success(), "openssl key {w}/{i}");
                            out.stdout
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for pem in &openssl_keys {
        check(pem, "OpenSSL");
    }
    // aws-lc, in process (its generation runs the checks as a self-test).
    let aws = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    (0..240)
                        .map(|_| {
                            symbolon::keys::RsaPrivateKey::generate(
                                symbolon::keys::RsaAlgorithm::Rsa2048,
                            )
                            .unwrap()
                            .public_key()
                            .to_pem()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for pem in &aws {
        check(pem.as_bytes(), "aws-lc");
    }
    // SoftHSM2: 100 keys made on the device, read back with pkcs11-tool.
    let hsm = softhsm_keys(dir, 100);
    for der in &hsm {
        check(der, "SoftHSM2");
    }
    assert_eq!(openssl_keys.len() + aws.len() + hsm.len(), 1000);
}

/// Keys generated on a private SoftHSM2 token, their public halves as DER.
fn softhsm_keys(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    let here =
        Path::new(MODULE).exists() && Command::new("pkcs11-tool").arg("--help").output().is_ok();
    if !here {
        if std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("SoftHSM2 and OpenSC are required (SYMBOLON_REQUIRE_PEERS=1)");
        }
        eprintln!("skipping SoftHSM2 keys: not installed");
        return (0..n).map(|_| good_aws_der()).collect();
    }
    let conf = softhsm_conf(dir);
    let tool = |args: &[&str]| {
        succeeded(
            Command::new("pkcs11-tool")
                .args(["--module", MODULE])
                .args(args)
                .env("SOFTHSM2_CONF", &conf)
                .current_dir(dir),
        )
        .stdout
    };
    let init = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "good",
            "--pin",
            "1234",
            "--so-pin",
            "5678",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(init.status.success());
    (0..n)
        .map(|i| {
            let id = format!("{:04x}", i + 1);
            tool(&words![
                "--token-label good --login --pin 1234 --keypairgen --key-type rsa:2048 --id",
                &id
            ]);
            let out = dir.join(format!("hsm{i}.der"));
            tool(&words![
                "--token-label good --read-object --type pubkey --id",
                &id,
                "--output-file",
                out.to_str().unwrap()
            ]);
            std::fs::read(out).unwrap()
        })
        .collect()
}

fn good_aws_der() -> Vec<u8> {
    symbolon::keys::RsaPrivateKey::generate(symbolon::keys::RsaAlgorithm::Rsa2048)
        .unwrap()
        .public_key()
        .spki_der()
        .to_vec()
}

/// Keys that slipped through an adversarial pass: a key refused for its
/// exponent still has its modulus kept (its prime cannot be reused); one
/// modulus under two exponents is two keys sharing both primes; broken keys
/// sharing a small factor are no shared-prime finding; every reservation
/// refusal is audited with its class.
#[test]
fn refused_keys_are_kept_and_edge_cases_are_caught() {
    if !have_pyca() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    weak_key_corpus(dir, &["--edge-cases"]);
    let server = Server::start(dir, "data");
    let reserve = |name: &str| {
        http(
            "POST",
            &format!("{}/v1/reservations", server.url),
            Some(&json!({ "public_key": read(dir, &format!("{name}.pub.pem")) })),
        )
    };
    let certify = |name: &str| {
        http(
            "POST",
            &format!("{}/v1/certify", server.url),
            Some(
                &json!({ "csr": read(dir, &format!("{name}.csr.pem")), "identity": format!("CN=weak {name}") }),
            ),
        )
    };
    let weak = |(s, v): (u16, Value), class: &str| {
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("weak_key")),
            "{v}"
        );
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains(&format!("({class})")), "{m}");
    };
    let before = audit(&server).len();
    weak(reserve("huge-e"), "exponent");
    let after = audit(&server);
    // By the review with its class, and at the edge with a digest of the input.
    assert_eq!(after.len(), before + 2, "the refusal is audited");
    assert_eq!(detail(&after[before])["class"], "exponent");
    assert_eq!(after.last().unwrap()["kind"], "request-refused");
    weak(certify("huge-e-sibling"), "shared-prime");

    assert_eq!(certify("same-modulus").0, 200);
    weak(reserve("same-modulus-other-e"), "shared-prime");

    for i in 0..3 {
        let (s, v) = reserve(&format!("factor-65521-{i}"));
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("weak_key")),
            "{v}"
        );
    }
    drop(server);
    // The scan finds the two real pairs, and no group of keys that only
    // share the public small factor.
    let r = run(dir, &["--json", "keys", "scan", "--data", "data"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let findings = r.json()["findings"].as_array().unwrap().len();
    assert_eq!(findings, 4, "{}", r.text());
    sym!(dir, "audit verify --data data");
}

#[test]
fn keys_check_names_what_is_wrong_with_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key =
        symbolon::keys::RsaPrivateKey::generate(symbolon::keys::RsaAlgorithm::Rsa2048).unwrap();
    let pem = key.public_key().to_pem();
    std::fs::write(dir.join("two.pem"), format!("{pem}{pem}")).unwrap();
    sym_fails!(dir, "keys check --in two.pem", 3, "2 PEM blocks");
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    let r = run(dir, &["keys", "check", "--in", "empty.pem"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!r.stderr.contains("InvalidEncoding"), "{}", r.stderr);
    std::fs::write(dir.join("one.pem"), format!("\n\n{pem}\n\n")).unwrap();
    sym!(dir, "keys check --in one.pem");
}

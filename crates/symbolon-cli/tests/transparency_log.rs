//! The transparency log end to end through the real binary and service
//! (docs/transparency.md): signed checkpoints, proofs fetched from the
//! service and checked offline by `symbolon log verify-*` and by an
//! independent verifier (scripts/log-verify.py, Python with pyca); each
//! tampering refused and named; who may read what.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn ca(server: &Server) -> [&str; 4] {
    [
        "--ca",
        &server.url,
        "--ca-cert",
        server.ca_cert.to_str().unwrap(),
    ]
}

fn with<'a>(head: &[&'a str], server: &'a Server, tail: &[&'a str]) -> Vec<&'a str> {
    let mut v = head.to_vec();
    v.extend(ca(server));
    v.extend(tail);
    v
}

fn size_of(dir: &Path, checkpoint: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(checkpoint)).unwrap();
    text.lines().nth(1).unwrap().parse().unwrap()
}

/// Fetches checkpoints into `out` until one covers more than `beyond`
/// entries (a checkpoint is signed at most once a second).
fn checkpoint_beyond(dir: &Path, server: &Server, out: &str, beyond: u64) -> u64 {
    let start = Instant::now();
    loop {
        ok(
            dir,
            &with(
                &["log", "checkpoint"],
                server,
                &["--log-key", "log.vkey", "--out", out],
            ),
        );
        let size = size_of(dir, out);
        if size > beyond {
            return size;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoint beyond {beyond} entries"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn python_verifier(dir: &Path, args: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/log-verify.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The base64 text with its first character changed.
fn flip_first(h: &str) -> String {
    let (first, rest) = h.split_at(1);
    format!("{}{rest}", if first == "A" { "B" } else { "A" })
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn edit(dir: &Path, file: &str, from: &str, to: &str, out: &str) {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    assert!(text.contains(from), "{file} lacks {from:?}");
    std::fs::write(dir.join(out), text.replacen(from, to, 1)).unwrap();
}

#[test]
fn entries_and_checkpoints_check_offline_and_every_tampering_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let key = ok(dir, &with(&["log", "key"], &server, &[])).text();
    assert!(key.starts_with("symbolon-log/"), "{key}");
    std::fs::write(dir.join("log.vkey"), &key).unwrap();

    let first = checkpoint_beyond(dir, &server, "cp1.txt", 0);
    // More entries: an auditor enrolled (a grant and a credential).
    let auditor = credential(dir, &server, "auditor", "log-auditor");
    let second = checkpoint_beyond(dir, &server, "cp2.txt", first);

    // Entry 2 in the second checkpoint's tree.
    ok(
        dir,
        &with(
            &["log", "entry"],
            &server,
            &["--credential", &auditor, "--entry", "2", "--out", "e2.json"],
        ),
    );
    ok(
        dir,
        &with(
            &["log", "inclusion-proof"],
            &server,
            &words!["--entry 2 --checkpoint cp2.txt --out p2.json"],
        ),
    );
    let inclusion = |entry: &str, proof: &str, cp: &str, key: &str| -> Vec<String> {
        [
            "log",
            "verify-inclusion",
            "--entry",
            entry,
            "--proof",
            proof,
            "--checkpoint",
            cp,
            "--log-key",
            key,
        ]
        .map(String::from)
        .to_vec()
    };
    let consistency = |old: &str, new: &str, proof: &str| -> Vec<String> {
        [
            "log",
            "verify-consistency",
            "--old",
            old,
            "--new",
            new,
            "--proof",
            proof,
            "--log-key",
            "log.vkey",
        ]
        .map(String::from)
        .to_vec()
    };
    let r = ok(
        dir,
        &args(&inclusion("e2.json", "p2.json", "cp2.txt", "log.vkey")),
    );
    assert!(
        r.text().contains(&format!("of {second} entries")),
        "{}",
        r.text()
    );
    // The consistency proof between the two checkpoints.
    ok(
        dir,
        &with(
            &["log", "consistency-proof"],
            &server,
            &["--old", "cp1.txt", "--new", "cp2.txt", "--out", "c.json"],
        ),
    );
    ok(dir, &args(&consistency("cp1.txt", "cp2.txt", "c.json")));

    // Tampered and malformed files, each refused and named.
    let text = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let json = |f: &str| serde_json::from_str::<serde_json::Value>(&text(f)).unwrap();
    let mut entry = json("e2.json");
    entry["detail"] = format!("{} ", entry["detail"].as_str().unwrap()).into();
    std::fs::write(dir.join("e2-edited.json"), entry.to_string()).unwrap();
    let hash = json("e2.json")["hash"].as_str().unwrap().to_string();
    std::fs::write(
        dir.join("e2-upper.json"),
        text("e2.json").replace(&hash, &hash.to_uppercase()),
    )
    .unwrap();
    let mut proof = json("p2.json");
    proof["hashes"][0] = flip_first(proof["hashes"][0].as_str().unwrap()).into();
    std::fs::write(dir.join("p2-bent.json"), proof.to_string()).unwrap();
    std::fs::write(dir.join("junk.json"), "{\"format\": 1}").unwrap();
    edit(
        dir,
        "cp2.txt",
        &format!("\n{second}\n"),
        &format!("\n{}\n", second + 1),
        "cp2-forged.txt",
    );
    // CRLF line ends: not the note the log signed.
    std::fs::write(
        dir.join("cp2-crlf.txt"),
        text("cp2.txt").replace('\n', "\r\n"),
    )
    .unwrap();
    // Another log's key, under this log's name.
    let other = symbolon::transparency::note::VerifierKey::ed25519(
        key.trim().split('+').next().unwrap(),
        symbolon::keys::EcPrivateKey::generate(symbolon::keys::EcCurve::Ed25519)
            .unwrap()
            .public_key()
            .clone(),
    )
    .unwrap();
    std::fs::write(dir.join("other.vkey"), other.to_string()).unwrap();
    let mut cons = json("c.json");
    let last = cons["hashes"].as_array().unwrap().len() - 1;
    cons["hashes"][last] = flip_first(cons["hashes"][last].as_str().unwrap()).into();
    std::fs::write(dir.join("c-bent.json"), cons.to_string()).unwrap();

    // entry, proof, checkpoint, key; symbolon's exit and words; the
    // Python verifier's words.
    let cases = [
        (
            "e2-edited.json",
            "p2.json",
            "cp2.txt",
            "log.vkey",
            4,
            "the entry",
            "edited",
        ),
        (
            "e2.json",
            "p2-bent.json",
            "cp2.txt",
            "log.vkey",
            4,
            "does not verify",
            "does not lead",
        ),
        (
            "e2.json",
            "p2.json",
            "cp1.txt",
            "log.vkey",
            4,
            "the proof",
            "another entry or tree size",
        ),
        (
            "e2.json",
            "p2.json",
            "cp2-forged.txt",
            "log.vkey",
            4,
            "checkpoint",
            "does not verify",
        ),
        (
            "e2.json",
            "p2.json",
            "cp2.txt",
            "other.vkey",
            4,
            "no signature",
            "no signature",
        ),
        (
            "e2-upper.json",
            "p2.json",
            "cp2.txt",
            "log.vkey",
            3,
            "lower-case hex",
            "edited",
        ),
        (
            "e2.json",
            "p2.json",
            "cp2-crlf.txt",
            "log.vkey",
            3,
            "control character",
            "control character",
        ),
        (
            "e2.json",
            "junk.json",
            "cp2.txt",
            "log.vkey",
            3,
            "not a log inclusion proof",
            "not an inclusion proof",
        ),
        (
            "e2.json",
            "p2.json",
            "e2.json",
            "log.vkey",
            3,
            "not a signed note",
            "not a signed note",
        ),
    ];
    for (e, p, c, k, code, needle, _) in cases {
        fails(dir, &args(&inclusion(e, p, c, k)), code, needle);
    }
    let bad_key = inclusion("e2.json", "p2.json", "cp2.txt", "not-a-key");
    fails(dir, &args(&bad_key), 3, "verifier key");
    // Swapped checkpoints (the proof's sizes do not fit), a bent proof.
    fails(
        dir,
        &args(&consistency("cp2.txt", "cp1.txt", "c.json")),
        4,
        "the proof",
    );
    fails(
        dir,
        &args(&consistency("cp1.txt", "cp2.txt", "c-bent.json")),
        4,
        "does not verify",
    );

    // The independent verifier agrees, accepting and refusing the same.
    if have_pyca() {
        let py = |v: &[String]| {
            let mut a: Vec<&str> = v[2..].iter().map(String::as_str).collect();
            a.insert(
                0,
                if v[1] == "verify-inclusion" {
                    "inclusion"
                } else {
                    "consistency"
                },
            );
            python_verifier(dir, &a)
        };
        let (passed, err) = py(&inclusion("e2.json", "p2.json", "cp2.txt", "log.vkey"));
        assert!(passed, "{err}");
        let (passed, err) = py(&consistency("cp1.txt", "cp2.txt", "c.json"));
        assert!(passed, "{err}");
        for (e, p, c, k, _, _, why) in cases {
            let (passed, err) = py(&inclusion(e, p, c, k));
            assert!(!passed && err.contains(why), "{e} {p} {c} {k}: {err}");
        }
        assert!(!py(&consistency("cp2.txt", "cp1.txt", "c.json")).0);
        assert!(!py(&consistency("cp1.txt", "cp2.txt", "c-bent.json")).0);
    }
}

#[test]
fn hashes_are_public_entries_are_for_auditors_and_bad_queries_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let anonymous = server.client(None);
    let (status, _) = request(&anonymous, "GET", "/v1/log/entries/1", None);
    assert_eq!(status, 401);
    let station = server.client(Some(&server.station_http));
    let (status, body) = request(&station, "GET", "/v1/log/entries/1", None);
    assert_eq!(status, 403, "{body}");
    let auditor = server.client(Some(&server.data.join("test-auditor-http.token")));
    let (status, entry) = request(&auditor, "GET", "/v1/log/entries/1", None);
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["seq"], 1);

    let (status, proof) = request(
        &anonymous,
        "GET",
        "/v1/log/proof/inclusion?entry=1&size=1",
        None,
    );
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["format"], "symbolon-log-inclusion/1");
    let (status, proof) = request(
        &anonymous,
        "GET",
        "/v1/log/proof/consistency?old=1&new=2",
        None,
    );
    assert_eq!(status, 200, "{proof}");
    for (path, want, code) in [
        (
            "/v1/log/proof/inclusion?entry=0&size=1",
            400,
            "invalid_input",
        ),
        (
            "/v1/log/proof/inclusion?entry=1&size=1000000000",
            404,
            "not_found",
        ),
        ("/v1/log/proof/inclusion?entry=5&size=2", 404, "not_found"),
        ("/v1/log/proof/inclusion?entry=1", 400, "invalid_request"),
        (
            "/v1/log/proof/inclusion?entry=1&size=2&x=1",
            400,
            "invalid_request",
        ),
        (
            "/v1/log/proof/inclusion?entry=-1&size=2",
            400,
            "invalid_request",
        ),
        ("/v1/log/proof/consistency?old=3&new=2", 404, "not_found"),
        (
            "/v1/log/proof/consistency?old=1&new=99999999999",
            404,
            "not_found",
        ),
        (
            "/v1/log/proof/consistency?old=a&new=2",
            400,
            "invalid_request",
        ),
    ] {
        let (status, body) = request(&anonymous, "GET", path, None);
        assert_eq!(status, want, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    for path in [
        "/v1/log/entries/0",
        "/v1/log/entries/x",
        "/v1/log/entries/99999999",
    ] {
        let (status, body) = request(&auditor, "GET", path, None);
        assert!(status == 400 || status == 404, "{path}: {status} {body}");
    }
    // Refused state changes: the log's endpoints are read-only.
    let (status, _) = request(
        &anonymous,
        "POST",
        "/v1/log/checkpoint",
        Some(&serde_json::json!({})),
    );
    assert!(status == 405 || status == 404 || status == 401, "{status}");
}

/// The service's registry, opened beside it as someone with the database
/// would: its PostgreSQL database in the PostgreSQL pass, else its file.
async fn open_registry(dir: &Path, data: &Path) -> symbolon_store::Registry {
    let url = test_database(dir)
        .unwrap_or_else(|| format!("sqlite://{}", data.join("registry.db").display()));
    symbolon_store::Registry::open(&url).await.unwrap()
}

/// Cuts the registry's log back to `keep` entries, tree and head too, as
/// someone with the database would to hide what came after.
fn cut_log(dir: &Path, data: &Path, keep: i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = open_registry(dir, data).await;
        let pool = r.pool();
        sqlx::query("DELETE FROM audit_log WHERE seq > $1")
            .bind(keep)
            .execute(pool)
            .await
            .unwrap();
        for level in 0..40i64 {
            sqlx::query("DELETE FROM log_nodes WHERE level = $1 AND (idx + 1) * $2 > $3")
                .bind(level)
                .bind(1i64 << level)
                .bind(keep)
                .execute(pool)
                .await
                .unwrap();
        }
        sqlx::query(
            "UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_log WHERE seq = $1) WHERE id = 1",
        )
        .bind(keep)
        .execute(pool)
        .await
        .unwrap();
        r.close().await;
    });
}

#[test]
fn a_log_cut_under_the_service_is_never_signed_again() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut server = Server::start(dir, "data");
    std::fs::write(
        dir.join("log.vkey"),
        ok(dir, &with(&["log", "key"], &server, &[])).text(),
    )
    .unwrap();
    let signed = checkpoint_beyond(dir, &server, "cp1.txt", 0);
    assert!(signed > 3);
    // A witness cosigns it.
    witness(dir, "w1");
    ok(
        dir,
        &with(
            &["log", "witness-add"],
            &server,
            &words!["--key w1.vkey --credential", server.admin.to_str().unwrap()],
        ),
    );
    ok(dir, &args(&witness_run(&server, "w1")));
    // A watcher keeps what it saw.
    let watch: Vec<String> = with(
        &["log", "watch"],
        &server,
        &["--log-key", "log.vkey", "--state", "seen.txt"],
    )
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert!(ok(dir, &args(&watch))
        .text()
        .contains("first checkpoint seen"));
    assert!(ok(dir, &args(&watch)).text().contains("consistent with"));
    let data = server.data.clone();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    cut_log(dir, &data, signed as i64 - 3);
    // The chain alone cannot tell (its head was rewritten too).
    sym!(dir, "audit verify --data data");
    let server = Server::start(dir, "data");
    // Grown again past the signed size, or still below it: either way the
    // log refuses to sign a head that does not extend the one it signed.
    let _more = credential(dir, &server, "auditor", "after-the-cut");
    let start = Instant::now();
    loop {
        let r = run(
            dir,
            &with(&["log", "checkpoint"], &server, &["--log-key", "log.vkey"]),
        );
        if r.code != 0 {
            assert_eq!(r.code, 4, "{}", r.stderr);
            assert!(r.stderr.contains("nothing is signed"), "{}", r.stderr);
            break;
        }
        // The old checkpoint is served until the one-second interval ends.
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "a cut log was signed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Whoever cut the log also wipes what the log signed: the service now
    // signs the rewritten tree, and the watcher, holding the old head,
    // catches it.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let r = open_registry(dir, &server.data).await;
        for table in ["log_cosignatures", "log_checkpoints"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(r.pool())
                .await
                .unwrap();
        }
        r.close().await;
    });
    let watch: Vec<String> = with(
        &["log", "watch"],
        &server,
        &["--log-key", "log.vkey", "--state", "seen.txt"],
    )
    .iter()
    .map(|s| s.to_string())
    .collect();
    let kept = std::fs::read(dir.join("seen.txt")).unwrap();
    let r = fails(dir, &args(&watch), 4, "(kept: seen.txt)");
    assert!(
        r.stderr.contains("went backwards")
            || r.stderr.contains("two different heads")
            || r.stderr.contains("rewritten or forked"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(dir.join("seen.txt")).unwrap(),
        kept,
        "the evidence is kept"
    );
    // The witness refuses to cosign the rewritten log, and keeps its view.
    let witnessed = std::fs::read(dir.join("w1-seen.txt")).unwrap();
    fails(
        dir,
        &args(&witness_run(&server, "w1")),
        4,
        "(kept: w1-seen.txt)",
    );
    assert_eq!(std::fs::read(dir.join("w1-seen.txt")).unwrap(), witnessed);
}

/// A witness identity: an Ed25519 key in `NAME.token`, its cosignature key
/// in `NAME.vkey`.
fn witness(dir: &Path, name: &str) {
    let token = format!("{name}.token");
    sym!(dir, "token init --token {token}");
    sym!(
        dir,
        "token generate --token {token} --slot witness --algorithm ed25519"
    );
    let full = format!("witness.example/{name}");
    let key = ok(
        dir,
        &argv_with(
            &format!("log witness-key --token {token} --slot witness --name"),
            &[&full],
        ),
    )
    .text();
    std::fs::write(dir.join(format!("{name}.vkey")), key).unwrap();
}

fn witness_run(server: &Server, name: &str) -> Vec<String> {
    let token = format!("{name}.token");
    let full = format!("witness.example/{name}");
    let state = format!("{name}-seen.txt");
    with(
        &["log", "witness"],
        server,
        &words![
            "--log-key log.vkey --token",
            &token,
            "--slot witness --name",
            &full,
            "--state",
            &state
        ],
    )
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn witnesses_cosign_what_they_checked_and_clients_require_them() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    std::fs::write(
        dir.join("log.vkey"),
        ok(dir, &with(&["log", "key"], &server, &[])).text(),
    )
    .unwrap();
    witness(dir, "w1");
    witness(dir, "w2");
    let admin = server.admin.to_str().unwrap().to_string();
    let station = server.station.to_str().unwrap().to_string();
    // A second admin, for the CLI once the first's token is open in this
    // process.
    let admin_2 = credential(dir, &server, "admin", "admin-2");

    // Not registered yet: its cosignature is refused, and it keeps nothing.
    fails(
        dir,
        &args(&witness_run(&server, "w1")),
        5,
        "not a registered witness",
    );
    assert!(!dir.join("w1-seen.txt").exists());
    // Only an admin registers witnesses; a log key is not a witness key.
    let add = |key: &str, cred: &str| {
        with(
            &["log", "witness-add"],
            &server,
            &["--key", key, "--credential", cred],
        )
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    };
    fails(dir, &args(&add("w1.vkey", &station)), 5, "");
    fails(
        dir,
        &args(&add("log.vkey", &admin)),
        3,
        "not a witness's cosignature key",
    );
    ok(dir, &args(&add("w1.vkey", &admin)));
    fails(dir, &args(&add("w1.vkey", &admin)), 5, "exists already");
    let (_, listed) = request(&server.client(None), "GET", "/v1/log/witnesses", None);
    assert_eq!(
        listed["witnesses"][0]["name"], "witness.example/w1",
        "{listed}"
    );

    // w1 cosigns; a client requiring w1 gets that checkpoint with its line.
    let r = ok(dir, &args(&witness_run(&server, "w1")));
    assert!(r.text().contains("cosigned log"), "{}", r.text());
    assert!(dir.join("w1-seen.txt").exists());
    let need = |ws: &[&str], require: Option<&str>| {
        let mut tail = vec!["--log-key", "log.vkey"];
        for w in ws {
            tail.extend(["--witness", w]);
        }
        if let Some(n) = require {
            tail.extend(["--require", n]);
        }
        with(&["log", "checkpoint"], &server, &tail)
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let cp = ok(dir, &args(&need(&["w1.vkey"], None))).text();
    assert!(cp.contains("\u{2014} witness.example/w1 "), "{cp}");
    // The independent verifier checks the cosignature too, and refuses a
    // checkpoint whose witness line was altered.
    if have_pyca() {
        std::fs::write(dir.join("cosigned.txt"), &cp).unwrap();
        let check = |file: &str, require: &str| {
            python_verifier(
                dir,
                &words![
                    "checkpoint --checkpoint",
                    file,
                    "--log-key log.vkey --witness w1.vkey --witness w2.vkey --require",
                    require
                ],
            )
        };
        let (passed, err) = check("cosigned.txt", "1");
        assert!(passed, "{err}");
        let (passed, err) = check("cosigned.txt", "2");
        assert!(!passed && err.contains("1 of the witnesses"), "{err}");
        let line = cp
            .lines()
            .find(|l| l.contains("witness.example/w1"))
            .unwrap();
        let (head, b64) = line.rsplit_once(' ').unwrap();
        let altered = cp.replace(
            line,
            &format!("{head} {}{}", &b64[..40], flip_first(&b64[40..])),
        );
        std::fs::write(dir.join("cosigned-bent.txt"), altered).unwrap();
        let (passed, err) = check("cosigned-bent.txt", "1");
        assert!(!passed && err.contains("does not verify"), "{err}");
    }
    // Two witnesses required, one registered: no such checkpoint.
    ok(dir, &args(&add("w2.vkey", &admin)));
    fails(
        dir,
        &args(&need(&["w1.vkey", "w2.vkey"], None)),
        3,
        "cosigned by 2",
    );
    ok(dir, &args(&need(&["w1.vkey", "w2.vkey"], Some("1"))));
    fails(dir, &args(&need(&["w1.vkey"], Some("2"))), 3, "--require 2");
    // w2 cosigns (perhaps a later checkpoint); both at once are found once
    // they cosign the same size.
    ok(dir, &args(&witness_run(&server, "w2")));
    let start = Instant::now();
    loop {
        ok(dir, &args(&witness_run(&server, "w1")));
        ok(dir, &args(&witness_run(&server, "w2")));
        if run(dir, &args(&need(&["w1.vkey", "w2.vkey"], None))).code == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never cosigned together"
        );
    }

    // One key is one witness, whatever its names; and the log serves at
    // most MAX_WITNESSES of them, so a checkpoint with all their lines stays
    // within every verifier's signature limit.
    let admin_client = server.client(Some(&server.admin));
    let w1_key = symbolon::transparency::note::VerifierKey::parse(
        &std::fs::read_to_string(dir.join("w1.vkey")).unwrap(),
    )
    .unwrap();
    let renamed = symbolon::transparency::note::VerifierKey::cosigner(
        "witness.example/w1-again",
        w1_key.public_key().clone(),
    )
    .unwrap();
    let (status, body) = request(
        &admin_client,
        "POST",
        "/v1/log/witnesses",
        Some(&serde_json::json!({ "key": renamed.to_string() })),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_exists")),
        "{body}"
    );
    let mut registered = 2;
    loop {
        let public = symbolon::keys::EcPrivateKey::generate(symbolon::keys::EcCurve::Ed25519)
            .unwrap()
            .public_key()
            .clone();
        let key = symbolon::transparency::note::VerifierKey::cosigner(
            &format!("witness.example/extra-{registered}"),
            public,
        )
        .unwrap();
        let (status, body) = request(
            &admin_client,
            "POST",
            "/v1/log/witnesses",
            Some(&serde_json::json!({ "key": key.to_string() })),
        );
        if status != 200 {
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (409, Some("refused")),
                "{body}"
            );
            break;
        }
        registered += 1;
        assert!(registered <= 32, "more than 32 witnesses registered");
    }
    assert_eq!(registered, 32);

    // Forged, foreign and malformed cosignatures are refused and change nothing.
    let anonymous = server.client(None);
    let seen = std::fs::read_to_string(dir.join("w1-seen.txt")).unwrap();
    let size: u64 = seen.lines().nth(1).unwrap().parse().unwrap();
    let cp_note = ok(dir, &args(&need(&["w1.vkey"], None))).text();
    let w1_line = cp_note
        .lines()
        .find(|l| l.starts_with("\u{2014} witness.example/w1 "))
        .unwrap()
        .to_string();
    let w1_size: u64 = cp_note.lines().nth(1).unwrap().parse().unwrap();
    let (head, b64) = w1_line.rsplit_once(' ').unwrap();
    // A character of the Ed25519 signature (past key ID and time) changed.
    let bent = format!("{head} {}{}", &b64[..40], flip_first(&b64[40..]));
    for (body, status, code) in [
        (
            serde_json::json!({ "size": w1_size, "signature": bent }),
            400,
            "bad_signature",
        ),
        (
            serde_json::json!({ "size": w1_size + 1_000_000, "signature": w1_line }),
            404,
            "not_found",
        ),
        (
            serde_json::json!({ "size": size, "signature": "— nobody AAAAAAAAAAA=" }),
            403,
            "forbidden",
        ),
        (
            serde_json::json!({ "size": size, "signature": "not a line" }),
            400,
            "invalid_input",
        ),
        (serde_json::json!({ "size": size }), 400, "invalid_json"),
    ] {
        let (got, answer) = request(&anonymous, "POST", "/v1/log/cosignatures", Some(&body));
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }

    // A witness removed (its key lost): only an admin removes one; its
    // cosignatures are no longer served or counted, it is no longer heard,
    // and neither its name nor its key comes back.
    let remove = |cred: &str| {
        with(
            &["log", "witness-remove"],
            &server,
            &["--name", "witness.example/w2", "--credential", cred],
        )
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    };
    let admin = admin_2;
    fails(dir, &args(&remove(&station)), 5, "");
    ok(dir, &args(&remove(&admin)));
    let removed = audit_entries(&server)
        .into_iter()
        .filter(|e| e["kind"] == "log-witness-removed")
        .count();
    assert_eq!(removed, 1);
    fails(dir, &args(&remove(&admin)), 3, "removed already");
    let served = ok(dir, &args(&need(&["w1.vkey"], None))).text();
    assert!(!served.contains("witness.example/w2 "), "{served}");
    assert_ne!(run(dir, &args(&need(&["w2.vkey"], None))).code, 0);
    fails(
        dir,
        &args(&witness_run(&server, "w2")),
        5,
        "not a registered witness",
    );
    fails(dir, &args(&add("w2.vkey", &admin)), 5, "not taken again");
    let (_, listed) = request(&anonymous, "GET", "/v1/log/witnesses", None);
    assert!(
        !listed.to_string().contains("witness.example/w2\""),
        "{listed}"
    );
    // Its place among the 32 is free again.
    let public = symbolon::keys::EcPrivateKey::generate(symbolon::keys::EcCurve::Ed25519)
        .unwrap()
        .public_key()
        .clone();
    let key =
        symbolon::transparency::note::VerifierKey::cosigner("witness.example/w2-2027", public)
            .unwrap();
    let (status, body) = request(
        &admin_client,
        "POST",
        "/v1/log/witnesses",
        Some(&serde_json::json!({ "key": key.to_string() })),
    );
    assert_eq!(status, 200, "{body}");
}

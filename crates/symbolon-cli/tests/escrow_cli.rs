//! Escrow and recovery end to end through the binary and the service
//! (third embodiment, FIG. 7–12, and the modification for a destroyed
//! device): the FIG. 9 policy, a lost token, ordered approvals, recovery
//! into a new token, the old certificate verifying new signatures, the
//! backup restored; and every refusal, recorded, with nothing written into
//! any token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const FIG9: &str = "seq(user, all(card-company, any(1, provider-a, provider-b, provider-c), any(2, manager-a, manager-b, manager-c)), recorder)";
const ARBITRATORS: [&str; 9] = [
    "user",
    "card-company",
    "provider-a",
    "provider-b",
    "provider-c",
    "manager-a",
    "manager-b",
    "manager-c",
    "recorder",
];

fn b64() -> base64::engine::general_purpose::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// CA service, station, the nine FIG. 9 arbitrators registered, and
/// Alice's token `a.tok` holding key `mail` escrowed under FIG. 9.
/// Returns the server, the escrow id and the key's fingerprint.
fn escrowed(dir: &Path) -> (Server, String, String) {
    escrowed_with(dir, "rsa-2048")
}

/// The same, the escrowed key of `algorithm` (an RSA size or an EC curve).
fn escrowed_with(dir: &Path, algorithm: &str) -> (Server, String, String) {
    sym!(dir, "ca init --data data --algorithm rsa-2048");
    let server = Server::start(dir, "data");
    station_and_token(dir, &server);
    // The bound device, vouched for by the station: a rebinding marks it replaced.
    register_token(dir, &server, "t.tok");
    for a in ARBITRATORS {
        ok(
            dir,
            &words![
                "arbitrator init --arbitrator",
                &format!("arb/{a}"),
                "--name",
                a
            ],
        );
        arbitrator_credential(dir, &server, a, &format!("arb/{a}"));
        ok(
            dir,
            &words![
                "arbitrator register --arbitrator",
                &format!("arb/{a}"),
                "--ca",
                &server.url
            ],
        );
    }
    let r = ok(
        dir,
        &words!["--json issue --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot mail --identity CN=Alice --role email --escrow", FIG9, "--algorithm", algorithm, "--out mail.crt"],
    )
    .json();
    let escrow = r["escrow"].as_str().unwrap().to_string();
    let key = r["fingerprint"].as_str().unwrap().to_string();
    (server, escrow, key)
}

/// A new token trusting the enclave, registered with the CA.
fn new_token(dir: &Path, server: &Server, name: &str) {
    let st = ok(
        dir,
        &words![
            "--json recovery enclave --ca",
            &server.url,
            "--ca-cert",
            "root.pem",
            "--out",
            "enclave.pem"
        ],
    )
    .json();
    // Shares go to the enclave by HPKE to its P-256 key.
    assert_eq!(st["enclave_algorithm"], "p256", "{st}");
    assert_eq!(st["verified"], true, "{st}");
    ok(dir, &words!["token init --token", name]);
    ok(
        dir,
        &words![
            "token trust-issuer --token",
            name,
            "--issuer-key",
            "enclave.pem"
        ],
    );
    ok(
        dir,
        &words!["token register --token", name, "--ca", &server.url],
    );
}

fn request(dir: &Path, server: &Server, key: &str, token: &str) -> String {
    let r = ok(
        dir,
        &words![
            "--json recovery request --ca",
            &server.url,
            "--key",
            key,
            "--reason",
            ["token destroyed"],
            "--token",
            token,
            "--slot mail"
        ],
    )
    .json();
    r["request"].as_str().unwrap().to_string()
}

fn approve(dir: &Path, server: &Server, id: &str, who: &str) -> Run {
    run(
        dir,
        &words![
            "recovery approve --arbitrator",
            &format!("arb/{who}"),
            "--ca",
            &server.url,
            "--ca-cert root.pem --request",
            id
        ],
    )
}

fn audit_kinds(server: &Server) -> Vec<Value> {
    audit_entries(server)
}

#[test]
fn fig9_recovers_a_destroyed_token_s_key_into_a_new_one() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, escrow, key) = escrowed(dir);

    // The policy as users see it.
    let p = ok(dir, &words!["--json policy check", FIG9]).json();
    assert_eq!(p["canonical"], FIG9);
    assert_eq!(p["minimal_sets"].as_array().unwrap().len(), 9);
    // Every arbitrator can check its share without learning the key.
    for a in ARBITRATORS {
        ok(
            dir,
            &words![
                "arbitrator verify-share --arbitrator",
                &format!("arb/{a}"),
                "--ca",
                &server.url,
                "--escrow",
                &escrow
            ],
        );
    }
    // Data objects, backed up sealed to the escrowed key.
    std::fs::write(dir.join("contacts"), b"bob: +1 555 0100").unwrap();
    sym!(
        dir,
        "token put-object --token t.tok --name contacts --in contacts"
    );
    sym!(dir, "token backup --token t.tok --slot mail --out t.backup");

    // The token is destroyed.
    let old_serial = sym!(dir, "--json token info --token t.tok").json()["serial"]
        .as_str()
        .unwrap()
        .to_string();
    sym!(dir, "token tamper --token t.tok --yes");
    new_token(dir, &server, "new.tok");
    let id = request(dir, &server, &key, "new.tok");
    let status = ok(
        dir,
        &words!["--json recovery status --ca", &server.url, "--request", &id],
    )
    .json();
    assert_eq!(status["rebind"], true);
    assert_eq!(status["satisfied"], false);
    assert_eq!(status["may_act"], json!(["user"]));

    // Out of turn: the recorder and the card company before the user are
    // refused, and nothing is stored (each keeps its one decision).
    for who in ["recorder", "card-company"] {
        let early = approve(dir, &server, &id, who);
        assert_eq!(early.code, 5, "{who}: {}", early.stderr);
        assert!(
            early.stderr.contains("not your turn") && early.stderr.contains("waiting for user"),
            "{}",
            early.stderr
        );
    }
    assert!(stored_approvals(dir, &id).is_empty());
    let text = ok(
        dir,
        &words!["recovery status --ca", &server.url, "--request", &id],
    )
    .text();
    assert!(text.contains("may approve now: user"), "{text}");
    assert!(!text.contains("✓ recorder"), "{text}");
    let refusals = audit_kinds(&server)
        .into_iter()
        .filter(|e| {
            e["kind"] == "recovery-refused"
                && e["opened"].as_str().unwrap().contains("\"not_your_turn\"")
        })
        .count();
    assert_eq!(refusals, 2);

    // The others in order (the completion refused while the policy does
    // not hold), the recorder last, and a second decision refused.
    for who in ["user", "provider-b", "manager-c", "card-company"] {
        assert_eq!(approve(dir, &server, &id, who).code, 0);
    }
    // The recorder is still early: the managers' threshold is not met.
    let early = approve(dir, &server, &id, "recorder");
    assert_eq!(early.code, 5, "{}", early.stderr);
    assert!(early.stderr.contains("manager-a"), "{}", early.stderr);
    fails(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            "new.tok"
        ],
        5,
        "does not hold",
    );
    assert_eq!(approve(dir, &server, &id, "manager-a").code, 0);
    assert_eq!(approve(dir, &server, &id, "recorder").code, 0);
    let again = approve(dir, &server, &id, "recorder");
    assert_eq!(again.code, 5, "{}", again.stderr);
    let status = ok(
        dir,
        &words!["--json recovery status --ca", &server.url, "--request", &id],
    )
    .json();
    assert_eq!(status["satisfied"], true);
    let text = ok(
        dir,
        &words!["recovery status --ca", &server.url, "--request", &id],
    )
    .text();
    assert!(text.contains("✓ recorder (approval #6)"), "{text}");

    // A token other than the request's target: refused before the enclave spends the request.
    sym!(dir, "token init --token other.tok");
    let before = std::fs::read(dir.join("other.tok")).unwrap();
    fails(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            "other.tok"
        ],
        5,
        "recovers into token",
    );
    assert_eq!(std::fs::read(dir.join("other.tok")).unwrap(), before);

    // Anyone but the station that filed the request is refused the signed
    // commands, and the request stays unspent for it.
    let complete = format!("/v1/recovery/{id}/complete");
    let (s, v) = common::request(
        &server.client(None),
        "POST",
        &complete,
        Some(&json!({ "sequence": 1 })),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{v}"
    );
    let thief = credential(dir, &server, "station", "thief");
    let (s, v) = common::request(
        &server.client(Some(&dir.join(thief))),
        "POST",
        &complete,
        Some(&json!({ "sequence": 1 })),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );

    // Completion: the key and its certificate in the new token; the old certificate verifies.
    let done = ok(
        dir,
        &words![
            "--json recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            "new.tok"
        ],
    )
    .json();
    // The destroyed device is marked replaced, its certificates listed for revocation.
    assert_eq!(done["replaced"]["token"], old_serial.as_str(), "{done}");
    let mail_serial = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "mail.crt", "-noout", "-serial"],
    ))
    .unwrap()
    .trim()
    .trim_start_matches("serial=")
    .to_ascii_lowercase();
    let listed: Vec<String> = done["replaced"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().trim_start_matches('0').to_string())
        .collect();
    assert!(
        listed.contains(&mail_serial.trim_start_matches('0').to_string()),
        "{done} {mail_serial}"
    );
    let (_, old) = http(
        "GET",
        &format!("{}/v1/tokens/{old_serial}", server.url),
        None,
    );
    assert!(old["replaced_by"].is_string(), "{old}");
    // The officer revokes what the replaced device held, in one command.
    let revoked = ok(
        dir,
        &words![
            "--json revoke --device",
            &old_serial,
            "--reason superseded --ca",
            &server.url,
            "--ca-cert",
            server.ca_cert.to_str().unwrap(),
            "--credential",
            server.admin.to_str().unwrap()
        ],
    )
    .json();
    assert_eq!(revoked["revoked"], listed.len(), "{revoked}");
    let (_, mail) = http(
        "GET",
        &format!("{}/v1/certificates/{mail_serial}", server.url),
        None,
    );
    assert_eq!(mail["status"], "revoked", "{mail}");
    assert_eq!(mail["revocation"]["reason"], "superseded", "{mail}");
    assert!(audit_kinds(&server)
        .iter()
        .any(|e| e["kind"] == "token-replaced"));
    // A replaced device is no target for another recovery.
    let (s, v) = http(
        "POST",
        &format!("{}/v1/recovery", server.url),
        Some(&json!({ "key": key, "reason": "again", "target": old_serial, "slot": "mail" })),
    );
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("was replaced by token"),
        "{v}"
    );
    std::fs::write(dir.join("doc"), b"signed after recovery").unwrap();
    sym!(
        dir,
        "token sign --token new.tok --slot mail --in doc --out doc.sig"
    );
    openssl(
        dir,
        &words!["x509 -in mail.crt -pubkey -noout -out mail.pub"],
    );
    openssl(
        dir,
        &words!["dgst -sha256 -verify mail.pub -signature doc.sig doc"],
    );
    let cert = sym!(dir, "token certificate --token new.tok --slot mail").stdout;
    let old = std::fs::read(dir.join("mail.crt")).unwrap();
    assert!(
        find(&old, &cert[..40]) || find(&cert, &old[..40]),
        "the old certificate was written back"
    );
    // The backup restores into the new token.
    sym!(
        dir,
        "token restore --token new.tok --slot mail --in t.backup"
    );
    assert_eq!(
        sym!(dir, "token get-object --token new.tok --name contacts").stdout,
        b"bob: +1 555 0100"
    );

    // Once only.
    let before = std::fs::read(dir.join("new.tok")).unwrap();
    fails(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            "new.tok"
        ],
        5,
        "already holds a key",
    );
    assert_eq!(std::fs::read(dir.join("new.tok")).unwrap(), before);
    // The enclave itself recovers once, whoever asks again.
    let (s, v) = http(
        "POST",
        &format!("{}/v1/recovery/{id}/complete", server.url),
        Some(&json!({ "sequence": 2 })),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_used")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("once"),
        "{v}"
    );

    let kinds: Vec<String> = audit_kinds(&server)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "arbitrator-registered",
        "key-escrowed",
        "recovery-requested",
        "recovery-approved",
        "recovery-completed",
        "recovery-refused",
    ] {
        assert!(
            kinds.iter().any(|x| x == k),
            "no {k} in the audit log: {kinds:?}"
        );
    }
    assert_eq!(
        kinds.iter().filter(|k| *k == "recovery-completed").count(),
        1
    );

    // The key's whole history, checked offline by a third person: the
    // escrow under FIG. 9's policy, the request, the six approvals in
    // order, the recovery into the new device.
    let report = evidence_checked(dir, &server, &key, "mail.evidence.json");
    assert_eq!(report["escrows"][0][0], escrow.as_str(), "{report}");
    assert_eq!(report["escrows"][0][1], FIG9);
    assert_eq!(
        report["recoveries"],
        json!([{ "id": id, "completed": true, "approved_by":
            ["user", "provider-b", "manager-c", "card-company", "manager-a", "recorder"] }])
    );
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.join("mail.evidence.json")).unwrap()).unwrap();
    assert_eq!(bundle["arbitrators"].as_array().unwrap().len(), 9);
    // A link of the approval chain, a byte of the deposit (its Feldman
    // commitments), an arbitrator's key: each refused and named.
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 4] = [
        (
            |b| {
                let a = b["recoveries"][0]["approvals"][2]
                    .as_str()
                    .unwrap()
                    .to_string();
                b["recoveries"][0]["approvals"][2] = flip(&a, 40).into();
            },
            ", approval 3",
        ),
        (
            |b| {
                let r = b["escrows"][0].as_str().unwrap().to_string();
                let n = r.len();
                b["escrows"][0] = flip(&r, n / 2).into();
            },
            "escrow",
        ),
        (
            |b| {
                b["recoveries"][0]["approvals"]
                    .as_array_mut()
                    .unwrap()
                    .swap(0, 1);
            },
            ", approval 1",
        ),
        (
            |b| {
                let k = b["arbitrators"][0]["approval_key"].clone();
                b["arbitrators"][1]["approval_key"] = k;
            },
            "arbitrator",
        ),
    ];
    for (edit, needle) in cases {
        let mut b = bundle.clone();
        edit(&mut b);
        std::fs::write(dir.join("t.json"), serde_json::to_vec(&b).unwrap()).unwrap();
        let r = run(dir, &evidence_verify_args("t.json"));
        assert_eq!(r.code, 4, "{needle}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    drop(server);
    sym!(dir, "audit verify --data data");
}

/// Base64 text with one byte of what it encodes changed (at `at` bytes of
/// the decoded data, about).
fn flip(text: &str, at: usize) -> String {
    use base64::Engine as _;
    let mut bytes = b64().decode(text).unwrap();
    let i = (at * 3 / 4).min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    b64().encode(bytes)
}

/// Posts an approval body to a request.
/// Posts an approval as arbitrator `who` (a second credential of its own,
/// so the test process never holds the one its CLI runs use).
fn post_approval(
    dir: &Path,
    server: &Server,
    who: &str,
    id: &str,
    approval: &[u8],
) -> (u16, Value) {
    let token = credential(dir, server, "arbitrator", who);
    common::request(
        &server.client(Some(&dir.join(token))),
        "POST",
        &format!("/v1/recovery/{id}/approvals"),
        Some(&json!({ "approval": b64().encode(approval) })),
    )
}

/// `who`'s approval of request `id`, made as `recovery approve` makes it
/// but with the share sealed to a stray RSA key (RSA-OAEP).
fn approval_with_rsa_share(
    dir: &Path,
    server: &Server,
    escrow: &str,
    who: &str,
    id: &str,
) -> Vec<u8> {
    use symbolon::escrow::{ArbitratorIdentity, EscrowDeposit, RecoveryRequest};
    let me = ArbitratorIdentity::open(
        &std::fs::read(dir.join("arb").join(who).join("arbitrator.sealed")).unwrap(),
        &symbolon::token::SealingKey::from_key_file(
            &std::fs::read(dir.join("arb").join(who).join("arbitrator.sealing-key")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let client = server.client(Some(&dir.join(credential(dir, server, "arbitrator", who))));
    let get = |path: String| common::request(&client, "GET", &path, None).1;
    let b64_field = |v: &Value, f: &str| b64().decode(v[f].as_str().unwrap()).unwrap();
    let status = get(format!("/v1/recovery/{id}"));
    let request = RecoveryRequest::decode(&b64_field(&status, "record")).unwrap();
    let head: [u8; 32] = hex::decode(status["head"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let deposit =
        EscrowDeposit::decode(&b64_field(&get(format!("/v1/escrows/{escrow}")), "record")).unwrap();
    let envelope = b64_field(
        &get(format!("/v1/escrows/{escrow}/shares/{who}")),
        "envelope",
    );
    let stray = symbolon::keys::RsaPrivateKey::generate(symbolon::keys::RsaAlgorithm::Rsa2048)
        .unwrap()
        .public_key()
        .clone();
    me.approve(
        &request,
        &deposit,
        &envelope,
        &symbolon::keys::PublicKey::Rsa(stray),
        head,
    )
    .unwrap()
    .encode()
}

/// The stored approvals of a request, as the service keeps them.
fn stored_approvals(dir: &Path, id: &str) -> Vec<Vec<u8>> {
    let db = dir.join("data/registry.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT record FROM recovery_approvals WHERE request_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    })
}

fn edit_escrow(dir: &Path, escrow: &str, edit: impl Fn(&mut Vec<u8>)) {
    let db = dir.join("data/registry.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let id = hex::decode(escrow).unwrap();
        let mut record: Vec<u8> = sqlx::query_scalar("SELECT record FROM escrows WHERE id = $1")
            .bind(id.clone())
            .fetch_one(&pool)
            .await
            .unwrap();
        edit(&mut record);
        sqlx::query("UPDATE escrows SET record = $1 WHERE id = $2")
            .bind(record)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    })
}

#[test]
fn forged_replayed_and_tampered_are_refused_and_recorded() {
    if postgres_mode() {
        return; // edits the SQLite registry directly
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, escrow, key) = escrowed(dir);
    new_token(dir, &server, "new.tok");
    let first = request(dir, &server, &key, "new.tok");
    let second = request(dir, &server, &key, "new.tok");
    assert_eq!(approve(dir, &server, &first, "user").code, 0);
    let user_approval = stored_approvals(dir, &first).remove(0);

    // Relayed by anyone but its signer: refused before it is looked at.
    let (status, body) = post_approval(dir, &server, "recorder", &second, &user_approval);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    // Replayed into another request: refused, named.
    let (status, body) = post_approval(dir, &server, "user", &second, &user_approval);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "replayed_approval");
    // Forged: the signature altered.
    let mut forged = user_approval.clone();
    let n = forged.len();
    forged[n - 5] ^= 1;
    let (status, body) = post_approval(dir, &server, "user", &second, &forged);
    assert_eq!(status, 400, "{body}");
    assert!(
        matches!(
            body["error"]["code"].as_str(),
            Some("forged_approval") | Some("invalid_request")
        ),
        "{body}"
    );
    // Garbage.
    let (status, body) = post_approval(dir, &server, "user", &second, b"not an approval");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    // Genuine, in turn, but its share sealed with RSA-OAEP (an earlier
    // release's scheme; an old share replayed) rather than HPKE to the
    // enclave's key: refused, nothing stored.
    let rsa_share = approval_with_rsa_share(dir, &server, &escrow, "user", &second);
    let (status, body) = post_approval(dir, &server, "user", &second, &rsa_share);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not sealed to the enclave's key with HPKE"),
        "{body}"
    );
    assert!(
        stored_approvals(dir, &second).is_empty(),
        "a refused approval was stored"
    );

    // Everyone else approves the first request in order.
    for who in [
        "provider-a",
        "manager-a",
        "manager-b",
        "card-company",
        "recorder",
    ] {
        assert_eq!(approve(dir, &server, &first, who).code, 0);
    }
    let token_before = std::fs::read(dir.join("new.tok")).unwrap();

    // A tampered escrow blob (the record's last field): refused, recorded, the request not spent.
    edit_escrow(dir, &escrow, |r| {
        let n = r.len();
        r[n - 1] ^= 1;
    });
    fails(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &first,
            "--token",
            "new.tok"
        ],
        4,
        "damaged",
    );
    edit_escrow(dir, &escrow, |r| {
        let n = r.len();
        r[n - 1] ^= 1;
    });
    // An altered commitment: the arbitrators' checks and the enclave's fail.
    let record = {
        let v = http("GET", &format!("{}/v1/escrows/{escrow}", server.url), None).1;
        b64().decode(v["record"].as_str().unwrap()).unwrap()
    };
    let blob_len = {
        let d = symbolon::escrow::EscrowDeposit::decode(&record).unwrap();
        d.blob.len()
    };
    edit_escrow(dir, &escrow, |r| {
        // The last byte of the last commitment point (of the any(2, managers) node),
        // just before the blob's length prefix.
        let at = r.len() - blob_len - 4 - 1;
        r[at] ^= 1;
    });
    let r = run(
        dir,
        &words![
            "arbitrator verify-share --arbitrator arb/manager-a --ca",
            &server.url,
            "--escrow",
            &escrow
        ],
    );
    assert_ne!(r.code, 0, "an altered commitment went unnoticed");
    let r = run(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &first,
            "--token",
            "new.tok"
        ],
    );
    assert!(r.code == 4 || r.code == 3, "exit {}: {}", r.code, r.stderr);
    assert_eq!(
        std::fs::read(dir.join("new.tok")).unwrap(),
        token_before,
        "a token was written"
    );

    let refusals = audit_kinds(&server)
        .into_iter()
        .filter(|e| e["kind"] == "recovery-refused")
        .count();
    assert!(refusals >= 3, "refusals recorded: {refusals}");
}

#[test]
fn escrow_refusals_at_issuance_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "ca init --data data --algorithm rsa-2048");
    let server = Server::start(dir, "data");
    station_and_token(dir, &server);
    let issue = |policy: &str| {
        run(
            dir,
            &words!["issue --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot k --identity CN=Alice --escrow", policy],
        )
    };
    let before = std::fs::read(dir.join("t.tok")).unwrap();
    let r = issue("all(nobody, noone)");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("arbitrator nobody"), "{}", r.stderr);
    let r = issue("all(a, ");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("column"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(dir.join("t.tok")).unwrap(),
        before,
        "the token changed"
    );
    fails(
        dir,
        &words!["issue --on-token --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot k --identity CN=Alice --escrow alice"],
        3,
        "never leaves",
    );
    fails(dir, &["policy", "check", "any(4, a, b, c)"], 3, "column 5");
    fails(
        dir,
        &words!["arbitrator init --arbitrator x --name", ["Not A Name"]],
        3,
        "not an arbitrator name",
    );
}

#[test]
fn no_escrow_secret_appears_in_outputs_logs_or_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, _escrow, key) = escrowed(dir);
    new_token(dir, &server, "new.tok");
    let id = request(dir, &server, &key, "new.tok");
    let mut outputs = Vec::new();
    for who in [
        "user",
        "provider-c",
        "manager-b",
        "manager-c",
        "card-company",
        "recorder",
    ] {
        let r = run_env(
            dir,
            &words![
                "recovery approve --arbitrator",
                &format!("arb/{who}"),
                "--ca",
                &server.url,
                "--ca-cert root.pem --request",
                &id
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        outputs.push(r);
    }
    outputs.push(run_env(
        dir,
        &words![
            "recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            "new.tok"
        ],
    ));
    drop(server);
    for r in &outputs {
        scan("output", &r.stdout, &[], true);
        scan("log", r.stderr.as_bytes(), &[], true);
        assert!(
            !r.stderr.contains("AGE-SECRET-KEY"),
            "an age identity in a log"
        );
    }
    for path in walk(dir) {
        let name = path.to_string_lossy().to_string();
        if name.ends_with(".tok") || name.ends_with(".token") || name.contains("sealing-key") {
            continue; // sealed by design
        }
        let data = std::fs::read(&path).unwrap();
        scan(&name, &data, &[], true);
        assert!(
            !find(&data, b"AGE-SECRET-KEY"),
            "{name} holds an age identity in the clear"
        );
    }
}

#[test]
fn fig9_recovers_an_escrowed_p256_key_into_a_new_token() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, _escrow, key) = escrowed_with(dir, "p256");
    let text = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "mail.crt", "-noout", "-text"],
    ))
    .unwrap();
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
    sym!(dir, "token tamper --token t.tok --yes");
    new_token(dir, &server, "new.tok");
    // No request for a token that would refuse the key: one that does not
    // trust the enclave's issuer, or a slot that holds a key already.
    sym!(dir, "token init --token stranger.tok");
    ok(
        dir,
        &words!["token register --token stranger.tok --ca", &server.url],
    );
    let before = audit_entries(&server).len();
    for (token, slot, needle) in [
        (
            "stranger.tok",
            "mail",
            "does not trust the recovery enclave",
        ),
        ("t.tok", "mail", "tampered"),
    ] {
        let r = run(
            dir,
            &words![
                "recovery request --ca",
                &server.url,
                "--key",
                &key,
                "--reason lost --token",
                token,
                "--slot",
                slot
            ],
        );
        assert_ne!(r.code, 0, "{token}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{token}: {}", r.stderr);
    }
    assert_eq!(audit_entries(&server).len(), before, "nothing filed");
    let id = request(dir, &server, &key, "new.tok");
    for who in "user provider-b manager-c card-company manager-a recorder".split(' ') {
        let r = approve(dir, &server, &id, who);
        assert_eq!(r.code, 0, "{who}: {}", r.stderr);
    }
    let done = ok(
        dir,
        &words![
            "--json recovery complete --ca",
            &server.url,
            "--request",
            &id,
            "--token",
            "new.tok"
        ],
    )
    .json();
    assert_eq!(done["key"], key.as_str(), "{done}");
    // The slot now holds the key: a second request into it is refused
    // before anything is filed.
    let r = run(
        dir,
        &words![
            "recovery request --ca",
            &server.url,
            "--key",
            &key,
            "--reason again --token new.tok --slot mail"
        ],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("already holds a key"), "{}", r.stderr);
    // The recovered P-256 key signs in the new token, and the old
    // certificate's key verifies it (OpenSSL).
    std::fs::write(dir.join("doc"), b"signed after recovery").unwrap();
    sym!(
        dir,
        "token sign --token new.tok --slot mail --in doc --out doc.sig"
    );
    openssl(
        dir,
        &words!["x509 -in mail.crt -noout -pubkey -out mail.pub"],
    );
    let out = openssl(
        dir,
        &words!["dgst -sha256 -verify mail.pub -signature doc.sig doc"],
    );
    assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
    let info = sym!(dir, "--json token info --token new.tok").json();
    let slot = &info["slots"][0];
    assert_eq!(slot["algorithm"], "p256", "{info}");
    assert_eq!(slot["fingerprint"], key.as_str(), "{info}");
    sym!(dir, "audit verify --data data");
}

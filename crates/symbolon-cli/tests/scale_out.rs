//! Scale-out: three `symbolon serve` processes on one PostgreSQL, sharing
//! one CA key through a token agent. Under a bounded load in which most
//! requests reuse keys, every key is certified exactly once, every other
//! request is refused cleanly, and the audit chain stays one chain; killing a
//! process mid-load loses no committed certificate and leaves no half-written
//! row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::{json, Value};

const KEYS: usize = 40;
const REQUESTS: usize = 1200;

fn postgres_admin() -> Option<String> {
    match std::env::var("SYMBOLON_TEST_POSTGRES_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!("SYMBOLON_REQUIRE_PEERS=1 but SYMBOLON_TEST_POSTGRES_URL is not set")
        }
        Err(_) => {
            eprintln!("skipping: no SYMBOLON_TEST_POSTGRES_URL");
            None
        }
    }
}

/// A CA on PostgreSQL with its key served by an agent, and `n` service processes.
/// The certificates the load made (the test station's), not the services'
/// own TLS certificates nor the credentials of the tests' callers.
const SUBSCRIBER_CERTIFICATES: &str =
    "SELECT COUNT(*) FROM certificates WHERE requester = 'test-station'";

fn cluster(dir: &std::path::Path, n: usize) -> (String, Agent, Vec<Server>) {
    let url = create_test_database(dir);
    ok(
        dir,
        &words!["ca init --data data --subject", ["CN=Scale CA"]],
    );
    let agent = Agent::start(dir, "data/ca.token", "ca.sock");
    let servers = (0..n)
        .map(|_| Server::start_with(dir, &["--data", "data", "--ca-token", "agent:ca.sock"]))
        .collect();
    (url, agent, servers)
}

fn csrs(dir: &std::path::Path, prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let key = format!("{prefix}{i}.key");
            let subj = format!("/CN={prefix} {i}");
            openssl(
                dir,
                &words![
                    "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out",
                    &key
                ],
            );
            let csr =
                String::from_utf8(openssl(dir, &["req", "-new", "-key", &key, "-subj", &subj]))
                    .unwrap();
            (csr, format!("CN={prefix} {i}"))
        })
        .collect()
}

fn sql_count(url: &str, query: &str) -> i64 {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    })
}

#[test]
fn three_processes_one_key_one_certificate() {
    if postgres_admin().is_none() || !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (url, _agent, servers) = cluster(dir, 3);
    let reqs = csrs(dir, "k", KEYS);
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("{}/v1/certify", s.url))
        .collect();

    let results: Vec<(usize, u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let (reqs, urls) = (&reqs, &urls);
                s.spawn(move || {
                    (0..REQUESTS / 6)
                        .map(|j| {
                            let i = (t * 7 + j) % KEYS;
                            let (csr, identity) = &reqs[i];
                            let (st, v) = http(
                                "POST",
                                &urls[(t + j) % 3],
                                Some(&json!({ "csr": csr, "identity": identity })),
                            );
                            (i, st, v)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(results.len(), REQUESTS);
    let mut issued: HashMap<usize, usize> = HashMap::new();
    for (i, st, v) in &results {
        match st {
            200 => *issued.entry(*i).or_default() += 1,
            409 => assert_eq!(v["error"]["code"], "duplicate_key", "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(issued.len(), KEYS, "every key certified");
    assert!(
        issued.values().all(|&n| n == 1),
        "a key certified twice: {issued:?}"
    );
    assert_eq!(sql_count(&url, SUBSCRIBER_CERTIFICATES), KEYS as i64);
    assert_eq!(
        sql_count(
            &url,
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'certification-refused'"
        ),
        (REQUESTS - KEYS) as i64
    );
    let v = sym!(dir, "--json audit verify --database {url}").json();
    assert_eq!(v["intact"], true);
}

#[test]
fn killing_a_process_mid_load_loses_nothing_committed() {
    if postgres_admin().is_none() || !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (url, _agent, mut servers) = cluster(dir, 3);
    let reqs = csrs(dir, "m", 45);
    let victim = servers[1].child.id();

    // The kill lands once 15 requests were answered, whatever the speed.
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let answered = &answered;
        let killer = s.spawn(move || {
            while answered.load(std::sync::atomic::Ordering::SeqCst) < 15 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let pid = rustix::process::Pid::from_raw(victim as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        });
        let handles: Vec<_> = (0..3)
            .map(|t| {
                let (reqs, servers) = (&reqs, &servers);
                s.spawn(move || {
                    (0..reqs.len() / 3)
                        .map(|j| {
                            let (csr, identity) = &reqs[t * (reqs.len() / 3) + j];
                            let server = &servers[(t + j) % 3];
                            let client = server.client(Some(&server.station_http));
                            let sent = client
                                .post("/v1/certify", &json!({ "csr": csr, "identity": identity }));
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            match sent {
                                Ok(r) => (r.status, r.body),
                                Err(_) => (0, Value::Null), // the process died under it
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let out = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        killer.join().unwrap();
        out
    });
    servers[1].child.wait().unwrap();
    let survivor = &servers[0].url;
    let mut confirmed = 0;
    for (st, v) in &results {
        if *st == 200 {
            let serial = v["serial"].as_str().unwrap();
            let (s, _) = http("GET", &format!("{survivor}/v1/certificates/{serial}"), None);
            assert_eq!(
                s, 200,
                "certificate {serial} was answered but is not in the registry"
            );
            confirmed += 1;
        } else {
            assert!(*st == 0 || *st == 409, "unexpected {st}: {v}");
        }
    }
    assert!(confirmed > 0);
    assert!(
        results.iter().any(|(st, _)| *st == 0),
        "the kill landed after the load; nothing was tested"
    );
    // No half-written row: every certified key has its certificate.
    assert_eq!(
        sql_count(
            &url,
            "SELECT COUNT(*) FROM public_keys k WHERE k.state = 'certified' \
             AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.fingerprint = k.fingerprint)"
        ),
        0
    );
    // Every answered certificate is there; one committed just as its process
    // died may be there unanswered, never the other way round.
    assert!(sql_count(&url, SUBSCRIBER_CERTIFICATES) >= confirmed);
    let v = sym!(dir, "--json audit verify --database {url}").json();
    assert_eq!(v["intact"], true);
}

#[test]
fn health_reports_a_lost_database() {
    let Some(admin) = postgres_admin() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let url = create_test_database(dir);
    let server = Server::start(dir, "data");
    let (status, v) = http("GET", &format!("{}/v1/health", server.url), None);
    assert_eq!((status, v["database"].as_str().unwrap()), (200, "ok"));
    // The database goes away under the running service.
    let name = url.rsplit('/').next().unwrap().to_string();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let (status, v) = http("GET", &format!("{}/v1/health", server.url), None);
    assert_eq!(
        (status, v["status"].as_str().unwrap()),
        (503, "unavailable"),
        "{v}"
    );
    // A request that needs the registry fails as the service's fault, without detail.
    let (status, v) = http(
        "GET",
        &format!("{}/v1/keys/sha256:{}", server.url, "00".repeat(32)),
        None,
    );
    assert_eq!(
        (status, v["error"]["code"].as_str().unwrap()),
        (500, "internal"),
        "{v}"
    );
    assert!(
        !v["error"]["message"].as_str().unwrap().contains(&name),
        "{v}"
    );
}

/// Two keys sharing a prime, sent at once to two processes on one
/// PostgreSQL: exactly one is certified, the other refused as weak
/// (shared-prime), and both are flagged — whichever process wins the race.
#[test]
fn a_shared_prime_racing_through_two_processes_is_caught() {
    if postgres_admin().is_none() || !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (url, _agent, servers) = cluster(dir, 2);
    const PAIRS: usize = 5;
    weak_key_corpus(dir, &["--shared-pairs", &PAIRS.to_string()]);
    let csr = |name: &str| {
        std::fs::read_to_string(dir.join("corpus").join(format!("{name}.csr.pem"))).unwrap()
    };
    for i in 0..PAIRS {
        let bodies = [
            json!({ "csr": csr(&format!("pair{i}-a")), "identity": format!("CN=weak pair{i}-a") }),
            json!({ "csr": csr(&format!("pair{i}-b")), "identity": format!("CN=weak pair{i}-b") }),
        ];
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<(u16, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|j| {
                    let (barrier, body, url) = (
                        &barrier,
                        &bodies[j],
                        format!("{}/v1/certify", servers[j].url),
                    );
                    s.spawn(move || {
                        barrier.wait();
                        http("POST", &url, Some(body))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let certified = results.iter().filter(|(s, _)| *s == 200).count();
        let refused: Vec<&Value> = results
            .iter()
            .filter(|(s, v)| *s == 400 && v["error"]["code"] == "weak_key")
            .map(|(_, v)| v)
            .collect();
        assert_eq!((certified, refused.len()), (1, 1), "pair {i}: {results:?}");
        assert!(
            refused[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("(shared-prime)"),
            "{:?}",
            refused[0]
        );
    }
    assert_eq!(
        sql_count(
            &url,
            "SELECT COUNT(*) FROM moduli WHERE shared_with IS NOT NULL"
        ),
        (2 * PAIRS) as i64
    );
    assert_eq!(sql_count(&url, SUBSCRIBER_CERTIFICATES), PAIRS as i64);
    drop(servers);
    sym!(dir, "audit verify --database {url}");
}

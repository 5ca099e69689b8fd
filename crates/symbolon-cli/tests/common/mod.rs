//! Helpers for the end-to-end tests: run the real `symbolon` binary, OpenSSL
//! as the peer, and token agents that die with the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod joint;

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_symbolon")
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Runs `symbolon args…` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    run_stdin(dir, args, None)
}

pub fn run_stdin(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SYMBOLON_TOKEN")
        .env_remove("SYMBOLON_SEALING_KEY")
        .env_remove("SYMBOLON_ISSUER")
        .env_remove("SYMBOLON_DATABASE");
    if let Some(url) = test_database(dir) {
        cmd.env("SYMBOLON_DATABASE", url);
    }
    service_env(dir, &mut cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn symbolon");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            input.write_all(data).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Run::from(out)
}

/// A command line's words: `argv("token init --token u.tok")`. Words are
/// split on whitespace; an argument that holds a space goes in an array.
pub fn argv(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A command line's words followed by arguments that are not plain words
/// (paths, values with spaces), for a line that is itself built:
/// `argv_with(&format!("token sign --slot {slot} --in"), &[&path])`. A
/// literal line reads better as `words!` below.
pub fn argv_with<'a>(line: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    argv(line).into_iter().chain(rest.iter().copied()).collect()
}

/// An argument list written the way a command line reads:
/// `words!["genpkey -algorithm RSA -out", &key, "-subj", ["/CN=Alice Smith"]]`.
/// A string literal stands for its whitespace-separated words, `["…"]` for
/// one argument that holds spaces, any other expression for one argument.
#[allow(unused_macros)]
macro_rules! words {
    (@acc [$($done:expr,)*]) => {
        [$($done),*].concat()
    };
    (@acc [$($done:expr,)*] [$one:literal] $(, $($rest:tt)*)?) => {
        words!(@acc [$($done,)* vec![$one],] $($($rest)*)?)
    };
    (@acc [$($done:expr,)*] $line:literal $(, $($rest:tt)*)?) => {
        words!(@acc [$($done,)* $line.split_whitespace().collect::<Vec<&str>>(),] $($($rest)*)?)
    };
    (@acc [$($done:expr,)*] $arg:expr $(, $($rest:tt)*)?) => {
        words!(@acc [$($done,)* vec![AsRef::<str>::as_ref($arg)],] $($($rest)*)?)
    };
    ($($t:tt)*) => {
        words!(@acc [] $($t)*)
    };
}
#[allow(unused_imports)]
pub(crate) use words;

/// `sym!(dir, "token sign --token {tok} --slot s")`: runs symbolon with the
/// line's words (its `{name}`s filled in as `format!` does) and expects
/// success.
#[allow(unused_macros)]
macro_rules! sym {
    ($dir:expr, $line:literal) => {
        ok($dir, &argv(&format!($line)))
    };
}
#[allow(unused_imports)]
pub(crate) use sym;

/// `sym_fails!(dir, "token sign …", 3, "needle")`: runs symbolon with the
/// line's words and expects exit `code` with `needle` in stderr.
#[allow(unused_macros)]
macro_rules! sym_fails {
    ($dir:expr, $line:literal, $code:expr, $needle:expr) => {
        fails($dir, &argv(&format!($line)), $code, $needle)
    };
}
#[allow(unused_imports)]
pub(crate) use sym_fails;

/// Runs a peer's command and expects success, showing its stderr if not.
pub fn succeeded(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} {:?} failed: {}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A private SoftHSM2 store in `dir/hsm` and its configuration file
/// (made once), so tests never share tokens.
pub fn softhsm_conf(dir: &Path) -> PathBuf {
    let conf = dir.join("softhsm2.conf");
    if !conf.exists() {
        std::fs::create_dir_all(dir.join("hsm")).unwrap();
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("hsm").display()
            ),
        )
        .unwrap();
    }
    conf
}

/// Runs and expects success.
pub fn ok(dir: &Path, args: &[&str]) -> Run {
    expect_ok(args, run(dir, args))
}

/// Runs and expects failure with `code`, and `needle` in stderr.
pub fn fails(dir: &Path, args: &[&str], code: i32, needle: &str) -> Run {
    expect_failure(args, run(dir, args), code, needle)
}

/// `r`, the run of `symbolon args…`, succeeded.
pub fn expect_ok(args: &[&str], r: Run) -> Run {
    assert_eq!(r.code, 0, "symbolon {args:?} failed: {}", r.stderr);
    r
}

/// `r`, the run of `symbolon args…`, failed with `code`, `needle` in its
/// stderr and no panic.
pub fn expect_failure(args: &[&str], r: Run, code: i32, needle: &str) -> Run {
    assert_eq!(
        r.code, code,
        "symbolon {args:?}: expected exit {code}, got {}: {}",
        r.code, r.stderr
    );
    assert!(
        r.stderr.contains(needle),
        "symbolon {args:?}: stderr lacks {needle:?}: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
    r
}

/// Whether the OpenSSL command is here; with SYMBOLON_REQUIRE_PEERS=1 its
/// absence fails the test instead of skipping it.
pub fn have_openssl() -> bool {
    have_peer("openssl", "openssl", &["version"])
}

/// Whether `program args…` runs successfully: a peer the test needs. With
/// SYMBOLON_REQUIRE_PEERS=1 its absence fails the test instead of skipping.
pub fn have_peer(what: &str, program: &str, args: &[&str]) -> bool {
    let here = Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !here && std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{what} is required (SYMBOLON_REQUIRE_PEERS=1) but not installed");
    }
    if !here {
        eprintln!("skipping: {what} not installed");
    }
    here
}

/// python3 with pyca/cryptography (scripts/test installs it with pkilint).
pub fn have_pyca() -> bool {
    have_peer(
        "python3 with pyca/cryptography",
        "python3",
        &["-c", "import cryptography.hazmat.primitives.hpke"],
    )
}

/// Runs scripts/weak-key-corpus.py into `dir/corpus` with `args`; its cases.
pub fn weak_key_corpus(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    succeeded(
        Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/weak-key-corpus.py"
            ))
            .arg(dir.join("corpus"))
            .args(args),
    );
    serde_json::from_slice(&std::fs::read(dir.join("corpus/corpus.json")).unwrap()).unwrap()
}

/// An RSA private key of `bits` made by OpenSSL, written to `dir/out`.
pub fn openssl_rsa_key(dir: &Path, out: &str, bits: u32) {
    openssl(
        dir,
        &words![
            "genpkey -algorithm RSA -pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-out",
            out
        ],
    );
}

/// Runs `openssl args…` in `dir`, expecting success.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    succeeded(Command::new("openssl").args(args).current_dir(dir)).stdout
}

/// A token agent child process, killed when dropped.
pub struct Agent {
    pub child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Agent {
    pub fn start(dir: &Path, token: &str, socket: &str) -> Agent {
        let log = dir.join(format!("{socket}.log"));
        let child = Command::new(bin())
            .args(["token", "serve", "--token", token, "--socket", socket])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let socket = dir.join(socket);
        let start = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "agent did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent { child, socket, log }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An issuer `st`, a token `t.tok` trusting it, and an RSA-2048 key in slot `sig`.
pub fn token_with_key(dir: &Path) {
    station_trusted_by_token(dir);
    sym!(dir, "token generate --token t.tok --slot sig");
    sym!(
        dir,
        "token public-key --token t.tok --slot sig --out sig.pub"
    );
}

/// A fresh directory holding [`token_with_key`]'s issuer, token and key.
pub fn dir_with_key() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    token_with_key(d.path());
    d
}

/// A certificate for `pubkey` made by OpenSSL with a throwaway CA key.
pub fn certificate_for(dir: &Path, pubkey: &str, out: &str) {
    if !dir.join("ca.key").exists() {
        openssl(
            dir,
            &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ca.key"],
        );
    }
    openssl(
        dir,
        &words![
            "x509 -new -key ca.key -force_pubkey",
            pubkey,
            "-subj /CN=test -days 30 -out",
            out
        ],
    );
}

/// Every file in `dir` with its bytes; an SQLite database as its logical
/// content instead. Its `-wal` and `-shm` companions come and go as
/// connections open and close (and a checkpoint moves committed pages from
/// one file to the other), so comparing them byte for byte would see
/// changes where the data has none.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(dir) {
        let name = e.to_string_lossy();
        if name.ends_with("-wal") || name.ends_with("-shm") {
            continue;
        }
        let bytes = std::fs::read(&e).unwrap_or_default();
        let bytes = if bytes.starts_with(b"SQLite format 3\0") {
            sqlite_content(&e)
        } else {
            bytes
        };
        out.push((e.clone(), bytes));
    }
    out.sort();
    out
}

/// The SQL dump of the SQLite database at `db`, read from a copy (with its
/// write-ahead log) so the original's files are not touched.
fn sqlite_content(db: &Path) -> Vec<u8> {
    let copy = tempfile::tempdir().unwrap();
    let target = copy.path().join("copy.db");
    std::fs::copy(db, &target).unwrap();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    if wal.exists() {
        std::fs::copy(&wal, copy.path().join("copy.db-wal")).unwrap();
    }
    succeeded(Command::new("python3").arg("-c").arg(
        "import sqlite3, sys\nfor line in sqlite3.connect(sys.argv[1]).iterdump(): print(line)",
    ).arg(&target))
    .stdout
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
        if ft.is_dir() {
            out.extend(walk(&p));
        } else if ft.is_file() {
            out.push(p);
        }
    }
    out
}

/// The registry backend the service tests run on: `SYMBOLON_TEST_BACKEND=postgres`
/// runs them on PostgreSQL (a fresh database per test directory, on the server
/// `SYMBOLON_TEST_POSTGRES_URL` names); otherwise the embedded SQLite default.
pub fn postgres_mode() -> bool {
    std::env::var("SYMBOLON_TEST_BACKEND").as_deref() == Ok("postgres")
}

const TEST_DATABASE_FILE: &str = ".test-database";

/// Gives a test directory its own registry database: nothing to do on SQLite
/// (the data directory holds it); a fresh PostgreSQL database otherwise,
/// which every later command in `dir` uses (through SYMBOLON_DATABASE).
pub fn use_test_database(dir: &Path) -> Option<String> {
    if let Some(url) = test_database(dir) {
        return Some(url);
    }
    postgres_mode().then(|| create_test_database(dir))
}

/// Creates a fresh PostgreSQL database for `dir` on the server that
/// `SYMBOLON_TEST_POSTGRES_URL` names; every later command in `dir` uses it.
pub fn create_test_database(dir: &Path) -> String {
    let admin = std::env::var("SYMBOLON_TEST_POSTGRES_URL")
        .expect("a PostgreSQL test needs SYMBOLON_TEST_POSTGRES_URL");
    let url = tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let mut name = [0u8; 8];
        symbolon::keys::random_bytes(&mut name).unwrap();
        let name = format!("symbolon_cli_{}", hex::encode(name));
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        format!(
            "{}/{name}",
            admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin)
        )
    });
    std::fs::write(dir.join(TEST_DATABASE_FILE), &url).unwrap();
    url
}

/// The database a test directory was given, if any.
pub fn test_database(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(TEST_DATABASE_FILE)).ok()
}

const TEST_SERVICE_FILE: &str = ".test-service";

/// Every later command in `dir` pins the CA of the service last started
/// there and acts as its test station (SYMBOLON_CA_CERT,
/// SYMBOLON_CREDENTIAL), unless it names others.
pub fn service_env(dir: &Path, cmd: &mut Command) {
    cmd.env_remove("SYMBOLON_CA_CERT")
        .env_remove("SYMBOLON_CREDENTIAL")
        .env_remove("SYMBOLON_CREDENTIAL_SLOT");
    if let Ok(text) = std::fs::read_to_string(dir.join(TEST_SERVICE_FILE)) {
        let mut lines = text.lines();
        if let (Some(ca), Some(cred)) = (lines.next(), lines.next()) {
            cmd.env("SYMBOLON_CA_CERT", ca)
                .env("SYMBOLON_CREDENTIAL", cred);
        }
    }
}

/// A service this test process started, for [`http`].
#[derive(Clone)]
struct Started {
    url: String,
    ca_cert: PathBuf,
    admin: PathBuf,
    station_http: PathBuf,
    data: PathBuf,
}

/// The services started by this test process.
static SERVICES: std::sync::Mutex<Vec<Started>> = std::sync::Mutex::new(Vec::new());

/// A `symbolon serve` child on a free loopback port, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// The data directory (absolute).
    pub data: PathBuf,
    /// The CA chain to pin (DATA/chain.pem).
    pub ca_cert: PathBuf,
    /// The first admin's credential token.
    pub admin: PathBuf,
    /// A station credential token made for the tests' CLI runs.
    pub station: PathBuf,
    /// A second credential of the same station, for requests this test
    /// process makes itself (a soft token is open in one process at a time).
    pub station_http: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, data: &str) -> Server {
        Self::start_with(dir, &["--data", data])
    }

    /// `symbolon serve --listen 127.0.0.1:0` with `args`.
    pub fn start_with(dir: &Path, args: &[&str]) -> Server {
        Self::start_env(dir, args, &[])
    }

    /// The same, with extra environment variables.
    pub fn start_env(dir: &Path, args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> Server {
        let (child, url) = spawn_serve(dir, args, envs);
        let data = args
            .iter()
            .position(|a| *a == "--data")
            .map(|i| dir.join(args[i + 1]))
            .unwrap_or_else(|| dir.join("symbolon-data"));
        let ca_cert = data.join("chain.pem");
        let admin = data.join("admin.token");
        let station = data.join("test-station.token");
        let station_http = data.join("test-station-http.token");
        let server = Server {
            child,
            url,
            data,
            ca_cert,
            admin,
            station,
            station_http,
        };
        for t in [&server.station, &server.station_http] {
            if !t.exists() {
                let path = t.to_str().unwrap().to_string();
                enroll(dir, &server, "station", "test-station", &path);
            }
        }
        // The tests' station vets its subjects and their names itself (a
        // name policy allowing every name), as the patent's station at the
        // issuing centre does; the vetting tests use stations without one.
        name_policy(dir, &server, "test-station", EVERY_NAME, &[]);
        let auditor = server.data.join("test-auditor-http.token");
        if !auditor.exists() {
            let path = auditor.to_str().unwrap().to_string();
            enroll(dir, &server, "auditor", "test-auditor", &path);
        }
        std::fs::write(
            dir.join(TEST_SERVICE_FILE),
            format!(
                "{}\n{}\n",
                server.ca_cert.display(),
                server.station.display()
            ),
        )
        .unwrap();
        SERVICES.lock().unwrap().push(Started {
            url: server.url.clone(),
            ca_cert: server.ca_cert.clone(),
            admin: server.admin.clone(),
            station_http: server.station_http.clone(),
            data: server.data.clone(),
        });
        server
    }

    /// A client of this service as `credential` (None: anonymous).
    pub fn client(&self, credential: Option<&Path>) -> symbolon_client::ServiceClient {
        client_for(&self.url, &self.ca_cert, credential)
    }
}

/// `symbolon serve --listen 127.0.0.1:0 ARGS` in `dir`; returns the child
/// and the URL it printed. Its stderr keeps being drained.
pub fn spawn_serve(
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
) -> (Child, String) {
    use std::io::BufRead;
    let mut cmd = Command::new(bin());
    cmd.envs(envs.iter().copied());
    if let Some(url) = use_test_database(dir) {
        cmd.env("SYMBOLON_DATABASE", url);
    }
    // The tests' loads are not what the rate limits are for (a fast
    // machine would meet them); a test of the limits sets its own.
    let unlimited: &[&str] = if args.iter().any(|a| a.ends_with("rate-limit")) {
        &[]
    } else {
        &["--rate-limit", "1000000"]
    };
    let mut child = cmd
        .arg("serve")
        .args(args)
        .args(unlimited)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = String::new();
    let url = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("server exited: {seen}"))
            .unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(u) = line.strip_prefix("symbolon serving on ") {
            break u.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CSR (PEM) for a new OpenSSL RSA-2048 key `NAME.key`, subject CN=NAME.
pub fn openssl_csr(dir: &Path, name: &str) -> String {
    openssl_rsa_key(dir, &format!("{name}.key"), 2048);
    let key = format!("{name}.key");
    let subject = format!("/CN={name}");
    String::from_utf8(openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", &subject],
    ))
    .unwrap()
}

/// The public key (PEM) of a new OpenSSL RSA-2048 key `NAME.key`.
pub fn openssl_public_key(dir: &Path, name: &str) -> String {
    openssl_rsa_key(dir, &format!("{name}.key"), 2048);
    let key = format!("{name}.key");
    String::from_utf8(openssl(dir, &["pkey", "-in", &key, "-pubout"])).unwrap()
}

/// A client of the service at `url`, pinning `ca_cert`, as `credential`.
pub fn client_for(
    url: &str,
    ca_cert: &Path,
    credential: Option<&Path>,
) -> symbolon_client::ServiceClient {
    let roots = symbolon_client::PinnedRoots::from_pem_file(ca_cert).unwrap();
    let credential = credential.map(open_credential);
    symbolon_client::ServiceClient::new(url, Some(&roots), credential.as_ref()).unwrap()
}

/// Credentials this process opened: each token stays open (and locked)
/// for the rest of the test process, so concurrent requests share it.
static OPEN_CREDENTIALS: std::sync::Mutex<Vec<(PathBuf, symbolon_client::Credential)>> =
    std::sync::Mutex::new(Vec::new());

/// The credential in a token file (default slot), opened once.
pub fn open_credential(path: &Path) -> symbolon_client::Credential {
    let mut open = OPEN_CREDENTIALS.lock().unwrap();
    if let Some((_, c)) = open.iter().find(|(p, _)| p == path) {
        return c.clone();
    }
    let spec = symbolon_token::open::TokenSpec::parse(path.to_str().unwrap(), None).unwrap();
    let token = std::sync::Arc::from(spec.open().unwrap());
    let slot = symbolon::token::SlotName::new(symbolon_client::DEFAULT_CREDENTIAL_SLOT).unwrap();
    let c = symbolon_client::Credential::open(token, &slot).unwrap();
    open.push((path.to_path_buf(), c.clone()));
    c
}

/// Grants `role` to `name` with the service's admin credential and enrolls
/// a credential for it into the token at `token` (created if missing).
pub fn enroll(dir: &Path, server: &Server, role: &str, name: &str, token: &str) {
    enroll_at(
        dir,
        &server.url,
        &server.ca_cert,
        &server.admin,
        role,
        name,
        token,
    );
}

fn enroll_at(
    dir: &Path,
    url: &str,
    ca_cert: &Path,
    admin: &Path,
    role: &str,
    name: &str,
    token: &str,
) {
    let admin = admin.to_str().unwrap();
    let ca_cert = ca_cert.to_str().unwrap();
    let granted = ok(
        dir,
        &words![
            "--json admin grant --ca",
            url,
            "--ca-cert",
            ca_cert,
            "--credential",
            admin,
            "--role",
            role,
            "--name",
            name
        ],
    )
    .json();
    let code = granted["code"].as_str().unwrap().to_string();
    if !Path::new(token).is_absolute() && !dir.join(token).exists()
        || Path::new(token).is_absolute() && !Path::new(token).exists()
    {
        ok(dir, &["token", "init", "--token", token]);
    }
    ok(
        dir,
        &words![
            "enroll --ca",
            url,
            "--ca-cert",
            ca_cert,
            "--code",
            &code,
            "--token",
            token
        ],
    );
}

/// A name policy that allows every name: the station vets them itself.
pub const EVERY_NAME: &[&str] = &["dn:*", "dns:*", "email:*", "ip:0.0.0.0/0", "ip:::/0"];

/// Sets station `station`'s name policy, as the service's first admin.
pub fn name_policy(dir: &Path, server: &Server, station: &str, allow: &[&str], deny: &[&str]) {
    let mut args = vec![
        "admin",
        "name-policy",
        "set",
        "--ca",
        &server.url,
        "--ca-cert",
        server.ca_cert.to_str().unwrap(),
        "--credential",
        server.admin.to_str().unwrap(),
        "--station",
        station,
    ];
    for a in allow {
        args.extend(["--allow", a]);
    }
    for d in deny {
        args.extend(["--deny", d]);
    }
    ok(dir, &args);
}

/// Lets the in-process station of `--ca local:DATA` (`local-station`)
/// vet its subjects itself, as the data directory's first admin (made on
/// the first local run, as `serve` makes it).
pub fn local_station_vets(dir: &Path, data: &str) {
    let local = format!("local:{data}");
    let admin = format!("{data}/admin.token");
    if !dir.join(&admin).exists() {
        ok(dir, &["ca", "certificate", "--ca", &local]);
    }
    ok(dir, &local_vets_args(&local, &admin));
}

/// `admin name-policy set` letting `local-station` name every subject.
pub fn local_vets_args<'a>(local: &'a str, admin: &'a str) -> Vec<&'a str> {
    let mut args = vec![
        "admin",
        "name-policy",
        "set",
        "--ca",
        local,
        "--credential",
        admin,
        "--station",
        "local-station",
    ];
    for rule in EVERY_NAME {
        args.extend(["--allow", rule]);
    }
    args
}

/// Enrolls arbitrator `name` (identity in `dir/arbdir`) with the service:
/// its credential goes to `arbdir/credential.token`, where the arbitrator
/// commands find it.
pub fn arbitrator_credential(dir: &Path, server: &Server, name: &str, arbdir: &str) {
    let token = format!("{arbdir}/credential.token");
    enroll(dir, server, "arbitrator", name, &token);
}

/// A credential for `name` with `role`, in `dir/NAME.cred.token`; returns
/// its path (relative to `dir`).
pub fn credential(dir: &Path, server: &Server, role: &str, name: &str) -> String {
    let token = format!("{name}.cred.token");
    if !dir.join(&token).exists() {
        enroll(dir, server, role, name, &token);
    }
    token
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON request to a service this test started, as its test station (as
/// a test auditor for the audit log); returns status and body.
pub fn http(method: &str, url: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    let s = SERVICES
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|s| url.starts_with(s.url.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("{url} is not a service this test started"));
    let path = &url[s.url.len()..];
    let who = if path.starts_with("/v1/audit") {
        s.data.join("test-auditor-http.token")
    } else {
        s.station_http.clone()
    };
    let client = client_for(&s.url, &s.ca_cert, Some(&who));
    request(&client, method, path, body)
}

/// A JSON request through `client`.
pub fn request(
    client: &symbolon_client::ServiceClient,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let answer = match (method, body) {
        ("GET", _) => client.get(path),
        ("PUT", Some(b)) => client.put(path, b),
        (_, Some(b)) => client.post(path, b),
        (m, None) => client.raw(m, path, &[("content-type", "application/json")], Vec::new()),
    }
    .unwrap();
    (answer.status, answer.body)
}

/// Registers `token`'s device key with the service at `server`.
pub fn register_token(dir: &Path, server: &Server, token: &str) {
    ok(
        dir,
        &words!["token register --token", token, "--ca", &server.url],
    );
}

/// A fresh directory with the service running on `data` and, through it,
/// station `st` and the token `t.tok` trusting it ([`station_and_token`]).
pub fn service_with_station() -> (tempfile::TempDir, Server) {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), "data");
    station_and_token(d.path(), &server);
    (d, server)
}

/// Station `st`, token `t.tok` trusting it, and the CA root in `root.pem`.
pub fn station_and_token(dir: &Path, server: &Server) {
    ok(
        dir,
        &words!["ca certificate --ca", &server.url, "--out root.pem"],
    );
    station_trusted_by_token(dir);
}

/// An issuer identity in `dir/name`, its public key in `name.pem`.
pub fn new_issuer(dir: &Path, name: &str) {
    ok(dir, &["issuer", "init", "--issuer", name]);
    let pem = format!("{name}.pem");
    ok(
        dir,
        &["issuer", "public-key", "--issuer", name, "--out", &pem],
    );
}

/// Station (issuer) `st`, and token `t.tok` that trusts it.
pub fn station_trusted_by_token(dir: &Path) {
    new_issuer(dir, "st");
    ok(dir, &["token", "init", "--token", "t.tok"]);
    ok(
        dir,
        &words!["token trust-issuer --token t.tok --issuer-key st.pem"],
    );
}

/// Byte patterns that begin any RSA or EC private key encoding symbolon uses.
pub const STRUCTURES: [(&str, &[u8]); 5] = [
    (
        "PKCS#8 RSA header",
        &[
            0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
            0x01, 0x01, 0x05, 0x00, 0x04,
        ],
    ),
    (
        "PKCS#8 EC header",
        &[
            0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        ],
    ),
    ("PKCS#1 RSA header", &[0x02, 0x01, 0x00, 0x02, 0x82]),
    ("PEM private key", b"PRIVATE KEY-----"),
    ("PEM sealing key", b"SYMBOLON SEALING KEY"),
];

/// Whether `needle` occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A secret's bytes in one encoding, to look for.
pub struct Needle {
    pub what: String,
    pub bytes: Vec<u8>,
}

/// The secret raw, hex and base64, whole and in 20-byte windows.
pub fn add_encodings(out: &mut Vec<Needle>, what: &str, secret: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    // A 20-byte window catches fragments too; chance matches are impossible.
    for (i, chunk) in [secret, &secret[secret.len() / 2..]]
        .into_iter()
        .enumerate()
    {
        let w = &chunk[..chunk.len().min(20)];
        out.push(Needle {
            what: format!("{what} raw #{i}"),
            bytes: w.to_vec(),
        });
        out.push(Needle {
            what: format!("{what} hex #{i}"),
            bytes: hex::encode(w).into_bytes(),
        });
        out.push(Needle {
            what: format!("{what} HEX #{i}"),
            bytes: hex::encode_upper(w).into_bytes(),
        });
    }
    // base64 of the whole value and of each of its three alignments.
    for shift in 0..3 {
        let enc = base64::Engine::encode(&b64, &secret[shift..]);
        out.push(Needle {
            what: format!("{what} base64+{shift}"),
            bytes: enc.as_bytes()[4..28].to_vec(),
        });
    }
}

/// Fails if `data` holds any needle (or, with `structures`, any private key shape).
pub fn scan(label: &str, data: &[u8], needles: &[Needle], structures: bool) {
    for n in needles {
        assert!(!find(data, &n.bytes), "{label} contains {}", n.what);
    }
    if structures {
        for (what, pat) in STRUCTURES {
            assert!(!find(data, pat), "{label} contains a {what}");
        }
    }
}

/// The raw bytes of a sealing key file.
pub fn sealing_key_bytes(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap()
}

/// Runs with SYMBOLON_LOG=trace, no stdin.
pub fn run_env(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args).current_dir(dir).env("SYMBOLON_LOG", "trace");
    service_env(dir, &mut cmd);
    let out = cmd.output().unwrap();
    Run::from(out)
}

/// pkilint (`lint_pkix_cert`) finds nothing at WARNING or above in `cert`
/// (a PEM file in `dir`); without pkilint it fails when peers are required.
pub fn pkilint(dir: &Path, cert: &str) {
    let out = std::process::Command::new("lint_pkix_cert")
        .args(["lint", "-s", "WARNING", cert])
        .current_dir(dir)
        .output();
    match out {
        Ok(o) => assert!(
            o.status.success(),
            "pkilint finds problems in {cert}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            if std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("pkilint (lint_pkix_cert) is required but not runnable: {e}");
            }
            eprintln!("skipping pkilint: {e}");
        }
    }
}

/// Every audit entry of a service this test started (its first 1000), read
/// as the test auditor.
pub fn audit_entries(server: &Server) -> Vec<serde_json::Value> {
    let (_, v) = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None);
    v["entries"].as_array().cloned().unwrap_or_default()
}

/// The audit entries of `kind`, oldest first.
pub fn audit_of_kind(server: &Server, kind: &str) -> Vec<serde_json::Value> {
    audit_entries(server)
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// An audit entry's detail with its committed fields opened (JSON).
pub fn opened(entry: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(entry["opened"].as_str().unwrap()).unwrap()
}

/// The detail (JSON) of the last audit entry of `kind`.
pub fn last_audit_detail(server: &Server, kind: &str) -> serde_json::Value {
    let e = audit_of_kind(server, kind)
        .pop()
        .unwrap_or_else(|| panic!("no {kind} entry"));
    opened(&e)
}

/// `openssl verify` of `cert` against the service's chain.
pub fn openssl_verify(dir: &Path, server: &Server, cert: &str) {
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&server.ca_cert)
        .arg(cert)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl verify {cert}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `key`'s evidence bundle fetched into `out` by an auditor and checked
/// offline (`evidence verify`) against the CA root (`evidence-root.pem`)
/// and the log key (`evidence-log.vkey`); returns the report.
pub fn evidence_checked(dir: &Path, server: &Server, key: &str, out: &str) -> serde_json::Value {
    let auditor = credential(dir, server, "auditor", "evidence-auditor");
    let pin = server.ca_cert.to_str().unwrap();
    let ca = ["--ca", server.url.as_str(), "--ca-cert", pin];
    let mut args = vec!["ca", "certificate", "--out", "evidence-root.pem"];
    args.extend(ca);
    ok(dir, &args);
    let mut args = vec!["log", "key"];
    args.extend(ca);
    let vkey = ok(dir, &args).text();
    std::fs::write(dir.join("evidence-log.vkey"), vkey.trim()).unwrap();
    let mut args = vec!["evidence", "export", "--credential", &auditor, "--key", key];
    args.extend(ca);
    args.extend(["--out", out]);
    ok(dir, &args);
    let report = ok(dir, &evidence_verify_args(out)).json();
    assert_eq!(report["verified"], true, "{report}");
    report["report"].clone()
}

/// `evidence verify FILE` against the files [`evidence_checked`] wrote.
pub fn evidence_verify_args(file: &str) -> Vec<&str> {
    vec![
        "--json",
        "evidence",
        "verify",
        file,
        "--root",
        "evidence-root.pem",
        "--log-key",
        "evidence-log.vkey",
    ]
}

/// A peer's stdout and stderr, together (for assertion messages).
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The peer's run succeeded; otherwise `{what} failed:` and its output.
#[track_caller]
pub fn peer_succeeded(o: &std::process::Output, what: &str) {
    assert!(o.status.success(), "{what} failed: {}", output_text(o));
}

//! Content protection end to end through the binary (sixth embodiment):
//! a purchase-signing key certified by the CA, decryption keys the owner
//! writes into users' tokens, sealed content, orders, licences, and every
//! way they must fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::*;
use symbolon::content::{ContentHeader, PurchaseOrder};
use symbolon::token::{SealingKey, SlotName, SoftToken, Token};

const CONTENT_ID: &str = "00112233445566778899aabbccddeeff";

/// A CA, a station, an owner, and the tokens `a.tok` (Alice) and `b.tok`
/// (Bob): each trusts station and owner, holds a purchase-signing key with
/// its certificate in slot `purchase`, and a decryption key in slot
/// `content` that the owner wrote in (public halves in a.pem / b.pem).
fn world(dir: &Path) {
    sym!(dir, "ca init --data ca --algorithm rsa-2048");
    local_station_vets(dir, "ca");
    sym!(dir, "ca certificate --data ca --out root.pem");
    new_issuer(dir, "st");
    sym!(dir, "content owner init --owner owner --ca-cert root.pem");
    sym!(
        dir,
        "content owner public-key --owner owner --identity --out owner.pem"
    );
    sym!(
        dir,
        "content owner public-key --owner owner --out catalogue.pem"
    );
    for (tok, name) in [("a.tok", "CN=Alice"), ("b.tok", "CN=Bob")] {
        ok(dir, &words!["token init --token", tok]);
        for issuer in ["st.pem", "owner.pem"] {
            ok(
                dir,
                &words!["token trust-issuer --token", tok, "--issuer-key", issuer],
            );
        }
        ok(
            dir,
            &words![
                "issue --ca local:ca --ca-cert root.pem --issuer st --token",
                tok,
                "--slot purchase --identity",
                name,
                "--role purchase-signing"
            ],
        );
        let out = format!("{}.pem", &tok[..1]);
        ok(
            dir,
            &words![
                "content owner provision --owner owner --token",
                tok,
                "--slot",
                "content",
                "--out",
                &out
            ],
        );
    }
}

fn serial(dir: &Path, tok: &str) -> String {
    ok(dir, &words!["token info --token", tok, "--json"]).json()["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn order(dir: &Path, tok: &str, out: &str) {
    ok(
        dir,
        &words![
            "content order --token",
            tok,
            "--slot purchase --content-id",
            CONTENT_ID,
            "--price",
            ["4.99 EUR"],
            "--licence-slot content --out",
            out
        ],
    );
}

fn license(dir: &Path, order: &str, out: &str) -> Run {
    run(
        dir,
        &words![
            "content license --owner owner --order",
            order,
            "--content",
            "film.sealed",
            "--out",
            out
        ],
    )
}

#[test]
fn purchase_licence_and_unseal_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    let film = pattern(200_000);
    std::fs::write(dir.join("film"), &film).unwrap();
    let r = ok(
        dir,
        &words![
            "--json seal --to catalogue.pem --content-id",
            CONTENT_ID,
            "film",
            "film.sealed"
        ],
    );
    assert_eq!(r.json()["bytes"], 200_000);
    assert_eq!(r.json()["chunks"], 4);
    let inspect = sym!(dir, "--json content inspect film.sealed").json();
    assert_eq!(inspect["content_id"], CONTENT_ID);

    // Without a licence the catalogue content does not open on Alice's token.
    sym_fails!(
        dir,
        "unseal --token a.tok --slot content film.sealed out",
        4,
        "--licence"
    );
    assert!(!dir.join("out").exists());

    // Alice orders, the owner licenses, Alice's token opens it.
    order(dir, "a.tok", "order.pem");
    let r = license(dir, "order.pem", "a.lic");
    assert_eq!(r.code, 0, "{}", r.stderr);
    sym!(
        dir,
        "unseal --token a.tok --slot content --licence a.lic film.sealed out"
    );
    assert_eq!(std::fs::read(dir.join("out")).unwrap(), film);
    // Through the token agent too.
    let agent = Agent::start(dir, "a.tok", "a.sock");
    ok(
        dir,
        &words![
            "unseal --agent",
            agent.socket.to_str().unwrap(),
            "--slot content --licence a.lic film.sealed out-agent"
        ],
    );
    assert_eq!(std::fs::read(dir.join("out-agent")).unwrap(), film);
    drop(agent);

    // A replayed order is refused and yields no licence.
    sym_fails!(
        dir,
        "content license --owner owner --order order.pem --content film.sealed --out again.lic",
        5,
        "licensed before"
    );
    assert!(!dir.join("again.lic").exists());

    // Alice's licence does not open the content on Bob's token.
    sym_fails!(
        dir,
        "unseal --token b.tok --slot content --licence a.lic film.sealed bob-out",
        5,
        "is for token"
    );
    assert!(!dir.join("bob-out").exists());

    // A tampered order (the price changed after signing) is refused.
    let mut o = PurchaseOrder::from_pem(&std::fs::read(dir.join("order.pem")).unwrap()).unwrap();
    o.terms.price = "0.01 EUR".parse().unwrap();
    std::fs::write(dir.join("cheap.pem"), o.to_pem()).unwrap();
    sym_fails!(
        dir,
        "content license --owner owner --order cheap.pem --content film.sealed",
        5,
        "signature does not verify"
    );

    // An order signed by a key certified for another purpose is refused.
    sym!(dir, "issue --ca local:ca --ca-cert root.pem --issuer st --token b.tok --slot mail --identity CN=Bob --role email");
    // Each command ran the CA inside itself as a station of its own: those
    // credentials were valid for a day and are revoked now it is done.
    let listed = sym!(
        dir,
        "--json admin list --ca local:ca --credential ca/admin.token"
    )
    .json();
    let own: Vec<_> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "local-station")
        .collect();
    assert!(own.len() >= 2, "{listed}");
    for c in own {
        assert_eq!(c["state"], "revoked", "{c}");
        let life = c["not_after"].as_i64().unwrap() - c["issued_at"].as_i64().unwrap();
        assert!(life <= 86_400, "{c}");
    }
    ok(
        dir,
        &words![
            "content order --token b.tok --slot mail --content-id",
            CONTENT_ID,
            "--price",
            ["1 EUR"],
            "--licence-slot content --out mail-order.pem"
        ],
    );
    sym_fails!(
        dir,
        "content license --owner owner --order mail-order.pem --content film.sealed",
        5,
        "not certified for purchase signing"
    );

    // An order signed under another CA is refused.
    sym!(dir, "ca init --data rogue --algorithm rsa-2048");
    local_station_vets(dir, "rogue");
    sym!(dir, "ca certificate --data rogue --out rogue.pem");
    sym!(dir, "token init --token m.tok");
    sym!(dir, "token trust-issuer --token m.tok --issuer-key st.pem");
    sym!(dir, "issue --ca local:rogue --ca-cert rogue.pem --issuer st --token m.tok --slot purchase --identity CN=Mallory --role purchase-signing");
    order(dir, "m.tok", "rogue-order.pem");
    sym_fails!(
        dir,
        "content license --owner owner --order rogue-order.pem --content film.sealed",
        5,
        "the signer's certificate"
    );
    // Mallory's token holds no key the owner provisioned either.
    let m = serial(dir, "m.tok");
    assert!(!dir
        .join("owner/provisioned")
        .join(format!("{m}.content.pem"))
        .exists());

    // Bob buys too; his licence opens the content on his token only.
    order(dir, "b.tok", "bob-order.pem");
    assert_eq!(license(dir, "bob-order.pem", "b.lic").code, 0);
    sym!(
        dir,
        "unseal --token b.tok --slot content --licence b.lic film.sealed bob-out"
    );
    assert_eq!(std::fs::read(dir.join("bob-out")).unwrap(), film);
    sym_fails!(
        dir,
        "unseal --token a.tok --slot content --licence b.lic film.sealed x",
        5,
        "is for token"
    );

    // The owner's ledger: every licence and refusal, chained and intact.
    let audit = sym!(
        dir,
        "--json audit verify --data owner --database sqlite://owner/owner.db"
    )
    .json();
    assert!(audit["entries"].as_i64().unwrap() >= 8, "{audit}");
}

#[test]
fn direct_sealing_round_trips_at_every_size_and_fails_on_every_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "token init --token t.tok");
    sym!(dir, "token generate --token t.tok --slot c");
    sym!(dir, "token public-key --token t.tok --slot c --out c.pem");
    sym!(dir, "token init --token other.tok");
    sym!(dir, "token generate --token other.tok --slot c");
    let chunk = 65536;
    for n in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk] {
        let p = pattern(n);
        std::fs::write(dir.join("p"), &p).unwrap();
        sym!(dir, "seal --to c.pem p s");
        sym!(dir, "unseal --token t.tok --slot c s u");
        assert_eq!(std::fs::read(dir.join("u")).unwrap(), p, "size {n}");
        // stdin to stdout as well.
        let sealed = std::fs::read(dir.join("s")).unwrap();
        let r = run_stdin(
            dir,
            &["unseal", "--token", "t.tok", "--slot", "c"],
            Some(&sealed),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, p, "size {n} via stdio");
    }
    // Content sealed to t.tok does not open on another token.
    sym_fails!(dir, "unseal --token other.tok --slot c s x", 4, "sealed to");

    // Every kind of damage: a clear error, exit 4, no output file.
    let sealed = std::fs::read(dir.join("s")).unwrap();
    for (what, data) in damaged_copies(dir, &sealed, chunk) {
        std::fs::write(dir.join("d"), &data).unwrap();
        let r = run(
            dir,
            &["unseal", "--token", "t.tok", "--slot", "c", "d", "d.out"],
        );
        refused_without_output(dir, &what, &r, "d.out");
    }
    // Bad arguments.
    sym_fails!(
        dir,
        "seal --to c.pem --chunk-size 1000 p x",
        3,
        "power of two"
    );
    sym_fails!(dir, "seal --to c.pem --content-id xyz p x", 3, "content id");
    sym_fails!(dir, "seal --to p p x", 3, "");
    assert!(!dir.join("x").exists());
}

/// A refused unseal: a clear error (exit 4, or 3 for a mangled header) and
/// neither `out` nor a partial file left behind.
fn refused_without_output(dir: &Path, what: &str, r: &Run, out: &str) {
    assert!(
        r.code == 4 || r.code == 3,
        "{what}: exit {} {}",
        r.code,
        r.stderr
    );
    assert!(r.stderr.starts_with("error: "), "{what}: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    assert!(!dir.join(out).exists(), "{what}: a partial output was left");
    let leftovers: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
}

/// Every kind of damage to `sealed` (content `p` in `dir`, sealed to
/// `c.pem` in chunks of `chunk` bytes), each named.
fn damaged_copies(dir: &Path, sealed: &[u8], chunk: usize) -> Vec<(String, Vec<u8>)> {
    let header = ContentHeader::read_from(&mut &sealed[..])
        .unwrap()
        .to_bytes()
        .len();
    let full = chunk + 16;
    let mut damaged: Vec<(String, Vec<u8>)> = Vec::new();
    for at in [
        0,
        20,
        header - 1,
        header,
        header + full / 2,
        header + full,
        sealed.len() - 1,
    ] {
        let mut d = sealed.to_vec();
        d[at] ^= 0x01;
        damaged.push((format!("flip at {at}"), d));
    }
    for cut in [header, header + full, header + 2 * full, sealed.len() - 1] {
        damaged.push((format!("cut at {cut}"), sealed[..cut].to_vec()));
    }
    let mut swapped = sealed.to_vec();
    swapped[header..header + 2 * full].rotate_left(full);
    damaged.push(("chunks 0 and 1 swapped".into(), swapped));
    let mut dup = sealed[..header + 2 * full].to_vec();
    dup.extend_from_slice(&sealed[header + full..]);
    damaged.push(("chunk 1 duplicated".into(), dup));
    // A chunk spliced from another sealing of the same plaintext to the same key.
    sym!(dir, "seal --to c.pem p s2");
    let other = std::fs::read(dir.join("s2")).unwrap();
    let mut spliced = sealed.to_vec();
    spliced[header + full..header + 2 * full]
        .copy_from_slice(&other[header + full..header + 2 * full]);
    damaged.push(("chunk 1 from another file".into(), spliced));
    damaged
}

#[test]
fn through_the_agent_files_unseal_inside_it_and_fail_the_same_way() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "token init --token t.tok");
    sym!(dir, "token generate --token t.tok --slot c");
    sym!(dir, "token public-key --token t.tok --slot c --out c.pem");
    let agent = Agent::start(dir, "t.tok", "a.sock");
    let sock = agent.socket.to_str().unwrap().to_string();
    let unseal = |args: &[&str]| {
        let mut argv = words!["unseal --agent", &sock, "--slot c"];
        argv.extend_from_slice(args);
        run(dir, &argv)
    };
    let chunk = 65536;
    for n in [0, 1, chunk, 3 * chunk + 7] {
        let p = pattern(n);
        std::fs::write(dir.join("p"), &p).unwrap();
        sym!(dir, "seal --to c.pem p s");
        // File to file: the agent reads and writes the files itself.
        let r = unseal(&["s", "u"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(std::fs::read(dir.join("u")).unwrap(), p, "size {n}");
        // Standard output a regular file: written by the agent as well.
        let out = std::fs::File::create(dir.join("u2")).unwrap();
        let status = std::process::Command::new(bin())
            .args(words!["unseal --agent", &sock, "--slot c s"])
            .current_dir(dir)
            .stdout(out)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            std::fs::read(dir.join("u2")).unwrap(),
            p,
            "size {n} to >file"
        );
        // A pipe on either side: chunks cross the socket instead.
        let sealed = std::fs::read(dir.join("s")).unwrap();
        let r = run_stdin(
            dir,
            &words!["unseal --agent", &sock, "--slot c"],
            Some(&sealed),
        );
        assert_eq!(
            (r.code, &r.stdout),
            (0, &p),
            "size {n} via stdio: {}",
            r.stderr
        );
    }
    let sealed = std::fs::read(dir.join("s")).unwrap();
    for (what, data) in damaged_copies(dir, &sealed, chunk) {
        std::fs::write(dir.join("d"), &data).unwrap();
        let r = unseal(&["d", "d.out"]);
        refused_without_output(dir, &format!("{what}, in the agent"), &r, "d.out");
    }
    // The agent served every one of them and is still up.
    let r = unseal(&["s", "u3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // No plaintext stays in the agent's memory once a file is unsealed.
    let marker = b"plaintext marker 7f3e9c1d5a0b2468 that only the file holds";
    let plain: Vec<u8> = marker.iter().copied().cycle().take(5 * chunk).collect();
    std::fs::write(dir.join("m"), &plain).unwrap();
    sym!(dir, "seal --to c.pem m ms");
    let r = unseal(&["ms", "mu"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(dir.join("mu")).unwrap(), plain);
    match memory_of(agent.child.id()) {
        Some(memory) => {
            // The scan sees the agent's memory: its socket's name is there.
            assert!(find(&memory, b"a.sock"), "the scan read nothing useful");
            assert!(
                !find(&memory, marker),
                "plaintext left in the agent's memory"
            );
        }
        None => eprintln!("note: /proc/PID/mem of the agent is not readable here; scan skipped"),
    }
    drop(agent);
}

/// The writable memory of process `pid` (root reads a non-dumpable
/// process too), or None where the system does not allow it.
fn memory_of(pid: u32) -> Option<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let (start, end) = range.split_once('-')?;
        let start = u64::from_str_radix(start, 16).ok()?;
        let end = u64::from_str_radix(end, 16).ok()?;
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut region).is_ok() {
            out.extend_from_slice(&region);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Peak resident memory of a child, polled from /proc until it exits.
fn peak_rss_kib(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn hundreds_of_mebibytes_stream_in_flat_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "token init --token t.tok");
    sym!(dir, "token generate --token t.tok --slot c");
    sym!(dir, "token public-key --token t.tok --slot c --out c.pem");
    let size: usize = 256 * 1024 * 1024 + 5;
    let block = pattern(1024 * 1024 + 7);
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("big")).unwrap());
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            f.write_all(&block[..n]).unwrap();
            left -= n;
        }
    }
    for args in [
        vec!["seal", "--to", "c.pem", "big", "big.sealed"],
        vec![
            "unseal",
            "--token",
            "t.tok",
            "--slot",
            "c",
            "big.sealed",
            "big.out",
        ],
    ] {
        let child = std::process::Command::new(bin())
            .args(&args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (status, peak) = peak_rss_kib(child);
        assert!(status.success(), "{args:?}");
        // 256 MiB went through; the process never held more than a few chunks.
        assert!(peak < 48 * 1024, "{args:?} peaked at {peak} KiB");
    }
    let (mut a, mut b) = (
        std::fs::File::open(dir.join("big")).unwrap(),
        std::fs::File::open(dir.join("big.out")).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut total = 0;
    loop {
        let n = a.read(&mut x).unwrap();
        let m = b.read_exact(&mut y[..n]);
        assert!(m.is_ok());
        assert_eq!(x[..n], y[..n], "differs near byte {total}");
        total += n;
        if n == 0 {
            break;
        }
    }
    assert_eq!(total, size);
    assert_eq!(b.read(&mut y).unwrap(), 0);
}

#[test]
fn the_content_key_appears_nowhere_but_in_the_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    std::fs::write(dir.join("film"), pattern(70_000)).unwrap();
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut record = |label: &str, r: Run| {
        assert_eq!(r.code, 0, "{label}: {}", r.stderr);
        outputs.push((format!("{label} stdout"), r.stdout));
        outputs.push((format!("{label} stderr"), r.stderr.into_bytes()));
    };
    record(
        "seal",
        run_env(
            dir,
            &words![
                "seal --to catalogue.pem --content-id",
                CONTENT_ID,
                "film",
                "film.sealed"
            ],
        ),
    );
    order(dir, "a.tok", "order.pem");
    record(
        "license",
        run_env(
            dir,
            &words!["--json content license --owner owner --order order.pem --content film.sealed --out a.lic"],
        ),
    );
    record(
        "unseal",
        run_env(
            dir,
            &words!["unseal --token a.tok --slot content --licence a.lic film.sealed out"],
        ),
    );
    record(
        "unseal to stdout",
        run_env(
            dir,
            &words!["--json unseal --token a.tok --slot content --licence a.lic film.sealed"],
        ),
    );

    // The test alone reaches into the owner's catalogue token to learn the
    // content key, then looks for it everywhere.
    let key = SealingKey::from_key_file(
        &std::fs::read(dir.join("owner/catalogue.token.sealing-key")).unwrap(),
    )
    .unwrap();
    let catalogue = SoftToken::open(
        symbolon::token::MemoryStore {
            data: std::fs::read(dir.join("owner/catalogue.token")).unwrap(),
        },
        key,
    )
    .unwrap();
    let sealed = std::fs::read(dir.join("film.sealed")).unwrap();
    let header = ContentHeader::read_from(&mut sealed.as_slice()).unwrap();
    let content_key = catalogue
        .decrypt(&SlotName::new("catalogue").unwrap(), header.wrapped_key())
        .unwrap();
    assert_eq!(content_key.len(), 32);
    let mut needles = Vec::new();
    add_encodings(&mut needles, "content key", &content_key);
    scan_everything(dir, &outputs, &needles);
}

/// Looks for `needles` in every output and in every file under `dir`.
/// Token files are sealed and sealing-key files are keys by design;
/// everything else must hold no private key shape at all.
fn scan_everything(dir: &Path, outputs: &[(String, Vec<u8>)], needles: &[Needle]) {
    for (label, data) in outputs {
        scan(label, data, needles, true);
    }
    for path in walk(dir) {
        let data = std::fs::read(&path).unwrap();
        let name = path.to_string_lossy();
        let structures = ![".tok", ".token", "sealing-key"]
            .iter()
            .any(|s| name.ends_with(s));
        scan(&path.display().to_string(), &data, needles, structures);
    }
}

fn reference(dir: &Path, args: &[&str]) -> std::process::Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/content-reference.py"
    );
    std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn an_independent_implementation_of_the_format_agrees_both_ways() {
    if !have_pyca() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../symbolon/tests/data/content"
    );
    let key = format!("{data}/recipient-TEST-ONLY.pem");
    // The checked-in vectors.
    let out = reference(dir, &["vectors", &format!("{data}/vectors.json"), &key]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // symbolon seals, the reference opens.
    let p = pattern(3 * 65536 + 99);
    std::fs::write(dir.join("p"), &p).unwrap();
    if have_openssl() {
        openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", "test.pub"]);
        sym!(dir, "seal --to test.pub p by-symbolon");
        let out = reference(dir, &["open", &key, "by-symbolon", "opened"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(dir.join("opened")).unwrap(), p);
    }

    // The reference seals to a token's key, the token opens it.
    sym!(dir, "token init --token t.tok");
    sym!(dir, "token generate --token t.tok --slot c");
    sym!(dir, "token public-key --token t.tok --slot c --out c.pem");
    let out = reference(dir, &["seal", "c.pem", "p", "by-reference", CONTENT_ID]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sym!(dir, "unseal --token t.tok --slot c by-reference u");
    assert_eq!(std::fs::read(dir.join("u")).unwrap(), p);
    let inspect = sym!(dir, "--json content inspect by-reference").json();
    assert_eq!(inspect["content_id"], CONTENT_ID);
}

/// Content sealed with HPKE (format version 2) to P-256, P-384 and X25519
/// keys: the reference implementation (pyca/cryptography's HPKE, which is
/// OpenSSL's) reads the checked-in vectors and opens what symbolon seals;
/// symbolon's token opens what the reference seals to a key made inside
/// it; another token's key of the same curve cannot open it; an Ed25519
/// key (signing only) is refused as a recipient and as an opener, with
/// nothing written.
#[test]
fn hpke_sealing_to_ec_keys_agrees_with_the_reference_and_opens_only_in_its_token() {
    if !have_pyca() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../symbolon/tests/data/content"
    );
    let p = pattern(2 * 65536 + 7);
    std::fs::write(dir.join("p"), &p).unwrap();
    sym!(dir, "token init --token t.tok");
    sym!(dir, "token init --token other.tok");
    for (curve, genpkey) in [
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
        ),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
        ),
        ("x25519", &["-algorithm", "X25519"][..]),
    ] {
        // The checked-in vectors (P-256 and X25519).
        let vectors = format!("{data}/vectors-{curve}.json");
        if Path::new(&vectors).exists() {
            let key = format!("{data}/recipient-{curve}-TEST-ONLY.pem");
            let out = reference(dir, &["vectors", &vectors, &key]);
            assert!(
                out.status.success(),
                "{curve}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // symbolon seals to an OpenSSL key, the reference opens.
        let key = format!("{curve}.key");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(genpkey);
        args.extend_from_slice(&["-out", &key]);
        openssl(dir, &args);
        openssl(
            dir,
            &words!["pkey -in", &key, "-pubout -out", &format!("{curve}.pub")],
        );
        let sealed = format!("{curve}.by-symbolon");
        ok(
            dir,
            &["seal", "--to", &format!("{curve}.pub"), "p", &sealed],
        );
        let header =
            ContentHeader::read_from(&mut std::fs::File::open(dir.join(&sealed)).unwrap()).unwrap();
        assert_eq!(header.version(), symbolon::content::VERSION_HPKE, "{curve}");
        let out = reference(dir, &["open", &key, &sealed, &format!("{curve}.opened")]);
        assert!(
            out.status.success(),
            "{curve}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(dir.join(format!("{curve}.opened"))).unwrap(),
            p
        );

        // The reference seals to a key made inside the token; the token opens.
        sym!(
            dir,
            "token generate --token t.tok --slot {curve} --algorithm {curve}"
        );
        sym!(
            dir,
            "token generate --token other.tok --slot {curve} --algorithm {curve}"
        );
        let public = format!("{curve}.token.pem");
        ok(
            dir,
            &argv_with(
                &format!("token public-key --token t.tok --slot {curve} --out"),
                &[&public],
            ),
        );
        let by_ref = format!("{curve}.by-reference");
        let out = reference(dir, &["seal", &public, "p", &by_ref, CONTENT_ID]);
        assert!(
            out.status.success(),
            "{curve}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opened = format!("{curve}.u");
        ok(
            dir,
            &argv_with(
                &format!("unseal --token t.tok --slot {curve}"),
                &[&by_ref, &opened],
            ),
        );
        assert_eq!(std::fs::read(dir.join(&opened)).unwrap(), p, "{curve}");

        // symbolon seals to the token's key too; only that token opens it.
        let to_token = format!("{curve}.to-token");
        ok(dir, &["seal", "--to", &public, "p", &to_token]);
        ok(
            dir,
            &argv_with(
                &format!("unseal --token t.tok --slot {curve}"),
                &[&to_token, "again"],
            ),
        );
        assert_eq!(std::fs::read(dir.join("again")).unwrap(), p);
        std::fs::remove_file(dir.join("again")).unwrap();
        fails(
            dir,
            &argv_with(
                &format!("unseal --token other.tok --slot {curve}"),
                &[&to_token, "stolen"],
            ),
            4,
            "sealed to",
        );
        assert!(
            !dir.join("stolen").exists(),
            "{curve}: a refused unseal left output"
        );

        // Another KEM's id over this wrapped key: refused before any
        // cryptography, naming the KEM.
        let mut bytes = std::fs::read(dir.join(&to_token)).unwrap();
        bytes[100..102].copy_from_slice(if curve == "p256" {
            &[0, 0x20]
        } else {
            &[0, 0x10]
        });
        std::fs::write(dir.join("other-kem"), &bytes).unwrap();
        sym_fails!(
            dir,
            "unseal --token t.tok --slot {curve} other-kem other-kem.out",
            3,
            "does not fit its KEM"
        );
        assert!(!dir.join("other-kem.out").exists());

        // An altered wrapped key (the KEM's encapsulated key) does not open.
        let mut bytes = std::fs::read(dir.join(&to_token)).unwrap();
        bytes[110] ^= 1;
        std::fs::write(dir.join("altered"), &bytes).unwrap();
        sym_fails!(
            dir,
            "unseal --token t.tok --slot {curve} altered altered.out",
            4,
            ""
        );
        assert!(!dir.join("altered.out").exists());
    }

    // X25519 keys do not sign; Ed25519 keys do not open, and are no recipient.
    sym_fails!(
        dir,
        "token sign --token t.tok --slot x25519 --in p",
        3,
        "X25519"
    );
    sym!(
        dir,
        "token generate --token t.tok --slot ed --algorithm ed25519"
    );
    sym!(dir, "token public-key --token t.tok --slot ed --out ed.pem");
    sym_fails!(dir, "seal --to ed.pem p to-ed", 5, "only signs");
    assert!(!dir.join("to-ed").exists());
    sym_fails!(
        dir,
        "unseal --token t.tok --slot ed p256.to-token ed.out",
        4,
        "sealed to"
    );
    assert!(!dir.join("ed.out").exists());
}

/// The HPKE path leaks nothing either: content sealed to an X25519 key
/// written into a token (the checked-in test key, taken in by `issuer
/// accept-key`) is sealed and unsealed with trace logging; the test alone
/// opens the wrapped key with the test key to learn the content key, then
/// looks for it, and for the X25519 private key, in every output and file.
#[test]
fn an_hpke_content_key_appears_nowhere_but_in_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../symbolon/tests/data/content"
    );
    let key_file = format!("{data}/recipient-x25519-TEST-ONLY.pem");
    let key = symbolon::keys::EcPrivateKey::import_pem(&std::fs::read(&key_file).unwrap()).unwrap();
    std::fs::write(dir.join("x.pub"), key.public_key().to_pem()).unwrap();
    station_trusted_by_token(dir);
    ok(
        dir,
        &words![
            "issuer accept-key --issuer st --token t.tok --slot x --key",
            &key_file
        ],
    );
    std::fs::write(dir.join("film"), pattern(70_000)).unwrap();
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    for (label, args) in [
        (
            "seal",
            &words![
                "seal --to x.pub --content-id",
                CONTENT_ID,
                "film film.sealed"
            ][..],
        ),
        (
            "unseal",
            &words!["unseal --token t.tok --slot x film.sealed out"][..],
        ),
        (
            "unseal to stdout",
            &words!["--json unseal --token t.tok --slot x film.sealed"][..],
        ),
    ] {
        let r = run_env(dir, args);
        assert_eq!(r.code, 0, "{label}: {}", r.stderr);
        outputs.push((format!("{label} stdout"), r.stdout));
        outputs.push((format!("{label} stderr"), r.stderr.into_bytes()));
    }
    assert_eq!(std::fs::read(dir.join("out")).unwrap(), pattern(70_000));

    let sealed = std::fs::read(dir.join("film.sealed")).unwrap();
    let header = ContentHeader::read_from(&mut sealed.as_slice()).unwrap();
    let mut info = b"symbolon-content v2 key".to_vec();
    info.extend_from_slice(header.content_id().as_bytes());
    let content_key = symbolon::keys::hpke::open::<symbolon::keys::KeyError>(
        key.public_key(),
        &info,
        &header.wrapped_key()[2..],
        |e| key.agree(e),
    )
    .unwrap();
    assert_eq!(content_key.len(), 32);
    let mut needles = Vec::new();
    add_encodings(&mut needles, "content key", &content_key);
    let pkcs8 = symbolon::pem::decode(&std::fs::read(&key_file).unwrap(), &["PRIVATE KEY"])
        .unwrap()
        .1;
    add_encodings(
        &mut needles,
        "X25519 private key",
        &pkcs8[pkcs8.len() - 32..],
    );
    scan_everything(dir, &outputs, &needles);
}

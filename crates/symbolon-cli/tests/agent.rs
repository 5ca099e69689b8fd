//! The token agent: concurrent clients, garbage on the socket, restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;
use symbolon::keys::{HashAlgorithm, MessageDigest, SignatureScheme};
use symbolon::token::{SlotName, Token};
use symbolon_token::agent::AgentClient;

fn raw_exchange(sock: &std::path::Path, bytes: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

#[test]
fn garbage_gets_an_error_and_the_agent_lives_on() {
    let d = dir_with_key();
    let dir = d.path();
    let before = std::fs::read(dir.join("t.tok")).unwrap();
    let agent = Agent::start(dir, "t.tok", "a.sock");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (frame(b"not json"), "agent_protocol"),
        (
            frame(br#"{"op":"export-private-key","slot":"sig"}"#),
            "agent_protocol",
        ),
        (
            frame(br#"{"op":"sign","slot":"sig","scheme":"pkcs1-sha256"}"#),
            "agent_protocol",
        ),
        (
            frame(br#"{"op":"sign","slot":"sig","scheme":"pkcs1-sha256","digest":"!!!"}"#),
            "agent_protocol",
        ),
        (
            frame(br#"{"op":"sign","slot":"sig","scheme":"pkcs1-sha256","digest":"AAAA"}"#),
            "invalid_input",
        ),
        (
            frame(br#"{"op":"sign","slot":"../x","scheme":"pkcs1-sha256","digest":"AAAA"}"#),
            "agent_protocol",
        ),
        (
            frame(br#"{"op":"generate","slot":"sig","algorithm":"rsa-2048"}"#),
            "slot_occupied",
        ),
        (
            frame(br#"{"op":"write-certificate","command":"{}"}"#),
            "invalid_input",
        ),
        (
            frame(br#"{"op":"decrypt","slot":"sig","ciphertext":"AAAA"}"#),
            "decryption_failed",
        ),
        (
            frame(br#"{"op":"close-content","session":99}"#),
            "invalid_input",
        ),
        (frame(br#"{"op":"tamper","force":true}"#), "agent_protocol"),
        (
            {
                // A chunk inline and another attached.
                let mut body =
                    br#"{"op":"open-chunk","session":1,"last":true,"chunk":"AAAA"}"#.to_vec();
                body.extend_from_slice(&[0, 1, 2, 3]);
                frame(&body)
            },
            "agent_protocol",
        ),
        (vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3], "agent_protocol"),
        (vec![0, 0, 0, 9, b'{'], ""), // truncated frame, then the peer hangs up
        (vec![0x42; 3], ""),
    ];
    for (bytes, code) in cases {
        let reply = raw_exchange(&agent.socket, &bytes);
        if !code.is_empty() {
            let text = String::from_utf8_lossy(&reply[4.min(reply.len())..]).into_owned();
            assert!(
                text.contains(&format!("\"code\":\"{code}\"")),
                "{:?} → {text}",
                String::from_utf8_lossy(&bytes)
            );
        }
        // Still alive and still right.
        sym!(dir, "token public-key --agent a.sock --slot sig");
    }
    drop(agent);
    assert_eq!(
        std::fs::read(dir.join("t.tok")).unwrap(),
        before,
        "garbage changed the token"
    );
}

#[test]
fn concurrent_clients_are_all_served() {
    let d = dir_with_key();
    let dir = d.path();
    let agent = Agent::start(dir, "t.tok", "a.sock");
    let pk =
        symbolon::keys::RsaPublicKey::from_pem_or_der(&std::fs::read(dir.join("sig.pub")).unwrap())
            .unwrap();
    let slot = SlotName::new("sig").unwrap();
    std::thread::scope(|s| {
        for i in 0..8u32 {
            let (sock, slot, pk) = (agent.socket.clone(), slot.clone(), pk.clone());
            s.spawn(move || {
                let client = AgentClient::connect(&sock).unwrap();
                for j in 0..25u32 {
                    let msg = format!("client {i} message {j}");
                    let d = MessageDigest::of(HashAlgorithm::Sha256, msg.as_bytes());
                    let scheme = if j % 2 == 0 {
                        SignatureScheme::PssSha256
                    } else {
                        SignatureScheme::Pkcs1Sha256
                    };
                    let sig = client.sign(&slot, scheme, &d).unwrap();
                    pk.verify(scheme, msg.as_bytes(), &sig).unwrap();
                }
            });
        }
        // CLI processes at the same time.
        for _ in 0..4 {
            let dir = dir.to_path_buf();
            s.spawn(move || {
                sym!(&dir, "token sign --agent a.sock --slot sig --in sig.pub");
            });
        }
    });
}

#[test]
fn one_agent_per_socket_and_stale_sockets_are_replaced() {
    let d = dir_with_key();
    let dir = d.path();
    sym!(dir, "token init --token u.tok");
    let mut agent = Agent::start(dir, "t.tok", "a.sock");
    // A second agent on the same socket is refused; on the same token, too.
    sym_fails!(
        dir,
        "token serve --token u.tok --socket a.sock",
        1,
        "already serving"
    );
    sym_fails!(
        dir,
        "token serve --token t.tok --socket b.sock",
        1,
        "in use by another process"
    );
    // SIGKILL leaves a stale socket; the next agent replaces it.
    agent.kill();
    assert!(dir.join("a.sock").exists());
    let _again = Agent::start(dir, "t.tok", "a.sock");
    sym!(dir, "token info --agent a.sock");
    // The socket is private to its owner.
    let mode = std::fs::metadata(dir.join("a.sock")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o077,
        0
    );
}

#[test]
fn sigterm_closes_the_agent_cleanly() {
    let d = dir_with_key();
    let dir = d.path();
    let mut agent = Agent::start(dir, "t.tok", "a.sock");
    let pid = rustix::process::Pid::from_raw(agent.child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = agent.child.wait().unwrap();
    assert!(status.success(), "agent exited with {status}");
    assert!(!dir.join("a.sock").exists(), "socket left behind");
    sym!(dir, "token info --token t.tok");
}

#[test]
fn refusals_through_the_agent_change_nothing() {
    if !have_openssl() {
        return;
    }
    let d = dir_with_key();
    let dir = d.path();
    certificate_for(dir, "sig.pub", "sig.crt");
    sym!(dir, "issuer init --issuer rogue");
    sym!(dir, "issuer write-certificate --issuer rogue --token t.tok --slot sig --in sig.crt --out rogue.json");
    sym!(dir, "issuer write-certificate --issuer st --token t.tok --slot sig --in sig.crt --out good.json");
    let _agent = Agent::start(dir, "t.tok", "a.sock");
    let before = std::fs::read(dir.join("t.tok")).unwrap();
    let a = ["--agent", "a.sock"];
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "token",
                "write-certificate",
                "--authorization",
                "rogue.json",
            ],
            5,
            "not trusted",
        ),
        (vec!["token", "sign", "--slot", "nope"], 3, "holds no key"),
        (
            vec!["token", "sign", "--slot", "sig", "--digest", "abcd"],
            3,
            "digest is 32 bytes",
        ),
        (
            vec![
                "token",
                "generate",
                "--slot",
                "x",
                "--algorithm",
                "rsa-1024",
            ],
            3,
            "unsupported key algorithm",
        ),
        (
            vec!["token", "trust-issuer", "--issuer-key", "sig.pub"],
            3,
            "P-256",
        ),
        (
            vec!["token", "decrypt", "--slot", "sig", "--in", "sig.pub"],
            4,
            "decryption failed",
        ),
    ];
    for (mut args, code, needle) in cases {
        args.splice(2..2, a);
        fails(dir, &args, code, needle);
    }
    assert_eq!(
        std::fs::read(dir.join("t.tok")).unwrap(),
        before,
        "a refusal changed the token"
    );
    sym!(
        dir,
        "token write-certificate --agent a.sock --authorization good.json"
    );
    sym_fails!(
        dir,
        "token write-certificate --agent a.sock --authorization good.json",
        5,
        "replayed"
    );
}

//! Crash safety: the token agent is killed with SIGKILL at random points
//! during 220 state-changing operations. After every kill the token must open
//! and hold either the state before the operation or the state after it,
//! never neither and never a mix.
//!
//! The kill delays are calibrated from how long the operation takes on this
//! machine (and re-centred as kills land), so the kills straddle the commit
//! on a fast machine and a slow one alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use rustix::process::{kill_process, Pid, Signal};
use symbolon::issuer::{IssuerIdentity, TokenTarget};
use symbolon::keys::{RsaAlgorithm, RsaPrivateKey};
use symbolon::token::{SlotName, Token};
use symbolon_token::agent::AgentClient;
use symbolon_token::file::{open_token, read_sealing_key};

const OPERATIONS: usize = 220;

#[test]
fn sigkill_during_writes_leaves_old_or_new_state() {
    let d = dir_with_key();
    let dir = d.path();
    let issuer = IssuerIdentity::open(
        &std::fs::read(dir.join("st/issuer.sealed")).unwrap(),
        &read_sealing_key(&dir.join("st/issuer.sealing-key")).unwrap(),
    )
    .unwrap();
    let pool: Vec<RsaPrivateKey> = (0..6)
        .map(|_| RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap())
        .collect();
    let token_path = dir.join("t.tok");
    let key_path = dir.join("t.tok.sealing-key");

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };

    // How long one accept-key takes here, unkilled: the median of three.
    let mut samples: Vec<Duration> = (0..3)
        .map(|c| {
            let agent = Agent::start(dir, "t.tok", "a.sock");
            let mut client = AgentClient::connect(&agent.socket).unwrap();
            let info = client.info().unwrap();
            let target = TokenTarget {
                serial: info.serial,
                sequence: info.command_sequence,
                transport_key: client.transport_key().unwrap(),
            };
            let slot = SlotName::new(&format!("calibrate{c}")).unwrap();
            let cmd = issuer.authorize_key(&target, &slot, &pool[c]).unwrap();
            let start = Instant::now();
            client.accept_key(&cmd).unwrap();
            start.elapsed()
        })
        .collect();
    samples.sort();
    // Kills fall uniformly in [0, window): twice the operation's length, so
    // about half land before the commit and half after it.
    let mut window = samples[1].as_micros().max(200) as u64 * 2;
    eprintln!(
        "crash test: accept-key takes {:?} here; kill window {window} µs",
        samples[1]
    );

    let (mut old_states, mut new_states) = (0, 0);
    for i in 0..OPERATIONS {
        // Every 20 operations, widen the window if no kill has landed after
        // the commit yet, narrow it if none has landed before: the machine
        // may be slower or faster under load than it was when calibrated.
        if i > 0 && i % 20 == 0 {
            if new_states == 0 {
                window *= 2;
            } else if old_states == 0 {
                window = (window / 2).max(100);
            }
        }
        let mut agent = Agent::start(dir, "t.tok", "a.sock");
        let client = AgentClient::connect(&agent.socket).unwrap();
        let info = client.info().unwrap();
        let target = TokenTarget {
            serial: info.serial,
            sequence: info.command_sequence,
            transport_key: client.transport_key().unwrap(),
        };
        let slot = SlotName::new(&format!("k{i}")).unwrap();
        let key = &pool[i % pool.len()];
        let cmd = issuer.authorize_key(&target, &slot, key).unwrap();

        let pid = Pid::from_raw(agent.child.id() as i32).unwrap();
        let delay = Duration::from_micros(next() % window);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = kill_process(pid, Signal::KILL);
        });
        let mut client = client;
        let _ = client.accept_key(&cmd);
        killer.join().unwrap();
        agent.kill();

        let t = open_token(&token_path, &key_path, Duration::from_secs(5)).unwrap_or_else(|e| {
            panic!("operation {i} (kill after {delay:?}): token does not open: {e}")
        });
        let after = t.info().unwrap();
        if after.command_sequence == info.command_sequence {
            assert_eq!(
                after, info,
                "operation {i}: sequence unchanged but state differs"
            );
            old_states += 1;
        } else {
            assert_eq!(
                after.command_sequence,
                info.command_sequence + 1,
                "operation {i}"
            );
            assert_eq!(after.slots.len(), info.slots.len() + 1, "operation {i}");
            assert_eq!(
                &t.public_key(&slot).unwrap(),
                key.public_key(),
                "operation {i}"
            );
            new_states += 1;
        }
        drop(t);
    }
    eprintln!(
        "{OPERATIONS} kills (final window {window} µs): {old_states} left the old state, {new_states} the new"
    );
    assert_eq!(old_states + new_states, OPERATIONS);
    assert!(
        old_states > 0 && new_states > 0,
        "kills never landed on both sides of the commit (seed {seed})"
    );
}

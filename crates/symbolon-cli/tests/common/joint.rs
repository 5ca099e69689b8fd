//! Joint-key helpers shared by the joint-key tests.

use std::path::Path;

use age::secrecy::ExposeSecret;

use super::*;

/// An age identity file for the user; returns its recipient.
pub fn age_identity(dir: &Path, name: &str) -> String {
    let id = age::x25519::Identity::generate();
    std::fs::write(
        dir.join(name),
        format!("{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    id.to_public().to_string()
}

/// A joint key with `parties` parties (issuer, others, the user) in slot
/// `j` of `u.tok`; returns the partial files in chain order (d0 first).
/// `trust` lists issuer keys the token trusts before its first key.
pub fn joint_key(dir: &Path, parties: usize, trust: &[&str]) -> Vec<String> {
    ok(dir, &["token", "init", "--token", "u.tok"]);
    for key in trust {
        ok(
            dir,
            &words!["token trust-issuer --token u.tok --issuer-key", key],
        );
    }
    let mut files = Vec::new();
    for i in 1..parties {
        let f = format!("party{i}.partial");
        ok(
            dir,
            &["joint", "new-partial", "--bits", "2048", "--out", &f],
        );
        files.push(f);
    }
    ok(
        dir,
        &words![
            "joint init --token u.tok --slot j --partial-file",
            &files[0]
        ],
    );
    for f in &files[1..] {
        ok(
            dir,
            &words!["joint contribute --token u.tok --slot j --partial-file", f],
        );
    }
    ok(
        dir,
        &words!["joint finish --token u.tok --slot j --out j.pem"],
    );
    let to = age_identity(dir, "user.agekey");
    ok(
        dir,
        &words![
            "joint output-d0 --token u.tok --slot j --to",
            &to,
            "--out d0.age"
        ],
    );
    ok(
        dir,
        &words!["joint reveal-d0 --identity user.agekey --in d0.age --out d0.partial"],
    );
    let mut chain = vec!["d0.partial".to_string()];
    chain.extend(files.into_iter().map(|f| format!("{f}.corrected")));
    chain
}

/// Chains the partial signatures over `message`'s encoding; returns the
/// last file.
pub fn chain_sign(dir: &Path, chain: &[String], message: &str) -> String {
    ok(
        dir,
        &words!["joint encode --key j.pem --in", message, "--out s.hex"],
    );
    let mut input = "s.hex".to_string();
    for (i, partial) in chain.iter().enumerate() {
        let out = format!("s{i}.hex");
        ok(
            dir,
            &words![
                "joint partial-sign --key j.pem --partial-file",
                partial,
                "--in",
                &input,
                "--out",
                &out
            ],
        );
        input = out;
    }
    input
}

/// The roster names for `parties` parties: the user first.
pub fn roster(parties: usize) -> Vec<String> {
    let mut names = vec!["alice".to_string()];
    names.extend((1..parties).map(|i| format!("party{i}")));
    names
}

/// A token's serial.
pub fn serial(dir: &Path, token: &str) -> String {
    ok(dir, &["--json", "token", "info", "--token", token]).json()["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A reissue request form into `token` slot `j`, signed by every party in turn.
pub fn signed_form(dir: &Path, chain: &[String], names: &[String], token: &str, out: &str) {
    new_form(dir, names, token, out);
    for (name, partial) in names.iter().zip(chain) {
        ok(
            dir,
            &words![
                "joint chain-sign --in",
                out,
                "--party",
                name,
                "--partial-file",
                partial
            ],
        );
    }
}

/// A new reissue request form into `token` slot `j`.
pub fn new_form(dir: &Path, names: &[String], token: &str, out: &str) {
    let serial = serial(dir, token);
    ok(
        dir,
        &words![
            "joint form-new --key j.pem --parties",
            &names.join(","),
            "--new-token",
            &serial,
            "--new-slot j --reason",
            ["card destroyed in the washing machine"],
            "--out",
            out
        ],
    );
}

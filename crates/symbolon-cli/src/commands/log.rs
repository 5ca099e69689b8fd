//! `symbolon log …`: fetch the transparency log's key, checkpoints,
//! proofs and entries, and check them offline (docs/transparency.md §7).

use std::path::Path;

use serde_json::json;
use symbolon::transparency::checkpoint::Checkpoint;
use symbolon::transparency::entry::LogEntry;
use symbolon::transparency::note::VerifierKey;
use symbolon::transparency::proof::{
    check_consistency, check_inclusion, CheckError, ConsistencyProof, InclusionProof,
};
use symbolon::Code;

use crate::cli_log::LogCommand;
use crate::error::CliError;
use crate::output::print_json;

/// Largest file the offline checks read (a checkpoint with many
/// cosignatures, a proof, an entry).
const MAX_INPUT: usize = 1024 * 1024;

pub(crate) fn run(command: LogCommand, json: bool) -> Result<(), CliError> {
    match command {
        LogCommand::Key { ca } => {
            let key = published_key(&super::ca_client(&ca)?)?;
            println!("{key}");
            Ok(())
        }
        LogCommand::Checkpoint { ca, log_key, out } => {
            let client = super::ca_client(&ca)?;
            let key = match log_key {
                Some(k) => read_key(&k)?,
                None => published_key(&client)?,
            };
            let note = text_answer(client.get_document("/v1/log/checkpoint", "text/plain")?)?;
            let (c, _, _) = Checkpoint::open(&note, &key, &[]).map_err(|e| {
                CliError::new(
                    Code::LogProofFailed,
                    format!("the CA's checkpoint does not check: {e}"),
                )
            })?;
            crate::files::write_output(out.as_deref(), note.as_bytes(), false)?;
            if out.is_some() {
                report(json, &c, "checkpoint")?;
            }
            Ok(())
        }
        LogCommand::Watch {
            ca,
            log_key,
            state,
            every,
        } => {
            let key = read_key(&log_key)?;
            let client = super::ca_client(&ca)?;
            loop {
                let (old, new) = watch_once(&client, &key, &state)?;
                if json {
                    print_json(&json!({
                        "origin": new.origin, "size": new.size,
                        "previous": old.as_ref().map(|c| c.size), "consistent": true,
                    }))?;
                } else {
                    match old {
                        Some(o) => println!(
                            "✓ log {}: {} entries, consistent with the {} seen before",
                            new.origin, new.size, o.size
                        ),
                        None => println!(
                            "✓ log {}: {} entries; kept in {} as the first checkpoint seen",
                            new.origin,
                            new.size,
                            state.display()
                        ),
                    }
                }
                let Some(secs) = every else { return Ok(()) };
                std::thread::sleep(std::time::Duration::from_secs(secs));
            }
        }
        LogCommand::InclusionProof {
            ca,
            entry,
            checkpoint,
            out,
        } => {
            let size = unverified_size(&checkpoint)?;
            let client = super::ca_client(&ca)?;
            let v = client.get(&format!(
                "/v1/log/proof/inclusion?entry={entry}&size={size}"
            ))?;
            let proof: InclusionProof = parse_answer(v)?;
            write_json(out.as_deref(), &proof)
        }
        LogCommand::ConsistencyProof { ca, old, new, out } => {
            let (old, new) = (unverified_size(&old)?, unverified_size(&new)?);
            let client = super::ca_client(&ca)?;
            let v = client.get(&format!("/v1/log/proof/consistency?old={old}&new={new}"))?;
            let proof: ConsistencyProof = parse_answer(v)?;
            write_json(out.as_deref(), &proof)
        }
        LogCommand::Entry { ca, entry, out } => {
            let client = super::ca_client(&ca)?;
            let v = client.get(&format!("/v1/log/entries/{entry}"))?;
            let e: LogEntry = parse_answer(v)?;
            write_json(out.as_deref(), &e)
        }
        LogCommand::VerifyInclusion {
            entry,
            proof,
            checkpoint,
            log_key,
        } => {
            let key = read_key(&log_key)?;
            let e: LogEntry = read_json(&entry, "entry")?;
            let p: InclusionProof = read_json(&proof, "inclusion proof")?;
            let note = read_small(&checkpoint)?;
            let c = check_inclusion(&e, &p, &note, &key).map_err(failed)?;
            if json {
                return print_json(&json!({
                    "verified": true, "entry": e.seq, "kind": e.kind,
                    "origin": c.origin, "size": c.size,
                }));
            }
            println!(
                "✓ entry {} ({}) is in log {} of {} entries",
                e.seq, e.kind, c.origin, c.size
            );
            Ok(())
        }
        LogCommand::VerifyConsistency {
            old,
            new,
            proof,
            log_key,
        } => {
            let key = read_key(&log_key)?;
            let p: ConsistencyProof = read_json(&proof, "consistency proof")?;
            let (old, new) = (read_small(&old)?, read_small(&new)?);
            let (o, n) = check_consistency(&old, &new, &p, &key).map_err(failed)?;
            if json {
                return print_json(&json!({
                    "verified": true, "origin": n.origin, "old": o.size, "new": n.size,
                }));
            }
            println!(
                "✓ log {}: the tree of {} entries extends the tree of {}",
                n.origin, n.size, o.size
            );
            Ok(())
        }
    }
}

/// One watch step: the newest checkpoint, checked against the one kept in
/// `state`, and kept in its place only when it extends it.
fn watch_once(
    client: &super::ca_client::CaClient,
    key: &VerifierKey,
    state: &Path,
) -> Result<(Option<Checkpoint>, Checkpoint), CliError> {
    let kept = if state.exists() {
        let note = read_small(state)?;
        let (c, _, _) = Checkpoint::open(&note, key, &[]).map_err(|e| {
            CliError::new(
                Code::InvalidInput,
                format!(
                    "{} does not hold a checkpoint of this log: {e}",
                    state.display()
                ),
            )
        })?;
        Some(c)
    } else {
        None
    };
    let note = text_answer(client.get_document("/v1/log/checkpoint", "text/plain")?)?;
    let (new, _, _) = Checkpoint::open(&note, key, &[]).map_err(|e| {
        CliError::new(
            Code::LogProofFailed,
            format!("the CA's checkpoint does not check: {e}"),
        )
    })?;
    let inconsistent = |m: String| CliError::new(Code::LogInconsistent, m);
    if let Some(old) = &kept {
        if new.size < old.size {
            return Err(inconsistent(format!(
                "the log went backwards: it signed {} entries before and {} now (kept: {})",
                old.size,
                new.size,
                state.display()
            )));
        }
        if new.size == old.size && new.root != old.root {
            return Err(inconsistent(format!(
                "the log signed two different heads for {} entries: it forked (kept: {})",
                new.size,
                state.display()
            )));
        }
        if new.size > old.size {
            let v = client.get(&format!(
                "/v1/log/proof/consistency?old={}&new={}",
                old.size, new.size
            ))?;
            let proof: ConsistencyProof = parse_answer(v)?;
            symbolon::transparency::merkle::verify_consistency(
                old.size,
                new.size,
                &old.root,
                &new.root,
                &proof.hashes,
            )
            .map_err(|e| {
                inconsistent(format!(
                    "the log's tree of {} entries does not extend the one of {} seen before ({e}): it was rewritten or forked (kept: {})",
                    new.size,
                    old.size,
                    state.display()
                ))
            })?;
        }
    }
    symbolon_token::file::write_atomic(state, note.as_bytes())
        .map_err(|e| CliError::new(Code::Io, e.to_string()))?;
    Ok((kept, new))
}

fn failed(e: CheckError) -> CliError {
    CliError::new(Code::LogProofFailed, e.to_string())
}

fn report(json: bool, c: &Checkpoint, what: &str) -> Result<(), CliError> {
    if json {
        return print_json(&json!({ "origin": c.origin, "size": c.size }));
    }
    eprintln!(
        "✓ {what} of log {} at {} entries, signed by the log key",
        c.origin, c.size
    );
    Ok(())
}

/// The log key the CA publishes, over the connection checked against the
/// pinned CA certificate.
fn published_key(client: &super::ca_client::CaClient) -> Result<VerifierKey, CliError> {
    let text = text_answer(client.get_document("/v1/log/key", "text/plain")?)?;
    VerifierKey::parse(&text).map_err(|e| {
        CliError::new(
            Code::BadResponse,
            format!("the CA's log key does not parse: {e}"),
        )
    })
}

/// `--log-key`: a file holding the key, or the key itself.
fn read_key(arg: &str) -> Result<VerifierKey, CliError> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        read_small(path)?
    } else {
        arg.to_owned()
    };
    VerifierKey::parse(&text).map_err(|e| CliError::new(Code::InvalidInput, e.to_string()))
}

fn read_small(path: &Path) -> Result<String, CliError> {
    let text = crate::files::read_text(path)?;
    if text.len() > MAX_INPUT {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("{} is larger than {MAX_INPUT} bytes", path.display()),
        ));
    }
    Ok(text)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, CliError> {
    serde_json::from_str(&read_small(path)?).map_err(|e| {
        CliError::new(
            Code::InvalidInput,
            format!("{} is not a log {what}: {e}", path.display()),
        )
    })
}

/// The size a checkpoint file states, to ask the CA for a proof against
/// it; the proof is checked against the signed checkpoint later, offline.
fn unverified_size(path: &Path) -> Result<u64, CliError> {
    let text = read_small(path)?;
    let note = symbolon::transparency::note::Note::parse(&text)
        .map_err(|e| CliError::new(Code::InvalidInput, format!("{}: {e}", path.display())))?;
    Checkpoint::parse_body(note.text())
        .map(|c| c.size)
        .map_err(|e| CliError::new(Code::InvalidInput, format!("{}: {e}", path.display())))
}

fn text_answer(bytes: Vec<u8>) -> Result<String, CliError> {
    String::from_utf8(bytes)
        .map_err(|_| CliError::new(Code::BadResponse, "the CA's answer is not UTF-8 text"))
}

fn parse_answer<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, CliError> {
    serde_json::from_value(v)
        .map_err(|e| CliError::new(Code::BadResponse, format!("the CA's answer: {e}")))
}

fn write_json(out: Option<&Path>, value: &impl serde::Serialize) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(Code::Internal, format!("cannot encode: {e}")))?;
    text.push('\n');
    crate::files::write_output(out, text.as_bytes(), false)
}

//! `symbolon log …`: fetch the transparency log's key, checkpoints,
//! proofs and entries, and check them offline (docs/transparency.md §7).

use std::path::Path;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;
use symbolon::keys::{EcCurve, EcSigningInput, PublicKey};
use symbolon::token::SlotName;
use symbolon::transparency::checkpoint::Checkpoint;
use symbolon::transparency::entry::LogEntry;
use symbolon::transparency::note::{NoteError, VerifierKey};
use symbolon::transparency::proof::{
    check_consistency, check_inclusion, CheckError, ConsistencyProof, InclusionProof,
};
use symbolon::Code;

use crate::cli::{
    CaArgs, LogCheckpointArgs, LogCommand, LogConsistencyProofArgs, LogEntryArgs,
    LogInclusionProofArgs, LogKeyArgs, LogVerifyConsistencyArgs, LogVerifyInclusionArgs,
    LogWatchArgs, LogWitnessAddArgs, LogWitnessArgs, LogWitnessKeyArgs, LogWitnessRemoveArgs,
};
use crate::error::CliError;
use crate::output::print_json;

/// Largest file the offline checks read (a checkpoint with many
/// cosignatures, a proof, an entry).
const MAX_INPUT: usize = 1024 * 1024;

pub(crate) fn run(command: LogCommand, json: bool) -> Result<(), CliError> {
    match command {
        LogCommand::Key(args) => key(args),
        LogCommand::Checkpoint(args) => checkpoint(args, json),
        LogCommand::Watch(args) => watch(args, json),
        LogCommand::WitnessKey(args) => witness_key_command(args),
        LogCommand::WitnessAdd(args) => witness_add(args, json),
        LogCommand::WitnessRemove(args) => witness_remove(args, json),
        LogCommand::Witness(args) => witness(args, json),
        LogCommand::InclusionProof(args) => inclusion_proof(args),
        LogCommand::ConsistencyProof(args) => consistency_proof(args),
        LogCommand::Entry(args) => entry(args),
        LogCommand::VerifyInclusion(args) => verify_inclusion(args, json),
        LogCommand::VerifyConsistency(args) => verify_consistency(args, json),
    }
}

/// One watch step: the newest checkpoint, checked against the one kept in
/// `state`, and (with `keep`) kept in its place only when it extends it.
/// Returns the kept one, the new one and the new one's note as signed by
/// the log (without cosignatures).
fn watch_once(
    client: &super::ca_client::CaClient,
    key: &VerifierKey,
    state: &Path,
    keep: bool,
) -> Result<(Option<Checkpoint>, Checkpoint, String), CliError> {
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
    // What is kept is the log's note alone: other parties' lines are theirs.
    let note = format!("{}\n{}", new.body(), log_line(&note, key)?);
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
    if keep {
        symbolon_token::file::write_atomic(state, note.as_bytes())
            .map_err(|e| CliError::new(Code::Io, e.to_string()))?;
    }
    Ok((kept, new, note))
}

/// The log key's own signature line of a note (which verified).
fn log_line(note: &str, key: &VerifierKey) -> Result<String, CliError> {
    let parsed = symbolon::transparency::note::Note::parse(note)
        .map_err(|e| CliError::new(Code::LogProofFailed, e.to_string()))?;
    parsed
        .signatures()
        .iter()
        .find(|s| s.name == key.name() && s.id == key.id())
        .map(|s| key.signature_line(&s.signature))
        .ok_or_else(|| CliError::new(Code::LogProofFailed, "the log key's line is missing"))
}

/// The witness's cosignature key for the Ed25519 key in `slot`.
fn witness_key(
    token: &(dyn symbolon::token::Token + Send + Sync),
    slot: &SlotName,
    name: &str,
) -> Result<VerifierKey, CliError> {
    let public = match token.slot_public_key(slot)? {
        PublicKey::Ec(k) if k.curve() == EcCurve::Ed25519 => k,
        other => {
            return Err(CliError::new(
                Code::InvalidInput,
                format!(
                    "slot {slot} holds a {} key; a witness signs with Ed25519 (`symbolon token generate --algorithm ed25519`)",
                    other.kind()
                ),
            ))
        }
    };
    VerifierKey::cosigner(name, public)
        .map_err(|e| CliError::new(Code::InvalidInput, e.to_string()))
}

fn slot_name(s: &str) -> Result<SlotName, CliError> {
    SlotName::new(s).map_err(CliError::from)
}

/// `--witness`/`--key`: a cosignature key, or a file holding one.
fn read_witness_key(arg: &str) -> Result<VerifierKey, CliError> {
    let key = read_key(arg)?;
    if key.kind() != symbolon::transparency::note::KeyKind::Cosignature {
        return Err(CliError::new(
            Code::InvalidInput,
            format!(
                "{} is not a witness's cosignature key (type 0x04); `symbolon log witness-key` prints one",
                key.name()
            ),
        ));
    }
    Ok(key)
}

/// A file that is not a checkpoint at all is invalid input (exit 3); one
/// that does not verify is a failed check (exit 4).
fn failed(e: CheckError) -> CliError {
    let code = match &e {
        CheckError::Checkpoint {
            source: NoteError::Malformed(_) | NoteError::BadKey(_),
            ..
        } => Code::InvalidInput,
        _ => Code::LogProofFailed,
    };
    CliError::new(code, e.to_string())
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
pub(super) fn read_key(arg: &str) -> Result<VerifierKey, CliError> {
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

pub(super) fn parse_answer<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, CliError> {
    serde_json::from_value(v)
        .map_err(|e| CliError::new(Code::BadResponse, format!("the CA's answer: {e}")))
}

pub(super) fn write_json(
    out: Option<&Path>,
    value: &impl serde::Serialize,
) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(Code::Internal, format!("cannot encode: {e}")))?;
    text.push('\n');
    crate::files::write_output(out, text.as_bytes(), false)
}

fn key(LogKeyArgs { ca }: LogKeyArgs) -> Result<(), CliError> {
    let key = published_key(&super::ca_client(&ca)?)?;
    println!("{key}");
    Ok(())
}

fn checkpoint(
    LogCheckpointArgs {
        ca,
        log_key,
        witnesses,
        require,
        out,
    }: LogCheckpointArgs,
    json: bool,
) -> Result<(), CliError> {
    let client = super::ca_client(&ca)?;
    let key = match log_key {
        Some(k) => read_key(&k)?,
        None => published_key(&client)?,
    };
    let witnesses = witnesses
        .iter()
        .map(|w| read_witness_key(w))
        .collect::<Result<Vec<_>, _>>()?;
    let need = require.unwrap_or(witnesses.len() as u32);
    if need as usize > witnesses.len() {
        return Err(CliError::new(
            Code::InvalidInput,
            format!(
                "--require {need} but only {} --witness keys",
                witnesses.len()
            ),
        ));
    }
    let path = if witnesses.is_empty() {
        "/v1/log/checkpoint".to_owned()
    } else {
        let names: Vec<String> = witnesses
            .iter()
            .map(|w| utf8_percent_encode(w.name(), NON_ALPHANUMERIC).to_string())
            .collect();
        format!("/v1/log/checkpoint?witnesses={need}&by={}", names.join(","))
    };
    let note = text_answer(client.get_document(&path, "text/plain")?)?;
    let (c, _, signers) = Checkpoint::open(&note, &key, &witnesses).map_err(|e| {
        CliError::new(
            Code::LogProofFailed,
            format!("the CA's checkpoint does not check: {e}"),
        )
    })?;
    // Witnesses are counted by key: one key under two names is
    // one witness.
    let distinct: std::collections::BTreeSet<&[u8]> =
        signers.iter().map(|k| k.public_key().point()).collect();
    if (distinct.len() as u32) < need {
        return Err(CliError::new(
                    Code::LogProofFailed,
                    format!(
                        "the checkpoint of {} entries carries valid cosignatures of {} of your witnesses' keys; you require {need}",
                        c.size,
                        distinct.len()
                    ),
                ));
    }
    crate::files::write_output(out.as_deref(), note.as_bytes(), false)?;
    if out.is_some() {
        report(json, &c, "checkpoint")?;
    }
    Ok(())
}

fn witness_key_command(
    LogWitnessKeyArgs { token, slot, name }: LogWitnessKeyArgs,
) -> Result<(), CliError> {
    let token = super::open_token(&token)?;
    let key = witness_key(token.as_ref(), &slot_name(&slot.slot)?, &name)?;
    println!("{key}");
    Ok(())
}

fn witness_add(
    LogWitnessAddArgs { ca, key }: LogWitnessAddArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = read_witness_key(&key)?;
    let client = super::ca_client(&ca)?;
    let v = client.post("/v1/log/witnesses", &json!({ "key": key.to_string() }))?;
    if json {
        return print_json(&v);
    }
    println!("✓ witness {} registered", key.name());
    Ok(())
}

fn witness_remove(
    LogWitnessRemoveArgs { ca, name }: LogWitnessRemoveArgs,
    json: bool,
) -> Result<(), CliError> {
    let client = super::ca_client(&ca)?;
    let path = format!(
        "/v1/log/witnesses/{}/remove",
        utf8_percent_encode(&name, NON_ALPHANUMERIC)
    );
    let v = client.post(&path, &json!({}))?;
    if json {
        return print_json(&v);
    }
    println!("✓ witness {name} removed");
    Ok(())
}

fn witness(
    LogWitnessArgs {
        ca,
        log_key,
        token,
        slot,
        name,
        state,
        every,
    }: LogWitnessArgs,
    json: bool,
) -> Result<(), CliError> {
    let log_key = read_key(&log_key)?;
    let token = super::open_token(&token)?;
    let slot = slot_name(&slot.slot)?;
    let me = witness_key(token.as_ref(), &slot, &name)?;
    repeatable(&ca, every)?;
    let client = super::ca_client(&ca)?;
    loop {
        let (old, new, note) = watch_once(&client, &log_key, &state, false)?;
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let body = new.body();
        let message = symbolon::transparency::note::cosignature_message(&body, time);
        let signature = token.sign_ec(&slot, EcSigningInput::Message(message.as_bytes()))?;
        let line = me.cosignature_line(time, &signature);
        client.post(
            "/v1/log/cosignatures",
            &json!({ "size": new.size, "signature": line }),
        )?;
        // Kept only once the CA took it: the next run starts here.
        symbolon_token::file::write_atomic(&state, note.as_bytes())
            .map_err(|e| CliError::new(Code::Io, e.to_string()))?;
        if json {
            print_json(&json!({
                "origin": new.origin, "size": new.size,
                "previous": old.as_ref().map(|c| c.size), "cosigned": true,
            }))?;
        } else {
            println!(
                "✓ cosigned log {} at {} entries as {}",
                new.origin,
                new.size,
                me.name()
            );
        }
        let Some(secs) = every else { return Ok(()) };
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
}

fn watch(
    LogWatchArgs {
        ca,
        log_key,
        state,
        every,
    }: LogWatchArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = read_key(&log_key)?;
    repeatable(&ca, every)?;
    let client = super::ca_client(&ca)?;
    loop {
        let (old, new, _) = watch_once(&client, &key, &state, true)?;
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

fn inclusion_proof(
    LogInclusionProofArgs {
        ca,
        entry,
        checkpoint,
        out,
    }: LogInclusionProofArgs,
) -> Result<(), CliError> {
    let size = unverified_size(&checkpoint)?;
    let client = super::ca_client(&ca)?;
    let v = client.get(&format!(
        "/v1/log/proof/inclusion?entry={entry}&size={size}"
    ))?;
    let proof: InclusionProof = parse_answer(v)?;
    write_json(out.as_deref(), &proof)
}

fn consistency_proof(
    LogConsistencyProofArgs { ca, old, new, out }: LogConsistencyProofArgs,
) -> Result<(), CliError> {
    let (old, new) = (unverified_size(&old)?, unverified_size(&new)?);
    let client = super::ca_client(&ca)?;
    let v = client.get(&format!("/v1/log/proof/consistency?old={old}&new={new}"))?;
    let proof: ConsistencyProof = parse_answer(v)?;
    write_json(out.as_deref(), &proof)
}

fn entry(LogEntryArgs { ca, entry, out }: LogEntryArgs) -> Result<(), CliError> {
    let client = super::ca_client(&ca)?;
    let v = client.get(&format!("/v1/log/entries/{entry}"))?;
    let e: LogEntry = parse_answer(v)?;
    write_json(out.as_deref(), &e)
}

fn verify_inclusion(
    LogVerifyInclusionArgs {
        entry,
        proof,
        checkpoint,
        log_key,
    }: LogVerifyInclusionArgs,
    json: bool,
) -> Result<(), CliError> {
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

fn verify_consistency(
    LogVerifyConsistencyArgs {
        old,
        new,
        proof,
        log_key,
    }: LogVerifyConsistencyArgs,
    json: bool,
) -> Result<(), CliError> {
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

/// `--every` keeps one client for as long as the command runs; a CA run
/// inside the command (`--ca local:DIR`) is certified for a day only, so
/// a watch that repeats needs a running service.
fn repeatable(ca: &CaArgs, every: Option<u64>) -> Result<(), CliError> {
    if every.is_some() && super::local_dir(&ca.ca).is_some() {
        return Err(CliError::new(
            Code::Usage,
            "--every needs a running service (`symbolon serve`): --ca local:DIR runs the CA only for one command",
        ));
    }
    Ok(())
}

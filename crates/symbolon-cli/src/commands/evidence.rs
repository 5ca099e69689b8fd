//! `symbolon evidence`: fetch a key's evidence bundle, and check one
//! offline (docs/transparency.md §10).

use std::path::Path;

use serde_json::json;
use symbolon::evidence::{EvidenceBundle, EvidenceReport};
use symbolon::keys::Fingerprint;
use symbolon::Code;

use super::log::{parse_answer, read_key, write_json};
use crate::cli::{EvidenceCommand, EvidenceExportArgs, EvidenceVerifyArgs};
use crate::error::CliError;
use crate::output::print_json;

/// The largest bundle read (a key's history is kilobytes; a bundle of
/// [`symbolon::evidence::bundle::MAX_ENTRIES`] entries stays under this).
const MAX_BUNDLE: u64 = 64 * 1024 * 1024;

pub(crate) fn run(command: EvidenceCommand, json: bool) -> Result<(), CliError> {
    match command {
        EvidenceCommand::Export(args) => export(args),
        EvidenceCommand::Verify(args) => verify_bundle(args, json),
    }
}

fn read_bundle(path: &Path) -> Result<EvidenceBundle, CliError> {
    let data = crate::files::read_bounded(Some(path), MAX_BUNDLE)?;
    serde_json::from_slice(&data).map_err(|e| {
        CliError::new(
            Code::InvalidInput,
            format!("{} is not an evidence bundle: {e}", path.display()),
        )
    })
}

/// The root certificate's DER, from PEM or DER.
fn read_root(path: &Path) -> Result<Vec<u8>, CliError> {
    let data = crate::files::read_input(Some(path))?;
    if symbolon::pem::is_pem(&data) {
        let (_, der) = symbolon::pem::decode(&data, &["CERTIFICATE"])
            .map_err(|e| CliError::new(Code::InvalidInput, format!("{}: {e}", path.display())))?;
        return Ok(der);
    }
    Ok(data)
}

fn print_report(r: &EvidenceReport) {
    println!(
        "✓ key {}: {} log entries proven in log {} of {} entries",
        r.key, r.entries, r.origin, r.size
    );
    for c in &r.certificates {
        println!("  certificate {} ({}): {}", c.serial, c.subject, c.status);
    }
    for t in &r.attested_by {
        println!("  generated inside token {t} (attested)");
    }
    for (by, at) in &r.vetted {
        let when = crate::output::utc(u64::try_from(*at).unwrap_or(0)).unwrap_or_default();
        println!("  subscriber vetted by {by} at {when}");
    }
    for (id, policy) in &r.escrows {
        println!("  escrow {id} under {policy}");
    }
    for rec in &r.recoveries {
        println!(
            "  recovery {}: approved by {}{}",
            rec.id,
            if rec.approved_by.is_empty() {
                "no one".to_string()
            } else {
                rec.approved_by.join(", ")
            },
            if rec.completed {
                "; completed"
            } else {
                "; not completed"
            }
        );
    }
    for (id, purpose, state) in &r.joint_chains {
        println!("  joint-key chain {id} ({purpose}): {state}");
    }
}

fn export(EvidenceExportArgs { ca, key, out }: EvidenceExportArgs) -> Result<(), CliError> {
    let fp: Fingerprint = key
        .parse()
        .map_err(|e: symbolon::keys::KeyError| CliError::new(Code::InvalidInput, e.to_string()))?;
    let client = super::ca_client(&ca)?;
    let v = client.get(&format!("/v1/keys/{fp}/evidence"))?;
    let bundle: EvidenceBundle = parse_answer(v)?;
    write_json(out.as_deref(), &bundle)
}

fn verify_bundle(
    EvidenceVerifyArgs {
        file,
        root,
        log_key,
    }: EvidenceVerifyArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = read_key(&log_key)?;
    let root = read_root(&root)?;
    let bundle = read_bundle(&file)?;
    let report = symbolon::evidence::verify(&bundle, &root, &key)
        .map_err(|e| CliError::new(Code::EvidenceFailed, e.to_string()))?;
    if json {
        return print_json(&json!({ "verified": true, "report": report }));
    }
    print_report(&report);
    Ok(())
}

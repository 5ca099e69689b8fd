//! `symbolon keys check`: the CA's weak-key checks on a public key, offline
//! (docs/weak-keys.md), for operators and for comparing with other tools.

use serde_json::json;
use symbolon::keys::shared_primes::{batch_gcd, common_factor_bits};
use symbolon::keys::weak::{check_public_key, Effort, WeakKey};
use symbolon::keys::{KeyError, RsaPublicKey};
use symbolon::pem;
use symbolon::x509::{certificate_key, parse_certificate};
use symbolon::Code;
use symbolon_store::SharedKey;

use crate::cli::{KeysCheckArgs, KeysCommand};
use crate::error::CliError;
use crate::files::read_input;
use crate::output::print_json;

/// An RSA public key from PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`)
/// or DER (SPKI or PKCS#1). A well-formed key outside the key policy (an
/// exponent aws-lc cannot hold) is a weak key, not an input error.
fn read_key(data: &[u8]) -> Result<Result<RsaPublicKey, WeakKey>, CliError> {
    let invalid = |e: String| CliError::new(Code::InvalidInput, e);
    let der = if pem::is_pem(data) {
        let (label, der) = pem::decode(data, &["PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE"])
            .map_err(|e| invalid(e.to_string()))?;
        if label == "CERTIFICATE" {
            let cert = parse_certificate(&der).map_err(|e| invalid(e.to_string()))?;
            return match certificate_key(&cert) {
                Ok(k) => Ok(Ok(k)),
                Err(symbolon::x509::X509Error::Key(KeyError::Weak(w))) => Ok(Err(w)),
                Err(e) => Err(invalid(e.to_string())),
            };
        }
        der
    } else {
        data.to_vec()
    };
    match RsaPublicKey::from_der(&der) {
        Ok(k) => Ok(Ok(k)),
        Err(KeyError::Weak(w)) => Ok(Err(w)),
        Err(e) => Err(invalid(e.to_string())),
    }
}

pub(crate) fn run(cmd: KeysCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Check(args) => check(args, json),
        KeysCommand::Scan(args) => scan(&args, json),
    }
}

/// `keys scan`: Bernstein's batch gcd over every modulus the registry has
/// seen; each pair found is reported, and recorded (flagged, audited) the
/// first time.
fn scan(args: &crate::cli::DataArgs, json: bool) -> Result<(), CliError> {
    super::runtime()?.block_on(async {
        let registry = super::audit::open_existing(args).await?;
        registry.record_unrecorded_moduli().await?;
        let rows = registry.moduli_since(0).await?;
        let moduli: Vec<Vec<u8>> = rows.iter().map(|r| r.modulus.clone()).collect();
        let bar = if json || rows.len() < 1000 {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(1000).with_message("batch gcd")
        };
        let started = std::time::Instant::now();
        let findings = tokio::task::spawn_blocking(move || {
            let found = batch_gcd(&moduli, |f| bar.set_position((f * 1000.0) as u64));
            bar.finish_and_clear();
            found
        })
        .await
        .map_err(|e| CliError::new(Code::Internal, format!("scan: {e}")))?;
        let elapsed = started.elapsed();
        let mut report = Vec::new();
        for f in &findings {
            let row = &rows[f.index];
            let others: Vec<SharedKey> = f
                .shares_with
                .iter()
                .map(|&j| SharedKey {
                    key: rows[j].key,
                    factor_bits: common_factor_bits(&row.modulus, &rows[j].modulus).unwrap_or(0),
                })
                .collect();
            let new = row.shared_with.is_none();
            if new {
                registry
                    .see_modulus(row.key, &row.modulus, "scan", i64::MAX, others.clone())
                    .await?;
            }
            report.push(json!({
                "key": row.key,
                "origin": row.origin,
                "new": new,
                "shares_with": others.iter().map(|s| json!({ "key": s.key, "factor_bits": s.factor_bits })).collect::<Vec<_>>(),
            }));
        }
        registry.close().await;
        if json {
            print_json(&json!({
                "moduli": rows.len(),
                "seconds": elapsed.as_secs_f64(),
                "findings": report,
            }))?;
        } else {
            println!(
                "{} moduli scanned in {:.1} s: {} share a prime with another",
                rows.len(),
                elapsed.as_secs_f64(),
                report.len()
            );
            for r in &report {
                println!(
                    "  {} ({}{}) shares a prime with {}",
                    r["key"].as_str().unwrap_or_default(),
                    r["origin"].as_str().unwrap_or_default(),
                    if r["new"] == true { ", newly found" } else { "" },
                    r["shares_with"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s["key"].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        if report.is_empty() {
            Ok(())
        } else {
            Err(CliError::new(
                Code::WeakKey,
                format!("{} keys share a prime with another key", report.len()),
            ))
        }
    })
}

fn check(KeysCheckArgs { input, deep }: KeysCheckArgs, json: bool) -> Result<(), CliError> {
    let effort = if deep { Effort::Deep } else { Effort::Standard };
    let key = read_key(&read_input(input.as_deref())?)?;
    let fingerprint = key.as_ref().ok().map(|k| k.fingerprint().to_string());
    let bits = key.as_ref().ok().map(RsaPublicKey::bits);
    let verdict = key.and_then(|k| check_public_key(&k, effort));
    if json {
        print_json(&json!({
            "key": fingerprint,
            "bits": bits,
            "effort": effort.as_str(),
            "weak": verdict.is_err(),
            "class": verdict.as_ref().err().map(|w| w.class.as_str()),
            "detail": verdict.as_ref().err().map(|w| w.detail.clone()),
        }))?;
    }
    match verdict {
        Ok(()) => {
            if !json {
                println!(
                    "{}: passes every weak-key check ({} effort)",
                    fingerprint.unwrap_or_default(),
                    effort.as_str()
                );
            }
            Ok(())
        }
        Err(w) => Err(CliError::new(Code::WeakKey, w.to_string())),
    }
}

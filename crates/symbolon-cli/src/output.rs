//! Printing results: text for people, JSON for scripts.

use serde::Serialize;
use symbolon::Code;

use crate::error::CliError;

/// Prints a JSON value on stdout.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(Code::Internal, format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Prints an error on stderr: `error: …` and `hint: …`, or a JSON error body.
pub(crate) fn print_error(e: &CliError, json: bool) {
    if json {
        let body = serde_json::json!({ "error": { "code": e.code, "message": e.message, "hint": e.hint } });
        eprintln!("{body}");
    } else {
        eprintln!("error: {}", e.message);
        if let Some(h) = &e.hint {
            eprintln!("hint: {h}");
        }
    }
}

/// A Unix time as UTC (`2026-12-31T23:59:59Z`), if it is one.
pub(crate) fn utc(secs: u64) -> Option<String> {
    der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .ok()
        .map(|d| d.to_string())
}

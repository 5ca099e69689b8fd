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

//! One module per noun; each verb opens what it needs, calls the library and
//! prints.

mod attestation;
mod audit;
mod issuer;
mod serve;
mod token;

use symbolon::token::Token;
use symbolon_token::open::TokenSpec;

use crate::cli::{Cli, Noun, TokenArgs};
use crate::error::CliError;

pub(crate) fn run(cli: Cli) -> Result<(), CliError> {
    let json = cli.json;
    match cli.command {
        Noun::Token(c) => token::run(c, json),
        Noun::Attestation(c) => attestation::run(c, json),
        Noun::Issuer(c) => issuer::run(c, json),
        Noun::Audit(c) => audit::run(c, json),
    }
}

/// Opens the token the common flags name.
pub(crate) fn open_token(args: &TokenArgs) -> Result<Box<dyn Token + Send + Sync>, CliError> {
    let spec = match (&args.agent, &args.token) {
        (Some(sock), _) => TokenSpec::Agent(sock.clone()),
        (None, Some(t)) => TokenSpec::parse(t, args.sealing_key.as_deref())?,
        (None, None) => {
            return Err(CliError::new("invalid_input", "no token given")
                .hint("pass --token FILE or --agent SOCKET"));
        }
    };
    Ok(spec.open()?)
}

/// Parses a hex argument.
pub(crate) fn parse_hex(what: &str, s: &str) -> Result<Vec<u8>, CliError> {
    hex::decode(s.trim())
        .map_err(|e| CliError::new("invalid_input", format!("{what} is not valid hex: {e}")))
}

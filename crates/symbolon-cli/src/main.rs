//! `symbolon`: the command-line front end. Parses arguments, opens tokens and
//! issuer identities, calls the library, prints text or `--json`, and turns
//! every error into a message, a hint and a meaningful exit code.

mod cli;
mod cli_revocation;
mod commands;
mod error;
mod files;
mod output;
mod write_behind;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYMBOLON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

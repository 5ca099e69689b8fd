//! `symbolon`: the command-line front end. Parses arguments, opens tokens and
//! issuer identities, calls the library, prints text or `--json`, and turns
//! every error into a message, a hint and a meaningful exit code.

mod cli;
mod commands;
mod error;
mod files;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// A reader that went away (`symbolon … | head`) is no failure of ours:
/// the output it did not want is dropped and the process ends quietly with
/// the status of a process ended by SIGPIPE (128 + 13), instead of the
/// standard library's panic on a failed `println!`.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// A command line clap refused: help and version as clap prints them; a
/// usage error as clap prints it, or, when the line asked for `--json`, as
/// the JSON error body every other failure has. Exit 2 either way.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let wants_json = std::env::args_os().any(|a| a == "--json");
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) || !wants_json {
        e.exit();
    }
    let message = e.render().to_string();
    let message = message.trim().trim_start_matches("error: ");
    let err = error::CliError::new(symbolon::Code::Usage, message)
        .hint("see `symbolon --help` and the verb's `--help`");
    output::print_error(&err, true);
    ExitCode::from(err.exit_code())
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYMBOLON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a file or pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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

//! One module per noun; each verb opens what it needs, calls the library and
//! prints.

mod admin;
mod arbitrator;
mod attestation;
mod audit;
mod backup;
mod ca;
mod ca_client;
mod content;
mod content_owner;
mod evidence;
mod issue;
mod issuer;
mod joint;
mod joint_protocol;
mod keys;
mod log;
mod ra;
mod recovery;
mod renew;
mod revocation;
mod serve_ca;
mod token;
mod token_agent;

use symbolon::token::Token;
use symbolon::Code;
use symbolon_token::open::TokenSpec;

use crate::cli::{CaArgs, Cli, Noun, TokenArgs};
use crate::error::CliError;

pub(crate) fn run(cli: Cli) -> Result<(), CliError> {
    let json = cli.json;
    ca_client::set_credential(cli.credential);
    match cli.command {
        Noun::Token(c) => token::run(c, json),
        Noun::Attestation(c) => attestation::run(c, json),
        Noun::Issuer(c) => issuer::run(c, json),
        Noun::Audit(c) => audit::run(c, json),
        Noun::Ca(c) => ca::run(c, json),
        Noun::Serve(a) => serve_ca::run(
            &a.data,
            &a.listen,
            a.ca_token.as_deref(),
            a.weak_key_effort,
            &a.edge,
            &a.acme,
        ),
        Noun::Admin(c) => admin::run(c, json),
        Noun::Enroll(args) => admin::enroll(&args, json),
        Noun::Ra(c) => ra::run(c, json),
        Noun::Keys(c) => keys::run(c, json),
        Noun::Issue(args) => issue::run(&args, json),
        Noun::Seal(args) => content::seal(&args, json),
        Noun::Unseal(args) => content::unseal(&args, json),
        Noun::Content(c) => content::run(c, json),
        Noun::Arbitrator(c) => arbitrator::run(c, json),
        Noun::Policy(c) => arbitrator::policy(c, json),
        Noun::Recovery(c) => recovery::run(c, json),
        Noun::Joint(c) => joint::run(c, json),
        Noun::Revoke(args) => revocation::revoke(&args, json),
        Noun::Renew(args) => renew::run(&args, json),
        Noun::Certificates(c) => revocation::certificates(c, json),
        Noun::Crl(c) => revocation::crl(c, json),
        Noun::Log(c) => log::run(c, json),
        Noun::Evidence(c) => evidence::run(c, json),
    }
}

/// Opens the token the common flags name.
pub(crate) fn open_token(args: &TokenArgs) -> Result<Box<dyn Token + Send + Sync>, CliError> {
    Ok(token_spec(args)?.open()?)
}

/// Where the common flags say the token is.
pub(crate) fn token_spec(args: &TokenArgs) -> Result<TokenSpec, CliError> {
    Ok(match (&args.agent, &args.token) {
        (Some(sock), _) => TokenSpec::Agent(sock.clone()),
        (None, Some(t)) => TokenSpec::parse(t, args.sealing_key.as_deref())?,
        (None, None) => {
            return Err(CliError::new(Code::InvalidInput, "no token given")
                .hint("pass --token FILE or --agent SOCKET"));
        }
    })
}

/// The CA client for `--ca URL --ca-cert ROOT`.
pub(crate) fn ca_client(ca: &CaArgs) -> Result<ca_client::CaClient, CliError> {
    connect(&ca.ca, ca.ca_cert.as_deref())
}

/// The data directory `--ca local:DIR` names (a CA this command runs
/// inside itself), or None for a service URL.
pub(crate) fn local_dir(ca: &str) -> Option<&std::path::Path> {
    ca.strip_prefix("local:").map(std::path::Path::new)
}

/// The CA client for `URL` with `ca_cert` pinned, or for `local:DIR` (the
/// CA of a data directory, run inside this process, reached as a station
/// of its own).
pub(crate) fn connect(
    ca: &str,
    ca_cert: Option<&std::path::Path>,
) -> Result<ca_client::CaClient, CliError> {
    match local_dir(ca) {
        Some(dir) => serve_ca::in_process(dir, ca_client::credential()?),
        None => ca_client::CaClient::connect(ca, ca_cert),
    }
}

/// A runtime for the commands that talk to a database.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Code::Io, format!("cannot start the runtime: {e}")))
}

/// Parses a hex argument.
pub(crate) fn parse_hex(what: &str, s: &str) -> Result<Vec<u8>, CliError> {
    hex::decode(s.trim())
        .map_err(|e| CliError::new(Code::InvalidInput, format!("{what} is not valid hex: {e}")))
}

/// `--algorithm` for an RSA-only operation: an EC curve is refused with
/// `why` (exit 3), saying what the operation takes.
pub(crate) fn rsa_algorithm(
    text: &str,
    why: &str,
) -> Result<symbolon::keys::RsaAlgorithm, CliError> {
    match text.parse::<symbolon::keys::KeyAlgorithm>()? {
        symbolon::keys::KeyAlgorithm::Rsa(a) => Ok(a),
        symbolon::keys::KeyAlgorithm::Ec(c) => Err(CliError::new(
            Code::Unsupported,
            format!("--algorithm {c}: {why}"),
        )),
    }
}

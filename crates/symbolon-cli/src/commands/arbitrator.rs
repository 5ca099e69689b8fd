//! `symbolon arbitrator …` and `symbolon policy check`: an arbitrator's
//! identity, its registration, checking its shares; and the policy language.

use std::path::PathBuf;
use symbolon::Code;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use symbolon::escrow::{ArbitratorId, ArbitratorIdentity, EscrowDeposit, Policy};
use symbolon::token::SealingKey;
use symbolon_token::file::{create_new_private, read_sealing_key};

use super::ca_client::CaClient;
use crate::cli::{
    ArbitratorCommand, ArbitratorDir, ArbitratorInitArgs, ArbitratorRegisterArgs,
    ArbitratorVerifyShareArgs, PolicyCheckArgs, PolicyCommand,
};
use crate::error::CliError;
use crate::output::print_json;

fn paths(dir: &ArbitratorDir) -> (PathBuf, PathBuf) {
    (
        dir.arbitrator.join("arbitrator.sealed"),
        dir.arbitrator.join("arbitrator.sealing-key"),
    )
}

/// Opens the arbitrator identity in `dir`.
pub(crate) fn load(dir: &ArbitratorDir) -> Result<ArbitratorIdentity, CliError> {
    let (sealed, key) = paths(dir);
    let data = std::fs::read(&sealed).map_err(|e| {
        CliError::io("cannot read the arbitrator identity", &sealed, e)
            .hint("create one with `symbolon arbitrator init --arbitrator DIR --name NAME`")
    })?;
    Ok(ArbitratorIdentity::open(&data, &read_sealing_key(&key)?)?)
}

/// The client an arbitrator acts through: as the credential kept in its
/// directory (`DIR/credential.token`, from `symbolon enroll`) when there is
/// one, else as `--credential`.
pub(crate) fn client(dir: &ArbitratorDir, ca: &crate::cli::CaArgs) -> Result<CaClient, CliError> {
    let own = dir.arbitrator.join(CREDENTIAL_FILE);
    if own.exists() && super::local_dir(&ca.ca).is_none() {
        let spec = own.to_str().ok_or_else(|| {
            CliError::new(
                Code::InvalidInput,
                "the arbitrator directory's path is not UTF-8",
            )
        })?;
        return CaClient::connect_as(&ca.ca, ca.ca_cert.as_deref(), spec);
    }
    super::ca_client(ca)
}

/// Where an arbitrator keeps its service credential.
pub(crate) const CREDENTIAL_FILE: &str = "credential.token";

/// Fetches and decodes an escrow's public record.
pub(crate) fn fetch_escrow(ca: &CaClient, id: &str) -> Result<EscrowDeposit, CliError> {
    let v = ca.get(&format!("/v1/escrows/{id}"))?;
    let record = B64
        .decode(super::ca_client::field(&v, "record")?)
        .map_err(|e| CliError::new(Code::BadResponse, format!("escrow record: {e}")))?;
    Ok(EscrowDeposit::decode(&record)?)
}

/// Fetches this arbitrator's envelope of an escrow.
pub(crate) fn fetch_envelope(
    ca: &CaClient,
    escrow: &str,
    me: &ArbitratorId,
) -> Result<Vec<u8>, CliError> {
    let v = ca.get(&format!("/v1/escrows/{escrow}/shares/{me}"))?;
    B64.decode(super::ca_client::field(&v, "envelope")?)
        .map_err(|e| CliError::new(Code::BadResponse, format!("envelope: {e}")))
}

pub(crate) fn run(cmd: ArbitratorCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        ArbitratorCommand::Init(args) => init(args, json),
        ArbitratorCommand::Register(args) => register(args, json),
        ArbitratorCommand::VerifyShare(args) => verify_share(args, json),
    }
}

pub(crate) fn policy(cmd: PolicyCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        PolicyCommand::Check(args) => check(args, json),
    }
}

fn init(ArbitratorInitArgs { dir, name }: ArbitratorInitArgs, json: bool) -> Result<(), CliError> {
    let id = ArbitratorId::new(&name)?;
    let (sealed, key_path) = paths(&dir);
    std::fs::create_dir_all(&dir.arbitrator)
        .map_err(|e| CliError::io("cannot create", &dir.arbitrator, e))?;
    if sealed.exists() {
        return Err(CliError::new(
            Code::InvalidInput,
            format!(
                "{} already holds an arbitrator identity",
                dir.arbitrator.display()
            ),
        ));
    }
    let identity = ArbitratorIdentity::generate(id)?;
    let key = SealingKey::generate()?;
    create_new_private(&key_path, key.to_key_file().as_bytes())?;
    create_new_private(&sealed, &identity.seal(&key)?)?;
    let p = identity.public();
    if json {
        print_json(&json!({
            "arbitrator": p.id, "share_recipient": p.share_recipient,
            "approval_key": p.approval_key.fingerprint(), "directory": dir.arbitrator,
        }))
    } else {
        println!(
            "arbitrator {} created in {}",
            p.id,
            dir.arbitrator.display()
        );
        println!("share key:    {}", p.share_recipient);
        println!("approval key: {}", p.approval_key.fingerprint());
        Ok(())
    }
}

fn register(
    ArbitratorRegisterArgs { dir, ca }: ArbitratorRegisterArgs,
    json: bool,
) -> Result<(), CliError> {
    let p = load(&dir)?.public();
    client(&dir, &ca)?.post(
                "/v1/arbitrators",
                &json!({ "id": p.id, "share_recipient": p.share_recipient, "approval_key": p.approval_key.to_pem() }),
            )?;
    if json {
        print_json(&json!({ "arbitrator": p.id, "registered": true }))
    } else {
        println!("arbitrator {} registered", p.id);
        Ok(())
    }
}

fn verify_share(
    ArbitratorVerifyShareArgs { dir, ca, escrow }: ArbitratorVerifyShareArgs,
    json: bool,
) -> Result<(), CliError> {
    let me = load(&dir)?;
    let client = client(&dir, &ca)?;
    let deposit = fetch_escrow(&client, &escrow)?;
    let envelope = fetch_envelope(&client, &escrow, me.id())?;
    me.check_share(&deposit, &envelope)?;
    if json {
        print_json(
            &json!({ "escrow": escrow, "arbitrator": me.id(), "key": deposit.fingerprint(), "share": "valid" }),
        )
    } else {
        println!(
            "the share of {} in escrow {escrow} (key {}) matches the published commitments",
            me.id(),
            deposit.fingerprint()
        );
        Ok(())
    }
}

fn check(PolicyCheckArgs { policy, limit }: PolicyCheckArgs, json: bool) -> Result<(), CliError> {
    let p = Policy::parse(&policy).map_err(|e| CliError::new(Code::InvalidInput, e.to_string()))?;
    let sets = p.minimal_sets(limit);
    let tree = p.status_tree(&[]);
    if json {
        print_json(&json!({
            "canonical": p.canonical(),
            "hash": hex::encode(p.hash()),
            "tree": tree,
            "minimal_sets": sets,
            "minimal_sets_truncated": sets.is_none(),
        }))
    } else {
        println!("canonical: {}", p.canonical());
        println!("hash:      {}", hex::encode(p.hash()));
        println!("tree:");
        for line in tree.render().lines() {
            println!("  {}", line.replacen('·', "-", 1));
        }
        match sets {
            Some(sets) => {
                println!("minimal sets of arbitrators ({}):", sets.len());
                for s in sets {
                    let names: Vec<&str> = s.iter().map(ArbitratorId::as_str).collect();
                    println!("  {}", names.join(", "));
                }
            }
            None => println!("more than {limit} minimal sets (raise --limit to list them)"),
        }
        Ok(())
    }
}

//! `symbolon content owner …` and `content license`: the copyright owner's
//! station's command line (FIG. 23). The workflow is
//! `symbolon_server::owner::OwnerStation`; this file reads the arguments,
//! runs it, and prints what it did.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;
use symbolon::content::{ContentHeader, PurchaseOrder};
use symbolon::keys::RsaAlgorithm;
use symbolon::pem;
use symbolon::token::{SlotName, TokenSerial};
use symbolon::Code;
use symbolon_server::owner::{OwnerError, OwnerStation};

use super::{open_token, runtime};
use crate::cli::{OwnerCommand, OwnerDir, OwnerInitArgs, OwnerProvisionArgs, OwnerPublicKeyArgs};
use crate::error::CliError;
use crate::files::{read_input, write_output};
use crate::output::print_json;

impl From<OwnerError> for CliError {
    fn from(e: OwnerError) -> Self {
        match e {
            OwnerError::Token(t) => t.into(),
            other => {
                let err = CliError::new(other.code(), other.to_string());
                match other.hint() {
                    Some(h) => err.hint(h),
                    None => err,
                }
            }
        }
    }
}

pub(crate) fn run(cmd: OwnerCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        OwnerCommand::Init(args) => init(args, json),
        OwnerCommand::PublicKey(args) => public_key(args),
        OwnerCommand::Provision(args) => provision(args, json),
    }
}

fn init(
    OwnerInitArgs {
        owner,
        ca_cert,
        database,
    }: OwnerInitArgs,
    json: bool,
) -> Result<(), CliError> {
    let (_, root) = pem::decode(&read_input(Some(&ca_cert))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--ca-cert: {e}")))?;
    let created = runtime()?.block_on(OwnerStation::init(&owner.owner, &root, database))?;
    if json {
        return print_json(&json!({
            "owner": owner.owner,
            "identity": created.identity,
            "catalogue_key": created.catalogue_key,
        }));
    }
    println!("owner's station created in {}", owner.owner.display());
    println!(
        "identity:      {} (users' tokens trust it)",
        created.identity
    );
    println!(
        "catalogue key: {} (seal published content to it)",
        created.catalogue_key
    );
    Ok(())
}

/// `content license`: verify the order, issue its licence once.
pub(crate) fn license(
    owner: &OwnerDir,
    order_path: &Path,
    content: &Path,
    max_age: u64,
    out: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    // The inputs are read before the station's database is opened, so a
    // malformed order or content file leaves the station untouched.
    let order = PurchaseOrder::from_pem(&read_input(Some(order_path))?)?;
    let header = {
        let mut f =
            std::fs::File::open(content).map_err(|e| CliError::io("cannot read", content, e))?;
        ContentHeader::read_from(&mut f)?
    };
    let rt = runtime()?;
    let station = rt.block_on(OwnerStation::open(&owner.owner))?;
    let issued = rt.block_on(async {
        let issued = station
            .license(
                &order,
                &header,
                &content.display().to_string(),
                Duration::from_secs(max_age),
                SystemTime::now(),
            )
            .await;
        station.close().await;
        issued
    })?;
    write_output(out, issued.licence.to_pem().as_bytes(), false)?;
    let terms = &issued.order.terms;
    if json {
        return print_json(
            &json!({ "order": issued.order.id.to_string(), "licence_for": terms.licence_token }),
        );
    }
    if out.is_some() {
        println!(
            "licence for content {} issued to token {} slot {}",
            terms.content_id, terms.licence_token, terms.licence_slot
        );
    }
    Ok(())
}

fn public_key(
    OwnerPublicKeyArgs {
        owner,
        identity,
        token_serial,
        slot,
        out,
    }: OwnerPublicKeyArgs,
) -> Result<(), CliError> {
    let provisioned = match (token_serial, slot) {
        (Some(serial), Some(slot)) => Some((serial.parse::<TokenSerial>()?, SlotName::new(&slot)?)),
        _ => None,
    };
    let rt = runtime()?;
    let station = rt.block_on(OwnerStation::open(&owner.owner))?;
    let text = if identity {
        station.identity().map(|i| i.public_key().to_pem())
    } else if let Some((serial, slot)) = &provisioned {
        station.provisioned_key(serial, slot).map(|k| k.to_pem())
    } else {
        station.catalogue_key().map(|k| k.to_pem())
    };
    rt.block_on(station.close());
    write_output(out.as_deref(), text?.as_bytes(), false)
}

fn provision(
    OwnerProvisionArgs {
        owner,
        token,
        slot,
        algorithm,
        out,
    }: OwnerProvisionArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let algorithm: RsaAlgorithm = algorithm.parse()?;
    let mut t = open_token(&token)?;
    let serial = t.info()?.serial;
    let public = runtime()?.block_on(async {
        let station = OwnerStation::open(&owner.owner).await?;
        let public = station.provision(t.as_mut(), &slot, algorithm).await;
        station.close().await;
        public
    })?;
    if out.is_some() {
        write_output(out.as_deref(), public.to_pem().as_bytes(), false)?;
    }
    if json {
        return print_json(&json!({
            "token": serial, "slot": slot.as_str(),
            "fingerprint": public.fingerprint(), "public_key": public.to_pem(),
        }));
    }
    println!(
        "decryption key {} written into slot {slot} of token {serial}; only its public key is kept",
        public.fingerprint()
    );
    Ok(())
}

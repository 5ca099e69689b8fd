//! `symbolon issuer …`: an issuer identity and the commands it signs.

use std::path::{Path, PathBuf};
use symbolon::Code;

use serde_json::json;
use symbolon::issuer::{IssuerIdentity, TokenTarget};
use symbolon::keys::PrivateKey;
use symbolon::pem;
use symbolon::token::{SignedCommand, SlotName};
use symbolon_token::file::{create_new_private, read_sealing_key};

use super::open_token;
use crate::cli::{
    IssuerAcceptKeyArgs, IssuerCommand, IssuerDir, IssuerPublicKeyArgs, IssuerWriteCertificateArgs,
};
use crate::error::CliError;
use crate::files::{read_input, read_secret, write_output};
use crate::output::print_json;

fn paths(dir: &IssuerDir) -> (PathBuf, PathBuf) {
    (
        dir.issuer.join("issuer.sealed"),
        dir.issuer.join("issuer.sealing-key"),
    )
}

/// Opens the issuer identity in `dir`.
pub(crate) fn load(dir: &IssuerDir) -> Result<IssuerIdentity, CliError> {
    let (sealed, key) = paths(dir);
    let data = std::fs::read(&sealed).map_err(|e| {
        CliError::io("cannot read issuer identity", &sealed, e)
            .hint("create one with `symbolon issuer init --issuer DIR`")
    })?;
    Ok(IssuerIdentity::open(&data, &read_sealing_key(&key)?)?)
}

pub(crate) fn run(cmd: IssuerCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        IssuerCommand::Init(dir) => {
            let (sealed, key_path) = paths(&dir);
            std::fs::create_dir_all(&dir.issuer)
                .map_err(|e| CliError::io("cannot create", &dir.issuer, e))?;
            if sealed.exists() {
                return Err(CliError::new(
                    Code::InvalidInput,
                    format!("{} already holds an issuer identity", dir.issuer.display()),
                ));
            }
            let id = IssuerIdentity::generate()?;
            let key = symbolon::token::SealingKey::generate()?;
            create_new_private(&key_path, key.to_key_file().as_bytes())?;
            create_new_private(&sealed, &id.seal(&key)?)?;
            let fp = id.public_key().fingerprint();
            if json {
                print_json(
                    &json!({ "issuer": dir.issuer, "fingerprint": fp, "public_key": id.public_key().to_pem() }),
                )
            } else {
                println!("issuer identity {fp} created in {}", dir.issuer.display());
                Ok(())
            }
        }
        IssuerCommand::PublicKey(args) => public_key(args),
        IssuerCommand::WriteCertificate(args) => write_certificate(args, json),
        IssuerCommand::AcceptKey(args) => accept_key(args, json),
    }
}

/// Saves the signed command, or applies it to the token at once.
fn deliver(
    cmd: SignedCommand,
    out: Option<&Path>,
    json: bool,
    apply: impl FnOnce(&SignedCommand) -> Result<String, symbolon::token::TokenError>,
) -> Result<(), CliError> {
    let slot = cmd.command.slot.clone();
    let sequence = cmd.command.sequence;
    if let Some(path) = out {
        write_output(
            Some(path),
            format!("{}\n", cmd.to_json()?).as_bytes(),
            false,
        )?;
        return if json {
            print_json(&json!({ "command": path, "slot": slot, "sequence": sequence }))
        } else {
            println!(
                "signed command for slot {slot} (sequence {sequence}) saved to {}",
                path.display()
            );
            Ok(())
        };
    }
    let what = apply(&cmd)?;
    if json {
        print_json(&json!({ "slot": slot, "sequence": sequence, "result": what }))
    } else {
        println!("{what} in slot {slot}");
        Ok(())
    }
}

fn public_key(IssuerPublicKeyArgs { issuer, out }: IssuerPublicKeyArgs) -> Result<(), CliError> {
    let id = load(&issuer)?;
    write_output(out.as_deref(), id.public_key().to_pem().as_bytes(), false)
}

fn write_certificate(
    IssuerWriteCertificateArgs {
        issuer,
        token,
        slot,
        input,
        out,
    }: IssuerWriteCertificateArgs,
    json: bool,
) -> Result<(), CliError> {
    let id = load(&issuer)?;
    let slot = SlotName::new(&slot.slot)?;
    let data = read_input(Some(&input))?;
    let der = if pem::is_pem(&data) {
        pem::decode(&data, &["CERTIFICATE"])
            .map_err(|e| CliError::new(Code::InvalidCertificate, e.to_string()))?
            .1
    } else {
        data
    };
    let mut t = open_token(&token)?;
    let cmd = id.authorize_certificate(&TokenTarget::of(t.as_ref())?, &slot, der)?;
    deliver(cmd, out.as_deref(), json, |c| {
        t.write_certificate(c)
            .map(|_| "certificate written".to_string())
    })
}

fn accept_key(
    IssuerAcceptKeyArgs {
        issuer,
        token,
        slot,
        key,
        out,
    }: IssuerAcceptKeyArgs,
    json: bool,
) -> Result<(), CliError> {
    let id = load(&issuer)?;
    let slot = SlotName::new(&slot.slot)?;
    let private = PrivateKey::import_pem(&read_secret(&key)?)?;
    let mut t = open_token(&token)?;
    let cmd = id.authorize_key(&TokenTarget::of(t.as_ref())?, &slot, &private)?;
    drop(private);
    deliver(cmd, out.as_deref(), json, |c| {
        t.accept_key(c)
            .map(|pk| format!("key {} accepted", pk.fingerprint()))
    })
}

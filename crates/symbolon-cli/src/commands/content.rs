//! `symbolon seal`, `unseal` and `content order|inspect`: the user's side of
//! content protection (sixth embodiment). Sealing needs only a public key;
//! unsealing goes through the token, which unwraps the content key and
//! decrypts the chunks without letting the key out.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use symbolon::Code;

use serde_json::json;
use symbolon::content::{
    self, ContentError, ContentHeader, ContentId, Licence, OrderTerms, Price, PurchaseOrder,
    CHUNK_LOG2_RANGE,
};
use symbolon::keys::hpke::Kem;
use symbolon::keys::{PublicKey, SignatureScheme};
use symbolon::pem;
use symbolon::token::{SlotName, TokenSerial};
use symbolon::x509::{certificate_public_key, parse_certificate};

use super::{open_token, token_spec};
use crate::cli::{
    ContentCommand, ContentInspectArgs, ContentLicenseArgs, ContentOrderArgs, SealArgs, UnsealArgs,
};
use crate::error::CliError;
use crate::files::{read_input, write_output};
use crate::output::print_json;
use std::io::Seek as _;
use std::os::fd::{AsFd, BorrowedFd};
use symbolon::token::{Token, TokenError};
use symbolon_token::agent::AgentClient;
use symbolon_token::open::TokenSpec;
use symbolon_token::write_behind::write_behind;

impl From<ContentError> for CliError {
    fn from(e: ContentError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// `-` and absence both mean the standard stream.
fn named(path: Option<&PathBuf>) -> Option<&Path> {
    path.map(PathBuf::as_path).filter(|p| p != &Path::new("-"))
}

/// An input stream, with a progress bar for files that take a while.
fn open_input(
    path: Option<&Path>,
    json: bool,
) -> Result<(Box<dyn Read>, indicatif::ProgressBar), CliError> {
    open_input_file(path, json).map(|i| (i.reader, i.bar))
}

/// An input stream, its progress bar, and for a named input the file
/// itself (its offset shared with the reader's).
struct Input {
    reader: Box<dyn Read>,
    bar: indicatif::ProgressBar,
    file: Option<File>,
}

/// [`open_input`], keeping the file of a named input.
fn open_input_file(path: Option<&Path>, json: bool) -> Result<Input, CliError> {
    match path {
        Some(p) => {
            let f = File::open(p).map_err(|e| CliError::io("cannot read", p, e))?;
            let shared = f
                .try_clone()
                .map_err(|e| CliError::io("cannot read", p, e))?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = if json || len < 64 * 1024 * 1024 {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(len).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            };
            Ok(Input {
                reader: Box::new(bar.wrap_read(f)),
                bar,
                file: Some(shared),
            })
        }
        None => Ok(Input {
            reader: Box::new(std::io::stdin().lock()),
            bar: indicatif::ProgressBar::hidden(),
            file: None,
        }),
    }
}

/// A recipient: a public key (SPKI, PEM or DER: RSA, P-256, P-384 or
/// X25519; or PKCS#1 RSA) or a certificate of one.
pub(crate) fn read_recipient(path: &Path) -> Result<PublicKey, CliError> {
    let data = read_input(Some(path))?;
    // A certificate (PEM or DER), else a bare public key.
    let der = if pem::is_pem(&data) {
        pem::decode(&data, &["CERTIFICATE"]).ok().map(|(_, d)| d)
    } else {
        Some(data.clone())
    };
    let key = match der.as_deref().map(parse_certificate) {
        Some(Ok(cert)) => certificate_public_key(&cert)?,
        // An SPKI of any kind, else a PKCS#1 RSA key.
        _ => PublicKey::from_pem_or_der(&data).or_else(|e| {
            symbolon::keys::RsaPublicKey::from_pem_or_der(&data)
                .map(PublicKey::Rsa)
                .map_err(|_| e)
        })?,
    };
    match &key {
        PublicKey::Rsa(k) => {
            k.check_policy()?;
        }
        // Ed25519 keys only sign: say so before reading any input.
        PublicKey::Ec(k) => {
            Kem::for_curve(k.curve())?;
        }
    }
    Ok(key)
}

fn chunk_log2(size: u64) -> Result<u8, CliError> {
    let log2 = size.trailing_zeros() as u8;
    if !size.is_power_of_two() || !CHUNK_LOG2_RANGE.contains(&log2) {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("--chunk-size {size} is not a power of two from 1024 to 16777216"),
        ));
    }
    Ok(log2)
}

pub(crate) fn seal(args: &SealArgs, json: bool) -> Result<(), CliError> {
    let recipient = read_recipient(&args.to)?;
    let log2 = chunk_log2(args.chunk_size)?;
    let content_id = match &args.content_id {
        Some(s) => s.parse::<ContentId>()?,
        None => ContentId::random()?,
    };
    let (mut input, bar) = open_input(named(args.input.as_ref()), json)?;
    let out_path = named(args.output.as_ref());
    let summary = write_atomically(out_path, |out| {
        content::seal(&mut input, out, &recipient, content_id, log2)
    })?;
    bar.finish_and_clear();
    let value = json!({
        "content_id": content_id,
        "recipient": recipient.fingerprint(),
        "bytes": summary.bytes,
        "chunks": summary.chunks,
        "chunk_size": summary.header.chunk_size(),
    });
    // With the sealed stream on stdout, the summary goes to stderr.
    match (out_path, json) {
        (Some(_), true) => print_json(&value),
        (Some(p), false) => {
            println!(
                "sealed {} bytes as content {content_id} to key {} in {}",
                summary.bytes,
                recipient.fingerprint(),
                p.display()
            );
            Ok(())
        }
        (None, _) => {
            eprintln!("sealed {} bytes as content {content_id}", summary.bytes);
            Ok(())
        }
    }
}

pub(crate) fn unseal(args: &UnsealArgs, json: bool) -> Result<(), CliError> {
    let slot = SlotName::new(&args.slot.slot)?;
    let licence = match &args.licence {
        Some(p) => Some(Licence::from_pem(&read_input(Some(p))?)?),
        None => None,
    };
    // Through an agent, a file unseals inside it (docs/agent-protocol.md §6).
    let spec = token_spec(&args.token)?;
    let agent = match &spec {
        TokenSpec::Agent(sock) => Some(AgentClient::connect(sock)?),
        _ => None,
    };
    let token: Box<dyn Token + Send + Sync> = match &agent {
        Some(a) => Box::new(a.clone()),
        None => spec.open()?,
    };
    let Input {
        reader: mut input,
        bar,
        file: input_file,
    } = open_input_file(named(args.input.as_ref()), json)?;
    let header = ContentHeader::read_from(&mut input)?;
    let wrapped = match &licence {
        Some(l) => {
            let info = token.info()?;
            l.check(&info.trusted_issuers, info.serial, &slot, &header)?
        }
        None => {
            let key = token.slot_public_key(&slot)?.fingerprint();
            if &key != header.recipient() {
                return Err(CliError::from(ContentError::WrongRecipient {
                    sealed_to: header.recipient().to_string(),
                    offered: format!("{key} (slot {slot})"),
                })
                .hint("content sealed to an owner's catalogue key opens with that owner's licence: --licence FILE"));
            }
            header.wrapped_key()
        }
    };
    let out_path = named(args.output.as_ref());
    let files = agent
        .as_ref()
        .zip(input_file.as_ref().filter(|f| is_regular(f)))
        .filter(|_| out_path.is_some() || is_regular(std::io::stdout()));
    // The agent declines a file it will not touch (busy, or a kind of file
    // it does not unseal) before reading or writing a byte: then the chunks
    // go over the socket instead.
    let mut declined = false;
    let in_agent = match files {
        Some((agent, input)) => {
            let outcome = with_output(out_path, |out| {
                let mut progress = || {
                    if let Ok(at) = (&*input).stream_position() {
                        bar.set_position(at);
                    }
                };
                let result =
                    agent.unseal_files(&slot, &header, wrapped, input.as_fd(), out, &mut progress);
                declined = matches!(
                    &result,
                    Err(TokenError::Remote {
                        code: Code::Busy | Code::Unsupported,
                        ..
                    })
                );
                Ok(result?)
            });
            match outcome {
                Err(_) if declined => None,
                other => Some(other?),
            }
        }
        None => None,
    };
    let bytes = match in_agent {
        Some(bytes) => bytes,
        None => {
            let mut opener = token.open_content(&slot, &header, wrapped)?;
            write_atomically(out_path, |out| {
                content::unseal(&mut input, &header, opener.as_mut(), out)
            })?
        }
    };
    bar.finish_and_clear();
    let value = json!({ "content_id": header.content_id(), "bytes": bytes });
    match (out_path, json) {
        (Some(_), true) => print_json(&value),
        (Some(p), false) => {
            println!(
                "unsealed {bytes} bytes of content {} to {}",
                header.content_id(),
                p.display()
            );
            Ok(())
        }
        (None, _) => Ok(()),
    }
}

/// Whether `fd` is a regular file (what the agent writes and reads).
fn is_regular(fd: impl AsFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode).is_file())
}

/// Runs `write` into `path` so that the file appears, complete and synced,
/// only if `write` succeeds; or into stdout.
fn write_atomically<T>(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> Result<T, ContentError>,
) -> Result<T, CliError> {
    let io = |e: std::io::Error| CliError::new(Code::Io, format!("cannot write the output: {e}"));
    let Some(path) = path else {
        let mut out = std::io::stdout();
        return Ok(write_behind(&mut out, write).map_err(io)??);
    };
    with_output(Some(path), |out| {
        let mut out = File::from(out.try_clone_to_owned().map_err(io)?);
        Ok(write_behind(&mut out, write).map_err(io)??)
    })
}

/// Runs `write` on the descriptor of a new file that becomes `path`,
/// complete and synced, only if `write` succeeds; or on stdout's.
fn with_output<T>(
    path: Option<&Path>,
    write: impl FnOnce(BorrowedFd<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let Some(path) = path else {
        return write(std::io::stdout().as_fd());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".symbolon-partial-")
        .tempfile_in(dir)
        .map_err(|e| CliError::io("cannot create a file in", dir, e))?;
    // On any error `tmp` is dropped, which deletes the partial output.
    let result = write(tmp.as_file().as_fd())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| CliError::io("cannot sync", path, e))?;
    tmp.persist(path)
        .map_err(|e| CliError::io("cannot write", path, e.error))?;
    Ok(result)
}

pub(crate) fn run(cmd: ContentCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        ContentCommand::Owner(c) => super::content_owner::run(c, json),
        ContentCommand::License(ContentLicenseArgs {
            owner,
            order,
            content,
            max_age,
            out,
        }) => {
            super::content_owner::license(&owner, &order, &content, max_age, out.as_deref(), json)
        }
        ContentCommand::Inspect(args) => inspect(args, json),
        ContentCommand::Order(args) => order(args, json),
    }
}

fn order(
    ContentOrderArgs {
        token,
        slot,
        content_id,
        price,
        licence_slot,
        licence_token,
        chain,
        scheme,
        out,
    }: ContentOrderArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let scheme: SignatureScheme = scheme.parse()?;
    let content_id: ContentId = content_id.parse()?;
    let price: Price = price.parse()?;
    let licence_slot = SlotName::new(&licence_slot)?;
    let chain = match chain {
        Some(p) => symbolon_server::read_chain(&p)?,
        None => Vec::new(),
    };
    let t = open_token(&token)?;
    let licence_token = match licence_token {
        Some(s) => s.parse::<TokenSerial>()?,
        None => t.info()?.serial,
    };
    let certificate = t.certificate(&slot)?;
    let terms = OrderTerms::new(
        content_id,
        price,
        licence_token,
        licence_slot,
        SystemTime::now(),
    )?;
    let signature = t.sign(&slot, scheme, &terms.digest(scheme, &certificate))?;
    let order = PurchaseOrder {
        terms,
        scheme,
        certificate,
        chain,
        signature,
    };
    let text = order.to_pem();
    if json {
        if out.is_some() {
            write_output(out.as_deref(), text.as_bytes(), false)?;
        }
        print_json(
            &json!({ "order": order.id().to_string(), "content_id": content_id, "pem": text }),
        )
    } else {
        write_output(out.as_deref(), text.as_bytes(), false)
    }
}

fn inspect(ContentInspectArgs { input }: ContentInspectArgs, json: bool) -> Result<(), CliError> {
    let (mut input, _) = open_input(named(input.as_ref()), true)?;
    let h = ContentHeader::read_from(&mut input)?;
    let value = json!({
        "content_id": h.content_id(),
        "recipient": h.recipient(),
        "chunk_size": h.chunk_size(),
        "format_version": symbolon::content::VERSION,
    });
    if json {
        print_json(&value)
    } else {
        println!("content id:  {}", h.content_id());
        println!("sealed to:   {}", h.recipient());
        println!("chunk size:  {}", h.chunk_size());
        Ok(())
    }
}

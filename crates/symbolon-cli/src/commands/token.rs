//! `symbolon token …`: the token's own operations.

use std::path::Path;
use std::time::Duration;
use symbolon::Code;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use symbolon::keys::{
    EcCurve, EcSigningInput, HashAlgorithm, IdentityPublicKey, KeyAlgorithm, MessageDigest,
    SignatureScheme,
};
use symbolon::pem;
use symbolon::token::{SignedCommand, SlotName, TokenInfo};
use symbolon_token::file::{default_sealing_key_path, init_token};

use super::{open_token, parse_hex};
use crate::cli::{
    TokenAcceptKeyArgs, TokenAttestArgs, TokenBackupArgs, TokenCertificateArgs, TokenCommand,
    TokenDecryptArgs, TokenGenerateArgs, TokenGetObjectArgs, TokenInitArgs, TokenPublicKeyArgs,
    TokenPutObjectArgs, TokenRegisterArgs, TokenRegistrationArgs, TokenRestoreArgs, TokenServeArgs,
    TokenSignArgs, TokenTamperArgs, TokenTrustIssuerArgs, TokenWriteCertificateArgs,
};
use crate::error::CliError;
use crate::files::{read_input, read_text, write_output};
use crate::output::print_json;

pub(crate) fn run(cmd: TokenCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Init(TokenInitArgs { token, sealing_key })
            if token.to_string_lossy().starts_with("pkcs11:") =>
        {
            if sealing_key.is_some() {
                return Err(CliError::new(
                    Code::InvalidInput,
                    "--sealing-key is for soft tokens; a PKCS#11 device protects its own objects",
                ));
            }
            let uri = symbolon_token::pkcs11::Pkcs11Uri::parse(&token.to_string_lossy())?;
            let spinner = spinner(json, "generating device and transport keys on the device");
            let t = symbolon_token::pkcs11::Pkcs11Token::init(&uri);
            spinner.finish_and_clear();
            let t = t?;
            let info = symbolon::token::Token::info(&t)?;
            if json {
                print_json(&json!({
                    "token": token, "device": t.device(), "serial": info.serial,
                    "device_key": info.device_key, "transport_key": info.transport_key,
                }))
            } else {
                println!("initialised token {} on {}", info.serial, t.device());
                println!("device key:  {}", info.device_key);
                Ok(())
            }
        }
        TokenCommand::Init(TokenInitArgs { token, sealing_key }) => {
            let key_path = sealing_key.unwrap_or_else(|| default_sealing_key_path(&token));
            let spinner = spinner(json, "generating device and transport keys");
            let t = init_token(&token, &key_path, None);
            spinner.finish_and_clear();
            let t = t?;
            let info = symbolon::token::Token::info(&t)?;
            if json {
                print_json(&json!({
                    "token": token, "sealing_key": key_path, "serial": info.serial,
                    "device_key": info.device_key, "transport_key": info.transport_key,
                }))
            } else {
                println!("initialised token {} at {}", info.serial, token.display());
                println!(
                    "sealing key: {} (mode 0600; keep it apart from the token)",
                    key_path.display()
                );
                println!("device key:  {}", info.device_key);
                Ok(())
            }
        }
        TokenCommand::Info(args) => {
            let info = open_token(&args)?.info()?;
            if json {
                print_json(&info)
            } else {
                print_info(&info);
                Ok(())
            }
        }
        TokenCommand::TrustIssuer(args) => trust_issuer(args, json),
        TokenCommand::Generate(args) => generate(args, json),
        TokenCommand::PublicKey(args) => public_key(args, json),
        TokenCommand::Sign(args) => sign_command(args, json),
        TokenCommand::Decrypt(args) => decrypt(args, json),
        TokenCommand::Certificate(args) => certificate(args, json),
        TokenCommand::WriteCertificate(args) => write_certificate(args, json),
        TokenCommand::AcceptKey(args) => accept_key(args, json),
        TokenCommand::Attest(args) => attest(args),
        TokenCommand::PutObject(args) => put_object(args, json),
        TokenCommand::GetObject(args) => get_object(args),
        TokenCommand::Backup(args) => backup(args, json),
        TokenCommand::Restore(args) => restore(args, json),
        TokenCommand::Tamper(args) => tamper(args, json),
        TokenCommand::Register(args) => register(args, json),
        TokenCommand::Registration(args) => registration(args, json),
        TokenCommand::Serve(TokenServeArgs {
            token,
            sealing_key,
            socket,
        }) => super::token_agent::run(&token, sealing_key.as_deref(), &socket),
    }
}

fn done(json: bool, value: serde_json::Value, text: &str) -> Result<(), CliError> {
    if json {
        print_json(&value)
    } else {
        println!("{text}");
        Ok(())
    }
}

/// With --json and --out, the file gets the raw output and stdout the JSON.
fn write_or_json(out: Option<&Path>, raw: &[u8], value: serde_json::Value) -> Result<(), CliError> {
    if out.is_some() {
        write_output(out, raw, false)?;
    }
    print_json(&value)
}

fn hash_input(hash: HashAlgorithm, input: Option<&Path>) -> Result<MessageDigest, CliError> {
    match input {
        Some(p) => std::fs::File::open(p)
            .and_then(|mut f| MessageDigest::of_reader(hash, &mut f))
            .map_err(|e| CliError::io("cannot read", p, e)),
        None => MessageDigest::of_reader(hash, &mut std::io::stdin().lock())
            .map_err(|e| CliError::new(Code::Io, format!("cannot read stdin: {e}"))),
    }
}

/// `token sign`: the scheme asked for (by default the one that fits the
/// slot's key: pkcs1-sha256 for RSA, ecdsa-sha256 on P-256, ecdsa-sha384 on
/// P-384, ed25519), the message hashed here (Ed25519 signs the message
/// itself, so it goes to the token whole), the signature made inside.
fn sign(
    t: &dyn symbolon::token::Token,
    slot: &SlotName,
    scheme: Option<&str>,
    input: Option<&Path>,
    digest: Option<&str>,
) -> Result<(String, Vec<u8>), CliError> {
    let scheme = match scheme {
        Some(s) => s.to_string(),
        None => match t.slot_public_key(slot)?.curve() {
            Some(EcCurve::P256) => "ecdsa-sha256".into(),
            Some(EcCurve::P384) => "ecdsa-sha384".into(),
            Some(EcCurve::Ed25519) => "ed25519".into(),
            Some(EcCurve::X25519) => return Err(symbolon::token::TokenError::WrongKeyType {
                slot: slot.clone(),
                holds: symbolon::keys::KeyAlgorithm::Ec(EcCurve::X25519),
                operation: "signing",
                needs: "an RSA, P-256, P-384 or Ed25519 key (X25519 keys only open sealed content)",
            }
            .into()),
            None => SignatureScheme::Pkcs1Sha256.name().into(),
        },
    };
    let ecdsa_hash = match scheme.as_str() {
        "ecdsa-sha256" => Some(HashAlgorithm::Sha256),
        "ecdsa-sha384" => Some(HashAlgorithm::Sha384),
        _ => None,
    };
    let sig = if let Some(h) = ecdsa_hash {
        let digest = match digest {
            Some(hex) => MessageDigest::from_bytes(h, &parse_hex("--digest", hex)?)?,
            None => hash_input(h, input)?,
        };
        t.sign_ec(slot, EcSigningInput::Digest(&digest))?
    } else if scheme == "ed25519" {
        if digest.is_some() {
            return Err(CliError::new(
                Code::InvalidInput,
                "--digest: Ed25519 signs the message itself (RFC 8032 PureEdDSA); give it with --in",
            ));
        }
        t.sign_ec(slot, EcSigningInput::Message(&read_input(input)?))?
    } else {
        let scheme: SignatureScheme = scheme.parse().map_err(|_| {
            CliError::new(
                Code::Unsupported,
                format!("unsupported signature scheme {scheme:?}; supported: pkcs1-sha256, pkcs1-sha384, pkcs1-sha512, pss-sha256, pss-sha384, pss-sha512, ecdsa-sha256, ecdsa-sha384, ed25519"),
            )
        })?;
        let digest = match digest {
            Some(hex) => MessageDigest::from_bytes(scheme.hash(), &parse_hex("--digest", hex)?)?,
            None => hash_input(scheme.hash(), input)?,
        };
        t.sign(slot, scheme, &digest)?
    };
    Ok((scheme, sig))
}

fn spinner(json: bool, msg: &str) -> indicatif::ProgressBar {
    if json {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner().with_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn print_info(info: &TokenInfo) {
    let status = match info.status {
        symbolon::token::TokenStatus::New => "new (issuers may still be trusted)",
        symbolon::token::TokenStatus::Active => "active (trust list fixed)",
    };
    println!("serial:           {}", info.serial);
    println!("status:           {status}");
    println!("device key:       {}", info.device_key);
    println!("transport key:    {}", info.transport_key);
    if info.trusted_issuers.is_empty() {
        println!("trusted issuers:  none");
    } else {
        for (i, fp) in info.trusted_issuers.iter().enumerate() {
            println!(
                "{}{fp}",
                if i == 0 {
                    "trusted issuers:  "
                } else {
                    "                  "
                }
            );
        }
    }
    println!("next command:     {}", info.command_sequence);
    if info.slots.is_empty() {
        println!("slots:            none");
    }
    for s in &info.slots {
        println!(
            "slot {}: {} {} ({}; certificate: {})",
            s.name,
            s.algorithm,
            s.fingerprint,
            s.origin,
            if s.has_certificate { "yes" } else { "no" }
        );
    }
}

fn trust_issuer(
    TokenTrustIssuerArgs { token, issuer_key }: TokenTrustIssuerArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = IdentityPublicKey::from_pem_or_der(&read_input(Some(&issuer_key))?)?;
    open_token(&token)?.trust_issuer(&key)?;
    done(
        json,
        json!({ "trusted_issuer": key.fingerprint() }),
        &format!("now trusting issuer {}", key.fingerprint()),
    )
}

fn generate(
    TokenGenerateArgs {
        token,
        slot,
        algorithm,
    }: TokenGenerateArgs,
    json: bool,
) -> Result<(), CliError> {
    let alg: KeyAlgorithm = algorithm.parse()?;
    let slot = SlotName::new(&slot.slot)?;
    let mut t = open_token(&token)?;
    let spinner = spinner(json, &format!("generating {alg} key in slot {slot}"));
    let pk = t.generate_key(&slot, alg);
    spinner.finish_and_clear();
    let pk = pk?;
    done(
        json,
        json!({ "slot": slot, "algorithm": alg, "fingerprint": pk.fingerprint(), "public_key": pk.to_pem() }),
        &format!("generated {alg} key in slot {slot}: {}", pk.fingerprint()),
    )
}

fn put_object(
    TokenPutObjectArgs { token, name, input }: TokenPutObjectArgs,
    json: bool,
) -> Result<(), CliError> {
    let name = SlotName::new(&name)?;
    let data = read_input(input.as_deref())?;
    let mut t = open_token(&token)?;
    t.put_object(&name, &data)?;
    done(
        json,
        json!({ "object": name.as_str(), "bytes": data.len() }),
        &format!("data object {name} stored ({} bytes)", data.len()),
    )
}

fn get_object(TokenGetObjectArgs { token, name, out }: TokenGetObjectArgs) -> Result<(), CliError> {
    let name = SlotName::new(&name)?;
    let data = open_token(&token)?.object(&name)?;
    write_output(out.as_deref(), &data, true)
}

fn backup(
    TokenBackupArgs { token, slot, out }: TokenBackupArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let t = open_token(&token)?;
    let (file, n) = super::backup::backup(t.as_ref(), &slot)?;
    write_output(Some(&out), &file, false)?;
    done(
        json,
        json!({ "objects": n, "sealed_to": t.slot_public_key(&slot)?.fingerprint(), "out": out }),
        &format!(
            "{n} data objects backed up to {}, sealed to slot {slot}'s key",
            out.display()
        ),
    )
}

fn restore(
    TokenRestoreArgs { token, slot, input }: TokenRestoreArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let file = std::fs::read(&input).map_err(|e| CliError::io("cannot read", &input, e))?;
    let mut t = open_token(&token)?;
    let (from, names) = super::backup::restore(t.as_mut(), &slot, &file)?;
    done(
        json,
        json!({ "from": from, "objects": names.iter().map(SlotName::as_str).collect::<Vec<_>>() }),
        &format!(
            "{} data objects restored from token {from}'s backup",
            names.len()
        ),
    )
}

fn public_key(
    TokenPublicKeyArgs {
        token,
        slot,
        device,
        transport,
        out,
    }: TokenPublicKeyArgs,
    json: bool,
) -> Result<(), CliError> {
    let t = open_token(&token)?;
    let (pem_text, fp) = if device {
        let k = t.device_key()?;
        (k.to_pem(), k.fingerprint())
    } else if transport {
        let k = t.transport_key()?;
        (k.to_pem(), k.fingerprint())
    } else {
        let slot = slot.as_deref().ok_or_else(|| {
            CliError::new(
                Code::InvalidInput,
                "say which key: --slot NAME, --device or --transport",
            )
        })?;
        let slot = SlotName::new(slot)?;
        let k = t.slot_public_key(&slot)?;
        (k.to_pem(), k.fingerprint())
    };
    if json {
        write_or_json(
            out.as_deref(),
            pem_text.as_bytes(),
            json!({ "fingerprint": fp, "public_key": pem_text }),
        )
    } else {
        write_output(out.as_deref(), pem_text.as_bytes(), false)
    }
}

fn sign_command(
    TokenSignArgs {
        token,
        slot,
        scheme,
        input,
        digest,
        out,
    }: TokenSignArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let t = open_token(&token)?;
    let (scheme, sig) = sign(
        t.as_ref(),
        &slot,
        scheme.as_deref(),
        input.as_deref(),
        digest.as_deref(),
    )?;
    if json {
        write_or_json(
            out.as_deref(),
            &sig,
            json!({ "slot": slot, "scheme": scheme, "signature": B64.encode(&sig) }),
        )
    } else {
        write_output(out.as_deref(), &sig, false)
    }
}

fn decrypt(
    TokenDecryptArgs {
        token,
        slot,
        input,
        out,
    }: TokenDecryptArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let ct = read_input(input.as_deref())?;
    let pt = open_token(&token)?.decrypt(&slot, &ct)?;
    if json && out.is_none() {
        print_json(&json!({ "slot": slot, "plaintext": B64.encode(pt.as_slice()) }))
    } else {
        write_output(out.as_deref(), &pt, true)
    }
}

fn certificate(
    TokenCertificateArgs { token, slot, out }: TokenCertificateArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let der = open_token(&token)?.certificate(&slot)?;
    let text = pem::encode("CERTIFICATE", &der);
    if json {
        write_or_json(
            out.as_deref(),
            text.as_bytes(),
            json!({ "slot": slot, "certificate": text }),
        )
    } else {
        write_output(out.as_deref(), text.as_bytes(), false)
    }
}

fn write_certificate(
    TokenWriteCertificateArgs {
        token,
        authorization,
    }: TokenWriteCertificateArgs,
    json: bool,
) -> Result<(), CliError> {
    let cmd = SignedCommand::from_json(&read_text(&authorization)?)?;
    open_token(&token)?.write_certificate(&cmd)?;
    let slot = cmd.command.slot;
    done(
        json,
        json!({ "slot": slot, "written": "certificate" }),
        &format!("certificate written into slot {slot}"),
    )
}

fn accept_key(
    TokenAcceptKeyArgs {
        token,
        authorization,
    }: TokenAcceptKeyArgs,
    json: bool,
) -> Result<(), CliError> {
    let cmd = SignedCommand::from_json(&read_text(&authorization)?)?;
    let pk = open_token(&token)?.accept_key(&cmd)?;
    let slot = cmd.command.slot;
    done(
        json,
        json!({ "slot": slot, "fingerprint": pk.fingerprint(), "issuer": cmd.issuer.fingerprint() }),
        &format!(
            "key {} accepted into slot {slot} from issuer {}",
            pk.fingerprint(),
            cmd.issuer.fingerprint()
        ),
    )
}

fn attest(
    TokenAttestArgs {
        token,
        slot,
        nonce,
        out,
    }: TokenAttestArgs,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let nonce = parse_hex("--nonce", &nonce)?;
    let att = open_token(&token)?.attest(&slot, &nonce)?;
    write_output(
        out.as_deref(),
        format!("{}\n", att.to_json()?).as_bytes(),
        false,
    )
}

fn tamper(TokenTamperArgs { token, yes }: TokenTamperArgs, json: bool) -> Result<(), CliError> {
    if !yes {
        return Err(CliError::new(
            Code::NotConfirmed,
            "tamper destroys every key in the token for good",
        )
        .hint("pass --yes to confirm"));
    }
    open_token(&token)?.tamper()?;
    done(
        json,
        json!({ "tampered": true }),
        "token zeroised; it is dead for good",
    )
}

fn register(
    TokenRegisterArgs {
        token,
        ca,
        device_chain,
    }: TokenRegisterArgs,
    json: bool,
) -> Result<(), CliError> {
    let t = open_token(&token)?;
    let info = t.info()?;
    let device = t.device_key()?;
    let chain = device_chain
        .as_deref()
        .map(|p| {
            let bytes = crate::files::read_input(Some(p))?;
            String::from_utf8(bytes)
                .map_err(|_| CliError::new(Code::InvalidInput, "--device-chain: not PEM text"))
        })
        .transpose()?;
    let v = symbolon_client::station::register_token(
        super::ca_client(&ca)?.service(),
        t.as_ref(),
        chain.as_deref(),
    )?;
    let evidence = &v["evidence"];
    let how = match evidence["kind"].as_str() {
        Some("manufacturer") => format!(
            "vouched for by {} and its manufacturer ({})",
            evidence["by"].as_str().unwrap_or("?"),
            evidence["root"].as_str().unwrap_or("?")
        ),
        _ => format!("vouched for by {}", evidence["by"].as_str().unwrap_or("?")),
    };
    done(
        json,
        json!({ "token": info.serial, "device_key": device.fingerprint(), "evidence": evidence }),
        &format!("token {} registered with {}, {how}", info.serial, ca.ca),
    )
}

fn registration(
    TokenRegistrationArgs { token, ca }: TokenRegistrationArgs,
    json: bool,
) -> Result<(), CliError> {
    let serial = open_token(&token)?.info()?.serial;
    let v = super::ca_client(&ca)?.get(&format!("/v1/tokens/{serial}"))?;
    if json {
        return print_json(&v);
    }
    let e = &v["evidence"];
    println!("token {serial}");
    println!("  device key  {}", v["device_key"].as_str().unwrap_or("?"));
    println!(
        "  evidence    {}{}",
        e["kind"].as_str().unwrap_or("?"),
        e["by"]
            .as_str()
            .map(|b| format!(" (vouched for by {b})"))
            .unwrap_or_default()
    );
    if let Some(root) = e["root"].as_str() {
        println!("  manufacturer root  {root}");
    }
    if let Some(by) = v["replaced_by"].as_str() {
        println!("  REPLACED by token {by} in a recovery");
    }
    for c in v["certificates"].as_array().into_iter().flatten() {
        println!("  certificate {}", c.as_str().unwrap_or("?"));
    }
    Ok(())
}

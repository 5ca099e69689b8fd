//! `symbolon admin` (grant roles, list and revoke credentials) and
//! `symbolon enroll` (make a credential inside a token): docs/access.md.

use std::time::SystemTime;

use serde_json::json;
use symbolon::keys::SignatureScheme;
use symbolon::token::{SlotName, TokenError};
use symbolon::x509::{build_csr, certificate_key, parse_identity, verify_path, RsaSigner};
use symbolon::{pem, Code};
use symbolon_client::credential::chain_object;
use symbolon_client::Credential;

use super::ca_client::field;
use super::serve_ca::chain_pem;
use crate::cli::{
    AdminCommand, AdminGrantArgs, AdminListArgs, AdminManufacturerRootsArgs,
    AdminRevokeCredentialArgs, AdminTrustManufacturerArgs, EnrollArgs, NamePolicyCommand,
    NamePolicySetArgs, NamePolicyShowArgs,
};
use crate::error::CliError;
use crate::output::print_json;

/// The key size of a credential.
const ALGORITHM: symbolon::keys::RsaAlgorithm = symbolon::keys::RsaAlgorithm::Rsa3072;

pub(crate) fn run(command: AdminCommand, json: bool) -> Result<(), CliError> {
    match command {
        AdminCommand::Grant(args) => grant(args, json),
        AdminCommand::List(args) => list(args, json),
        AdminCommand::RevokeCredential(args) => revoke_credential(args, json),
        AdminCommand::NamePolicy(c) => name_policy(c, json),
        AdminCommand::TrustManufacturer(args) => trust_manufacturer(args, json),
        AdminCommand::ManufacturerRoots(args) => manufacturer_roots(args, json),
    }
}

/// A party name as a path segment (the service checks it again).
fn name_segment(name: &str) -> Result<&str, CliError> {
    name.parse::<symbolon::access::PartyName>()
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--station: {e}")))?;
    Ok(name)
}

/// A name policy as text.
fn print_policy(v: &serde_json::Value) {
    let p = &v["policy"];
    println!("station {}", v["station"].as_str().unwrap_or("?"));
    for r in p["allow"].as_array().into_iter().flatten() {
        println!("  allow {}", r.as_str().unwrap_or("?"));
    }
    for r in p["deny"].as_array().into_iter().flatten() {
        println!("  deny  {}", r.as_str().unwrap_or("?"));
    }
    println!(
        "  set by {} at {}",
        v["set_by"].as_str().unwrap_or("?"),
        v["set_at"]
    );
}

fn name_policy(command: NamePolicyCommand, json: bool) -> Result<(), CliError> {
    match command {
        NamePolicyCommand::Set(args) => set_policy(args, json),
        NamePolicyCommand::Show(args) => show_policy(args, json),
    }
}

/// A serial as a path segment: hex only, so nothing else reaches the URL.
fn path_segment(serial: &str) -> Result<&str, CliError> {
    if serial.is_empty() || serial.len() > 40 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::new(
            Code::InvalidInput,
            "a credential serial is up to 40 hex digits (see `symbolon admin list`)",
        ));
    }
    Ok(serial)
}

/// The token a credential goes into: a soft-token file that does not exist
/// yet is made (with its sealing key beside it); anything else is opened.
fn open_or_create(
    args: &crate::cli::TokenArgs,
) -> Result<Box<dyn symbolon::token::Token + Send + Sync>, CliError> {
    if let (None, Some(path)) = (&args.agent, &args.token) {
        let spec = symbolon_token::open::TokenSpec::parse(path, args.sealing_key.as_deref())?;
        if let symbolon_token::open::TokenSpec::File { path, sealing_key } = &spec {
            if !path.exists() {
                return Ok(Box::new(symbolon_token::file::init_token(
                    path,
                    sealing_key,
                    None,
                )?));
            }
        }
    }
    super::open_token(args)
}

/// `symbolon enroll`.
pub(crate) fn enroll(args: &EnrollArgs, json: bool) -> Result<(), CliError> {
    let ca_cert = args.ca.ca_cert.as_deref().ok_or_else(|| {
        CliError::new(
            Code::InvalidInput,
            "--ca-cert is needed: the credential must chain to the CA you trust",
        )
        .hint("pass --ca-cert root.pem (the CA certificate from the service's operator)")
    })?;
    let (_, root) = pem::decode(&crate::files::read_input(Some(ca_cert))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--ca-cert: {e}")))?;
    let slot = SlotName::new(&args.slot)?;
    let mut token = open_or_create(&args.token)?;
    if token.object(&chain_object(&slot)?).is_ok() {
        return Err(CliError::new(
            Code::AlreadyExists,
            format!("slot {slot} of this token already holds a credential"),
        )
        .hint("enroll into another slot (--slot NAME)"));
    }
    // A key left by an enrollment that was refused is used again; any
    // other key is made here, inside the token.
    let public = match token.public_key(&slot) {
        Ok(k) => k,
        Err(TokenError::SlotNotFound(_)) => token.generate(&slot, ALGORITHM)?,
        Err(e) => return Err(e.into()),
    };
    let signer = RsaSigner::new(public.clone(), SignatureScheme::Pkcs1Sha256)?;
    let subject = parse_identity("CN=symbolon enrollment")?;
    let csr = build_csr(&subject, &signer, |s, d| token.sign(&slot, s, d))?;
    let v = super::connect(&args.ca.ca, Some(ca_cert))?
        .post(
            "/v1/enroll",
            &json!({ "code": args.code, "csr": pem::encode("CERTIFICATE REQUEST", &csr) }),
        )
        .map_err(|e| match e.code {
            Code::Unauthenticated => e.hint("ask an admin for a new code (`symbolon admin grant`)"),
            _ => e,
        })?;
    let bad = |m: String| CliError::new(Code::BadResponse, m);
    let (_, leaf) = pem::decode(field(&v, "certificate")?.as_bytes(), &["CERTIFICATE"])
        .map_err(|e| bad(format!("the certificate: {e}")))?;
    let chain = v["chain"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let text = c
                .as_str()
                .ok_or_else(|| bad("a chain entry is not text".into()))?;
            pem::decode(text.as_bytes(), &["CERTIFICATE"])
                .map(|(_, d)| d)
                .map_err(|e| bad(format!("the chain: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // What the CA returned must be for this key and chain to the CA pinned.
    let cert = verify_path(&leaf, &chain, &root, SystemTime::now()).map_err(|e| {
        CliError::new(
            Code::WrongCertificate,
            format!("the credential does not chain to --ca-cert: {e}"),
        )
    })?;
    if certificate_key(&cert)? != public {
        return Err(bad(
            "the CA certified another key than the one in the token".into(),
        ));
    }
    Credential::install(token.as_mut(), &slot, &chain_pem(&leaf, &chain))?;
    let serial = field(&v, "serial")?;
    if json {
        return print_json(
            &json!({ "serial": serial, "slot": slot.as_str(), "key": public.fingerprint() }),
        );
    }
    println!(
        "credential {serial} is in slot {slot} of the token; use it with --credential {}",
        args.token.token.as_deref().unwrap_or("TOKEN")
    );
    Ok(())
}

fn grant(AdminGrantArgs { ca, role, name }: AdminGrantArgs, json: bool) -> Result<(), CliError> {
    let v =
        super::ca_client(&ca)?.post("/v1/admin/grants", &json!({ "role": role, "name": name }))?;
    if json {
        return print_json(&v);
    }
    let code = field(&v, "code")?;
    println!(
        "granted {role} to {name}; enrollment code (single use, valid 24 h, shown once):\n  {code}"
    );
    println!(
        "they run: symbolon enroll --ca {} --ca-cert ROOT.pem --code {code} --token THEIR.token",
        ca.ca
    );
    Ok(())
}

fn list(AdminListArgs { ca }: AdminListArgs, json: bool) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?.get("/v1/admin/credentials")?;
    if json {
        return print_json(&v);
    }
    for c in v["credentials"].as_array().into_iter().flatten() {
        println!(
            "{}  {:<22} {:<22} {}",
            c["serial"].as_str().unwrap_or("?"),
            c["role"].as_str().unwrap_or("?"),
            c["name"].as_str().unwrap_or("?"),
            c["state"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

fn revoke_credential(
    AdminRevokeCredentialArgs { ca, serial }: AdminRevokeCredentialArgs,
    json: bool,
) -> Result<(), CliError> {
    let path = format!("/v1/admin/credentials/{}/revoke", path_segment(&serial)?);
    let v = super::ca_client(&ca)?.post(&path, &json!({}))?;
    if json {
        return print_json(&v);
    }
    println!("credential {serial} revoked");
    Ok(())
}

fn trust_manufacturer(
    AdminTrustManufacturerArgs { ca, root }: AdminTrustManufacturerArgs,
    json: bool,
) -> Result<(), CliError> {
    let text = String::from_utf8(crate::files::read_input(Some(&root))?)
        .map_err(|_| CliError::new(Code::InvalidInput, "the root is not PEM text"))?;
    let v = super::ca_client(&ca)?.post(
        "/v1/admin/manufacturer-roots",
        &json!({ "certificate": text }),
    )?;
    if json {
        return print_json(&v);
    }
    println!(
        "trusting manufacturer root {} ({})",
        v["subject"].as_str().unwrap_or("?"),
        v["fingerprint"].as_str().unwrap_or("?")
    );
    Ok(())
}

fn manufacturer_roots(
    AdminManufacturerRootsArgs { ca }: AdminManufacturerRootsArgs,
    json: bool,
) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?.get("/v1/admin/manufacturer-roots")?;
    if json {
        return print_json(&v);
    }
    for r in v["roots"].as_array().into_iter().flatten() {
        println!(
            "{}  {}  added by {}",
            r["fingerprint"].as_str().unwrap_or("?"),
            r["subject"].as_str().unwrap_or("?"),
            r["added_by"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

fn set_policy(
    NamePolicySetArgs {
        ca,
        station,
        allow,
        deny,
    }: NamePolicySetArgs,
    json: bool,
) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?.put(
        &format!("/v1/admin/name-policies/{}", name_segment(&station)?),
        &json!({ "allow": allow, "deny": deny }),
    )?;
    if json {
        return print_json(&v);
    }
    print_policy(&v);
    Ok(())
}

fn show_policy(
    NamePolicyShowArgs { ca, station }: NamePolicyShowArgs,
    json: bool,
) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?.get(&format!(
        "/v1/admin/name-policies/{}",
        name_segment(&station)?
    ))?;
    if json {
        return print_json(&v);
    }
    print_policy(&v);
    Ok(())
}

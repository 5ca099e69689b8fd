//! `symbolon ra`: the registration officer's side of step 423 (docs/vetting.md):
//! record a vetted subscriber, list, show and withdraw registrations.

use serde_json::{json, Value};
use symbolon::Code;

use super::ca_client::field;
use crate::cli::{
    RaAcmeEabArgs, RaCommand, RaListArgs, RaRegisterArgs, RaShowArgs, RaWithdrawArgs,
};
use crate::error::CliError;
use crate::output::print_json;

/// A registration id as a path segment: 32 hex digits only.
fn id_segment(id: &str) -> Result<&str, CliError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("{id:?} is not a registration id (32 hex digits; see `symbolon ra list`)"),
        ));
    }
    Ok(id)
}

/// A Unix time as UTC (`2026-12-31T23:59:59Z`).
fn when(v: &Value) -> String {
    v.as_u64()
        .and_then(crate::output::utc)
        .unwrap_or_else(|| v.to_string())
}

fn line(r: &Value) -> String {
    format!(
        "{}  {:<9} {:<28} {:<24} used {}/{}  by {}",
        r["id"].as_str().unwrap_or("?"),
        r["state"].as_str().unwrap_or("?"),
        r["roles"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","))
            .unwrap_or_default(),
        r["subject"].as_str().unwrap_or("?"),
        r["used"],
        r["uses"],
        r["officer"].as_str().unwrap_or("?"),
    )
}

pub(crate) fn run(command: RaCommand, json: bool) -> Result<(), CliError> {
    match command {
        RaCommand::Register(args) => register(args, json),
        RaCommand::List(args) => list(args, json),
        RaCommand::Show(args) => show(args, json),
        RaCommand::Withdraw(args) => withdraw(args, json),
        RaCommand::AcmeEab(args) => acme_eab(args, json),
    }
}

fn register(
    RaRegisterArgs {
        ca,
        identity,
        roles,
        evidence,
        valid,
        uses,
        san,
        enrollment_code,
    }: RaRegisterArgs,
    json: bool,
) -> Result<(), CliError> {
    let roles: Vec<&str> = roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    let v = super::ca_client(&ca)?.post(
        "/v1/ra/registrations",
        &json!({
            "identity": identity, "roles": roles, "evidence": evidence,
            "valid": valid, "uses": uses, "alt_names": san,
            "enrollment_code": enrollment_code,
        }),
    )?;
    if json {
        return print_json(&v);
    }
    println!("{}", field(&v, "id")?);
    if let Some(code) = v["code"].as_str() {
        eprintln!(
            "enrollment code (single use, shown once; the device sends it as the password of HTTP Basic to EST simpleenroll, or as CMP's secret with the id above as -ref):\n  {code}"
        );
    }
    eprintln!(
        "registered {} for {} ({} use(s), until {})",
        v["subject"].as_str().unwrap_or("?"),
        roles.join(", "),
        v["uses"],
        when(&v["expires_at"])
    );
    Ok(())
}

fn list(RaListArgs { ca, all }: RaListArgs, json: bool) -> Result<(), CliError> {
    let state = if all { "all" } else { "live" };
    let v = super::ca_client(&ca)?.get(&format!("/v1/ra/registrations?state={state}"))?;
    if json {
        return print_json(&v);
    }
    for r in v["registrations"].as_array().into_iter().flatten() {
        println!("{}", line(r));
    }
    Ok(())
}

fn show(RaShowArgs { ca, id }: RaShowArgs, json: bool) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?.get(&format!("/v1/ra/registrations/{}", id_segment(&id)?))?;
    if json {
        return print_json(&v);
    }
    println!("{}", line(&v));
    println!("  evidence   {}", v["evidence"].as_str().unwrap_or("?"));
    println!(
        "  made       {} by {} (credential {})",
        when(&v["created_at"]),
        v["officer"].as_str().unwrap_or("?"),
        v["officer_credential"].as_str().unwrap_or("?")
    );
    println!("  expires    {}", when(&v["expires_at"]));
    for n in v["alt_names"].as_array().into_iter().flatten() {
        println!("  alt name   {}", n.as_str().unwrap_or("?"));
    }
    if let Some(r) = v["withdraw_reason"].as_str() {
        println!(
            "  withdrawn by {}: {r}",
            v["withdrawn_by"].as_str().unwrap_or("?")
        );
    }
    for c in v["certificates"].as_array().into_iter().flatten() {
        println!("  certificate {}", c.as_str().unwrap_or("?"));
    }
    Ok(())
}

fn withdraw(RaWithdrawArgs { ca, id, reason }: RaWithdrawArgs, json: bool) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?.post(
        &format!("/v1/ra/registrations/{}/withdraw", id_segment(&id)?),
        &json!({ "reason": reason }),
    )?;
    if json {
        return print_json(&v);
    }
    println!("registration {id} withdrawn");
    Ok(())
}

fn acme_eab(
    RaAcmeEabArgs { ca, station, days }: RaAcmeEabArgs,
    json: bool,
) -> Result<(), CliError> {
    let v = super::ca_client(&ca)?
        .post("/v1/acme/eab", &json!({ "station": station, "days": days }))?;
    if json {
        return print_json(&v);
    }
    println!("kid       {}", field(&v, "kid")?);
    println!("hmac key  {}", field(&v, "hmac_key")?);
    eprintln!(
        "binds one ACME account for station {station} until {} (shown once: certbot --eab-kid/--eab-hmac-key, lego --kid/--hmac)",
        when(&v["expires_at"])
    );
    Ok(())
}

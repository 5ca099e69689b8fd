//! `symbolon revoke`, `symbolon certificates …`, `symbolon crl fetch`
//! (docs/revocation.md): thin calls to the service; a subscriber's
//! revocation is signed here, inside its token.

use serde_json::{json, Value};
use symbolon::keys::Fingerprint;
use symbolon::keys::{EcSigningInput, MessageDigest, PublicKey};
use symbolon::revocation::self_request::{statement, SCHEME};
use symbolon::revocation::{read_crl, RevocationReason, SelfRevocation};
use symbolon::token::Token;
use symbolon::token::{SlotName, TokenSerial};
use symbolon::x509::{certificate_key, certificate_public_key, parse_certificate};
use symbolon::Code;
use symbolon_store::CertificateSerial;
use symbolon_token::open::TokenSpec;

use super::ca_client::CaClient;
use crate::cli::{
    CaArgs, CertificatesCommand, CertificatesExpiringArgs, CertificatesListArgs,
    CertificatesReleaseArgs, CrlCommand, CrlFetchArgs, RevokeArgs,
};

use crate::error::CliError;
use crate::output::print_json;

fn invalid(message: impl Into<String>) -> CliError {
    CliError::new(Code::InvalidInput, message)
}

fn serial_arg(s: &str) -> Result<CertificateSerial, CliError> {
    s.parse()
        .map_err(|e: symbolon_store::StoreError| invalid(e.to_string()))
}

fn reason_arg(s: &str) -> Result<RevocationReason, CliError> {
    s.parse()
        .map_err(|e: symbolon::revocation::RevocationError| invalid(e.to_string()))
}

/// A time as Unix seconds or `YYYY-MM-DDTHH:MM:SSZ`.
fn time_arg(s: &str) -> Result<i64, CliError> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    s.parse::<der::DateTime>()
        .map(|d| d.unix_duration().as_secs() as i64)
        .map_err(|_| invalid(format!("{s:?}: Unix seconds or YYYY-MM-DDTHH:MM:SSZ")))
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The issuing CA's certificate, as the pinned service sends it.
pub(crate) fn issuing_ca(client: &CaClient) -> Result<Vec<u8>, CliError> {
    let v = client.get("/v1/ca/certificate")?;
    let pem = super::ca_client::field(&v, "certificate")?;
    let (_, der) = symbolon::pem::decode(pem.as_bytes(), &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::BadResponse, format!("the CA certificate: {e}")))?;
    Ok(der)
}

/// Signs a statement (self-revocation, renewal) with a slot's key inside the
/// token, as the CA checks it (docs/revocation.md): PKCS#1 v1.5 SHA-256 for
/// RSA, ECDSA with the curve's hash or Ed25519 for EC.
pub(crate) fn sign_statement(
    token: &dyn Token,
    slot: &SlotName,
    statement: &[u8],
) -> Result<Vec<u8>, CliError> {
    Ok(match token.slot_public_key(slot)? {
        PublicKey::Rsa(_) => {
            token.sign(slot, SCHEME, &MessageDigest::of(SCHEME.hash(), statement))?
        }
        PublicKey::Ec(k) => match k.curve().natural_hash() {
            Some(h) => token.sign_ec(
                slot,
                EcSigningInput::Digest(&MessageDigest::of(h, statement)),
            )?,
            None => token.sign_ec(slot, EcSigningInput::Message(statement))?,
        },
    })
}

pub(crate) fn ca_fingerprint(der: &[u8]) -> Result<Fingerprint, CliError> {
    let cert = parse_certificate(der)
        .map_err(|e| CliError::new(Code::BadResponse, format!("the CA certificate: {e}")))?;
    Ok(certificate_key(&cert)
        .map_err(|e| CliError::new(Code::BadResponse, format!("the CA certificate: {e}")))?
        .fingerprint())
}

/// The subscriber's own revocation, signed inside its token.
fn revoke_self(
    args: &RevokeArgs,
    token: &str,
    reason: RevocationReason,
) -> Result<Value, CliError> {
    let slot = SlotName::new(
        args.slot
            .as_deref()
            .ok_or_else(|| invalid("--token needs --slot: the slot of the certified key"))?,
    )?;
    let token = TokenSpec::parse(token, args.sealing_key.as_deref())?.open()?;
    let serial = match &args.serial {
        Some(s) => serial_arg(s)?,
        None => {
            let der = token.certificate(&slot)?;
            let cert = parse_certificate(&der).map_err(|e| invalid(e.to_string()))?;
            CertificateSerial::from_bytes(cert.tbs_certificate().serial_number().as_bytes())
        }
    };
    let client = super::ca_client(&args.ca)?;
    let ca = ca_fingerprint(&issuing_ca(&client)?)?;
    let at = now();
    let signature = sign_statement(
        token.as_ref(),
        &slot,
        &statement(&ca, serial.as_str(), reason, at),
    )?;
    let statement = SelfRevocation {
        serial: serial.as_str().to_string(),
        reason,
        signed_at: at,
        signature: hex::encode(signature),
    };
    client.post("/v1/revocations/self", &json!(statement))
}

pub(crate) fn revoke(args: &RevokeArgs, json: bool) -> Result<(), CliError> {
    let reason = args.reason.as_deref().map(reason_arg).transpose()?;
    let v = if let Some(token) = &args.token {
        let reason = reason.ok_or_else(|| invalid("--reason is needed"))?;
        revoke_self(args, token, reason)?
    } else if let Some(device) = &args.device {
        let device: TokenSerial = device
            .parse()
            .map_err(|e: symbolon::token::TokenError| invalid(e.to_string()))?;
        let client = super::ca_client(&args.ca)?;
        if args.tampered {
            client.post(&format!("/v1/tokens/{device}/tampered"), &json!({}))?
        } else {
            let reason = reason.ok_or_else(|| invalid("--reason is needed"))?;
            client.post(
                &format!("/v1/tokens/{device}/revoke"),
                &json!({ "reason": reason }),
            )?
        }
    } else {
        let serial = serial_arg(args.serial.as_deref().unwrap_or_default())?;
        let reason = reason.ok_or_else(|| invalid("--reason is needed"))?;
        let invalid_since = args.invalid_since.as_deref().map(time_arg).transpose()?;
        super::ca_client(&args.ca)?.post(
            &format!("/v1/certificates/{serial}/revoke"),
            &json!({ "reason": reason, "invalid_since": invalid_since }),
        )?
    };
    if json {
        return print_json(&v);
    }
    match (&v["serial"], &v["token"]) {
        (Value::String(s), _) => println!("revoked {s} ({})", v["reason"].as_str().unwrap_or("?")),
        (_, Value::String(t)) => println!(
            "revoked {} certificate(s) of device {t} ({})",
            v["revoked"],
            v["reason"].as_str().unwrap_or("?")
        ),
        _ => print_json(&v)?,
    }
    Ok(())
}

/// A Unix time as UTC.
fn when(v: &Value) -> String {
    v.as_u64()
        .and_then(crate::output::utc)
        .unwrap_or_else(|| "-".to_string())
}

fn print_listing(v: &Value) {
    for c in v["certificates"].as_array().into_iter().flatten() {
        let reason = c["reason"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        println!(
            "{}  {:<8}{reason}  until {}  {}  {}",
            c["serial"].as_str().unwrap_or("?"),
            c["status"].as_str().unwrap_or("?"),
            when(&c["not_after"]),
            c["profile"].as_str().unwrap_or("?"),
            c["subject"].as_str().unwrap_or("?"),
        );
    }
}

pub(crate) fn certificates(command: CertificatesCommand, json: bool) -> Result<(), CliError> {
    let v = match command {
        CertificatesCommand::List(args) => list(args)?,
        CertificatesCommand::Expiring(args) => expiring(args)?,
        CertificatesCommand::Release(args) => return release(args, json),
    };
    if json {
        return print_json(&v);
    }
    print_listing(&v);
    Ok(())
}

pub(crate) fn crl(command: CrlCommand, _json: bool) -> Result<(), CliError> {
    let CrlCommand::Fetch(CrlFetchArgs {
        ca,
        out,
        pem,
        delta,
    }) = command;
    let client = super::ca_client(&ca)?;
    let path = if delta { "/v1/crl/delta" } else { "/v1/crl" };
    let der = client.get_document(path, "application/pkix-crl")?;
    let read = check_crl(&ca, &client, &der)?;
    is_what_was_asked(&read, delta, now()).map_err(|m| {
        CliError::new(
            Code::BadResponse,
            format!("the service answered {path} {m}"),
        )
    })?;
    if delta {
        eprintln!(
            "a delta CRL lists only the changes since full CRL {}: use it beside that full CRL or a newer one (openssl verify -crl_check -use_deltas), never alone",
            read.delta_of.unwrap_or_default()
        );
    }
    let data = if pem {
        symbolon::pem::encode("X509 CRL", &der).into_bytes()
    } else {
        der
    };
    crate::files::write_output(out.as_deref(), &data, false)
}

/// Clock difference tolerated between the service and this machine.
const CLOCK_SKEW: i64 = 300;

/// A CRL is what the caller asked for: a delta CRL when `delta`, a full one
/// otherwise (the caller combines them differently), and current at `now`
/// (an old CRL replayed by something between hides later revocations).
fn is_what_was_asked(
    read: &symbolon::revocation::CrlSummary,
    delta: bool,
    now: i64,
) -> Result<(), String> {
    if read.delta_of.is_some() != delta {
        return Err(format!(
            "with a {} CRL",
            if delta { "full" } else { "delta" }
        ));
    }
    if read.this_update > now + CLOCK_SKEW {
        return Err(format!(
            "with CRL {} issued in the future ({}; now {now}): check this machine's clock",
            read.number, read.this_update
        ));
    }
    match read.next_update {
        Some(next) if next + CLOCK_SKEW < now => Err(format!(
            "with CRL {}, stale since {next} (now {now}): an old CRL, replayed or never renewed",
            read.number
        )),
        None => Err(format!(
            "with CRL {}, which names no next update",
            read.number
        )),
        Some(_) => Ok(()),
    }
}

/// A CRL is written only once its signature checks against the CA.
fn check_crl(
    ca: &CaArgs,
    client: &CaClient,
    der: &[u8],
) -> Result<symbolon::revocation::CrlSummary, CliError> {
    let ca_der = match &ca.ca_cert {
        Some(path) => {
            let text = crate::files::read_text(path)?;
            symbolon::pem::decode(text.as_bytes(), &["CERTIFICATE"])
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?
                .1
        }
        None => issuing_ca(client)?,
    };
    let key =
        certificate_public_key(&parse_certificate(&ca_der).map_err(|e| invalid(e.to_string()))?)
            .map_err(|e| invalid(e.to_string()))?;
    read_crl(der, &key).map_err(|e| CliError::new(Code::BadSignature, e.to_string()))
}

fn list(
    CertificatesListArgs { ca, status, limit }: CertificatesListArgs,
) -> Result<serde_json::Value, CliError> {
    let mut path = format!("/v1/certificates?limit={}", limit.clamp(1, 10_000));
    if let Some(s) = status {
        if !["all", "good", "on-hold", "revoked", "expired"].contains(&s.as_str()) {
            return Err(invalid(format!(
                "--status {s:?}: good, on-hold, revoked, expired or all"
            )));
        }
        path.push_str(&format!("&status={s}"));
    }
    super::ca_client(&ca)?.get(&path)
}

fn expiring(
    CertificatesExpiringArgs { ca, within, limit }: CertificatesExpiringArgs,
) -> Result<serde_json::Value, CliError> {
    let secs = symbolon::duration::parse(&within)
        .filter(|s| (1..=10 * 366 * 86_400).contains(s))
        .ok_or_else(|| {
            invalid(format!(
                "--within {within:?}: a duration such as 30d, 12h or 90m, at most ten years"
            ))
        })?;
    super::ca_client(&ca)?.get(&format!(
        "/v1/certificates?expiring_within={secs}&limit={}",
        limit.clamp(1, 10_000)
    ))
}

fn release(
    CertificatesReleaseArgs { ca, serial }: CertificatesReleaseArgs,
    json: bool,
) -> Result<(), CliError> {
    let serial = serial_arg(&serial)?;
    let v =
        super::ca_client(&ca)?.post(&format!("/v1/certificates/{serial}/release"), &json!({}))?;
    if json {
        return print_json(&v);
    }
    println!("released {serial}: good again");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use symbolon::revocation::CrlSummary;

    fn summary(delta_of: Option<u64>, this_update: i64, next_update: Option<i64>) -> CrlSummary {
        CrlSummary {
            number: 9,
            this_update,
            next_update,
            entries: Vec::new(),
            delta_of,
            removed: Vec::new(),
        }
    }

    #[test]
    fn a_crl_of_the_wrong_kind_or_time_is_refused() {
        let now = 1_900_000_000;
        let day = 86_400;
        let current = |delta_of| summary(delta_of, now - 60, Some(now + day));
        assert_eq!(is_what_was_asked(&current(None), false, now), Ok(()));
        assert_eq!(is_what_was_asked(&current(Some(3)), true, now), Ok(()));
        // The other kind.
        let e = is_what_was_asked(&current(Some(3)), false, now).unwrap_err();
        assert!(e.contains("delta CRL"), "{e}");
        let e = is_what_was_asked(&current(None), true, now).unwrap_err();
        assert!(e.contains("full CRL"), "{e}");
        // Stale: past its next update (beyond the clock skew allowed).
        let old = summary(None, now - 2 * day, Some(now - day));
        let e = is_what_was_asked(&old, false, now).unwrap_err();
        assert!(e.contains("stale"), "{e}");
        let just = summary(None, now - day, Some(now - CLOCK_SKEW / 2));
        assert_eq!(is_what_was_asked(&just, false, now), Ok(()));
        // From the future, or without a next update.
        let ahead = summary(None, now + 2 * CLOCK_SKEW, Some(now + day));
        assert!(is_what_was_asked(&ahead, false, now)
            .unwrap_err()
            .contains("future"));
        let open = summary(None, now, None);
        assert!(is_what_was_asked(&open, false, now)
            .unwrap_err()
            .contains("no next update"));
    }
}

//! `symbolon renew` (docs/revocation.md): a new key made and attested in
//! the token, a request it signs under the old certificate's subject and
//! names, the old key's authorisation, the CA's signed answer checked
//! against the pinned root, the certificate written under the station's
//! issuer signature, the delivery reported (which supersedes the old one).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use symbolon::ca::attestation_nonce;
use symbolon::keys::KeyAlgorithm;
use symbolon::pem;
use symbolon::revocation::renewal::renewal_statement;
use symbolon::token::SlotName;
use symbolon::x509::{parse_certificate, AltNames};
use symbolon::Code;
use symbolon_store::CertificateSerial;

use symbolon::issuer::TokenTarget;
use symbolon_client::station::{csr_on_token, nonce, Station};

use super::issuer::load;
use super::open_token;
use super::revocation::{ca_fingerprint, issuing_ca, now, sign_statement};
use crate::cli::RenewArgs;
use crate::error::CliError;
use crate::files::{read_input, write_output};
use crate::output::print_json;

pub(crate) fn run(args: &RenewArgs, json_out: bool) -> Result<(), CliError> {
    let (_, root) = pem::decode(&read_input(Some(&args.ca_cert))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--ca-cert: {e}")))?;
    let issuer = load(&crate::cli::IssuerDir {
        issuer: args.issuer.clone(),
    })?;
    let old_slot = SlotName::new(&args.slot)?;
    let new_slot = SlotName::new(&args.new_slot)?;
    let mut token = open_token(&args.token)?;
    let old = parse_certificate(&token.certificate(&old_slot)?)
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--slot's certificate: {e}")))?;
    let old_serial =
        CertificateSerial::from_bytes(old.tbs_certificate().serial_number().as_bytes());
    let subject = old.tbs_certificate().subject().clone();
    let names = AltNames::of_certificate(&old)?;
    let algorithm: KeyAlgorithm = match &args.algorithm {
        Some(a) => a.parse()?,
        None => token.slot_public_key(&old_slot)?.algorithm(),
    };
    let ca = super::connect(&args.ca, Some(&args.ca_cert))?;
    let ca_key = ca_fingerprint(&issuing_ca(&ca)?)?;

    // A key the token made for an earlier attempt the CA refused (no
    // certificate yet) is used again; any other occupied slot is refused.
    let existing = token.info()?.slots.into_iter().find(|s| s.name == new_slot);
    let reused = existing.is_some();
    let public = match existing {
        None => token.generate_key(&new_slot, algorithm)?,
        Some(s) if !s.has_certificate && s.origin == symbolon::token::KeyOrigin::Generated => {
            token.slot_public_key(&new_slot)?
        }
        Some(_) => {
            return Err(CliError::new(
                Code::SlotOccupied,
                format!("slot {new_slot:?} already holds a key; name a new --new-slot"),
            ))
        }
    };
    let csr = csr_on_token(token.as_ref(), &new_slot, &subject, &names, &public)?;
    let attestation = token.attest(&new_slot, &attestation_nonce(&csr))?;
    let at = now();
    let signature = sign_statement(
        token.as_ref(),
        &old_slot,
        &renewal_statement(&ca_key, old_serial.as_str(), &public.fingerprint(), at),
    )?;
    let n = nonce()?;
    let body = json!({
        "csr": pem::encode("CERTIFICATE REQUEST", &csr),
        "nonce": B64.encode(&n),
        "old_serial": old_serial,
        "signed_at": at,
        "signature": hex::encode(signature),
        "attestation": serde_json::from_str::<serde_json::Value>(&attestation.to_json()?)
            .map_err(|e| CliError::new(Code::Internal, format!("attestation: {e}")))?,
    });
    // The same key again gets the same certificate while its delivery was
    // not reported (an answer lost on the way); a key whose certificate was
    // revoked undelivered is used up.
    let station = Station::new(ca.service(), &root, &issuer);
    let (serial, cert) = station
        .certify_at("/v1/renewals", &body, &n, &public)
        .map_err(|e| {
            let e = CliError::from(e);
            if reused && e.code == Code::DuplicateKey {
                e.hint(format!(
                    "the key in {new_slot:?} was certified by an earlier attempt that was not delivered; name another --new-slot"
                ))
            } else {
                e
            }
        })?;
    let token_serial = token.info()?.serial;
    station.deliver(&serial, &token_serial, || {
        let t = TokenTarget::of(token.as_ref())?;
        let cmd = issuer.authorize_certificate(&t, &new_slot, cert.clone())?;
        token.write_certificate(&cmd)?;
        Ok(())
    })?;
    let cert_pem = pem::encode("CERTIFICATE", &cert);
    if let Some(out) = &args.out {
        write_output(Some(out), cert_pem.as_bytes(), false)?;
    }
    if json_out {
        return print_json(&json!({
            "serial": serial, "renews": old_serial, "token": token_serial, "slot": new_slot,
            "fingerprint": public.fingerprint(), "certificate": cert_pem,
        }));
    }
    println!("certificate {serial} renews {old_serial} (now superseded): token {token_serial} slot {new_slot}");
    println!("key {} (generated on the token)", public.fingerprint());
    Ok(())
}

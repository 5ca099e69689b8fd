//! `symbolon attestation verify`.

use serde_json::json;
use symbolon::keys::{IdentityPublicKey, PublicKey, RsaPublicKey};
use symbolon::token::Attestation;

use super::parse_hex;
use crate::cli::{AttestationCommand, AttestationVerifyArgs};
use crate::error::CliError;
use crate::files::{read_input, read_text};
use crate::output::print_json;

pub(crate) fn run(cmd: AttestationCommand, json: bool) -> Result<(), CliError> {
    let AttestationCommand::Verify(AttestationVerifyArgs {
        input,
        device_key,
        public_key,
        nonce,
    }) = cmd;
    let att = Attestation::from_json(&read_text(&input)?)?;
    let device = IdentityPublicKey::from_pem_or_der(&read_input(Some(&device_key))?)?;
    let expected_key = match public_key {
        Some(p) => {
            // SPKI (RSA or EC), or an RSA key in PKCS#1 form.
            let bytes = read_input(Some(&p))?;
            Some(PublicKey::from_pem_or_der(&bytes).or_else(|e| {
                RsaPublicKey::from_pem_or_der(&bytes)
                    .map(PublicKey::Rsa)
                    .map_err(|_| e)
            })?)
        }
        None => None,
    };
    let nonce = nonce.map(|n| parse_hex("--nonce", &n)).transpose()?;
    let s = att.verify(&device, expected_key.as_ref(), nonce.as_deref())?;
    if json {
        print_json(&json!({
            "valid": true, "token": s.token, "slot": s.slot, "public_key": s.public_key.fingerprint(),
            "origin": s.origin, "exportable": s.exportable, "device_key": s.device_key.fingerprint(),
        }))
    } else {
        println!("attestation valid: token {} slot {}", s.token, s.slot);
        println!(
            "key {}: {}, not exportable",
            s.public_key.fingerprint(),
            s.origin
        );
        Ok(())
    }
}

//! `symbolon issue`: the issuance station (patent: key generation device
//! 130, FIG. 2; and embodiment 4, where the token generates).
//!
//! Station-generated (embodiment 1/2): generate the key pair in this process
//! → reserve the public key in the registry → PKCS#10 signed by the new key
//! → the CA → verify the signed, nonce-bound response and its chain against
//! the pinned root → write key (wrapped to the token's transport key) and
//! certificate into the token under the station's issuer signature → wipe →
//! record the delivery. A failure before certification abandons the
//! reservation; after it, the delivery record says the certificate was not
//! delivered (its key is wiped, so the certificate is unusable).
//!
//! Token-generated (embodiment 4, `--on-token`): the token generates, signs
//! the request and attests it; the station relays and writes the certificate.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use symbolon::ca::{attestation_nonce, CertifyResponse};
use symbolon::escrow::{ArbitratorPublic, EscrowDeposit, Policy};
use symbolon::issuer::IssuerIdentity;
use symbolon::keys::{KeyAlgorithm, PrivateKey, PublicKey, SignatureScheme};
use symbolon::pem;
use symbolon::token::{SlotName, Token, TokenSerial};
use symbolon::x509::{
    build_csr_with_names, build_ec_csr_with_names, parse_identity, AltNames, CertificateRole,
    EcSigner, Name, RsaSigner,
};
use symbolon::Code;

use super::ca_client::CaClient;
use super::issuer::{load, target};
use super::open_token;
use crate::cli::IssueArgs;
use crate::error::CliError;
use crate::files::{read_input, write_output};
use crate::output::print_json;

pub(crate) fn nonce() -> Result<Vec<u8>, CliError> {
    let mut n = vec![0u8; 32];
    symbolon::keys::random_bytes(&mut n)?;
    Ok(n)
}

fn certify_body(csr: &[u8], args: &IssueArgs, nonce: &[u8]) -> Value {
    json!({
        "csr": pem::encode("CERTIFICATE REQUEST", csr),
        "identity": args.identity,
        "role": args.role,
        "nonce": B64.encode(nonce),
    })
}

/// One issuance's parties and inputs, shared by the two ways its key is
/// made (FIG. 4–6: the station relays; the key is born in the token, or
/// made by the station and written into the token).
struct Issuance<'a> {
    args: &'a IssueArgs,
    ca: CaClient,
    root: Vec<u8>,
    issuer: IssuerIdentity,
    token: Box<dyn Token + Send + Sync>,
    slot: SlotName,
    subject: Name,
    names: AltNames,
    nonce: Vec<u8>,
    token_serial: TokenSerial,
}

pub(crate) fn run(args: &IssueArgs, json_out: bool) -> Result<(), CliError> {
    let role: CertificateRole = args.role.parse()?;
    let asked: Option<KeyAlgorithm> = args.algorithm.as_deref().map(str::parse).transpose()?;
    let algorithm = asked.unwrap_or(KeyAlgorithm::Rsa(symbolon::keys::RsaAlgorithm::Rsa2048));
    let subject = parse_identity(&args.identity)?;
    let names = AltNames::parse_tagged(args.san.iter().map(String::as_str))
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--san: {e}")))?;
    let slot = SlotName::new(&args.slot.slot)?;
    let (_, root) = pem::decode(&read_input(Some(&args.ca_cert))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--ca-cert: {e}")))?;
    let issuer = load(&crate::cli::IssuerDir {
        issuer: args.issuer.clone(),
    })?;
    let token = open_token(&args.token)?;
    let escrow = match &args.escrow {
        Some(_) if args.on_token => {
            return Err(CliError::new(
                Code::InvalidInput,
                "--escrow needs a station-generated key: a key born in the token never leaves it, so it cannot be escrowed",
            ))
        }
        Some(text) => Some(Policy::parse(text).map_err(|e| CliError::new(Code::InvalidInput, e.to_string()))?),
        None => None,
    };
    let ca = super::connect(&args.ca, Some(&args.ca_cert))?;
    let reuse = reusable_slot(token.as_ref(), &slot, args.on_token, asked)?;
    let token_serial = token.info()?.serial;
    let mut issuance = Issuance {
        args,
        ca,
        root,
        issuer,
        token,
        slot,
        subject,
        names,
        nonce: nonce()?,
        token_serial,
    };
    let (public, serial, cert_der, escrowed) = if args.on_token {
        let (public, serial, cert) = issuance.on_token(reuse, algorithm)?;
        (public, serial, cert, None)
    } else {
        issuance.station_key(algorithm, escrow.as_ref())?
    };

    let cert_pem = pem::encode("CERTIFICATE", &cert_der);
    if let Some(out) = &args.out {
        write_output(Some(out), cert_pem.as_bytes(), false)?;
    }
    let slot = &issuance.slot;
    if json_out {
        print_json(&json!({
            "serial": serial, "fingerprint": public.fingerprint(), "token": token_serial,
            "slot": slot, "role": role, "generated_on_token": args.on_token, "certificate": cert_pem,
            "escrow": escrowed,
        }))
    } else {
        println!(
            "certificate {serial} for {} issued to token {token_serial} slot {slot}",
            args.identity
        );
        println!(
            "key {} ({})",
            public.fingerprint(),
            if args.on_token {
                "generated on the token"
            } else {
                "generated by the station, now only in the token"
            }
        );
        if let Some(id) = escrowed {
            println!(
                "escrowed as {id} under {}",
                args.escrow.as_deref().unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// Whether `slot` already holds a key to certify: one the token generated
/// that has no certificate yet (an earlier --on-token attempt the CA
/// refused) can be; any other occupied slot is refused.
fn reusable_slot(
    token: &dyn Token,
    slot: &SlotName,
    on_token: bool,
    asked: Option<KeyAlgorithm>,
) -> Result<bool, CliError> {
    let existing = token.info()?.slots.into_iter().find(|s| &s.name == slot);
    match &existing {
        None => Ok(false),
        Some(s)
            if on_token
                && !s.has_certificate
                && s.origin == symbolon::token::KeyOrigin::Generated =>
        {
            // The key left there is certified as it is: an --algorithm
            // that names another kind is a mistake, not a request to
            // replace it.
            if let Some(a) = asked.filter(|a| *a != s.algorithm) {
                return Err(CliError::new(
                    Code::SlotOccupied,
                    format!(
                        "slot {slot:?} already holds a {} key the token made (not yet certified), not a {a} key; certify it without --algorithm, or name another --slot",
                        s.algorithm
                    ),
                ));
            }
            Ok(true)
        }
        Some(_) => Err(CliError::new(
            Code::SlotOccupied,
            format!("slot {slot:?} already holds a key; keys are never replaced"),
        )),
    }
}

impl Issuance<'_> {
    /// Embodiment 4: the key is born in the token; the station relays its
    /// CSR and attestation, and writes the certificate back.
    fn on_token(
        &mut self,
        reuse: bool,
        algorithm: KeyAlgorithm,
    ) -> Result<(PublicKey, String, Vec<u8>), CliError> {
        let public = if reuse {
            self.token.slot_public_key(&self.slot)?
        } else {
            self.token.generate_key(&self.slot, algorithm)?
        };
        let csr = csr_on_token(
            self.token.as_ref(),
            &self.slot,
            &self.subject,
            &self.names,
            &public,
        )?;
        save_csr(self.args, &csr)?;
        let att = self.token.attest(&self.slot, &attestation_nonce(&csr))?;
        let mut body = certify_body(&csr, self.args, &self.nonce);
        body["attestation"] = serde_json::from_str(&att.to_json()?)
            .map_err(|e| CliError::new(Code::Internal, format!("attestation: {e}")))?;
        let (serial, cert) = certify(&self.ca, &body, &self.root, &self.nonce, &public)?;
        let (token, issuer, slot) = (&mut self.token, &self.issuer, &self.slot);
        deliver(&self.ca, &serial, &self.token_serial, || {
            let t = target(token.as_ref())?;
            let cmd = issuer.authorize_certificate(&t, slot, cert.clone())?;
            token.write_certificate(&cmd)?;
            Ok(())
        })?;
        Ok((public, serial, cert))
    }

    /// Embodiments 1 and 2: the station makes the key, reserves it,
    /// certifies it, escrows it when asked, writes key and certificate into
    /// the token, and wipes its own copy. Returns the escrow's id too.
    fn station_key(
        &mut self,
        algorithm: KeyAlgorithm,
        escrow: Option<&Policy>,
    ) -> Result<(PublicKey, String, Vec<u8>, Option<String>), CliError> {
        let key = PrivateKey::generate(algorithm)?;
        let mut escrow_id = None;
        let public = key.public_key();
        let reserved = self.ca.post(
            "/v1/reservations",
            &json!({ "public_key": public.to_pem() }),
        )?;
        let reservation: symbolon_store::ReservationId = reserved["reservation"]
            .as_str()
            .ok_or_else(|| {
                CliError::new(Code::BadResponse, "the CA's answer names no reservation")
            })?
            .parse()
            .map_err(|e| CliError::new(Code::BadResponse, format!("the CA's reservation: {e}")))?;
        let outcome = (|| {
            let csr = match &key {
                PrivateKey::Rsa(k) => {
                    let signer =
                        RsaSigner::new(k.public_key().clone(), SignatureScheme::Pkcs1Sha256)?;
                    build_csr_with_names(&self.subject, &self.names, &signer, |s, d| {
                        k.sign_digest(s, d)
                    })?
                }
                PrivateKey::Ec(k) => {
                    let signer = EcSigner::new(k.public_key().clone())?;
                    build_ec_csr_with_names(&self.subject, &self.names, &signer, |input| {
                        k.sign(input)
                    })?
                }
            };
            save_csr(self.args, &csr)?;
            let mut body = certify_body(&csr, self.args, &self.nonce);
            body["reservation"] = reservation.to_string().into();
            certify(&self.ca, &body, &self.root, &self.nonce, &public)
        })();
        let (serial, cert) = match outcome {
            Ok(v) => v,
            Err(e) => {
                let reason = format!("station failed before delivery: {}", e.message);
                if let Err(abandon) = self.ca.post(
                    &format!("/v1/reservations/{reservation}/abandon"),
                    &json!({ "reason": reason }),
                ) {
                    tracing::warn!(error = %abandon.message, "could not abandon the reservation");
                }
                return Err(e);
            }
        };
        let (ca, token, issuer, slot) = (&self.ca, &mut self.token, &self.issuer, &self.slot);
        let token_serial = self.token_serial;
        deliver(ca, &serial, &token_serial, || {
            // Escrow first: a key that is to be escrowed enters the token
            // only once its deposit is recorded.
            if let Some(policy) = escrow {
                let device = token.device_key()?.fingerprint();
                let id = deposit_escrow(ca, &key, policy, token_serial, device)?;
                escrow_id = Some(id);
            }
            let t = target(token.as_ref())?;
            let cmd = issuer.authorize_key(&t, slot, &key)?;
            token.accept_key(&cmd)?;
            let t = target(token.as_ref())?;
            let cmd = issuer.authorize_certificate(&t, slot, cert.clone())?;
            token.write_certificate(&cmd)?;
            Ok(())
        })?;
        drop(key); // zeroised: the only copy now lives in the token
        Ok((public, serial, cert, escrow_id))
    }
}

/// Deposits `key` under `policy` with the CA's registry: the arbitrators'
/// public parts from the registry, the record and envelopes back to it.
fn deposit_escrow(
    ca: &CaClient,
    key: &PrivateKey,
    policy: &Policy,
    token: symbolon::token::TokenSerial,
    device: symbolon::keys::Fingerprint,
) -> Result<String, CliError> {
    let mut arbitrators = Vec::new();
    for a in policy.arbitrators() {
        let v = ca.get(&format!("/v1/arbitrators/{a}"))?;
        arbitrators.push(ArbitratorPublic {
            id: a.clone(),
            share_recipient: super::ca_client::field(&v, "share_recipient")?.to_string(),
            approval_key: symbolon::keys::IdentityPublicKey::from_pem_or_der(
                super::ca_client::field(&v, "approval_key")?.as_bytes(),
            )?,
        });
    }
    let (deposit, envelopes) = EscrowDeposit::create(key, policy, &arbitrators, token, device)?;
    let envelopes: serde_json::Map<String, Value> = envelopes
        .into_iter()
        .map(|e| {
            (
                e.arbitrator.to_string(),
                Value::String(B64.encode(e.envelope)),
            )
        })
        .collect();
    ca.post(
        "/v1/escrows",
        &json!({ "record": B64.encode(deposit.encode()), "envelopes": envelopes }),
    )?;
    Ok(deposit.id.to_string())
}

fn save_csr(args: &IssueArgs, csr: &[u8]) -> Result<(), CliError> {
    match &args.csr_out {
        Some(p) => write_output(
            Some(p),
            pem::encode("CERTIFICATE REQUEST", csr).as_bytes(),
            false,
        ),
        None => Ok(()),
    }
}

/// A PKCS#10 request for `subject` and `names`, signed inside the token by
/// the key in `slot` (whose public half is `public`): RSA PKCS#1 v1.5
/// SHA-256, or ECDSA/Ed25519 for an EC key.
pub(crate) fn csr_on_token(
    token: &dyn symbolon::token::Token,
    slot: &SlotName,
    subject: &symbolon::x509::Name,
    names: &AltNames,
    public: &PublicKey,
) -> Result<Vec<u8>, CliError> {
    Ok(match public {
        PublicKey::Rsa(k) => {
            let signer = RsaSigner::new(k.clone(), SignatureScheme::Pkcs1Sha256)?;
            build_csr_with_names(subject, names, &signer, |s, d| token.sign(slot, s, d))?
        }
        PublicKey::Ec(k) => {
            let signer = EcSigner::new(k.clone())?;
            build_ec_csr_with_names(subject, names, &signer, |input| token.sign_ec(slot, input))?
        }
    })
}

/// Sends the request and checks the answer (steps 432–433).
fn certify(
    ca: &CaClient,
    body: &Value,
    root: &[u8],
    nonce: &[u8],
    public: &PublicKey,
) -> Result<(String, Vec<u8>), CliError> {
    certify_at(ca, "/v1/certify", body, root, nonce, public)
}

/// Sends a request for a certificate to `path` (`/v1/certify`,
/// `/v1/renewals`) and checks the signed, nonce-bound answer against the
/// pinned root and the key it must certify.
pub(crate) fn certify_at(
    ca: &CaClient,
    path: &str,
    body: &Value,
    root: &[u8],
    nonce: &[u8],
    public: &PublicKey,
) -> Result<(String, Vec<u8>), CliError> {
    let answer = ca.post(path, body)?;
    let serial = answer["serial"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CliError::new(Code::BadResponse, "the CA's answer names no serial"))?
        .to_string();
    let response = CertifyResponse::from_json(&answer)?;
    // The serial the station reports on is the certificate's own, never the
    // answer's unsigned field: a forged answer cannot make it report on
    // another certificate.
    let serial_of = |der: &[u8]| {
        symbolon::x509::parse_certificate(der)
            .ok()
            .filter(|c| symbolon::x509::certificate_public_key(c).ok().as_ref() == Some(public))
            .map(|c| hex::encode(c.tbs_certificate().serial_number().as_bytes()))
    };
    match response.verify(root, nonce, public.clone()) {
        Ok(cert) => {
            let own = hex::encode(cert.tbs_certificate().serial_number().as_bytes());
            if own != serial.to_ascii_lowercase() {
                return Err(CliError::new(
                    Code::BadResponse,
                    format!("the CA's answer names serial {serial}, its certificate is {own}"),
                ));
            }
            Ok((own, response.certificate))
        }
        Err(e) => {
            // The CA may have issued, but this answer cannot be trusted: it
            // is reported only when its certificate is about this key and
            // carries the serial the answer names.
            let e: CliError = e.into();
            match serial_of(&response.certificate).filter(|s| *s == serial.to_ascii_lowercase()) {
                Some(own) => Err(report_undelivered(
                    ca,
                    &own,
                    &json!({ "delivered": false, "reason": format!("response refused by the station: {}", e.message) }),
                    e,
                )),
                None => Err(e),
            }
        }
    }
}

/// Writes into the token and records the outcome with the CA.
pub(crate) fn deliver(
    ca: &CaClient,
    serial: &str,
    token_serial: &symbolon::token::TokenSerial,
    write: impl FnOnce() -> Result<(), CliError>,
) -> Result<(), CliError> {
    match write() {
        Ok(()) => {
            ca.post(
                &format!("/v1/certificates/{serial}/delivery"),
                &json!({ "token": token_serial, "delivered": true }),
            )?;
            Ok(())
        }
        Err(e) => {
            let report = json!({ "token": token_serial, "delivered": false, "reason": e.message });
            Err(report_undelivered(ca, serial, &report, e))
        }
    }
}

/// Tells the CA a certificate was not delivered; the station's own error
/// stands, and a report that did not reach the CA is added to it as a hint.
fn report_undelivered(ca: &CaClient, serial: &str, report: &Value, e: CliError) -> CliError {
    match ca.post(&format!("/v1/certificates/{serial}/delivery"), report) {
        Ok(_) => e,
        Err(lost) => {
            tracing::warn!(error = %lost.message, "cannot report the failed delivery");
            e.hint(format!(
                "the CA was not told that certificate {serial} was not delivered ({}); report it with the CA's operator",
                lost.message
            ))
        }
    }
}

//! The issuance station (the patent's key generation device 130, FIG. 2 and
//! FIG. 4–6; embodiment 4 where the token generates): the workflow
//! `symbolon issue` runs, as a library the CLI calls and tests drive
//! without the binary.
//!
//! Station-generated (embodiments 1 and 2, [`Station::issue_station_key`]):
//! the key pair is made in this process → its public key reserved with the
//! CA → a PKCS#10 request signed by the new key → the CA → the signed,
//! nonce-bound answer and its chain checked against the pinned root → key
//! (wrapped to the token's transport key) and certificate written into the
//! token under the issuer's signature → the station's copy wiped → the
//! delivery recorded. A failure before certification abandons the
//! reservation; after it, the delivery record says the certificate was not
//! delivered (its key is wiped, so the certificate is unusable).
//!
//! Token-generated (embodiment 4, [`Station::issue_on_token`]): the token
//! generates, signs the request and attests it; the station relays them and
//! writes the certificate back.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use symbolon::ca::{attestation_nonce, CaError, CertifyResponse};
use symbolon::escrow::{ArbitratorPublic, EscrowDeposit, EscrowError, Policy};
use symbolon::issuer::{IssuerIdentity, TokenTarget};
use symbolon::keys::{
    Fingerprint, IdentityPublicKey, KeyAlgorithm, KeyError, PrivateKey, PublicKey, SignatureScheme,
};
use symbolon::pem;
use symbolon::token::{SlotName, Token, TokenError, TokenSerial};
use symbolon::x509::{
    build_csr_with_names, build_ec_csr_with_names, AltNames, CertificateRole, EcSigner, Name,
    RsaSigner, X509Error,
};
use symbolon::Code;
use thiserror::Error;

use crate::{ClientError, ServiceClient};

/// Why an issuance failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StationError {
    /// The service refused, or could not be reached.
    #[error(transparent)]
    Service(#[from] ClientError),
    /// The token failed or refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The CA's answer does not check out (signature, nonce, chain, key).
    #[error(transparent)]
    Response(#[from] CaError),
    /// The request could not be built.
    #[error(transparent)]
    Request(#[from] X509Error),
    /// The escrow deposit could not be made.
    #[error(transparent)]
    Escrow(#[from] EscrowError),
    /// The CA's answer lacks something it must carry.
    #[error("the CA's answer {0}")]
    BadResponse(String),
    /// The CA is not the one the station pins.
    #[error("{0}")]
    WrongCa(String),
    /// The slot already holds a key that this issuance cannot use.
    #[error("{0}")]
    SlotOccupied(String),
    /// The caller's copy of the request could not be kept.
    #[error("{0}")]
    Output(String),
    /// A certificate was issued but not delivered, and the CA could not
    /// be told so.
    #[error("{error}")]
    UnreportedDelivery {
        /// Why the delivery failed.
        error: Box<StationError>,
        /// The certificate.
        serial: String,
        /// Why the report did not reach the CA.
        lost: String,
    },
}

impl From<KeyError> for StationError {
    fn from(e: KeyError) -> Self {
        Self::Token(TokenError::Key(e))
    }
}

impl StationError {
    /// The stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Service(e) => e.code(),
            Self::Token(e) => e.code(),
            Self::Response(e) => e.code(),
            Self::Request(_) => Code::InvalidInput,
            Self::Escrow(e) => e.code(),
            Self::BadResponse(_) => Code::BadResponse,
            Self::WrongCa(_) => Code::WrongCertificate,
            Self::SlotOccupied(_) => Code::SlotOccupied,
            Self::Output(_) => Code::Io,
            Self::UnreportedDelivery { error, .. } => error.code(),
        }
    }

    /// What to do, when the error alone does not say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::UnreportedDelivery { serial, lost, .. } => Some(format!(
                "the CA was not told that certificate {serial} was not delivered ({lost}); report it with the CA's operator"
            )),
            _ => None,
        }
    }
}

/// What to certify: the subject as the officer vetted it, and where its
/// key lives.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The identity as given (RFC 4514), sent to the CA as it is.
    pub identity: String,
    /// The same identity, parsed.
    pub subject: Name,
    /// Subject alternative names.
    pub names: AltNames,
    /// The certificate's role.
    pub role: CertificateRole,
    /// The token slot that holds, or is to hold, the key.
    pub slot: SlotName,
}

/// A certificate issued and delivered into the token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certified key.
    pub public: PublicKey,
    /// The certificate's serial (hex, from the certificate itself).
    pub serial: String,
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// The escrow deposit's id, when the key was escrowed.
    pub escrow: Option<String>,
}

/// Receives the PKCS#10 request before it is sent, so the user keeps it
/// even when the CA refuses.
pub type CsrSink<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), StationError>;

/// An issuance station: the CA it talks to, the root it pins, and the
/// issuer identity the token trusts to write into it.
pub struct Station<'a> {
    ca: &'a ServiceClient,
    root: &'a [u8],
    issuer: &'a IssuerIdentity,
}

/// A fresh 32-byte nonce for a request whose answer must be bound to it.
pub fn nonce() -> Result<Vec<u8>, StationError> {
    let mut n = vec![0u8; 32];
    symbolon::keys::random_bytes(&mut n)?;
    Ok(n)
}

/// A JSON answer of the service, or its refusal as a typed error.
fn json_of(answer: Result<crate::Answer, ClientError>) -> Result<Value, StationError> {
    Ok(answer?.into_result()?)
}

/// A string field of an answer; its absence is the service's fault.
fn field<'v>(v: &'v Value, name: &str) -> Result<&'v str, StationError> {
    v[name]
        .as_str()
        .ok_or_else(|| StationError::BadResponse(format!("lacks {name}")))
}

/// Whether `slot` already holds a key to certify: one the token made
/// (generated, or composed as a joint key) that has no certificate yet (an
/// earlier attempt the CA refused, or a joint key just finished) can be;
/// any other occupied slot is refused.
pub fn reusable_slot(
    token: &dyn Token,
    slot: &SlotName,
    on_token: bool,
    asked: Option<KeyAlgorithm>,
) -> Result<bool, StationError> {
    let existing = token.info()?.slots.into_iter().find(|s| &s.name == slot);
    match &existing {
        None => Ok(false),
        Some(s) if on_token && !s.has_certificate && s.origin.made_in_token() => {
            // The key left there is certified as it is: an algorithm that
            // names another kind is a mistake, not a request to replace it.
            if let Some(a) = asked.filter(|a| *a != s.algorithm) {
                return Err(StationError::SlotOccupied(format!(
                    "slot {slot:?} already holds a {} key the token made (not yet certified), not a {a} key; certify it without --algorithm, or name another --slot",
                    s.algorithm
                )));
            }
            Ok(true)
        }
        Some(_) => Err(StationError::SlotOccupied(format!(
            "slot {slot:?} already holds a key; keys are never replaced"
        ))),
    }
}

/// Registers `token` with the CA at `ca` (its serial, device key and
/// transport key, and the device key's certificate chain when a
/// manufacturer vouches for it), so the CA accepts its attestations.
/// Returns the CA's answer, which says who vouched for the device.
pub fn register_token(
    ca: &ServiceClient,
    token: &dyn Token,
    device_chain: Option<&str>,
) -> Result<Value, StationError> {
    let info = token.info()?;
    json_of(ca.post(
        "/v1/tokens",
        &json!({
            "serial": info.serial,
            "device_key": token.device_key()?.to_pem(),
            "transport_key": token.transport_key()?.to_pem(),
            "device_chain": device_chain,
        }),
    ))
}

/// A PKCS#10 request for `subject` and `names`, signed inside the token by
/// the key in `slot` (whose public half is `public`): RSA PKCS#1 v1.5
/// SHA-256, or ECDSA/Ed25519 for an EC key.
pub fn csr_on_token(
    token: &dyn Token,
    slot: &SlotName,
    subject: &Name,
    names: &AltNames,
    public: &PublicKey,
) -> Result<Vec<u8>, StationError> {
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

/// A request for a key the station holds, signed by it.
fn csr_by_station(key: &PrivateKey, e: &Enrollment) -> Result<Vec<u8>, StationError> {
    Ok(match key {
        PrivateKey::Rsa(k) => {
            let signer = RsaSigner::new(k.public_key().clone(), SignatureScheme::Pkcs1Sha256)?;
            build_csr_with_names(&e.subject, &e.names, &signer, |s, d| k.sign_digest(s, d))?
        }
        PrivateKey::Ec(k) => {
            let signer = EcSigner::new(k.public_key().clone())?;
            build_ec_csr_with_names(&e.subject, &e.names, &signer, |input| k.sign(input))?
        }
    })
}

impl<'a> Station<'a> {
    /// A station talking to `ca`, pinning `root` (DER), writing into tokens
    /// as `issuer`.
    pub fn new(ca: &'a ServiceClient, root: &'a [u8], issuer: &'a IssuerIdentity) -> Self {
        Self { ca, root, issuer }
    }

    /// Whether the CA's root is the one this station pins, asked before
    /// anything is made or sent: a station pinned to another CA learns it
    /// before that CA issues a certificate it would then refuse. The signed
    /// answer is still checked against the pinned root on its own.
    pub fn check_ca(&self) -> Result<(), StationError> {
        let v = json_of(self.ca.get("/v1/ca/certificate"))?;
        let (_, root) = pem::decode(field(&v, "root")?.as_bytes(), &["CERTIFICATE"])
            .map_err(|e| StationError::BadResponse(format!("names a root that is not PEM: {e}")))?;
        if root != self.root {
            let fingerprint = |der: &[u8]| {
                symbolon::x509::parse_certificate(der)
                    .ok()
                    .and_then(|c| symbolon::x509::certificate_public_key(&c).ok())
                    .map_or_else(
                        || "an unreadable certificate".to_string(),
                        |k| k.fingerprint().to_string(),
                    )
            };
            return Err(StationError::WrongCa(format!(
                "the CA's root ({}) is not the pinned one ({}): check --ca-cert against --ca",
                fingerprint(&root),
                fingerprint(self.root)
            )));
        }
        Ok(())
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, StationError> {
        json_of(self.ca.post(path, body))
    }

    fn certify_body(e: &Enrollment, csr: &[u8], nonce: &[u8]) -> Value {
        json!({
            "csr": pem::encode("CERTIFICATE REQUEST", csr),
            "identity": e.identity,
            "role": e.role,
            "nonce": B64.encode(nonce),
        })
    }

    /// Embodiment 4: the key is born in the token (or was, in an earlier
    /// attempt, when `reuse`); the station relays its request and
    /// attestation, and writes the certificate back.
    pub fn issue_on_token(
        &self,
        token: &mut dyn Token,
        e: &Enrollment,
        algorithm: KeyAlgorithm,
        reuse: bool,
        csr_sink: CsrSink<'_>,
    ) -> Result<Issued, StationError> {
        self.check_ca()?;
        let token_serial = token.info()?.serial;
        let public = if reuse {
            token.slot_public_key(&e.slot)?
        } else {
            token.generate_key(&e.slot, algorithm)?
        };
        let csr = csr_on_token(token, &e.slot, &e.subject, &e.names, &public)?;
        csr_sink(&csr)?;
        let attestation = token.attest(&e.slot, &attestation_nonce(&csr))?;
        let nonce = nonce()?;
        let mut body = Self::certify_body(e, &csr, &nonce);
        body["attestation"] = serde_json::from_str(&attestation.to_json()?)
            .map_err(|err| TokenError::Internal(format!("attestation: {err}")))?;
        let (serial, certificate) = self.certify_at("/v1/certify", &body, &nonce, &public)?;
        self.deliver(&serial, &token_serial, || {
            self.write_certificate(token, &e.slot, &certificate)
        })?;
        Ok(Issued {
            public,
            serial,
            certificate,
            escrow: None,
        })
    }

    /// Embodiments 1 and 2: the station makes the key, reserves it,
    /// certifies it, escrows it under `escrow` when given, writes key and
    /// certificate into the token, and wipes its own copy.
    pub fn issue_station_key(
        &self,
        token: &mut dyn Token,
        e: &Enrollment,
        algorithm: KeyAlgorithm,
        escrow: Option<&Policy>,
        csr_sink: CsrSink<'_>,
    ) -> Result<Issued, StationError> {
        self.check_ca()?;
        let token_serial = token.info()?.serial;
        let key = PrivateKey::generate(algorithm)?;
        let public = key.public_key();
        let reserved = self.post(
            "/v1/reservations",
            &json!({ "public_key": public.to_pem() }),
        )?;
        // The id goes into a path: 32 hex digits, as the service makes them.
        let reservation = field(&reserved, "reservation")?.to_ascii_lowercase();
        if reservation.len() != 32 || !reservation.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StationError::BadResponse(format!(
                "names reservation {reservation:?}, not 32 hex digits"
            )));
        }
        let nonce = nonce()?;
        let outcome = (|| {
            let csr = csr_by_station(&key, e)?;
            csr_sink(&csr)?;
            let mut body = Self::certify_body(e, &csr, &nonce);
            body["reservation"] = reservation.clone().into();
            self.certify_at("/v1/certify", &body, &nonce, &public)
        })();
        let (serial, certificate) = match outcome {
            Ok(v) => v,
            Err(err) => {
                let reason = format!("station failed before delivery: {err}");
                if let Err(abandon) = self.post(
                    &format!("/v1/reservations/{reservation}/abandon"),
                    &json!({ "reason": reason }),
                ) {
                    tracing::warn!(error = %abandon, "could not abandon the reservation");
                }
                return Err(err);
            }
        };
        let mut escrow_id = None;
        self.deliver(&serial, &token_serial, || {
            // Escrow first: a key that is to be escrowed enters the token
            // only once its deposit is recorded.
            if let Some(policy) = escrow {
                let device = token.device_key()?.fingerprint();
                escrow_id = Some(self.deposit_escrow(&key, policy, token_serial, device)?);
            }
            let cmd = self
                .issuer
                .authorize_key(&TokenTarget::of(token)?, &e.slot, &key)?;
            token.accept_key(&cmd)?;
            self.write_certificate(token, &e.slot, &certificate)
        })?;
        drop(key); // zeroised: the only copy now lives in the token
        Ok(Issued {
            public,
            serial,
            certificate,
            escrow: escrow_id,
        })
    }

    /// Deposits `key` under `policy` with the CA's registry: the
    /// arbitrators' public parts from the registry, the record and
    /// envelopes back to it. Returns the deposit's id.
    fn deposit_escrow(
        &self,
        key: &PrivateKey,
        policy: &Policy,
        token: TokenSerial,
        device: Fingerprint,
    ) -> Result<String, StationError> {
        let mut arbitrators = Vec::new();
        for a in policy.arbitrators() {
            let v = json_of(self.ca.get(&format!("/v1/arbitrators/{a}")))?;
            arbitrators.push(ArbitratorPublic {
                id: a.clone(),
                share_recipient: field(&v, "share_recipient")?.to_string(),
                approval_key: IdentityPublicKey::from_pem_or_der(
                    field(&v, "approval_key")?.as_bytes(),
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
        self.post(
            "/v1/escrows",
            &json!({ "record": B64.encode(deposit.encode()), "envelopes": envelopes }),
        )?;
        Ok(deposit.id.to_string())
    }

    /// Sends a request for a certificate to `path` (`/v1/certify`,
    /// `/v1/renewals`) and checks the signed, nonce-bound answer against
    /// the pinned root and the key it must certify (steps 432–433).
    /// Returns the certificate's serial (its own, never the answer's
    /// unsigned field) and DER.
    pub fn certify_at(
        &self,
        path: &str,
        body: &Value,
        nonce: &[u8],
        public: &PublicKey,
    ) -> Result<(String, Vec<u8>), StationError> {
        let answer = self.post(path, body)?;
        let serial = field(&answer, "serial")?.to_ascii_lowercase();
        if serial.is_empty() {
            return Err(StationError::BadResponse("names no serial".into()));
        }
        let response = CertifyResponse::from_json(&answer)?;
        match response.verify(self.root, nonce, public.clone()) {
            Ok(cert) => {
                let own = symbolon::x509::serial_hex(&cert);
                if own != serial {
                    return Err(StationError::BadResponse(format!(
                        "names serial {serial}, its certificate is {own}"
                    )));
                }
                Ok((own, response.certificate))
            }
            Err(err) => {
                // The CA may have issued, but this answer cannot be trusted:
                // it is reported only when its certificate is about this key
                // and carries the serial the answer names.
                let err = StationError::from(err);
                let about_this_key = symbolon::x509::parse_certificate(&response.certificate)
                    .ok()
                    .filter(|c| {
                        symbolon::x509::certificate_public_key(c).ok().as_ref() == Some(public)
                    })
                    .map(|c| symbolon::x509::serial_hex(&c))
                    .filter(|own| *own == serial);
                match about_this_key {
                    Some(own) => {
                        let report = json!({
                            "delivered": false,
                            "reason": format!("response refused by the station: {err}"),
                        });
                        Err(self.report_undelivered(&own, &report, err))
                    }
                    None => Err(err),
                }
            }
        }
    }

    /// Writes `certificate` into the token's `slot`, signed by this
    /// station's issuer identity (the token trusts it).
    fn write_certificate(
        &self,
        token: &mut dyn Token,
        slot: &SlotName,
        certificate: &[u8],
    ) -> Result<(), StationError> {
        let cmd = self.issuer.authorize_certificate(
            &TokenTarget::of(token)?,
            slot,
            certificate.to_vec(),
        )?;
        token.write_certificate(&cmd)?;
        Ok(())
    }

    /// Runs `write` (the token's side of a delivery) and records the
    /// outcome with the CA.
    pub fn deliver(
        &self,
        serial: &str,
        token: &TokenSerial,
        write: impl FnOnce() -> Result<(), StationError>,
    ) -> Result<(), StationError> {
        match write() {
            Ok(()) => {
                self.post(
                    &format!("/v1/certificates/{serial}/delivery"),
                    &json!({ "token": token, "delivered": true }),
                )?;
                Ok(())
            }
            Err(err) => {
                let report =
                    json!({ "token": token, "delivered": false, "reason": err.to_string() });
                Err(self.report_undelivered(serial, &report, err))
            }
        }
    }

    /// Tells the CA a certificate was not delivered; the station's own
    /// error stands, and a report that did not reach the CA is added to it.
    fn report_undelivered(&self, serial: &str, report: &Value, err: StationError) -> StationError {
        match self.post(&format!("/v1/certificates/{serial}/delivery"), report) {
            Ok(_) => err,
            Err(lost) => {
                tracing::warn!(error = %lost, "cannot report the failed delivery");
                StationError::UnreportedDelivery {
                    error: Box::new(err),
                    serial: serial.to_string(),
                    lost: lost.to_string(),
                }
            }
        }
    }
}

//! The command line of revocation (docs/revocation.md): `symbolon revoke`,
//! `symbolon certificates …` and `symbolon crl …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::CaArgs;

/// `symbolon revoke`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["serial", "device", "token"])))]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The certificate's serial (hex, as `symbolon certificates list` shows it).
    #[arg(long)]
    pub(crate) serial: Option<String>,
    /// Why (RFC 5280): unspecified, keyCompromise, cACompromise, affiliationChanged,
    /// superseded, cessationOfOperation, certificateHold, privilegeWithdrawn.
    #[arg(long, required_unless_present = "tampered")]
    pub(crate) reason: Option<String>,
    /// Since when the key is believed compromised: Unix seconds or
    /// YYYY-MM-DDTHH:MM:SSZ (the CRL's invalidity date).
    #[arg(long, requires = "serial", conflicts_with = "token")]
    pub(crate) invalid_since: Option<String>,
    /// Every certificate of this device (token serial): a device replaced
    /// in a recovery, or with --tampered one reported tampered with.
    #[arg(long, conflicts_with_all = ["serial", "token"])]
    pub(crate) device: Option<String>,
    /// The device was tampered with: its certificates are revoked for
    /// keyCompromise and the report is audited.
    #[arg(long, requires = "device", conflicts_with = "reason")]
    pub(crate) tampered: bool,
    /// As the subscriber: the token holding the certified key signs the
    /// revocation (no credential needed). The serial defaults to the
    /// certificate in --slot.
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// The key's slot in --token.
    #[arg(long, requires = "token")]
    pub(crate) slot: Option<String>,
    /// The soft token's sealing key file (default: TOKEN.sealing-key).
    #[arg(long, requires = "token")]
    pub(crate) sealing_key: Option<PathBuf>,
}

/// `symbolon certificates`.
#[derive(Debug, Subcommand)]
pub(crate) enum CertificatesCommand {
    /// List certificates, newest first, with their status (auditor, admin, registration officer).
    #[command(after_help = "Examples:
  symbolon certificates list --status revoked --ca https://ca.example.org:8443 --ca-cert root.pem --credential auditor.token
  symbolon certificates list --json | jq '.certificates[] | select(.token == \"4f1c…\")'")]
    List(CertificatesListArgs),
    /// Good certificates that expire soon, soonest last (renew them before).
    #[command(after_help = "Example:
  symbolon certificates expiring --within 30d --ca https://ca.example.org:8443 --ca-cert root.pem --credential auditor.token")]
    Expiring(CertificatesExpiringArgs),
    /// Release a certificate on hold (certificateHold): it is good again.
    #[command(after_help = "Example:
  symbolon certificates release --serial 4a1f… --ca https://ca.example.org:8443 --ca-cert root.pem --credential officer.token")]
    Release(CertificatesReleaseArgs),
}

/// The arguments of `CertificatesCommand::List`.
#[derive(Debug, clap::Args)]
pub(crate) struct CertificatesListArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// good, on-hold, revoked, expired (default: all).
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: i64,
}

/// The arguments of `CertificatesCommand::Expiring`.
#[derive(Debug, clap::Args)]
pub(crate) struct CertificatesExpiringArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The window: s, m, h, d (e.g. 30d).
    #[arg(long, default_value = "30d")]
    pub(crate) within: String,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: i64,
}

/// The arguments of `CertificatesCommand::Release`.
#[derive(Debug, clap::Args)]
pub(crate) struct CertificatesReleaseArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The certificate's serial.
    #[arg(long)]
    pub(crate) serial: String,
}

/// `symbolon crl`.
#[derive(Debug, Subcommand)]
pub(crate) enum CrlCommand {
    /// Fetch the CA's current CRL (or, with --delta, its delta CRL), check its signature against --ca-cert, and write it.
    #[command(after_help = "Examples:
  symbolon crl fetch --ca https://ca.example.org:8443 --ca-cert root.pem --out ca.crl
  symbolon crl fetch --pem --ca https://ca.example.org:8443 --ca-cert root.pem | openssl crl -text -noout
  symbolon crl fetch --delta --pem --ca https://ca.example.org:8443 --ca-cert root.pem --out delta.pem")]
    Fetch(CrlFetchArgs),
}

/// The arguments of `CrlCommand::Fetch`.
#[derive(Debug, clap::Args)]
pub(crate) struct CrlFetchArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// PEM (X509 CRL) instead of DER.
    #[arg(long)]
    pub(crate) pem: bool,
    /// The delta CRL: the changes since the full CRL it names as its base.
    /// Use it beside that full CRL or a newer one, never alone.
    #[arg(long)]
    pub(crate) delta: bool,
}

/// `symbolon renew`.
#[derive(Debug, Args)]
pub(crate) struct RenewArgs {
    /// The CA service URL, or local:DIR for the CA of a data directory.
    #[arg(long, env = "SYMBOLON_CA")]
    pub(crate) ca: String,
    /// The CA root certificate you trust (PEM).
    #[arg(long, env = "SYMBOLON_CA_CERT")]
    pub(crate) ca_cert: PathBuf,
    /// The station's issuer identity directory (the token must trust it).
    #[arg(long, env = "SYMBOLON_ISSUER")]
    pub(crate) issuer: PathBuf,
    #[command(flatten)]
    pub(crate) token: crate::cli::TokenArgs,
    /// The slot whose certificate is renewed (its key signs the authorisation).
    #[arg(long)]
    pub(crate) slot: String,
    /// The slot for the new key (keys are never replaced in a slot).
    #[arg(long)]
    pub(crate) new_slot: String,
    /// rsa-2048, rsa-3072 or rsa-4096 (default: the old key's size).
    #[arg(long)]
    pub(crate) algorithm: Option<String>,
    /// Also save the new certificate here (PEM).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

//! The command line of evidence bundles (docs/transparency.md §10):
//! `symbolon evidence …`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::CaArgs;

/// `symbolon evidence`.
#[derive(Debug, Subcommand)]
pub(crate) enum EvidenceCommand {
    /// Fetch a key's evidence bundle: its log entries with inclusion proofs and the records they name (auditor, admin, registration officer).
    #[command(after_help = "Example:
  symbolon evidence export --ca https://ca.example.org:8443 --ca-cert root.pem --credential auditor.token \\
      --key sha256:9f86d0… --out alice-key.evidence.json

The bundle holds the key's certificates and the CA chain, the attestation it was certified on, who \
vetted the subscriber and when, its escrow policy and Feldman commitments, every recovery request and \
signed approval, joint-key chains and revocations: each with its log entry and an inclusion proof \
against one signed checkpoint. It opens the entries' committed fields (the subscriber's names): \
hand it to whoever is to check the key's history, and to no one else.")]
    Export(EvidenceExportArgs),
    /// Offline: check a bundle against the CA root and the log key (exit 0, or 4 naming the part that failed).
    #[command(after_help = "Example:
  symbolon evidence verify alice-key.evidence.json --root root.pem --log-key log.vkey

Nothing but the three files is needed. Checked: the checkpoint's signature by the log key; each \
entry's hash, inclusion proof and committed fields; each certificate's path to the root and its \
issuance entry; the attestation's device signature and the device's registration; the escrow \
deposit's entry; each approval's signature by its registered arbitrator, its place in the chain and \
its entry, and a completed recovery's approvals against the policy in order; each joint-key chain's \
signatures; and that every entry is about the key.")]
    Verify(EvidenceVerifyArgs),
}

/// The arguments of `EvidenceCommand::Export`.
#[derive(Debug, clap::Args)]
pub(crate) struct EvidenceExportArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The key: sha256:<64 hex digits> of its SubjectPublicKeyInfo.
    #[arg(long)]
    pub(crate) key: String,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `EvidenceCommand::Verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct EvidenceVerifyArgs {
    /// The bundle (JSON, as `evidence export` writes it).
    pub(crate) file: PathBuf,
    /// The CA root certificate you trust (PEM or DER).
    #[arg(long)]
    pub(crate) root: PathBuf,
    /// The log key (the string or a file holding it).
    #[arg(long)]
    pub(crate) log_key: String,
}

//! `symbolon arbitrator …`, `policy …` and `recovery …` (FIG. 7–12): the
//! arguments of each verb.

use super::*;

/// An arbitrator's directory.
#[derive(Debug, Args, Clone)]
pub(crate) struct ArbitratorDir {
    /// The arbitrator's directory (identity sealed in arbitrator.sealed).
    #[arg(long, env = "SYMBOLON_ARBITRATOR")]
    pub(crate) arbitrator: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ArbitratorCommand {
    /// Create an arbitrator identity: an age key for shares, a signing key for decisions.
    #[command(
        after_help = "Example:\n  symbolon arbitrator init --arbitrator card-co/ --name card-company"
    )]
    Init(ArbitratorInitArgs),
    /// Record the arbitrator's public parts in the CA's registry.
    #[command(
        after_help = "Example:\n  symbolon arbitrator register --arbitrator card-co/ --ca http://127.0.0.1:8080"
    )]
    Register(ArbitratorRegisterArgs),
    /// Check this arbitrator's share of an escrow against its commitments (learning nothing of the key).
    #[command(
        after_help = "Example:\n  symbolon arbitrator verify-share --arbitrator card-co/ --ca http://127.0.0.1:8080 --escrow ID"
    )]
    VerifyShare(ArbitratorVerifyShareArgs),
}

/// The arguments of `ArbitratorCommand::Init`.
#[derive(Debug, clap::Args)]
pub(crate) struct ArbitratorInitArgs {
    #[command(flatten)]
    pub(crate) dir: ArbitratorDir,
    /// The arbitrator's name in policies (a-z 0-9 . _ -).
    #[arg(long)]
    pub(crate) name: String,
}

/// The arguments of `ArbitratorCommand::Register`.
#[derive(Debug, clap::Args)]
pub(crate) struct ArbitratorRegisterArgs {
    #[command(flatten)]
    pub(crate) dir: ArbitratorDir,
    #[command(flatten)]
    pub(crate) ca: CaArgs,
}

/// The arguments of `ArbitratorCommand::VerifyShare`.
#[derive(Debug, clap::Args)]
pub(crate) struct ArbitratorVerifyShareArgs {
    #[command(flatten)]
    pub(crate) dir: ArbitratorDir,
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The escrow id (from `symbolon issue --escrow`).
    #[arg(long)]
    pub(crate) escrow: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Parse a policy, print its canonical form, hash, tree and minimal satisfying sets.
    #[command(
        after_help = "Example (FIG. 9):\n  symbolon policy check 'seq(user, all(card-company, any(1, provider-a, provider-b), any(2, manager-a, manager-b, manager-c)), recorder)'\n\n\
        all(…): every child; any(k, …): k of them; seq(…): every child, each after the one before. \
        Names need not be registered to be checked."
    )]
    Check(PolicyCheckArgs),
}

/// The arguments of `PolicyCommand::Check`.
#[derive(Debug, clap::Args)]
pub(crate) struct PolicyCheckArgs {
    /// The policy text.
    pub(crate) policy: String,
    /// Print at most this many minimal sets.
    #[arg(long, default_value_t = 1000)]
    pub(crate) limit: usize,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RecoveryCommand {
    /// Ask for an escrowed key to be recovered into a token (registered with the CA).
    #[command(
        after_help = "Example:\n  symbolon recovery request --ca http://127.0.0.1:8080 --key sha256:… --reason 'token lost' \\\n      --token new.token --slot mail\n\n\
        The target token must be registered (`symbolon token register`) and trust the enclave's issuer key \
        (`symbolon recovery enclave`). A token other than the one the key was bound to makes the request a \
        rebinding, which the arbitrators see and approve."
    )]
    Request(RecoveryRequestArgs),
    /// Show the enclave's keys, checked against the CA root you pin; --out writes its issuer key for `token trust-issuer`.
    #[command(
        after_help = "Example:\n  symbolon recovery enclave --ca http://127.0.0.1:8080 --ca-cert root.pem --out enclave-issuer.pem"
    )]
    Enclave(RecoveryEnclaveArgs),
    /// Approve a request: your share, re-encrypted to the enclave, and your signature, next in the chain.
    #[command(
        after_help = "Example:\n  symbolon recovery approve --arbitrator card-co/ --ca http://127.0.0.1:8080 --ca-cert root.pem --request ID"
    )]
    Approve(RecoveryApproveArgs),
    /// Refuse a request, signed, with a reason.
    #[command(
        after_help = "Example:\n  symbolon recovery refuse --arbitrator card-co/ --ca http://127.0.0.1:8080 --request ID --reason 'not the owner'"
    )]
    Refuse(RecoveryRefuseArgs),
    /// The policy tree: who approved, in what order, what is still missing.
    #[command(
        after_help = "Example:\n  symbolon recovery status --ca http://127.0.0.1:8080 --request ID --json"
    )]
    Status(RecoveryStatusArgs),
    /// Have the enclave recover the key and write it, with its certificate, into the target token.
    #[command(
        after_help = "Example:\n  symbolon recovery complete --ca http://127.0.0.1:8080 --request ID --token new.token\n\n\
        The enclave checks the chain, the order, every share, the key against its registration and the \
        target, and does this once per request."
    )]
    Complete(RecoveryCompleteArgs),
}

/// The arguments of `RecoveryCommand::Request`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoveryRequestArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The key's fingerprint (sha256:…).
    #[arg(long)]
    pub(crate) key: String,
    /// Why.
    #[arg(long)]
    pub(crate) reason: String,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
}

/// The arguments of `RecoveryCommand::Enclave`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoveryEnclaveArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// Write the enclave's issuer key (PEM) here.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `RecoveryCommand::Approve`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoveryApproveArgs {
    #[command(flatten)]
    pub(crate) dir: ArbitratorDir,
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The request id.
    #[arg(long)]
    pub(crate) request: String,
}

/// The arguments of `RecoveryCommand::Refuse`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoveryRefuseArgs {
    /// The arbitrator, the CA and the request, as for `approve`.
    #[command(flatten)]
    pub(crate) decision: RecoveryApproveArgs,
    /// Why.
    #[arg(long)]
    pub(crate) reason: String,
}

/// The arguments of `RecoveryCommand::Status`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoveryStatusArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The request id.
    #[arg(long)]
    pub(crate) request: String,
}

/// The arguments of `RecoveryCommand::Complete`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoveryCompleteArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The request id.
    #[arg(long)]
    pub(crate) request: String,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
}

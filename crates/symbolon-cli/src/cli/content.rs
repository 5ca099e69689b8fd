//! `symbolon content …` and `owner …` (FIG. 22–23): the arguments of each
//! verb.

use super::*;

/// What `symbolon seal` needs.
#[derive(Debug, Args, Clone)]
pub(crate) struct SealArgs {
    /// The recipient: a public key (PEM/DER SPKI: RSA, P-256, P-384 or
    /// X25519; or PKCS#1 RSA) or a certificate. EC keys are sealed to with
    /// HPKE (docs/content-format.md §7); Ed25519 keys only sign.
    #[arg(long)]
    pub(crate) to: PathBuf,
    /// The content id (32 hex digits; default: random).
    #[arg(long)]
    pub(crate) content_id: Option<String>,
    /// Plaintext bytes per chunk: a power of two from 1024 to 16777216.
    #[arg(long, default_value_t = 65536)]
    pub(crate) chunk_size: u64,
    /// The plaintext (default or "-": stdin).
    pub(crate) input: Option<PathBuf>,
    /// The sealed output (default or "-": stdout).
    pub(crate) output: Option<PathBuf>,
}

/// What `symbolon unseal` needs.
#[derive(Debug, Args, Clone)]
pub(crate) struct UnsealArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// A licence from the content owner (for content sealed to its catalogue key).
    #[arg(long)]
    pub(crate) licence: Option<PathBuf>,
    /// The sealed content (default or "-": stdin).
    pub(crate) input: Option<PathBuf>,
    /// The plaintext output (default or "-": stdout).
    pub(crate) output: Option<PathBuf>,
}

/// Where a content owner's station keeps its state.
#[derive(Debug, Args, Clone)]
pub(crate) struct OwnerDir {
    /// The owner's directory.
    #[arg(long, env = "SYMBOLON_OWNER")]
    pub(crate) owner: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContentCommand {
    /// The copyright owner's station (FIG. 23).
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon content owner init --owner owner/ --ca-cert root.pem\n  symbolon content owner provision --owner owner/ --token alice.token --slot content --out alice-content.pem\n  symbolon content owner public-key --owner owner/ --out catalogue.pem"
    )]
    Owner(OwnerCommand),
    /// Sign a purchase order with the purchase-signing key (FIG. 22).
    #[command(after_help = "Example:\n  \
        symbolon content order --token alice.token --slot purchase --content-id 00112233445566778899aabbccddeeff \\\n      \
        --price '4.99 EUR' --licence-slot content --out order.pem\n\n\
        The slot must hold a key with a purchase-signing certificate from the CA (`symbolon issue --role \
        purchase-signing`). The licence will be for --licence-slot of this token (or of --licence-token).")]
    Order(ContentOrderArgs),
    /// The owner: check an order and issue a licence for it.
    #[command(after_help = "Example:\n  \
        symbolon content license --owner owner/ --order order.pem --content film.sealed --out film.licence\n\n\
        Refused (exit 5) when the order is replayed, older than --max-age, signed by a key without a \
        purchase-signing certificate from the pinned CA, or for a token slot this owner did not provision.")]
    License(ContentLicenseArgs),
    /// Show a sealed file's header: content id, recipient key, chunk size.
    #[command(after_help = "Example:\n  symbolon content inspect film.sealed --json")]
    Inspect(ContentInspectArgs),
}

/// The arguments of `ContentCommand::Order`.
#[derive(Debug, clap::Args)]
pub(crate) struct ContentOrderArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The content ordered (32 hex digits).
    #[arg(long)]
    pub(crate) content_id: String,
    /// The price agreed, as "4.99 EUR".
    #[arg(long)]
    pub(crate) price: String,
    /// The decryption slot the licence is for.
    #[arg(long)]
    pub(crate) licence_slot: String,
    /// The serial of the token holding that slot (default: this token).
    #[arg(long)]
    pub(crate) licence_token: Option<String>,
    /// Intermediate CA certificates (PEM), when the CA is not the root.
    #[arg(long)]
    pub(crate) chain: Option<PathBuf>,
    /// pkcs1-sha256|pkcs1-sha384|pkcs1-sha512|pss-sha256|pss-sha384|pss-sha512.
    #[arg(long, default_value = "pkcs1-sha256")]
    pub(crate) scheme: String,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `ContentCommand::License`.
#[derive(Debug, clap::Args)]
pub(crate) struct ContentLicenseArgs {
    #[command(flatten)]
    pub(crate) owner: OwnerDir,
    /// The purchase order (PEM).
    #[arg(long)]
    pub(crate) order: PathBuf,
    /// The sealed content (only its header is read).
    #[arg(long)]
    pub(crate) content: PathBuf,
    /// Oldest order accepted, in seconds.
    #[arg(long, default_value_t = 86400)]
    pub(crate) max_age: u64,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `ContentCommand::Inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct ContentInspectArgs {
    /// The sealed content (default or "-": stdin).
    pub(crate) input: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OwnerCommand {
    /// Create the owner's station: issuer identity, catalogue key, order ledger.
    #[command(
        after_help = "Example:\n  symbolon content owner init --owner owner/ --ca-cert root.pem\n\n\
        --ca-cert is the CA whose purchase-signing certificates this owner accepts on orders."
    )]
    Init(OwnerInitArgs),
    /// Print a public key: the catalogue key (default), the issuer identity, or a provisioned key.
    #[command(after_help = "Examples:\n  \
        symbolon content owner public-key --owner owner/ --out catalogue.pem\n  \
        symbolon content owner public-key --owner owner/ --identity --out owner-issuer.pem\n  \
        symbolon content owner public-key --owner owner/ --token-serial SERIAL --slot content\n\n\
        Seal published content to the catalogue key and sell it with licences; or seal to one token's \
        provisioned key directly. Users' tokens must trust the identity (`token trust-issuer`).")]
    PublicKey(OwnerPublicKeyArgs),
    /// Generate a decryption key and write it into a user's token; keep only its public key.
    #[command(after_help = "Example:\n  \
        symbolon content owner provision --owner owner/ --token alice.token --slot content --out alice-content.pem\n\n\
        The token must trust the owner's identity. The private key exists only in this process until the \
        token accepts it (wrapped to the token's transport key), then only in the token.")]
    Provision(OwnerProvisionArgs),
}

/// The arguments of `OwnerCommand::Init`.
#[derive(Debug, clap::Args)]
pub(crate) struct OwnerInitArgs {
    #[command(flatten)]
    pub(crate) owner: OwnerDir,
    /// The CA root certificate (PEM) that certifies buyers' signing keys.
    #[arg(long)]
    pub(crate) ca_cert: PathBuf,
    /// The ledger database (default: sqlite://OWNER/owner.db).
    #[arg(long, env = "SYMBOLON_OWNER_DATABASE")]
    pub(crate) database: Option<String>,
}

/// The arguments of `OwnerCommand::PublicKey`.
#[derive(Debug, clap::Args)]
pub(crate) struct OwnerPublicKeyArgs {
    #[command(flatten)]
    pub(crate) owner: OwnerDir,
    /// The owner's issuer identity key instead.
    #[arg(long, conflicts_with = "token_serial")]
    pub(crate) identity: bool,
    /// The decryption key provisioned into this token…
    #[arg(long, requires = "slot")]
    pub(crate) token_serial: Option<String>,
    /// …and slot.
    #[arg(long, requires = "token_serial")]
    pub(crate) slot: Option<String>,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `OwnerCommand::Provision`.
#[derive(Debug, clap::Args)]
pub(crate) struct OwnerProvisionArgs {
    #[command(flatten)]
    pub(crate) owner: OwnerDir,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// rsa-2048, rsa-3072 or rsa-4096.
    #[arg(long, default_value = "rsa-2048")]
    pub(crate) algorithm: String,
    /// Write the public key here too (default: only printed with --json).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

//! The command line of the transparency log (docs/transparency.md):
//! `symbolon log …`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::{CaArgs, SlotArg, TokenArgs};

/// `symbolon log`.
#[derive(Debug, Subcommand)]
pub(crate) enum LogCommand {
    /// Print the log key (a signed-note verifier key, name+id+key) the CA publishes.
    #[command(after_help = "Example:
  symbolon log key --ca https://ca.example.org:8443 --ca-cert root.pem > log.vkey

The key is fetched over the TLS connection checked against --ca-cert; keep it, and pass it as \
--log-key to the offline checks.")]
    Key(LogKeyArgs),
    /// Fetch the newest signed checkpoint (C2SP tlog-checkpoint) and check its signature.
    #[command(after_help = "Examples:
  symbolon log checkpoint --ca https://ca.example.org:8443 --ca-cert root.pem --log-key log.vkey --out cp-1.txt
  symbolon log checkpoint … --log-key log.vkey --witness w1.vkey --witness w2.vkey --require 2

With --witness, the newest checkpoint that --require of those witnesses cosigned (default: all of \
them) is fetched, and each cosignature is checked: a split view shown to you would need them too.")]
    Checkpoint(LogCheckpointArgs),
    /// Print the cosignature key (C2SP tlog-cosignature, type 0x04) of a witness's Ed25519 key in a token.
    #[command(after_help = "Example:
  symbolon token generate --token witness.token --slot witness --algorithm ed25519
  symbolon log witness-key --token witness.token --slot witness --name witness.example.org/w1 > w1.vkey

Give the key to the CA's admin (`symbolon log witness-add`) and to the clients that are to require \
your cosignature.")]
    WitnessKey(LogWitnessKeyArgs),
    /// Register a witness at the CA by its cosignature key (admin).
    #[command(after_help = "Example:
  symbolon log witness-add --ca https://ca.example.org:8443 --ca-cert root.pem --credential admin.token --key w1.vkey")]
    WitnessAdd(LogWitnessAddArgs),
    /// Remove a witness at the CA (admin): its cosignatures are no longer served or counted, and it is no longer heard.
    #[command(after_help = "Example:
  symbolon log witness-remove --ca https://ca.example.org:8443 --ca-cert root.pem --credential admin.token \\
      --name witness.example.org/w1

For a witness whose key was lost or retired. Its name and key stay taken: to rotate, register the \
new key under a new name (`symbolon log witness-key --name witness.example.org/w1-2027`) and tell \
the clients that require it.")]
    WitnessRemove(LogWitnessRemoveArgs),
    /// Witness the log: check the newest checkpoint against the last one cosigned, cosign it inside the token, send it.
    #[command(after_help = "Examples:
  symbolon log witness --ca https://ca.example.org:8443 --ca-cert root.pem --log-key log.vkey \
      --token witness.token --slot witness --name witness.example.org/w1 --state w1-seen.txt
  symbolon log witness … --every 60

Run it on another machine than the CA. A checkpoint is cosigned only when it is signed by the log \
key and the CA proves that it extends the last checkpoint this witness cosigned (kept in --state); \
a log that went backwards, forked or was rewritten is refused (log_inconsistent, exit 4) and \
nothing is cosigned.")]
    Witness(LogWitnessArgs),
    /// Follow the log: each new checkpoint must extend the last one seen (kept in --state), or exit 4.
    #[command(after_help = "Examples:
  symbolon log watch --ca https://ca.example.org:8443 --ca-cert root.pem --log-key log.vkey --state seen.txt
  symbolon log watch … --state seen.txt --every 60

The first run keeps the checkpoint it fetched; every later one fetches the newest, checks its \
signature and the consistency proof from the kept one, and keeps it only then. A log that went \
backwards, signed two heads for one size, or cannot prove that it extends the kept checkpoint \
(rewritten, cut, or showing you another tree than others) is refused with log_inconsistent, \
exit 4, and the kept checkpoint stays as the evidence.")]
    Watch(LogWatchArgs),
    /// Fetch the inclusion proof of entry N in the tree a checkpoint signs.
    #[command(after_help = "Example:
  symbolon log inclusion-proof --ca https://ca.example.org:8443 --ca-cert root.pem \\
      --entry 42 --checkpoint cp-1.txt --out proof-42.json")]
    InclusionProof(LogInclusionProofArgs),
    /// Fetch the consistency proof between two checkpoints' trees.
    #[command(after_help = "Example:
  symbolon log consistency-proof --ca https://ca.example.org:8443 --ca-cert root.pem \\
      --old cp-1.txt --new cp-2.txt --out cons.json")]
    ConsistencyProof(LogConsistencyProofArgs),
    /// Fetch one log entry (auditor, admin): the file verify-inclusion checks.
    #[command(after_help = "Example:
  symbolon log entry --ca https://ca.example.org:8443 --ca-cert root.pem --credential auditor.token \\
      --entry 42 --out entry-42.json")]
    Entry(LogEntryArgs),
    /// Offline: check that an entry is in the log a checkpoint signs (exit 0, or 4 naming what failed).
    #[command(after_help = "Example:
  symbolon log verify-inclusion --entry entry-42.json --proof proof-42.json \\
      --checkpoint cp-1.txt --log-key log.vkey

Nothing but the four files is needed: the entry's own hash, the proof's index and size, the \
checkpoint's signature by the log key and the RFC 9162 path to its root hash are checked.")]
    VerifyInclusion(LogVerifyInclusionArgs),
    /// Offline: check that a newer checkpoint's log extends an older one's (exit 0, or 4).
    #[command(after_help = "Example:
  symbolon log verify-consistency --old cp-1.txt --new cp-2.txt --proof cons.json --log-key log.vkey

A log that edited, removed or reordered an entry, cut its tail, or showed two clients two \
different trees cannot produce a proof between the checkpoints it signed.")]
    VerifyConsistency(LogVerifyConsistencyArgs),
}

/// The arguments of `LogCommand::Key`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogKeyArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
}

/// The arguments of `LogCommand::Checkpoint`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogCheckpointArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The log key (the string or a file holding it); default: the one the CA publishes.
    #[arg(long)]
    pub(crate) log_key: Option<String>,
    /// A witness you trust (its cosignature key, or a file holding it); repeatable.
    #[arg(long = "witness")]
    pub(crate) witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned (default: all).
    #[arg(long, requires = "witnesses", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) require: Option<u32>,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `LogCommand::WitnessKey`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogWitnessKeyArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The witness's name (a schema-less URL is recommended).
    #[arg(long)]
    pub(crate) name: String,
}

/// The arguments of `LogCommand::WitnessAdd`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogWitnessAddArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The witness's cosignature key (the string or a file holding it).
    #[arg(long)]
    pub(crate) key: String,
}

/// The arguments of `LogCommand::WitnessRemove`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogWitnessRemoveArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The witness's name, as registered.
    #[arg(long)]
    pub(crate) name: String,
}

/// The arguments of `LogCommand::Witness`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogWitnessArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The log key (the string or a file holding it).
    #[arg(long)]
    pub(crate) log_key: String,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The witness's name, as its cosignature key names it.
    #[arg(long)]
    pub(crate) name: String,
    /// The file holding the last checkpoint this witness cosigned.
    #[arg(long)]
    pub(crate) state: PathBuf,
    /// Witness again every this many seconds, until a check fails.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) every: Option<u64>,
}

/// The arguments of `LogCommand::Watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogWatchArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The log key (the string or a file holding it).
    #[arg(long)]
    pub(crate) log_key: String,
    /// The file holding the last checkpoint seen (created on the first run).
    #[arg(long)]
    pub(crate) state: PathBuf,
    /// Check again every this many seconds, until a check fails.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) every: Option<u64>,
}

/// The arguments of `LogCommand::InclusionProof`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogInclusionProofArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The entry's sequence number (from 1).
    #[arg(long)]
    pub(crate) entry: u64,
    /// The checkpoint whose tree size to prove against (its signature is not checked here).
    #[arg(long)]
    pub(crate) checkpoint: PathBuf,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `LogCommand::ConsistencyProof`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogConsistencyProofArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The older checkpoint.
    #[arg(long)]
    pub(crate) old: PathBuf,
    /// The newer checkpoint.
    #[arg(long)]
    pub(crate) new: PathBuf,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `LogCommand::Entry`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogEntryArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The entry's sequence number (from 1).
    #[arg(long)]
    pub(crate) entry: u64,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `LogCommand::VerifyInclusion`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogVerifyInclusionArgs {
    /// The entry (JSON, as `log entry` writes it).
    #[arg(long)]
    pub(crate) entry: PathBuf,
    /// The inclusion proof (JSON).
    #[arg(long)]
    pub(crate) proof: PathBuf,
    /// The signed checkpoint.
    #[arg(long)]
    pub(crate) checkpoint: PathBuf,
    /// The log key (the string or a file holding it).
    #[arg(long)]
    pub(crate) log_key: String,
}

/// The arguments of `LogCommand::VerifyConsistency`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogVerifyConsistencyArgs {
    /// The older checkpoint.
    #[arg(long)]
    pub(crate) old: PathBuf,
    /// The newer checkpoint.
    #[arg(long)]
    pub(crate) new: PathBuf,
    /// The consistency proof (JSON).
    #[arg(long)]
    pub(crate) proof: PathBuf,
    /// The log key (the string or a file holding it).
    #[arg(long)]
    pub(crate) log_key: String,
}

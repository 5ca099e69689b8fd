//! `symbolon joint …` and the fifth embodiment's chained protocols
//! (FIG. 18–21): the arguments of each verb.

use super::*;

/// A partial exponent's file.
#[derive(Debug, Args, Clone)]
pub(crate) struct PartialArg {
    /// The partial exponent: a file (or - for stdin) holding hex; never the command line.
    #[arg(long)]
    pub(crate) partial_file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JointCommand {
    /// Make a random full-length partial exponent (hex, mode 0600) for a party.
    #[command(
        after_help = "Example:\n  symbolon joint new-partial --bits 2048 --out issuer.partial"
    )]
    NewPartial(JointNewPartialArgs),
    /// The issuer starts a joint key in an empty slot: primes, e, and its partial d1 (FIG. 18, 19).
    #[command(
        after_help = "Example:\n  symbolon joint init --token alice.token --slot joint --e 65537 --partial-file issuer.partial"
    )]
    Init(JointInitArgs),
    /// Another party enters its partial.
    #[command(
        after_help = "Example:\n  symbolon joint contribute --token alice.token --slot joint --partial-file provider.partial"
    )]
    Contribute(JointContributeArgs),
    /// The user completes the key: d0, the composed key (tested), its public key.
    #[command(
        after_help = "Example:\n  symbolon joint finish --token alice.token --slot joint --out joint.pub.pem"
    )]
    Finish(JointFinishArgs),
    /// Reissue (FIG. 20, step 614): a new token is to hold the joint key; needs the request form every party signed.
    #[command(
        after_help = "Example:\n  symbolon joint reissue-begin --token new.token --slot joint --permission form.json\n  \
        symbolon joint reissue-enter --token new.token --slot joint --partial-file d0.partial   # then every other party, in roster order\n  \
        symbolon joint reissue-finish --token new.token --slot joint\n\n\
        The token checks the form itself: complete, E(D_{k−1}(…D_0(Form))) = Form, naming this token and slot. \
        It then recovers p and q from e·d0·d1·… − 1 (NIST SP 800-56B), checks p·q = n and holds \
        the same key: the old certificate verifies its signatures."
    )]
    ReissueBegin(JointReissueBeginArgs),
    /// Reissue: one party re-enters its partial (the corrected one it signs with; d0 for the user).
    #[command(
        after_help = "Examples:\n  symbolon joint reissue-enter --token new.token --slot joint --partial-file d0.partial   # the user, first\n  \
        symbolon joint reissue-enter --token new.token --slot joint --partial-file issuer.partial.corrected\n\n\
        In roster order; a wrong partial is refused when reissue-finish checks p·q = n, and nothing is kept."
    )]
    ReissueEnter(JointReissueEnterArgs),
    /// Reissue: recover the primes and put the same key in the slot.
    #[command(
        after_help = "Example:\n  symbolon joint reissue-finish --token new.token --slot joint\n\n\
        The same key as before: the old certificate verifies the new token's signatures."
    )]
    ReissueFinish(JointReissueFinishArgs),
    /// Release d0 once, sealed to your age recipient (FIG. 18 unit 541).
    #[command(
        after_help = "Example:\n  symbolon joint output-d0 --token alice.token --slot joint --to age1… --out d0.age\n\n\
        d0 leaves the token once, to one recipient. Asking again for the same recipient returns the same \
        sealed bytes (so a crash never loses it); any other recipient is refused."
    )]
    OutputD0(JointOutputD0Args),
    /// Open a released d0 with your age identity into a partial file (mode 0600).
    #[command(
        after_help = "Example:\n  symbolon joint reveal-d0 --identity me.agekey --in d0.age --out d0.partial"
    )]
    RevealD0(JointRevealD0Args),
    /// The EMSA-PKCS1-v1_5 SHA-256 encoding of a message for the key: what the parties chain-sign.
    #[command(
        after_help = "Example:\n  symbolon joint encode --key joint.pub.pem --in contract.txt --out em.hex"
    )]
    Encode(JointEncodeArgs),
    /// x^{d_i} mod n with your partial, outside the token (hex in, hex out).
    #[command(
        after_help = "Example:\n  symbolon joint partial-sign --key joint.pub.pem --partial-file d0.partial --in em.hex --out s0.hex"
    )]
    PartialSign(JointPartialSignArgs),
    #[command(flatten)]
    Protocol(JointProtocolCommand),
    /// Check s^e mod n against the expected value (a message's encoding, or a challenge).
    #[command(
        after_help = "Example:\n  symbolon joint verify --key joint.pub.pem --in s2.hex --message contract.txt --signature-out contract.sig"
    )]
    Verify(JointVerifyArgs),
}

/// The arguments of `JointCommand::NewPartial`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointNewPartialArgs {
    /// Its length in bits (that of n).
    #[arg(long, default_value_t = 2048)]
    pub(crate) bits: u32,
    /// Output file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointCommand::Init`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointInitArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// rsa-2048, rsa-3072 or rsa-4096.
    #[arg(long, default_value = "rsa-2048")]
    pub(crate) algorithm: String,
    /// The public exponent's starting value (corrected upwards until coprime to λ(n); at least 65537).
    #[arg(long, default_value_t = 65537)]
    pub(crate) e: u64,
    #[command(flatten)]
    pub(crate) partial: PartialArg,
}

/// The arguments of `JointCommand::Contribute`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointContributeArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    #[command(flatten)]
    pub(crate) partial: PartialArg,
}

/// The arguments of `JointCommand::Finish`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointFinishArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// Write the public key here (PEM).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `JointCommand::ReissueBegin`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointReissueBeginArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The request form signed by every party (`joint form-new`, `joint chain-sign`).
    #[arg(long)]
    pub(crate) permission: PathBuf,
}

/// The arguments of `JointCommand::ReissueEnter`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointReissueEnterArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    #[command(flatten)]
    pub(crate) partial: PartialArg,
}

/// The arguments of `JointCommand::ReissueFinish`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointReissueFinishArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
}

/// The arguments of `JointCommand::OutputD0`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointOutputD0Args {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// Your age X25519 recipient (age1…).
    #[arg(long)]
    pub(crate) to: String,
    /// Output file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointCommand::RevealD0`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointRevealD0Args {
    /// The age identity file (AGE-SECRET-KEY-1…).
    #[arg(long)]
    pub(crate) identity: PathBuf,
    /// The released d0.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// The partial file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointCommand::Encode`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointEncodeArgs {
    /// The joint public key (PEM or DER).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The message.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// Output (hex).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `JointCommand::PartialSign`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointPartialSignArgs {
    /// The joint public key (PEM or DER).
    #[arg(long)]
    pub(crate) key: PathBuf,
    #[command(flatten)]
    pub(crate) partial: PartialArg,
    /// The value to sign (hex).
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// Output (hex).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `JointCommand::Verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointVerifyArgs {
    /// The joint public key (PEM or DER).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The chained signature (hex).
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// The message whose EMSA-PKCS1-v1_5 SHA-256 encoding it must be.
    #[arg(long, conflicts_with = "expect")]
    pub(crate) message: Option<PathBuf>,
    /// Or the value it must be (hex file).
    #[arg(long)]
    pub(crate) expect: Option<PathBuf>,
    /// Also write it as an ordinary RSA signature (binary) here.
    #[arg(long)]
    pub(crate) signature_out: Option<PathBuf>,
}

/// A chain message file, read and (for signing) rewritten.
#[derive(Debug, Args, Clone)]
pub(crate) struct ChainFileArgs {
    /// The chain file (check or reissue form).
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// Where to write the extended file (default: rewrite --in).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JointProtocolCommand {
    /// Honest-generation check (FIG. 19): a fresh challenge, D(r) and the token's views, for the parties to chain-sign.
    #[command(
        after_help = "Example:\n  symbolon joint check-begin --token alice.token --slot joint --parties alice,issuer,provider --out check.json\n  \
        symbolon joint chain-sign --in check.json --party alice --partial-file d0.partial\n  \
        symbolon joint chain-sign --in check.json --party issuer --partial-file issuer.partial.corrected   # and so on\n  \
        symbolon joint chain-verify --in check.json\n\n\
        The roster is the user (d0) first, then the parties in the order their partials entered the token. \
        A party whose partial is not the one the token holds is named as soon as its link is checked."
    )]
    CheckBegin(JointProtocolCheckBeginArgs),
    /// Reissue request form (FIG. 20, step 601): for the user to sign with d0 first, then every party in turn.
    #[command(
        after_help = "Example:\n  symbolon joint form-new --key joint.pub.pem --parties alice,issuer,provider \\\n      \
        --new-token 5f0c… --new-slot joint --reason 'card destroyed' --out form.json\n  \
        symbolon joint chain-sign --in form.json --party alice --partial-file d0.partial\n\n\
        Every party reads it (`joint chain-show`) and signs or refuses (`joint chain-refuse`). What is signed is the \
        EMSA-PKCS1-v1_5 SHA-256 encoding of the form's fields (always hashed, whatever the form's length), so the \
        complete chain is an ordinary RSA signature."
    )]
    FormNew(JointProtocolFormNewArgs),
    /// Show a chain file: what it asks, who signed, who signs next; everything checkable is checked.
    #[command(after_help = "Example:\n  symbolon joint chain-show --in form.json --json")]
    ChainShow(JointProtocolChainShowArgs),
    /// Your turn in a chain: check it, apply your partial, check your link, add it.
    #[command(
        after_help = "Example:\n  symbolon joint chain-sign --in form.json --party issuer --partial-file issuer.partial.corrected\n\n\
        Nothing is added unless the chain so far checks out, it is your turn, and (in a check) your link equals the \
        token's view or (last party) the whole chain verifies with e."
    )]
    ChainSign(JointProtocolChainSignArgs),
    /// Your turn in a chain: refuse, with a reason; the chain ends.
    #[command(
        after_help = "Example:\n  symbolon joint chain-refuse --in form.json --party provider --reason 'unpaid invoices'"
    )]
    ChainRefuse(JointProtocolChainRefuseArgs),
    /// Verify a complete chain: every link in roster order, the last verifying with e.
    #[command(
        after_help = "Example:\n  symbolon joint chain-verify --in form.json --message-out form.msg --signature-out form.sig\n  \
        openssl dgst -sha256 -verify joint.pub.pem -signature form.sig form.msg"
    )]
    ChainVerify(JointProtocolChainVerifyArgs),
    /// Rotation (FIG. 21): fresh primes and e for a new key in the same slot; the old key stays until the commit.
    #[command(
        after_help = "Example:\n  symbolon joint rotate-begin --token alice.token --slot joint\n  \
        symbolon joint rotate-enter --token alice.token --slot joint --party-index 0 --partial-file d0.partial\n  \
        symbolon joint rotate-enter --token alice.token --slot joint --party-index 1 \\\n      \
        --partial-file issuer.partial.corrected --new-partial-file issuer.new.partial   # every party\n  \
        symbolon joint rotate-reseal --token alice.token --slot joint --in backup.sealed --out backup.new.sealed\n  \
        symbolon joint rotate-commit --token alice.token --slot joint --out joint.new.pem\n  \
        symbolon joint output-d0 --token alice.token --slot joint --to age1… --out d0.new.age"
    )]
    RotateBegin(JointProtocolRotateBeginArgs),
    /// Rotation: a party re-enters its old partial (checked against the token's) and, except the user, a new one.
    #[command(
        after_help = "Examples:\n  symbolon joint rotate-enter --token alice.token --slot joint --party-index 0 --partial-file d0.partial\n  \
        symbolon joint rotate-enter --token alice.token --slot joint --party-index 1 \\\n      \
        --partial-file issuer.partial.corrected --new-partial-file issuer.new.partial"
    )]
    RotateEnter(JointProtocolRotateEnterArgs),
    /// Rotation: re-wrap a file sealed to the old key (a token backup, content) to the new key, inside the token.
    #[command(
        after_help = "Example:\n  symbolon joint rotate-reseal --token alice.token --slot joint --in backup.sealed --out backup.new.sealed"
    )]
    RotateReseal(JointProtocolRotateResealArgs),
    /// Rotation: the new key replaces the old; d0_NEW awaits its one release.
    #[command(
        after_help = "Example:\n  symbolon joint rotate-commit --token alice.token --slot joint --out joint.new.pem"
    )]
    RotateCommit(JointProtocolRotateCommitArgs),
    /// Put a chain file into the service's mailbox for the parties; prints its id.
    #[command(
        after_help = "Example:\n  symbolon joint mailbox-post --ca http://127.0.0.1:8080 --in form.json\n  \
        symbolon joint mailbox-get --ca http://127.0.0.1:8080 --id ID --out form.json\n  \
        symbolon joint mailbox-put --ca http://127.0.0.1:8080 --id ID --in form.json\n\n\
        The mailbox stores; it trusts nothing. It takes an update only if it extends the stored file by links or a \
        refusal, in roster order, and every party checks the whole file again before signing."
    )]
    MailboxPost(JointProtocolMailboxPostArgs),
    /// Fetch a chain file from the mailbox.
    #[command(
        after_help = "Example:\n  symbolon joint mailbox-get --ca https://ca.example.org:8443 --ca-cert root.pem --id ID --out form.json"
    )]
    MailboxGet(JointProtocolMailboxGetArgs),
    /// Put the extended chain file back.
    #[command(
        after_help = "Example:\n  symbolon joint mailbox-put --ca https://ca.example.org:8443 --ca-cert root.pem --id ID --in form.json\n\n\
        Taken only if it extends the stored file by links or a refusal, in roster order."
    )]
    MailboxPut(JointProtocolMailboxPutArgs),
}

/// The arguments of `JointProtocolCommand::CheckBegin`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolCheckBeginArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The roster, comma-separated: the user first, then in the order the partials entered.
    #[arg(long)]
    pub(crate) parties: String,
    /// The check file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointProtocolCommand::FormNew`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolFormNewArgs {
    /// The joint public key (PEM or DER).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The roster, comma-separated: the user (d0) first, then in the order the partials entered.
    #[arg(long)]
    pub(crate) parties: String,
    /// The serial of the new token that is to hold the key (`symbolon token info`).
    #[arg(long)]
    pub(crate) new_token: String,
    /// The slot in it.
    #[arg(long)]
    pub(crate) new_slot: String,
    /// Why (for the parties to judge).
    #[arg(long)]
    pub(crate) reason: String,
    /// The form file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointProtocolCommand::ChainShow`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolChainShowArgs {
    /// The chain file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
}

/// The arguments of `JointProtocolCommand::ChainSign`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolChainSignArgs {
    #[command(flatten)]
    pub(crate) file: ChainFileArgs,
    /// Your name in the roster.
    #[arg(long)]
    pub(crate) party: String,
    #[command(flatten)]
    pub(crate) partial: PartialArg,
}

/// The arguments of `JointProtocolCommand::ChainRefuse`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolChainRefuseArgs {
    #[command(flatten)]
    pub(crate) file: ChainFileArgs,
    /// Your name in the roster.
    #[arg(long)]
    pub(crate) party: String,
    /// Why.
    #[arg(long)]
    pub(crate) reason: String,
}

/// The arguments of `JointProtocolCommand::ChainVerify`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolChainVerifyArgs {
    /// The chain file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// Write the signed message bytes here.
    #[arg(long)]
    pub(crate) message_out: Option<PathBuf>,
    /// Write the complete chain as an ordinary RSA signature (binary) here.
    #[arg(long)]
    pub(crate) signature_out: Option<PathBuf>,
}

/// The arguments of `JointProtocolCommand::RotateBegin`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolRotateBeginArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The new public exponent's starting value (at least 65537).
    #[arg(long, default_value_t = 65537)]
    pub(crate) e: u64,
}

/// The arguments of `JointProtocolCommand::RotateEnter`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolRotateEnterArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The party's place: 0 for the user (d0), then 1, 2 … in the order the partials entered.
    #[arg(long)]
    pub(crate) party_index: u32,
    /// The old partial (as the party signs with).
    #[command(flatten)]
    pub(crate) partial: PartialArg,
    /// The party's new partial (`joint new-partial`); not for the user.
    #[arg(long)]
    pub(crate) new_partial_file: Option<PathBuf>,
}

/// The arguments of `JointProtocolCommand::RotateReseal`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolRotateResealArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The sealed file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// The re-sealed file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointProtocolCommand::RotateCommit`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolRotateCommitArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// Write the new public key here (PEM).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `JointProtocolCommand::MailboxPost`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolMailboxPostArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The chain file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
}

/// The arguments of `JointProtocolCommand::MailboxGet`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolMailboxGetArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// Its id.
    #[arg(long)]
    pub(crate) id: String,
    /// Where to write it.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `JointProtocolCommand::MailboxPut`.
#[derive(Debug, clap::Args)]
pub(crate) struct JointProtocolMailboxPutArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// Its id.
    #[arg(long)]
    pub(crate) id: String,
    /// The chain file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
}

//! The command line: `symbolon <noun> <verb>` (docs/design.md §4).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (I/O, storage, internal)
  2  usage error
  3  invalid input (malformed file, unknown slot, bad name)
  4  verification failed (signature, attestation, decryption, audit chain)
  5  refused (untrusted issuer, replayed command, occupied slot, weak key)
  6  the token was tampered with and is dead
141  the reader of the output went away (`symbolon … | head`), as with SIGPIPE";

/// symbolon: keys that no one ever knows.
#[derive(Debug, Parser)]
#[command(name = "symbolon", version, about, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(flatten)]
    pub(crate) credential: CredentialArgs,

    #[command(subcommand)]
    pub(crate) command: Noun,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Noun {
    /// A token: key slots whose secret halves never leave it.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check a token's key attestation.
    #[command(subcommand)]
    Attestation(AttestationCommand),
    /// An issuer identity: the key tokens trust to write keys and certificates.
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// The registry's hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The certification authority: set up, show its certificate.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Run the CA and registry service over HTTPS (creates ./symbolon-data on first run).
    #[command(
        after_help = "Examples:\n  symbolon serve\n  symbolon serve --data /var/lib/symbolon --listen 0.0.0.0:8443 --hostname ca.example.org\n  \
                            symbolon serve --tls-cert server-chain.pem --tls-key 'pkcs11:token=edge?module-path=…&pin-source=file:pin'\n\n\
                            On first run the data directory is created with a new CA (its key in the CA's own \
                            token) and the first admin credential (DATA/admin.token); both paths are printed. \
                            The service's TLS key is made at every start in a token held in memory only, and \
                            certified by the CA for the --hostname names. Callers authenticate with credentials \
                            (`symbolon admin grant`, `symbolon enroll`); see docs/access.md."
    )]
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on.
        #[arg(long, env = "SYMBOLON_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Reach the CA key through this token: agent:SOCKET for a token agent
        /// serving DATA/ca.token (so several `serve` processes on one
        /// PostgreSQL share one CA key), or a pkcs11: URI (a new CA's key is
        /// made there). Default: the token ca.json names, or DATA/ca.token.
        #[arg(long, env = "SYMBOLON_CA_TOKEN")]
        ca_token: Option<String>,
        /// How hard the weak-key checks look for factors: standard (exact
        /// below 2^20, milliseconds a key) or deep (also Pollard's rho to
        /// 2^32, seconds a key). Default: the CA policy's, standard.
        #[arg(long, env = "SYMBOLON_WEAK_KEY_EFFORT")]
        weak_key_effort: Option<symbolon::keys::weak::Effort>,
        #[command(flatten)]
        edge: EdgeArgs,
    },
    /// Roles at the service: grant them, list and revoke credentials; stations' name policies; manufacturer roots (admin).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The registration authority: record subscribers you vetted, so the CA certifies them (registration officer).
    #[command(subcommand)]
    Ra(RaCommand),
    /// Make a credential: a key inside your token, certified for the role an admin granted you.
    #[command(after_help = "Example:\n  \
        symbolon enroll --ca https://ca.example.org:8443 --ca-cert root.pem --code 3f2a-…-9c01 --token st-1.token\n\n\
        The key is generated inside the token (a file, agent:SOCKET or pkcs11: URI) and never leaves it; \
        the certificate the CA returns is checked against --ca-cert and kept in the token beside the key. \
        Then pass --credential st-1.token (or set SYMBOLON_CREDENTIAL) to every command that talks to the service.")]
    Enroll(EnrollArgs),
    /// The issuance station: make a key, have the CA certify it, write both into a token.
    #[command(after_help = "Examples:\n  \
        symbolon issue --ca http://127.0.0.1:8080 --ca-cert root.pem --issuer station --token alice.token \\\n      \
        --slot signing --identity 'CN=Alice Example,O=Example' --role email\n  \
        symbolon issue --on-token --ca http://127.0.0.1:8080 --ca-cert root.pem --issuer station \\\n      \
        --token alice.token --slot tls --identity 'CN=alice.example' --role server\n\n\
        Without --on-token the station generates the key in its own process, reserves it, has it certified, \
        writes key and certificate into the token (the token must trust the station) and wipes its copy. \
        With --on-token the token generates the key and attests it; the station only relays.")]
    Issue(IssueArgs),
    /// Seal content to a decryption public key (streaming, any size).
    #[command(after_help = "Examples:\n  \
        symbolon seal --to alice-decryption.pem film.mp4 film.sealed\n  \
        symbolon seal --to catalogue.pem --content-id 00112233445566778899aabbccddeeff film.mp4 film.sealed\n\n\
        Anyone with the public key can seal; only the token holding its private half can unseal. \
        The format is described in docs/content-format.md.")]
    Seal(SealArgs),
    /// Unseal content inside the token that holds the decryption key.
    #[command(after_help = "Examples:\n  \
        symbolon unseal --token alice.token --slot content film.sealed film.mp4\n  \
        symbolon unseal --token alice.token --slot content --licence film.licence film.sealed film.mp4\n\n\
        The content key is unwrapped inside the token and never leaves it. Each chunk is written only once it \
        has authenticated; an output file appears under its name only when the whole stream has (to stdout, a \
        failure exits non-zero after the chunks that did authenticate).")]
    Unseal(UnsealArgs),
    /// Protected content: the owner's station, purchase orders and licences.
    #[command(subcommand)]
    Content(ContentCommand),
    /// Escrow arbitrators: their identities, registration, share checks.
    #[command(subcommand)]
    Arbitrator(ArbitratorCommand),
    /// Public keys: the CA's weak-key checks, offline.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Escrow policies: check one and see who can satisfy it.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Recovery of an escrowed key: request, approve or refuse, status, complete.
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// Joint keys (fifth embodiment): a key all parties make and none of them knows.
    #[command(subcommand)]
    Joint(JointCommand),
    /// Revoke a certificate: as an admin or registration officer, as its subscriber (signed in the token), or every certificate of a device.
    #[command(after_help = "Examples:
  symbolon revoke --serial 4a1f… --reason keyCompromise --ca https://ca.example.org:8443 --ca-cert root.pem --credential officer.token
  symbolon revoke --serial 4a1f… --reason certificateHold …      (release with `symbolon certificates release`)
  symbolon revoke --token alice.token --slot signing --reason keyCompromise --ca https://ca.example.org:8443 --ca-cert root.pem
  symbolon revoke --device 9c0d… --reason superseded …           (a device a recovery replaced)
  symbolon revoke --device 9c0d… --tampered …                    (a device reported tampered with)

Revocation is recorded with its audit entry in one transaction; the CRL (GET /v1/crl) and the OCSP \
responder (/v1/ocsp) answer it at once. Every reason but certificateHold is final. A subscriber signs \
a statement naming the CA, the serial, the reason and the time inside its token: the token is all it \
needs, no credential.")]
    Revoke(crate::cli_revocation::RevokeArgs),
    /// Renew a certificate with a new key made in the token: the old key authorises it, the old certificate is superseded.
    #[command(after_help = "Example:
  symbolon renew --ca https://ca.example.org:8443 --ca-cert root.pem --issuer station --token alice.token \\
      --slot mail --new-slot mail-2027 --credential station.token

The token makes the new key and attests it; the new key signs the request, the old key (in --slot) \
signs the authorisation. The CA certifies the new key under the old certificate's subject, names and \
role (no registration needed: the old certificate is the vetting), once per certificate; when the new \
certificate is in the token, the old one is revoked as superseded. An expired, revoked or already \
renewed certificate is refused. `symbolon certificates expiring --within 30d` lists what to renew.")]
    Renew(crate::cli_revocation::RenewArgs),
    /// Certificates the CA issued: list by status, find those expiring, release a hold.
    #[command(subcommand)]
    Certificates(crate::cli_revocation::CertificatesCommand),
    /// The CA's certificate revocation list.
    #[command(subcommand)]
    Crl(crate::cli_revocation::CrlCommand),
    /// The transparency log: signed checkpoints, inclusion and consistency proofs, offline checks.
    #[command(subcommand)]
    Log(crate::cli_log::LogCommand),
    /// A key's evidence bundle: everything a third person needs to check its history offline.
    #[command(subcommand)]
    Evidence(crate::cli_evidence::EvidenceCommand),
}

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
    ReissueEnter(JointReissueEnterArgs),
    /// Reissue: recover the primes and put the same key in the slot.
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
    RotateEnter(JointProtocolRotateEnterArgs),
    /// Rotation: re-wrap a file sealed to the old key (a token backup, content) to the new key, inside the token.
    RotateReseal(JointProtocolRotateResealArgs),
    /// Rotation: the new key replaces the old; d0_NEW awaits its one release.
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
    MailboxGet(JointProtocolMailboxGetArgs),
    /// Put the extended chain file back.
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

/// An arbitrator's directory.
#[derive(Debug, Args, Clone)]
pub(crate) struct ArbitratorDir {
    /// The arbitrator's directory (identity sealed in arbitrator.sealed).
    #[arg(long, env = "SYMBOLON_ARBITRATOR")]
    pub(crate) arbitrator: PathBuf,
}

/// How to reach the CA and what root to trust.
#[derive(Debug, Args, Clone)]
pub(crate) struct CaArgs {
    /// The CA service URL (https://HOST:PORT), or local:DIR for the CA of a
    /// data directory in this process.
    #[arg(long, env = "SYMBOLON_CA")]
    pub(crate) ca: String,
    /// The CA certificate you trust (PEM): the service's TLS certificate
    /// must chain to it, and so must everything it signs.
    #[arg(long, env = "SYMBOLON_CA_CERT")]
    pub(crate) ca_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ArbitratorCommand {
    /// Create an arbitrator identity: an age key for shares, a signing key for decisions.
    #[command(
        after_help = "Example:\n  symbolon arbitrator init --arbitrator card-co/ --name card-company"
    )]
    Init {
        #[command(flatten)]
        dir: ArbitratorDir,
        /// The arbitrator's name in policies (a-z 0-9 . _ -).
        #[arg(long)]
        name: String,
    },
    /// Record the arbitrator's public parts in the CA's registry.
    #[command(
        after_help = "Example:\n  symbolon arbitrator register --arbitrator card-co/ --ca http://127.0.0.1:8080"
    )]
    Register {
        #[command(flatten)]
        dir: ArbitratorDir,
        #[command(flatten)]
        ca: CaArgs,
    },
    /// Check this arbitrator's share of an escrow against its commitments (learning nothing of the key).
    #[command(
        after_help = "Example:\n  symbolon arbitrator verify-share --arbitrator card-co/ --ca http://127.0.0.1:8080 --escrow ID"
    )]
    VerifyShare {
        #[command(flatten)]
        dir: ArbitratorDir,
        #[command(flatten)]
        ca: CaArgs,
        /// The escrow id (from `symbolon issue --escrow`).
        #[arg(long)]
        escrow: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Parse a policy, print its canonical form, hash, tree and minimal satisfying sets.
    #[command(
        after_help = "Example (FIG. 9):\n  symbolon policy check 'seq(user, all(card-company, any(1, provider-a, provider-b), any(2, manager-a, manager-b, manager-c)), recorder)'\n\n\
        all(…): every child; any(k, …): k of them; seq(…): every child, each after the one before. \
        Names need not be registered to be checked."
    )]
    Check {
        /// The policy text.
        policy: String,
        /// Print at most this many minimal sets.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
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
    #[command(flatten)]
    pub(crate) dir: ArbitratorDir,
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The request id.
    #[arg(long)]
    pub(crate) request: String,
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
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// Sign a purchase order with the purchase-signing key (FIG. 22).
    #[command(after_help = "Example:\n  \
        symbolon content order --token alice.token --slot purchase --content-id 00112233445566778899aabbccddeeff \\\n      \
        --price '4.99 EUR' --licence-slot content --out order.pem\n\n\
        The slot must hold a key with a purchase-signing certificate from the CA (`symbolon issue --role \
        purchase-signing`). The licence will be for --licence-slot of this token (or of --licence-token).")]
    Order {
        #[command(flatten)]
        token: TokenArgs,
        #[command(flatten)]
        slot: SlotArg,
        /// The content ordered (32 hex digits).
        #[arg(long)]
        content_id: String,
        /// The price agreed, as "4.99 EUR".
        #[arg(long)]
        price: String,
        /// The decryption slot the licence is for.
        #[arg(long)]
        licence_slot: String,
        /// The serial of the token holding that slot (default: this token).
        #[arg(long)]
        licence_token: Option<String>,
        /// Intermediate CA certificates (PEM), when the CA is not the root.
        #[arg(long)]
        chain: Option<PathBuf>,
        /// pkcs1-sha256|pkcs1-sha384|pkcs1-sha512|pss-sha256|pss-sha384|pss-sha512.
        #[arg(long, default_value = "pkcs1-sha256")]
        scheme: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The owner: check an order and issue a licence for it.
    #[command(after_help = "Example:\n  \
        symbolon content license --owner owner/ --order order.pem --content film.sealed --out film.licence\n\n\
        Refused (exit 5) when the order is replayed, older than --max-age, signed by a key without a \
        purchase-signing certificate from the pinned CA, or for a token slot this owner did not provision.")]
    License {
        #[command(flatten)]
        owner: OwnerDir,
        /// The purchase order (PEM).
        #[arg(long)]
        order: PathBuf,
        /// The sealed content (only its header is read).
        #[arg(long)]
        content: PathBuf,
        /// Oldest order accepted, in seconds.
        #[arg(long, default_value_t = 86400)]
        max_age: u64,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show a sealed file's header: content id, recipient key, chunk size.
    #[command(after_help = "Example:\n  symbolon content inspect film.sealed --json")]
    Inspect {
        /// The sealed content (default or "-": stdin).
        input: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OwnerCommand {
    /// Create the owner's station: issuer identity, catalogue key, order ledger.
    #[command(
        after_help = "Example:\n  symbolon content owner init --owner owner/ --ca-cert root.pem\n\n\
        --ca-cert is the CA whose purchase-signing certificates this owner accepts on orders."
    )]
    Init {
        #[command(flatten)]
        owner: OwnerDir,
        /// The CA root certificate (PEM) that certifies buyers' signing keys.
        #[arg(long)]
        ca_cert: PathBuf,
        /// The ledger database (default: sqlite://OWNER/owner.db).
        #[arg(long, env = "SYMBOLON_OWNER_DATABASE")]
        database: Option<String>,
    },
    /// Print a public key: the catalogue key (default), the issuer identity, or a provisioned key.
    #[command(after_help = "Examples:\n  \
        symbolon content owner public-key --owner owner/ --out catalogue.pem\n  \
        symbolon content owner public-key --owner owner/ --identity --out owner-issuer.pem\n  \
        symbolon content owner public-key --owner owner/ --token-serial SERIAL --slot content\n\n\
        Seal published content to the catalogue key and sell it with licences; or seal to one token's \
        provisioned key directly. Users' tokens must trust the identity (`token trust-issuer`).")]
    PublicKey {
        #[command(flatten)]
        owner: OwnerDir,
        /// The owner's issuer identity key instead.
        #[arg(long, conflicts_with = "token_serial")]
        identity: bool,
        /// The decryption key provisioned into this token…
        #[arg(long, requires = "slot")]
        token_serial: Option<String>,
        /// …and slot.
        #[arg(long, requires = "token_serial")]
        slot: Option<String>,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Generate a decryption key and write it into a user's token; keep only its public key.
    #[command(after_help = "Example:\n  \
        symbolon content owner provision --owner owner/ --token alice.token --slot content --out alice-content.pem\n\n\
        The token must trust the owner's identity. The private key exists only in this process until the \
        token accepts it (wrapped to the token's transport key), then only in the token.")]
    Provision {
        #[command(flatten)]
        owner: OwnerDir,
        #[command(flatten)]
        token: TokenArgs,
        #[command(flatten)]
        slot: SlotArg,
        /// rsa-2048, rsa-3072 or rsa-4096.
        #[arg(long, default_value = "rsa-2048")]
        algorithm: String,
        /// Write the public key here too (default: only printed with --json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// What `symbolon issue` needs.
#[derive(Debug, Args, Clone)]
pub(crate) struct IssueArgs {
    /// The CA service URL, or local:DIR to run the CA of a data directory
    /// inside this process.
    #[arg(long, env = "SYMBOLON_CA")]
    pub(crate) ca: String,
    /// The CA root certificate you trust (PEM): the service's TLS
    /// certificate and its signed answers must chain to it.
    #[arg(long, env = "SYMBOLON_CA_CERT")]
    pub(crate) ca_cert: PathBuf,
    /// The station's issuer identity directory.
    #[arg(long, env = "SYMBOLON_ISSUER")]
    pub(crate) issuer: PathBuf,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The identity the user presents, RFC 4514 (CN=…,O=…,C=…).
    #[arg(long)]
    pub(crate) identity: String,
    /// client, email, document-signing, server (needs --on-token) or
    /// purchase-signing (orders for protected content).
    #[arg(long, default_value = "client")]
    pub(crate) role: String,
    /// A subject alternative name to ask for: dns:NAME, ip:ADDRESS or
    /// email:ADDRESS (repeat). Certified only as far as the subject's
    /// registration or the station's name policy allows (docs/vetting.md).
    #[arg(long)]
    pub(crate) san: Vec<String>,
    /// rsa-2048 (the default), rsa-3072, rsa-4096, p256, p384 or ed25519
    /// (docs/ec-keys.md).
    #[arg(long)]
    pub(crate) algorithm: Option<String>,
    /// Let the token generate the key and attest it (embodiment 4).
    #[arg(long)]
    pub(crate) on_token: bool,
    /// Escrow the key under this policy of registered arbitrators (e.g.
    /// "seq(user, any(2, a, b, c), recorder)") before it enters the token.
    #[arg(long)]
    pub(crate) escrow: Option<String>,
    /// Also save the PKCS#10 request here.
    #[arg(long)]
    pub(crate) csr_out: Option<PathBuf>,
    /// Also save the certificate here (PEM).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// Create a CA: a token with the CA key and a self-signed root.
    #[command(
        after_help = "Example:\n  symbolon ca init --data symbolon-data --subject 'CN=Example Root CA,O=Example' --algorithm rsa-3072"
    )]
    Init(CaInitArgs),
    /// Install the certificate an external parent issued for this CA.
    #[command(
        after_help = "Example:\n  symbolon ca init --data symbolon-data --subject 'CN=Example Issuing CA' --parent-csr issuing.csr\n  \
                            # … the parent signs issuing.csr as a CA certificate …\n  \
                            symbolon ca import-cert --data symbolon-data --in issuing.crt --chain parent-chain.pem"
    )]
    ImportCert(CaImportCertArgs),
    /// Print the CA's root certificate (PEM) from a running CA or a data directory.
    #[command(
        after_help = "Examples:\n  symbolon ca certificate --ca http://127.0.0.1:8080 --out root.pem\n  symbolon ca certificate --data symbolon-data"
    )]
    Certificate(CaCertificateArgs),
}

/// The arguments of `CaCommand::Init`.
#[derive(Debug, clap::Args)]
pub(crate) struct CaInitArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The CA's name, RFC 4514.
    #[arg(long, default_value = "CN=symbolon CA")]
    pub(crate) subject: String,
    /// The CA key's algorithm: rsa-2048, rsa-3072, rsa-4096, or an EC
    /// curve that signs (p256, p384, ed25519; docs/ec-keys.md).
    #[arg(long, default_value = "rsa-3072")]
    pub(crate) algorithm: String,
    /// Validity of issued certificates, in days.
    #[arg(long, default_value_t = 365)]
    pub(crate) validity_days: u32,
    /// Require a token attestation for every request.
    #[arg(long)]
    pub(crate) require_attestation: bool,
    /// Roles (comma-separated) whose keys must be attested by a device
    /// whose key chains to a trusted manufacturer root, not only vouched
    /// for by a station (docs/vetting.md).
    #[arg(long, value_delimiter = ',')]
    pub(crate) manufacturer_evidence: Vec<String>,
    /// The elliptic curves certified for a role, as ROLE=CURVE[+CURVE…]
    /// (curves: p256, p384, ed25519; `ROLE=` alone: RSA only), once per
    /// role. Roles not named take P-256 and P-384, and Ed25519 except
    /// for `server` (docs/ec-keys.md).
    #[arg(long = "curves", value_name = "ROLE=CURVES")]
    pub(crate) curves: Vec<String>,
    /// Make this CA a subordinate of an external parent: write a PKCS#10
    /// request for the parent here instead of a self-signed root.
    #[arg(long)]
    pub(crate) parent_csr: Option<PathBuf>,
    /// Keep the CA key on a PKCS#11 device (a pkcs11: URI; the PIN from
    /// pin-source=file:PATH or env:NAME) instead of a soft token in --data.
    #[arg(long)]
    pub(crate) ca_token: Option<String>,
}

/// The arguments of `CaCommand::ImportCert`.
#[derive(Debug, clap::Args)]
pub(crate) struct CaImportCertArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The CA certificate the parent issued (PEM).
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// The parent's chain: its issuing certificate first, its root last (PEM).
    #[arg(long)]
    pub(crate) chain: PathBuf,
}

/// The arguments of `CaCommand::Certificate`.
#[derive(Debug, clap::Args)]
pub(crate) struct CaCertificateArgs {
    /// A running CA.
    #[arg(long, env = "SYMBOLON_CA", conflicts_with = "data")]
    pub(crate) ca: Option<String>,
    /// The CA certificate you already trust (PEM), to reach an https
    /// service; the chain it serves must end at it.
    #[arg(long, env = "SYMBOLON_CA_CERT", requires = "ca")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// A local data directory.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// What `symbolon enroll` needs.
#[derive(Debug, Args, Clone)]
pub(crate) struct EnrollArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The enrollment code `symbolon admin grant` printed.
    #[arg(long, env = "SYMBOLON_ENROLLMENT_CODE")]
    pub(crate) code: String,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The slot for the credential's key.
    #[arg(long, default_value = symbolon_client::DEFAULT_CREDENTIAL_SLOT)]
    pub(crate) slot: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Grant a role to a party: prints a single-use enrollment code (valid 24 h) to give them.
    #[command(after_help = "Examples:\n  \
        symbolon admin grant --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token --role station --name st-1\n  \
        symbolon admin grant --role arbitrator --name card-company\n\n\
        Roles: admin, registration-officer, station, arbitrator, auditor. A name holds one role; an arbitrator's \
        name is its identifier in policies. Only the code's digest is stored: give the code to the party over a \
        channel you trust.")]
    Grant {
        #[command(flatten)]
        ca: CaArgs,
        /// The role.
        #[arg(long)]
        role: String,
        /// The party's name (a-z 0-9 . _ -).
        #[arg(long)]
        name: String,
    },
    /// List every credential: serial, name, role, state.
    #[command(
        after_help = "Example:\n  symbolon admin list --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token"
    )]
    List {
        #[command(flatten)]
        ca: CaArgs,
    },
    /// Revoke a credential: the service refuses it from the next request on.
    #[command(
        after_help = "Example:\n  symbolon admin revoke-credential --serial 4f0c… --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token"
    )]
    RevokeCredential {
        #[command(flatten)]
        ca: CaArgs,
        /// The credential's certificate serial (from `admin list`).
        #[arg(long)]
        serial: String,
    },
    /// A station's name policy: the namespaces it may have certified without a registration per subject.
    #[command(subcommand)]
    NamePolicy(NamePolicyCommand),
    /// Trust a device manufacturer's root: device keys whose certificate chains to it count as manufacturer-attested.
    #[command(after_help = "Example:
  \
        symbolon admin trust-manufacturer --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token vendor-root.pem

\
        The root must be a self-signed CA certificate (RSA, or ECDSA on P-256/P-384). A token registered with \
        `token register --device-chain` whose device certificate chains to it is attested by the manufacturer \
        as well as by the station that registered it; a CA policy's manufacturer_evidence roles require this.")]
    TrustManufacturer {
        #[command(flatten)]
        ca: CaArgs,
        /// The root certificate (PEM).
        root: PathBuf,
    },
    /// List the manufacturer roots the CA trusts.
    #[command(after_help = "Example:
  symbolon admin manufacturer-roots --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token")]
    ManufacturerRoots {
        #[command(flatten)]
        ca: CaArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NamePolicyCommand {
    /// Set (replace) a station's name policy; deny rules win over allow rules.
    #[command(after_help = "Examples:
  \
        symbolon admin name-policy set --station st-1 --allow 'dns:*.devices.example' --allow ip:10.0.0.0/8 --deny dns:admin.devices.example
  \
        symbolon admin name-policy set --station counter-1 --allow 'dn:O=Example,C=GB'
  \
        symbolon admin name-policy set --station st-1          # no rules: every subject needs a registration

\
        Rules (RFC 5280 name-constraint semantics, whole labels: dns:example.com does not cover badexample.com):
  \
        dns:example.com     the domain and every name below it
  \
        dns:*.example.com   only names below it (dns:* every DNS name, email:* every address)
  \
        ip:10.0.0.0/8       an IPv4 or IPv6 range (or one address)
  \
        email:example.com   any mailbox on that host; email:.example.com on hosts below it; email:a@example.com one mailbox
  \
        dn:O=Example,C=GB   every subject whose name begins with these RDNs; dn:* every subject (the station vets them itself)

\
        Every name in a certificate is checked: the subject (by a dn: rule, or else its CN and emailAddress as \
        the DNS name, IP or email address they are) and every subject alternative name.")]
    Set {
        #[command(flatten)]
        ca: CaArgs,
        /// The station's party name.
        #[arg(long)]
        station: String,
        /// An allow rule (repeat).
        #[arg(long)]
        allow: Vec<String>,
        /// A deny rule (repeat); deny wins.
        #[arg(long)]
        deny: Vec<String>,
    },
    /// Show a station's name policy.
    #[command(after_help = "Example:
  symbolon admin name-policy show --station st-1 --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token")]
    Show {
        #[command(flatten)]
        ca: CaArgs,
        /// The station's party name.
        #[arg(long)]
        station: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RaCommand {
    /// Record a subscriber you vetted (patent step 423): prints the registration id.
    #[command(after_help = "Examples:
  \
        symbolon ra register --identity 'CN=Alice Example,O=Example' --roles email,document-signing \\\n      \
        --evidence 'passport X1234567, seen in person' --valid 30d --uses 1
  \
        symbolon ra register --identity 'CN=www.example.com' --roles server --san dns:www.example.com --san dns:example.com \\\n      \
        --evidence 'domain control checked by DNS TXT record'

\
        The CA then certifies exactly this subject (compared after case and whitespace folding), for these roles, \
        once per use, until the registration expires or is withdrawn. Alternative names a certificate asks for must \
        be listed here (--san) or allowed by the requesting station's name policy. Subjects may carry CN, SN, \
        givenName, initials, pseudonym, title, O, OU, organizationIdentifier, C, ST, L, street, postalCode, \
        serialNumber, emailAddress, DC and UID. The evidence text is kept in the registry (the audit log keeps \
        its SHA-256), with your credential.")]
    Register {
        #[command(flatten)]
        ca: CaArgs,
        /// The subscriber's identity (RFC 4514).
        #[arg(long)]
        identity: String,
        /// Certificate roles, comma-separated (client, email, document-signing, server, purchase-signing).
        #[arg(long)]
        roles: String,
        /// What you checked, in words (at most 1024 bytes).
        #[arg(long)]
        evidence: String,
        /// How long the registration stays live (s, m, h, d; at most 365d).
        #[arg(long, default_value = "30d")]
        valid: String,
        /// How many certificates it covers.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// A vetted subject alternative name: dns:NAME, ip:ADDRESS or email:ADDRESS (repeat).
        #[arg(long)]
        san: Vec<String>,
    },
    /// List registrations, newest first (live ones, or --all).
    #[command(after_help = "Example:
  symbolon ra list --all --ca https://127.0.0.1:8080 --credential officer.token")]
    List {
        #[command(flatten)]
        ca: CaArgs,
        /// Every registration, not only live ones.
        #[arg(long)]
        all: bool,
    },
    /// Show one registration and the certificates issued under it.
    #[command(after_help = "Example:
  symbolon ra show --id 5d1c… --ca https://127.0.0.1:8080 --credential officer.token")]
    Show {
        #[command(flatten)]
        ca: CaArgs,
        /// The registration id.
        #[arg(long)]
        id: String,
    },
    /// Withdraw a registration: nothing more is certified under it.
    #[command(after_help = "Example:
  symbolon ra withdraw --id 5d1c… --reason 'left the company' --ca https://127.0.0.1:8080 --credential officer.token")]
    Withdraw {
        #[command(flatten)]
        ca: CaArgs,
        /// The registration id.
        #[arg(long)]
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// The service's edge: TLS, names, rate limits.
#[derive(Debug, Args, Clone)]
pub(crate) struct EdgeArgs {
    /// A name the service answers to (DNS name or IP address), for its TLS
    /// certificate; repeat for several. Default: localhost, 127.0.0.1, ::1.
    #[arg(long = "hostname", env = "SYMBOLON_HOSTNAME", value_delimiter = ',')]
    pub(crate) hostnames: Vec<String>,
    /// A TLS certificate chain (PEM, leaf first) to serve instead of one the
    /// CA issues itself; its key is in --tls-key.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The token holding --tls-cert's key (file, agent:SOCKET, pkcs11:).
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<String>,
    /// The key's slot in --tls-key.
    #[arg(long, default_value = "tls")]
    pub(crate) tls_key_slot: String,
    /// Serve plain HTTP (no TLS, so no credentials: every caller is
    /// anonymous). Refused on any address but loopback.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub(crate) insecure_http: bool,
    /// The service's base URL as relying parties reach it
    /// (e.g. `https://ca.example.org:8443`): certificates issued carry its CRL
    /// (URL/v1/crl), OCSP (URL/v1/ocsp) and CA certificate
    /// (URL/v1/ca/certificate.der) addresses. Without it they carry none.
    #[arg(long, env = "SYMBOLON_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Requests a second one credential may make, sustained (bursts of
    /// twice that).
    #[arg(long, env = "SYMBOLON_RATE_LIMIT", default_value_t = 200.0)]
    pub(crate) rate_limit: f64,
    /// Requests a second one anonymous address may make, sustained.
    #[arg(long, env = "SYMBOLON_ANONYMOUS_RATE_LIMIT", default_value_t = 20.0)]
    pub(crate) anonymous_rate_limit: f64,
}

/// The caller's credential, for every command that talks to the service.
#[derive(Debug, Args, Clone)]
pub(crate) struct CredentialArgs {
    /// The token holding your credential (from `symbolon enroll`): a file,
    /// agent:SOCKET or a pkcs11: URI. Its key signs the TLS handshake inside
    /// the token. Without it you are anonymous: public endpoints only.
    #[arg(long, global = true, env = "SYMBOLON_CREDENTIAL")]
    pub(crate) credential: Option<String>,
    /// The credential's slot in that token.
    #[arg(long, global = true, env = "SYMBOLON_CREDENTIAL_SLOT", default_value = symbolon_client::DEFAULT_CREDENTIAL_SLOT)]
    pub(crate) credential_slot: String,
    /// The CA certificate(s) the service's TLS certificate must chain to,
    /// when that is not the symbolon CA (a service run with `--tls-cert`
    /// from another CA, or behind a TLS-terminating proxy). Default: the
    /// --ca-cert the command pins. Signed answers are always checked
    /// against --ca-cert.
    #[arg(long, global = true, env = "SYMBOLON_TLS_CA")]
    pub(crate) tls_ca: Option<PathBuf>,
}

/// Where the service's data lives.
#[derive(Debug, Args, Clone)]
pub(crate) struct DataArgs {
    /// The data directory.
    #[arg(long, env = "SYMBOLON_DATA", default_value = "symbolon-data")]
    pub(crate) data: PathBuf,
    /// The registry database (default: sqlite://DATA/registry.db).
    #[arg(long, env = "SYMBOLON_DATABASE")]
    pub(crate) database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Recompute the audit chain and name the first broken link.
    #[command(
        after_help = "Example:\n  symbolon audit verify --data symbolon-data\n\n\
                            Exit 0 when every entry is intact; 4 with the first entry that was edited, \
                            removed or reordered."
    )]
    Verify(#[command(flatten)] DataArgs),
}

/// Where the token is.
#[derive(Debug, Args, Clone)]
pub(crate) struct TokenArgs {
    /// The token: a soft-token file, agent:SOCKET for a token agent, or a pkcs11: URI
    /// (RFC 7512; the PIN from pin-source=file:PATH or env:NAME, never the URI).
    #[arg(long, env = "SYMBOLON_TOKEN", required_unless_present = "agent")]
    pub(crate) token: Option<String>,
    /// Go through the token agent at this socket (same as --token agent:PATH).
    #[arg(long, conflicts_with = "token")]
    pub(crate) agent: Option<PathBuf>,
    /// The soft token's sealing key file (default: TOKEN.sealing-key).
    #[arg(long, env = "SYMBOLON_SEALING_KEY")]
    pub(crate) sealing_key: Option<PathBuf>,
}

/// A slot.
#[derive(Debug, Args, Clone)]
pub(crate) struct SlotArg {
    /// The key slot's name.
    #[arg(long)]
    pub(crate) slot: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a new soft token and its sealing key, or set up a PKCS#11 token for symbolon.
    #[command(
        after_help = "Examples:\n  symbolon token init --token alice.token\n  \
                            symbolon token init --token 'pkcs11:token=alice?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:pin.txt'\n\n\
                            A soft token writes alice.token and alice.token.sealing-key (mode 0600); keep the key file \
                            apart from the token in production (--sealing-key). A PKCS#11 token (already initialised with a \
                            user PIN) gets a device identity key, a transport key and symbolon's state object."
    )]
    Init(TokenInitArgs),
    /// Show serial, state, trust list and slots.
    #[command(after_help = "Example:\n  symbolon token info --token alice.token --json")]
    Info(#[command(flatten)] TokenArgs),
    /// Trust an issuer to write keys and certificates (only while the token is new).
    #[command(
        after_help = "Example:\n  symbolon token trust-issuer --token alice.token --issuer-key station.pub.pem\n\n\
                            The trust list is fixed for good when the token's first key is created."
    )]
    TrustIssuer(TokenTrustIssuerArgs),
    /// Generate a key pair inside the token.
    #[command(
        after_help = "Example:\n  symbolon token generate --token alice.token --slot signing --algorithm rsa-3072"
    )]
    Generate(TokenGenerateArgs),
    /// Store a data object (your data, not a key) in the token.
    #[command(
        after_help = "Example:\n  symbolon token put-object --token alice.token --name contacts --in contacts.vcf"
    )]
    PutObject(TokenPutObjectArgs),
    /// Read a data object.
    #[command(
        after_help = "Example:\n  symbolon token get-object --token alice.token --name contacts --out contacts.vcf"
    )]
    GetObject(TokenGetObjectArgs),
    /// Back up the token's data objects (not its keys), sealed to one of its own keys (S10–S11).
    #[command(
        after_help = "Example:\n  symbolon token backup --token alice.token --slot mail --out alice.backup\n\n\
        Seal the backup to an escrowed key: after the key is recovered into a new token, `token restore` \
        with that token brings the objects back (S12). The slot's key may be RSA, P-256, P-384 or X25519 \
        (not Ed25519, which only signs). The format is sealed content (docs/content-format.md)."
    )]
    Backup(TokenBackupArgs),
    /// Restore data objects from a backup, opened with the key in --slot (S12).
    #[command(
        after_help = "Example:\n  symbolon token restore --token new.token --slot mail --in alice.backup"
    )]
    Restore(TokenRestoreArgs),
    /// Print a public key as PEM: a slot's, or the token's device or transport key.
    #[command(
        after_help = "Examples:\n  symbolon token public-key --token alice.token --slot signing --out signing.pub.pem\n  \
                            symbolon token public-key --token alice.token --device"
    )]
    PublicKey(TokenPublicKeyArgs),
    /// Sign a file (hashed here) or a pre-computed digest with a slot's key.
    #[command(
        after_help = "Examples:\n  symbolon token sign --token alice.token --slot signing --in doc.pdf --out doc.sig\n  \
                            symbolon token sign --token alice.token --slot signing --scheme pss-sha384 --digest <96 hex digits>\n  \
                            symbolon token sign --token alice.token --slot ec --in doc.pdf --out doc.sig   # p256: ecdsa-sha256\n  \
                            openssl dgst -sha256 -verify ec.pub.pem -signature doc.sig doc.pdf\n\n\
                            The signature is raw bytes as OpenSSL writes them (`openssl dgst -sign`, `openssl pkeyutl`; ECDSA: DER)."
    )]
    Sign(TokenSignArgs),
    /// Decrypt an RSAES-OAEP (SHA-256) ciphertext with a slot's key.
    #[command(
        after_help = "Example:\n  openssl pkeyutl -encrypt -pubin -inkey enc.pub.pem -pkeyopt rsa_padding_mode:oaep \\\n    \
                            -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in secret -out secret.enc\n  \
                            symbolon token decrypt --token alice.token --slot enc --in secret.enc --out secret"
    )]
    Decrypt(TokenDecryptArgs),
    /// Print a slot's certificate (PEM).
    #[command(
        after_help = "Example:\n  symbolon token certificate --token alice.token --slot signing --out signing.crt"
    )]
    Certificate(TokenCertificateArgs),
    /// Apply an issuer's signed command writing a certificate.
    #[command(
        after_help = "Example:\n  symbolon token write-certificate --token alice.token --authorization cert-cmd.json"
    )]
    WriteCertificate(TokenWriteCertificateArgs),
    /// Apply an issuer's signed command carrying a wrapped key.
    #[command(
        after_help = "Example:\n  symbolon token accept-key --token alice.token --authorization key-cmd.json"
    )]
    AcceptKey(TokenAcceptKeyArgs),
    /// Sign, with the device key, where a slot's key came from and that it cannot be exported.
    #[command(
        after_help = "Example:\n  symbolon token attest --token alice.token --slot signing --nonce 5f3a... --out signing.att.json"
    )]
    Attest(TokenAttestArgs),
    /// Tamper response: zeroise every secret and leave the token dead for good.
    #[command(after_help = "Example:\n  symbolon token tamper --token alice.token --yes")]
    Tamper(TokenTamperArgs),
    /// Register the token's device key with a CA, vouching for it (station or registration officer), so its attestations count.
    #[command(after_help = "Examples:\n  \
        symbolon token register --token alice.token --ca https://127.0.0.1:8080 --credential station.token\n  \
        symbolon token register --token 'pkcs11:token=alice?…' --device-chain device-chain.pem --ca https://127.0.0.1:8080\n\n\
        Your credential vouches that you initialised or received this device. With --device-chain (the device \
        key's certificate, then intermediates, PEM) chaining to a manufacturer root the admin trusts, the \
        manufacturer vouches too; a chain that does not check out is refused. A device key is registered under one serial.")]
    Register(TokenRegisterArgs),
    /// What the CA knows of this token's device: who vouched, the evidence, a replacement, its certificates.
    #[command(
        after_help = "Example:\n  symbolon token registration --token alice.token --ca https://127.0.0.1:8080 --credential station.token"
    )]
    Registration(TokenRegistrationArgs),
    /// Hold the token in this process and serve it on a Unix socket.
    #[command(
        after_help = "Example:\n  symbolon token serve --token alice.token --socket $XDG_RUNTIME_DIR/symbolon.sock &\n  \
                            symbolon token info --agent $XDG_RUNTIME_DIR/symbolon.sock"
    )]
    Serve(TokenServeArgs),
}

/// The arguments of `TokenCommand::Init`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenInitArgs {
    /// The token file to create, or a pkcs11: URI.
    #[arg(long)]
    pub(crate) token: PathBuf,
    /// Where to write the sealing key (default: TOKEN.sealing-key).
    #[arg(long)]
    pub(crate) sealing_key: Option<PathBuf>,
}

/// The arguments of `TokenCommand::TrustIssuer`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenTrustIssuerArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The issuer's public key (PEM), from `symbolon issuer public-key`.
    #[arg(long)]
    pub(crate) issuer_key: PathBuf,
}

/// The arguments of `TokenCommand::Generate`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenGenerateArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// rsa-2048, rsa-3072, rsa-4096, or an elliptic curve: p256, p384,
    /// ed25519 (signing), x25519 (key agreement only: a content
    /// decryption key; docs/ec-keys.md).
    #[arg(long, default_value = "rsa-2048")]
    pub(crate) algorithm: String,
}

/// The arguments of `TokenCommand::PutObject`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenPutObjectArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The object's name (like a slot name).
    #[arg(long)]
    pub(crate) name: String,
    /// The data (default: stdin), at most 64 KiB.
    #[arg(long = "in")]
    pub(crate) input: Option<PathBuf>,
}

/// The arguments of `TokenCommand::GetObject`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenGetObjectArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The object's name.
    #[arg(long)]
    pub(crate) name: String,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `TokenCommand::Backup`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenBackupArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// Output file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The arguments of `TokenCommand::Restore`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenRestoreArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The backup.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
}

/// The arguments of `TokenCommand::PublicKey`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenPublicKeyArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The slot.
    #[arg(long, required_unless_present_any = ["device", "transport"])]
    pub(crate) slot: Option<String>,
    /// The device identity key (verifies attestations).
    #[arg(long, conflicts_with_all = ["slot", "transport"])]
    pub(crate) device: bool,
    /// The transport key (issuers wrap keys to it).
    #[arg(long, conflicts_with_all = ["slot", "device"])]
    pub(crate) transport: bool,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `TokenCommand::Sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenSignArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// RSA: pkcs1-sha256|pkcs1-sha384|pkcs1-sha512|pss-sha256|pss-sha384|pss-sha512;
    /// EC: ecdsa-sha256 (P-256), ecdsa-sha384 (P-384), ed25519. Default:
    /// pkcs1-sha256 for an RSA slot, the curve's own for an EC slot.
    #[arg(long)]
    pub(crate) scheme: Option<String>,
    /// The message file (default: stdin).
    #[arg(long = "in", conflicts_with = "digest")]
    pub(crate) input: Option<PathBuf>,
    /// A digest already computed with the scheme's hash, in hex (not
    /// for ed25519, which signs the message itself).
    #[arg(long)]
    pub(crate) digest: Option<String>,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `TokenCommand::Decrypt`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenDecryptArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The ciphertext file (default: stdin).
    #[arg(long = "in")]
    pub(crate) input: Option<PathBuf>,
    /// Output file, created with mode 0600 (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `TokenCommand::Certificate`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenCertificateArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `TokenCommand::WriteCertificate`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenWriteCertificateArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The signed command file from `symbolon issuer write-certificate --out`.
    #[arg(long)]
    pub(crate) authorization: PathBuf,
}

/// The arguments of `TokenCommand::AcceptKey`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenAcceptKeyArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// The signed command file from `symbolon issuer accept-key --out`.
    #[arg(long)]
    pub(crate) authorization: PathBuf,
}

/// The arguments of `TokenCommand::Attest`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenAttestArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The verifier's freshness nonce, hex (up to 64 bytes).
    #[arg(long, default_value = "")]
    pub(crate) nonce: String,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `TokenCommand::Tamper`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenTamperArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// Confirm: this cannot be undone.
    #[arg(long)]
    pub(crate) yes: bool,
}

/// The arguments of `TokenCommand::Register`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenRegisterArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The device key's certificate chain from its manufacturer (PEM).
    #[arg(long)]
    pub(crate) device_chain: Option<PathBuf>,
}

/// The arguments of `TokenCommand::Registration`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenRegistrationArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) ca: CaArgs,
}

/// The arguments of `TokenCommand::Serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenServeArgs {
    /// The soft-token file to serve.
    #[arg(long)]
    pub(crate) token: PathBuf,
    /// Its sealing key file (default: TOKEN.sealing-key).
    #[arg(long, env = "SYMBOLON_SEALING_KEY")]
    pub(crate) sealing_key: Option<PathBuf>,
    /// The socket to listen on (created with mode 0600).
    #[arg(long)]
    pub(crate) socket: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Run the CA's weak-key checks on an RSA public key (or a certificate's).
    #[command(after_help = "Examples:\n  symbolon keys check --in key.pub.pem\n  \
        openssl pkey -in key.pem -pubout | symbolon keys check --deep --json\n\n\
        The checks are those the CA runs before certifying (docs/weak-keys.md): size and exponent, \
        small factors (exact below 2^20; with --deep also Pollard's rho, seconds a key), a prime or \
        prime-power modulus, Fermat, ROCA, patterned, biased and repeated-byte moduli, the xz backdoor's \
        fingerprint. Exit 0: none found; exit 5 (weak_key): the class and how it was found.")]
    Check {
        /// The key: PEM (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE) or DER; stdin when absent.
        #[arg(long = "in")]
        input: Option<PathBuf>,
        /// Also run Pollard's rho (factors up to 2^32 and beyond; seconds a key).
        #[arg(long)]
        deep: bool,
    },
    /// Find every pair of keys the registry has seen that share a prime.
    #[command(after_help = "Example:\n  symbolon keys scan --data symbolon-data\n\n\
        Bernstein's batch gcd (product and remainder trees) over every modulus the registry has seen: \
        certified, reserved, abandoned and refused. Each key found is printed with the keys it shares a \
        prime with; the first time a key is found it is flagged and an audit entry (shared-prime-found) \
        names the pair. The service already refuses a new key that shares a prime with one seen before; \
        a scan finds pairs from before that check, or imported in bulk. Exit 0: none; exit 5: some.")]
    Scan(DataArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AttestationCommand {
    /// Verify an attestation against the device key you expect.
    #[command(
        after_help = "Example:\n  symbolon token public-key --token alice.token --device --out device.pem\n  \
                            symbolon attestation verify --in signing.att.json --device-key device.pem --public-key signing.pub.pem --nonce 5f3a..."
    )]
    Verify {
        /// The attestation file.
        #[arg(long = "in")]
        input: PathBuf,
        /// The device identity key you expect (PEM).
        #[arg(long)]
        device_key: PathBuf,
        /// The public key you expect it to attest (PEM).
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// The nonce you supplied, hex.
        #[arg(long)]
        nonce: Option<String>,
    },
}

/// Where the issuer identity is.
#[derive(Debug, Args, Clone)]
pub(crate) struct IssuerDir {
    /// The issuer's directory (identity sealed in issuer.sealed).
    #[arg(long, env = "SYMBOLON_ISSUER")]
    pub(crate) issuer: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IssuerCommand {
    /// Create an issuer identity.
    #[command(after_help = "Example:\n  symbolon issuer init --issuer station/")]
    Init(#[command(flatten)] IssuerDir),
    /// Print the issuer's public key (PEM), for `token trust-issuer`.
    #[command(
        after_help = "Example:\n  symbolon issuer public-key --issuer station/ --out station.pub.pem"
    )]
    PublicKey {
        #[command(flatten)]
        issuer: IssuerDir,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a command writing a certificate into a token slot; apply it, or save it with --out.
    #[command(
        after_help = "Example:\n  symbolon issuer write-certificate --issuer station/ --token alice.token --slot signing --in signing.crt"
    )]
    WriteCertificate {
        #[command(flatten)]
        issuer: IssuerDir,
        #[command(flatten)]
        token: TokenArgs,
        #[command(flatten)]
        slot: SlotArg,
        /// The certificate (PEM or DER).
        #[arg(long = "in")]
        input: PathBuf,
        /// Save the signed command here instead of applying it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Wrap a private key to a token's transport key and sign a command accepting it.
    #[command(
        after_help = "Example:\n  symbolon issuer accept-key --issuer station/ --token alice.token --slot enc --key enc.key.pem\n\n\
                            The key file is read, wrapped and never written anywhere; delete it securely afterwards."
    )]
    AcceptKey {
        #[command(flatten)]
        issuer: IssuerDir,
        #[command(flatten)]
        token: TokenArgs,
        #[command(flatten)]
        slot: SlotArg,
        /// The private key (RSA, P-256, P-384 or Ed25519) (PEM, PKCS#8 or PKCS#1).
        #[arg(long)]
        key: PathBuf,
        /// Save the signed command here instead of applying it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

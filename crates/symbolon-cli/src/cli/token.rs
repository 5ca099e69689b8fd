//! `symbolon token …`, `keys …`, `attestation …` and `issuer …`: the
//! token (FIG. 3, 13–16) and its authorised issuer.

use super::*;

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
    Check(KeysCheckArgs),
    /// Find every pair of keys the registry has seen that share a prime.
    #[command(after_help = "Example:\n  symbolon keys scan --data symbolon-data\n\n\
        Bernstein's batch gcd (product and remainder trees) over every modulus the registry has seen: \
        certified, reserved, abandoned and refused. Each key found is printed with the keys it shares a \
        prime with; the first time a key is found it is flagged and an audit entry (shared-prime-found) \
        names the pair. The service already refuses a new key that shares a prime with one seen before; \
        a scan finds pairs from before that check, or imported in bulk. Exit 0: none; exit 5: some.")]
    Scan(DataArgs),
}

/// The arguments of `KeysCommand::Check`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysCheckArgs {
    /// The key: PEM (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE) or DER; stdin when absent.
    #[arg(long = "in")]
    pub(crate) input: Option<PathBuf>,
    /// Also run Pollard's rho (factors up to 2^32 and beyond; seconds a key).
    #[arg(long)]
    pub(crate) deep: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AttestationCommand {
    /// Verify an attestation against the device key you expect.
    #[command(
        after_help = "Example:\n  symbolon token public-key --token alice.token --device --out device.pem\n  \
                            symbolon attestation verify --in signing.att.json --device-key device.pem --public-key signing.pub.pem --nonce 5f3a..."
    )]
    Verify(AttestationVerifyArgs),
}

/// The arguments of `AttestationCommand::Verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct AttestationVerifyArgs {
    /// The attestation file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// The device identity key you expect (PEM).
    #[arg(long)]
    pub(crate) device_key: PathBuf,
    /// The public key you expect it to attest (PEM).
    #[arg(long)]
    pub(crate) public_key: Option<PathBuf>,
    /// The nonce you supplied, hex.
    #[arg(long)]
    pub(crate) nonce: Option<String>,
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
    PublicKey(IssuerPublicKeyArgs),
    /// Sign a command writing a certificate into a token slot; apply it, or save it with --out.
    #[command(
        after_help = "Example:\n  symbolon issuer write-certificate --issuer station/ --token alice.token --slot signing --in signing.crt"
    )]
    WriteCertificate(IssuerWriteCertificateArgs),
    /// Wrap a private key to a token's transport key and sign a command accepting it.
    #[command(
        after_help = "Example:\n  symbolon issuer accept-key --issuer station/ --token alice.token --slot enc --key enc.key.pem\n\n\
                            The key file is read, wrapped and never written anywhere; delete it securely afterwards."
    )]
    AcceptKey(IssuerAcceptKeyArgs),
}

/// The arguments of `IssuerCommand::PublicKey`.
#[derive(Debug, clap::Args)]
pub(crate) struct IssuerPublicKeyArgs {
    #[command(flatten)]
    pub(crate) issuer: IssuerDir,
    /// Output file (default: stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `IssuerCommand::WriteCertificate`.
#[derive(Debug, clap::Args)]
pub(crate) struct IssuerWriteCertificateArgs {
    #[command(flatten)]
    pub(crate) issuer: IssuerDir,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The certificate (PEM or DER).
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// Save the signed command here instead of applying it.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The arguments of `IssuerCommand::AcceptKey`.
#[derive(Debug, clap::Args)]
pub(crate) struct IssuerAcceptKeyArgs {
    #[command(flatten)]
    pub(crate) issuer: IssuerDir,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) slot: SlotArg,
    /// The private key (RSA, P-256, P-384 or Ed25519) (PEM, PKCS#8 or PKCS#1).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// Save the signed command here instead of applying it.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

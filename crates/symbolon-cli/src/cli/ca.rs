//! `symbolon issue`, `ca …`, `admin …`, `name-policy …` and `ra …`: the
//! issuance station, the CA and its operators.

use super::*;

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

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Grant a role to a party: prints a single-use enrollment code (valid 24 h) to give them.
    #[command(after_help = "Examples:\n  \
        symbolon admin grant --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token --role station --name st-1\n  \
        symbolon admin grant --role arbitrator --name card-company\n\n\
        Roles: admin, registration-officer, station, arbitrator, auditor. A name holds one role; an arbitrator's \
        name is its identifier in policies. Only the code's digest is stored: give the code to the party over a \
        channel you trust.")]
    Grant(AdminGrantArgs),
    /// List every credential: serial, name, role, state.
    #[command(
        after_help = "Example:\n  symbolon admin list --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token"
    )]
    List(AdminListArgs),
    /// Revoke a credential: the service refuses it from the next request on.
    #[command(
        after_help = "Example:\n  symbolon admin revoke-credential --serial 4f0c… --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token"
    )]
    RevokeCredential(AdminRevokeCredentialArgs),
    /// A station's name policy: the namespaces it may have certified without a registration per subject.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon admin name-policy set --station st-1 --allow 'dns:*.devices.example' --deny dns:admin.devices.example --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token\n  symbolon admin name-policy show --station st-1 --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token"
    )]
    NamePolicy(NamePolicyCommand),
    /// Trust a device manufacturer's root: device keys whose certificate chains to it count as manufacturer-attested.
    #[command(after_help = "Example:
  \
        symbolon admin trust-manufacturer --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token vendor-root.pem

\
        The root must be a self-signed CA certificate (RSA, or ECDSA on P-256/P-384). A token registered with \
        `token register --device-chain` whose device certificate chains to it is attested by the manufacturer \
        as well as by the station that registered it; a CA policy's manufacturer_evidence roles require this.")]
    TrustManufacturer(AdminTrustManufacturerArgs),
    /// List the manufacturer roots the CA trusts.
    #[command(after_help = "Example:
  symbolon admin manufacturer-roots --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token")]
    ManufacturerRoots(AdminManufacturerRootsArgs),
}

/// The arguments of `AdminCommand::Grant`.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminGrantArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The role.
    #[arg(long)]
    pub(crate) role: String,
    /// The party's name (a-z 0-9 . _ -).
    #[arg(long)]
    pub(crate) name: String,
}

/// The arguments of `AdminCommand::List`.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminListArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
}

/// The arguments of `AdminCommand::RevokeCredential`.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminRevokeCredentialArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The credential's certificate serial (from `admin list`).
    #[arg(long)]
    pub(crate) serial: String,
}

/// The arguments of `AdminCommand::TrustManufacturer`.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminTrustManufacturerArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The root certificate (PEM).
    pub(crate) root: PathBuf,
}

/// The arguments of `AdminCommand::ManufacturerRoots`.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminManufacturerRootsArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
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
    Set(NamePolicySetArgs),
    /// Show a station's name policy.
    #[command(after_help = "Example:
  symbolon admin name-policy show --station st-1 --ca https://127.0.0.1:8080 --credential symbolon-data/admin.token")]
    Show(NamePolicyShowArgs),
}

/// The arguments of `NamePolicyCommand::Set`.
#[derive(Debug, clap::Args)]
pub(crate) struct NamePolicySetArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The station's party name.
    #[arg(long)]
    pub(crate) station: String,
    /// An allow rule (repeat).
    #[arg(long)]
    pub(crate) allow: Vec<String>,
    /// A deny rule (repeat); deny wins.
    #[arg(long)]
    pub(crate) deny: Vec<String>,
}

/// The arguments of `NamePolicyCommand::Show`.
#[derive(Debug, clap::Args)]
pub(crate) struct NamePolicyShowArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The station's party name.
    #[arg(long)]
    pub(crate) station: String,
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
  symbolon ra register --identity 'CN=router-7.example.net' --roles client --san dns:router-7.example.net \\\n      \
        --evidence 'serial R7-0042 checked against the delivery note' --enrollment-code
  # then, on the device (CMP; the id printed above is the reference):
  openssl cmp -cmd ir -server ca.example:8443 -path .well-known/cmp -tls_used -tls_trusted root.pem \\\n      \
        -trusted root.pem -ref ID -secret pass:CODE -newkey device.key -subject /CN=router-7.example.net \\\n      \
        -recipient /CN=ca -certout device.pem

\
        The CA then certifies exactly this subject (compared after case and whitespace folding), for these roles, \
        once per use, until the registration expires or is withdrawn. Alternative names a certificate asks for must \
        be listed here (--san) or allowed by the requesting station's name policy. Subjects may carry CN, SN, \
        givenName, initials, pseudonym, title, O, OU, organizationIdentifier, C, ST, L, street, postalCode, \
        serialNumber, emailAddress, DC and UID. The evidence text is kept in the registry (the audit log keeps \
        its SHA-256), with your credential.")]
    Register(RaRegisterArgs),
    /// List registrations, newest first (live ones, or --all).
    #[command(after_help = "Example:
  symbolon ra list --all --ca https://127.0.0.1:8080 --credential officer.token")]
    List(RaListArgs),
    /// Show one registration and the certificates issued under it.
    #[command(after_help = "Example:
  symbolon ra show --id 5d1c… --ca https://127.0.0.1:8080 --credential officer.token")]
    Show(RaShowArgs),
    /// Withdraw a registration: nothing more is certified under it.
    #[command(after_help = "Example:
  symbolon ra withdraw --id 5d1c… --reason 'left the company' --ca https://127.0.0.1:8080 --credential officer.token")]
    Withdraw(RaWithdrawArgs),
    /// Issue an ACME external account binding key for a station: its holder makes one ACME account that orders names under the station's name policy.
    #[command(after_help = "Examples:
  symbolon ra acme-eab --station web-farm --ca https://ca.example:8443 --credential officer.token
  # then, on the Web server (docs/acme.md):
  certbot certonly --standalone --server https://ca.example:8443/acme/server/directory \\\n      \
        --eab-kid KID --eab-hmac-key KEY -d www.example.com
  lego --server https://ca.example:8443/acme/server/directory --eab --kid KID --hmac KEY \\\n      \
        --email ops@example.com --domains www.example.com --http run

\
        The key binds one account, once, within --days. The station must have a name policy \
        (`symbolon admin name-policy`): the account may order only names it allows, each proven by \
        an http-01 or tls-alpn-01 challenge. The HMAC key is shown once.")]
    AcmeEab(RaAcmeEabArgs),
}

/// The arguments of `RaCommand::AcmeEab`.
#[derive(Debug, clap::Args)]
pub(crate) struct RaAcmeEabArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The station whose name policy the account works under.
    #[arg(long)]
    pub(crate) station: String,
    /// Days the key may wait for its account (1 to 30).
    #[arg(long, default_value_t = 7)]
    pub(crate) days: u32,
}

/// The arguments of `RaCommand::Register`.
#[derive(Debug, clap::Args)]
pub(crate) struct RaRegisterArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The subscriber's identity (RFC 4514).
    #[arg(long)]
    pub(crate) identity: String,
    /// Certificate roles, comma-separated (client, email, document-signing, server, purchase-signing).
    #[arg(long)]
    pub(crate) roles: String,
    /// What you checked, in words (at most 1024 bytes).
    #[arg(long)]
    pub(crate) evidence: String,
    /// How long the registration stays live (s, m, h, d; at most 365d).
    #[arg(long, default_value = "30d")]
    pub(crate) valid: String,
    /// How many certificates it covers.
    #[arg(long, default_value_t = 1)]
    pub(crate) uses: u32,
    /// A vetted subject alternative name: dns:NAME, ip:ADDRESS or email:ADDRESS (repeat).
    #[arg(long)]
    pub(crate) san: Vec<String>,
    /// Also make a single-use enrollment code the device presents in place of a station's
    /// credential: to EST's simpleenroll (docs/est.md), or as CMP's shared secret with the
    /// registration id as its reference (docs/cmp.md); shown once. Needs --uses 1.
    #[arg(long)]
    pub(crate) enrollment_code: bool,
}

/// The arguments of `RaCommand::List`.
#[derive(Debug, clap::Args)]
pub(crate) struct RaListArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// Every registration, not only live ones.
    #[arg(long)]
    pub(crate) all: bool,
}

/// The arguments of `RaCommand::Show`.
#[derive(Debug, clap::Args)]
pub(crate) struct RaShowArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The registration id.
    #[arg(long)]
    pub(crate) id: String,
}

/// The arguments of `RaCommand::Withdraw`.
#[derive(Debug, clap::Args)]
pub(crate) struct RaWithdrawArgs {
    #[command(flatten)]
    pub(crate) ca: CaArgs,
    /// The registration id.
    #[arg(long)]
    pub(crate) id: String,
    /// Why.
    #[arg(long)]
    pub(crate) reason: String,
}

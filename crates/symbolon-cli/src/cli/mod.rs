//! The command line: `symbolon <noun> <verb>` (docs/design.md §4).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod ca;
mod content;
mod evidence;
mod joint;
mod log;
mod recovery;
mod revocation;
mod token;

pub(crate) use ca::*;
pub(crate) use content::*;
pub(crate) use evidence::*;
pub(crate) use joint::*;
pub(crate) use log::*;
pub(crate) use recovery::*;
pub(crate) use revocation::*;
pub(crate) use token::*;

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
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon token init --token alice.token\n  symbolon token generate --token alice.token --slot signing --algorithm rsa-3072\n  symbolon token public-key --token alice.token --slot signing --out signing.pub.pem\n  symbolon token sign --token alice.token --slot signing --in doc.pdf --out doc.sig\n\nEach verb's --help shows its own examples."
    )]
    Token(TokenCommand),
    /// Check a token's key attestation.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon token public-key --token alice.token --device --out device.pem\n  symbolon attestation verify --in signing.att.json --device-key device.pem --public-key signing.pub.pem --nonce 5f3a…\n\nEach verb's --help shows its own examples."
    )]
    Attestation(AttestationCommand),
    /// An issuer identity: the key tokens trust to write keys and certificates.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon issuer init --issuer station/\n  symbolon issuer public-key --issuer station/ --out station.pub.pem\n  symbolon token trust-issuer --token alice.token --issuer-key station.pub.pem\n\nEach verb's --help shows its own examples."
    )]
    Issuer(IssuerCommand),
    /// The registry's hash-chained audit log.
    #[command(
        subcommand,
        after_help = "Example:\n  symbolon audit verify --data symbolon-data\n\nEach verb's --help shows its own examples."
    )]
    Audit(AuditCommand),
    /// The certification authority: set up, show its certificate.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon ca init --data symbolon-data --subject 'CN=Example Root CA,O=Example' --algorithm rsa-3072\n  symbolon ca certificate --ca http://127.0.0.1:8080 --out root.pem\n\nEach verb's --help shows its own examples."
    )]
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
    Serve(ServeArgs),
    /// Roles at the service: grant them, list and revoke credentials; stations' name policies; manufacturer roots (admin).
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon admin grant --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token --role station --name st-1\n  symbolon admin list --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token\n  symbolon admin revoke-credential --serial 4f0c… --ca https://127.0.0.1:8080 --ca-cert root.pem --credential symbolon-data/admin.token\n\nEach verb's --help shows its own examples."
    )]
    Admin(AdminCommand),
    /// The registration authority: record subscribers you vetted, so the CA certifies them (registration officer).
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon ra list --all --ca https://127.0.0.1:8080 --credential officer.token\n  symbolon ra show --id 5d1c… --ca https://127.0.0.1:8080 --credential officer.token\n  symbolon ra withdraw --id 5d1c… --reason 'left the company' --ca https://127.0.0.1:8080 --credential officer.token\n\nEach verb's --help shows its own examples."
    )]
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
        symbolon unseal --token alice.token --slot content --licence film.licence film.sealed film.mp4\n  \
        symbolon unseal --agent /run/user/1000/symbolon.sock --slot content film.sealed film.mp4\n\n\
        The content key is unwrapped inside the token and never leaves it. Each chunk is written only once it \
        has authenticated; an output file appears under its name only when the whole stream has (to stdout, a \
        failure exits non-zero after the chunks that did authenticate). Through a token agent, a file is \
        unsealed inside the agent, which reads the input and writes the output itself (the plaintext never \
        enters this process); from or to a pipe, the chunks cross the agent's socket instead.")]
    Unseal(UnsealArgs),
    /// Protected content: the owner's station, purchase orders and licences.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon content owner init --owner owner/ --ca-cert root.pem\n  symbolon content license --owner owner/ --order order.pem --content film.sealed --out film.licence\n  symbolon content inspect film.sealed --json\n\nEach verb's --help shows its own examples."
    )]
    Content(ContentCommand),
    /// Escrow arbitrators: their identities, registration, share checks.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon arbitrator init --arbitrator card-co/ --name card-company\n  symbolon arbitrator register --arbitrator card-co/ --ca http://127.0.0.1:8080\n  symbolon arbitrator verify-share --arbitrator card-co/ --ca http://127.0.0.1:8080 --escrow ID\n\nEach verb's --help shows its own examples."
    )]
    Arbitrator(ArbitratorCommand),
    /// Public keys: the CA's weak-key checks, offline.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon keys check --in key.pub.pem\n  symbolon keys scan --data symbolon-data\n\nEach verb's --help shows its own examples."
    )]
    Keys(KeysCommand),
    /// Escrow policies: check one and see who can satisfy it.
    #[command(
        subcommand,
        after_help = "Example:\n  symbolon policy check 'seq(user, all(card-company, any(1, provider-a, provider-b)))'\n\nEach verb's --help shows its own examples."
    )]
    Policy(PolicyCommand),
    /// Recovery of an escrowed key: request, approve or refuse, status, complete.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon recovery request --ca http://127.0.0.1:8080 --key sha256:… --reason 'token lost' …\n  symbolon recovery approve --arbitrator card-co/ --ca http://127.0.0.1:8080 --ca-cert root.pem --request ID\n  symbolon recovery status --ca http://127.0.0.1:8080 --request ID --json\n  symbolon recovery complete --ca http://127.0.0.1:8080 --request ID --token new.token\n\nEach verb's --help shows its own examples."
    )]
    Recovery(RecoveryCommand),
    /// Joint keys (fifth embodiment): a key all parties make and none of them knows.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon joint new-partial --bits 2048 --out issuer.partial\n  symbolon joint init --token alice.token --slot joint --e 65537 --partial-file issuer.partial\n  symbolon joint contribute --token alice.token --slot joint --partial-file provider.partial\n  symbolon joint finish --token alice.token --slot joint --out joint.pub.pem\n\nEach verb's --help shows its own examples."
    )]
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
    Revoke(crate::cli::RevokeArgs),
    /// Renew a certificate with a new key made in the token: the old key authorises it, the old certificate is superseded.
    #[command(after_help = "Example:
  symbolon renew --ca https://ca.example.org:8443 --ca-cert root.pem --issuer station --token alice.token \\
      --slot mail --new-slot mail-2027 --credential station.token

The token makes the new key and attests it; the new key signs the request, the old key (in --slot) \
signs the authorisation. The CA certifies the new key under the old certificate's subject, names and \
role (no registration needed: the old certificate is the vetting), once per certificate; when the new \
certificate is in the token, the old one is revoked as superseded. An expired, revoked or already \
renewed certificate is refused. `symbolon certificates expiring --within 30d` lists what to renew.")]
    Renew(crate::cli::RenewArgs),
    /// Certificates the CA issued: list by status, find those expiring, release a hold.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon certificates list --status revoked --ca https://ca.example.org:8443 --ca-cert root.pem\n  symbolon certificates expiring --within 30d --ca https://ca.example.org:8443 --ca-cert root.pem\n\nEach verb's --help shows its own examples."
    )]
    Certificates(crate::cli::CertificatesCommand),
    /// The CA's certificate revocation list.
    #[command(
        subcommand,
        after_help = "Example:\n  symbolon crl fetch --ca https://ca.example.org:8443 --ca-cert root.pem --out ca.crl\n\nEach verb's --help shows its own examples."
    )]
    Crl(crate::cli::CrlCommand),
    /// The transparency log: signed checkpoints, inclusion and consistency proofs, offline checks.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon log key --ca https://ca.example.org:8443 --ca-cert root.pem > log.vkey\n  symbolon log checkpoint --ca https://ca.example.org:8443 --ca-cert root.pem --log-key log.vkey\n  symbolon log verify-consistency --old cp-1.txt --new cp-2.txt --proof cons.json --log-key log.vkey\n\nEach verb's --help shows its own examples."
    )]
    Log(crate::cli::LogCommand),
    /// A key's evidence bundle: everything a third person needs to check its history offline.
    #[command(
        subcommand,
        after_help = "Examples:\n  symbolon evidence export --ca https://ca.example.org:8443 --ca-cert root.pem --credential auditor.token --key sha256:9f86d0… --out alice-key.evidence.json\n  symbolon evidence verify alice-key.evidence.json --root root.pem --log-key log.vkey\n\nEach verb's --help shows its own examples."
    )]
    Evidence(crate::cli::EvidenceCommand),
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

/// `symbolon serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Address to listen on.
    #[arg(long, env = "SYMBOLON_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Reach the CA key through this token: agent:SOCKET for a token agent
    /// serving DATA/ca.token (so several `serve` processes on one
    /// PostgreSQL share one CA key), or a pkcs11: URI (a new CA's key is
    /// made there). Default: the token ca.json names, or DATA/ca.token.
    #[arg(long, env = "SYMBOLON_CA_TOKEN")]
    pub(crate) ca_token: Option<String>,
    /// How hard the weak-key checks look for factors: standard (exact
    /// below 2^20, milliseconds a key) or deep (also Pollard's rho to
    /// 2^32, seconds a key). Default: the CA policy's, standard.
    #[arg(long, env = "SYMBOLON_WEAK_KEY_EFFORT")]
    pub(crate) weak_key_effort: Option<symbolon::keys::weak::Effort>,
    #[command(flatten)]
    pub(crate) edge: EdgeArgs,
    #[command(flatten)]
    pub(crate) acme: AcmeArgs,
}

/// Where ACME validations connect (docs/acme.md). A service facing the
/// Internet keeps the defaults: the ports RFC 8555 and RFC 8737 name, and
/// DNS.
#[derive(Debug, Args, Clone)]
pub(crate) struct AcmeArgs {
    /// The port http-01 validations fetch from.
    #[arg(long, env = "SYMBOLON_ACME_HTTP_PORT", default_value_t = 80)]
    pub(crate) acme_http_port: u16,
    /// The port tls-alpn-01 validations connect to.
    #[arg(long, env = "SYMBOLON_ACME_TLS_PORT", default_value_t = 443)]
    pub(crate) acme_tls_port: u16,
    /// Resolve every name validated to this address instead of through DNS
    /// (tests on one machine, as Pebble allows; e.g. 127.0.0.1).
    #[arg(long, env = "SYMBOLON_ACME_RESOLVE_TO")]
    pub(crate) acme_resolve_to: Option<std::net::IpAddr>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every noun and every verb (and every noun under a noun) shows at
    /// least one example of itself in its --help.
    #[test]
    fn every_command_has_an_example() {
        fn check(prefix: &str, command: &clap::Command, missing: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                let name = format!("{prefix} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .or(sub.get_after_long_help())
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                if !help.contains("symbolon ") {
                    missing.push(name.clone());
                }
                check(&name, sub, missing);
            }
        }
        let mut missing = Vec::new();
        check("symbolon", &Cli::command(), &mut missing);
        assert!(missing.is_empty(), "no example in --help of: {missing:?}");
    }
}

//! The data directory: everything the CA needs, in one place.
//!
//! ```text
//! symbolon-data/            (mode 0700)
//!   ca.json                 configuration: subject, key slot, policy
//!   ca.token                the CA's soft token (the CA key never leaves it),
//!   ca.token.sealing-key    and its sealing key (0600); or, with
//!                           `ca init --ca-token pkcs11:…`, the key on a
//!                           PKCS#11 device that ca.json names
//!   ca.crt                  the CA certificate (PEM)
//!   chain.pem               issuing CA first, root last (PEM)
//!   registry.db             the registry (SQLite), unless --database says otherwise
//!   recovery-issuer.sealed  the recovery enclave's issuer identity (tokens that
//!   recovery-issuer.sealing-key  receive recovered keys trust it), made on first open
//!   enrollment.key          the key registrations' enrollment codes are derived
//!                           from (0600; docs/cmp.md), made on first open
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use symbolon::access::EnrollmentKey;
use symbolon::ca::CaPolicy;
use symbolon::issuer::IssuerIdentity;
use symbolon::keys::KeyAlgorithm;
use symbolon::pem;
use symbolon::token::SealingKey;
use symbolon::token::{SlotName, Token, TokenError};
use symbolon::x509::{
    build_csr, build_ec_csr_with_names, certificate_public_key, parse_certificate, parse_identity,
    random_serial, self_signed_root, verify_issued_by, AltNames, CaSigner, Name,
};
use symbolon_token::file::{
    create_new_private, default_sealing_key_path, init_token, open_token, read_sealing_key,
    LOCK_WAIT,
};
use symbolon_token::open::TokenSpec;
use symbolon_token::pkcs11::{Pkcs11Token, Pkcs11Uri};
use x509_cert::ext::pkix::BasicConstraints;

use crate::ServiceError;

/// The CA's configuration (`ca.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// The CA's subject, RFC 4514.
    pub subject: String,
    /// The slot of the CA key in the CA token.
    pub slot: String,
    /// Where the CA key is when it is not in `ca.token`: a `pkcs11:` URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Issuance policy.
    pub policy: CaPolicy,
}

/// An opened CA: its configuration, its token (held locked), its chain.
pub struct OpenedCa {
    /// The configuration.
    pub config: CaConfig,
    /// The CA's token.
    pub token: Box<dyn Token + Send + Sync>,
    /// Issuing CA first, root last, DER.
    pub chain: Vec<Vec<u8>>,
    /// The recovery enclave's issuer identity.
    pub enclave_issuer: IssuerIdentity,
    /// The key registrations' enrollment codes are derived from.
    pub enrollment_key: EnrollmentKey,
}

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// Validity of a self-signed root made by `init`.
const ROOT_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl DataDir {
    /// The directory at `root` (not necessarily existing yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The CA token's path.
    pub fn token_path(&self) -> PathBuf {
        self.root.join("ca.token")
    }

    /// The CA certificate's path.
    pub fn certificate_path(&self) -> PathBuf {
        self.root.join("ca.crt")
    }

    /// The chain's path.
    pub fn chain_path(&self) -> PathBuf {
        self.root.join("chain.pem")
    }

    /// The default registry URL.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.root.join("registry.db").display())
    }

    /// Whether a CA has been set up here.
    pub fn is_initialised(&self) -> bool {
        self.root.join("ca.json").exists()
    }

    /// Makes the directory, the CA token and the CA key; writes the config.
    fn create_key(
        &self,
        subject: &str,
        algorithm: KeyAlgorithm,
        policy: CaPolicy,
        device: Option<&str>,
    ) -> Result<(Name, Box<dyn Token + Send + Sync>, SlotName, CaSigner), ServiceError> {
        if self.is_initialised() {
            return Err(ServiceError::Setup(format!(
                "{} already holds a CA",
                self.root.display()
            )));
        }
        // A CA key signs: refused before anything is made.
        if let KeyAlgorithm::Ec(curve) = algorithm {
            if !curve.can_sign() {
                return Err(ServiceError::Setup(format!(
                    "a CA key must sign; {curve} keys only agree on keys (use rsa-3072, p256, p384 or ed25519)"
                )));
            }
        }
        let name = parse_identity(subject).map_err(|e| ServiceError::Setup(e.to_string()))?;
        std::fs::create_dir_all(&self.root).map_err(|e| io("create", &self.root, e))?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("protect", &self.root, e))?;
        let mut token: Box<dyn Token + Send + Sync> = match device {
            None => {
                let token_path = self.token_path();
                Box::new(init_token(
                    &token_path,
                    &default_sealing_key_path(&token_path),
                    None,
                )?)
            }
            Some(uri) => {
                let uri = Pkcs11Uri::parse(uri)?;
                // A device not yet set up for symbolon is set up now.
                Box::new(match Pkcs11Token::open(&uri) {
                    Err(TokenError::NotAToken(_)) => Pkcs11Token::init(&uri)?,
                    other => other?,
                })
            }
        };
        let slot = SlotName::new("ca")?;
        let public = token.generate_key(&slot, algorithm)?;
        let signer = CaSigner::new(public).map_err(|e| ServiceError::Setup(e.to_string()))?;
        let config = CaConfig {
            subject: subject.to_string(),
            slot: slot.to_string(),
            token: device.map(str::to_string),
            policy,
        };
        let json = serde_json::to_string_pretty(&config)
            .map_err(|e| ServiceError::Setup(e.to_string()))?;
        write(&self.root.join("ca.json"), json.as_bytes())?;
        Ok((name, token, slot, signer))
    }

    /// Sets up a new CA: a token holding a fresh CA key, a self-signed root,
    /// the configuration. Refuses a directory that already holds a CA.
    /// With `device` (a `pkcs11:` URI) the CA key is generated on that
    /// PKCS#11 token instead of a soft token in the directory.
    pub fn init(
        &self,
        subject: &str,
        algorithm: KeyAlgorithm,
        policy: CaPolicy,
        device: Option<&str>,
    ) -> Result<Vec<u8>, ServiceError> {
        let (name, token, slot, signer) = self.create_key(subject, algorithm, policy, device)?;
        let root = self_signed_root(
            &name,
            &signer,
            random_serial().map_err(|e| ServiceError::Setup(e.to_string()))?,
            SystemTime::now(),
            ROOT_VALIDITY,
            |r| token.sign_request(&slot, r),
        )
        .map_err(|e| ServiceError::Setup(e.to_string()))?;
        let pem_root = pem::encode("CERTIFICATE", &root);
        write(&self.certificate_path(), pem_root.as_bytes())?;
        write(&self.chain_path(), pem_root.as_bytes())?;
        Ok(root)
    }

    /// Sets up a CA under an external parent: the CA key in its token and a
    /// PKCS#10 request for the parent to sign (returned, DER). The CA serves
    /// once [`DataDir::import_certificate`] has installed the answer.
    pub fn init_for_parent(
        &self,
        subject: &str,
        algorithm: KeyAlgorithm,
        policy: CaPolicy,
        device: Option<&str>,
    ) -> Result<Vec<u8>, ServiceError> {
        let (name, token, slot, signer) = self.create_key(subject, algorithm, policy, device)?;
        match &signer {
            CaSigner::Rsa(s) => build_csr(&name, s, |scheme, d| token.sign(&slot, scheme, d)),
            CaSigner::Ec(s) => build_ec_csr_with_names(&name, &AltNames::default(), s, |input| {
                token.sign_ec(&slot, input)
            }),
        }
        .map_err(|e| ServiceError::Setup(e.to_string()))
    }

    /// Installs the certificate a parent issued for this CA's key, with the
    /// parent's chain (its issuer first, a self-signed root last). Checks that
    /// it certifies the key in the CA token, is a CA certificate, and chains.
    pub fn import_certificate(
        &self,
        certificate: &[u8],
        parent_chain: &[Vec<u8>],
    ) -> Result<(), ServiceError> {
        let setup = ServiceError::Setup;
        if self.chain_path().exists() {
            return Err(setup(format!(
                "{} already has its CA certificate",
                self.root.display()
            )));
        }
        let config = self.config()?;
        let token = self.open_token(&config)?;
        let key = token.slot_public_key(&SlotName::new(&config.slot)?)?;
        let cert = parse_certificate(certificate).map_err(|e| setup(e.to_string()))?;
        if certificate_public_key(&cert).map_err(|e| setup(e.to_string()))? != key {
            return Err(setup(
                "the certificate is for another key than the CA's".into(),
            ));
        }
        let is_ca = cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .ok()
            .flatten()
            .map(|(_, bc)| bc.ca)
            .unwrap_or(false);
        if !is_ca {
            return Err(setup(
                "the certificate is not a CA certificate (basicConstraints cA is not true)".into(),
            ));
        }
        let mut chain = vec![certificate.to_vec()];
        chain.extend(parent_chain.iter().cloned());
        let parsed: Vec<_> = chain
            .iter()
            .map(|c| parse_certificate(c))
            .collect::<Result<_, _>>()
            .map_err(|e| setup(e.to_string()))?;
        for pair in parsed.windows(2) {
            let parent_key = certificate_public_key(&pair[1]).map_err(|e| setup(e.to_string()))?;
            verify_issued_by(&pair[0], &parent_key)
                .map_err(|e| setup(format!("the chain does not link: {e}")))?;
        }
        let last = parsed.last().ok_or_else(|| setup("empty chain".into()))?;
        let last_key = certificate_public_key(last).map_err(|e| setup(e.to_string()))?;
        if parsed.len() < 2 || verify_issued_by(last, &last_key).is_err() {
            return Err(setup(
                "the chain must end at the parent's self-signed root".into(),
            ));
        }
        write(
            &self.certificate_path(),
            pem::encode("CERTIFICATE", certificate).as_bytes(),
        )?;
        let all: String = chain
            .iter()
            .map(|c| pem::encode("CERTIFICATE", c))
            .collect();
        write(&self.chain_path(), all.as_bytes())
    }

    /// Opens the CA: configuration, token (held locked while open), chain.
    pub fn open(&self) -> Result<OpenedCa, ServiceError> {
        self.open_with(None)
    }

    /// Opens the CA with its key reached through `token` (a token agent
    /// serving the CA token, so several service processes share one CA key)
    /// instead of opening the CA token file in this process.
    pub fn open_with(&self, token: Option<&TokenSpec>) -> Result<OpenedCa, ServiceError> {
        let config = self.config()?;
        if !self.chain_path().exists() {
            return Err(ServiceError::Setup(format!(
                "the CA in {} has no certificate yet: have its request signed by the parent, then run `symbolon ca import-cert`",
                self.root.display()
            )));
        }
        let token: Box<dyn Token + Send + Sync> = match token {
            Some(spec) => spec.open()?,
            None => self.open_token(&config)?,
        };
        let chain = read_chain(&self.chain_path())?;
        Ok(OpenedCa {
            config,
            token,
            chain,
            enclave_issuer: self.recovery_issuer()?,
            enrollment_key: self.enrollment_key()?,
        })
    }

    /// The enrollment key, made on first use. It is written whole under a
    /// temporary name and linked into place, so another process starting
    /// at the same time reads no file or a complete one (and takes the
    /// winner's), and a crash leaves at most a stray temporary file.
    pub fn enrollment_key(&self) -> Result<EnrollmentKey, ServiceError> {
        let path = self.root.join("enrollment.key");
        if !path.exists() {
            let key = EnrollmentKey::generate().map_err(|e| ServiceError::Setup(e.to_string()))?;
            let mut nonce = [0u8; 8];
            symbolon::keys::random_bytes(&mut nonce)
                .map_err(|e| ServiceError::Setup(e.to_string()))?;
            let tmp = self
                .root
                .join(format!("enrollment.key.{}.tmp", hex::encode(nonce)));
            create_new_private(&tmp, key.to_key_file().as_bytes())?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    // The name lasts: codes derived from this key are out.
                    std::fs::File::open(&self.root)
                        .and_then(|d| d.sync_all())
                        .map_err(|e| io("sync", &self.root, e))?;
                    return Ok(key);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io("link", &path, e)),
            }
        }
        let text = zeroize::Zeroizing::new(std::fs::read(&path).map_err(|e| io("read", &path, e))?);
        EnrollmentKey::from_key_file(&text).map_err(|e| ServiceError::Setup(e.to_string()))
    }

    /// The recovery enclave's issuer identity, made on first use. Processes
    /// racing to make it agree: the file is created exclusively, and the
    /// loser loads the winner's.
    pub fn recovery_issuer(&self) -> Result<IssuerIdentity, ServiceError> {
        let sealed = self.root.join("recovery-issuer.sealed");
        let key_path = self.root.join("recovery-issuer.sealing-key");
        if !sealed.exists() {
            let identity = IssuerIdentity::generate()?;
            let key = SealingKey::generate()?;
            match create_new_private(&key_path, key.to_key_file().as_bytes()) {
                Ok(()) => {
                    create_new_private(&sealed, &identity.seal(&key)?)?;
                    return Ok(identity);
                }
                // Another process is making it: wait for its sealed file.
                Err(_) => {
                    for _ in 0..100 {
                        if sealed.exists() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
        let data = std::fs::read(&sealed).map_err(|e| io("read", &sealed, e))?;
        Ok(IssuerIdentity::open(&data, &read_sealing_key(&key_path)?)?)
    }

    /// The configuration (`ca.json`).
    fn config(&self) -> Result<CaConfig, ServiceError> {
        let path = self.root.join("ca.json");
        let text = std::fs::read_to_string(&path).map_err(|e| io("read", &path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| ServiceError::Setup(format!("{}: {e}", path.display())))
    }

    /// The CA token: the PKCS#11 device the configuration names, or the
    /// soft token here, locked for this process while it is open.
    fn open_token(&self, config: &CaConfig) -> Result<Box<dyn Token + Send + Sync>, ServiceError> {
        if let Some(uri) = &config.token {
            return Ok(TokenSpec::parse(uri, None)?.open()?);
        }
        let path = self.token_path();
        Ok(Box::new(open_token(
            &path,
            &default_sealing_key_path(&path),
            LOCK_WAIT,
        )?))
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ServiceError {
    ServiceError::Setup(format!("cannot {what} {}: {e}", path.display()))
}

fn write(path: &Path, data: &[u8]) -> Result<(), ServiceError> {
    symbolon_token::file::write_atomic(path, data).map_err(|e| ServiceError::Setup(e.0))
}

/// Reads a PEM chain file.
pub fn read_chain(path: &Path) -> Result<Vec<Vec<u8>>, ServiceError> {
    let text = std::fs::read(path).map_err(|e| io("read", path, e))?;
    pem::decode_all(&text, "CERTIFICATE")
        .map_err(|e| ServiceError::Setup(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_racing_to_make_the_enrollment_key_agree_and_a_stray_temporary_is_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().to_path_buf());
        // A crash mid-write left a temporary file behind.
        std::fs::write(dir.path().join("enrollment.key.1.tmp"), b"partial").unwrap();
        let keys: Vec<EnrollmentKey> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| data.enrollment_key().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let first = keys[0].code_for("r").digest();
        assert!(keys.iter().all(|k| k.code_for("r").digest() == first));
        assert_eq!(data.enrollment_key().unwrap().code_for("r").digest(), first);
        let mode = std::fs::metadata(dir.path().join("enrollment.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

//! The copyright owner's station (sixth embodiment, FIG. 23): the workflow
//! `symbolon content owner …` and `content license` run, as a library the
//! CLI calls and tests drive without the binary.
//!
//! The station generates each user's decryption key and writes it into the
//! user's token under its issuer signature, keeping only the public key; it
//! checks purchase orders against the CA it pins, issues each order's
//! licence once (a claim in its ledger, with an audit entry), and holds the
//! catalogue key that published content is sealed to in its own token.
//!
//! Its directory: `owner.json` (ledger URL), `issuer.sealed` +
//! `issuer.sealing-key` (identity), `catalogue.token` + its sealing key,
//! `ca-root.pem`, `owner.db` (default ledger),
//! `provisioned/<serial>.<slot>.pem`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::json;
use symbolon::content::{ContentError, ContentHeader, Licence, PurchaseOrder, VerifiedOrder};
use symbolon::issuer::{IssuerIdentity, TokenTarget};
use symbolon::keys::{Fingerprint, KeyError, RsaAlgorithm, RsaPrivateKey, RsaPublicKey};
use symbolon::pem;
use symbolon::token::{SealingKey, SlotName, Token, TokenError, TokenSerial};
use symbolon::Code;
use symbolon_store::{AuditKind, ClaimScope, Registry, StoreError};
use symbolon_token::file::{
    create_new_private, default_sealing_key_path, init_token, read_sealing_key, write_atomic,
};
use symbolon_token::open::TokenSpec;
use thiserror::Error;

/// The slot of the catalogue key in the owner's own token.
pub const CATALOGUE_SLOT: &str = "catalogue";

/// Why an owner's station step failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OwnerError {
    /// A token (the user's, or the catalogue) failed or refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// An order, header or licence is not what it claims.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] StoreError),
    /// Refused, with the code to report and what to do.
    #[error("{message}")]
    Refused {
        /// The stable code.
        code: Code,
        /// What happened.
        message: String,
        /// What to do.
        hint: Option<String>,
    },
    /// A file of the station's directory.
    #[error("{0}")]
    Files(String),
}

impl From<KeyError> for OwnerError {
    fn from(e: KeyError) -> Self {
        Self::Token(TokenError::Key(e))
    }
}

impl OwnerError {
    /// The stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Token(e) => e.code(),
            Self::Content(e) => e.code(),
            Self::Ledger(e) => e.code(),
            Self::Refused { code, .. } => *code,
            Self::Files(_) => Code::Io,
        }
    }

    /// What to do, when the error alone does not say.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Refused { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    fn refused(code: Code, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct OwnerCreated {
    /// The identity users' tokens trust.
    pub identity: Fingerprint,
    /// The catalogue key published content is sealed to.
    pub catalogue_key: Fingerprint,
}

/// A licence issued for an order.
pub struct Issued {
    /// The licence.
    pub licence: Licence,
    /// The order it answers.
    pub order: VerifiedOrder,
}

fn files(what: &str, path: &Path, e: impl std::fmt::Display) -> OwnerError {
    OwnerError::Files(format!("{what} {}: {e}", path.display()))
}

/// An owner's station directory.
pub struct OwnerStation {
    dir: PathBuf,
    registry: Registry,
}

impl OwnerStation {
    fn config(dir: &Path) -> PathBuf {
        dir.join("owner.json")
    }

    fn root_path(&self) -> PathBuf {
        self.dir.join("ca-root.pem")
    }

    fn catalogue_path(dir: &Path) -> PathBuf {
        dir.join("catalogue.token")
    }

    fn provisioned_path(&self, serial: &TokenSerial, slot: &SlotName) -> PathBuf {
        // Slot names are [A-Za-z0-9._-] and never start with '.' or '-'.
        self.dir
            .join("provisioned")
            .join(format!("{serial}.{slot}.pem"))
    }

    /// Creates a station in `dir` pinning the CA `root` (DER), its ledger
    /// at `database` (default: `dir/owner.db`). The identity and the
    /// catalogue token first, the configuration last, so a station is
    /// usable only once everything it names exists.
    pub async fn init(
        dir: &Path,
        root: &[u8],
        database: Option<String>,
    ) -> Result<OwnerCreated, OwnerError> {
        symbolon::x509::parse_certificate(root).map_err(|e| {
            OwnerError::refused(Code::InvalidInput, format!("--ca-cert: {e}"), None)
        })?;
        if Self::config(dir).exists() {
            return Err(OwnerError::refused(
                Code::InvalidInput,
                format!("{} already holds an owner's station", dir.display()),
                None,
            ));
        }
        std::fs::create_dir_all(dir.join("provisioned"))
            .map_err(|e| files("cannot create", dir, e))?;
        let database =
            database.unwrap_or_else(|| format!("sqlite://{}", dir.join("owner.db").display()));
        let identity = IssuerIdentity::generate()?;
        let key = SealingKey::generate()?;
        create_new_private(
            &dir.join("issuer.sealing-key"),
            key.to_key_file().as_bytes(),
        )?;
        create_new_private(&dir.join("issuer.sealed"), &identity.seal(&key)?)?;
        let catalogue_path = Self::catalogue_path(dir);
        let mut catalogue = init_token(
            &catalogue_path,
            &default_sealing_key_path(&catalogue_path),
            None,
        )?;
        let catalogue_key =
            catalogue.generate(&SlotName::new(CATALOGUE_SLOT)?, RsaAlgorithm::Rsa3072)?;
        let root_path = dir.join("ca-root.pem");
        write_atomic(&root_path, pem::encode("CERTIFICATE", root).as_bytes())
            .map_err(|e| files("cannot write", &root_path, e))?;
        let created = OwnerCreated {
            identity: identity.public_key().fingerprint(),
            catalogue_key: catalogue_key.fingerprint(),
        };
        let registry = Registry::open(&database).await?;
        registry
            .append_audit(
                AuditKind::OwnerInitialised,
                &json!({ "identity": created.identity, "catalogue_key": created.catalogue_key }),
            )
            .await?;
        registry.close().await;
        let config = Self::config(dir);
        // A JSON value always prints (`{:#}` is serde_json's pretty form).
        write_atomic(
            &config,
            format!("{:#}", json!({ "version": 1, "database": database })).as_bytes(),
        )
        .map_err(|e| files("cannot write", &config, e))?;
        Ok(created)
    }

    /// Opens the station in `dir` and its ledger.
    pub async fn open(dir: &Path) -> Result<Self, OwnerError> {
        let config = Self::config(dir);
        let text = std::fs::read_to_string(&config).map_err(|e| OwnerError::Refused {
            code: Code::Io,
            message: format!("cannot read {}: {e}", config.display()),
            hint: Some("create the owner's station with `symbolon content owner init --owner DIR --ca-cert ROOT`".into()),
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            OwnerError::refused(
                Code::InvalidInput,
                format!("{}: {e}", config.display()),
                None,
            )
        })?;
        let database = v.get("database").and_then(|d| d.as_str()).ok_or_else(|| {
            OwnerError::refused(
                Code::InvalidInput,
                format!("{} names no database", config.display()),
                None,
            )
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            registry: Registry::open(database).await?,
        })
    }

    /// The station's issuer identity (the one users' tokens trust).
    pub fn identity(&self) -> Result<IssuerIdentity, OwnerError> {
        let sealed = self.dir.join("issuer.sealed");
        let data = std::fs::read(&sealed).map_err(|e| OwnerError::Refused {
            code: Code::Io,
            message: format!("cannot read issuer identity {}: {e}", sealed.display()),
            hint: Some("create one with `symbolon issuer init --issuer DIR`".into()),
        })?;
        let key = read_sealing_key(&self.dir.join("issuer.sealing-key"))?;
        Ok(IssuerIdentity::open(&data, &key)?)
    }

    /// The owner's own token, holding the catalogue key.
    pub fn catalogue(&self) -> Result<Box<dyn Token + Send + Sync>, OwnerError> {
        let path = Self::catalogue_path(&self.dir);
        Ok(TokenSpec::parse(&path.to_string_lossy(), None)?.open()?)
    }

    /// The catalogue key published content is sealed to.
    pub fn catalogue_key(&self) -> Result<RsaPublicKey, OwnerError> {
        Ok(self
            .catalogue()?
            .public_key(&SlotName::new(CATALOGUE_SLOT)?)?)
    }

    /// The decryption key this owner provisioned into `slot` of token
    /// `serial`.
    pub fn provisioned_key(
        &self,
        serial: &TokenSerial,
        slot: &SlotName,
    ) -> Result<RsaPublicKey, OwnerError> {
        let data = std::fs::read(self.provisioned_path(serial, slot)).map_err(|_| {
            OwnerError::refused(
                Code::NotFound,
                format!("this owner provisioned no decryption key into slot {slot} of token {serial}"),
                Some("provision it first: `symbolon content owner provision --owner DIR --token T --slot S`"),
            )
        })?;
        Ok(RsaPublicKey::from_pem_or_der(&data)?)
    }

    /// Generates a decryption key for `slot` of `token` and writes it in
    /// under the owner's issuer signature; only the public key stays here
    /// (recorded before the token takes the private half, so a crash in
    /// between never leaves an unrecorded key).
    pub async fn provision(
        &self,
        token: &mut dyn Token,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
    ) -> Result<RsaPublicKey, OwnerError> {
        let issuer = self.identity()?;
        let info = token.info()?;
        if !info
            .trusted_issuers
            .contains(&issuer.public_key().fingerprint())
        {
            return Err(OwnerError::refused(
                Code::UntrustedIssuer,
                format!("token {} does not trust this owner's identity", info.serial),
                Some("a new token must `token trust-issuer --issuer-key` the key from `content owner public-key --identity` before its first key"),
            ));
        }
        let record = self.provisioned_path(&info.serial, slot);
        if record.exists() {
            return Err(OwnerError::refused(
                Code::SlotOccupied,
                format!(
                    "this owner already provisioned slot {slot} of token {}",
                    info.serial
                ),
                None,
            ));
        }
        let key = RsaPrivateKey::generate(algorithm)?;
        let public = key.public_key().clone();
        let command = issuer.authorize_key(&TokenTarget::of(token)?, slot, &key)?;
        drop(key);
        let parent = record.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(|e| files("cannot create", parent, e))?;
        write_atomic(&record, public.to_pem().as_bytes())
            .map_err(|e| files("cannot write", &record, e))?;
        if let Err(e) = token.accept_key(&command) {
            // The token refused: the record of a key it never took goes.
            if let Err(rm) = std::fs::remove_file(&record) {
                tracing::warn!(path = %record.display(), error = %rm, "cannot remove the record of a key the token refused");
            }
            return Err(e.into());
        }
        self.registry
            .append_audit(
                AuditKind::DecryptionKeyProvisioned,
                &json!({ "token": info.serial, "slot": slot.as_str(), "key": public.fingerprint() }),
            )
            .await?;
        Ok(public)
    }

    /// Verifies `order` against the pinned CA (no older than `max_age` at
    /// `now`) and issues its licence for the content whose header is
    /// `header`, once: a replayed order, content sealed to another key or
    /// a token this owner never provisioned is refused, and every refusal
    /// is recorded in the ledger.
    pub async fn license(
        &self,
        order: &PurchaseOrder,
        header: &ContentHeader,
        content_name: &str,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<Issued, OwnerError> {
        let root_path = self.root_path();
        let root_text =
            std::fs::read(&root_path).map_err(|e| files("cannot read", &root_path, e))?;
        let (_, root) = pem::decode(&root_text, &["CERTIFICATE"]).map_err(|e| {
            OwnerError::refused(
                Code::InvalidInput,
                format!("{}: {e}", root_path.display()),
                None,
            )
        })?;
        match self
            .license_verified(order, &root, header, content_name, max_age, now)
            .await
        {
            Ok(issued) => Ok(issued),
            Err(e @ (OwnerError::Content(_) | OwnerError::Refused { .. })) => {
                Err(self.record_refusal(order, e).await)
            }
            Err(e) => Err(e),
        }
    }

    async fn license_verified(
        &self,
        order: &PurchaseOrder,
        root: &[u8],
        header: &ContentHeader,
        content_name: &str,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<Issued, OwnerError> {
        let verified = order.verify(root, now, max_age)?;
        if self
            .registry
            .is_claimed(ClaimScope::PurchaseOrder, verified.id.as_bytes())
            .await?
        {
            return Err(replayed(&verified));
        }
        let catalogue = self.catalogue()?;
        let catalogue_slot = SlotName::new(CATALOGUE_SLOT)?;
        if header.recipient() != &catalogue.public_key(&catalogue_slot)?.fingerprint() {
            return Err(OwnerError::refused(
                Code::WrongRecipient,
                format!(
                    "{content_name} is not sealed to this owner's catalogue key (it is sealed to {})",
                    header.recipient()
                ),
                None,
            ));
        }
        let decryption_key =
            self.provisioned_key(&verified.terms.licence_token, &verified.terms.licence_slot)?;
        let issuer = self.identity()?;
        let content_key = catalogue.decrypt(&catalogue_slot, header.wrapped_key())?;
        let licence = Licence::issue(
            &issuer,
            &verified,
            header,
            &content_key,
            &decryption_key.into(),
            now,
        )?;
        drop(content_key);
        let detail = json!({
            "order": verified.id.to_string(),
            "content_id": verified.terms.content_id,
            "price": verified.terms.price.to_string(),
            "signer": verified.signer,
            "signer_key": verified.signer_key,
            "token": verified.terms.licence_token,
            "slot": verified.terms.licence_slot.as_str(),
        });
        // The claim is the commit point: a licence leaves only for the
        // order that won it, and each order wins once, across processes.
        match self
            .registry
            .claim_once(
                ClaimScope::PurchaseOrder,
                verified.id.as_bytes(),
                AuditKind::LicenceIssued,
                &detail,
            )
            .await
        {
            Ok(_) => Ok(Issued {
                licence,
                order: verified,
            }),
            Err(StoreError::AlreadyClaimed { .. }) => Err(replayed(&verified)),
            Err(e) => Err(e.into()),
        }
    }

    /// A refusal stands even if it cannot be recorded; that failure is
    /// added to it.
    async fn record_refusal(&self, order: &PurchaseOrder, e: OwnerError) -> OwnerError {
        let detail = json!({ "order": order.id().to_string(), "reason": e.to_string() });
        match self
            .registry
            .append_audit(AuditKind::OrderRefused, &detail)
            .await
        {
            Ok(_) => e,
            Err(log) => {
                tracing::error!(error = %log, "cannot record the refusal in the audit log");
                OwnerError::Refused {
                    code: e.code(),
                    message: e.to_string(),
                    hint: Some(format!(
                        "the refusal could not be recorded in the audit log: {log}"
                    )),
                }
            }
        }
    }

    /// Closes the ledger.
    pub async fn close(self) {
        self.registry.close().await;
    }
}

fn replayed(order: &VerifiedOrder) -> OwnerError {
    OwnerError::refused(
        Code::OrderReplayed,
        format!(
            "order {} was licensed before; each order is licensed once",
            order.id
        ),
        Some("a new purchase needs a new order (`symbolon content order`)"),
    )
}

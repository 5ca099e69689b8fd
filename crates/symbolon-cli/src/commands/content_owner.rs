//! `symbolon content owner …` and `content license`: the copyright owner's
//! station (FIG. 23). It generates each user's decryption key and writes it
//! into the user's token under its issuer signature, keeping only the public
//! key; it checks purchase orders against the CA it pins, issues each order's
//! licence once (a claim in its ledger, with an audit entry), and holds the
//! catalogue key that published content is sealed to in its own token.
//!
//! The directory: `owner.json` (ledger URL), `issuer.sealed` +
//! `issuer.sealing-key` (identity), `catalogue.token` + its sealing key,
//! `ca-root.pem`, `owner.db` (default ledger), `provisioned/<serial>.<slot>.pem`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use symbolon::Code;

use serde_json::json;
use symbolon::content::{ContentHeader, Licence, PurchaseOrder, VerifiedOrder};
use symbolon::issuer::IssuerIdentity;
use symbolon::keys::{RsaAlgorithm, RsaPrivateKey, RsaPublicKey};
use symbolon::pem;
use symbolon::token::{SlotName, Token, TokenSerial};
use symbolon_store::{AuditKind, ClaimScope, Registry, StoreError};
use symbolon_token::file::{create_new_private, init_token, write_atomic};
use symbolon_token::open::TokenSpec;

use super::issuer::{load, target};
use super::{open_token, runtime};
use crate::cli::{
    IssuerDir, OwnerCommand, OwnerDir, OwnerInitArgs, OwnerProvisionArgs, OwnerPublicKeyArgs,
};
use crate::error::CliError;
use crate::files::{read_input, read_text, write_output};
use crate::output::print_json;

/// The slot of the catalogue key in the owner's own token.
const CATALOGUE_SLOT: &str = "catalogue";

/// The owner's files.
struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn of(owner: &OwnerDir) -> Self {
        Self {
            dir: owner.owner.clone(),
        }
    }
    fn config(&self) -> PathBuf {
        self.dir.join("owner.json")
    }
    fn root(&self) -> PathBuf {
        self.dir.join("ca-root.pem")
    }
    fn catalogue(&self) -> PathBuf {
        self.dir.join("catalogue.token")
    }
    fn issuer(&self) -> IssuerDir {
        IssuerDir {
            issuer: self.dir.clone(),
        }
    }
    fn provisioned(&self, serial: &TokenSerial, slot: &SlotName) -> PathBuf {
        // Slot names are [A-Za-z0-9._-] and never start with '.' or '-'.
        self.dir
            .join("provisioned")
            .join(format!("{serial}.{slot}.pem"))
    }
    fn database(&self) -> Result<String, CliError> {
        let text = read_text(&self.config()).map_err(|e| {
            e.hint("create the owner's station with `symbolon content owner init --owner DIR --ca-cert ROOT`")
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            CliError::new(
                Code::InvalidInput,
                format!("{}: {e}", self.config().display()),
            )
        })?;
        v.get("database")
            .and_then(|d| d.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                CliError::new(
                    Code::InvalidInput,
                    format!("{} names no database", self.config().display()),
                )
            })
    }
    fn catalogue_token(&self) -> Result<Box<dyn Token + Send + Sync>, CliError> {
        Ok(TokenSpec::parse(&self.catalogue().to_string_lossy(), None)?.open()?)
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

pub(crate) fn run(cmd: OwnerCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        OwnerCommand::Init(OwnerInitArgs {
            owner,
            ca_cert,
            database,
        }) => init(&Paths::of(&owner), &ca_cert, database, json),
        OwnerCommand::PublicKey(args) => public_key(args),
        OwnerCommand::Provision(args) => provision(args, json),
    }
}

/// Appends one entry to the owner's ledger.
fn audit(url: &str, kind: AuditKind, detail: &serde_json::Value) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let registry = Registry::open(url).await?;
        registry.append_audit(kind, detail).await?;
        registry.close().await;
        Ok::<_, StoreError>(())
    })?;
    Ok(())
}

fn init(
    paths: &Paths,
    ca_cert: &Path,
    database: Option<String>,
    json: bool,
) -> Result<(), CliError> {
    let (_, root) = pem::decode(&read_input(Some(ca_cert))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--ca-cert: {e}")))?;
    symbolon::x509::parse_certificate(&root)?;
    if paths.config().exists() {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("{} already holds an owner's station", paths.dir.display()),
        ));
    }
    std::fs::create_dir_all(paths.dir.join("provisioned"))
        .map_err(|e| CliError::io("cannot create", &paths.dir, e))?;
    let database =
        database.unwrap_or_else(|| format!("sqlite://{}", paths.dir.join("owner.db").display()));
    // The identity and the catalogue token first; the config last, so a
    // station is usable only once everything it names exists.
    let identity = IssuerIdentity::generate()?;
    let key = symbolon::token::SealingKey::generate()?;
    create_new_private(
        &paths.dir.join("issuer.sealing-key"),
        key.to_key_file().as_bytes(),
    )?;
    create_new_private(&paths.dir.join("issuer.sealed"), &identity.seal(&key)?)?;
    let catalogue_key_file = symbolon_token::file::default_sealing_key_path(&paths.catalogue());
    let mut catalogue = init_token(&paths.catalogue(), &catalogue_key_file, None)?;
    let catalogue_key =
        catalogue.generate(&SlotName::new(CATALOGUE_SLOT)?, RsaAlgorithm::Rsa3072)?;
    write_atomic(&paths.root(), pem::encode("CERTIFICATE", &root).as_bytes())
        .map_err(|e| CliError::new(Code::Io, e.to_string()))?;
    audit(
        &database,
        AuditKind::OwnerInitialised,
        &json!({
            "identity": identity.public_key().fingerprint(),
            "catalogue_key": catalogue_key.fingerprint(),
        }),
    )?;
    write_atomic(
        &paths.config(),
        // A JSON value always prints (`{:#}` is serde_json's pretty form).
        format!("{:#}", json!({ "version": 1, "database": database })).as_bytes(),
    )
    .map_err(|e| CliError::new(Code::Io, e.to_string()))?;
    let value = json!({
        "owner": paths.dir,
        "identity": identity.public_key().fingerprint(),
        "catalogue_key": catalogue_key.fingerprint(),
    });
    if json {
        print_json(&value)
    } else {
        println!("owner's station created in {}", paths.dir.display());
        println!(
            "identity:      {} (users' tokens trust it)",
            identity.public_key().fingerprint()
        );
        println!(
            "catalogue key: {} (seal published content to it)",
            catalogue_key.fingerprint()
        );
        Ok(())
    }
}

fn provisioned_key(
    paths: &Paths,
    serial: &TokenSerial,
    slot: &SlotName,
) -> Result<RsaPublicKey, CliError> {
    let record = paths.provisioned(serial, slot);
    let data = std::fs::read(&record).map_err(|_| {
        CliError::new(
            Code::NotFound,
            format!("this owner provisioned no decryption key into slot {slot} of token {serial}"),
        )
        .hint(
            "provision it first: `symbolon content owner provision --owner DIR --token T --slot S`",
        )
    })?;
    Ok(RsaPublicKey::from_pem_or_der(&data)?)
}

/// `content license`: verify the order, issue its licence once.
pub(crate) fn license(
    owner: &OwnerDir,
    order_path: &Path,
    content: &Path,
    max_age: u64,
    out: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    let paths = Paths::of(owner);
    let database = paths.database()?;
    let issuer = load(&paths.issuer())?;
    let (_, root) =
        pem::decode(&read_input(Some(&paths.root()))?, &["CERTIFICATE"]).map_err(|e| {
            CliError::new(
                Code::InvalidInput,
                format!("{}: {e}", paths.root().display()),
            )
        })?;
    let order = PurchaseOrder::from_pem(&read_input(Some(order_path))?)?;
    let rt = runtime()?;
    let registry = rt.block_on(Registry::open(&database))?;
    // A refusal stands even if it cannot be recorded; that failure is told.
    let refuse = |e: CliError| -> CliError {
        if let Err(log) = rt.block_on(registry.append_audit(
            AuditKind::OrderRefused,
            &json!({ "order": order.id().to_string(), "reason": e.message }),
        )) {
            tracing::error!(error = %log, "cannot record the refusal in the audit log");
            return e.hint(format!(
                "the refusal could not be recorded in the audit log: {log}"
            ));
        }
        e
    };
    let verified = order
        .verify(&root, now(), Duration::from_secs(max_age))
        .map_err(|e| refuse(e.into()))?;
    if rt.block_on(registry.is_claimed(ClaimScope::PurchaseOrder, verified.id.as_bytes()))? {
        return Err(refuse(replayed(&verified)));
    }
    let header = {
        let mut f =
            std::fs::File::open(content).map_err(|e| CliError::io("cannot read", content, e))?;
        ContentHeader::read_from(&mut f)?
    };
    let catalogue = paths.catalogue_token()?;
    let catalogue_slot = SlotName::new(CATALOGUE_SLOT)?;
    if header.recipient() != &catalogue.public_key(&catalogue_slot)?.fingerprint() {
        return Err(refuse(CliError::new(
            Code::WrongRecipient,
            format!(
                "{} is not sealed to this owner's catalogue key (it is sealed to {})",
                content.display(),
                header.recipient()
            ),
        )));
    }
    let decryption_key = provisioned_key(
        &paths,
        &verified.terms.licence_token,
        &verified.terms.licence_slot,
    )
    .map_err(refuse)?;
    let content_key = catalogue.decrypt(&catalogue_slot, header.wrapped_key())?;
    let licence = Licence::issue(
        &issuer,
        &verified,
        &header,
        &content_key,
        &decryption_key.into(),
        now(),
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
    // The claim is the commit point: a licence leaves only for the order
    // that won it, and each order wins once, across processes.
    match rt.block_on(registry.claim_once(
        ClaimScope::PurchaseOrder,
        verified.id.as_bytes(),
        AuditKind::LicenceIssued,
        &detail,
    )) {
        Ok(_) => {}
        Err(StoreError::AlreadyClaimed { .. }) => return Err(refuse(replayed(&verified))),
        Err(e) => return Err(e.into()),
    }
    let text = licence.to_pem();
    write_output(out, text.as_bytes(), false)?;
    if json {
        print_json(
            &json!({ "order": verified.id.to_string(), "licence_for": verified.terms.licence_token }),
        )
    } else if out.is_some() {
        println!(
            "licence for content {} issued to token {} slot {}",
            verified.terms.content_id, verified.terms.licence_token, verified.terms.licence_slot
        );
        Ok(())
    } else {
        Ok(())
    }
}

fn replayed(order: &VerifiedOrder) -> CliError {
    CliError::new(
        Code::OrderReplayed,
        format!(
            "order {} was licensed before; each order is licensed once",
            order.id
        ),
    )
    .hint("a new purchase needs a new order (`symbolon content order`)")
}

fn public_key(
    OwnerPublicKeyArgs {
        owner,
        identity,
        token_serial,
        slot,
        out,
    }: OwnerPublicKeyArgs,
) -> Result<(), CliError> {
    let paths = Paths::of(&owner);
    let text = if identity {
        load(&paths.issuer())?.public_key().to_pem()
    } else if let (Some(serial), Some(slot)) = (token_serial, slot) {
        let serial: TokenSerial = serial.parse()?;
        let slot = SlotName::new(&slot)?;
        provisioned_key(&paths, &serial, &slot)?.to_pem()
    } else {
        paths
            .catalogue_token()?
            .public_key(&SlotName::new(CATALOGUE_SLOT)?)?
            .to_pem()
    };
    write_output(out.as_deref(), text.as_bytes(), false)
}

fn provision(
    OwnerProvisionArgs {
        owner,
        token,
        slot,
        algorithm,
        out,
    }: OwnerProvisionArgs,
    json: bool,
) -> Result<(), CliError> {
    let paths = Paths::of(&owner);
    let slot = SlotName::new(&slot.slot)?;
    let algorithm: RsaAlgorithm = algorithm.parse()?;
    let issuer = load(&paths.issuer())?;
    let database = paths.database()?;
    let mut t = open_token(&token)?;
    let info = t.info()?;
    if !info
        .trusted_issuers
        .contains(&issuer.public_key().fingerprint())
    {
        return Err(CliError::new(
                    Code::UntrustedIssuer,
                    format!("token {} does not trust this owner's identity", info.serial),
                )
                .hint("a new token must `token trust-issuer --issuer-key` the key from `content owner public-key --identity` before its first key"));
    }
    let record = paths.provisioned(&info.serial, &slot);
    if record.exists() {
        return Err(CliError::new(
            Code::SlotOccupied,
            format!(
                "this owner already provisioned slot {slot} of token {}",
                info.serial
            ),
        ));
    }
    let key = RsaPrivateKey::generate(algorithm)?;
    let public = key.public_key().clone();
    let command = issuer.authorize_key(&target(t.as_ref())?, &slot, &key)?;
    drop(key);
    // The public key is recorded before the token takes the private
    // half, so a crash in between never leaves an unrecorded key.
    std::fs::create_dir_all(record.parent().unwrap_or(&paths.dir))
        .map_err(|e| CliError::io("cannot create", &paths.dir, e))?;
    write_atomic(&record, public.to_pem().as_bytes())
        .map_err(|e| CliError::new(Code::Io, e.to_string()))?;
    if let Err(e) = t.accept_key(&command) {
        // The token refused: the record of a key it never took goes.
        if let Err(rm) = std::fs::remove_file(&record) {
            tracing::warn!(path = %record.display(), error = %rm, "cannot remove the record of a key the token refused");
        }
        return Err(e.into());
    }
    audit(
        &database,
        AuditKind::DecryptionKeyProvisioned,
        &json!({ "token": info.serial, "slot": slot.as_str(), "key": public.fingerprint() }),
    )?;
    if out.is_some() {
        write_output(out.as_deref(), public.to_pem().as_bytes(), false)?;
    }
    if json {
        print_json(&json!({
            "token": info.serial, "slot": slot.as_str(),
            "fingerprint": public.fingerprint(), "public_key": public.to_pem(),
        }))
    } else {
        println!(
            "decryption key {} written into slot {slot} of token {}; only its public key is kept",
            public.fingerprint(),
            info.serial
        );
        Ok(())
    }
}

//! `Pkcs11Token`: the `Token` trait over a PKCS#11 module (an HSM, a smart
//! card, SoftHSM2 in the tests), so non-exportability is the device's to
//! enforce.
//!
//! Objects (all `CKA_TOKEN`): per slot an RSA key pair labelled with the slot
//! name (private half `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, `CKA_PRIVATE`)
//! and its `CKO_CERTIFICATE`; `symbolon:device` (P-256, signs
//! attestations), `symbolon:transport` (RSA-3072, unwraps issuers' keys);
//! `symbolon:state` (serial, sequence, trust list, origins: see `state`).
//!
//! Issuer commands are checked here, as in the soft token; keys enter with
//! `C_UnwrapKey` (RSA-OAEP for the AES key, then AES key wrap with padding
//! for the PKCS#8 key: `CKM_RSA_AES_KEY_WRAP` in two steps, since SoftHSM2
//! lacks the one-step mechanism). Devices without OAEP-SHA-256 (SoftHSM2
//! 2.6 offers SHA-1 only) decrypt with raw RSA and the OAEP block is decoded
//! in constant time here (`symbolon::keys::oaep`): for `accept-key` that
//! brings the 32-byte wrapping key, never the private key, into this
//! process for the moment it takes to import it as a session object.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::{AuthPin, Ulong};
use symbolon::content::{ChunkOpener, ContentHeader, StreamOpener};
use symbolon::keys::{
    oaep, EcCurve, EcPublicKey, EcSigningInput, HashAlgorithm, IdentityPublicKey, KeyAlgorithm,
    KeyError, MessageDigest, PublicKey, RsaAlgorithm, RsaPublicKey, SignatureScheme,
};
use symbolon::token::{
    Attestation, AttestationEvidence, AttestationStatement, IssuerAction, KeyOrigin, SignedCommand,
    SlotInfo, SlotName, Token, TokenError, TokenInfo, TokenSerial, TokenStatus, MAX_NONCE_LEN,
};
use symbolon::Code;
use zeroize::Zeroizing;

use super::state::{self, State, Stored};
use super::uri::Pkcs11Uri;

const STATE_LABEL: &str = "symbolon:state";
const DEVICE_LABEL: &str = "symbolon:device";
const TRANSPORT_LABEL: &str = "symbolon:transport";
const APPLICATION: &[u8] = b"symbolon";
/// Label prefix of the holder's data objects (`CKO_DATA`).
const OBJECT_PREFIX: &str = "symbolon-data:";
use super::ec::P256_PARAMS;
/// SubjectPublicKeyInfo DER of a P-256 key, before its 65-byte point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// One context per module per process: a module is initialised once.
fn context(module: &Path) -> Result<Pkcs11, TokenError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    if !module.exists() {
        return Err(device(
            Code::ModuleNotFound,
            format!(
                "no PKCS#11 module at {} (install it, or fix module-path in the URI)",
                module.display()
            ),
        ));
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        device(
            Code::ModuleNotFound,
            format!("cannot load the PKCS#11 module {}: {e}", module.display()),
        )
    })?;
    match ctx.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(P11Error::AlreadyInitialized) => {}
        Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(p11("initialise the module", e)),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// Destroys an object on a clean-up path, where the operation's own error
/// (or success) is what is reported; a failure is logged, since the object
/// stays on the device.
pub(super) fn discard(s: &Session, h: ObjectHandle, what: &str) {
    if let Err(e) = s.destroy_object(h) {
        tracing::warn!(error = %e, "cannot destroy {what} on the PKCS#11 device");
    }
}

fn device(code: Code, message: String) -> TokenError {
    TokenError::Device { code, message }
}

/// A device error, with the PKCS#11 return value and what was being done.
pub(super) fn p11(what: &str, e: P11Error) -> TokenError {
    match e {
        P11Error::Pkcs11(RvError::PinIncorrect, _) => {
            device(Code::WrongPin, "the PKCS#11 PIN is wrong (the device may lock after more failures)".into())
        }
        P11Error::Pkcs11(RvError::PinLocked, _) => {
            device(Code::PinLocked, "the PKCS#11 token is locked: too many wrong PINs; the security officer must unlock it".into())
        }
        P11Error::Pkcs11(RvError::PinExpired, _) => {
            device(Code::PinLocked, "the PKCS#11 user PIN has expired; set a new one on the device".into())
        }
        P11Error::Pkcs11(RvError::UserPinNotInitialized, _) => {
            device(Code::PinLocked, "the PKCS#11 token has no user PIN yet; initialise it (softhsm2-util --init-token, or the vendor's tool)".into())
        }
        P11Error::Pkcs11(RvError::TokenNotPresent | RvError::DeviceRemoved, _) => {
            device(Code::TokenNotFound, format!("the PKCS#11 token went away while trying to {what}"))
        }
        P11Error::Pkcs11(rv @ (RvError::MechanismInvalid | RvError::FunctionNotSupported), _) => {
            device(Code::Unsupported, format!("the PKCS#11 device cannot {what} ({rv:?})"))
        }
        P11Error::Pkcs11(RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange, _) => {
            TokenError::Key(KeyError::DecryptionFailed)
        }
        other => device(Code::DeviceError, format!("the PKCS#11 device failed to {what}: {other}")),
    }
}

/// Whether the device refused a mechanism's parameters (so a fallback may work).
fn refused_params(e: &P11Error) -> bool {
    matches!(
        e,
        P11Error::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid,
            _
        )
    )
}

fn oaep_sha256() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ))
}

/// DigestInfo prefixes (RFC 8017 §9.2 note 1).
fn digest_info_prefix(hash: HashAlgorithm) -> &'static [u8] {
    match hash {
        HashAlgorithm::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlgorithm::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlgorithm::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

fn pss(hash: HashAlgorithm) -> Mechanism<'static> {
    let (hash_alg, mgf, len) = match hash {
        HashAlgorithm::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32u64),
        HashAlgorithm::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 48),
        HashAlgorithm::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64),
    };
    Mechanism::RsaPkcsPss(PkcsPssParams {
        hash_alg,
        mgf,
        s_len: Ulong::from(len),
    })
}

/// What the lock guards: the session and a cache of slot key handles.
struct Inner {
    session: Session,
    keys: HashMap<SlotName, (ObjectHandle, PublicKey)>,
}

/// A token on a PKCS#11 device.
pub struct Pkcs11Token {
    inner: Mutex<Inner>,
    device: String,
    /// Set once the device has refused OAEP-SHA-256.
    raw_oaep: AtomicBool,
}

impl Pkcs11Token {
    /// Opens the token the URI names and logs in.
    pub fn open(uri: &Pkcs11Uri) -> Result<Self, TokenError> {
        let token = Self::connect(uri)?;
        // Make sure it was initialised for symbolon (and is not a tombstone).
        token.state(&token.lock())?;
        Ok(token)
    }

    /// Initialises the token for symbolon: device identity key, transport
    /// key and state. The device itself must already be initialised with
    /// a user PIN (e.g. `softhsm2-util --init-token`).
    pub fn init(uri: &Pkcs11Uri) -> Result<Self, TokenError> {
        let token = Self::connect(uri)?;
        {
            let inner = token.lock();
            let s = &inner.session;
            if find(
                s,
                &[Attribute::Class(ObjectClass::DATA), label(STATE_LABEL)],
            )?
            .is_some()
            {
                return Err(TokenError::InvalidInput(format!(
                    "the PKCS#11 token {} is already initialised for symbolon",
                    token.device
                )));
            }
            s.generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::Private(false),
                    label(DEVICE_LABEL),
                    Attribute::EcParams(P256_PARAMS.to_vec()),
                    Attribute::Verify(true),
                    Attribute::Encrypt(false),
                    Attribute::Wrap(false),
                    Attribute::Derive(false),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    label(DEVICE_LABEL),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::Decrypt(false),
                    Attribute::Unwrap(false),
                    Attribute::Derive(false),
                ],
            )
            .map_err(|e| p11("generate the device identity key (P-256)", e))?;
            s.generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &rsa_public_template(TRANSPORT_LABEL, &[], 3072, false),
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    label(TRANSPORT_LABEL),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Decrypt(true),
                    Attribute::Unwrap(true),
                    Attribute::Sign(false),
                    Attribute::Derive(false),
                ],
            )
            .map_err(|e| p11("generate the transport key (RSA-3072)", e))?;
            let state = State {
                generation: 0,
                serial: TokenSerial::random()?,
                command_sequence: 0,
                trusted_issuers: Vec::new(),
                origins: Default::default(),
                active: false,
            };
            create_state_object(s, state.encode())?;
        }
        Ok(token)
    }

    fn connect(uri: &Pkcs11Uri) -> Result<Self, TokenError> {
        let ctx = context(&uri.module)?;
        let slot = find_slot(&ctx, uri)?;
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| p11("read the token information", e))?;
        let device = format!(
            "{} {} serial {} (label {:?})",
            info.manufacturer_id().trim(),
            info.model().trim(),
            info.serial_number().trim(),
            info.label().trim()
        );
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| p11("open a session", e))?;
        let pin = uri.pin.read()?;
        match session.login(UserType::User, Some(&AuthPin::new(pin.to_string()))) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(p11("log in", e)),
        }
        Ok(Self {
            inner: Mutex::new(Inner {
                session,
                keys: HashMap::new(),
            }),
            device,
            raw_oaep: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state_objects(&self, s: &Session) -> Result<Vec<ObjectHandle>, TokenError> {
        let found = s
            .find_objects(&[Attribute::Class(ObjectClass::DATA), label(STATE_LABEL)])
            .map_err(|e| p11("search objects", e))?;
        if found.is_empty() {
            return Err(TokenError::NotAToken(format!(
                "the PKCS#11 token {} is not initialised for symbolon; run `symbolon token init --token pkcs11:…`",
                self.device
            )));
        }
        Ok(found)
    }

    /// The newest state; a tombstone anywhere means the token is dead.
    fn state(&self, inner: &Inner) -> Result<State, TokenError> {
        let mut newest: Option<State> = None;
        for h in self.state_objects(&inner.session)? {
            match state::decode(&value_of(&inner.session, h)?)? {
                Stored::Tombstone(serial) => {
                    return Err(TokenError::Tampered {
                        serial: Some(serial),
                    })
                }
                Stored::Live(s) => {
                    if newest.as_ref().is_none_or(|n| s.generation > n.generation) {
                        newest = Some(s);
                    }
                }
            }
        }
        newest.ok_or_else(|| TokenError::NotAToken("no symbolon state on the token".into()))
    }

    /// Writes the next generation, then removes the older ones.
    fn save_state(&self, inner: &Inner, state: &State) -> Result<(), TokenError> {
        let s = &inner.session;
        let old = self.state_objects(s)?;
        let mut next = state.clone();
        next.generation += 1;
        create_state_object(s, next.encode())?;
        for h in old {
            s.destroy_object(h)
                .map_err(|e| p11("remove an older symbolon state", e))?;
        }
        Ok(())
    }

    /// A slot's private key handle and public key.
    fn slot_key(
        &self,
        inner: &mut Inner,
        slot: &SlotName,
    ) -> Result<(ObjectHandle, PublicKey), TokenError> {
        if let Some(k) = inner.keys.get(slot) {
            return Ok(k.clone());
        }
        let s = &inner.session;
        let private = find(
            s,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                label(slot.as_str()),
            ],
        )?
        .ok_or_else(|| TokenError::SlotNotFound(slot.clone()))?;
        let public = public_of(s, private, slot)?;
        inner.keys.insert(slot.clone(), (private, public.clone()));
        Ok((private, public))
    }

    /// A slot's RSA private key handle and public key, for an RSA-only
    /// `operation`.
    fn rsa_slot_key(
        &self,
        inner: &mut Inner,
        slot: &SlotName,
        operation: &'static str,
    ) -> Result<(ObjectHandle, RsaPublicKey), TokenError> {
        match self.slot_key(inner, slot)? {
            (h, PublicKey::Rsa(k)) => Ok((h, k)),
            (_, other) => Err(TokenError::WrongKeyType {
                slot: slot.clone(),
                holds: other.algorithm(),
                operation,
                needs: "an RSA key",
            }),
        }
    }

    fn named_key(
        &self,
        s: &Session,
        name: &str,
        class: ObjectClass,
    ) -> Result<ObjectHandle, TokenError> {
        find(s, &[Attribute::Class(class), label(name)])?.ok_or_else(|| {
            TokenError::NotAToken(format!(
                "the PKCS#11 token {} lacks its {name} key",
                self.device
            ))
        })
    }

    /// The AES key-encryption key of an accept-key command, from its
    /// RSA-OAEP block under the transport key: unwrapped on the device
    /// where it can, else decoded here and imported as a session object at
    /// once (devices without OAEP unwrap), its copy here zeroised.
    fn unwrap_kek(
        &self,
        s: &Session,
        transport: ObjectHandle,
        oaep_block: &[u8],
    ) -> Result<ObjectHandle, TokenError> {
        let kek_template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Unwrap(true),
        ];
        let kek = match self.raw_oaep.load(Ordering::Relaxed) {
            false => match s.unwrap_key(&oaep_sha256(), transport, oaep_block, &kek_template) {
                Ok(h) => Some(h),
                Err(e) if refused_params(&e) => {
                    self.raw_oaep.store(true, Ordering::Relaxed);
                    None
                }
                Err(e) => return Err(p11("unwrap the transport key", e)),
            },
            true => None,
        };
        Ok(match kek {
            Some(h) => h,
            None => {
                let k = self.oaep_decrypt(s, transport, oaep_block)?;
                if k.len() != 32 {
                    return Err(TokenError::Key(KeyError::DecryptionFailed));
                }
                let mut template = kek_template.to_vec();
                template.push(Attribute::Value(k.to_vec()));
                let h = s
                    .create_object(&template)
                    .map_err(|e| p11("import the wrapping key", e));
                // The template's copy of the key goes now.
                for a in template.iter_mut() {
                    if let Attribute::Value(v) = a {
                        zeroize::Zeroize::zeroize(v);
                    }
                }
                h?
            }
        })
    }

    /// RSA-OAEP-SHA-256 decryption on the device, or raw RSA on the device
    /// and OAEP decoding here when the device has no OAEP-SHA-256.
    fn oaep_decrypt(
        &self,
        s: &Session,
        key: ObjectHandle,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        if !self.raw_oaep.load(Ordering::Relaxed) {
            match s.decrypt(&oaep_sha256(), key, ciphertext) {
                Ok(p) => return Ok(Zeroizing::new(p)),
                Err(e) if refused_params(&e) => self.raw_oaep.store(true, Ordering::Relaxed),
                Err(e) => return Err(p11("decrypt", e)),
            }
        }
        let modulus = get_bytes(s, key, AttributeType::Modulus)?;
        let k = modulus.iter().skip_while(|&&b| b == 0).count();
        if ciphertext.len() != k {
            return Err(TokenError::Key(KeyError::DecryptionFailed));
        }
        let raw = Zeroizing::new(
            s.decrypt(&Mechanism::RsaX509, key, ciphertext)
                .map_err(|e| p11("decrypt (raw RSA)", e))?,
        );
        if raw.len() > k {
            return Err(TokenError::Key(KeyError::DecryptionFailed));
        }
        let mut em = Zeroizing::new(vec![0u8; k - raw.len()]);
        em.extend_from_slice(&raw);
        Ok(oaep::decode_sha256(&em)?)
    }

    fn device_sign(&self, s: &Session, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        let key = self.named_key(s, DEVICE_LABEL, ObjectClass::PRIVATE_KEY)?;
        let digest = MessageDigest::of(HashAlgorithm::Sha256, message);
        let raw = s
            .sign(&Mechanism::Ecdsa, key, digest.as_bytes())
            .map_err(|e| p11("sign with the device identity key", e))?;
        super::ec::ecdsa_der(&raw, 32)
    }

    /// The pairwise consistency test on a new key: a signature that verifies
    /// and a decryption that round-trips. A failing key is destroyed.
    fn pairwise_test(
        &self,
        s: &Session,
        private: ObjectHandle,
        public: &RsaPublicKey,
    ) -> Result<(), TokenError> {
        // A device's generator is trusted no more than ours: its key must
        // pass the weak-key checks (docs/weak-keys.md).
        symbolon::keys::weak::check_generated_key(public, symbolon::keys::weak::Effort::Standard)
            .map_err(|w| TokenError::Key(KeyError::Weak(w)))?;
        let digest =
            MessageDigest::of(HashAlgorithm::Sha256, b"symbolon pairwise consistency test");
        let scheme = SignatureScheme::Pkcs1Sha256;
        let sig = sign_with(s, private, scheme, &digest)?;
        public.verify_digest(scheme, &digest, &sig)?;
        let mut secret = Zeroizing::new([0u8; 32]);
        symbolon::keys::random_bytes(secret.as_mut())?;
        let ct = public.encrypt_oaep(secret.as_ref())?;
        let pt = self.oaep_decrypt(s, private, &ct)?;
        if pt.as_slice() != secret.as_ref() {
            return Err(TokenError::Key(KeyError::Internal(
                "pairwise consistency test",
            )));
        }
        Ok(())
    }

    fn destroy_slot(&self, inner: &mut Inner, slot: &SlotName) {
        inner.keys.remove(slot);
        for class in [
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::CERTIFICATE,
        ] {
            if let Ok(handles) = inner
                .session
                .find_objects(&[Attribute::Class(class), label(slot.as_str())])
            {
                for h in handles {
                    discard(&inner.session, h, "a half-made slot's object");
                }
            }
        }
    }

    fn origin(
        &self,
        s: &Session,
        state: &State,
        slot: &SlotName,
        private: ObjectHandle,
    ) -> Result<Option<KeyOrigin>, TokenError> {
        if let Some(o) = state.origins.get(slot) {
            return Ok(Some(*o));
        }
        // A key made on the device by other tools: generated here, if the
        // device says it was and it never left.
        let flags = key_flags(s, private)?;
        Ok((flags.local && flags.never_extractable).then_some(KeyOrigin::Generated))
    }

    /// Generates an EC key pair on the device (CKM_EC_KEY_PAIR_GEN, or
    /// CKM_EC_EDWARDS_KEY_PAIR_GEN for Ed25519: a device without it says
    /// `unsupported`), tests it pairwise and records it as generated.
    fn generate_ec(&mut self, slot: &SlotName, curve: EcCurve) -> Result<EcPublicKey, TokenError> {
        let mut inner = self.lock();
        let mut state = self.state(&inner)?;
        let s = &inner.session;
        let id = free_slot_id(s, slot)?;
        let (_, private) = s
            .generate_key_pair(
                &super::ec::generation(curve),
                &super::ec::public_template(slot, &id, curve),
                &super::ec::private_template(slot, &id, curve),
            )
            .map_err(|e| p11(&format!("generate a {} key", curve.standard_name()), e))?;
        let tested = public_of(s, private, slot).and_then(|public| {
            let PublicKey::Ec(public) = public else {
                return Err(device(
                    Code::DeviceError,
                    "the device made another kind of key than asked".into(),
                ));
            };
            ec_pairwise_test(s, private, &public)?;
            Ok(public)
        });
        let public = match tested {
            Ok(p) => p,
            Err(e) => {
                self.destroy_slot(&mut inner, slot);
                return Err(e);
            }
        };
        state.origins.insert(slot.clone(), KeyOrigin::Generated);
        state.active = true;
        self.save_state(&inner, &state)?;
        Ok(public)
    }

    /// The device's description, for attestations and messages.
    pub fn device(&self) -> &str {
        &self.device
    }
}

/// A key's protection attributes as the device reports them.
struct KeyFlags {
    local: bool,
    never_extractable: bool,
    always_sensitive: bool,
    sensitive: bool,
    extractable: bool,
}

fn key_flags(s: &Session, key: ObjectHandle) -> Result<KeyFlags, TokenError> {
    let attrs = s
        .get_attributes(
            key,
            &[
                AttributeType::Local,
                AttributeType::NeverExtractable,
                AttributeType::AlwaysSensitive,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )
        .map_err(|e| p11("read the key's attributes", e))?;
    let mut f = KeyFlags {
        local: false,
        never_extractable: false,
        always_sensitive: false,
        sensitive: false,
        // Unknown means not proven otherwise.
        extractable: true,
    };
    for a in attrs {
        match a {
            Attribute::Local(v) => f.local = v,
            Attribute::NeverExtractable(v) => f.never_extractable = v,
            Attribute::AlwaysSensitive(v) => f.always_sensitive = v,
            Attribute::Sensitive(v) => f.sensitive = v,
            Attribute::Extractable(v) => f.extractable = v,
            _ => {}
        }
    }
    Ok(f)
}

/// A fresh `CKA_ID` for a key about to be made in `slot`, which must hold
/// no key yet (keys are never replaced).
fn free_slot_id(s: &Session, slot: &SlotName) -> Result<[u8; 16], TokenError> {
    if find(
        s,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            label(slot.as_str()),
        ],
    )?
    .is_some()
    {
        return Err(TokenError::SlotOccupied(slot.clone()));
    }
    let mut id = [0u8; 16];
    symbolon::keys::random_bytes(&mut id)?;
    Ok(id)
}

fn label(text: &str) -> Attribute {
    Attribute::Label(text.as_bytes().to_vec())
}

fn find(s: &Session, template: &[Attribute]) -> Result<Option<ObjectHandle>, TokenError> {
    let found = s
        .find_objects(template)
        .map_err(|e| p11("search objects", e))?;
    Ok(found.into_iter().next())
}

fn get_bytes(s: &Session, h: ObjectHandle, what: AttributeType) -> Result<Vec<u8>, TokenError> {
    let attrs = s
        .get_attributes(h, &[what])
        .map_err(|e| p11("read an attribute", e))?;
    for a in attrs {
        match a {
            Attribute::Modulus(v)
            | Attribute::PublicExponent(v)
            | Attribute::EcPoint(v)
            | Attribute::EcParams(v)
            | Attribute::Value(v) => return Ok(v),
            _ => {}
        }
    }
    Err(device(
        Code::DeviceError,
        format!("the device did not return {what:?}"),
    ))
}

fn value_of(s: &Session, h: ObjectHandle) -> Result<Vec<u8>, TokenError> {
    get_bytes(s, h, AttributeType::Value)
}

fn rsa_public_of(s: &Session, key: ObjectHandle) -> Result<RsaPublicKey, TokenError> {
    let n = get_bytes(s, key, AttributeType::Modulus)?;
    let e = get_bytes(s, key, AttributeType::PublicExponent)?;
    Ok(RsaPublicKey::from_components(&n, &e)?)
}

/// A slot key's public half, by its `CKA_KEY_TYPE`: RSA from the private
/// object's modulus and exponent, EC from the public object's point.
fn public_of(s: &Session, private: ObjectHandle, slot: &SlotName) -> Result<PublicKey, TokenError> {
    let kind = s
        .get_attributes(private, &[AttributeType::KeyType])
        .map_err(|e| p11("read the key's type", e))?
        .into_iter()
        .find_map(|a| match a {
            Attribute::KeyType(k) => Some(k),
            _ => None,
        });
    match kind {
        Some(KeyType::EC) | Some(KeyType::EC_EDWARDS) | Some(KeyType::EC_MONTGOMERY) => {
            let curve = super::ec::curve_of(&get_bytes(s, private, AttributeType::EcParams)?)?;
            let public = find(
                s,
                &[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    label(slot.as_str()),
                ],
            )?
            .ok_or_else(|| {
                device(
                    Code::DeviceError,
                    format!("slot {slot}'s EC public key object is missing on the device"),
                )
            })?;
            let point = get_bytes(s, public, AttributeType::EcPoint)?;
            Ok(PublicKey::Ec(super::ec::public_key(curve, &point)?))
        }
        _ => rsa_public_of(s, private).map(PublicKey::Rsa),
    }
}

fn rsa_public_template(name: &str, id: &[u8], bits: u64, usable: bool) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        label(name),
        Attribute::Id(id.to_vec()),
        Attribute::ModulusBits(Ulong::from(bits)),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        Attribute::Verify(usable),
        Attribute::Encrypt(true),
        Attribute::Wrap(!usable),
        Attribute::Derive(false),
    ]
}

fn slot_private_template(slot: &SlotName, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        label(slot.as_str()),
        Attribute::Id(id.to_vec()),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ]
}

fn sign_with(
    s: &Session,
    key: ObjectHandle,
    scheme: SignatureScheme,
    digest: &MessageDigest,
) -> Result<Vec<u8>, TokenError> {
    if digest.algorithm() != scheme.hash() {
        return Err(TokenError::InvalidInput(format!(
            "a {} digest cannot be signed under {scheme}",
            digest.algorithm().name()
        )));
    }
    let result = if scheme.is_pss() {
        s.sign(&pss(scheme.hash()), key, digest.as_bytes())
    } else {
        let mut info = digest_info_prefix(scheme.hash()).to_vec();
        info.extend_from_slice(digest.as_bytes());
        s.sign(&Mechanism::RsaPkcs, key, &info)
    };
    result.map_err(|e| p11("sign", e))
}

/// EC signing on the device: CKM_ECDSA over the digest (the device gives
/// r ‖ s, made DER here), CKM_EDDSA over the message. Each signature is
/// verified against the public key before it is returned, as the soft
/// token's are by construction.
fn ec_sign(
    s: &Session,
    key: ObjectHandle,
    public: &EcPublicKey,
    input: EcSigningInput<'_>,
) -> Result<Vec<u8>, TokenError> {
    let curve = public.curve();
    input.check_for(curve)?;
    match input {
        EcSigningInput::Digest(d) => {
            let raw = s
                .sign(&Mechanism::Ecdsa, key, d.as_bytes())
                .map_err(|e| p11("sign (ECDSA)", e))?;
            super::ec::ecdsa_der(&raw, curve.field_len())
        }
        EcSigningInput::Message(m) => {
            let params = cryptoki::mechanism::eddsa::EddsaParams::new(
                cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
            );
            let sig = s
                .sign(&Mechanism::Eddsa(params), key, m)
                .map_err(|e| p11("sign (Ed25519)", e))?;
            public.verify(None, m, &sig).map_err(|_| {
                device(
                    Code::DeviceError,
                    "the device's Ed25519 signature does not verify".into(),
                )
            })?;
            Ok(sig)
        }
    }
}

/// The pairwise test of an EC key on the device: a fresh signature made
/// with `private` verifies under `public`.
fn ec_pairwise_test(
    s: &Session,
    private: ObjectHandle,
    public: &EcPublicKey,
) -> Result<(), TokenError> {
    if !public.curve().can_sign() {
        // An X25519 key: agree with a fresh key both ways and compare.
        let other = symbolon::keys::EcPrivateKey::generate(public.curve())?;
        let ours = super::ec::derive(s, private, other.public_key())?;
        let theirs = other.agree(public)?;
        use subtle::ConstantTimeEq;
        return if bool::from(ours.as_slice().ct_eq(theirs.as_slice())) {
            Ok(())
        } else {
            Err(TokenError::Key(KeyError::PairwiseConsistency))
        };
    }
    let mut challenge = [0u8; 32];
    symbolon::keys::random_bytes(&mut challenge)?;
    let hash = public.curve().natural_hash();
    let sig = match hash {
        Some(h) => {
            let d = MessageDigest::of(h, &challenge);
            ec_sign(s, private, public, EcSigningInput::Digest(&d))?
        }
        None => ec_sign(s, private, public, EcSigningInput::Message(&challenge))?,
    };
    public
        .verify(hash, &challenge, &sig)
        .map_err(|_| TokenError::Key(KeyError::PairwiseConsistency))
}

fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot, TokenError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| p11("list slots", e))?;
    let mut seen = Vec::new();
    let mut matching = Vec::new();
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let (label, serial) = (
            info.label().trim().to_string(),
            info.serial_number().trim().to_string(),
        );
        let ok = uri.token.as_deref().is_none_or(|t| t == label)
            && uri.serial.as_deref().is_none_or(|s| s == serial)
            && uri
                .manufacturer
                .as_deref()
                .is_none_or(|m| m == info.manufacturer_id().trim())
            && uri
                .model
                .as_deref()
                .is_none_or(|m| m == info.model().trim())
            && uri.slot_id.is_none_or(|id| id == slot.id());
        seen.push(format!(
            "{label:?} (serial {serial}, slot-id {})",
            slot.id()
        ));
        if ok {
            matching.push(slot);
        }
    }
    match matching.len() {
        1 => Ok(matching[0]),
        0 => Err(device(
            Code::TokenNotFound,
            format!(
                "no PKCS#11 token matches the URI in {}; tokens present: {}",
                uri.module.display(),
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                }
            ),
        )),
        _ => Err(TokenError::InvalidInput(format!(
            "several PKCS#11 tokens match the URI ({}); add serial= or slot-id=",
            seen.join(", ")
        ))),
    }
}

impl Token for Pkcs11Token {
    fn info(&self) -> Result<TokenInfo, TokenError> {
        let inner = self.lock();
        let state = self.state(&inner)?;
        let s = &inner.session;
        let mut slots = Vec::new();
        for h in s
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .map_err(|e| p11("list keys", e))?
        {
            let name = get_label(s, h)?;
            let Ok(slot) = SlotName::new(&name) else {
                continue;
            };
            let Some(origin) = self.origin(s, &state, &slot, h)? else {
                continue;
            };
            // The device identity and transport keys have labels that are
            // not slot names; a slot key of another kind or size is skipped.
            let Ok(public) = public_of(s, h, &slot) else {
                continue;
            };
            if let PublicKey::Rsa(k) = &public {
                if k.algorithm().is_none() {
                    continue;
                }
            }
            let algorithm = public.algorithm();
            let has_certificate = find(
                s,
                &[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    label(slot.as_str()),
                ],
            )?
            .is_some();
            slots.push(SlotInfo {
                name: slot,
                algorithm,
                fingerprint: public.fingerprint(),
                origin,
                has_certificate,
            });
        }
        slots.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        let device_key = self.device_key_locked(s)?;
        let transport = rsa_public_of(
            s,
            self.named_key(s, TRANSPORT_LABEL, ObjectClass::PRIVATE_KEY)?,
        )?;
        Ok(TokenInfo {
            serial: state.serial,
            status: if state.active {
                TokenStatus::Active
            } else {
                TokenStatus::New
            },
            device_key: device_key.fingerprint(),
            transport_key: transport.fingerprint(),
            trusted_issuers: state
                .trusted_issuers
                .iter()
                .map(IdentityPublicKey::fingerprint)
                .collect(),
            command_sequence: state.command_sequence,
            slots,
        })
    }

    fn device_key(&self) -> Result<IdentityPublicKey, TokenError> {
        let inner = self.lock();
        self.state(&inner)?;
        self.device_key_locked(&inner.session)
    }

    fn transport_key(&self) -> Result<RsaPublicKey, TokenError> {
        let inner = self.lock();
        self.state(&inner)?;
        let s = &inner.session;
        rsa_public_of(
            s,
            self.named_key(s, TRANSPORT_LABEL, ObjectClass::PRIVATE_KEY)?,
        )
    }

    fn trust_issuer(&mut self, issuer: &IdentityPublicKey) -> Result<(), TokenError> {
        let inner = self.lock();
        let mut state = self.state(&inner)?;
        if state.active {
            return Err(TokenError::TrustFixed);
        }
        if state.trusted_issuers.contains(issuer) {
            return Err(TokenError::AlreadyTrusted(issuer.fingerprint()));
        }
        state.trusted_issuers.push(issuer.clone());
        self.save_state(&inner, &state)
    }

    fn generate(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
    ) -> Result<RsaPublicKey, TokenError> {
        let mut inner = self.lock();
        let mut state = self.state(&inner)?;
        let s = &inner.session;
        let id = free_slot_id(s, slot)?;
        let (_, private) = s
            .generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &rsa_public_template(slot.as_str(), &id, algorithm.bits() as u64, true),
                &slot_private_template(slot, &id),
            )
            .map_err(|e| p11(&format!("generate an {} key", algorithm.name()), e))?;
        let public = rsa_public_of(s, private)?;
        if let Err(e) = self.pairwise_test(s, private, &public) {
            self.destroy_slot(&mut inner, slot);
            return Err(e);
        }
        state.origins.insert(slot.clone(), KeyOrigin::Generated);
        state.active = true;
        self.save_state(&inner, &state)?;
        Ok(public)
    }

    fn public_key(&self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        let mut inner = self.lock();
        Ok(self.rsa_slot_key(&mut inner, slot, "an RSA public key")?.1)
    }

    fn slot_public_key(&self, slot: &SlotName) -> Result<PublicKey, TokenError> {
        let mut inner = self.lock();
        Ok(self.slot_key(&mut inner, slot)?.1)
    }

    fn generate_key(
        &mut self,
        slot: &SlotName,
        algorithm: KeyAlgorithm,
    ) -> Result<PublicKey, TokenError> {
        match algorithm {
            KeyAlgorithm::Rsa(a) => self.generate(slot, a).map(PublicKey::Rsa),
            KeyAlgorithm::Ec(curve) => self.generate_ec(slot, curve).map(PublicKey::Ec),
        }
    }

    fn sign_ec(&self, slot: &SlotName, input: EcSigningInput<'_>) -> Result<Vec<u8>, TokenError> {
        let mut inner = self.lock();
        let (key, public) = self.slot_key(&mut inner, slot)?;
        let PublicKey::Ec(public) = public else {
            return Err(TokenError::WrongKeyType {
                slot: slot.clone(),
                holds: public.algorithm(),
                operation: "EC signing (ecdsa-sha256, ecdsa-sha384, ed25519)",
                needs: "an EC key",
            });
        };
        ec_sign(&inner.session, key, &public, input)
    }

    fn sign(
        &self,
        slot: &SlotName,
        scheme: SignatureScheme,
        digest: &MessageDigest,
    ) -> Result<Vec<u8>, TokenError> {
        let mut inner = self.lock();
        let (key, _) = self.rsa_slot_key(&mut inner, slot, "RSA signing (pkcs1-*, pss-*)")?;
        sign_with(&inner.session, key, scheme, digest)
    }

    fn decrypt(
        &self,
        slot: &SlotName,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let mut inner = self.lock();
        let (key, _) = self.rsa_slot_key(&mut inner, slot, "RSA-OAEP decryption")?;
        self.oaep_decrypt(&inner.session, key, ciphertext)
    }

    fn open_hpke(
        &self,
        slot: &SlotName,
        info: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        // The device computes the Diffie-Hellman (CKM_ECDH1_DERIVE); the
        // key schedule and the AEAD run here, as for sealed content.
        symbolon::token::check_hpke_open(info, sealed)?;
        let mut inner = self.lock();
        let (key, public) = self.slot_key(&mut inner, slot)?;
        let public = match public {
            PublicKey::Ec(k) if k.curve().can_agree() => k,
            other => return Err(symbolon::token::no_hpke_key(slot, other.algorithm())),
        };
        let s = &inner.session;
        symbolon::keys::hpke::open::<TokenError>(&public, info, sealed, |peer| {
            super::ec::derive(s, key, peer)
        })
    }

    fn certificate(&self, slot: &SlotName) -> Result<Vec<u8>, TokenError> {
        let mut inner = self.lock();
        self.slot_key(&mut inner, slot)?;
        let s = &inner.session;
        let h = find(
            s,
            &[
                Attribute::Class(ObjectClass::CERTIFICATE),
                label(slot.as_str()),
            ],
        )?
        .ok_or_else(|| TokenError::NoCertificate(slot.clone()))?;
        value_of(s, h)
    }

    fn write_certificate(&mut self, command: &SignedCommand) -> Result<(), TokenError> {
        let mut inner = self.lock();
        let mut state = self.state(&inner)?;
        command.check(state.serial, state.command_sequence, &state.trusted_issuers)?;
        let IssuerAction::WriteCertificate { certificate } = &command.command.action else {
            return Err(TokenError::InvalidInput(
                "this command accepts a key; use accept-key".into(),
            ));
        };
        let slot = &command.command.slot;
        let (private, public) = self.slot_key(&mut inner, slot)?;
        let invalid = |e: symbolon::x509::X509Error| TokenError::InvalidCertificate(e.to_string());
        let cert = symbolon::x509::parse_certificate(certificate).map_err(invalid)?;
        if symbolon::x509::certificate_public_key(&cert).map_err(invalid)? != public {
            return Err(TokenError::CertificateMismatch(slot.clone()));
        }
        use der::Encode;
        let tbs = cert.tbs_certificate();
        let subject = tbs
            .subject()
            .to_der()
            .map_err(|e| TokenError::InvalidCertificate(e.to_string()))?;
        let issuer = tbs
            .issuer()
            .to_der()
            .map_err(|e| TokenError::InvalidCertificate(e.to_string()))?;
        let serial = tbs
            .serial_number()
            .to_der()
            .map_err(|e| TokenError::InvalidCertificate(e.to_string()))?;
        let s = &inner.session;
        let id = get_id(s, private)?;
        let created = s
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                label(slot.as_str()),
                Attribute::Id(id),
                Attribute::Subject(subject),
                Attribute::Issuer(issuer),
                Attribute::SerialNumber(serial),
                Attribute::Value(certificate.clone()),
            ])
            .map_err(|e| p11("store the certificate", e))?;
        // The new certificate first, then the old ones go: never none.
        for old in s
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                label(slot.as_str()),
            ])
            .map_err(|e| p11("search objects", e))?
        {
            if old != created {
                // Two certificates for one slot would leave the choice to
                // the next reader: the old one must go, or the write fails.
                s.destroy_object(old)
                    .map_err(|e| p11("remove the slot's old certificate", e))?;
            }
        }
        state.command_sequence += 1;
        self.save_state(&inner, &state)
    }

    fn accept_key(&mut self, command: &SignedCommand) -> Result<PublicKey, TokenError> {
        let mut inner = self.lock();
        let mut state = self.state(&inner)?;
        command.check(state.serial, state.command_sequence, &state.trusted_issuers)?;
        let IssuerAction::AcceptKey {
            public_key,
            wrapped,
        } = &command.command.action
        else {
            return Err(TokenError::InvalidInput(
                "this command writes a certificate; use write-certificate".into(),
            ));
        };
        let slot = command.command.slot.clone();
        let s = &inner.session;
        if find(
            s,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                label(slot.as_str()),
            ],
        )?
        .is_some()
        {
            return Err(TokenError::SlotOccupied(slot));
        }
        let (oaep_block, kwp) = wrapped.parts()?;
        let transport = self.named_key(s, TRANSPORT_LABEL, ObjectClass::PRIVATE_KEY)?;
        let kek = self.unwrap_kek(s, transport, oaep_block)?;
        let mut id = [0u8; 16];
        symbolon::keys::random_bytes(&mut id)?;
        // The PKCS#8 names the key's algorithm and curve; the template
        // says what object it becomes (RSA, or an EC key that only signs).
        let (key_type, mut template) = match public_key {
            PublicKey::Rsa(_) => (KeyType::RSA, slot_private_template(&slot, &id)),
            PublicKey::Ec(k) => (
                super::ec::key_type(k.curve()),
                super::ec::private_template(&slot, &id, k.curve()),
            ),
        };
        template.push(Attribute::Class(ObjectClass::PRIVATE_KEY));
        template.push(Attribute::KeyType(key_type));
        let unwrapped = s.unwrap_key(&Mechanism::AesKeyWrapPad, kek, kwp, &template);
        discard(s, kek, "the temporary key-encryption key");
        let private = unwrapped.map_err(|e| match e {
            P11Error::Pkcs11(
                RvError::WrappedKeyInvalid
                | RvError::WrappedKeyLenRange
                | RvError::UnwrappingKeyHandleInvalid,
                _,
            ) => TokenError::Key(KeyError::DecryptionFailed),
            // Devices that make Ed25519 keys need not take them wrapped
            // (SoftHSM2 2.6 cannot): say so, not "general failure".
            _ if key_type == KeyType::EC_EDWARDS => TokenError::Key(KeyError::Unsupported {
                kind: "key to write into this PKCS#11 device",
                name: "ed25519 (the device cannot unwrap it)".into(),
                supported: "RSA, P-256 and P-384 keys; make an Ed25519 key on the device: token generate --algorithm ed25519",
            }),
            other => p11("unwrap the key into the device", other),
        })?;
        let check = (|| match public_key {
            PublicKey::Rsa(public_key) => {
                if &rsa_public_of(s, private)? != public_key {
                    return Err(TokenError::InvalidInput(
                        "the wrapped key does not match the public key the command states".into(),
                    ));
                }
                let bits = public_key.bits() as u64;
                let mut pub_template = rsa_public_template(slot.as_str(), &id, bits, true);
                pub_template.retain(|a| {
                    !matches!(a, Attribute::ModulusBits(_) | Attribute::PublicExponent(_))
                });
                pub_template.push(Attribute::Class(ObjectClass::PUBLIC_KEY));
                pub_template.push(Attribute::KeyType(KeyType::RSA));
                pub_template.push(Attribute::Modulus(public_key.modulus().to_vec()));
                pub_template.push(Attribute::PublicExponent(public_key.exponent().to_vec()));
                s.create_object(&pub_template)
                    .map_err(|e| p11("store the public key", e))?;
                self.pairwise_test(s, private, public_key)
            }
            PublicKey::Ec(public_key) => {
                // The public object from the command's key; the pairwise
                // test (a signature made on the device, verified with the
                // command's key) proves the unwrapped key is that key.
                let mut pub_template = super::ec::public_template(&slot, &id, public_key.curve());
                pub_template.push(Attribute::Class(ObjectClass::PUBLIC_KEY));
                pub_template.push(Attribute::KeyType(key_type));
                pub_template.push(Attribute::EcPoint(super::ec::ec_point(public_key)));
                s.create_object(&pub_template)
                    .map_err(|e| p11("store the public key", e))?;
                ec_pairwise_test(s, private, public_key)
            }
        })();
        if let Err(e) = check {
            discard(s, private, "a key that failed its pairwise test");
            self.destroy_slot(&mut inner, &slot);
            return Err(e);
        }
        state.command_sequence += 1;
        state.active = true;
        state.origins.insert(
            slot,
            KeyOrigin::Issuer {
                issuer: command.issuer.fingerprint(),
            },
        );
        self.save_state(&inner, &state)?;
        Ok(public_key.clone())
    }

    fn attest(&self, slot: &SlotName, nonce: &[u8]) -> Result<Attestation, TokenError> {
        if nonce.len() > MAX_NONCE_LEN {
            return Err(TokenError::InvalidInput(format!(
                "the attestation nonce is {} bytes; at most {MAX_NONCE_LEN} are accepted",
                nonce.len()
            )));
        }
        let mut inner = self.lock();
        let state = self.state(&inner)?;
        let (private, public) = self.slot_key(&mut inner, slot)?;
        let s = &inner.session;
        let flags = key_flags(s, private)?;
        let origin = self.origin(s, &state, slot, private)?.ok_or_else(|| {
            TokenError::InvalidInput(format!(
                "slot {slot} holds a key that entered the device outside symbolon and was not generated there; it cannot be attested"
            ))
        })?;
        let statement = AttestationStatement {
            token: state.serial,
            device_key: self.device_key_locked(s)?,
            slot: slot.clone(),
            public_key: public,
            origin,
            exportable: flags.extractable || !flags.sensitive,
            evidence: AttestationEvidence::Pkcs11 {
                device: self.device.clone(),
                local: flags.local,
                never_extractable: flags.never_extractable,
                always_sensitive: flags.always_sensitive,
                sensitive: flags.sensitive,
                extractable: flags.extractable,
            },
            nonce: nonce.to_vec(),
        };
        let signature = self.device_sign(s, &statement.to_be_signed())?;
        Ok(Attestation {
            statement,
            signature,
        })
    }

    fn tamper(&mut self) -> Result<(), TokenError> {
        let mut inner = self.lock();
        let state = self.state(&inner)?;
        inner.keys.clear();
        let s = &inner.session;
        // Tombstone first: from here on nothing opens, whatever else fails.
        create_state_object(s, State::tombstone(state.serial))?;
        for h in s
            .find_objects(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Application(APPLICATION.to_vec()),
            ])
            .map_err(|e| p11("find the data objects to zeroise", e))?
        {
            if get_label(s, h)?.starts_with(OBJECT_PREFIX) {
                s.destroy_object(h)
                    .map_err(|e| p11("destroy a data object", e))?;
            }
        }
        let mut names: Vec<String> = vec![DEVICE_LABEL.into(), TRANSPORT_LABEL.into()];
        names.extend(state.origins.keys().map(|s| s.as_str().to_string()));
        for name in names {
            for class in [
                ObjectClass::PRIVATE_KEY,
                ObjectClass::PUBLIC_KEY,
                ObjectClass::CERTIFICATE,
            ] {
                for h in s
                    .find_objects(&[Attribute::Class(class), label(&name)])
                    .map_err(|e| p11("find the keys to zeroise", e))?
                {
                    s.destroy_object(h).map_err(|e| p11("destroy a key", e))?;
                }
            }
        }
        Ok(())
    }

    fn put_object(&mut self, name: &SlotName, data: &[u8]) -> Result<(), TokenError> {
        symbolon::token::check_object(data)?;
        let inner = self.lock();
        self.state(&inner)?;
        let s = &inner.session;
        let label_text = format!("{OBJECT_PREFIX}{name}");
        let old = s
            .find_objects(&[Attribute::Class(ObjectClass::DATA), label(&label_text)])
            .map_err(|e| p11("search objects", e))?;
        // The new object first, then the old one goes: never none.
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Application(APPLICATION.to_vec()),
            label(&label_text),
            Attribute::Value(data.to_vec()),
        ])
        .map_err(|e| p11("store a data object", e))?;
        for h in old {
            s.destroy_object(h)
                .map_err(|e| p11("replace a data object", e))?;
        }
        Ok(())
    }

    fn object(&self, name: &SlotName) -> Result<Vec<u8>, TokenError> {
        let inner = self.lock();
        self.state(&inner)?;
        let s = &inner.session;
        let h = find(
            s,
            &[
                Attribute::Class(ObjectClass::DATA),
                label(&format!("{OBJECT_PREFIX}{name}")),
            ],
        )?
        .ok_or_else(|| TokenError::ObjectNotFound(name.clone()))?;
        value_of(s, h)
    }

    fn objects(&self) -> Result<Vec<SlotName>, TokenError> {
        let inner = self.lock();
        self.state(&inner)?;
        let s = &inner.session;
        let mut out = Vec::new();
        for h in s
            .find_objects(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Application(APPLICATION.to_vec()),
            ])
            .map_err(|e| p11("list data objects", e))?
        {
            if let Some(name) = get_label(s, h)?.strip_prefix(OBJECT_PREFIX) {
                if let Ok(n) = SlotName::new(name) {
                    out.push(n);
                }
            }
        }
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        out.dedup();
        Ok(out)
    }

    fn open_content(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
        wrapped_key: &[u8],
    ) -> Result<Box<dyn ChunkOpener + Send>, TokenError> {
        // PKCS#11 has no HKDF-derived AES-GCM here (SoftHSM2 lacks
        // CKM_HKDF_DERIVE): the device unwraps the content key (RSA-OAEP)
        // or computes the Diffie-Hellman of HPKE (ECDH), and the chunks
        // are opened in this process; the key is zeroised on drop.
        let mut inner = self.lock();
        let (key, public) = self.slot_key(&mut inner, slot)?;
        let content_key = match public {
            PublicKey::Rsa(_) => {
                drop(inner);
                self.decrypt(slot, wrapped_key)?
            }
            PublicKey::Ec(public) if public.curve().can_agree() => {
                let s = &inner.session;
                symbolon::content::wrap::unwrap_hpke(&public, header, wrapped_key, |peer| {
                    super::ec::derive(s, key, peer)
                        .map_err(|e| symbolon::content::ContentError::InvalidInput(e.to_string()))
                })?
            }
            PublicKey::Ec(public) => {
                return Err(TokenError::WrongKeyType {
                    slot: slot.clone(),
                    holds: KeyAlgorithm::Ec(public.curve()),
                    operation: "opening sealed content",
                    needs: "an RSA, P-256, P-384 or X25519 key",
                })
            }
        };
        Ok(Box::new(StreamOpener::from_content_key(
            &content_key,
            header,
        )?))
    }
}

impl Pkcs11Token {
    fn device_key_locked(&self, s: &Session) -> Result<IdentityPublicKey, TokenError> {
        let public = self.named_key(s, DEVICE_LABEL, ObjectClass::PUBLIC_KEY)?;
        let point = get_bytes(s, public, AttributeType::EcPoint)?;
        // CKA_EC_POINT is a DER OCTET STRING around the point; some devices
        // give the bare point.
        let point = match point.as_slice() {
            [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest.to_vec(),
            [0x04, ..] if point.len() == 65 => point.clone(),
            _ => {
                return Err(device(
                    Code::DeviceError,
                    "the device key's EC point is not an uncompressed P-256 point".into(),
                ))
            }
        };
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(&point);
        Ok(IdentityPublicKey::from_spki_der(&spki)?)
    }
}

fn create_state_object(s: &Session, value: Vec<u8>) -> Result<ObjectHandle, TokenError> {
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Application(APPLICATION.to_vec()),
        label(STATE_LABEL),
        Attribute::Value(value),
    ])
    .map_err(|e| p11("store the symbolon state", e))
}

fn get_label(s: &Session, h: ObjectHandle) -> Result<String, TokenError> {
    let attrs = s
        .get_attributes(h, &[AttributeType::Label])
        .map_err(|e| p11("read a label", e))?;
    for a in attrs {
        if let Attribute::Label(v) = a {
            return Ok(String::from_utf8_lossy(&v).into_owned());
        }
    }
    Ok(String::new())
}

fn get_id(s: &Session, h: ObjectHandle) -> Result<Vec<u8>, TokenError> {
    let attrs = s
        .get_attributes(h, &[AttributeType::Id])
        .map_err(|e| p11("read an id", e))?;
    for a in attrs {
        if let Attribute::Id(v) = a {
            return Ok(v);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_say_what_to_do() {
        use cryptoki::context::Function;
        for (rv, code, needle) in [
            (RvError::PinIncorrect, "wrong_pin", "PIN is wrong"),
            (RvError::PinLocked, "pin_locked", "security officer"),
            (RvError::UserPinNotInitialized, "pin_locked", "no user PIN"),
            (RvError::TokenNotPresent, "token_not_found", "went away"),
            (RvError::MechanismInvalid, "unsupported", "cannot"),
            (RvError::GeneralError, "device_error", "failed to"),
        ] {
            let e = p11("log in", P11Error::Pkcs11(rv, Function::Login));
            assert_eq!(e.code(), code, "{rv:?}");
            assert!(e.to_string().contains(needle), "{rv:?}: {e}");
        }
        assert!(refused_params(&P11Error::Pkcs11(
            RvError::ArgumentsBad,
            Function::DecryptInit
        )));
        assert!(!refused_params(&P11Error::Pkcs11(
            RvError::PinIncorrect,
            Function::Login
        )));
    }
}

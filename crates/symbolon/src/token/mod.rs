//! The token: the patent's personal portable device (FIG. 3, 14, 18).
//!
//! A token holds named key slots. A slot's private key is generated inside
//! the token ([`Token::generate`], the fourth embodiment) or accepted from an
//! issuer it trusts, wrapped to its transport key ([`Token::accept_key`], the
//! first and second embodiments); either way it never leaves. The token signs
//! and decrypts with it, shows its public key and certificate to anyone, lets
//! only a trusted issuer write the certificate region, attests where a key
//! came from with its device identity key, and on tamper zeroises everything
//! and stays dead (FIG. 16).
//!
//! [`Token`] is the seam: the in-process [`SoftToken`] here, the token agent
//! client in `symbolon-token`, and a PKCS#11 device later all implement it.

mod attestation;
mod command;
mod error;
mod sealing;
mod soft;
mod state;
mod types;

pub use attestation::{
    Attestation, AttestationError, AttestationEvidence, AttestationStatement, MAX_NONCE_LEN,
};
pub use command::{IssuerAction, IssuerCommand, SignedCommand};
pub use error::TokenError;
pub(crate) use sealing::{open as open_sealed, seal, tombstone, OpenFailure};
pub use sealing::{read_header, SealedHeader, SealedKind, SealingKey, SEALED_HEADER_LEN};
pub use soft::{MemoryStore, SealedStore, SoftToken, StoreError, TRANSPORT_KEY};
pub use types::{KeyOrigin, SlotInfo, SlotName, TokenInfo, TokenSerial, TokenStatus};

use zeroize::Zeroizing;

use crate::content::{ChunkOpener, ContentHeader};

/// Largest data object a token keeps.
pub const MAX_OBJECT: usize = 64 * 1024;
/// Most data objects a token keeps.
pub const MAX_OBJECTS: usize = 64;

/// The one kind of HPKE ciphertext a token opens out of itself
/// ([`Token::open_hpke`]): a share re-encrypted to the recovery enclave,
/// whose `info` begins with this domain as [`crate::encoding::Writer`]
/// writes it (docs/recovery-shares.md §2). Anything else sealed to a slot
/// key with HPKE — a content key above all — opens only inside.
pub const HPKE_OPEN_DOMAIN: &str = "symbolon recovery share v1";
/// Longest HPKE `info` [`Token::open_hpke`] takes.
pub const MAX_HPKE_INFO: usize = 1024;
/// Longest HPKE ciphertext [`Token::open_hpke`] takes (a share is far
/// shorter).
pub const MAX_HPKE_SEALED: usize = 64 * 1024;

/// Why a slot holding a key of `holds` cannot [`Token::open_hpke`].
pub fn no_hpke_key(slot: &SlotName, holds: KeyAlgorithm) -> TokenError {
    TokenError::WrongKeyType {
        slot: slot.clone(),
        holds,
        operation: "HPKE opening",
        needs: "a P-256, P-384 or X25519 key",
    }
}

/// Checks what [`Token::open_hpke`] is asked to open: an `info` of the
/// [`HPKE_OPEN_DOMAIN`] and sizes within bounds. Every backend calls this
/// before its Diffie-Hellman.
pub fn check_hpke_open(info: &[u8], sealed: &[u8]) -> Result<(), TokenError> {
    if info.len() > MAX_HPKE_INFO || sealed.len() > MAX_HPKE_SEALED {
        return Err(TokenError::InvalidInput(format!(
            "HPKE opening takes an info of at most {MAX_HPKE_INFO} bytes and a ciphertext of at \
             most {MAX_HPKE_SEALED}; these have {} and {}",
            info.len(),
            sealed.len()
        )));
    }
    let domain = crate::encoding::Writer::with_domain(HPKE_OPEN_DOMAIN).into_bytes();
    if !info.starts_with(&domain) {
        return Err(TokenError::InvalidInput(
            "a token opens only recovery shares out of itself (docs/recovery-shares.md); \
             sealed content opens inside it (`symbolon unseal`)"
                .into(),
        ));
    }
    Ok(())
}

/// Checks a data object's size.
pub fn check_object(data: &[u8]) -> Result<(), TokenError> {
    if data.len() > MAX_OBJECT {
        return Err(TokenError::InvalidInput(format!(
            "a data object holds at most {MAX_OBJECT} bytes; this one has {}",
            data.len()
        )));
    }
    Ok(())
}
use crate::keys::{
    EcSigningInput, IdentityPublicKey, KeyAlgorithm, KeyError, MessageDigest, PublicKey,
    RsaAlgorithm, RsaPublicKey, SignatureScheme,
};

/// The operations of a token. No method returns a slot's private key, and
/// there is no export: that is the point.
pub trait Token {
    /// Serial, state, slots and trust list.
    fn info(&self) -> Result<TokenInfo, TokenError>;

    /// `Ok` while the token can be used: an error once it was tampered with
    /// (or its device is gone). What a content session asks before each
    /// chunk, so cheaper than [`Token::info`] where a token can say so.
    fn check_live(&self) -> Result<(), TokenError> {
        self.info().map(drop)
    }

    /// The device identity key that signs attestations.
    fn device_key(&self) -> Result<IdentityPublicKey, TokenError>;

    /// The transport key issuers wrap keys to.
    fn transport_key(&self) -> Result<RsaPublicKey, TokenError>;

    /// Adds an issuer allowed to write certificates and keys. Only while the
    /// token is [`TokenStatus::New`]: the first key fixes the trust list.
    fn trust_issuer(&mut self, issuer: &IdentityPublicKey) -> Result<(), TokenError>;

    /// Generates a key pair inside the token in an empty slot, runs the
    /// pairwise consistency test, stores it, and returns the public key.
    fn generate(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
    ) -> Result<RsaPublicKey, TokenError>;

    /// A slot's public key, when it is an RSA key (the RSA-only flows:
    /// transport, joint keys, content decryption, the CA key).
    fn public_key(&self, slot: &SlotName) -> Result<RsaPublicKey, TokenError>;

    /// Generates a key of any algorithm the token offers (RSA, or an EC
    /// curve: docs/ec-keys.md) in an empty slot, tests it pairwise, stores
    /// it and returns its public key. A backend without EC keys refuses
    /// EC algorithms as `unsupported`.
    fn generate_key(
        &mut self,
        slot: &SlotName,
        algorithm: KeyAlgorithm,
    ) -> Result<PublicKey, TokenError> {
        match algorithm {
            KeyAlgorithm::Rsa(a) => self.generate(slot, a).map(PublicKey::Rsa),
            KeyAlgorithm::Ec(_) => Err(TokenError::Key(KeyError::Unsupported {
                kind: "key algorithm on this token",
                name: algorithm.name().to_string(),
                supported: "rsa-2048, rsa-3072, rsa-4096",
            })),
        }
    }

    /// A slot's public key, RSA or EC.
    fn slot_public_key(&self, slot: &SlotName) -> Result<PublicKey, TokenError> {
        self.public_key(slot).map(PublicKey::Rsa)
    }

    /// Signs with an EC slot's key: ECDSA over a digest of the curve's hash
    /// (a DER signature), Ed25519 over the message.
    fn sign_ec(&self, slot: &SlotName, input: EcSigningInput<'_>) -> Result<Vec<u8>, TokenError> {
        let _ = input;
        Err(TokenError::WrongKeyType {
            slot: slot.clone(),
            holds: self.slot_public_key(slot)?.algorithm(),
            operation: "EC signing",
            needs: "an EC key",
        })
    }

    /// Signs what `request` asks with a slot's key, RSA or EC: the one
    /// call a CA key's signer makes whatever the key's algorithm.
    fn sign_request(
        &self,
        slot: &SlotName,
        request: crate::keys::SignRequest<'_>,
    ) -> Result<Vec<u8>, TokenError> {
        match request {
            crate::keys::SignRequest::Rsa(scheme, digest) => self.sign(slot, scheme, digest),
            crate::keys::SignRequest::Ec(input) => self.sign_ec(slot, input),
        }
    }

    /// Signs a digest with a slot's key.
    fn sign(
        &self,
        slot: &SlotName,
        scheme: SignatureScheme,
        digest: &MessageDigest,
    ) -> Result<Vec<u8>, TokenError>;

    /// Decrypts an RSAES-OAEP-SHA256 ciphertext with a slot's key.
    fn decrypt(&self, slot: &SlotName, ciphertext: &[u8])
        -> Result<Zeroizing<Vec<u8>>, TokenError>;

    /// Opens an HPKE ciphertext (RFC 9180 base mode, single shot,
    /// `enc ‖ ct`, empty AAD) sealed to an EC slot's key (P-256, P-384 or
    /// X25519) with `info`: the EC counterpart of [`Token::decrypt`], what
    /// the recovery enclave opens its shares with (docs/recovery-shares.md).
    /// Only a recovery share's `info` is taken ([`check_hpke_open`]), so an
    /// HPKE-sealed content key never comes out this way. A backend without
    /// EC keys refuses as a wrong key type.
    fn open_hpke(
        &self,
        slot: &SlotName,
        info: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let _ = (info, sealed);
        Err(no_hpke_key(slot, self.slot_public_key(slot)?.algorithm()))
    }

    /// A slot's certificate (DER).
    fn certificate(&self, slot: &SlotName) -> Result<Vec<u8>, TokenError>;

    /// Writes a certificate into a slot's certificate region, on a trusted
    /// issuer's signed command.
    fn write_certificate(&mut self, command: &SignedCommand) -> Result<(), TokenError>;

    /// Accepts a private key (RSA or EC) wrapped to the transport key, on a
    /// trusted issuer's signed command; returns its public key.
    fn accept_key(&mut self, command: &SignedCommand) -> Result<PublicKey, TokenError>;

    /// Signs, with the device identity key, a statement of where a slot's key
    /// came from and that it cannot be exported.
    fn attest(&self, slot: &SlotName, nonce: &[u8]) -> Result<Attestation, TokenError>;

    /// Cover-opening response: zeroises every secret and leaves the token dead.
    fn tamper(&mut self) -> Result<(), TokenError>;

    /// Stores a data object under `name`: the holder's data (not a key),
    /// kept with the token's sealed state and carried over by
    /// `token backup`/`restore` (patent steps S10–S12).
    fn put_object(&mut self, name: &SlotName, data: &[u8]) -> Result<(), TokenError>;

    /// A data object.
    fn object(&self, name: &SlotName) -> Result<Vec<u8>, TokenError>;

    /// The data objects' names.
    fn objects(&self) -> Result<Vec<SlotName>, TokenError>;

    /// The fifth embodiment's joint-key operations, if this token can run
    /// them (a PKCS#11 device cannot: docs/joint-keys.md).
    fn joint(&self) -> Option<&dyn JointToken> {
        None
    }

    /// [`Token::joint`], for the operations that change the token.
    fn joint_mut(&mut self) -> Option<&mut dyn JointToken> {
        None
    }

    /// Opens sealed content with a slot's key (the sixth embodiment's
    /// decryption key, FIG. 23): unwraps `wrapped_key` (from the header, or
    /// from a licence) inside the token, checks the header's MAC, and returns
    /// the opener of its chunks. The content key stays inside the token.
    fn open_content(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
        wrapped_key: &[u8],
    ) -> Result<Box<dyn ChunkOpener + Send>, TokenError>;
}

/// The fifth embodiment's joint keys (FIG. 18–21): a key made inside the
/// token from several parties' partial exponents, none of which the token
/// reveals. A capability of [`Token`] ([`Token::joint`]), so a backend that
/// cannot run the arithmetic has nothing to stub.
pub trait JointToken {
    /// `joint init` (fifth embodiment, FIG. 18 unit 511): in an empty slot,
    /// generates p and q for `algorithm`, e from `e_start` (≥ 65537) and
    /// the issuer's partial `partial` (big-endian), both corrected to be
    /// coprime to λ(n). Returns the offset δ the issuer adds to its partial
    /// to sign with the corrected one.
    fn joint_init(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
        e_start: u64,
        partial: &[u8],
    ) -> Result<u64, TokenError>;

    /// `joint contribute`: another party's partial, corrected; returns its offset δ.
    fn joint_contribute(&mut self, slot: &SlotName, partial: &[u8]) -> Result<u64, TokenError>;

    /// `joint finish`: d0 with e·d0·d1·… ≡ 1 (mod λ(n)); the composed key
    /// enters the slot after its pairwise test; returns its public key.
    fn joint_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError>;

    /// `joint reissue-begin` (FIG. 20, steps 613–614): this new token is to
    /// hold the joint key named by `permission`, a request form that every
    /// party signed (E(D_{k−1}(…D_0(Form))) = Form) naming this token and
    /// `slot`; the key is rebuilt from the parties' partials.
    fn joint_reissue_begin(
        &mut self,
        slot: &SlotName,
        permission: &crate::joint::ChainMessage,
    ) -> Result<(), TokenError>;

    /// `joint reissue-enter`: one party's partial (as it signs with), in
    /// roster order, d0 first.
    fn joint_reissue_enter(&mut self, slot: &SlotName, partial: &[u8]) -> Result<(), TokenError>;

    /// The honest-generation check (FIG. 19, step 6): for a new check of the
    /// joint key in `slot`, the token's views — the challenge's encoding
    /// with the first j partials applied, j = 1 … k, the last being D(r) —
    /// signed with the key. Returns the message with its views.
    fn joint_check(
        &self,
        slot: &SlotName,
        message: &crate::joint::ChainMessage,
    ) -> Result<crate::joint::ChainMessage, TokenError>;

    /// One step of rotating the joint key in `slot` (FIG. 21).
    fn joint_rotate(
        &mut self,
        slot: &SlotName,
        step: crate::joint::RotateStep,
    ) -> Result<crate::joint::RotateOutcome, TokenError>;

    /// During a rotation whose partials are all in: re-wraps sealed
    /// content from the slot's current key to the new key (step 704),
    /// inside the token; returns the new header.
    fn joint_rewrap(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
    ) -> Result<ContentHeader, TokenError>;

    /// `joint reissue-finish`: p and q recovered from e·d0·…·d_{k−1} − 1,
    /// p·q = n checked, the same key in the slot; returns its public key.
    fn joint_reissue_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError>;

    /// `joint output-d0`: d0 sealed (age) to `recipient`, once (FIG. 18 unit
    /// 541); the same ciphertext again for the same recipient, refused for
    /// any other.
    fn joint_output_d0(&mut self, slot: &SlotName, recipient: &str) -> Result<Vec<u8>, TokenError>;
}

/// Why a token has no [`JointToken`] capability.
fn no_joint() -> TokenError {
    TokenError::Unsupported(
        "joint keys need the fifth embodiment's arithmetic (λ(n), the partials' correction, d0) inside the token, which this token cannot run; make joint keys in a soft token or through its token agent".into(),
    )
}

/// `token`'s joint-key operations, or an `unsupported` error naming why.
pub fn joint_of(token: &dyn Token) -> Result<&dyn JointToken, TokenError> {
    token.joint().ok_or_else(no_joint)
}

/// [`joint_of`] for the operations that change the token.
pub fn joint_of_mut(token: &mut dyn Token) -> Result<&mut dyn JointToken, TokenError> {
    token.joint_mut().ok_or_else(no_joint)
}

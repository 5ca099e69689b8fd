//! Stable error codes: the names scripts and clients match on, in the CLI's
//! `--json` errors, the HTTP API's `{"error": {"code": …}}` bodies and the
//! token agent's replies.
//!
//! Every code is declared once, below, together with the CLI exit code class
//! and the HTTP status it maps to: a code without both does not compile, and
//! no table elsewhere repeats the names.

use std::fmt;

/// The CLI's exit codes (listed in `symbolon --help`): what kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// 1: the operation failed (I/O, the service, an internal error).
    Failure = 1,
    /// 2: the command line itself is wrong (an unknown verb or option, a
    /// missing argument).
    Usage = 2,
    /// 3: the input is malformed or names something that does not exist.
    InvalidInput = 3,
    /// 4: a signature, MAC, chain or check did not verify.
    VerificationFailed = 4,
    /// 5: refused by policy or state (duplicate, out of turn, not trusted).
    Refused = 5,
    /// 6: the token is tampered and was zeroised.
    Tampered = 6,
}

macro_rules! codes {
    ($( $(#[$doc:meta])+ $variant:ident = $name:literal, $class:ident, $status:literal; )*) => {
        /// A stable error code; its name (snake_case) never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])+ $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable name.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The CLI exit code class.
            pub const fn exit_class(self) -> ExitClass {
                match self { $(Code::$variant => ExitClass::$class,)* }
            }

            /// The HTTP status a response with this code carries.
            pub const fn http_status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// The code of a stable name, if it is one.
            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($name => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// The command line is wrong: an unknown verb or option, a missing or
    /// doubled argument (the CLI only).
    Usage = "usage", Usage, 400;
    // Input: malformed, unknown, unsupported.
    /// Malformed input.
    InvalidInput = "invalid_input", InvalidInput, 400;
    /// A key that does not parse.
    MalformedKey = "malformed_key", InvalidInput, 400;
    /// A certificate that does not parse or does not fit.
    InvalidCertificate = "invalid_certificate", InvalidInput, 400;
    /// A file that is not a token.
    NotAToken = "not_a_token", InvalidInput, 400;
    /// An algorithm or operation this backend does not offer.
    Unsupported = "unsupported", InvalidInput, 400;
    /// A request the CA cannot read.
    InvalidRequest = "invalid_request", InvalidInput, 400;
    /// No such slot in the token.
    SlotNotFound = "slot_not_found", InvalidInput, 404;
    /// The slot has no certificate.
    NoCertificate = "no_certificate", InvalidInput, 404;
    /// No such object.
    NotFound = "not_found", InvalidInput, 404;
    /// A request body that is not JSON of the expected shape.
    InvalidJson = "invalid_json", InvalidInput, 400;
    /// A request body that cannot be read.
    InvalidBody = "invalid_body", InvalidInput, 400;
    /// A request body over the limit.
    PayloadTooLarge = "payload_too_large", InvalidInput, 413;
    /// An HTTP method the endpoint does not take.
    MethodNotAllowed = "method_not_allowed", InvalidInput, 405;
    /// A request body that is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type", InvalidInput, 415;
    /// A request that did not arrive in time (a half-sent body).
    RequestTimeout = "request_timeout", InvalidInput, 408;
    /// A field longer than its bound (RFC 5280 upper bounds for names).
    FieldTooLong = "field_too_long", InvalidInput, 400;
    /// No PKCS#11 module at the path given.
    ModuleNotFound = "module_not_found", InvalidInput, 400;
    /// No such token (PKCS#11 label, or registry serial).
    TokenNotFound = "token_not_found", InvalidInput, 404;
    /// An arbitrator the registry does not know.
    UnknownArbitrator = "unknown_arbitrator", InvalidInput, 404;
    /// A joint chain file that does not parse or does not fit.
    InvalidChain = "invalid_chain", InvalidInput, 400;

    // Verification failed.
    /// A signature that does not verify.
    BadSignature = "bad_signature", VerificationFailed, 400;
    /// A ciphertext that does not decrypt.
    DecryptionFailed = "decryption_failed", VerificationFailed, 400;
    /// An attestation from another device.
    WrongDevice = "wrong_device", VerificationFailed, 400;
    /// An attestation about another key.
    WrongKey = "wrong_key", VerificationFailed, 400;
    /// An attestation over another nonce.
    WrongNonce = "wrong_nonce", VerificationFailed, 400;
    /// A key attested as exportable.
    Exportable = "exportable", VerificationFailed, 400;
    /// An issuer command whose signature does not verify.
    BadAuthorization = "bad_authorization", VerificationFailed, 400;
    /// The audit log's hash chain is broken.
    AuditBroken = "audit_broken", VerificationFailed, 500;
    /// A CSR whose self-signature does not verify.
    BadCsrSignature = "bad_csr_signature", VerificationFailed, 400;
    /// An attestation that does not verify.
    BadAttestation = "bad_attestation", VerificationFailed, 400;
    /// A CA response whose signature does not verify.
    BadResponseSignature = "bad_response_signature", VerificationFailed, 502;
    /// A CA response bound to another request.
    ReplayedResponse = "replayed_response", VerificationFailed, 502;
    /// A certificate that is not the one asked for.
    WrongCertificate = "wrong_certificate", VerificationFailed, 400;
    /// A sealed stream that was altered, cut or spliced.
    ContentAltered = "content_altered", VerificationFailed, 400;
    /// Sealed content for another recipient.
    WrongRecipient = "wrong_recipient", VerificationFailed, 400;
    /// An approval whose signature does not verify.
    ForgedApproval = "forged_approval", VerificationFailed, 400;
    /// An approval made for another request.
    ReplayedApproval = "replayed_approval", VerificationFailed, 400;
    /// An approval chain reordered, cut or spliced.
    BrokenChain = "broken_chain", VerificationFailed, 400;
    /// An escrow share that fails its check.
    BadShare = "bad_share", VerificationFailed, 400;
    /// An escrow that does not hold the registered key.
    EscrowDamaged = "escrow_damaged", VerificationFailed, 409;
    /// Joint partials that do not compose one key.
    InconsistentPartials = "inconsistent_partials", VerificationFailed, 400;
    /// A joint chain signed out of order.
    ChainOutOfOrder = "chain_out_of_order", VerificationFailed, 400;
    /// A joint party's partial is not the one the key was made with.
    WrongPartial = "wrong_partial", VerificationFailed, 400;
    /// A complete joint chain whose signature does not verify.
    ChainDoesNotVerify = "chain_does_not_verify", VerificationFailed, 400;
    /// A joint chain that is not complete yet.
    NotComplete = "not_complete", VerificationFailed, 409;
    /// A service answer that is malformed.
    BadResponse = "bad_response", VerificationFailed, 502;
    /// A registry record that fails its integrity check.
    Corrupt = "corrupt", VerificationFailed, 500;
    /// A transparency log entry, proof or checkpoint that does not check.
    LogProofFailed = "log_proof_failed", VerificationFailed, 400;
    /// Two checkpoints of one log that cannot be linked: the log forked or
    /// was rewritten, or went backwards.
    LogInconsistent = "log_inconsistent", VerificationFailed, 409;
    /// An evidence bundle whose proofs, signatures or records do not check.
    EvidenceFailed = "evidence_failed", VerificationFailed, 400;

    // Refused by policy or state.
    /// A command from an issuer the token does not trust.
    UntrustedIssuer = "untrusted_issuer", Refused, 403;
    /// An issuer command used before, or made for another sequence number.
    ReplayedCommand = "replayed_command", Refused, 409;
    /// A command or request for another token.
    WrongToken = "wrong_token", Refused, 400;
    /// The trust list is fixed once the token holds a key.
    TrustFixed = "trust_fixed", Refused, 409;
    /// The issuer is trusted already.
    AlreadyTrusted = "already_trusted", Refused, 409;
    /// The slot holds a key already.
    SlotOccupied = "slot_occupied", Refused, 409;
    /// A key the token refuses (size, pairwise test).
    KeyRefused = "key_refused", Refused, 400;
    /// A certificate for another key than the slot's.
    CertificateMismatch = "certificate_mismatch", Refused, 400;
    /// A sealing key that does not open this token.
    WrongSealingKey = "wrong_sealing_key", Refused, 400;
    /// A destructive command without `--yes`.
    NotConfirmed = "not_confirmed", Refused, 400;
    /// A public key seen before.
    DuplicateKey = "duplicate_key", Refused, 409;
    /// The CSR's subject is not the identity presented.
    IdentityMismatch = "identity_mismatch", Refused, 400;
    /// A key anyone could factor or that breaks the key policy.
    WeakKey = "weak_key", Refused, 400;
    /// A public key of a type or curve this CA does not certify.
    UnsupportedKey = "unsupported_key", Refused, 400;
    /// The profile needs an attested key.
    AttestationRequired = "attestation_required", Refused, 400;
    /// A reservation that was used or abandoned.
    ReservationClosed = "reservation_closed", Refused, 409;
    /// A purchase order that fails its checks.
    OrderRefused = "order_refused", Refused, 400;
    /// A purchase order used before.
    OrderReplayed = "order_replayed", Refused, 409;
    /// A licence that fails its checks.
    LicenceRefused = "licence_refused", Refused, 400;
    /// A one-time claim spent already.
    AlreadyUsed = "already_used", Refused, 409;
    /// A wrong PKCS#11 PIN.
    WrongPin = "wrong_pin", Refused, 400;
    /// A locked or expired PKCS#11 PIN.
    PinLocked = "pin_locked", Refused, 400;
    /// The recovery policy does not hold.
    PolicyNotSatisfied = "policy_not_satisfied", Refused, 409;
    /// d0 left the token already.
    AlreadyReleased = "already_released", Refused, 409;
    /// A recovery into a token that is not the bound or approved one.
    WrongTarget = "wrong_target", Refused, 409;
    /// An arbitrator that decided already.
    AlreadyDecided = "already_decided", Refused, 409;
    /// An object registered already.
    AlreadyExists = "already_exists", Refused, 409;
    /// The chain's head moved under the request: sign again on the new head.
    ChainMoved = "chain_moved", Refused, 409;
    /// A step before its turn.
    NotYourTurn = "not_your_turn", Refused, 409;
    /// A party refused.
    Refused = "refused", Refused, 409;
    /// No credential, or one the service does not know or has revoked.
    Unauthenticated = "unauthenticated", Refused, 401;
    /// A credential whose role or ownership does not allow the request.
    Forbidden = "forbidden", Refused, 403;
    /// No live registration (and no name policy) covers the subject and role.
    NotRegistered = "not_registered", Refused, 403;
    /// A name the station's policy or the registration does not cover.
    NameNotAllowed = "name_not_allowed", Refused, 403;
    /// Device evidence (a vouching station, a manufacturer chain) missing or refused.
    DeviceNotTrusted = "device_not_trusted", Refused, 403;
    /// Too many requests from one caller or address: retry later.
    RateLimited = "rate_limited", Refused, 429;
    /// A registry written by a newer symbolon.
    SchemaTooNew = "schema_too_new", Refused, 500;
    /// A certificate revoked already (for good, or on hold again).
    AlreadyRevoked = "already_revoked", Refused, 409;
    /// A release of a certificate that is not on hold.
    NotOnHold = "not_on_hold", Refused, 409;

    // The token zeroised itself.
    /// The token was tampered with and zeroised.
    TokenTampered = "token_tampered", Tampered, 410;

    // Failures of the system, not of the input.
    /// An internal failure (the cause is in the log).
    Internal = "internal", Failure, 500;
    /// A file or socket operation failed.
    Io = "io", Failure, 500;
    /// The token's storage failed.
    Storage = "storage", Failure, 500;
    /// A power-on self-test failed: cryptography is disabled.
    SelfTestFailed = "self_test_failed", Failure, 500;
    /// A cryptographic operation failed that cannot fail on valid input.
    CryptoFailure = "crypto_failure", Failure, 500;
    /// The service could not be set up.
    Setup = "setup", Failure, 500;
    /// The database failed.
    Database = "database", Failure, 500;
    /// The CA could not be reached.
    CaUnreachable = "ca_unreachable", Failure, 502;
    /// A PKCS#11 device failed.
    DeviceError = "device_error", Failure, 500;
    /// The token agent is serving too many connections: retry.
    Busy = "busy", Failure, 503;
    /// The token agent and its client do not understand each other (a
    /// malformed frame, request or reply): a fault of the software, not of
    /// the user's input.
    AgentProtocol = "agent_protocol", Failure, 502;
    /// A code from a newer peer that this version does not know.
    Unrecognised = "unrecognised", Failure, 500;
}

impl Code {
    /// The code of a name received from a peer (the service, the agent): an
    /// unknown name, from a newer version, becomes [`Code::Unrecognised`].
    pub fn from_peer(name: &str) -> Code {
        Code::from_name(name).unwrap_or(Code::Unrecognised)
    }

    /// Whether the request was at fault (an HTTP 4xx), rather than the service.
    pub const fn is_client_error(self) -> bool {
        let s = self.http_status();
        s >= 400 && s < 500
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Code::from_peer(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &c in Code::ALL {
            let name = c.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert_eq!(Code::from_name(name), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), c);
            assert!((400..600).contains(&c.http_status()), "{name}");
        }
        assert_eq!(Code::from_peer("from_a_newer_version"), Code::Unrecognised);
    }

    #[test]
    fn classes_follow_the_documented_exit_codes() {
        assert_eq!(Code::Usage.exit_class() as u8, 2);
        assert_eq!(Code::InvalidInput.exit_class() as u8, 3);
        assert_eq!(Code::BadSignature.exit_class() as u8, 4);
        assert_eq!(Code::NotYourTurn.exit_class() as u8, 5);
        assert_eq!(Code::TokenTampered.exit_class() as u8, 6);
        assert_eq!(Code::Internal.exit_class() as u8, 1);
        // Codes that once fell through to exit 1.
        assert_eq!(
            Code::NotComplete.exit_class(),
            ExitClass::VerificationFailed
        );
        assert_eq!(Code::SchemaTooNew.exit_class(), ExitClass::Refused);
        assert_eq!(
            Code::BadResponse.exit_class(),
            ExitClass::VerificationFailed
        );
    }
}

//! PKCS#11 URIs (RFC 7512) naming a token: which module, which token, and
//! where its PIN comes from. The PIN itself is never part of the URI: a
//! command line is visible to every user of the machine.
//!
//! `pkcs11:token=LABEL;serial=…;slot-id=N?module-path=/lib.so&pin-source=file:/path`
//! (`pin-source=env:NAME` reads an environment variable; without
//! `pin-source`, `SYMBOLON_PKCS11_PIN`; without `module-path`,
//! `SYMBOLON_PKCS11_MODULE`).

use std::path::PathBuf;

use symbolon::token::TokenError;
use zeroize::Zeroizing;

/// The default PIN variable.
pub const PIN_ENV: &str = "SYMBOLON_PKCS11_PIN";
/// The default module variable.
pub const MODULE_ENV: &str = "SYMBOLON_PKCS11_MODULE";

/// Where the user PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// The first line of a file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl PinSource {
    /// Reads the PIN.
    pub fn read(&self) -> Result<Zeroizing<String>, TokenError> {
        let pin = match self {
            Self::File(p) => {
                let text = Zeroizing::new(std::fs::read_to_string(p).map_err(|e| {
                    TokenError::InvalidInput(format!("cannot read the PIN file {}: {e}", p.display()))
                })?);
                let first = text.lines().next().ok_or_else(|| {
                    TokenError::InvalidInput(format!("the PIN file {} is empty", p.display()))
                })?;
                Zeroizing::new(first.to_string())
            }
            Self::Env(name) => Zeroizing::new(std::env::var(name).map_err(|_| {
                TokenError::InvalidInput(format!(
                    "the PKCS#11 PIN variable {name} is not set (or use pin-source=file:/path in the URI)"
                ))
            })?),
        };
        if pin.is_empty() {
            return Err(TokenError::InvalidInput("the PKCS#11 PIN is empty".into()));
        }
        Ok(pin)
    }
}

/// A parsed `pkcs11:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// The module (shared library).
    pub module: PathBuf,
    /// The token label.
    pub token: Option<String>,
    /// The token serial number.
    pub serial: Option<String>,
    /// The token manufacturer.
    pub manufacturer: Option<String>,
    /// The token model.
    pub model: Option<String>,
    /// The slot id.
    pub slot_id: Option<u64>,
    /// Where the PIN comes from.
    pub pin: PinSource,
}

fn invalid(m: impl Into<String>) -> TokenError {
    TokenError::InvalidInput(m.into())
}

/// Percent-decoding (RFC 3986 §2.1).
fn decode(v: &str) -> Result<String, TokenError> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(format!("bad percent-encoding in {v:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid(format!("{v:?} is not UTF-8")))
}

impl Pkcs11Uri {
    /// Parses a URI; `env` looks up the default module and PIN variables.
    pub fn parse(uri: &str) -> Result<Self, TokenError> {
        Self::parse_with(uri, |k| std::env::var(k).ok())
    }

    /// Parses with a given environment (for tests).
    pub fn parse_with(uri: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, TokenError> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| invalid("a PKCS#11 URI starts with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut out = Self {
            module: PathBuf::new(),
            token: None,
            serial: None,
            manufacturer: None,
            model: None,
            slot_id: None,
            pin: PinSource::Env(PIN_ENV.into()),
        };
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| invalid(format!("PKCS#11 URI attribute {attr:?} has no value")))?;
            let v = decode(v)?;
            match k {
                "token" => out.token = Some(v),
                "serial" => out.serial = Some(v),
                "manufacturer" => out.manufacturer = Some(v),
                "model" => out.model = Some(v),
                "slot-id" => {
                    out.slot_id = Some(
                        v.parse()
                            .map_err(|_| invalid(format!("slot-id {v:?} is not a number")))?,
                    )
                }
                "object" | "id" | "type" => {
                    return Err(invalid(format!(
                        "the PKCS#11 URI names a token; the key is chosen with --slot, not {k}="
                    )))
                }
                other => return Err(invalid(format!("unknown PKCS#11 URI attribute {other:?}"))),
            }
        }
        let mut module = None;
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').ok_or_else(|| {
                invalid(format!("PKCS#11 URI query attribute {attr:?} has no value"))
            })?;
            match k {
                "module-path" => module = Some(PathBuf::from(decode(v)?)),
                "pin-source" => {
                    let v = decode(v)?;
                    out.pin = if let Some(p) = v.strip_prefix("file:") {
                        PinSource::File(PathBuf::from(p))
                    } else if let Some(name) = v.strip_prefix("env:") {
                        PinSource::Env(name.to_string())
                    } else {
                        return Err(invalid(format!(
                            "pin-source {v:?}: use file:/path or env:NAME"
                        )));
                    }
                }
                "pin-value" => {
                    return Err(invalid(
                        "a PIN in the URI would be visible in the process list; use pin-source=file:/path or env:NAME",
                    ))
                }
                other => return Err(invalid(format!("unknown PKCS#11 URI query attribute {other:?}"))),
            }
        }
        out.module = match module.or_else(|| env(MODULE_ENV).map(PathBuf::from)) {
            Some(m) => m,
            None => {
                return Err(invalid(format!(
                    "the PKCS#11 URI names no module: add ?module-path=/path/to/module.so (or set {MODULE_ENV})"
                )))
            }
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_users_write() {
        let u = Pkcs11Uri::parse_with(
            "pkcs11:token=My%20Token;serial=abc;slot-id=3?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
            |_| None,
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("My Token"));
        assert_eq!(u.serial.as_deref(), Some("abc"));
        assert_eq!(u.slot_id, Some(3));
        assert_eq!(u.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(u.pin, PinSource::File("/run/pin".into()));
        let u = Pkcs11Uri::parse_with("pkcs11:token=t", |k| {
            (k == MODULE_ENV).then(|| "/m.so".to_string())
        })
        .unwrap();
        assert_eq!(u.module, PathBuf::from("/m.so"));
        assert_eq!(u.pin, PinSource::Env(PIN_ENV.into()));
        let u = Pkcs11Uri::parse_with(
            "pkcs11:token=t?module-path=/m.so&pin-source=env:HSM_PIN",
            |_| None,
        )
        .unwrap();
        assert_eq!(u.pin, PinSource::Env("HSM_PIN".into()));
    }

    #[test]
    fn refuses_what_would_hurt() {
        for (uri, needle) in [
            (
                "pkcs11:token=t?module-path=/m.so&pin-value=1234",
                "process list",
            ),
            ("pkcs11:token=t", "names no module"),
            ("pkcs11:token=t;object=k?module-path=/m.so", "--slot"),
            ("pkcs11:tokn=t?module-path=/m.so", "unknown"),
            ("pkcs11:token=%zz?module-path=/m.so", "percent"),
            ("pkcs11:slot-id=x?module-path=/m.so", "not a number"),
            (
                "pkcs11:token=t?module-path=/m.so&pin-source=|cmd",
                "file:/path",
            ),
            ("token=t", "starts with pkcs11:"),
        ] {
            let e = Pkcs11Uri::parse_with(uri, |_| None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{uri}: {e}");
        }
    }
}

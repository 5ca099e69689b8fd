//! `pkcs11:` URIs (RFC 7512, as `--token` and `--ca-token` take them) from
//! arbitrary bytes: refused or parsed, never a panic, and parsed the same
//! way twice.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon_token::pkcs11::Pkcs11Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |k: &str| (k == "SYMBOLON_PKCS11_MODULE").then(|| "/lib/p11.so".to_string());
    let first = format!("{:?}", Pkcs11Uri::parse_with(text, env));
    assert_eq!(first, format!("{:?}", Pkcs11Uri::parse_with(text, env)));
});

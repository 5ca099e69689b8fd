//! `--token` values: paths, `agent:` sockets and RFC 7512 `pkcs11:` URIs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon_token::open::TokenSpec;
use symbolon_token::pkcs11::Pkcs11Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Pkcs11Uri::parse_with(text, |_| None);
    let _ = TokenSpec::parse(text, None);
});

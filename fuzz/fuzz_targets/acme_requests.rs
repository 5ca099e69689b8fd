//! ACME requests from arbitrary bytes (docs/acme.md), as the service reads
//! them before any state: the flattened JWS and its protected header, the
//! account key it names (its thumbprint and a signature check), an
//! external account binding, a key change, an order's identifiers and a
//! tls-alpn-01 certificate. Nothing panics; what parses is bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::acme::challenge::check_tls_alpn01;
use symbolon::acme::identifier::{parse_identifiers, MAX_IDENTIFIERS};
use symbolon::acme::jws::MAX_JWS;
use symbolon::acme::{ExternalBinding, Jwk, Jws, KeyChange, Signer};

fuzz_target!(|data: &[u8]| {
    if let Ok(jws) = Jws::parse(data) {
        assert!(data.len() <= MAX_JWS);
        if let Ok(h) = jws.request_header() {
            if let Signer::Key(k) = &h.signer {
                let _ = k.thumbprint();
                let _ = jws.verify(h.alg, k);
                let again = Jwk::from_json(&k.canonical_json()).map(|j| j.thumbprint());
                assert_eq!(again.ok(), Some(k.thumbprint()));
            }
        }
        if let Ok(m) = jws.payload_json() {
            if let Ok(ids) = parse_identifiers(m.get("identifiers")) {
                assert!(!ids.is_empty() && ids.len() <= MAX_IDENTIFIERS);
            }
            if let Some(b) = m.get("externalAccountBinding") {
                if let (Ok(b), Ok(Some(k))) = (ExternalBinding::parse(b), jws.header_jwk()) {
                    let _ = b.verify(b"key", &k, "https://ca/acme/server/new-account");
                }
            }
        }
        let _ = KeyChange::parse(&jws.payload, "https://ca/acme/server/key-change");
    }
    let _ = Jwk::from_spki(data);
    let _ = check_tls_alpn01(data, "a.example", "token.thumbprint");
});

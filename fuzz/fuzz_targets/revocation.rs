//! Revocation inputs from arbitrary bytes (docs/revocation.md): OCSP
//! requests as the responder reads them (a request that parses has 1 to 16
//! certificate ids and a nonce of at most 32 octets), OCSP responses and
//! CRLs as the CLI reads them, reasons and self-revocation statements.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::revocation::ocsp::{read_request, read_response, MAX_NONCE, MAX_REQUESTS};
use symbolon::revocation::{read_crl, RevocationReason, SelfRevocation};

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = read_request(data) {
        assert!((1..=MAX_REQUESTS).contains(&q.cert_ids.len()));
        if let Some(n) = &q.nonce {
            assert!(n.extn_value.as_bytes().len() <= MAX_NONCE + 2);
        }
    }
    let _ = read_response(data);
    // Any key: a CRL is parsed before its signature is checked.
    static KEY: std::sync::OnceLock<symbolon::keys::RsaPrivateKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        symbolon::keys::RsaPrivateKey::generate(symbolon::keys::RsaAlgorithm::Rsa2048)
            .expect("a key")
    });
    let _ = read_crl(data, &key.public_key().clone().into());
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(r) = text.parse::<RevocationReason>() {
            assert_eq!(r.name().parse::<RevocationReason>().ok(), Some(r));
        }
        let _ = serde_json::from_str::<SelfRevocation>(text);
    }
});

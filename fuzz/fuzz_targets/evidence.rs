//! Evidence bundles and commitment openings from arbitrary bytes: refused
//! or parsed, never a panic; no arbitrary bundle verifies against a fixed
//! root and log key, and no arbitrary opening opens a fixed commitment.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::evidence::{verify, EvidenceBundle};
use symbolon::keys::{EcCurve, EcPublicKey};
use symbolon::transparency::commitment::{commit, open, Openings, COMMITTED_FIELDS};
use symbolon::transparency::note::VerifierKey;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bundle) = serde_json::from_str::<EvidenceBundle>(text) {
        let public = EcPublicKey::from_point(EcCurve::Ed25519, &[9u8; 32]);
        if let Ok(public) = public {
            let key = VerifierKey::ed25519("fuzz.example/log", public).unwrap();
            assert!(verify(&bundle, b"not a certificate", &key).is_err());
        }
    }
    let (detail, _) = commit(
        r#"{"subject":"CN=alice","reason":"left"}"#,
        &[[7u8; 32]; COMMITTED_FIELDS.len()],
    );
    if let Ok(openings) = serde_json::from_str::<Openings>(text) {
        if let Ok(v) = open(&detail, &openings) {
            // Only the true values open it.
            assert!(v["subject"] == "CN=alice" || v["subject"].is_object());
        }
    }
    let _ = commit(text, &[[1u8; 32]; COMMITTED_FIELDS.len()]);
});

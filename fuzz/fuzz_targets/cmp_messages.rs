//! CMP messages from arbitrary bytes (docs/cmp.md), as the service reads
//! them: the envelope and header, the protection it names, the body, and
//! the CRMF requests and templates inside; a message that parses is under
//! the size bound and names a version the CA speaks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::cmp::{Request, RequestBody, RequestProtection, MAX_MESSAGE};
use symbolon::x509::crmf::{CertReqMsg, CertTemplate};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = Request::from_der(data) {
        assert!(data.len() <= MAX_MESSAGE);
        assert!((2..=3).contains(&req.header.pvno));
        assert!(req.transaction_id().len() >= 16);
        if let Ok(RequestProtection::Mac { params, .. }) = req.protection() {
            // Bounded work for anyone: the count was checked.
            assert!(params.iteration_count <= symbolon::cmp::MAX_ITERATIONS);
            let _ = req.verify_mac(&params, b"secret");
        }
        if let Ok(RequestBody::Ir(m) | RequestBody::Cr(m) | RequestBody::Kur(m)) = req.body() {
            let _ = m.verify();
        }
    }
    if let Ok(m) = CertReqMsg::from_der(data) {
        let _ = m.verify();
        let _ = m.spki_der();
    }
    if let Ok(t) = CertTemplate::from_der(data) {
        let _ = t.alt_names();
    }
});

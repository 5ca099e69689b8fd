//! Escrow deposits, recovery requests and approvals (canonical encodings,
//! as the service stores them and arbitrators exchange them) from arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::escrow::{Approval, EscrowDeposit, RecoveryRequest};

fuzz_target!(|data: &[u8]| {
    let _ = EscrowDeposit::decode(data);
    let _ = RecoveryRequest::decode(data);
    if let Ok(a) = Approval::decode(data) {
        assert_eq!(Approval::decode(&a.encode()).ok(), Some(a));
    }
});

//! Escrow policy text (`all`/`any`/`seq` over arbitrators) from arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::escrow::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::parse(text) {
        // What parses prints back to itself, and can be asked who may act.
        assert_eq!(Policy::parse(&policy.canonical()).ok().as_ref(), Some(&policy));
        let _ = policy.minimal_sets(64);
        let _ = policy.may_act(&[]);
    }
});

//! Joint-key chain files (`symbolon-joint-chain/1` JSON) from arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::joint::ChainMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ChainMessage::parse(data) {
        let _ = message.status();
        let _ = message.to_json();
    }
});

//! Agent frames and requests from arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon_token::agent::protocol::{read_frame, split_attachment, Request};

fuzz_target!(|data: &[u8]| {
    let mut cursor = std::io::Cursor::new(data);
    while let Ok(Some(frame)) = read_frame(&mut cursor) {
        let (json, _) = split_attachment(&frame);
        let _ = serde_json::from_slice::<Request>(json);
    }
});

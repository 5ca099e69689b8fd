//! Signed notes, signature lines, checkpoints, verifier keys and proof files from arbitrary
//! bytes: refused or parsed, never a panic; what parses prints back the
//! same, and an arbitrary proof never verifies against a fixed tree.
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::transparency::checkpoint::Checkpoint;
use symbolon::transparency::merkle::{verify_consistency, verify_inclusion};
use symbolon::transparency::note::{Note, NoteSignature, VerifierKey};
use symbolon::transparency::proof::{ConsistencyProof, InclusionProof};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(note) = Note::parse(text) {
        assert_eq!(note.to_string(), text);
        let _ = Checkpoint::parse_body(note.text());
    }
    let _ = Checkpoint::parse_body(text);
    let _ = NoteSignature::parse_line(text);
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(VerifierKey::parse(&key.to_string()).unwrap(), key);
    }
    let root = [0x5a; 32];
    if let Ok(p) = serde_json::from_str::<InclusionProof>(text) {
        assert!(verify_inclusion(p.index, p.size, &[1; 32], &p.hashes, &root).is_err());
    }
    if let Ok(p) = serde_json::from_str::<ConsistencyProof>(text) {
        if p.old != p.new && p.old != 0 {
            assert!(verify_consistency(p.old, p.new, &[1; 32], &root, &p.hashes).is_err());
        }
    }
});

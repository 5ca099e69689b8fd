//! Sealed content from arbitrary bytes: headers, orders and licences must
//! parse or refuse, and chunk streams after a valid header must open or
//! fail cleanly, never panic.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use symbolon::content::{seal, unseal, ContentHeader, ContentId, Licence, PurchaseOrder};
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};

struct Fixture {
    token: SoftToken<MemoryStore>,
    slot: SlotName,
    header: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let slot = SlotName::new("c").unwrap();
        let mut token = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
        let pk = token.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
        let mut sealed = Vec::new();
        seal(&mut &b"x"[..], &mut sealed, &pk, ContentId::from_bytes([0; 16]), 10).unwrap();
        let len = ContentHeader::read_from(&mut sealed.as_slice()).unwrap().to_bytes().len();
        sealed.truncate(len);
        Fixture { token, slot, header: sealed }
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = ContentHeader::read_from(&mut &data[..]);
    let _ = PurchaseOrder::from_pem(data);
    let _ = Licence::from_pem(data);
    let f = fixture();
    let header = ContentHeader::read_from(&mut f.header.as_slice()).unwrap();
    let mut opener = f.token.open_content(&f.slot, &header, header.wrapped_key()).unwrap();
    let mut out = Vec::new();
    let _ = unseal(&mut &data[..], &header, opener.as_mut(), &mut out);
});

//! Sealed content from arbitrary bytes: headers, orders and licences must
//! parse or refuse, chunk streams after a valid header must open or fail
//! cleanly, and a version-2 (HPKE) wrapped key made of the input must be
//! refused by an X25519 slot (only a sealer with the content key makes
//! one that opens), never panic.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use symbolon::content::{seal, unseal, ContentHeader, ContentId, Licence, PurchaseOrder};
use symbolon::keys::{EcCurve, KeyAlgorithm, RsaAlgorithm};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};

struct Fixture {
    token: SoftToken<MemoryStore>,
    slot: SlotName,
    header: Vec<u8>,
    x25519: SlotName,
    hpke_header: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let slot = SlotName::new("c").unwrap();
        let mut token = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
        let pk = token.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
        let header_of = |pk: &symbolon::keys::PublicKey| {
            let mut sealed = Vec::new();
            seal(&mut &b"x"[..], &mut sealed, pk, ContentId::from_bytes([0; 16]), 10).unwrap();
            let len = ContentHeader::read_from(&mut sealed.as_slice()).unwrap().to_bytes().len();
            sealed.truncate(len);
            sealed
        };
        let header = header_of(&pk.into());
        let x25519 = SlotName::new("x").unwrap();
        let xpk = token.generate_key(&x25519, KeyAlgorithm::Ec(EcCurve::X25519)).unwrap();
        let hpke_header = header_of(&xpk);
        Fixture { token, slot, header, x25519, hpke_header }
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
    // The input as the HPKE-wrapped key (KEM id, enc, ciphertext) of a
    // version-2 header: never a panic, never an opener.
    let hpke = ContentHeader::read_from(&mut f.hpke_header.as_slice()).unwrap();
    assert!(f.token.open_content(&f.x25519, &hpke, data).is_err());
});

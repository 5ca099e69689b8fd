//! Unsealing throughput in memory (no file system): the token's chunk
//! opener in process and through the token agent, 16 MiB of content in
//! 64 KiB chunks. `scripts/bench` measures file to file beside OpenSSL.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use symbolon::content::{seal, unseal, ContentHeader, ContentId, DEFAULT_CHUNK_LOG2};
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon_token::agent::{bind, serve, AgentClient};

const SIZE: usize = 16 * 1024 * 1024;

fn open_all(token: &dyn Token, slot: &SlotName, sealed: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut input = sealed;
    let header = ContentHeader::read_from(&mut input).unwrap();
    let mut opener = token
        .open_content(slot, &header, header.wrapped_key())
        .unwrap();
    unseal(&mut input, &header, opener.as_mut(), out).unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let slot = SlotName::new("c").unwrap();
    let mut t = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    t.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
    let pk: symbolon::keys::PublicKey = t.public_key(&slot).unwrap().into();
    let plain = vec![0x5au8; SIZE];
    let mut sealed = Vec::new();
    seal(
        &mut plain.as_slice(),
        &mut sealed,
        &pk,
        ContentId::random().unwrap(),
        DEFAULT_CHUNK_LOG2,
    )
    .unwrap();
    let sock = dir.path().join("c.sock");
    let listener = bind(&sock).unwrap();
    let mut out = Vec::with_capacity(SIZE);

    let mut g = c.benchmark_group("content");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(20);
    g.bench_function("seal", |b| {
        b.iter(|| {
            out.clear();
            seal(
                &mut plain.as_slice(),
                &mut out,
                &pk,
                ContentId::random().unwrap(),
                DEFAULT_CHUNK_LOG2,
            )
            .unwrap();
        })
    });
    g.bench_function("unseal/in-process", |b| {
        b.iter(|| open_all(&t, &slot, &sealed, &mut out))
    });
    std::thread::spawn(move || serve(listener, t));
    let agent = AgentClient::connect(&sock).unwrap();
    g.bench_function("unseal/agent", |b| {
        b.iter(|| open_all(&agent, &slot, &sealed, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

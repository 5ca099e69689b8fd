//! Unsealing throughput: in memory (no file system), the token's chunk
//! opener in process and through the token agent, 16 MiB of content in
//! 64 KiB chunks; and file to file (tmpfs where there is one), 64 MiB in
//! process and in the agent from passed descriptors. `scripts/bench`
//! measures the CLI file to file beside OpenSSL.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::fs::File;
use std::io::{Seek as _, Write as _};
use std::os::fd::AsFd as _;
use symbolon::content::{seal, unseal, ContentHeader, ContentId, DEFAULT_CHUNK_LOG2};
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon_token::agent::{bind, serve, AgentClient};
use symbolon_token::write_behind::write_behind;

const SIZE: usize = 16 * 1024 * 1024;
const FILE_SIZE: usize = 64 * 1024 * 1024;

/// A directory on tmpfs where there is one, so the disk does not set the pace.
fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// The sealed file, positioned after its header, and the header.
fn sealed_input(path: &std::path::Path) -> (File, ContentHeader) {
    let mut f = File::open(path).unwrap();
    let header = ContentHeader::read_from(&mut f).unwrap();
    (f, header)
}

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
    let files = scratch();
    let sealed_path = files.path().join("sealed");
    let out_path = files.path().join("out");
    {
        let big = vec![0x5au8; FILE_SIZE];
        let mut f = File::create(&sealed_path).unwrap();
        seal(
            &mut big.as_slice(),
            &mut f,
            &pk,
            ContentId::random().unwrap(),
            DEFAULT_CHUNK_LOG2,
        )
        .unwrap();
        f.flush().unwrap();
    }
    // Each run writes a new output file, as the CLI does.
    let new_output = || {
        let _ = std::fs::remove_file(&out_path);
        File::create(&out_path).unwrap()
    };

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
    g.finish();
    let files_in_process = |b: &mut criterion::Bencher<'_>| {
        b.iter(|| {
            let (mut input, header) = sealed_input(&sealed_path);
            let mut opener = t
                .open_content(&slot, &header, header.wrapped_key())
                .unwrap();
            let mut output = new_output();
            write_behind(&mut output, |w| {
                unseal(&mut input, &header, opener.as_mut(), w)
            })
            .unwrap()
            .unwrap()
        })
    };
    let mut fg = c.benchmark_group("content_files");
    fg.throughput(Throughput::Bytes(FILE_SIZE as u64));
    fg.sample_size(10);
    fg.bench_function("unseal/in-process", files_in_process);
    fg.finish();
    std::thread::spawn(move || serve(listener, t));
    let agent = AgentClient::connect(&sock).unwrap();
    let mut g = c.benchmark_group("content");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(20);
    g.bench_function("unseal/agent", |b| {
        b.iter(|| open_all(&agent, &slot, &sealed, &mut out))
    });
    g.finish();
    let mut fg = c.benchmark_group("content_files");
    fg.throughput(Throughput::Bytes(FILE_SIZE as u64));
    fg.sample_size(10);
    fg.bench_function("unseal/agent", |b| {
        b.iter(|| {
            let (mut input, header) = sealed_input(&sealed_path);
            let output = new_output();
            let n = agent
                .unseal_files(
                    &slot,
                    &header,
                    header.wrapped_key(),
                    input.as_fd(),
                    output.as_fd(),
                    &mut || {},
                )
                .unwrap();
            // The agent read the whole input through the shared offset.
            assert!(input.stream_position().unwrap() as usize > FILE_SIZE);
            n
        })
    });
    fg.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

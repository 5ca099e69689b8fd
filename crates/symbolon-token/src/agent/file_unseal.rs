//! The agent's side of `unseal-files`: a whole sealed file unsealed inside
//! the agent, from the input and output descriptors the client passed
//! (docs/agent-protocol.md §6). The content key and every plaintext byte
//! stay in the agent until they reach the output file; the client sees only
//! the count of bytes written.

use std::fs::File;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{fcntl_getfl, fstat, fstatfs, FileType, OFlags};
use symbolon::content::{self, ChunkOpener, ContentError};
use symbolon::token::{SlotName, Token, TokenError};
use symbolon::Code;

use super::protocol::{Reply, Response, WireError};
use crate::write_behind::write_behind;

/// File unseals an agent runs at once. Each holds a chunk buffer (up to the
/// format's 16 MiB) and the write-behind's batches, in memory an agent
/// running as root keeps locked; more are told the agent is busy.
pub(super) const MAX_FILE_UNSEALS: usize = 4;

/// How many chunks pass between two checks that the client is still there
/// (a `poll` of its connection: about 1 MiB of 64 KiB chunks).
const CLIENT_CHECK_EVERY: u64 = 16;

/// A chunk opener that asks the token before each chunk whether it is still
/// live, as a session over the socket does: a tamper on any connection
/// stops an unseal in progress at its next chunk, with the token's own
/// error. Every few chunks it also looks whether the client hung up: no
/// one would get the answer, so the work stops.
struct Live<'a, T> {
    token: &'a RwLock<Option<T>>,
    opener: Box<dyn ChunkOpener + Send>,
    client: BorrowedFd<'a>,
    chunks: u64,
    /// Why the token stopped the unseal, for the answer's code.
    stopped: Option<TokenError>,
}

impl<T: Token> ChunkOpener for Live<'_, T> {
    fn open_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<usize, ContentError> {
        if let Err(e) = super::server::with_read(self.token, |t| t.check_live()) {
            let message = format!("the token stopped: {e}");
            self.stopped = Some(e);
            return Err(ContentError::Io(message));
        }
        self.chunks += 1;
        if self.chunks % CLIENT_CHECK_EVERY == 0 && hung_up(self.client) {
            return Err(ContentError::Io("the client hung up".into()));
        }
        self.opener.open_chunk(chunk, last)
    }
}

/// Whether the peer of `client` has closed its end (without waiting).
fn hung_up(client: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(&client, PollFlags::RDHUP)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR)
}

/// Counts a file unseal in progress while alive.
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn take(running: &'a AtomicUsize) -> Option<Self> {
        if running.fetch_add(1, Ordering::SeqCst) >= MAX_FILE_UNSEALS {
            running.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(running))
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// File systems whose "regular files" are answered by a process or the
/// kernel on demand, so a read or write may wait forever: FUSE (any user can
/// mount one), proc, sysfs, debugfs, tracefs, securityfs, configfs.
const WAITING_FILE_SYSTEMS: [i64; 7] = [
    0x6573_5546, // FUSE_SUPER_MAGIC
    0x9fa0,      // PROC_SUPER_MAGIC
    0x6265_6572, // SYSFS_MAGIC
    0x6462_6720, // DEBUGFS_MAGIC
    0x7472_6163, // TRACEFS_MAGIC
    0x7363_6673, // SECURITYFS_MAGIC
    0x6265_6570, // CONFIGFS_MAGIC
];

/// What a descriptor must be: a regular file on a file system that stores
/// it (a read or write never waits on another process, so a client cannot
/// park an agent thread), opened for reading (`readable`) or writing. A
/// file of another kind is `unsupported` here (the client falls back to a
/// content session); a wrong access mode is the client's mistake.
fn regular_file(fd: &OwnedFd, role: &str, readable: bool) -> Result<(), TokenError> {
    let bad = |why: String| TokenError::InvalidInput(format!("the {role} descriptor {why}"));
    let unfit = |why: &str| {
        TokenError::Unsupported(format!(
            "the {role} descriptor {why}; the agent unseals regular files on stored file systems only"
        ))
    };
    let stat = fstat(fd).map_err(|e| bad(format!("cannot be examined: {e}")))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(unfit("is not a regular file"));
    }
    let fs = fstatfs(fd).map_err(|e| bad(format!("cannot be examined: {e}")))?;
    // `f_type` is i64 here and narrower on some architectures.
    #[allow(clippy::useless_conversion)]
    let kind = i64::from(fs.f_type);
    if WAITING_FILE_SYSTEMS.contains(&kind) {
        return Err(unfit(
            "is on a file system whose reads and writes may wait on a process",
        ));
    }
    let flags = fcntl_getfl(fd).map_err(|e| bad(format!("cannot be examined: {e}")))?;
    if flags.contains(OFlags::PATH) {
        return Err(bad(
            "is a path, not open for reading or writing (O_PATH)".into()
        ));
    }
    let mode = flags & OFlags::RWMODE;
    let allowed = if readable {
        mode == OFlags::RDONLY || mode == OFlags::RDWR
    } else {
        mode == OFlags::WRONLY || mode == OFlags::RDWR
    };
    if !allowed {
        let how = if readable { "reading" } else { "writing" };
        return Err(bad(format!("is not open for {how}")));
    }
    Ok(())
}

/// Unseals the input descriptor's content, from its current offset (just
/// after the header the client read), into the output descriptor.
pub(super) fn unseal_files<T: Token>(
    token: &RwLock<Option<T>>,
    running: &AtomicUsize,
    client: BorrowedFd<'_>,
    slot: &SlotName,
    header: &[u8],
    wrapped_key: &[u8],
    fds: Vec<OwnedFd>,
) -> Response {
    let error = |e: TokenError| {
        Response::Error(WireError {
            code: e.code(),
            message: e.to_string(),
        })
    };
    let (input, output) = match checked(fds) {
        Ok(files) => files,
        Err(e) => return error(e),
    };
    let Some(_running) = Running::take(running) else {
        return Response::Error(WireError {
            code: Code::Busy,
            message: format!("the agent is already unsealing {MAX_FILE_UNSEALS} files; retry"),
        });
    };
    match unseal(token, client, slot, header, wrapped_key, input, output) {
        Ok(bytes) => Response::Ok(Reply::Unsealed { bytes }),
        Err(e) => error(e),
    }
}

/// The request's two descriptors, as files fit for an unseal.
fn checked(fds: Vec<OwnedFd>) -> Result<(File, File), TokenError> {
    let [input, output]: [OwnedFd; 2] = fds.try_into().map_err(|fds: Vec<OwnedFd>| {
        TokenError::InvalidInput(format!(
            "unseal-files carries two file descriptors, the sealed input and the output; this request carried {}",
            fds.len()
        ))
    })?;
    regular_file(&input, "input", true)?;
    regular_file(&output, "output", false)?;
    let (si, so) = (fstat(&input), fstat(&output));
    if let (Ok(si), Ok(so)) = (si, so) {
        if (si.st_dev, si.st_ino) == (so.st_dev, so.st_ino) {
            return Err(TokenError::InvalidInput(
                "the input and the output are the same file".into(),
            ));
        }
    }
    Ok((File::from(input), File::from(output)))
}

fn unseal<T: Token>(
    token: &RwLock<Option<T>>,
    client: BorrowedFd<'_>,
    slot: &SlotName,
    header: &[u8],
    wrapped_key: &[u8],
    mut input: File,
    mut output: File,
) -> Result<u64, TokenError> {
    let header = super::server::parse_header(header)?;
    let opener = super::server::with_read(token, |t| t.open_content(slot, &header, wrapped_key))?;
    let mut opener = Live {
        token,
        opener,
        client,
        chunks: 0,
        stopped: None,
    };
    let unsealed = write_behind(&mut output, |out| {
        content::unseal(&mut input, &header, &mut opener, out)
    })
    .map_err(|e| ContentError::Io(format!("cannot write the output: {e}")))?;
    match (unsealed, opener.stopped) {
        (Ok(bytes), _) => Ok(bytes),
        // A tamper answers as a tamper (`token_tampered`), not as I/O.
        (Err(_), Some(stopped)) => Err(stopped),
        (Err(e), None) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fds::write_frame_with_fds;
    use crate::agent::protocol::read_frame;
    use crate::agent::test_support::token_and_sealed;
    use crate::agent::{bind, serve, AgentClient};
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    use std::os::fd::AsFd as _;
    use std::os::unix::net::UnixStream;
    use symbolon::content::ContentHeader;

    const CHUNK_LOG2: u8 = 12;

    struct Fixture {
        _dir: tempfile::TempDir,
        sock: std::path::PathBuf,
        slot: SlotName,
        plain: Vec<u8>,
        sealed: Vec<u8>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let plain: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (t, slot, sealed) = token_and_sealed(&plain, CHUNK_LOG2);
        let sock = dir.path().join("a.sock");
        let listener = bind(&sock).unwrap();
        std::thread::spawn(move || serve(listener, t));
        Fixture {
            _dir: dir,
            sock,
            slot,
            plain,
            sealed,
        }
    }

    /// The sealed bytes in a file positioned after the header, and the header.
    fn sealed_file(sealed: &[u8]) -> (File, ContentHeader) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(sealed).unwrap();
        f.rewind().unwrap();
        let header = ContentHeader::read_from(&mut f).unwrap();
        (f, header)
    }

    fn code_of(e: TokenError) -> (Code, String) {
        match e {
            TokenError::Remote { code, message } => (code, message),
            other => panic!("not the agent's refusal: {other:?}"),
        }
    }

    #[test]
    fn a_file_unseals_inside_the_agent() {
        let fx = fixture();
        let agent = AgentClient::connect(&fx.sock).unwrap();
        let (input, header) = sealed_file(&fx.sealed);
        let mut output = tempfile::tempfile().unwrap();
        let bytes = agent
            .unseal_files(
                &fx.slot,
                &header,
                header.wrapped_key(),
                input.as_fd(),
                output.as_fd(),
                &mut || {},
            )
            .unwrap();
        assert_eq!(bytes, fx.plain.len() as u64);
        output.rewind().unwrap();
        let mut got = Vec::new();
        output.read_to_end(&mut got).unwrap();
        assert_eq!(got, fx.plain);
        // The agent read the input to its end, through the shared offset.
        assert_eq!((&input).stream_position().unwrap(), fx.sealed.len() as u64);
        // The connection serves on.
        assert!(agent.check_live().is_ok());
    }

    #[test]
    fn unfit_descriptors_and_altered_content_are_refused() {
        let fx = fixture();
        let agent = AgentClient::connect(&fx.sock).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (input, header) = sealed_file(&fx.sealed);
        let run = |input: std::os::fd::BorrowedFd<'_>, output: std::os::fd::BorrowedFd<'_>| {
            (&input_file_of(input))
                .seek(SeekFrom::Start(header.to_bytes().len() as u64))
                .ok();
            agent.unseal_files(
                &fx.slot,
                &header,
                header.wrapped_key(),
                input,
                output,
                &mut || {},
            )
        };
        // A pipe could park the agent's thread: refused as input and output
        // (`unsupported`: the client falls back to a content session).
        let (r, w) = std::io::pipe().unwrap();
        let out = tempfile::tempfile().unwrap();
        let (code, m) = code_of(run(r.as_fd(), out.as_fd()).unwrap_err());
        assert_eq!(code, Code::Unsupported);
        assert!(m.contains("input descriptor is not a regular file"), "{m}");
        let (code, m) = code_of(run(input.as_fd(), w.as_fd()).unwrap_err());
        assert_eq!(code, Code::Unsupported);
        assert!(m.contains("output descriptor is not a regular file"), "{m}");
        // So could a regular file of a file system that answers on demand.
        let status = File::open("/proc/self/status").unwrap();
        let (code, m) = code_of(run(status.as_fd(), out.as_fd()).unwrap_err());
        assert_eq!(code, Code::Unsupported);
        assert!(m.contains("may wait on a process"), "{m}");
        // A path-only descriptor is neither readable nor writable.
        std::fs::write(dir.path().join("p"), b"").unwrap();
        let path_fd = rustix::fs::open(
            dir.path().join("p"),
            OFlags::PATH,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        let (code, m) = code_of(run(path_fd.as_fd(), out.as_fd()).unwrap_err());
        assert_eq!(code, Code::InvalidInput);
        assert!(m.contains("O_PATH"), "{m}");
        // An output opened read-only; the input as its own output.
        std::fs::write(dir.path().join("ro"), b"").unwrap();
        let ro = File::open(dir.path().join("ro")).unwrap();
        let (_, m) = code_of(run(input.as_fd(), ro.as_fd()).unwrap_err());
        assert!(m.contains("not open for writing"), "{m}");
        let (_, m) = code_of(run(input.as_fd(), input.as_fd()).unwrap_err());
        assert!(m.contains("same file"), "{m}");
        // An altered chunk: the content's own refusal, as in process.
        let mut bad = fx.sealed.clone();
        let at = bad.len() - 100;
        bad[at] ^= 1;
        let (bad_input, _) = sealed_file(&bad);
        let out = tempfile::tempfile().unwrap();
        let (code, m) = code_of(run(bad_input.as_fd(), out.as_fd()).unwrap_err());
        assert_eq!(code, Code::ContentAltered, "{m}");
        // After every refusal the connection still unseals.
        let (input, _) = sealed_file(&fx.sealed);
        let out = tempfile::tempfile().unwrap();
        assert_eq!(
            run(input.as_fd(), out.as_fd()).unwrap(),
            fx.plain.len() as u64
        );
    }

    /// The file behind a borrowed descriptor, for seeking it.
    fn input_file_of(fd: std::os::fd::BorrowedFd<'_>) -> File {
        File::from(fd.try_clone_to_owned().unwrap())
    }

    #[test]
    fn descriptors_belong_to_unseal_files_alone() {
        let fx = fixture();
        let stream = UnixStream::connect(&fx.sock).unwrap();
        let (input, header) = sealed_file(&fx.sealed);
        let ask = |json: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]| {
            write_frame_with_fds(&stream, json, fds).unwrap();
            let reply = read_frame(&mut &stream).unwrap().unwrap();
            String::from_utf8(reply).unwrap()
        };
        // Another request with a descriptor: refused, the descriptor closed.
        let reply = ask(br#"{"op":"info"}"#, &[input.as_fd()]);
        assert!(reply.contains("takes none"), "{reply}");
        // unseal-files with one descriptor, or none.
        let request = serde_json::to_vec(&crate::agent::protocol::Request::UnsealFiles {
            slot: fx.slot.clone(),
            header: crate::agent::protocol::Bytes(header.to_bytes()),
            wrapped_key: header.wrapped_key().into(),
        })
        .unwrap();
        let reply = ask(&request, &[input.as_fd()]);
        assert!(reply.contains("this request carried 1"), "{reply}");
        let reply = ask(&request, &[]);
        assert!(reply.contains("this request carried 0"), "{reply}");
        // The connection is intact: info answers.
        assert!(ask(br#"{"op":"info"}"#, &[]).contains("\"ok\""));
    }

    #[test]
    fn a_tamper_stops_an_unseal_at_its_next_chunk() {
        let (t, slot, sealed) = token_and_sealed(&[1u8; 9000], CHUNK_LOG2);
        let mut input = sealed.as_slice();
        let header = ContentHeader::read_from(&mut input).unwrap();
        let opener = t
            .open_content(&slot, &header, header.wrapped_key())
            .unwrap();
        let token = RwLock::new(Some(t));
        let (client, _peer) = UnixStream::pair().unwrap();
        let mut live = Live {
            token: &token,
            opener,
            client: client.as_fd(),
            chunks: 0,
            stopped: None,
        };
        let full = header.chunk_size() + symbolon::content::TAG_LEN;
        let mut chunk = input[..full].to_vec();
        assert!(live.open_chunk(&mut chunk, false).is_ok());
        super::super::server::with_write(&token, |t| t.tamper()).unwrap();
        let mut chunk = input[full..2 * full].to_vec();
        let e = live.open_chunk(&mut chunk, false).unwrap_err();
        assert!(e.to_string().contains("the token stopped"), "{e}");
        // The answer carries the token's own code.
        assert_eq!(live.stopped.unwrap().code(), Code::TokenTampered);
    }

    #[test]
    fn a_client_that_hung_up_is_noticed() {
        let (client, peer) = UnixStream::pair().unwrap();
        assert!(!hung_up(client.as_fd()));
        // A request sent while waiting is not a hang-up.
        (&peer).write_all(b"more").unwrap();
        assert!(!hung_up(client.as_fd()));
        drop(peer);
        assert!(hung_up(client.as_fd()));
    }

    #[test]
    fn at_most_a_few_unseals_run_at_once() {
        let running = AtomicUsize::new(0);
        let held: Vec<_> = (0..MAX_FILE_UNSEALS)
            .map(|_| Running::take(&running).unwrap())
            .collect();
        assert!(Running::take(&running).is_none());
        drop(held);
        assert_eq!(running.load(Ordering::SeqCst), 0);
        assert!(Running::take(&running).is_some());
    }
}

//! File descriptors across the agent's socket (SCM_RIGHTS, through
//! rustix's safe `sendmsg`/`recvmsg`): how a client hands the agent the two
//! files of an [`UnsealFiles`](super::protocol::Request::UnsealFiles)
//! request, so the plaintext goes from the agent to the output file and
//! never crosses the socket (docs/agent-protocol.md §6).
//!
//! Descriptors travel with a frame's head: the client sends the whole
//! frame's first bytes in the one `sendmsg` that carries them, and the agent
//! reads every frame's 4-byte length with `recvmsg`. Descriptors sent with
//! any later byte of a frame are read with a plain `read`, which makes the
//! kernel close them: they never reach the agent.

use std::io::{IoSlice, IoSliceMut, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::io::Errno;
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

use super::protocol::{frame_len, read_frame_body, write_frame};

/// Most descriptors one frame may carry: an input and an output.
pub const MAX_FDS: usize = 2;

/// Reads one frame into `buf[..len]` as `read_frame_into` does, and the
/// descriptors that came with its head into `fds` (close-on-exec). More than
/// [`MAX_FDS`] is a protocol error, and every one of them is closed.
pub fn read_frame_with_fds(
    stream: &UnixStream,
    buf: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> std::io::Result<Option<usize>> {
    fds.clear();
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(&mut head[got..])];
        let msg = match recvmsg(stream, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(msg) => msg,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = message {
                fds.extend(received);
            }
        }
        // Descriptors that did not fit were closed by the kernel (CTRUNC).
        if msg.flags.contains(ReturnFlags::CTRUNC) || fds.len() > MAX_FDS {
            fds.clear();
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a frame may carry at most {MAX_FDS} file descriptors"),
            ));
        }
        if msg.bytes == 0 {
            if got == 0 && fds.is_empty() {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += msg.bytes;
    }
    let len = frame_len(head)?;
    read_frame_body(&mut &*stream, len, buf)?;
    Ok(Some(len))
}

/// Writes one frame of JSON with `fds` attached to its first bytes.
pub fn write_frame_with_fds(
    stream: &UnixStream,
    json: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a frame may carry at most {MAX_FDS} file descriptors"),
        ));
    }
    let mut frame = Vec::with_capacity(json.len() + 4);
    write_frame(&mut frame, json)?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other(
            "the file descriptors do not fit the control buffer",
        ));
    }
    let sent = loop {
        match sendmsg(
            stream,
            &[IoSlice::new(&frame)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => break n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    // The descriptors went with the first bytes; the rest is plain data.
    (&*stream).write_all(&frame[sent..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Seek as _};
    use std::os::fd::AsFd as _;

    #[test]
    fn descriptors_arrive_with_their_frame_and_too_many_are_refused() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"shared").unwrap();
        file.rewind().unwrap();
        write_frame_with_fds(&a, br#"{"op":"x"}"#, &[file.as_fd(), file.as_fd()]).unwrap();
        let (mut buf, mut fds) = (Vec::new(), Vec::new());
        let len = read_frame_with_fds(&b, &mut buf, &mut fds)
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..len], br#"{"op":"x"}"#);
        assert_eq!(fds.len(), 2);
        // The same open file: reading through one moves the other's offset.
        let mut got = std::fs::File::from(fds.remove(0));
        let mut s = String::new();
        got.read_to_string(&mut s).unwrap();
        assert_eq!(s, "shared");
        assert_eq!(file.stream_position().unwrap(), 6);

        // A frame without descriptors, then a clean end.
        write_frame(&mut &a, b"{}").unwrap();
        let len = read_frame_with_fds(&b, &mut buf, &mut fds)
            .unwrap()
            .unwrap();
        assert_eq!((&buf[..len], fds.len()), (&b"{}"[..], 0));

        // Three descriptors are refused; the agent keeps none of them.
        write_frame_with_fds(&a, b"{}", &[file.as_fd(), file.as_fd()]).unwrap();
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let three = [file.as_fd(), file.as_fd(), file.as_fd()];
        assert!(control.push(SendAncillaryMessage::ScmRights(&three)));
        let mut framed = Vec::new();
        write_frame(&mut framed, b"{}").unwrap();
        // (The first frame, with two, is read fine.)
        assert!(read_frame_with_fds(&b, &mut buf, &mut fds)
            .unwrap()
            .is_some());
        sendmsg(
            &a,
            &[IoSlice::new(&framed)],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        let e = read_frame_with_fds(&b, &mut buf, &mut fds).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(fds.is_empty());
        drop(a);
    }
}

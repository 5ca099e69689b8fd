//! Write-behind: a second thread writes what the first produces, so that
//! decrypting one batch overlaps with the kernel storing the previous one.
//! For a new output file the kernel's page allocation costs more than
//! AES-GCM itself (about 0.36 s per GiB on tmpfs here against 0.05 s of
//! decryption), so the two running side by side is most of unseal's speed.
//! The batches hold plaintext: each is zeroised, whole capacity, when it is
//! dropped (once, at the end; in between they are reused).

use std::io::{self, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use zeroize::Zeroizing;

/// Bytes handed to the writer at a time.
const BATCH: usize = 1024 * 1024;
/// Batches in flight: bounds memory at `BUFFERS × BATCH`.
const BUFFERS: usize = 4;

/// One batch of plaintext.
type Batch = Zeroizing<Vec<u8>>;

struct Behind {
    current: Batch,
    full: Option<SyncSender<Batch>>,
    empty: Receiver<Batch>,
}

impl Behind {
    fn hand_off(&mut self) -> io::Result<()> {
        if self.current.is_empty() {
            return Ok(());
        }
        let next = self.empty.recv().map_err(|_| gone())?;
        let batch = std::mem::replace(&mut self.current, next);
        self.full
            .as_ref()
            .ok_or_else(gone)?
            .send(batch)
            .map_err(|_| gone())
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the output writer stopped")
}

impl Write for Behind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BATCH - self.current.len();
        let n = buf.len().min(room);
        self.current.extend_from_slice(&buf[..n]);
        if self.current.len() == BATCH {
            self.hand_off()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_off()
    }
}

/// Runs `produce` with a writer whose bytes another thread writes to `out`,
/// in order. Returns what `produce` returned once every byte is written, or
/// the first write error.
pub fn write_behind<W: Write + Send, T>(
    out: &mut W,
    produce: impl FnOnce(&mut dyn Write) -> T,
) -> io::Result<T> {
    let (full_tx, full_rx) = sync_channel::<Batch>(BUFFERS);
    let (empty_tx, empty_rx): (Sender<Batch>, Receiver<Batch>) = channel();
    for _ in 0..BUFFERS {
        // A closed receiver cannot happen here: it is alive in this scope.
        let _ = empty_tx.send(Zeroizing::new(Vec::with_capacity(BATCH)));
    }
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<()> {
            for mut batch in full_rx {
                out.write_all(&batch)?;
                batch.clear();
                // The producer may be done and gone; that is fine.
                let _ = empty_tx.send(batch);
            }
            out.flush()
        });
        let mut behind = Behind {
            current: Zeroizing::new(Vec::with_capacity(BATCH)),
            full: Some(full_tx),
            empty: empty_rx,
        };
        let produced = produce(&mut behind);
        let handed = behind.hand_off();
        // Closing the channel ends the writer's loop.
        behind.full = None;
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the output writer panicked")));
        written?;
        handed?;
        Ok(produced)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_in_order() {
        let data: Vec<u8> = (0..5 * BATCH + 12345).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let r = write_behind(&mut out, |w| {
            for piece in data.chunks(70_000) {
                w.write_all(piece).unwrap();
            }
            7
        })
        .unwrap();
        assert_eq!(r, 7);
        assert_eq!(out, data);
    }

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_error_reaches_the_caller() {
        let e = write_behind(&mut Failing, |w| {
            let mut result = Ok(());
            for _ in 0..20 {
                result = result.and_then(|_| w.write_all(&[0u8; BATCH]));
            }
            result
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
    }
}

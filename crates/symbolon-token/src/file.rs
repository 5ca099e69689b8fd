//! The soft token on disk: a sealed state file and its sealing key file.
//!
//! * Writes are atomic: a temporary file in the same directory, `fsync`,
//!   `rename` over the old file, `fsync` of the directory. A crash leaves the
//!   old file or the new one.
//! * Files are created with mode 0600; the sealing key file is never
//!   overwritten once made.
//! * One process at a time: an exclusive `flock` on `<token>.lock`, held for
//!   as long as the token is open (for an agent, its whole life).
//! * Zeroisation overwrites the state file in place, replaces it with a
//!   tombstone, and overwrites and removes the sealing key file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};
use symbolon::token::{SealedStore, SealingKey, SoftToken, StoreError, TokenError};
use zeroize::Zeroizing;

/// How long an in-process open waits for another process to release a token.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// The default sealing key path for a token file: `<token>.sealing-key`.
pub fn default_sealing_key_path(token: &Path) -> PathBuf {
    let mut s = token.as_os_str().to_os_string();
    s.push(".sealing-key");
    PathBuf::from(s)
}

fn lock_path(token: &Path) -> PathBuf {
    let mut s = token.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError(format!("{what} {}: {e}", path.display()))
}

/// A sealed state file, locked for this process while the store lives.
pub struct FileStore {
    path: PathBuf,
    key_path: PathBuf,
    _lock: File,
}

impl FileStore {
    /// Locks the token at `path`, waiting up to `wait` for another process.
    pub fn lock(path: &Path, key_path: &Path, wait: Duration) -> Result<Self, TokenError> {
        let lp = lock_path(path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lp)
            .map_err(|e| io_err("cannot open lock file", &lp, e))?;
        let start = Instant::now();
        loop {
            match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::WOULDBLOCK && start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                    return Err(TokenError::Storage(format!(
                        "token {} is in use by another process (if a token agent serves it, use --token agent:SOCKET)",
                        path.display()
                    )));
                }
                Err(e) => return Err(io_err("cannot lock", &lp, e.into()).into()),
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes `data` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".symbolon-")
        .tempfile_in(dir)
        .map_err(|e| io_err("cannot create a temporary file in", dir, e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err("cannot set permissions on", tmp.path(), e))?;
    tmp.write_all(data)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| io_err("cannot write", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| io_err("cannot replace", path, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync directory", dir, e))
}

/// Overwrites a file's bytes with zeros in place and syncs it.
fn overwrite_with_zeros(path: &Path) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    let len = f.metadata()?.len();
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

impl SealedStore for FileStore {
    fn load(&mut self) -> Result<Vec<u8>, StoreError> {
        let mut data = Vec::new();
        File::open(&self.path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| io_err("cannot read token", &self.path, e))?;
        Ok(data)
    }

    fn save(&mut self, sealed: &[u8]) -> Result<(), StoreError> {
        write_atomic(&self.path, sealed)
    }

    fn zeroise(&mut self, tombstone: &[u8]) -> Result<(), StoreError> {
        let mut failures = Vec::new();
        if let Err(e) = overwrite_with_zeros(&self.path) {
            failures.push(format!("overwrite {}: {e}", self.path.display()));
        }
        if let Err(e) = write_atomic(&self.path, tombstone) {
            failures.push(e.0);
        }
        if self.key_path.exists() {
            if let Err(e) = overwrite_with_zeros(&self.key_path)
                .and_then(|_| std::fs::remove_file(&self.key_path))
            {
                failures.push(format!("destroy {}: {e}", self.key_path.display()));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(StoreError(format!(
                "zeroisation incomplete: {}",
                failures.join("; ")
            )))
        }
    }
}

/// Reads a sealing key file, refusing one that others can read.
pub fn read_sealing_key(path: &Path) -> Result<SealingKey, TokenError> {
    let mut f = File::open(path).map_err(|e| {
        TokenError::Storage(format!(
            "cannot read sealing key {}: {e} (pass --sealing-key FILE if it lives elsewhere)",
            path.display()
        ))
    })?;
    let mode = f
        .metadata()
        .map_err(|e| io_err("cannot stat", path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(TokenError::Storage(format!(
            "sealing key {} is readable by other users (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        )));
    }
    let mut text = Zeroizing::new(Vec::new());
    f.read_to_end(&mut text)
        .map_err(|e| io_err("cannot read sealing key", path, e))?;
    SealingKey::from_key_file(&text)
}

/// Creates a new file with mode 0600; refuses to overwrite.
pub fn create_new_private(path: &Path, data: &[u8]) -> Result<(), TokenError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            TokenError::Storage(if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "{} already exists; symbolon never overwrites a token or key file",
                    path.display()
                )
            } else {
                format!("cannot create {}: {e}", path.display())
            })
        })?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| TokenError::Storage(format!("cannot write {}: {e}", path.display())))
}

/// Initialises a new soft token at `path`, with a new sealing key at
/// `key_path` (or the caller's key, if given).
pub fn init_token(
    path: &Path,
    key_path: &Path,
    existing_key: Option<SealingKey>,
) -> Result<SoftToken<FileStore>, TokenError> {
    // Lock first, then look: two processes initialising one path cannot both
    // see it free.
    let store = FileStore::lock(path, key_path, Duration::ZERO)?;
    if path.exists() {
        return Err(TokenError::Storage(format!(
            "{} already exists; symbolon never overwrites a token (a dead token stays as evidence)",
            path.display()
        )));
    }
    let (key, made_key) = match existing_key {
        Some(k) => (k, false),
        None => {
            let k = SealingKey::generate()?;
            create_new_private(key_path, k.to_key_file().as_bytes())?;
            (k, true)
        }
    };
    let created = SoftToken::create(store, key);
    if created.is_err() && made_key {
        // Nothing was sealed under it: leave no orphan key behind (and say
        // so if it stays; the creation's own error is what is reported).
        if let Err(e) = std::fs::remove_file(key_path) {
            tracing::warn!(path = %key_path.display(), error = %e, "cannot remove an unused sealing key");
        }
    }
    created
}

/// Opens the soft token at `path` with the sealing key at `key_path`.
pub fn open_token(
    path: &Path,
    key_path: &Path,
    wait: Duration,
) -> Result<SoftToken<FileStore>, TokenError> {
    if !path.exists() {
        return Err(TokenError::Storage(format!(
            "no token at {} (create one with `symbolon token init --token {}`)",
            path.display(),
            path.display()
        )));
    }
    let store = FileStore::lock(path, key_path, wait)?;
    // A tombstone needs no key to be recognised as dead.
    let key = match read_sealing_key(key_path) {
        Ok(k) => k,
        Err(e) => {
            let mut s = store;
            let data = s.load()?;
            if let Ok(h) = symbolon::token::read_header(symbolon::token::SealedKind::Token, &data) {
                if h.tombstone {
                    return Err(TokenError::Tampered {
                        serial: Some(h.serial),
                    });
                }
            }
            return Err(e);
        }
    };
    SoftToken::open(store, key)
}

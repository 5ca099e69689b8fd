//! Reading inputs and writing outputs: a file, or stdin/stdout when absent.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use symbolon::Code;

use zeroize::Zeroizing;

use crate::error::CliError;

/// Largest input read whole into memory (keys, certificates, ciphertexts,
/// commands); messages to sign are streamed instead.
pub(crate) const MAX_INPUT: u64 = 1024 * 1024;

/// Reads a small input file, or stdin.
pub(crate) fn read_input(path: Option<&Path>) -> Result<Vec<u8>, CliError> {
    read_bounded(path, MAX_INPUT)
}

/// Reads an input file, or stdin, of at most `limit` bytes.
pub(crate) fn read_bounded(path: Option<&Path>, limit: u64) -> Result<Vec<u8>, CliError> {
    let mut data = Vec::new();
    match path {
        Some(p) => std::fs::File::open(p)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut data))
            .map_err(|e| CliError::io("cannot read", p, e))?,
        None => std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| CliError::new(Code::Io, format!("cannot read stdin: {e}")))?,
    };
    if data.len() as u64 > limit {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("input is larger than {limit} bytes"),
        ));
    }
    Ok(data)
}

/// Reads a file that holds a secret, keeping it in zeroising memory.
pub(crate) fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut data = Zeroizing::new(Vec::with_capacity(16 * 1024));
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT).read_to_end(&mut data))
        .map_err(|e| CliError::io("cannot read", path, e))?;
    Ok(data)
}

/// Reads a small text file.
pub(crate) fn read_text(path: &Path) -> Result<String, CliError> {
    String::from_utf8(read_input(Some(path))?).map_err(|_| {
        CliError::new(
            Code::InvalidInput,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// Writes to a file (mode 0600 when `private`), or to stdout.
pub(crate) fn write_output(
    path: Option<&Path>,
    data: &[u8],
    private: bool,
) -> Result<(), CliError> {
    match path {
        Some(p) => {
            let mut opts = OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            if private {
                opts.mode(0o600);
            }
            opts.open(p)
                .and_then(|mut f| f.write_all(data))
                .map_err(|e| CliError::io("cannot write", p, e))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(data)
                .and_then(|_| out.flush())
                .map_err(|e| CliError::new(Code::Io, format!("cannot write stdout: {e}")))
        }
    }
}

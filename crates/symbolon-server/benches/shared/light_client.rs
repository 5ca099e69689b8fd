//! A load generator light enough to share a 2-core machine with the
//! service it measures: one blocking keep-alive TLS connection per client
//! thread (rustls over a `TcpStream`, the same TLS configuration and
//! credential as `symbolon_client`), requests serialised before the clock
//! starts, responses read by `Content-Length`. reqwest's blocking client
//! hops every request through its own runtime thread and costs about as
//! much CPU as the service's handling; this costs a few percent of it, so
//! "both cores" measures the service and not its client.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// One keep-alive connection to `host:port` over TLS.
pub struct Connection {
    stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
    host: String,
}

impl Connection {
    pub fn open(url: &str, config: &Arc<ClientConfig>) -> Self {
        let authority = url
            .strip_prefix("https://")
            .expect("an https URL")
            .trim_end_matches('/');
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let tcp = TcpStream::connect(authority).unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from(host.to_string()).unwrap();
        let tls = ClientConnection::new(Arc::clone(config), name).unwrap();
        Self {
            stream: BufReader::with_capacity(64 * 1024, StreamOwned::new(tls, tcp)),
            host: authority.to_string(),
        }
    }

    /// Posts the JSON `body` to `path`; returns the status and the body.
    pub fn post(&mut self, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let inner = self.stream.get_mut();
        inner.write_all(&request).unwrap();
        inner.flush().unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {line:?}"));
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).unwrap();
        (status, body)
    }
}

/// What a timed load measured.
pub struct Measured {
    /// Requests per second.
    pub rate: f64,
    /// Cores the load generator itself kept busy while the clock ran (its
    /// process's CPU time over the wall time), where the platform says.
    pub load_cores: Option<f64>,
}

/// This process's CPU time so far (user and system), from
/// `/proc/self/stat` in clock ticks of 1/100 s: enough over a run of
/// seconds to say what share of a core the load took.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which ends at the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (user, system): (u64, u64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some((user + system) as f64 / 100.0)
}

/// Posts each body once to `path` from one thread per `warm` body, each on
/// its own connection (to `urls` round robin), opened and warmed by its
/// `warm` request before the clock starts. Every answer must be 200.
pub fn load(
    urls: &[&str],
    config: &Arc<ClientConfig>,
    path: &str,
    warm: &[Vec<u8>],
    bodies: &[Vec<u8>],
) -> Measured {
    let mut connections: Vec<Connection> = warm
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut c = Connection::open(urls[i % urls.len()], config);
            let (status, body) = c.post(path, w);
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            c
        })
        .collect();
    let next = AtomicUsize::new(0);
    let cpu_before = process_cpu_seconds();
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in &mut connections {
            let next = &next;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = bodies.get(i) else {
                    break;
                };
                let (status, body) = c.post(path, request);
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let load_cores = cpu_before
        .zip(process_cpu_seconds())
        .map(|(before, after)| (after - before) / elapsed);
    Measured {
        rate: bodies.len() as f64 / elapsed,
        load_cores,
    }
}

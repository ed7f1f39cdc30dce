//! A loopback server that reads whole requests and answers each by a script of raw writes,
//! pauses, closes and hangs, remembering what it read.

use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What the server does after reading a request.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Writes these bytes (one write).
    Write(Vec<u8>),
    /// Waits this many milliseconds (so that the client's reads split here).
    Sleep(u64),
    /// Closes the connection.
    Close,
    /// Never answers (holds the connection open).
    Hang,
}

/// What the server does for request `req` (0, 1, ...) on connection `conn` (0, 1, ... in the
/// order accepted). Without a `Close`, the connection then waits for its next request.
pub(crate) trait Script: Fn(usize, usize) -> Vec<Step> + Send + Sync + 'static {}
impl<F: Fn(usize, usize) -> Vec<Step> + Send + Sync + 'static> Script for F {}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The connection it came on.
    pub(crate) conn: usize,
    /// Its bytes: head and body.
    pub(crate) raw: Vec<u8>,
}

/// A loopback server answering by script; stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) accepted: Arc<AtomicUsize>,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    pub(crate) task: JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start(script: impl Script) -> Self {
        Self::start_dropping(0, script).await
    }

    /// A server that closes its first `drop_first` connections as soon as it accepts them.
    pub(crate) async fn start_dropping(drop_first: usize, script: impl Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<dyn Script> = Arc::new(script);
        let task = tokio::spawn({
            let accepted = accepted.clone();
            let seen = seen.clone();
            async move {
                // Dropped with this task: ends the connections too.
                let mut conns = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let conn = accepted.fetch_add(1, Ordering::SeqCst);
                    if conn < drop_first {
                        drop(stream);
                        continue;
                    }
                    stream.set_nodelay(true).unwrap();
                    conns.spawn(serve(conn, stream, script.clone(), seen.clone()));
                }
            }
        });
        Self {
            addr,
            accepted,
            seen,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests read so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The connection each request came on, in order.
    pub(crate) fn conns(&self) -> Vec<usize> {
        self.seen().iter().map(|s| s.conn).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    conn: usize,
    mut stream: TcpStream,
    script: Arc<dyn Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let mut pending = Vec::new();
    for req in 0.. {
        let Some(raw) = read_request(&mut stream, &mut pending).await else {
            return;
        };
        seen.lock().unwrap().push(Seen { conn, raw });
        for step in script(conn, req) {
            match step {
                Step::Write(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Step::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Step::Close => {
                    let _ = stream.shutdown().await;
                    return;
                }
                Step::Hang => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
            }
        }
    }
}

/// Reads one whole request (head and `Content-Length` body); `None` at the end of the
/// connection. Bytes after it stay in `pending`.
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(head_end) = find(pending, b"\r\n\r\n").map(|i| i + 4) {
            let len = content_length(&pending[..head_end]);
            if pending.len() >= head_end + len {
                return Some(pending.drain(..head_end + len).collect());
            }
        }
        let mut buf = [0u8; 16 * 1024];
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.trim().parse().unwrap())
}

/// A request as sent, split into its parts.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) line: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn parse(raw: &[u8]) -> Self {
        let head_end = find(raw, b"\r\n\r\n").expect("a whole head") + 4;
        let head = std::str::from_utf8(&raw[..head_end - 4]).expect("an ASCII head");
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap().to_string();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("name: value");
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        Self {
            line,
            headers,
            body: raw[head_end..].to_vec(),
        }
    }

    /// A header's value, its name matched case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

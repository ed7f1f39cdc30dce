//! The builtin HTTP/1.1 transport: a bounded pool of keep-alive connections and a request /
//! response exchange tuned for measuring (prepared request bytes written at once, the response
//! head parsed with `httparse`, bodies decoded in place, one clock reading per read).
//!
//! Before a pooled connection is reused it is checked: one the server closed while it sat idle,
//! or on which stray bytes arrived, is dropped. A request whose write fails on a reused
//! connection is sent again once, on a new connection (the server cannot have it); a request
//! that was written is never sent again (as in hyper, which retries only requests it never
//! wrote): if the connection then closes unanswered, that is the request's outcome.

use super::PreparedRequest;
use super::chunked::ChunkedDecoder;
use super::measure::{Measure, StreamState, error_message, is_event_stream, truncate};
use cpbench_core::record::Outcome;
use cpbench_core::sse::ChunkClassifier;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

/// Bytes read from the socket at most per read; also the largest response head accepted.
const READ_BUFFER_BYTES: usize = 32 * 1024;
/// Response headers parsed at most.
const MAX_HEADERS: usize = 64;
/// Bytes of an error response body kept for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest wait for a connection opened ahead of a run.
const PREOPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long the end of a stream's body is waited for after `[DONE]` (to reuse the connection).
const REST_AFTER_DONE: std::time::Duration = std::time::Duration::from_millis(100);

/// Keep-alive connections to one host and port.
#[derive(Debug)]
pub(super) struct Pool {
    host: String,
    port: u16,
    max_idle: usize,
    idle: Mutex<Vec<Conn>>,
    /// The host's addresses, looked up on first use.
    addrs: OnceCell<Vec<SocketAddr>>,
}

/// One connection and its read buffer.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// The shape of the last stream's chunks, for the next stream on this connection.
    classifier: ChunkClassifier,
}

impl Pool {
    pub(super) fn new(host: String, port: u16, max_idle: usize) -> Self {
        Self {
            host,
            port,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
            addrs: OnceCell::new(),
        }
    }

    async fn connect(&self) -> io::Result<Conn> {
        let addrs = self
            .addrs
            .get_or_try_init(|| async {
                let addrs: Vec<SocketAddr> =
                    tokio::net::lookup_host((self.host.as_str(), self.port))
                        .await?
                        .collect();
                if addrs.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the host name has no address",
                    ));
                }
                Ok(addrs)
            })
            .await?;
        let stream = TcpStream::connect(&addrs[..]).await?;
        stream.set_nodelay(true)?;
        tracing::debug!(host = %self.host, port = self.port, local = ?stream.local_addr().ok(), "opened a connection");
        Ok(Conn {
            stream,
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            classifier: ChunkClassifier::new(),
        })
    }

    fn take(&self) -> Option<Conn> {
        self.idle.lock().expect("pool lock").pop()
    }

    /// An idle connection the server has not closed (the dead ones are dropped).
    fn take_alive(&self) -> Option<Conn> {
        loop {
            let mut conn = self.take()?;
            if conn.is_alive() {
                return Some(conn);
            }
            tracing::debug!(
                "dropped an idle connection the server had closed (or sent stray bytes on)"
            );
        }
    }

    fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Opens connections until `n` are idle (or connecting fails); returns how many are idle.
    pub(super) async fn preopen(&self, n: usize) -> usize {
        let have = self.idle.lock().expect("pool lock").len();
        let want = n.min(self.max_idle).saturating_sub(have);
        let opened = futures_util::future::join_all(
            (0..want).map(|_| tokio::time::timeout(PREOPEN_TIMEOUT, self.connect())),
        )
        .await;
        for conn in opened.into_iter().flatten().flatten() {
            self.put(conn);
        }
        self.idle.lock().expect("pool lock").len()
    }
}

/// Why an exchange failed before it had an outcome of its own.
enum Failure {
    /// Writing the request failed: the server cannot have it, so it may be sent again on a
    /// new connection (once) when the connection had been reused.
    NotSent(String),
    /// Anything else: the request's outcome. A request that was written is never sent again
    /// (the server may have received it).
    Outcome(Outcome),
}

/// Sends `req` on a pooled connection and reads the response into `m`.
pub(super) async fn exchange(pool: &Pool, req: &PreparedRequest, m: &mut Measure) -> Outcome {
    let mut retried = false;
    loop {
        // The retry goes on a new connection: the other idle ones may be as stale.
        let pooled = if retried { None } else { pool.take_alive() };
        let (mut conn, reused) = match pooled {
            Some(c) => (c, true),
            None => match pool.connect().await {
                Ok(c) => (c, false),
                Err(e) => {
                    return Outcome::Connection {
                        message: truncate(&format!(
                            "connecting to {}:{}: {e}",
                            pool.host, pool.port
                        )),
                    };
                }
            },
        };
        match conn.round_trip(req, m).await {
            Ok((outcome, reusable)) => {
                if reusable {
                    pool.put(conn);
                }
                return outcome;
            }
            Err(Failure::NotSent(why)) if reused && !retried => {
                tracing::debug!(id = req.spec.id, %why, "writing on a reused connection failed; sending again on a new one");
                retried = true;
            }
            Err(Failure::NotSent(message)) => {
                return Outcome::Connection {
                    message: truncate(&message),
                };
            }
            Err(Failure::Outcome(o)) => return o,
        }
    }
}

impl Conn {
    /// Whether an idle connection can carry a request: nothing arrived on it while it sat in
    /// the pool (a close, or stray bytes such as a server's 408 before closing). Costs a
    /// system call only when the event loop saw the socket become readable.
    fn is_alive(&mut self) -> bool {
        use futures_util::FutureExt;
        match self.stream.ready(Interest::READABLE).now_or_never() {
            None => true,
            Some(Err(_)) => false,
            Some(Ok(_)) => matches!(
                self.stream.try_read(&mut self.buf[..1]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock
            ),
        }
    }
}

/// How the response body is delimited.
enum Framing {
    Chunked(ChunkedDecoder),
    Length(u64),
    UntilClose,
}

/// What the response head said.
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    is_sse: bool,
}

/// Where body bytes go.
enum Sink {
    /// An SSE stream, decoded as it arrives.
    Stream(StreamState),
    /// A whole body (non-streamed success, or an error body kept up to `limit`); a success
    /// body over the client's limit stops the reading (`too_large`).
    Collect {
        body: Vec<u8>,
        limit: usize,
        too_large: Option<Outcome>,
    },
}

impl Sink {
    fn push(&mut self, m: &mut Measure, bytes: &[u8], now_us: u64) {
        match self {
            Sink::Stream(s) => {
                if !s.finished() {
                    m.feed_stream(s, bytes, now_us);
                    if s.finished() {
                        m.end_us = Some(now_us);
                    }
                }
            }
            Sink::Collect {
                body,
                limit,
                too_large,
            } => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
                if too_large.is_none() {
                    *too_large = m.count_body(bytes.len());
                }
            }
        }
    }

    /// The stream stopped on an error event or a malformed chunk: no point reading on.
    fn failed(&self) -> bool {
        match self {
            Sink::Stream(s) => s.finished() && !s.is_done(),
            Sink::Collect { too_large, .. } => too_large.is_some(),
        }
    }
}

impl Conn {
    /// One request and its response. On success, also whether the connection can be reused.
    async fn round_trip(
        &mut self,
        req: &PreparedRequest,
        m: &mut Measure,
    ) -> Result<(Outcome, bool), Failure> {
        let Conn {
            stream,
            buf,
            classifier,
        } = self;
        if let Err(e) = stream.write_all(&req.wire).await {
            return Err(Failure::NotSent(format!("sending the request: {e}")));
        }
        // The head (skipping any 1xx interim responses).
        let mut filled = 0;
        let mut answered = false;
        let mut now_us;
        let (head, head_len) = 'head: loop {
            let n = match stream.read(&mut buf[filled..]).await {
                Ok(n) => n,
                Err(e) if !answered => {
                    return Err(Failure::Outcome(Outcome::Connection {
                        message: truncate(&format!("reading the response: {e}")),
                    }));
                }
                Err(e) => return Err(broken(format!("reading the response head: {e}"))),
            };
            now_us = m.now_us();
            if n == 0 {
                return Err(if answered {
                    broken("the server closed the connection in the middle of the response head")
                } else {
                    Failure::Outcome(Outcome::Connection {
                        message: "the server closed the connection without answering".into(),
                    })
                });
            }
            answered = true;
            filled += n;
            loop {
                match parse_head(&buf[..filled], m)? {
                    Parsed::Final(head, len) => break 'head (head, len),
                    Parsed::Interim(len) => {
                        buf.copy_within(len..filled, 0);
                        filled -= len;
                    }
                    Parsed::Partial if filled == buf.len() => {
                        return Err(Failure::Outcome(Outcome::Malformed {
                            message: format!("response head larger than {READ_BUFFER_BYTES} bytes"),
                        }));
                    }
                    Parsed::Partial => break,
                }
            }
        };
        let Head {
            status,
            mut framing,
            keep_alive,
            is_sse,
        } = head;
        let success = (200..300).contains(&status);
        let mut sink = if success && req.stream && is_sse {
            Sink::Stream(StreamState::with_classifier(std::mem::take(classifier)))
        } else if success {
            Sink::Collect {
                body: Vec::new(),
                limit: usize::MAX,
                too_large: None,
            }
        } else {
            Sink::Collect {
                body: Vec::new(),
                limit: MAX_ERROR_BODY_BYTES,
                too_large: None,
            }
        };
        // The body: first what came with the head, then read on until it ends.
        let mut start = head_len;
        let mut ended;
        let mut extra;
        loop {
            let data = &buf[start..filled];
            (ended, extra) = match &mut framing {
                Framing::Chunked(dec) => {
                    let used = match dec.decode(data, |payload| sink.push(m, payload, now_us)) {
                        Ok(used) => used,
                        Err(e) => {
                            m.end_us.get_or_insert(now_us);
                            return Err(Failure::Outcome(Outcome::Malformed {
                                message: format!("invalid chunked body: {e}"),
                            }));
                        }
                    };
                    (dec.is_done(), used < data.len())
                }
                Framing::Length(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                    sink.push(m, &data[..take], now_us);
                    *left -= take as u64;
                    (*left == 0, take < data.len())
                }
                Framing::UntilClose => {
                    sink.push(m, data, now_us);
                    (false, false)
                }
            };
            if ended || sink.failed() {
                break;
            }
            let read = stream.read(&mut buf[..]);
            let read = if matches!(&sink, Sink::Stream(s) if s.is_done()) {
                // All that matters has come: the rest of the body is read only to reuse the
                // connection, and a server that does not end it soon loses only that.
                match tokio::time::timeout(REST_AFTER_DONE, read).await {
                    Ok(r) => r,
                    Err(_) => break,
                }
            } else {
                read.await
            };
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    now_us = m.now_us();
                    m.end_us.get_or_insert(now_us);
                    return Ok((cut_short(sink, m, &format!("reading the body: {e}")), false));
                }
            };
            now_us = m.now_us();
            if n == 0 {
                if matches!(framing, Framing::UntilClose) {
                    ended = true;
                    break;
                }
                m.end_us.get_or_insert(now_us);
                return Ok((
                    cut_short(
                        sink,
                        m,
                        "the server closed the connection before the body ended",
                    ),
                    false,
                ));
            }
            start = 0;
            filled = n;
        }
        let reusable = ended && keep_alive && !extra && !matches!(framing, Framing::UntilClose);
        let end_us = *m.end_us.get_or_insert(now_us);
        let outcome = match sink {
            Sink::Stream(mut s) => {
                *classifier = std::mem::take(&mut s.classifier);
                m.finish_stream(s)
            }
            Sink::Collect {
                too_large: Some(o), ..
            } if success => o,
            Sink::Collect { body, .. } if success => {
                m.first_token_us = Some(end_us);
                m.read_whole_body(req, &body)
            }
            Sink::Collect { body, .. } => Outcome::Http {
                status,
                message: error_message(&body),
            },
        };
        Ok((outcome, reusable))
    }
}

/// The outcome of a response whose body was cut short.
fn cut_short(sink: Sink, m: &mut Measure, why: &str) -> Outcome {
    match sink {
        // All that matters arrived before the cut.
        Sink::Stream(s) if s.is_done() => Outcome::Success,
        Sink::Stream(s) => match m.finish_stream(s) {
            Outcome::StreamBroken { message } => Outcome::StreamBroken {
                message: truncate(&format!("{message} ({why})")),
            },
            other => other,
        },
        Sink::Collect { .. } => Outcome::StreamBroken {
            message: why.to_string(),
        },
    }
}

fn broken(message: impl Into<String>) -> Failure {
    Failure::Outcome(Outcome::StreamBroken {
        message: message.into(),
    })
}

enum Parsed {
    Partial,
    /// A 1xx interim response of this many bytes, to skip.
    Interim(usize),
    /// The final head, and its length in bytes.
    Final(Head, usize),
}

/// Parses a response head from the start of `bytes`, reading the measured headers into `m`.
fn parse_head(bytes: &[u8], m: &mut Measure) -> Result<Parsed, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(e) => {
            return Err(Failure::Outcome(Outcome::Malformed {
                message: format!("invalid HTTP response head: {e}"),
            }));
        }
    };
    let status = resp.code.unwrap_or(0);
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Interim(len));
    }
    let mut keep_alive = resp.version == Some(1);
    let mut chunked = false;
    let mut length: Option<u64> = None;
    let mut is_sse = false;
    for h in resp.headers.iter() {
        let name = h.name;
        let value = h.value;
        if name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            match (n, length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(prev)) if n == prev => {}
                _ => {
                    return Err(Failure::Outcome(Outcome::Malformed {
                        message: format!(
                            "invalid Content-Length {:?}",
                            String::from_utf8_lossy(value)
                        ),
                    }));
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && resp.version == Some(0) {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            is_sse = is_event_stream(value);
        } else {
            m.read_header(name, value);
        }
    }
    let framing = if status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(ChunkedDecoder::new())
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Parsed::Final(
        Head {
            status,
            framing,
            keep_alive,
            is_sse,
        },
        len,
    ))
}

/// [`parse_head`] with what it read, for [`super::fuzzing`].
pub(super) fn parse_head_summary(bytes: &[u8]) -> super::fuzzing::HeadParse {
    use super::fuzzing::{BodyFraming, HeadParse};
    let mut m = Measure::new(std::time::Instant::now(), 0, u64::MAX, false);
    match parse_head(bytes, &mut m) {
        Ok(Parsed::Partial) => HeadParse::Partial,
        Ok(Parsed::Interim(len)) => HeadParse::Interim { len },
        Ok(Parsed::Final(head, len)) => HeadParse::Final {
            len,
            status: head.status,
            framing: match head.framing {
                Framing::Chunked(_) => BodyFraming::Chunked,
                Framing::Length(n) => BodyFraming::Length(n),
                Framing::UntilClose => BodyFraming::UntilClose,
            },
            keep_alive: head.keep_alive,
            is_sse: head.is_sse,
            queue_time_ms: m.queue_time_ms,
            backend_instance: m.backend_instance,
        },
        Err(Failure::Outcome(outcome)) => HeadParse::Invalid(format!("{outcome:?}")),
        Err(Failure::NotSent(why)) => HeadParse::Invalid(why),
    }
}

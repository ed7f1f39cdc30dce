//! Accepting and serving connections (HTTP/1.1, keep-alive), with the two connection
//! timeouts and the detection of clients that went away.
//!
//! - *Header-read timeout* ([`super::limits::HEADER_READ_TIMEOUT`]): a request head must be complete
//!   within this time of its first byte, else the connection is closed.
//! - *Idle keep-alive timeout* ([`super::limits::IDLE_TIMEOUT`]): a connection with no request in
//!   progress (none being read, handled or answered) that receives nothing for this long is
//!   closed.
//!
//!   hyper's own `header_read_timeout` counts from the moment the connection is accepted or
//!   goes idle; it is set to the sum of both, as a backstop these two always come before.
//! - *A client that went away*: hyper notices a closed connection only when it reads from it,
//!   and while a request is handled it reads only if nothing is buffered; with pipelined
//!   requests buffered it never reads, so an abandoned request ran to its end and the next
//!   buffered one was served after it. A second handle of the socket is watched for the
//!   client's end of stream (`EPOLLRDHUP`), and the connection is dropped when it comes:
//!   dropping a request in progress cancels it in the cluster (`Command::Cancel`), and the
//!   requests buffered behind it are never started. A client that half-closes its side is
//!   taken as gone, as hyper does (`half_close` off) and as proxies such as nginx do.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The connection timeouts ([`super::limits`] has the defaults).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
}

/// Accepts connections until `stop` fires, then asks every open connection to finish its
/// request in progress and close, and returns once all have closed. Aborting the task that
/// runs it closes every connection at once.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    let (closing, closing_rx) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Tokens are small writes a few milliseconds apart: without TCP_NODELAY,
                    // Nagle's algorithm holds each one until the client's delayed ACK (about
                    // 40 ms on Linux).
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(serve(tcp, app.clone(), timeouts, closing_rx.clone()));
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors, for instance: wait for some to close.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What one connection is doing, shared by its socket, its service and its watcher.
#[derive(Debug)]
struct ConnState {
    epoch: Instant,
    /// Requests whose head was read and whose answer is not finished.
    in_flight: AtomicUsize,
    /// When the last request in progress finished (or the connection was accepted), in µs
    /// since `epoch`.
    idle_since_us: AtomicU64,
    /// When the first byte of the next request's head arrived, in µs since `epoch` plus 1;
    /// 0 when none has.
    head_since_us: AtomicU64,
    /// Signalled when one of the above changes.
    changed: Notify,
}

impl ConnState {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_us: AtomicU64::new(0),
            head_since_us: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Bytes arrived on the socket.
    fn on_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since_us.load(Ordering::Acquire) == 0
        {
            self.head_since_us
                .store(self.now_us() + 1, Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// A request's head was read.
    fn on_request(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since_us.store(0, Ordering::Release);
        self.changed.notify_one();
    }

    /// A request's answer was sent, or dropped.
    fn on_done(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since_us.store(self.now_us(), Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// When the connection is to be closed if nothing changes, and why.
    fn deadline(&self, t: Timeouts) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head = self.head_since_us.load(Ordering::Acquire);
        let (since_us, limit, why) = if head > 0 {
            (head - 1, t.header_read, "header-read timeout")
        } else {
            (
                self.idle_since_us.load(Ordering::Acquire),
                t.idle,
                "idle keep-alive timeout",
            )
        };
        Some((self.epoch + Duration::from_micros(since_us) + limit, why))
    }
}

/// Serves one connection until it closes, times out, its client goes away, or the server
/// stops.
async fn serve(tcp: TcpStream, app: Router, t: Timeouts, mut closing: watch::Receiver<bool>) {
    let state = Arc::new(ConnState::new());
    let peer = peer_watch(&tcp);
    let io = TokioIo::new(Tracked {
        inner: tcp,
        state: state.clone(),
    });
    let service = Tracking {
        inner: TowerToHyperService::new(app),
        state: state.clone(),
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(t.header_read + t.idle);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        let deadline = state.deadline(t);
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            () = client_gone(peer.as_ref()) => {
                // Dropping the connection drops the request in progress, which cancels it.
                tracing::debug!(
                    in_flight = state.in_flight.load(Ordering::Acquire),
                    "the client closed its connection"
                );
                return;
            }
            () = state.changed.notified() => {}
            () = sleep_until(deadline.map(|d| d.0)), if deadline.is_some() => {
                if let Some((at, why)) = state.deadline(t)
                    && Instant::now() >= at
                {
                    tracing::debug!("closing a connection: {why}");
                    return;
                }
            }
            _ = closing.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A second handle of the socket, registered with the event loop on its own, to learn when
/// the client closes its side without reading from it (the bytes stay for hyper).
#[cfg(unix)]
fn peer_watch(tcp: &TcpStream) -> Option<TcpStream> {
    use std::os::fd::AsFd;
    let fd = tcp.as_fd().try_clone_to_owned().ok()?;
    TcpStream::from_std(std::net::TcpStream::from(fd)).ok()
}

#[cfg(not(unix))]
fn peer_watch(_: &TcpStream) -> Option<TcpStream> {
    None
}

/// Completes when the client has closed its side of the connection (never without a watch).
async fn client_gone(peer: Option<&TcpStream>) {
    if let Some(peer) = peer {
        loop {
            let Ok(ready) = peer.ready(tokio::io::Interest::READABLE).await else {
                break;
            };
            if ready.is_read_closed() {
                return;
            }
            // Bytes arrived, which hyper reads through its own handle: forget this event
            // (on this handle only) and wait for the next one.
            let _ = peer.try_io(tokio::io::Interest::READABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
    }
    std::future::pending().await
}

/// The socket as hyper reads it, noting when bytes arrive.
struct Tracked {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_read();
        }
        res
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as hyper calls it, counting the requests in progress.
struct Tracking {
    inner: TowerToHyperService<Router>,
    state: Arc<ConnState>,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<hyper::Response<Guarded>, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Tracking {
    type Response = hyper::Response<Guarded>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.state.on_request();
        let guard = InFlight(self.state.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|body| Guarded {
                inner: body,
                _guard: guard,
            }))
        })
    }
}

/// A request in progress; dropping it marks the request done.
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.on_done();
    }
}

/// An answer's body; the request is in progress until hyper drops it (sent, or abandoned).
struct Guarded {
    inner: Body,
    _guard: InFlight,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

//! The `cpbench-fake-server` command line: flags mirror the [`Behavior`] fields that matter
//! for load tests. The binary is `Args::parse()` then [`run`].
//!
//! It prints `listening on http://HOST:PORT` as the first line of stdout, then serves until
//! SIGTERM, SIGINT, or, when stdin is a pipe or a socket, until stdin is closed (so a parent
//! that dies takes the server with it). A stdin that is a terminal, `/dev/null` or a file is
//! not watched.

use super::{AdminMode, Behavior, FakeServer, FakeServerError, Mode, REFERENCE_POLICIES};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

/// The default of `--policies`: the reference control plane's policies, comma-separated.
fn default_policies() -> &'static str {
    static JOINED: OnceLock<String> = OnceLock::new();
    JOINED.get_or_init(|| REFERENCE_POLICIES.join(","))
}

/// Options of `cpbench-fake-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "cpbench-fake-server",
    version,
    about = "A fake OpenAI-compatible control plane for tests and load benchmarks of sage-cp-bench."
)]
pub struct Args {
    /// How LLM requests that do not say `"stream"` are answered (the client decides
    /// otherwise); `embeddings` serves only /v1/embeddings.
    #[arg(long, value_enum, default_value_t = Mode::Plain)]
    pub mode: Mode,
    /// Content chunks of an answer whose request has no `max_tokens` (or with
    /// --ignore-max-tokens).
    #[arg(long, default_value_t = 16)]
    pub chunks: u32,
    /// Words (tokens) per content chunk.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub tokens_per_chunk: u32,
    /// Answer with --chunks chunks whatever `max_tokens` the request asks for.
    #[arg(long)]
    pub ignore_max_tokens: bool,
    /// Never send `usage`.
    #[arg(long)]
    pub no_usage: bool,
    /// The `model` every response names.
    #[arg(long, default_value = "fake-model")]
    pub model: String,
    /// Milliseconds before the first content chunk.
    #[arg(long, value_name = "MS", default_value = "0", value_parser = parse_ms)]
    pub ttft_ms: Duration,
    /// Milliseconds between content chunks.
    #[arg(long, value_name = "MS", default_value = "0", value_parser = parse_ms)]
    pub chunk_delay_ms: Duration,
    /// Numbers per embedding vector.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub embedding_dim: u32,
    /// Milliseconds before answering an embeddings request.
    #[arg(long, value_name = "MS", default_value = "0", value_parser = parse_ms)]
    pub embedding_delay_ms: Duration,
    /// Fail this fraction of inference requests with this status, e.g. 500:0.1 or 429:0.5
    /// (deterministic: by a hash of X-Request-ID, else every k-th request).
    #[arg(long, value_name = "STATUS:FRACTION", value_parser = parse_fail_status)]
    pub fail_status: Option<(u16, f64)>,
    /// Close the connection after this many content chunks, without `[DONE]`.
    #[arg(long, value_name = "N")]
    pub break_stream_after: Option<u32>,
    /// Send nothing for this many milliseconds after reading a request.
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    pub stall_ms: Option<Duration>,
    /// Send content chunks (and whole bodies) that are not JSON.
    #[arg(long)]
    pub malformed: bool,
    /// Send an error event after the first content chunk of a stream.
    #[arg(long)]
    pub in_stream_error: bool,
    /// How /admin/* behaves.
    #[arg(long, value_enum, default_value_t = AdminMode::Honest)]
    pub admin: AdminMode,
    /// Policy names the admin API knows, comma-separated; the first is the initial one.
    #[arg(long, value_delimiter = ',', default_value = default_policies())]
    pub policies: Vec<String>,
    /// /health answers 503 for this many milliseconds after start.
    #[arg(long, value_name = "MS", default_value = "0", value_parser = parse_ms)]
    pub health_delay_ms: Duration,
    /// Serve no /health (it answers 404, as many OpenAI-compatible servers do).
    #[arg(long)]
    pub no_health: bool,
    /// Do not send X-Request-ID, X-Backend-Instance, X-Queue-Time-Ms.
    #[arg(long)]
    pub no_cp_headers: bool,
    /// Value of X-Backend-Instance.
    #[arg(long, default_value = "fake-0")]
    pub backend_instance: String,
    /// Value of X-Queue-Time-Ms.
    #[arg(long, value_name = "MS", default_value_t = 0.0, value_parser = parse_queue_ms)]
    pub queue_time_ms: f64,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on (0: any free port; the listening line says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Tokio worker threads (1: a single-threaded runtime, leaving other cores to the client).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
}

impl Args {
    /// The behaviour these flags describe (request capture off: nothing could read it).
    pub fn behavior(&self) -> Behavior {
        Behavior {
            mode: self.mode,
            chunks: self.chunks,
            tokens_per_chunk: self.tokens_per_chunk,
            honor_max_tokens: !self.ignore_max_tokens,
            send_usage: !self.no_usage,
            model: self.model.clone(),
            ttft_delay: self.ttft_ms,
            chunk_delay: self.chunk_delay_ms,
            embedding_dim: self.embedding_dim as usize,
            embedding_delay: self.embedding_delay_ms,
            fail_status: self.fail_status,
            break_stream_after: self.break_stream_after,
            stall: self.stall_ms,
            malformed: self.malformed,
            in_stream_error: self.in_stream_error,
            admin: self.admin,
            policies: self.policies.clone(),
            health_delay: self.health_delay_ms,
            serve_health: !self.no_health,
            send_cp_headers: !self.no_cp_headers,
            backend_instance: self.backend_instance.clone(),
            queue_time_ms: self.queue_time_ms,
            capture: false,
        }
    }

    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// Errors of [`run`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag's value is not usable.
    #[error("{flag}: {source}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong with its value.
        source: FakeServerError,
    },
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] FakeServerError),
    /// The tokio runtime could not be built, or stdout could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// Runs the server until a signal or the end of stdin (see the module docs).
pub fn run(args: Args) -> Result<(), CliError> {
    let behavior = args.behavior();
    if let Err(source) = behavior.validate() {
        let flag = match &source {
            FakeServerError::Invalid { field, .. } => flag_of(field),
            FakeServerError::Bind { .. } => "--port",
        };
        return Err(CliError::Invalid { flag, source });
    }
    let rt = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(args.threads))
            .enable_all()
            .build()
    }
    .map_err(|source| CliError::Io {
        what: "cannot start the tokio runtime",
        source,
    })?;
    let stdin_closed = watch_stdin();
    rt.block_on(async move {
        let stop = Stop::install(stdin_closed);
        let server = FakeServer::try_start(behavior, args.addr())?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", server.url())
                .and_then(|()| out.flush())
                .map_err(|source| CliError::Io {
                    what: "cannot write the listening line to stdout",
                    source,
                })?;
        }
        stop.wait().await;
        server.shutdown().await;
        Ok(())
    })
}

/// The flag that sets a [`Behavior`] field.
fn flag_of(field: &str) -> &'static str {
    match field {
        "tokens_per_chunk" => "--tokens-per-chunk",
        "embedding_dim" => "--embedding-dim",
        "fail_status" => "--fail-status",
        "policies" => "--policies",
        "backend_instance" => "--backend-instance",
        "queue_time_ms" => "--queue-time-ms",
        _ => "a flag",
    }
}

/// What stops the server: SIGINT, SIGTERM, or the end of a piped stdin. The handlers are
/// installed before the listening line is printed, so a signal sent as soon as that line is
/// read is never missed.
struct Stop {
    #[cfg(unix)]
    signals: Vec<tokio::signal::unix::Signal>,
    stdin_closed: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Stop {
    /// Installs the handlers; must run inside the runtime.
    fn install(stdin_closed: Option<tokio::sync::oneshot::Receiver<()>>) -> Self {
        #[cfg(unix)]
        let signals = {
            use tokio::signal::unix::{SignalKind, signal};
            [SignalKind::interrupt(), SignalKind::terminate()]
                .into_iter()
                .filter_map(|k| signal(k).ok())
                .collect()
        };
        Self {
            #[cfg(unix)]
            signals,
            stdin_closed,
        }
    }

    /// Resolves when one of them fires.
    async fn wait(self) {
        let stdin = async {
            match self.stdin_closed {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        let signal = async {
            let mut signals = self.signals;
            if signals.is_empty() {
                return std::future::pending().await;
            }
            std::future::poll_fn(|cx| {
                for s in &mut signals {
                    if s.poll_recv(cx).is_ready() {
                        return std::task::Poll::Ready(());
                    }
                }
                std::task::Poll::Pending
            })
            .await
        };
        #[cfg(not(unix))]
        let signal = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tokio::select! {
            () = signal => {}
            () = stdin => {}
        }
    }
}

/// When stdin is a pipe or a socket: a receiver that fires once it reaches end of file.
/// A plain thread reads it, so the runtime never waits on a blocking read at exit.
fn watch_stdin() -> Option<tokio::sync::oneshot::Receiver<()>> {
    if !stdin_is_pipe() {
        return None;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = tx.send(());
        })
        .ok()?;
    Some(rx)
}

#[cfg(unix)]
fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/stdin").is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket()
    })
}

#[cfg(not(unix))]
fn stdin_is_pipe() -> bool {
    false
}

/// Milliseconds (fractions allowed) as a duration.
fn parse_ms(s: &str) -> Result<Duration, String> {
    let ms: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of milliseconds, e.g. 5 or 0.25".to_string())?;
    if !(0.0..=86_400_000.0).contains(&ms) {
        return Err("expected milliseconds from 0 to 86400000 (one day)".into());
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

fn parse_queue_ms(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("expected a finite number of milliseconds of at least 0, e.g. 12.5".into()),
    }
}

/// `STATUS:FRACTION`, e.g. `500:0.1`.
fn parse_fail_status(s: &str) -> Result<(u16, f64), String> {
    const ACCEPTED: &str = "expected STATUS:FRACTION with a status from 400 to 599 and a fraction from 0 to 1, e.g. 500:0.1";
    let (status, fraction) = s.split_once(':').ok_or(ACCEPTED)?;
    let status: u16 = status.trim().parse().map_err(|_| ACCEPTED)?;
    let fraction: f64 = fraction.trim().parse().map_err(|_| ACCEPTED)?;
    if !(400..=599).contains(&status) || !(0.0..=1.0).contains(&fraction) {
        return Err(ACCEPTED.into());
    }
    Ok((status, fraction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_match_the_default_behaviour_except_capture() {
        let args = Args::try_parse_from(["cpbench-fake-server"]).unwrap();
        let b = args.behavior();
        assert_eq!(
            b,
            Behavior {
                capture: false,
                ..Behavior::default()
            }
        );
        assert_eq!(args.threads, 1);
        assert_eq!(args.addr(), "127.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn flags_reach_the_behaviour() {
        let args = Args::try_parse_from([
            "cpbench-fake-server",
            "--mode",
            "sse",
            "--chunks",
            "64",
            "--tokens-per-chunk",
            "3",
            "--fail-status",
            "429:0.25",
            "--admin",
            "no-reset",
            "--policies",
            "fifo,priority",
            "--ttft-ms",
            "2.5",
            "--stall-ms",
            "100",
            "--break-stream-after",
            "4",
            "--port",
            "8080",
            "--host",
            "0.0.0.0",
            "--threads",
            "2",
        ])
        .unwrap();
        let b = args.behavior();
        assert_eq!(b.mode, Mode::Sse);
        assert_eq!(b.chunks, 64);
        assert_eq!(b.tokens_per_chunk, 3);
        assert_eq!(b.fail_status, Some((429, 0.25)));
        assert_eq!(b.admin, AdminMode::NoReset);
        assert_eq!(b.policies, ["fifo", "priority"]);
        assert_eq!(b.ttft_delay, Duration::from_micros(2500));
        assert_eq!(b.stall, Some(Duration::from_millis(100)));
        assert_eq!(b.break_stream_after, Some(4));
        assert_eq!(args.addr(), "0.0.0.0:8080".parse().unwrap());
        assert_eq!(args.threads, 2);
    }

    #[test]
    fn bad_values_name_the_flag_the_value_and_what_is_accepted() {
        for (flag, value, accepted) in [
            ("--fail-status", "700:0.1", "from 400 to 599"),
            ("--fail-status", "500:1.5", "fraction from 0 to 1"),
            ("--fail-status", "500", "STATUS:FRACTION"),
            ("--ttft-ms", "-1", "milliseconds"),
            ("--chunk-delay-ms", "fast", "milliseconds"),
            ("--admin", "sometimes", "honest"),
            ("--mode", "grpc", "sse"),
            ("--tokens-per-chunk", "0", "1.."),
        ] {
            let err = Args::try_parse_from(["cpbench-fake-server", &format!("{flag}={value}")])
                .unwrap_err()
                .to_string();
            assert!(err.contains(flag), "{err}");
            assert!(err.contains(value), "{err}");
            assert!(err.contains(accepted), "{flag} {value}: {err}");
        }
    }
}

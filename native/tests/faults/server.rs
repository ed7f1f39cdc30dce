//! A scripted HTTP/1.1 server for fault tests: a std `TcpListener` on 127.0.0.1 and an
//! ephemeral port, a thread per connection, and each request answered by a closure, with a
//! whole response or with raw bytes written by the test (slowly, endlessly, or never).
//! `/health` answers 200 and `/v1/models` 404 (so the models sent are not checked); every
//! request, those included, is logged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a handler knows of a generation request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// How many generation requests (`POST /v1/...`) came before this one, from 0.
    pub(crate) index: usize,
}

/// The answer to one request.
pub(crate) enum Reply {
    /// A whole response; the connection is kept for the next request.
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// The test writes the response itself (head included); the connection is closed after.
    Raw(Box<dyn FnOnce(&mut TcpStream) + Send>),
}

impl Reply {
    /// A JSON response.
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A whole SSE stream: each item becomes one `data: ...` event.
    pub(crate) fn sse<S: AsRef<str>>(events: &[S]) -> Reply {
        let body: String = events
            .iter()
            .map(|e| format!("data: {}\n\n", e.as_ref()))
            .collect();
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type", "text/event-stream".into())],
            body: body.into_bytes(),
        }
    }

    /// Raw bytes written by `f`.
    pub(crate) fn raw(f: impl FnOnce(&mut TcpStream) + Send + 'static) -> Reply {
        Reply::Raw(Box::new(f))
    }
}

/// A non-streamed chat completion with usage.
pub(crate) fn completion() -> serde_json::Value {
    serde_json::json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello there"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    })
}

/// A streamed content chunk.
pub(crate) fn chunk(text: &str) -> String {
    serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        .to_string()
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running scripted server; it lives until the test process ends.
pub(crate) struct Server {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    log: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    /// Starts a server that answers each request with `handler`.
    pub(crate) fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let generation = Arc::new(AtomicUsize::new(0));
        let (l, c) = (log.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let (l, h, g) = (l.clone(), handler.clone(), generation.clone());
                std::thread::spawn(move || serve_connection(stream, &l, &*h, &g));
            }
        });
        Server {
            url,
            log,
            connections,
        }
    }

    /// Every request so far, as `METHOD PATH`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many generation requests (`POST /v1/...`) arrived.
    pub(crate) fn generation_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("POST /v1/"))
            .count()
    }

    /// How many connections were accepted.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve_connection(
    stream: TcpStream,
    log: &Mutex<Vec<String>>,
    handler: &Handler,
    generation: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(format!("{method} {path}"));
        let is_generation = method == "POST" && path.starts_with("/v1/");
        let reply = match path.as_str() {
            "/health" => Reply::Full {
                status: 200,
                headers: vec![],
                body: b"ok".to_vec(),
            },
            "/v1/models" => Reply::json(404, &serde_json::json!({"error": "no such endpoint"})),
            p if p.starts_with("/admin/") => Reply::json(404, &serde_json::json!({})),
            _ => {
                let index = if is_generation {
                    generation.fetch_add(1, Ordering::SeqCst)
                } else {
                    0
                };
                handler(&Request { index })
            }
        };
        match reply {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} Scripted\r\n");
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&body).is_err() {
                    return;
                }
            }
            Reply::Raw(f) => {
                f(&mut stream);
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

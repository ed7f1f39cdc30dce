//! Hostile and broken responses: bounded memory, and failures counted as failures.

use super::server::{Reply, Server, chunk};
use super::*;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the server offers each request: 512 MiB.
const OFFERED: u64 = 512 << 20;

/// Writes `head`, then `OFFERED` bytes of `x` (or until the client goes away), counting what
/// was written into `sent`.
fn flood(s: &mut std::net::TcpStream, head: &str, sent: &AtomicU64) {
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    let block = vec![b'x'; 64 << 10];
    let mut written = 0;
    while written < OFFERED {
        if s.write_all(&block).is_err() {
            break;
        }
        written += block.len() as u64;
        sent.fetch_add(block.len() as u64, Ordering::Relaxed);
    }
}

/// A server that answers every generation request with an endless SSE line (`data: xxx...`
/// with no end of line), and one that answers with a 512 MiB JSON body: each request fails
/// as `too_large`, the client stops reading (it does not take in hundreds of MB), its peak
/// memory stays bounded, and the run exits 1 as every request failed.
#[test]
fn endless_lines_and_huge_bodies_fail_as_too_large_in_bounded_memory() {
    let cases: [(&str, &[&str], &str); 2] = [
        (
            "endless SSE line",
            &["-n", "3", "-r", "5"],
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: ",
        ),
        (
            "huge body",
            &["-n", "2", "-r", "2", "--no-stream"],
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 536870912\r\n\r\n",
        ),
    ];
    for (what, args, head) in cases {
        let sent = Arc::new(AtomicU64::new(0));
        let s = sent.clone();
        let server = Server::start(move |_| {
            let s = s.clone();
            Reply::raw(move |stream| flood(stream, head, &s))
        });
        let dir = temp_dir(&format!("too-large-{}", what.replace(' ', "-")));
        let (out, peak_kib) = output_with_peak_rss(
            scripted_run(&server.url, &dir, &["--arrival", "constant"]).args(args),
            Duration::from_secs(120),
        );
        let sent_mib = sent.load(Ordering::Relaxed) >> 20;
        eprintln!(
            "{what}: peak RSS {} MiB, server sent {sent_mib} MiB",
            peak_kib >> 10
        );
        assert_code(&out, 1);
        let e = text(&out.stderr);
        assert!(e.contains("too_large"), "{what}: {e}");
        let r = only_report(&dir);
        let run = &r.runs[0];
        let n = run.summary.requests_total;
        assert!(n >= 2, "{what}: {n} requests");
        assert_eq!(
            run.summary.errors_by_kind.get("too_large"),
            Some(&n),
            "{what}: {:?}",
            run.summary.errors_by_kind
        );
        assert!(peak_kib > 0, "{what}: peak memory not read");
        assert!(
            peak_kib < 300 << 10,
            "{what}: peak RSS {} MiB",
            peak_kib >> 10
        );
        assert!(
            sent.load(Ordering::Relaxed) < n * OFFERED,
            "{what}: the client read everything the server offered"
        );
    }
}

/// Streams whose frames are not what an OpenAI server sends (not JSON, `choices` not a list,
/// numeric content, `finish_reason: "error"`) fail, even though each ends with `[DONE]`:
/// `malformed`, or `stream_broken` for an error finish. Request 0 is well-formed and
/// succeeds, which shows the script is read as meant.
#[test]
fn malformed_sse_frames_are_failures_never_successes() {
    let bad = [
        ("{not json}", "malformed"),
        (r#"{"choices":5}"#, "malformed"),
        (
            r#"{"choices":[{"index":0,"delta":{"content":5},"finish_reason":null}]}"#,
            "malformed",
        ),
        (
            r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#,
            "stream_broken",
        ),
    ];
    let server = Server::start(move |req| {
        let mut events = vec![chunk("Hello"), chunk(" world")];
        if req.index > 0 {
            events.push(bad[(req.index - 1) % bad.len()].0.to_string());
        }
        events.push("[DONE]".to_string());
        Reply::sse(&events)
    });
    let dir = temp_dir("malformed-sse");
    let out = output(&mut scripted_run(
        &server.url,
        &dir,
        &["-n", "5", "-r", "5", "--arrival", "constant"],
    ));
    assert_code(&out, 0);
    let r = only_report(&dir);
    let run = &r.runs[0];
    assert_eq!(run.summary.requests_total, 5);
    assert_eq!(run.summary.requests_succeeded, 1);
    let records = run.sampled_records();
    // Sent 200 ms apart, so they reach the server in id order.
    for rec in records {
        let kind = rec.outcome.error_key();
        if rec.id == 0 {
            assert_eq!(kind, None, "the well-formed stream: {}", rec.outcome);
        } else {
            let (frame, expected) = bad[(rec.id as usize - 1) % bad.len()];
            assert_eq!(
                kind.as_deref(),
                Some(expected),
                "frame {frame}: {}",
                rec.outcome
            );
        }
    }
    assert_eq!(run.summary.errors_by_kind.get("malformed"), Some(&3));
    assert_eq!(run.summary.errors_by_kind.get("stream_broken"), Some(&1));
}

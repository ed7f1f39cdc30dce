//! Canned responses: SSE events, chat streams, chunked and `Content-Length` framings, and
//! the server steps that write them.

use crate::server::Step;

pub(crate) const DONE: &str = "data: [DONE]\n\n";

pub(crate) fn event(json: &str) -> String {
    format!("data: {json}\n\n")
}

/// A chat chunk carrying `text` (an empty text is a chunk without content).
pub(crate) fn content(text: &str) -> String {
    event(&format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}"#
    ))
}

pub(crate) fn finish() -> String {
    event(
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    )
}

pub(crate) fn usage(prompt: u32, completion: u32) -> String {
    event(&format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{}}}}}"#,
        prompt + completion
    ))
}

/// A whole chat stream: a role chunk, three content chunks, a comment, the finish chunk,
/// usage (when given) and `[DONE]`.
pub(crate) fn chat_stream(with_usage: Option<(u32, u32)>) -> String {
    let mut s = content("");
    s += &content("Hel");
    s += ": keep-alive comment\n\n";
    s += &content("lo");
    s += &content(" world");
    s += &finish();
    if let Some((p, c)) = with_usage {
        s += &usage(p, c);
    }
    s += DONE;
    s
}

/// `payload` in chunked encoding, cut into chunks of `sizes` bytes in turn (so that events
/// straddle chunks), every other chunk with a chunk extension, ending with a trailer.
pub(crate) fn chunked(payload: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = payload;
    let mut k = 0;
    while !rest.is_empty() {
        let n = sizes[k % sizes.len()].min(rest.len());
        let ext = if k % 2 == 1 { ";name=value" } else { "" };
        out.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
        k += 1;
    }
    out.extend_from_slice(b"0\r\nX-Trailer: done\r\n\r\n");
    out
}

/// A chunked `text/event-stream` response.
pub(crate) fn chunked_sse(extra_headers: &str, payload: &str, sizes: &[usize]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n{extra_headers}Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    r.extend_from_slice(&chunked(payload.as_bytes(), sizes));
    r
}

/// A response with a `Content-Length` body.
pub(crate) fn with_length(
    status: &str,
    content_type: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `bytes` as writes of at most `size` bytes, `gap_ms` apart.
pub(crate) fn dribble(bytes: &[u8], size: usize, gap_ms: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, part) in bytes.chunks(size).enumerate() {
        if i > 0 {
            steps.push(Step::Sleep(gap_ms));
        }
        steps.push(Step::Write(part.to_vec()));
    }
    steps
}

pub(crate) fn write(bytes: impl Into<Vec<u8>>) -> Vec<Step> {
    vec![Step::Write(bytes.into())]
}

pub(crate) const CHAT_JSON: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how are you?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;

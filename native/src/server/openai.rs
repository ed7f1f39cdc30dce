//! OpenAI-shaped request parsing and response bodies (chat, completions, embeddings, errors).

use cpbench_core::cluster::prefix::{CHAT_SEPARATOR, block_hashes, token_ids_text};
use cpbench_core::text::{estimate_tokens, mix64, word_at};
use serde::Deserialize;
use serde_json::{Value, json};

/// `max_tokens` when a request does not say.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 256;
/// Embedding dimension when a request does not ask for one (`dimensions`).
pub(crate) const DEFAULT_EMBEDDING_DIM: usize = 8;
/// Largest `dimensions` accepted.
const MAX_EMBEDDING_DIM: usize = 4096;

/// A request-level error: HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }
}

/// OpenAI's error body for a status.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", Value::Null),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("rate_limit_error", json!("rate_limit_exceeded")),
        503 => ("service_unavailable_error", json!("no_instance_available")),
        _ => ("server_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "code": code}})
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The fields of a chat or completions request the control plane uses (others are ignored,
/// as OpenAI-compatible servers do).
#[derive(Debug, Deserialize)]
struct GenerationBody {
    model: String,
    #[serde(default)]
    messages: Option<Vec<ChatMessage>>,
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// vLLM extension; with fixed output lengths it must not exceed `max_tokens`.
    /// (`ignore_eos` is accepted and has no effect: outputs always run to `max_tokens`.)
    #[serde(default)]
    min_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    #[serde(default)]
    content: Value,
}

/// A parsed chat or completions request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generation {
    pub(crate) model: String,
    pub(crate) prompt_tokens: u32,
    pub(crate) max_tokens: u32,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    /// Hashes of the prompt's full blocks, for the instances' prefix caches.
    pub(crate) prefix_blocks: Vec<u64>,
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "malformed JSON body"
        } else {
            "invalid request body"
        };
        ApiError::bad_request(format!("{what}: {e}"))
    })
}

/// Text of a chat message's `content`: a string, or an array of `{"type":"text","text":..}`
/// parts.
fn content_text(content: &Value) -> Result<String, ApiError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = String::new();
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                }
            }
            Ok(out)
        }
        other => Err(ApiError::bad_request(format!(
            "`messages[].content` must be a string or an array of text parts, got {other}"
        ))),
    }
}

/// Parses a `/v1/chat/completions` (`chat = true`) or `/v1/completions` body.
pub(crate) fn parse_generation(body: &[u8], chat: bool) -> Result<Generation, ApiError> {
    let b: GenerationBody = parse_json(body)?;
    let text = if chat {
        let Some(messages) = &b.messages else {
            return Err(ApiError::bad_request(
                "invalid request body: missing field `messages`",
            ));
        };
        if messages.is_empty() {
            return Err(ApiError::bad_request("`messages` must not be empty"));
        }
        // The contents in order, joined by a separator (as a chat template puts the messages
        // one after the other): the text counted and hashed into prefix blocks.
        let mut text = String::new();
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                text.push_str(CHAT_SEPARATOR);
            }
            text.push_str(&content_text(&m.content)?);
        }
        text
    } else {
        match &b.prompt {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(""),
            Some(Value::Array(items)) if items.iter().all(Value::is_u64) => {
                // Token ids: one token each, and blocks of 16 ids.
                let ids: Vec<u64> = items.iter().filter_map(Value::as_u64).collect();
                token_ids_text(&ids)
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "`prompt` must be a string or an array of strings, got {other}"
                )));
            }
            None => {
                return Err(ApiError::bad_request(
                    "invalid request body: missing field `prompt`",
                ));
            }
        }
    };
    let max_tokens = b
        .max_tokens
        .or(b.max_completion_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    if max_tokens == 0 {
        return Err(ApiError::bad_request("`max_tokens` must be at least 1"));
    }
    if let Some(min) = b.min_tokens
        && min > max_tokens
    {
        return Err(ApiError::bad_request(format!(
            "`min_tokens` ({min}) must not exceed `max_tokens` ({max_tokens})"
        )));
    }
    Ok(Generation {
        model: b.model,
        prompt_tokens: estimate_tokens(&text),
        max_tokens,
        stream: b.stream,
        include_usage: b.stream_options.is_some_and(|o| o.include_usage),
        prefix_blocks: block_hashes(&text),
    })
}

#[derive(Debug, Deserialize)]
struct EmbeddingBody {
    model: String,
    input: Value,
    #[serde(default)]
    dimensions: Option<usize>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// A parsed embeddings request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Embedding {
    pub(crate) model: String,
    pub(crate) inputs: Vec<String>,
    pub(crate) tokens: u32,
    pub(crate) dimensions: usize,
}

/// Parses a `/v1/embeddings` body: `input` is a string, an array of strings, or token ids
/// (an array of integers, or an array of such arrays).
pub(crate) fn parse_embedding(body: &[u8]) -> Result<Embedding, ApiError> {
    let b: EmbeddingBody = parse_json(body)?;
    if let Some(f) = &b.encoding_format
        && f != "float"
    {
        return Err(ApiError::bad_request(format!(
            "`encoding_format` `{f}` is not supported; use `float`"
        )));
    }
    let dimensions = b.dimensions.unwrap_or(DEFAULT_EMBEDDING_DIM);
    if !(1..=MAX_EMBEDDING_DIM).contains(&dimensions) {
        return Err(ApiError::bad_request(format!(
            "`dimensions` must be between 1 and {MAX_EMBEDDING_DIM}, got {dimensions}"
        )));
    }
    let bad = || {
        ApiError::bad_request(
            "`input` must be a string, an array of strings, or token ids (an array of integers or of integer arrays)",
        )
    };
    let (inputs, tokens): (Vec<String>, u32) = match &b.input {
        Value::String(s) => (vec![s.clone()], estimate_tokens(s)),
        Value::Array(items) if items.is_empty() => {
            return Err(ApiError::bad_request("`input` must not be empty"));
        }
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let inputs: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let tokens = inputs.iter().map(|s| estimate_tokens(s)).sum();
            (inputs, tokens)
        }
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            (vec![b.input.to_string()], items.len() as u32)
        }
        Value::Array(items) if items.iter().all(Value::is_array) => {
            let mut tokens = 0u32;
            let mut inputs = Vec::new();
            for it in items {
                let ids = it.as_array().ok_or_else(bad)?;
                if !ids.iter().all(Value::is_u64) {
                    return Err(bad());
                }
                tokens += ids.len() as u32;
                inputs.push(it.to_string());
            }
            (inputs, tokens)
        }
        _ => return Err(bad()),
    };
    Ok(Embedding {
        model: b.model,
        inputs,
        tokens,
        dimensions,
    })
}

/// FNV-1a, 64 bits: a stable hash of an input text.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A deterministic unit vector for an input text.
pub(crate) fn embedding_vector(text: &str, dim: usize) -> Vec<f32> {
    let h = fnv1a(text);
    let raw: Vec<f64> = (0..dim as u64)
        .map(|j| {
            let u = (mix64(h ^ mix64(j)) >> 11) as f64 / (1u64 << 53) as f64;
            2.0 * u - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// The text of generated tokens `from..to` of the stream `seed` (one word per token, words
/// separated by spaces).
pub(crate) fn words(seed: u64, from: u32, to: u32) -> String {
    let mut out = String::new();
    for i in from..to {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word_at(seed, u64::from(i)));
    }
    out
}

/// Fields shared by every chunk and response of one request.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) chat: bool,
}

impl Meta {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.chat, chunk) {
            (true, true) => "chat.completion.chunk",
            (true, false) => "chat.completion",
            (false, _) => "text_completion",
        }
    }

    fn choice(&self, text: Option<&str>, finish: Option<&str>, role: bool) -> Value {
        if self.chat {
            let mut delta = serde_json::Map::new();
            if role {
                delta.insert("role".into(), json!("assistant"));
            }
            if let Some(t) = text {
                delta.insert("content".into(), json!(t));
            }
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
        } else {
            json!({"index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": finish})
        }
    }

    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object(true),
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    /// The first chunk of a chat stream: the assistant role, no content.
    pub(crate) fn role_chunk(&self) -> Value {
        self.chunk(json!([self.choice(None, None, true)]))
    }

    /// A chunk carrying generated text.
    pub(crate) fn content_chunk(&self, text: &str) -> Value {
        self.chunk(json!([self.choice(Some(text), None, false)]))
    }

    /// The chunk that ends generation (`finish_reason: "length"`).
    pub(crate) fn finish_chunk(&self) -> Value {
        let choice = if self.chat {
            self.choice(None, Some("length"), false)
        } else {
            self.choice(Some(""), Some("length"), false)
        };
        self.chunk(json!([choice]))
    }

    /// The usage-only chunk sent with `stream_options.include_usage`.
    pub(crate) fn usage_chunk(&self, prompt_tokens: u32, completion_tokens: u32) -> Value {
        let mut v = self.chunk(json!([]));
        v["usage"] = usage(prompt_tokens, completion_tokens);
        v
    }

    /// The whole non-streamed response.
    pub(crate) fn response(&self, text: &str, prompt_tokens: u32, completion_tokens: u32) -> Value {
        let choice = if self.chat {
            json!({
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": null,
                "finish_reason": "length",
            })
        } else {
            json!({"index": 0, "text": text, "logprobs": null, "finish_reason": "length"})
        };
        json!({
            "id": self.id,
            "object": self.object(false),
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": usage(prompt_tokens, completion_tokens),
        })
    }
}

fn usage(prompt_tokens: u32, completion_tokens: u32) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": u64::from(prompt_tokens) + u64::from(completion_tokens),
    })
}

/// The embeddings response.
pub(crate) fn embedding_response(e: &Embedding, prompt_tokens: u32) -> Value {
    let data: Vec<Value> = e
        .inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            json!({"object": "embedding", "index": i, "embedding": embedding_vector(text, e.dimensions)})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": e.model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_bodies_parse_and_default() {
        let g = parse_generation(
            br#"{"model":"m","messages":[{"role":"user","content":"abcdefgh"}],"stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,"min_tokens":3,"max_tokens":5,"temperature":0.3}"#,
            true,
        )
        .unwrap();
        assert_eq!(
            g,
            Generation {
                model: "m".into(),
                prompt_tokens: 2,
                max_tokens: 5,
                stream: true,
                include_usage: true,
                prefix_blocks: Vec::new(),
            }
        );
        // Messages are joined with the separator; blocks are hashed from that text, as the
        // simulator hashes a workload's prompt (sent as one message).
        let long = "x".repeat(100);
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": long},
            {"role": "user", "content": [{"type": "text", "text": "y".repeat(60)}]}
        ]});
        let g = parse_generation(body.to_string().as_bytes(), true).unwrap();
        let text = format!("{long}{CHAT_SEPARATOR}{}", "y".repeat(60));
        assert_eq!(g.prefix_blocks, block_hashes(&text));
        assert_eq!(g.prefix_blocks.len(), 2);
        assert_eq!(g.prompt_tokens, estimate_tokens(&text));
        let one = json!({"model": "m", "messages": [{"role": "user", "content": text}]});
        let g1 = parse_generation(one.to_string().as_bytes(), true).unwrap();
        assert_eq!(g1.prefix_blocks[0], g.prefix_blocks[0]);
        let prompt = json!({"model": "m", "prompt": text});
        let g2 = parse_generation(prompt.to_string().as_bytes(), false).unwrap();
        assert_eq!(g2.prefix_blocks, block_hashes(&text));
        // Token ids: one token each, a block per 16 ids.
        let ids = json!({"model": "m", "prompt": (0..40).collect::<Vec<u32>>()});
        let g3 = parse_generation(ids.to_string().as_bytes(), false).unwrap();
        assert_eq!((g3.prompt_tokens, g3.prefix_blocks.len()), (40, 2));
        let g = parse_generation(br#"{"model":"m","prompt":["ab","cd"]}"#, false).unwrap();
        assert_eq!(g.max_tokens, DEFAULT_MAX_TOKENS);
        assert_eq!(g.prompt_tokens, 1);
        assert!(!g.stream);
    }

    #[test]
    fn bad_bodies_name_the_problem() {
        let e = parse_generation(b"{not json", true).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.message.starts_with("malformed JSON body"),
            "{}",
            e.message
        );
        let e = parse_generation(br#"{"messages":[]}"#, true).unwrap_err();
        assert!(e.message.contains("model"), "{}", e.message);
        let e = parse_generation(br#"{"model":"m"}"#, true).unwrap_err();
        assert!(e.message.contains("messages"), "{}", e.message);
        let e =
            parse_generation(br#"{"model":"m","prompt":"x","max_tokens":-1}"#, false).unwrap_err();
        assert!(
            e.message.contains("max_tokens") || e.message.contains("-1"),
            "{}",
            e.message
        );
        let e = parse_embedding(br#"{"model":"m","input":[1.5]}"#).unwrap_err();
        assert!(e.message.contains("input"), "{}", e.message);
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding_vector("hello", 8);
        assert_eq!(a, embedding_vector("hello", 8));
        assert_ne!(a, embedding_vector("hello!", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        let e =
            parse_embedding(br#"{"model":"m","input":["abcd","efgh"],"dimensions":4}"#).unwrap();
        assert_eq!(e.tokens, 2);
        let v = embedding_response(&e, 2);
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn chunks_have_openai_shapes() {
        let meta = Meta {
            id: "chatcmpl-1".into(),
            created: 1,
            model: "m".into(),
            chat: true,
        };
        assert_eq!(
            meta.role_chunk()["choices"][0]["delta"],
            json!({"role": "assistant"})
        );
        assert_eq!(
            meta.content_chunk("hi")["choices"][0]["delta"]["content"],
            "hi"
        );
        assert_eq!(meta.finish_chunk()["choices"][0]["finish_reason"], "length");
        let u = meta.usage_chunk(3, 4);
        assert_eq!(u["choices"], json!([]));
        assert_eq!(u["usage"]["total_tokens"], 7);
        assert_eq!(words(1, 0, 3).split(' ').count(), 3);
        assert!(words(1, 3, 4).starts_with(' '));
    }
}

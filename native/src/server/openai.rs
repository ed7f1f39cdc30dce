//! OpenAI-shaped request parsing and response bodies (chat, completions, embeddings, errors).

use super::errors::ApiError;
use super::fields::{ContentChars, EmbeddingInput, PromptChars};
use super::limits::{
    MAX_EMBEDDING_DIMENSIONS, MAX_EMBEDDING_FLOATS, MAX_EMBEDDING_INPUTS, MAX_RESPONSE_BYTES,
    embedding_response_bound, generation_response_bound,
};
use bytes::{BufMut, Bytes, BytesMut};
use cpbench_core::text::{mix64, word_at};
use serde::Deserialize;
use serde_json::{Value, json};

/// `max_tokens` when a request does not say.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 256;
/// Embedding dimension when a request does not ask for one (`dimensions`).
pub(crate) const DEFAULT_EMBEDDING_DIM: usize = 8;
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
    prompt: Option<PromptChars>,
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
    content: ContentChars,
}

/// A parsed chat or completions request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generation {
    pub(crate) model: String,
    pub(crate) prompt_tokens: u32,
    pub(crate) max_tokens: u32,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
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

/// Parses a `/v1/chat/completions` (`chat = true`) or `/v1/completions` body.
pub(crate) fn parse_generation(body: &[u8], chat: bool) -> Result<Generation, ApiError> {
    let b: GenerationBody = parse_json(body)?;
    let chars = if chat {
        let Some(messages) = &b.messages else {
            return Err(
                ApiError::bad_request("invalid request body: missing field `messages`")
                    .with_param("messages"),
            );
        };
        if messages.is_empty() {
            return Err(
                ApiError::bad_request("`messages` must not be empty").with_param("messages")
            );
        }
        messages.iter().map(|m| m.content.0).sum()
    } else {
        match b.prompt {
            Some(p) => p.0,
            None => {
                return Err(
                    ApiError::bad_request("invalid request body: missing field `prompt`")
                        .with_param("prompt"),
                );
            }
        }
    };
    let max_tokens = b
        .max_tokens
        .or(b.max_completion_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    if max_tokens == 0 {
        return Err(
            ApiError::bad_request("`max_tokens` must be at least 1").with_param("max_tokens")
        );
    }
    if let Some(min) = b.min_tokens
        && min > max_tokens
    {
        return Err(ApiError::bad_request(format!(
            "`min_tokens` ({min}) must not exceed `max_tokens` ({max_tokens})"
        ))
        .with_param("min_tokens"));
    }
    if !b.stream && generation_response_bound(max_tokens, &b.model) > MAX_RESPONSE_BYTES {
        return Err(ApiError::limit(
            "max_tokens",
            format!(
                "a non-streamed answer of {max_tokens} tokens could exceed this server's limit of {MAX_RESPONSE_BYTES} bytes \
                 for an answer sent whole; ask for fewer tokens or set `stream` to true"
            ),
        ));
    }
    Ok(Generation {
        model: b.model,
        // `estimate_tokens` of the whole text: ceil(characters / 4).
        prompt_tokens: u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX),
        max_tokens,
        stream: b.stream,
        include_usage: b.stream_options.is_some_and(|o| o.include_usage),
    })
}

#[derive(Debug, Deserialize)]
struct EmbeddingBody {
    model: String,
    input: EmbeddingInput,
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
        ))
        .with_param("encoding_format"));
    }
    let dimensions = b.dimensions.unwrap_or(DEFAULT_EMBEDDING_DIM);
    if dimensions == 0 {
        return Err(
            ApiError::bad_request("`dimensions` must be at least 1").with_param("dimensions")
        );
    }
    if dimensions > MAX_EMBEDDING_DIMENSIONS {
        return Err(ApiError::limit(
            "dimensions",
            format!(
                "`dimensions` is {dimensions}; this server's limit is {MAX_EMBEDDING_DIMENSIONS}"
            ),
        ));
    }
    let count = b.input.count;
    if count == 0 {
        return Err(ApiError::bad_request("`input` must not be empty").with_param("input"));
    }
    if count > MAX_EMBEDDING_INPUTS {
        return Err(ApiError::limit(
            "input",
            format!(
                "`input` has {count} inputs; this server's limit is {MAX_EMBEDDING_INPUTS} per request"
            ),
        ));
    }
    let floats = count * dimensions;
    if floats > MAX_EMBEDDING_FLOATS {
        return Err(ApiError::limit(
            "dimensions",
            format!(
                "{count} inputs of {dimensions} dimensions make {floats} numbers; this server's limit is \
                 {MAX_EMBEDDING_FLOATS} numbers (inputs × dimensions) per request"
            ),
        ));
    }
    // Implied by the limits above; kept so that the answer's bound is checked where it is made.
    if embedding_response_bound(count, dimensions, &b.model) > MAX_RESPONSE_BYTES {
        return Err(ApiError::limit(
            "input",
            format!("the answer could exceed this server's limit of {MAX_RESPONSE_BYTES} bytes"),
        ));
    }
    Ok(Embedding {
        model: b.model,
        inputs: b.input.inputs,
        tokens: u32::try_from(b.input.tokens).unwrap_or(u32::MAX),
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

/// Pieces of an embeddings answer of about this many bytes.
const EMBEDDING_PIECE_BYTES: usize = 64 << 10;

/// The embeddings answer, `{"object":"list","data":[{"object":"embedding","index":i,
/// "embedding":[...]}, ...],"model":...,"usage":{...}}`, written in pieces of about
/// [`EMBEDDING_PIECE_BYTES`] as they are asked for: a large answer is never held whole.
pub(crate) struct EmbeddingAnswer {
    e: Embedding,
    prompt_tokens: u32,
    next: usize,
    done: bool,
}

impl EmbeddingAnswer {
    /// The answer to `e`, which used `prompt_tokens` tokens.
    pub(crate) fn new(e: Embedding, prompt_tokens: u32) -> Self {
        Self {
            e,
            prompt_tokens,
            next: 0,
            done: false,
        }
    }

    /// An upper bound of its size in bytes.
    pub(crate) fn size_bound(&self) -> usize {
        embedding_response_bound(self.e.inputs.len(), self.e.dimensions, &self.e.model)
    }

    /// The whole answer at once (for small ones).
    pub(crate) fn whole(self) -> Bytes {
        let mut out = BytesMut::new();
        for piece in self {
            out.extend_from_slice(&piece);
        }
        out.freeze()
    }
}

impl Iterator for EmbeddingAnswer {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = BytesMut::with_capacity(EMBEDDING_PIECE_BYTES + 1024).writer();
        if self.next == 0 {
            out.get_mut().put_slice(br#"{"object":"list","data":["#);
        }
        while self.next < self.e.inputs.len() && out.get_ref().len() < EMBEDDING_PIECE_BYTES {
            let i = self.next;
            let head = if i == 0 { "" } else { "," };
            out.get_mut().put_slice(
                format!(r#"{head}{{"object":"embedding","index":{i},"embedding":"#).as_bytes(),
            );
            let v = embedding_vector(&self.e.inputs[i], self.e.dimensions);
            serde_json::to_writer(&mut out, &v).expect("numbers serialize");
            out.get_mut().put_u8(b'}');
            self.next += 1;
        }
        if self.next == self.e.inputs.len() {
            let model = Value::String(self.e.model.clone());
            let n = self.prompt_tokens;
            out.get_mut().put_slice(
                format!(
                    r#"],"model":{model},"usage":{{"prompt_tokens":{n},"total_tokens":{n}}}}}"#
                )
                .as_bytes(),
            );
            self.done = true;
        }
        Some(out.into_inner().freeze())
    }
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
                include_usage: true
            }
        );
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
        let v: Value = serde_json::from_slice(&EmbeddingAnswer::new(e.clone(), 2).whole()).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], "m");
        assert_eq!(v["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][1]["object"], "embedding");
        let got: Vec<f32> = serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(got, embedding_vector("abcd", 4));
        assert!(EmbeddingAnswer::new(e, 2).size_bound() >= v.to_string().len());
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

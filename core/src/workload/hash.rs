//! The workload hash, in one streaming pass: each request is written into the SHA-256 as the
//! JSON it has always been hashed as (its model name and text made just for that, then
//! dropped), so the hash of a long workload needs no more memory than one request's text.

use super::{RequestSpec, Workload};
use crate::request::{Priority, RequestKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One request as it is hashed: the fields, in this order, of the request specs that held
/// their text (the hash of a workload has never changed with the way it is stored).
#[derive(Serialize)]
struct HashedRequest<'a> {
    id: u64,
    offset_us: u64,
    kind: RequestKind,
    model: &'a str,
    priority: Priority,
    slo_deadline_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    slo_ttft_ms: Option<u64>,
    prompt: &'a str,
    prompt_tokens_est: u32,
    max_tokens: u32,
    inputs: &'a [String],
}

/// Hex SHA-256 of `{"warmup":[...],"requests":[...]}` (see [`Workload::hash`]).
pub(super) fn hash(w: &Workload) -> String {
    let mut sha = Sha256::new();
    let mut buf = Vec::new();
    sha.update(b"{\"warmup\":[");
    add(&mut sha, &mut buf, w, &w.warmup);
    sha.update(b"],\"requests\":[");
    add(&mut sha, &mut buf, w, &w.requests);
    sha.update(b"]}");
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds `specs` as the comma-separated elements of a JSON array; `buf` is reused.
fn add(sha: &mut Sha256, buf: &mut Vec<u8>, w: &Workload, specs: &[RequestSpec]) {
    for (i, r) in specs.iter().enumerate() {
        if i > 0 {
            sha.update(b",");
        }
        let text = w.text(r);
        buf.clear();
        serde_json::to_writer(
            &mut *buf,
            &HashedRequest {
                id: r.id,
                offset_us: r.offset_us,
                kind: r.kind,
                model: w.model(r),
                priority: r.priority,
                slo_deadline_ms: r.slo_deadline_ms,
                slo_ttft_ms: r.slo_ttft_ms,
                prompt: &text.prompt,
                prompt_tokens_est: r.prompt_tokens_est,
                max_tokens: r.max_tokens,
                inputs: &text.inputs,
            },
        )
        .expect("a request always serializes");
        sha.update(&buf);
    }
}

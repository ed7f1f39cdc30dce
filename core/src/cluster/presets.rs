//! Ready-made clusters, with every number derived from public hardware and model facts.
//!
//! | preset | instances | for |
//! |---|---|---|
//! | `default` | `llm-0` Qwen/Qwen2.5-7B-Instruct and `llm-1` meta-llama/Llama-2-13b-chat-hf, each on one A100-80GB; `emb-0` BAAI/bge-m3 on an L4 | the original tool's picture of a control plane |
//! | `single` | `llm-0` Qwen/Qwen2.5-7B-Instruct on an A100-80GB; `emb-0` BAAI/bge-m3 on an L4 | one model, one GPU |
//! | `pool` | `default`, plus mistralai/Mistral-7B-Instruct-v0.3 and Qwen/Qwen2.5-3B-Instruct that only the `aegaeon` pool loads | more models than GPUs |
//! | `tiny` | `llm-0`, `llm-1` (`tiny-llm`), pool model `tiny-llm-b`, `emb-0` (`tiny-embed`): millisecond steps | fast tests over loopback |
//!
//! # How the numbers are derived
//!
//! Hardware (NVIDIA A100 Tensor Core GPU datasheet, 80GB SXM: 2,039 GB/s HBM2e, 312 TFLOP/s
//! dense BF16; NVIDIA L4 datasheet: 300 GB/s GDDR6, 121 TFLOP/s dense BF16):
//! - **Decode is memory-bound.** Every step reads all weights once:
//!   `floor = weight_bytes / HBM bandwidth`. Real kernels reach about 75% of peak bandwidth,
//!   so `base_ms = floor / 0.75` (Qwen2.5-7B: 15.2 GB / 2.039 TB/s = 7.5 ms floor, 10 ms
//!   modelled; vLLM measures 10-12 ms per step at small batch on this GPU).
//! - **Compute per token** is `2 * params` FLOPs, for prompt and generated tokens alike, at
//!   about 50% model-FLOPs utilisation: `prefill_ms_per_token = decode_ms_per_seq =
//!   2 * params / (312e12 * 0.5)`.
//! - **Attention reads the KV cache**: `kv_bytes_per_token = 2 (K and V) * layers *
//!   kv_heads * head_dim * 2 bytes`, so `kv_read_ms_per_1k_tokens = 1000 * kv_bytes_per_token
//!   / HBM bandwidth`. This is the term that makes long contexts slow down decode.
//! - **KV capacity**: vLLM's default `gpu_memory_utilization` 0.9 of 85.0e9 bytes (80 GiB),
//!   minus the weights, minus about 3 GB of activations, divided by `kv_bytes_per_token`.
//! - **Model switch** (`aegaeon`): copying the weights from pinned host memory over PCIe 4.0
//!   x16 at about 25 GB/s effective: `weight_bytes / 25 GB/s`.
//! - **Batching limits**: vLLM's `--max-num-seqs` default 256 and a chunked-prefill budget
//!   (`--max-num-batched-tokens`) of 2048 tokens.
//! - **Prices** are assumptions, typical 2024-25 on-demand list prices of GPU clouds
//!   ($1.79 per A100-80GB GPU-hour; $0.71 per L4 GPU-hour, e.g. a GCP g2-standard-4); put
//!   your own in a cluster file.
//!
//! Models (Hugging Face model cards and `config.json`):
//!
//! | model | params | layers | KV heads x dim | weights (bf16) | KV bytes/token |
//! |---|---|---|---|---|---|
//! | Qwen/Qwen2.5-7B-Instruct | 7.61 B | 28 | 4 x 128 | 15.2 GB | 57,344 |
//! | meta-llama/Llama-2-13b-chat-hf | 13.0 B | 40 | 40 x 128 | 26.0 GB | 819,200 |
//! | mistralai/Mistral-7B-Instruct-v0.3 | 7.25 B | 32 | 8 x 128 | 14.5 GB | 131,072 |
//! | Qwen/Qwen2.5-3B-Instruct | 3.09 B | 36 | 2 x 128 | 6.2 GB | 36,864 |
//! | BAAI/bge-m3 (XLM-RoBERTa-large encoder) | 568 M, 302 M outside the embedding table | 24 | - | 1.1 GB | - |
//!
//! BGE-M3 on an L4: `ms_per_token = 2 * 302e6 / (121e12 * 0.4)` = 0.0125 ms; a batch costs
//! reading the encoder weights once (0.6 GB / 300 GB/s = 2 ms) plus about 2 ms of
//! tokenisation, launch and pooling: `base_ms` = 4 ms. `max_batch` 32 is the original tool's
//! `embedding_batch_size`. Co-located on an A100 (`hybrid`), a batch runs `312 / 121` = 2.6
//! times faster (the ratio of dense BF16 throughput; embedding batches are compute-bound):
//! `scheduler.colocated_embedding_speedup: 2.6`.

use super::ClusterError;
use super::spec::{
    ClusterSpec, EmbeddingInstanceSpec, LlmInstanceSpec, PoolModelSpec, SchedulerSpec, StepCost,
};

/// Names of the built-in presets.
pub const PRESET_NAMES: [&str; 4] = ["default", "single", "pool", "tiny"];

/// A100-80GB SXM price per GPU-hour (assumed on-demand list price).
const A100_USD_PER_HOUR: f64 = 1.79;
/// L4 price per GPU-hour (assumed on-demand list price).
const L4_USD_PER_HOUR: f64 = 0.71;

/// A step on an A100-80GB: the fixed cost of a step, the compute per token (the same for
/// prompt and generated tokens, see the module doc) and the KV-cache read per 1k tokens.
const fn a100_step(base_ms: f64, ms_per_token: f64, kv_read_ms_per_1k_tokens: f64) -> StepCost {
    StepCost {
        base_ms,
        prefill_ms_per_token: ms_per_token,
        decode_ms_per_seq: ms_per_token,
        kv_read_ms_per_1k_tokens,
    }
}

/// Qwen2.5-7B-Instruct on an A100-80GB: 15.2 GB of weights -> 7.5 ms floor / 0.75 = 10 ms;
/// 2 * 7.61e9 / 156e12 = 0.0976 ms per token; 57,344 B/token / 2.039 TB/s = 0.0281 ms per
/// 1k tokens of context.
const QWEN_7B_A100: StepCost = a100_step(10.0, 0.0976, 0.0281);
/// (76.5e9 - 15.2e9 - 3e9) / 57,344 B per token.
const QWEN_7B_KV_TOKENS: u32 = 1_016_000;
/// 15.2 GB / 25 GB/s.
const QWEN_7B_SWITCH_MS: f64 = 610.0;

/// Llama-2-13b-chat on an A100-80GB: 26.0 GB -> 12.8 ms floor / 0.75 = 17 ms;
/// 2 * 13.0e9 / 156e12 = 0.1669 ms per token; 819,200 B/token / 2.039 TB/s = 0.4018 ms per
/// 1k tokens of context (no grouped-query attention).
const LLAMA2_13B_A100: StepCost = a100_step(17.0, 0.1669, 0.4018);
/// (76.5e9 - 26.0e9 - 3e9) / 819,200 B per token.
const LLAMA2_13B_KV_TOKENS: u32 = 57_900;
/// 26.0 GB / 25 GB/s.
const LLAMA2_13B_SWITCH_MS: f64 = 1040.0;

/// Mistral-7B-Instruct-v0.3 on an A100-80GB: 14.5 GB -> 7.1 ms floor / 0.75 = 9.5 ms;
/// 2 * 7.25e9 / 156e12 = 0.0929 ms; 131,072 B/token -> 0.0643 ms per 1k tokens.
const MISTRAL_7B_A100: StepCost = a100_step(9.5, 0.0929, 0.0643);

/// Qwen2.5-3B-Instruct on an A100-80GB: 6.2 GB -> 3.0 ms floor / 0.75 = 4 ms;
/// 2 * 3.09e9 / 156e12 = 0.0396 ms; 36,864 B/token -> 0.0181 ms per 1k tokens.
const QWEN_3B_A100: StepCost = a100_step(4.0, 0.0396, 0.0181);

/// An LLM instance `id` serving `model` on an A100-80GB with vLLM's default batching limits.
fn a100_llm(
    id: &str,
    model: &str,
    step: StepCost,
    kv_cache_tokens: u32,
    model_switch_ms: f64,
) -> LlmInstanceSpec {
    LlmInstanceSpec {
        id: id.into(),
        model: model.into(),
        gpu: "A100-80GB".into(),
        cost_per_hour_usd: A100_USD_PER_HOUR,
        step,
        max_num_seqs: 256,
        max_num_batched_tokens: 2048,
        kv_cache_tokens,
        model_switch_ms,
    }
}

fn qwen_7b(id: &str) -> LlmInstanceSpec {
    a100_llm(
        id,
        "Qwen/Qwen2.5-7B-Instruct",
        QWEN_7B_A100,
        QWEN_7B_KV_TOKENS,
        QWEN_7B_SWITCH_MS,
    )
}

fn llama2_13b(id: &str) -> LlmInstanceSpec {
    a100_llm(
        id,
        "meta-llama/Llama-2-13b-chat-hf",
        LLAMA2_13B_A100,
        LLAMA2_13B_KV_TOKENS,
        LLAMA2_13B_SWITCH_MS,
    )
}

fn bge_m3_l4(id: &str) -> EmbeddingInstanceSpec {
    EmbeddingInstanceSpec {
        id: id.into(),
        model: "BAAI/bge-m3".into(),
        gpu: "L4".into(),
        cost_per_hour_usd: L4_USD_PER_HOUR,
        base_ms: 4.0,
        ms_per_token: 0.0125,
        max_batch: 32,
    }
}

/// The original tool's picture: Qwen2.5-7B and Llama-2-13B on one A100-80GB each, BGE-M3 on
/// an L4.
pub fn default_cluster() -> ClusterSpec {
    ClusterSpec {
        name: "default".into(),
        llm_instances: vec![qwen_7b("llm-0"), llama2_13b("llm-1")],
        embedding_instances: vec![bge_m3_l4("emb-0")],
        pool_models: Vec::new(),
        scheduler: a100_scheduler(),
    }
}

/// Scheduler knobs for clusters of A100s with an L4 embedding server.
fn a100_scheduler() -> SchedulerSpec {
    SchedulerSpec {
        colocated_embedding_speedup: 2.6,
        ..SchedulerSpec::default()
    }
}

/// One Qwen2.5-7B instance on an A100-80GB and BGE-M3 on an L4.
pub fn single() -> ClusterSpec {
    ClusterSpec {
        name: "single".into(),
        llm_instances: vec![qwen_7b("llm-0")],
        embedding_instances: vec![bge_m3_l4("emb-0")],
        pool_models: Vec::new(),
        scheduler: a100_scheduler(),
    }
}

/// `default` plus two models that no instance serves by default: four models on two GPUs,
/// which only the `aegaeon` pool can serve.
pub fn pool() -> ClusterSpec {
    ClusterSpec {
        name: "pool".into(),
        pool_models: vec![
            PoolModelSpec {
                name: "mistralai/Mistral-7B-Instruct-v0.3".into(),
                step: MISTRAL_7B_A100,
            },
            PoolModelSpec {
                name: "Qwen/Qwen2.5-3B-Instruct".into(),
                step: QWEN_3B_A100,
            },
        ],
        ..default_cluster()
    }
}

/// A toy cluster with millisecond steps, small batches and a small KV cache, so tests over
/// loopback HTTP are quick and queueing shows up at a few requests per second.
pub fn tiny() -> ClusterSpec {
    let llm = |id: &str| LlmInstanceSpec {
        id: id.into(),
        model: "tiny-llm".into(),
        gpu: "sim".into(),
        cost_per_hour_usd: 1.0,
        step: StepCost {
            base_ms: 4.0,
            prefill_ms_per_token: 0.01,
            decode_ms_per_seq: 0.1,
            kv_read_ms_per_1k_tokens: 0.0,
        },
        max_num_seqs: 8,
        max_num_batched_tokens: 256,
        kv_cache_tokens: 16_384,
        model_switch_ms: 20.0,
    };
    ClusterSpec {
        name: "tiny".into(),
        llm_instances: vec![llm("llm-0"), llm("llm-1")],
        embedding_instances: vec![EmbeddingInstanceSpec {
            id: "emb-0".into(),
            model: "tiny-embed".into(),
            gpu: "sim".into(),
            cost_per_hour_usd: 0.5,
            base_ms: 2.0,
            ms_per_token: 0.01,
            max_batch: 8,
        }],
        pool_models: vec![PoolModelSpec {
            name: "tiny-llm-b".into(),
            step: StepCost {
                base_ms: 3.0,
                prefill_ms_per_token: 0.01,
                decode_ms_per_seq: 0.1,
                kv_read_ms_per_1k_tokens: 0.0,
            },
        }],
        scheduler: SchedulerSpec {
            embedding_batch_wait_ms: 2.0,
            tbt_target_ms: 30.0,
            adaptive_high_queue: 8,
            adaptive_low_queue: 2,
            adaptive_interval_ms: 20.0,
            ..SchedulerSpec::default()
        },
    }
}

/// The preset called `name`, if there is one.
pub fn by_name(name: &str) -> Option<ClusterSpec> {
    match name {
        "default" => Some(default_cluster()),
        "single" => Some(single()),
        "pool" => Some(pool()),
        "tiny" => Some(tiny()),
        _ => None,
    }
}

impl ClusterSpec {
    /// A built-in preset by name (see [`presets`](self)).
    pub fn preset(name: &str) -> Result<Self, ClusterError> {
        by_name(name).ok_or_else(|| ClusterError::UnknownPreset {
            name: name.to_string(),
            known: PRESET_NAMES.join(", "),
        })
    }
}

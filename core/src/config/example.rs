//! The commented example configs that `sage-cp-bench config` prints.

use super::*;

/// A commented example config for a mode (what `sage-cp-bench config` prints). It parses and
/// validates; the llm example is exactly the default config.
pub fn example_yaml(mode: Mode) -> String {
    let (mode_name, policies) = match mode {
        Mode::Llm => ("llm", "fifo, priority, slo_aware"),
        Mode::Hybrid => ("hybrid", "fifo, hybrid, hybrid_slo"),
    };
    let reference_policies = REFERENCE_POLICIES.join(", ");
    let mode_block = format!(
        "\
# Benchmark mode: llm (LLM requests only) or hybrid (LLM + embedding requests).
mode: {mode_name}
# Control plane base URL; leave out to run against the embedded reference control plane.
# control_plane_url: http://localhost:8080
# Policies to compare, each on the identical request stream. The reference control plane
# implements {reference_policies}.
policies: [{policies}]
"
    );
    let ratio_block = match mode {
        Mode::Llm => {
            "\
# Fraction of LLM requests sent as llm_generate to /v1/completions (the rest: chat).
completions_ratio: 0.0
"
        }
        Mode::Hybrid => {
            "\
# Request mix: shares of LLM and embedding requests (they sum to 1).
llm_ratio: 0.7
embedding_ratio: 0.3
# Fraction of LLM requests sent as llm_generate to /v1/completions (the rest: chat).
completions_ratio: 0.0
# Embedding requests: model, inputs per request (drawn uniformly from the list), and the
# token length of each input.
embedding_model: BAAI/bge-m3
embedding_batch_sizes: [1, 8, 32]
embedding_input_length: {dist: uniform, min: 16, max: 256}
"
        }
    };
    format!(
        "\
# sage-cp-bench {mode} configuration. Every key is optional; unknown keys are errors.
{mode_block}
# Measured requests per policy, and their mean rate (requests per second).
num_requests: 100
request_rate: 10.0
# Arrival process (pattern): poisson | constant | gamma {{burstiness}} (1 = poisson, < 1 burstier)
# | burst {{on_s, off_s}} | trace {{timestamps_ms: [...]}} (or a `trace: {{path: file.jsonl}}`).
arrival: {{pattern: poisson}}
# Weights (normalized by their total) of LLM models and priority classes.
model_distribution:
  Qwen/Qwen2.5-7B-Instruct: 0.5
  meta-llama/Llama-2-13b-chat-hf: 0.5
priority_distribution: {{HIGH: 0.2, NORMAL: 0.5, LOW: 0.3}}
# Token lengths (dist): fixed {{value}} | uniform {{min, max}} | normal {{mean, stddev, min, max}}
# | lognormal {{mean, sigma, min, max}} (mean is the distribution's mean) | empirical (from the
# dataset). Sampled values are rounded and clamped to [min, max].
prompt_length: {{dist: lognormal, mean: 256.0, sigma: 0.6, min: 16, max: 2048}}
output_length: {{dist: lognormal, mean: 32.0, sigma: 0.6, min: 4, max: 512}}
{ratio_block}
# SLOs per priority. LLM requests per token (llm_definition: per_token): TTFT within ttft_ms
# and TPOT within tpot_ms; the deadline sent in X-SLO-Deadline-Ms is ttft + tpot * max_tokens.
# For one end-to-end deadline instead: llm_definition: end_to_end with llm_deadline_ms.
# Embedding requests: end to end within embedding_deadline_ms.
slo:
  llm_definition: per_token
  ttft_ms: {{HIGH: 300, NORMAL: 600, LOW: 1200}}
  tpot_ms: {{HIGH: 75.0, NORMAL: 100.0, LOW: 150.0}}
  # llm_deadline_ms: {{HIGH: 500, NORMAL: 1000, LOW: 2000}}
  embedding_deadline_ms: {{HIGH: 100, NORMAL: 200, LOW: 500}}
# Per-request timeout (seconds), warmup requests per policy, streaming, in-flight limit.
timeout_s: 60.0
warmup_requests: 10
stream: true
# max_concurrency: 256
# Seed of every random stream: the same seed gives the same requests, byte for byte.
seed: 42
# Prompt dataset (ShareGPT .json or .jsonl); then use prompt_length: {{dist: empirical}}.
# dataset: {{path: ShareGPT_V3_unfiltered_cleaned_split.json, format: sharegpt}}
# Prompt reuse, for cache-aware routing (both off unless set).
# Shared prefixes: each LLM prompt is one of `groups` prefixes (synthetic text from the seed,
# prefix_length tokens: a number or a distribution drawn once per group), a blank line, then
# its own text of prompt_length tokens. popularity: uniform | zipf | {{dist: zipf, s: 1.1}}.
# shared_prefixes: {{groups: 32, prefix_length: 2048, popularity: {{dist: zipf, s: 1.1}}}}
# Multi-turn sessions (llm mode): sessions start by the arrival pattern at request_rate
# sessions/s until their turns make num_requests requests. Turn k's prompt is the whole
# conversation so far (earlier user messages of prompt_length tokens and synthetic answers of
# their max_tokens) plus a new message. Turn k+1 is scheduled open loop at turn k's scheduled
# time + max_tokens * answer_ms_per_token + think_time_ms (a number or a distribution).
# turns: {{dist: empirical}} with a ShareGPT dataset replays its conversations.
# sessions: {{turns: {{dist: uniform, min: 2, max: 8}}, think_time_ms: 2000, answer_ms_per_token: 20.0}}
"
    )
}

//! Prefix caching: how a request names the blocks of its prompt, and the model of the KV
//! prefix cache every simulated LLM instance keeps.
//!
//! # Block hashes
//!
//! A prompt is cut into blocks of [`BLOCK_TOKENS`] tokens (16, vLLM's default
//! `--block-size`), and each *full* block is named by a hash of its own tokens **and of every
//! token before it** (chained: block `i`'s hash is computed from block `i - 1`'s hash and block
//! `i`'s tokens), as vLLM's automatic prefix caching does ("Automatic Prefix Caching",
//! vLLM design docs, `docs/design/prefix_caching.md`: `hash(parent hash, block tokens, extra
//! keys)`). Two prompts share their first `k` hashes exactly when they share their first `k`
//! blocks; a prompt's partial last block has no hash and is never cached.
//!
//! The reference control plane never tokenizes: it only has the text, and counts tokens the
//! way [`crate::text::estimate_tokens`] does, four characters per token. So a block here is
//! [`BLOCK_CHARS`] = 64 **characters** (Unicode scalar values, cut on char boundaries; 64 bytes
//! for ASCII text), hashed over its UTF-8 bytes. [`block_hashes`] is the one function that
//! turns a prompt's text into its block hashes ([`BlockHasher`] the same for a text read in
//! pieces); the reference server (from the request body: a completion's prompt, or a chat's
//! message contents one after the other, as it counts their tokens) and the simulator (from
//! the workload's prompt text) both use it, so a real run and `simulate` see the same hits.
//! Embedding requests carry no blocks.
//!
//! # The cache of an LLM instance
//!
//! Every LLM instance keeps a block-based prefix cache inside its KV-cache budget
//! (`kv_cache_tokens`), modelled on vLLM's V1 KV-cache manager (the design doc above and
//! `vllm/v1/core/block_pool.py`), which is the same eviction policy as SGLang's RadixAttention
//! (Zheng et al., "SGLang: Efficient Execution of Structured Language Model Programs",
//! NeurIPS 2024, arXiv:2312.07104, §3: LRU eviction of leaves not referenced by running
//! requests):
//! - **Registration.** When a step completes a full block of a running sequence's prompt,
//!   the block enters the cache under its hash, referenced (pinned) by that sequence. A block
//!   already cached under the same hash (computed concurrently by another sequence) is not
//!   cached twice: the sequence keeps its own copy privately.
//! - **Hits.** When a waiting sequence is admitted into the running batch, the longest run of
//!   its leading block hashes found in the cache is *computed already*: those tokens are not
//!   prefilled (only the uncached tail is), they are shared with every other sequence using
//!   the blocks (one copy in the KV cache), and attention still reads them. At least one
//!   prompt token is always computed (vLLM caps a hit at `prompt - 1` tokens, so a fully cached
//!   prompt recomputes its last block).
//! - **Pinning and LRU.** A block referenced by a running sequence is pinned. When its last
//!   reference goes (the sequence finished, was cancelled or was preempted) it stays cached but
//!   becomes *free*: evictable, in least-recently-freed order (a sequence frees its blocks from
//!   the last to the first, so a prompt's tail is evicted before its head, as in vLLM).
//! - **Budget.** Pinned blocks count in the KV cache in use (`kv_cache_usage`, preemption);
//!   free cached blocks fill the rest of `kv_cache_tokens` and are evicted, oldest first, as
//!   soon as running sequences need the space. A cache therefore never causes a preemption, and
//!   an instance whose prompts share nothing behaves as it would without one.
//! - **Preemption** frees a sequence's blocks like a finish; when it is re-admitted it looks
//!   its prompt up again and hits whatever has not been evicted meanwhile (as vLLM V1 does:
//!   a preempted request's blocks go back to the free queue with their hashes). This is the
//!   one way the cache changes a run whose prompts share no block: under KV pressure a
//!   re-admitted sequence recomputes less than it would without a cache. Without
//!   preemptions such a run is step for step what it would be without a cache, under every
//!   policy (a test in `cluster/tests/prefix_cache.rs`). Re-admissions are not counted in
//!   the hit counters.
//! - **Models.** Blocks are keyed by model as well, so the models an `aegaeon` instance
//!   switches between never hit each other's blocks.
//!
//! Counters per instance (`/admin/metrics`, `prefix_cache`): looked-up prompt tokens and the
//! hit ones (vLLM's `prefix_cache_queries` and `prefix_cache_hits`: each request counts once,
//! at its first admission), hit and missed full blocks, evicted blocks, and the blocks cached
//! now. `POST /admin/reset` empties the caches.

pub(crate) mod cache;

use super::index::ModelIdx;
use crate::text::mix64;

/// Tokens per KV-cache block (vLLM's default `--block-size`).
pub const BLOCK_TOKENS: u32 = 16;

/// Characters per estimated token ([`crate::text::estimate_tokens`]).
pub const CHARS_PER_TOKEN: usize = 4;

/// Characters per block: [`BLOCK_TOKENS`] estimated tokens.
pub const BLOCK_CHARS: usize = BLOCK_TOKENS as usize * CHARS_PER_TOKEN;

/// The hash the first block is chained to.
const ROOT: u64 = 0x7072_6566_6978_0001;

/// The chained hashes of the full [`BLOCK_CHARS`]-character blocks of a prompt, first block
/// first: `block_hashes(a)[..k] == block_hashes(b)[..k]` exactly when (barring a 64-bit
/// collision) `a` and `b` share their first `k * BLOCK_CHARS` characters. The same text gives
/// the same hashes on every platform.
pub fn block_hashes(text: &str) -> Vec<u64> {
    let mut h = BlockHasher::new();
    h.push_str(text);
    h.finish()
}

/// [`block_hashes`] of a text given in pieces (of the pieces one after the other), holding
/// only the block being filled: for a request body read as a stream of strings.
#[derive(Debug, Clone)]
pub struct BlockHasher {
    /// The last full block's hash (the root before the first).
    parent: u64,
    /// The bytes of the block being filled, when it began in an earlier piece.
    open: Vec<u8>,
    /// Characters in the block being filled (always less than [`BLOCK_CHARS`] between calls).
    chars: usize,
    out: Vec<u64>,
}

impl Default for BlockHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockHasher {
    /// A hasher of the empty text.
    pub fn new() -> Self {
        Self {
            parent: ROOT,
            open: Vec::new(),
            chars: 0,
            out: Vec::new(),
        }
    }

    /// Appends `text`.
    pub fn push_str(&mut self, text: &str) {
        if text.is_ascii() {
            self.push_ascii(text.as_bytes());
            return;
        }
        let bytes = text.as_bytes();
        let mut start = 0;
        for (i, _) in text.char_indices() {
            if self.chars == BLOCK_CHARS {
                self.close(&bytes[start..i]);
                start = i;
            }
            self.chars += 1;
        }
        if self.chars == BLOCK_CHARS {
            self.close(&bytes[start..]);
        } else {
            self.open.extend_from_slice(&bytes[start..]);
        }
    }

    /// Appends a token id, as [`token_ids_text`] writes it (four characters).
    pub fn push_token_id(&mut self, id: u64) {
        let mut buf = [0u8; 8];
        let mut n = 0;
        for c in id_chars(id) {
            n += c.encode_utf8(&mut buf[n..]).len();
        }
        self.push_str(std::str::from_utf8(&buf[..n]).expect("UTF-8 encoded chars"));
    }

    /// The hashes of the full blocks of everything appended.
    pub fn finish(self) -> Vec<u64> {
        self.out
    }

    /// [`push_str`](Self::push_str) of ASCII text, where a character is a byte: whole runs
    /// of bytes at once instead of one character at a time (the same blocks).
    fn push_ascii(&mut self, mut bytes: &[u8]) {
        // Between calls the block being filled is never full (`chars < BLOCK_CHARS`).
        while !bytes.is_empty() {
            let take = (BLOCK_CHARS - self.chars).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.chars += take;
            if self.chars == BLOCK_CHARS {
                self.close(head);
            } else {
                self.open.extend_from_slice(head);
            }
            bytes = rest;
        }
    }

    /// Ends the block being filled with `tail`.
    fn close(&mut self, tail: &[u8]) {
        let h = if self.open.is_empty() {
            hash_block(self.parent, tail)
        } else {
            self.open.extend_from_slice(tail);
            let h = hash_block(self.parent, &self.open);
            self.open.clear();
            h
        };
        self.parent = h;
        self.out.push(h);
        self.chars = 0;
    }
}

/// A block's hash from its parent's and its own bytes: 8-byte little-endian words (the last
/// one zero-padded) folded through SplitMix64's finalizer, then the length.
fn hash_block(parent: u64, bytes: &[u8]) -> u64 {
    let mut h = mix64(parent ^ 0x626c_6f63_6b5f_6861);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = mix64(h ^ u64::from_le_bytes(word));
    }
    mix64(h ^ bytes.len() as u64)
}

/// The key of a block of `model` in an instance's cache: its hash salted by the model, so
/// the models sharing an `aegaeon` instance never hit each other's blocks.
pub(crate) fn block_key(model: ModelIdx, hash: u64) -> u64 {
    hash ^ mix64(0x6d6f_6465_6c00_0000 ^ model.0 as u64)
}

/// The text of a prompt given as token ids: four characters per id (its four low-order bytes
/// as characters U+0100..U+01FF; ids past `u32::MAX` as `u32::MAX`), so it counts as one
/// token per id and its blocks are the ids' blocks of 16.
pub fn token_ids_text(ids: &[u64]) -> String {
    ids.iter().flat_map(|&id| id_chars(id)).collect()
}

fn id_chars(id: u64) -> [char; 4] {
    let id = u32::try_from(id).unwrap_or(u32::MAX);
    id.to_le_bytes()
        .map(|b| char::from_u32(0x100 + u32::from(b)).expect("U+0100..U+01FF are chars"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{estimate_tokens, synthetic_text};

    #[test]
    fn only_full_blocks_have_hashes() {
        assert!(block_hashes("").is_empty());
        assert!(block_hashes(&"a".repeat(63)).is_empty());
        assert_eq!(block_hashes(&"a".repeat(64)).len(), 1);
        assert_eq!(block_hashes(&"a".repeat(127)).len(), 1);
        assert_eq!(block_hashes(&"a".repeat(128)).len(), 2);
        // Characters, not bytes: 64 two-byte characters are one block.
        assert_eq!(block_hashes(&"é".repeat(64)).len(), 1);
        assert_eq!(block_hashes(&"é".repeat(63)).len(), 0);
        // Never more blocks than estimated tokens / 16.
        for n in [0, 1, 63, 64, 65, 1000, 4096] {
            let t = "x".repeat(n);
            assert!(block_hashes(&t).len() as u32 <= estimate_tokens(&t) / BLOCK_TOKENS);
        }
    }

    #[test]
    fn shared_prefixes_share_leading_hashes() {
        let system = synthetic_text(1, 1024);
        let a = format!("{system}{}", synthetic_text(2, 300));
        let b = format!("{system}{}", synthetic_text(3, 300));
        let (ha, hb) = (block_hashes(&a), block_hashes(&b));
        let shared = system.chars().count() / BLOCK_CHARS;
        assert!(shared >= 60, "{shared}");
        assert_eq!(ha[..shared], hb[..shared]);
        // The block where the texts differ, and every block after it, differ.
        for i in shared..ha.len().min(hb.len()) {
            assert_ne!(ha[i], hb[i], "block {i}");
        }
        // Chained: the same block text after a different prefix hashes differently.
        let tail = "y".repeat(64);
        let c = block_hashes(&format!("{}{tail}", "a".repeat(64)));
        let d = block_hashes(&format!("{}{tail}", "b".repeat(64)));
        assert_ne!(c[1], d[1]);
        // One changed character changes its block and every later one.
        let mut e: Vec<char> = a.chars().collect();
        e[200] = if e[200] == 'q' { 'z' } else { 'q' };
        let he = block_hashes(&e.into_iter().collect::<String>());
        assert_eq!(he[..3], ha[..3]);
        assert!((3..ha.len()).all(|i| he[i] != ha[i]));
    }

    #[test]
    fn hashes_are_pinned() {
        // Golden values, the same on every platform: a change here changes which blocks of
        // recorded workloads hit.
        let h = block_hashes(&"The quick brown fox jumps over the lazy dog. ".repeat(3));
        assert_eq!(h, vec![0x16c5_f845_0ad9_5807, 0x846c_dddb_f824_143e]);
    }

    #[test]
    fn pieces_hash_as_their_concatenation() {
        let text = format!("{}é{}", synthetic_text(5, 200), "ü".repeat(70));
        let whole = block_hashes(&text);
        let chars: Vec<char> = text.chars().collect();
        for cuts in [
            vec![1],
            vec![63, 64, 65],
            vec![10, 200, 201, 640],
            vec![0, 0, 5],
        ] {
            let mut h = BlockHasher::new();
            let mut from = 0;
            for &c in &cuts {
                let to = c.max(from).min(chars.len());
                h.push_str(&chars[from..to].iter().collect::<String>());
                from = to;
            }
            h.push_str(&chars[from..].iter().collect::<String>());
            assert_eq!(h.finish(), whole, "{cuts:?}");
        }
        let ids: Vec<u64> = (0..50).map(|i| i * 7919).chain([u64::MAX]).collect();
        let mut h = BlockHasher::new();
        for &id in &ids {
            h.push_token_id(id);
        }
        assert_eq!(h.finish(), block_hashes(&token_ids_text(&ids)));
    }

    #[test]
    fn token_ids_count_one_token_each() {
        let ids: Vec<u64> = (0..40).map(|i| i * 1000).collect();
        let t = token_ids_text(&ids);
        assert_eq!(estimate_tokens(&t), 40);
        assert_eq!(block_hashes(&t).len(), 2);
        let mut other = ids.clone();
        other[20] += 1;
        let (a, b) = (block_hashes(&t), block_hashes(&token_ids_text(&other)));
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
    }
}

//! The block store of one instance's prefix cache (see the [module docs](super)): cached
//! blocks with their reference counts, the free ones in eviction order, the router's view of
//! the blocks routed to the instance, and the counters.
//!
//! The store counts blocks; the instance does the token arithmetic of its KV budget (a block
//! is [`BLOCK_TOKENS`](super::BLOCK_TOKENS) tokens).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by block keys. The keys are hashes already (SplitMix64 outputs, model-salted),
/// so they index the table as they are: hashing them again (SipHash) only costs time. Never
/// iterated, so its order cannot show in any result.
type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// The hasher of a [`KeyMap`]: the key itself.
#[derive(Debug, Clone, Copy, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed (`write_u64`); anything else folds in byte by byte.
        for &b in bytes {
            self.0 = crate::text::mix64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A cached block.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Running sequences referencing it; 0 = free (evictable).
    refs: u32,
    /// Its place in the free queue while free.
    freed_at: u64,
}

/// Counters of one cache (zeroed with the instance's other counters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrefixStats {
    /// Prompt tokens of the requests looked up (each request once, at its first admission).
    pub(crate) queried_tokens: u64,
    /// Of those, tokens found cached.
    pub(crate) hit_tokens: u64,
    /// Full prompt blocks found cached.
    pub(crate) hit_blocks: u64,
    /// Full prompt blocks not found (to prefill).
    pub(crate) miss_blocks: u64,
    /// Free blocks evicted to make room for running sequences.
    pub(crate) evicted_blocks: u64,
}

/// What a lookup found: the leading blocks cached, and how many of them are free now (and
/// so would be pinned, taking KV budget, by a sequence using them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lookup {
    pub(crate) hits: usize,
    pub(crate) free_hits: usize,
}

/// One instance's cached blocks, keyed by (model-salted) block hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrefixCache {
    blocks: KeyMap<Block>,
    /// Free blocks in eviction order: least recently freed first.
    free: BTreeMap<u64, u64>,
    tick: u64,
    /// Prompt blocks of the sequences routed to the instance and still there, with their
    /// multiplicity: what will be cached once they are prefilled (the router's view).
    routed: KeyMap<u32>,
    pub(crate) stats: PrefixStats,
}

impl PrefixCache {
    /// Blocks cached (pinned and free).
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Free (evictable) cached blocks.
    pub(crate) fn free_len(&self) -> usize {
        self.free.len()
    }

    /// The longest run of `keys`' leading blocks that is cached, at most `max` blocks.
    pub(crate) fn lookup(&self, keys: &[u64], max: usize) -> Lookup {
        let mut found = Lookup {
            hits: 0,
            free_hits: 0,
        };
        for k in keys.iter().take(max) {
            let Some(b) = self.blocks.get(k) else {
                break;
            };
            found.hits += 1;
            found.free_hits += usize::from(b.refs == 0);
        }
        found
    }

    /// The leading blocks of `keys` that are cached or routed here (the router's view of a
    /// request's cached prefix on this instance).
    pub(crate) fn routed_match(&self, keys: impl Iterator<Item = u64>) -> usize {
        keys.take_while(|k| self.blocks.contains_key(k) || self.routed.contains_key(k))
            .count()
    }

    /// Records `keys` as routed here.
    pub(crate) fn add_routed(&mut self, keys: &[u64]) {
        for &k in keys {
            *self.routed.entry(k).or_insert(0) += 1;
        }
    }

    /// Forgets `keys` as routed here (their sequence left).
    pub(crate) fn remove_routed(&mut self, keys: &[u64]) {
        for k in keys {
            if let Some(n) = self.routed.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.routed.remove(k);
                }
            }
        }
    }

    /// Adds a reference to each of `keys` (all cached); free ones leave the free queue.
    pub(crate) fn pin(&mut self, keys: &[u64]) {
        for k in keys {
            if let Some(b) = self.blocks.get_mut(k) {
                if b.refs == 0 {
                    self.free.remove(&b.freed_at);
                }
                b.refs += 1;
            }
        }
    }

    /// Caches a block just computed, referenced once; `false` (and nothing changes) when a
    /// block with that key is cached already.
    pub(crate) fn insert_pinned(&mut self, key: u64) -> bool {
        match self.blocks.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(Block {
                    refs: 1,
                    freed_at: 0,
                });
                true
            }
        }
    }

    /// Drops a reference to each of `keys`, last block first; returns how many became free.
    pub(crate) fn release(&mut self, keys: &[u64]) -> usize {
        let mut freed = 0;
        for k in keys.iter().rev() {
            let Some(b) = self.blocks.get_mut(k) else {
                continue;
            };
            b.refs -= 1;
            if b.refs == 0 {
                self.tick += 1;
                b.freed_at = self.tick;
                self.free.insert(self.tick, *k);
                freed += 1;
            }
        }
        freed
    }

    /// Evicts up to `n` free blocks, least recently freed first; returns how many went.
    pub(crate) fn evict(&mut self, n: usize) -> usize {
        let mut gone = 0;
        while gone < n {
            let Some((_, key)) = self.free.pop_first() else {
                break;
            };
            self.blocks.remove(&key);
            gone += 1;
        }
        self.stats.evicted_blocks += gone as u64;
        gone
    }

    /// Drops every free block (not counted as evictions); pinned blocks stay, in use.
    pub(crate) fn clear_free(&mut self) {
        while let Some((_, key)) = self.free.pop_first() {
            self.blocks.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_are_the_leading_cached_run() {
        let mut c = PrefixCache::default();
        for k in [1, 2, 3, 5] {
            assert!(c.insert_pinned(k));
        }
        assert!(!c.insert_pinned(2), "a key is cached once");
        assert_eq!(
            c.lookup(&[1, 2, 3, 4, 5], 10),
            Lookup {
                hits: 3,
                free_hits: 0
            }
        );
        assert_eq!(c.lookup(&[1, 2, 3], 2).hits, 2);
        assert_eq!(c.lookup(&[9, 1], 10).hits, 0);
        assert_eq!(c.release(&[1, 2]), 2);
        assert_eq!(
            c.lookup(&[1, 2, 3], 10),
            Lookup {
                hits: 3,
                free_hits: 2
            }
        );
    }

    #[test]
    fn pinned_blocks_are_never_evicted() {
        let mut c = PrefixCache::default();
        for k in 1..=4 {
            c.insert_pinned(k);
        }
        c.pin(&[1, 2]); // a second sequence shares 1 and 2
        assert_eq!(
            c.release(&[1, 2, 3, 4]),
            2,
            "3 and 4 free; 1 and 2 still used"
        );
        assert_eq!(c.free_len(), 2);
        assert_eq!(c.evict(10), 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup(&[1, 2, 3], 10).hits, 2);
        assert_eq!(c.stats.evicted_blocks, 2);
        assert_eq!(c.release(&[1, 2]), 2);
        assert_eq!(c.evict(1), 1);
        // The tail (2) was freed first, so it went first.
        assert_eq!(c.lookup(&[1], 10).hits, 1);
        assert_eq!(c.lookup(&[2], 10).hits, 0);
    }

    #[test]
    fn eviction_is_least_recently_freed_first() {
        let mut c = PrefixCache::default();
        for k in [10, 11, 20, 21] {
            c.insert_pinned(k);
        }
        c.release(&[10, 11]); // frees 11, then 10
        c.release(&[20, 21]); // frees 21, then 20
        // Using 10 again and letting it go makes it the most recent.
        c.pin(&[10]);
        c.release(&[10]);
        assert_eq!(c.evict(2), 2);
        assert_eq!(c.lookup(&[10], 9).hits, 1);
        assert_eq!(c.lookup(&[11], 9).hits, 0);
        assert_eq!(c.lookup(&[21], 9).hits, 0);
        assert_eq!(c.lookup(&[20], 9).hits, 1);
    }

    #[test]
    fn clearing_keeps_pinned_blocks_and_routed_view_counts_copies() {
        let mut c = PrefixCache::default();
        c.insert_pinned(1);
        c.insert_pinned(2);
        c.release(&[2]);
        c.clear_free();
        assert_eq!(c.len(), 1);
        assert_eq!(c.stats.evicted_blocks, 0);
        c.add_routed(&[1, 7, 8]);
        c.add_routed(&[1, 7]);
        assert_eq!(c.routed_match([1, 7, 8, 9].into_iter()), 3);
        c.remove_routed(&[1, 7, 8]);
        assert_eq!(c.routed_match([1, 7, 8].into_iter()), 2);
        c.remove_routed(&[1, 7]);
        assert_eq!(c.routed_match([7].into_iter()), 0);
        assert_eq!(c.routed_match([1].into_iter()), 1, "still cached");
    }
}

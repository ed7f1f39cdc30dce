//! How a fuzz input becomes a stream split into reads (shared by the `core` and `native`
//! invariants, the latter by path).

/// Up to `max` cut points in `0..=len` drawn from `seed` (a splitmix64 stream), sorted; the
/// places where a stream of `len` bytes is split into reads.
pub fn cuts(seed: u64, len: usize, max: usize) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = (next() % (max as u64 + 1)) as usize;
    let mut out: Vec<usize> = (0..n)
        .map(|_| (next() % (len as u64 + 1)) as usize)
        .collect();
    out.sort_unstable();
    out
}

/// `input` split at `cuts` (sorted, each at most `input.len()`): the reads, empty ones
/// included.
pub fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for &c in cuts {
        let c = c.clamp(from, input.len());
        parts.push(&input[from..c]);
        from = c;
    }
    parts.push(&input[from..]);
    parts
}

/// The first 8 bytes of `data` as a seed (zero-padded) and the rest: how a fuzz input carries
/// both the split points and the bytes to split.
pub fn seed_and_rest(data: &[u8]) -> (u64, &[u8]) {
    let n = data.len().min(8);
    let mut seed = [0u8; 8];
    seed[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(seed), &data[n..])
}

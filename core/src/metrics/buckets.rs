//! Time buckets that widen as a run grows: the per-second lists of a run (its
//! [`TimeSeries`](super::TimeSeries) and each instance's counts) hold at most [`MAX_BUCKETS`]
//! entries. A run longer than that many seconds gets buckets of 2, 4, 8... seconds: whenever
//! the next bucket would pass the limit, neighbouring buckets are merged in pairs. Bucket `i`
//! of width `w` covers seconds `[i * w, (i + 1) * w)` from the run's start, so lists of
//! different widths (always powers of two) line up and merge without loss of counts.

/// The most buckets a per-time list holds (one hour at one-second buckets).
pub const MAX_BUCKETS: usize = 3600;

/// The widest bucket a saved accumulator may claim, in seconds (2^40 s: far beyond any run).
const MAX_WIDTH_S: u64 = 1 << 40;

/// Reads a bucket width from a saved accumulator (a shard's result: untrusted), accepting only
/// what the accumulators make: a power of two up to 2^40 seconds.
pub(crate) fn deserialize_width<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::Deserialize;
    let w = u64::deserialize(d)?;
    if w.is_power_of_two() && w <= MAX_WIDTH_S {
        Ok(w)
    } else {
        Err(serde::de::Error::custom(format!(
            "bucket_s {w}: a power of two from 1 to 2^40 seconds is accepted"
        )))
    }
}

/// The bucket of `second` in `v` (buckets of `width_s` seconds), first merging the buckets in
/// pairs (`2i` and `2i + 1` into `i`, doubling `width_s`) as often as it takes for that
/// bucket to be below [`MAX_BUCKETS`].
pub(crate) fn bucket_for<T: Default>(
    v: &mut Vec<T>,
    width_s: &mut u64,
    second: u64,
    merge: impl FnMut(&mut T, T),
) -> usize {
    let mut merge = merge;
    while second / *width_s >= MAX_BUCKETS as u64 {
        halve(v, &mut merge);
        *width_s *= 2;
    }
    (second / *width_s) as usize
}

/// Widens `v` from `from_s` to `to_s` seconds a bucket (`to_s` a power-of-two multiple of
/// `from_s`; nothing when it is not wider).
pub(crate) fn widen<T: Default>(
    v: &mut Vec<T>,
    from_s: &mut u64,
    to_s: u64,
    merge: impl FnMut(&mut T, T),
) {
    let mut merge = merge;
    while *from_s < to_s {
        halve(v, &mut merge);
        *from_s *= 2;
    }
}

/// Merges buckets `2i` and `2i + 1` into bucket `i`.
fn halve<T: Default>(v: &mut Vec<T>, merge: &mut impl FnMut(&mut T, T)) {
    let old = std::mem::take(v);
    v.reserve(old.len().div_ceil(2));
    let mut it = old.into_iter();
    while let Some(mut a) = it.next() {
        if let Some(b) = it.next() {
            merge(&mut a, b);
        }
        v.push(a);
    }
}

/// Adds the counts of `src` (buckets of `src_s` seconds) to `dst` (buckets of `dst_s` ≥
/// `src_s` seconds, a power-of-two multiple), growing `dst` as needed.
pub(crate) fn add_counts(dst: &mut Vec<u64>, dst_s: u64, src: &[u64], src_s: u64) {
    for (j, &n) in src.iter().enumerate() {
        let i = (j as u64 * src_s / dst_s) as usize;
        if i >= dst.len() {
            dst.resize(i + 1, 0);
        }
        dst[i] += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_past_the_limit_and_keep_every_count() {
        let mut v: Vec<u64> = Vec::new();
        let mut w = 1;
        let mut total = 0;
        for s in 0..(MAX_BUCKETS as u64 * 5) {
            let i = bucket_for(&mut v, &mut w, s, |a, b| *a += b);
            if i >= v.len() {
                v.resize(i + 1, 0);
            }
            v[i] += 1;
            total += 1;
        }
        assert_eq!(w, 8);
        assert!(v.len() <= MAX_BUCKETS);
        assert_eq!(v.iter().sum::<u64>(), total);
        assert!(v[..v.len() - 1].iter().all(|&n| n == 8));
    }

    #[test]
    fn widen_and_add_counts_line_up() {
        let mut a = vec![1u64, 2, 3, 4, 5];
        let mut w = 1;
        widen(&mut a, &mut w, 4, |x, y| *x += y);
        assert_eq!((a.clone(), w), (vec![10, 5], 4));
        let mut dst = vec![0u64; 1];
        add_counts(&mut dst, 4, &[1, 1, 1, 1, 1, 1, 1, 1, 1], 1);
        assert_eq!(dst, vec![4, 4, 1]);
    }
}

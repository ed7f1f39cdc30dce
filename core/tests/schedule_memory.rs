//! The schedule's memory per request stays small, whatever the prompts' lengths: a workload
//! holds what makes each request's text, not the text. Measured by counting this test
//! binary's allocations, as the growth in peak heap from a workload of 100,000 requests to
//! one of 1,000,000 (a ratio between two lengths, so the fixed costs cancel out).

use cpbench_core::config::{BenchmarkConfig, DatasetRef, Mode};
use cpbench_core::dataset::{Dataset, DatasetEntry, DatasetFormat};
use cpbench_core::lengths::LengthDist;
use cpbench_core::text::synthetic_text;
use cpbench_core::workload::{WorkloadData, generate};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the bytes allocated now and the most there were.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(n: usize) {
    let now = NOW.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
// (A global allocator can only be written with `unsafe`; it lives in this test alone.)
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            NOW.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap growth while generating a workload of `n` requests whose prompts come from a
/// dataset of long prompts (8,000 characters each, which the requests would take were their
/// text held), and the workload's request count.
fn peak_generating(n: u64, dataset: &Arc<Dataset>) -> (usize, usize) {
    let mut c = BenchmarkConfig::for_mode(Mode::Llm);
    c.num_requests = n;
    c.request_rate = 1000.0;
    c.dataset = Some(DatasetRef {
        path: "long.jsonl".into(),
        format: Some(DatasetFormat::Jsonl),
    });
    c.prompt_length = LengthDist::Empirical;
    c.output_length = LengthDist::Fixed { value: 8 };
    let data = WorkloadData {
        dataset: Some(Arc::clone(dataset)),
        trace: None,
    };
    let before = NOW.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let w = generate(&c, &data).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (peak, w.requests.len())
}

#[test]
fn a_million_requests_schedule_in_tens_of_megabytes() {
    let dataset = Arc::new(Dataset {
        entries: (0..16)
            .map(|i| DatasetEntry::new(synthetic_text(i, 2000), None))
            .collect(),
        skipped: 0,
    });
    assert!(dataset.entries.iter().all(|e| e.prompt.len() >= 8000));
    let (small, n_small) = peak_generating(100_000, &dataset);
    let (large, n_large) = peak_generating(1_000_000, &dataset);
    let per_request = (large - small) as f64 / (n_large - n_small) as f64;
    eprintln!(
        "peak heap: {:.1} MiB for {n_small} requests, {:.1} MiB for {n_large}: {per_request:.0} bytes per request",
        small as f64 / (1 << 20) as f64,
        large as f64 / (1 << 20) as f64,
    );
    // A spec (at most 80 bytes) and its arrival offset while generating, with room to spare;
    // the prompts alone would be 8,000 bytes a request.
    assert!(
        per_request < 200.0,
        "{per_request:.0} bytes per request of the schedule"
    );
}

//! The checks of a run that become its warnings (the send rate, the output lengths, how
//! tokens were counted, the warmup), kept as running counts over the records as they end,
//! so that no check needs the list of records.

use cpbench_core::metrics::EventSpan;
use cpbench_core::record::{RequestRecord, TokenSource};
use cpbench_core::report::PolicyRun;
use cpbench_core::workload::Workload;

/// p99 send lateness above which the client is said to have fallen behind.
pub const LATENESS_WARN_MS: f64 = 2.0;

/// Running counts over a run's records, from which its warnings are drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunChecks {
    /// Successful LLM requests with a `max_tokens`: tokens got, tokens asked, how many; and
    /// records whose output tokens the server's usage counted.
    output_got: u64,
    output_asked: u64,
    output_n: u64,
    output_by_usage: u64,
    /// Streamed responses whose output tokens were estimated from the text.
    streamed_estimates: u64,
}

impl RunChecks {
    /// Counts one record.
    pub fn add(&mut self, r: &RequestRecord) {
        if r.outcome.is_success() && r.kind.is_llm() && r.max_tokens > 0 {
            self.output_got += u64::from(r.output_tokens);
            self.output_asked += u64::from(r.max_tokens);
            self.output_n += 1;
        }
        if r.output_tokens_source == TokenSource::Usage {
            self.output_by_usage += 1;
        }
        if r.output_tokens_source == TokenSource::Estimated && r.chunks > 1 {
            self.streamed_estimates += 1;
        }
    }

    /// The warnings of these counts for a run of `workload`'s measured requests whose send
    /// times span `sent` (the run's `RunSpans::sent`), in order: send rate, output lengths,
    /// token counts.
    pub fn warnings(&self, workload: &Workload, sent: &EventSpan) -> Vec<String> {
        [
            send_rate_warning(workload, sent),
            self.output_length_warning(),
            self.token_count_warning(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// A warning when the server generated a different number of tokens than asked for
    /// (`max_tokens`, sent with `ignore_eos` and `min_tokens`): more than 10 % off over at
    /// least five successful LLM requests.
    fn output_length_warning(&self) -> Option<String> {
        if self.output_asked == 0 {
            return None;
        }
        let ratio = self.output_got as f64 / self.output_asked as f64;
        let n = self.output_n;
        if n < 5 || (0.9..=1.1).contains(&ratio) {
            return None;
        }
        let how = if self.output_by_usage * 2 >= n {
            "the server's usage"
        } else {
            "counts without usage (see the token source of each record)"
        };
        Some(format!(
            "the server generated {:.0} % of the output tokens the workload asked for (max_tokens, sent with ignore_eos and min_tokens; counted by {how}) over {n} requests: it does not honour them, so output tokens/s and TPOT describe other answers than the workload's",
            ratio * 100.0
        ))
    }

    /// A warning when output tokens had to be estimated from the text: the server sent no
    /// `usage` and its chunks carried several tokens each (so counting chunks would
    /// undercount), and no tokenizer was given.
    fn token_count_warning(&self) -> Option<String> {
        let n = self.streamed_estimates;
        (n > 0).then(|| {
            format!(
                "the server sent no usage and its stream chunks carried several tokens each: the output tokens of {n} requests are estimated from their text (about four characters a token; token_source \"estimated\"), and output tokens/s and TPOT with them; give --tokenizer FILE (the model's tokenizer.json) to count them exactly"
            )
        })
    }
}

/// A warning when requests left the client (their send times spanning `sent`) at a lower
/// rate than `workload`'s schedule asked for.
fn send_rate_warning(workload: &Workload, sent: &EventSpan) -> Option<String> {
    if sent.count < 20 {
        return None;
    }
    let first = workload.requests.first()?.offset_us;
    let last = workload.requests.last()?.offset_us;
    let (sent_min, sent_max) = (sent.first_us, sent.last_us);
    if last <= first || sent_max <= sent_min {
        return None;
    }
    let scheduled = (workload.requests.len() - 1) as f64 / ((last - first) as f64 / 1e6);
    let achieved = (sent.count - 1) as f64 / ((sent_max - sent_min) as f64 / 1e6);
    (achieved < 0.95 * scheduled).then(|| {
        format!(
            "achieved send rate {achieved:.1} req/s is below the schedule's {scheduled:.1} req/s"
        )
    })
}

/// Running counts over the warmup's records: how many, how many failed, and the failure of
/// the lowest request id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarmupCheck {
    /// Records seen.
    pub records: u64,
    /// Of them, failed.
    pub failed: u64,
    /// The failed request with the lowest id, and how it failed.
    pub first_failure: Option<(u64, String)>,
}

impl WarmupCheck {
    /// Counts one record.
    pub fn add(&mut self, r: &RequestRecord) {
        self.records += 1;
        if r.outcome.error_key().is_some() {
            self.failed += 1;
            if self.first_failure.as_ref().is_none_or(|(id, _)| r.id < *id) {
                self.first_failure = Some((r.id, r.outcome.to_string()));
            }
        }
    }
}

/// A warning when the client's p99 send lateness is over [`LATENESS_WARN_MS`].
pub fn lateness_warning(run: &PolicyRun) -> Option<String> {
    let l = run.summary.lateness.as_ref()?;
    (l.p99_ms > LATENESS_WARN_MS).then(|| {
        format!(
            "the client fell behind its schedule: p99 send lateness {:.2} ms > {LATENESS_WARN_MS} ms (latencies are still measured from the intended send times)",
            l.p99_ms
        )
    })
}

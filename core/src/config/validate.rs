//! Checking a config: every problem at once, each naming its field, the value found and
//! what is accepted.

use super::*;

impl BenchmarkConfig {
    /// Checks the whole config and reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut e = ConfigErrors::default();
        self.check_into(&mut e);
        e.into_result()
    }

    /// [`Self::validate`], plus: every policy is one the embedded reference control plane
    /// implements (its names or aliases, [`crate::cluster::Policy::parse`]).
    pub fn validate_for_reference(&self) -> Result<(), ConfigErrors> {
        let mut e = ConfigErrors::default();
        self.check_into(&mut e);
        for (i, p) in self.policies.iter().enumerate() {
            if !p.trim().is_empty() && crate::cluster::Policy::parse(p).is_none() {
                e.push(
                    format!("policies[{i}]"),
                    format!("{p:?}"),
                    format!(
                        "a policy of the reference control plane: {}",
                        crate::cluster::Policy::known_names()
                    ),
                );
            }
        }
        e.into_result()
    }

    fn check_into(&self, e: &mut ConfigErrors) {
        if let Some(url) = &self.control_plane_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|r| r.trim().is_empty()) {
                e.push(
                    "control_plane_url",
                    format!("{url:?}"),
                    "an http:// or https:// URL, or no value for the embedded control plane",
                );
            }
        }

        if self.policies.is_empty() {
            e.push("policies", "[]", "at least one policy name");
        }
        let mut seen = BTreeSet::new();
        for (i, p) in self.policies.iter().enumerate() {
            if p.trim().is_empty() {
                e.push(
                    format!("policies[{i}]"),
                    format!("{p:?}"),
                    "a non-empty policy name",
                );
            } else if !seen.insert(p.as_str()) {
                e.push(
                    format!("policies[{i}]"),
                    format!("{p:?}"),
                    "each policy once (it is listed twice)",
                );
            }
        }

        if self.num_requests > MAX_NUM_REQUESTS {
            e.push(
                "num_requests",
                self.num_requests.to_string(),
                format!(
                    "at most {MAX_NUM_REQUESTS} per run (for more, repeat the run with other seeds)"
                ),
            );
        }
        if self.num_requests == 0 {
            e.push("num_requests", "0", "at least 1 request");
        }
        if !(self.request_rate.is_finite() && self.request_rate > 0.0) {
            e.push(
                "request_rate",
                self.request_rate.to_string(),
                "a finite number > 0 (requests per second)",
            );
        }
        if self.num_requests > 0 && self.warmup_requests >= self.num_requests {
            e.push(
                "warmup_requests",
                self.warmup_requests.to_string(),
                format!("fewer than num_requests ({})", self.num_requests),
            );
        }

        self.check_arrival(e);
        check_weights(
            e,
            "model_distribution",
            self.model_distribution.iter().map(|(k, v)| (k.clone(), *v)),
            true,
        );
        check_weights(
            e,
            "priority_distribution",
            self.priority_distribution
                .iter()
                .map(|(k, v)| (k.to_string(), *v)),
            false,
        );
        self.check_lengths(e);
        self.check_ratios(e);

        if self.embedding_model.trim().is_empty() {
            e.push("embedding_model", "\"\"", "a model name");
        }
        if self.embedding_batch_sizes.is_empty() {
            e.push(
                "embedding_batch_sizes",
                "[]",
                "at least one batch size (inputs per embedding request), e.g. [1, 8, 32]",
            );
        }
        for (i, b) in self.embedding_batch_sizes.iter().enumerate() {
            if *b == 0 || *b > MAX_EMBEDDING_BATCH {
                e.push(
                    format!("embedding_batch_sizes[{i}]"),
                    b.to_string(),
                    format!("1..={MAX_EMBEDDING_BATCH} inputs"),
                );
            }
        }

        self.check_slo(e);
        self.check_reuse(e);

        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0 && self.timeout_s <= MAX_TIMEOUT_S)
        {
            e.push(
                "timeout_s",
                self.timeout_s.to_string(),
                format!("a number of seconds > 0 and at most {MAX_TIMEOUT_S} (a day)"),
            );
        }
        if self.max_concurrency == Some(0) {
            e.push(
                "max_concurrency",
                "0",
                "at least 1, or no value for unbounded",
            );
        }
        if let Some(d) = &self.dataset {
            if d.path.trim().is_empty() {
                e.push("dataset.path", "\"\"", "the path of a dataset file");
            }
            if d.resolved_format().is_none() {
                e.push(
                    "dataset.format",
                    "none",
                    format!(
                        "sharegpt or jsonl (not implied by the extension of {:?})",
                        d.path
                    ),
                );
            }
        }
    }

    fn check_arrival(&self, e: &mut ConfigErrors) {
        e.problems.extend(self.arrival.check());
        match (&self.arrival, &self.trace) {
            (ArrivalConfig::Trace { timestamps_ms }, trace) => {
                if timestamps_ms.is_empty() && trace.is_none() {
                    e.push(
                        "arrival.timestamps_ms",
                        "[]",
                        "inline timestamps, or a `trace: {path: ...}` file to replay",
                    );
                }
                if !timestamps_ms.is_empty() && trace.is_some() {
                    e.push(
                        "trace",
                        "a trace file",
                        "either a trace file or inline arrival.timestamps_ms, not both",
                    );
                }
                // With sessions the timestamps start sessions: generation checks their number.
                if !timestamps_ms.is_empty()
                    && self.sessions.is_none()
                    && (timestamps_ms.len() as u64) < self.num_requests
                {
                    e.push(
                        "arrival.timestamps_ms",
                        format!("{} timestamps", timestamps_ms.len()),
                        format!("at least num_requests ({})", self.num_requests),
                    );
                }
            }
            (other, Some(_)) => e.push(
                "trace",
                "a trace file",
                format!(
                    "no trace file unless arrival.pattern is trace (it is {})",
                    other.name()
                ),
            ),
            (_, None) => {}
        }
        if let Some(t) = &self.trace
            && t.path.trim().is_empty()
        {
            e.push("trace.path", "\"\"", "the path of a JSONL trace file");
        }
    }

    fn check_lengths(&self, e: &mut ConfigErrors) {
        let has_dataset = self.dataset.is_some();
        for (field, dist) in [
            ("prompt_length", &self.prompt_length),
            ("output_length", &self.output_length),
            ("embedding_input_length", &self.embedding_input_length),
        ] {
            e.problems.extend(dist.check(field));
            if dist.is_empirical() && !has_dataset {
                e.push(
                    field,
                    "empirical",
                    "a parametric distribution (fixed, uniform, normal, lognormal), or a `dataset` to take lengths from",
                );
            }
        }
        if has_dataset && !self.prompt_length.is_empirical() {
            e.push(
                "prompt_length",
                self.prompt_length.name(),
                "`{dist: empirical}` when a dataset is set (prompts then come from the dataset)",
            );
        }
    }

    fn check_ratios(&self, e: &mut ConfigErrors) {
        for (field, v) in [
            ("llm_ratio", self.llm_ratio),
            ("embedding_ratio", self.embedding_ratio),
            ("completions_ratio", self.completions_ratio),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                e.push(field, v.to_string(), "a number from 0 to 1");
            }
        }
        let (l, m) = (self.llm_ratio, self.embedding_ratio);
        if !(l.is_finite() && m.is_finite()) {
            return;
        }
        match self.mode {
            Mode::Llm => {
                if m != 0.0 {
                    e.push(
                        "embedding_ratio",
                        m.to_string(),
                        "0 in llm mode (set mode: hybrid to mix llm_ratio / embedding_ratio)",
                    );
                } else if l != 1.0 {
                    e.push(
                        "llm_ratio",
                        l.to_string(),
                        "1 in llm mode (set mode: hybrid to mix llm_ratio / embedding_ratio)",
                    );
                }
            }
            Mode::Hybrid => {
                if (l + m - 1.0).abs() > RATIO_SUM_TOLERANCE {
                    e.push(
                        "llm_ratio + embedding_ratio",
                        format!("{l} + {m} = {}", l + m),
                        "a sum of 1",
                    );
                }
            }
        }
    }

    fn check_slo(&self, e: &mut ConfigErrors) {
        let mut per_priority = |field: &str, v: &PerPriority<u64>| {
            for p in Priority::ALL {
                if v.get(p) == 0 {
                    e.push(format!("slo.{field}.{p}"), "0", "a deadline > 0 ms");
                }
            }
        };
        per_priority("llm_deadline_ms", &self.slo.llm_deadline_ms);
        per_priority("embedding_deadline_ms", &self.slo.embedding_deadline_ms);
        if let Some(t) = &self.slo.ttft_ms {
            per_priority("ttft_ms", t);
        }
        if let Some(t) = self.slo.tpot_ms {
            for p in Priority::ALL {
                let v = t.get(p);
                if !(v.is_finite() && v > 0.0) {
                    e.push(
                        format!("slo.tpot_ms.{p}"),
                        v.to_string(),
                        "a finite number of ms > 0",
                    );
                }
            }
        }
        if self.slo.llm_definition == crate::slo::LlmSloDefinition::PerToken {
            for (field, missing) in [
                ("ttft_ms", self.slo.ttft_ms.is_none()),
                ("tpot_ms", self.slo.tpot_ms.is_none()),
            ] {
                if missing {
                    e.push(
                        format!("slo.{field}"),
                        "null",
                        "targets per priority with llm_definition: per_token (or llm_definition: end_to_end)",
                    );
                }
            }
        }
    }
}

/// The message for a tagged object (`kind` is e.g. "dist `fixed`") whose keys do not fit its
/// tag: `allowed` are its keys, `present` says which of all known keys were given.
pub(crate) fn tagged_fields_error(
    kind: &str,
    allowed: &[&str],
    present: &[(&str, bool)],
) -> Option<String> {
    let quote = |names: Vec<&str>| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let extra: Vec<&str> = present
        .iter()
        .filter(|(n, p)| *p && !allowed.contains(n))
        .map(|(n, _)| *n)
        .collect();
    let missing: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|a| !present.iter().any(|(n, p)| n == a && *p))
        .collect();
    if extra.is_empty() && missing.is_empty() {
        return None;
    }
    let takes = if allowed.is_empty() {
        "no other keys".to_string()
    } else {
        quote(allowed.to_vec())
    };
    let mut msg = format!("{kind} takes {takes}");
    if !missing.is_empty() {
        msg.push_str(&format!("; missing {}", quote(missing)));
    }
    if !extra.is_empty() {
        msg.push_str(&format!("; unexpected {}", quote(extra)));
    }
    Some(msg)
}

fn check_weights(
    e: &mut ConfigErrors,
    field: &str,
    weights: impl Iterator<Item = (String, f64)>,
    keys_are_names: bool,
) {
    let mut total = 0.0;
    let mut count = 0usize;
    let mut all_valid = true;
    for (k, w) in weights {
        count += 1;
        if keys_are_names && k.trim().is_empty() {
            e.push(
                format!("{field}[{k:?}]"),
                "an empty model name",
                "a model name",
            );
        }
        if w.is_finite() && w >= 0.0 {
            total += w;
        } else {
            all_valid = false;
            e.push(
                format!("{field}[{k:?}]"),
                w.to_string(),
                "a finite weight >= 0",
            );
        }
    }
    if count == 0 {
        e.push(field, "{}", "at least one entry with a weight > 0");
    } else if all_valid && !(total > 0.0 && total.is_finite()) {
        e.push(
            field,
            format!("total weight {total}"),
            "weights with a finite total > 0",
        );
    }
}

//! A parser for the Prometheus text exposition format (version 0.0.4), as served at
//! `/metrics` by vLLM, SGLang, TGI and most control planes.
//!
//! Handled: `# HELP` (with its `\\` and `\n` escapes) and `# TYPE` lines, other comments,
//! blank lines, metric names with colons (`vllm:num_requests_running`), label values with the
//! `\\`, `\"` and `\n` escapes (and `,`, `=`, `{`, `}` inside quotes), a trailing comma in
//! the label set, `NaN`, `+Inf` and `-Inf` values, an optional integer timestamp in ms, an
//! OpenMetrics exemplar (` # {...} value`) after the value, `# EOF`, and CRLF line ends.
//!
//! The `prometheus-parse` crate (0.2.5) was not used: its name pattern `\w+` skips every line
//! of a metric with a colon in its name (all of vLLM's), and it splits label sets on `,` and
//! `=` without regard to quoting.
//!
//! A line that does not parse is skipped and reported in [`Exposition::errors`] with its line
//! number; the rest of the text is still read.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A cumulative count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// `_bucket{le=...}`, `_sum` and `_count` series.
    Histogram,
    /// `{quantile=...}`, `_sum` and `_count` series.
    Summary,
    /// No type, or `untyped`.
    Untyped,
}

impl MetricType {
    fn parse(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" | "unknown" => MetricType::Untyped,
            _ => return None,
        })
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric name (`vllm:num_requests_running`, `x_bucket`).
    pub name: String,
    /// Labels sorted by name, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value (may be NaN or infinite).
    pub value: f64,
    /// The timestamp the exposition gave, ms since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The series key: the name and the label set in exposition syntax, labels sorted by name
    /// and values escaped (`m{a="x",b="y\"z"}`; just `m` without labels). Two samples have the
    /// same key exactly when they have the same name and labels.
    pub fn key(&self) -> String {
        let mut k = self.name.clone();
        if !self.labels.is_empty() {
            k.push('{');
            for (i, (name, value)) in self.labels.iter().enumerate() {
                if i > 0 {
                    k.push(',');
                }
                let _ = write!(k, "{name}=\"{}\"", escape_label_value(value));
            }
            k.push('}');
        }
        k
    }

    /// The value of a label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// The samples in the order they appeared.
    pub samples: Vec<Sample>,
    /// Declared types by metric family name.
    pub types: BTreeMap<String, MetricType>,
    /// Help texts by metric family name, unescaped.
    pub help: BTreeMap<String, String>,
    /// Lines skipped because they did not parse.
    pub errors: Vec<LineError>,
}

impl Exposition {
    /// The first sample with this name whose labels include every `(name, value)` given.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        self.samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(n, v)| s.label(n) == Some(*v)))
    }

    /// The type of the family a sample name belongs to: its own `# TYPE`, else that of the
    /// name without a `_bucket`, `_sum`, `_count`, `_total` or `_created` suffix.
    pub fn type_of(&self, name: &str) -> MetricType {
        if let Some(t) = self.types.get(name) {
            return *t;
        }
        ["_bucket", "_sum", "_count", "_total", "_created"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find_map(|base| self.types.get(base).copied())
            .unwrap_or(MetricType::Untyped)
    }
}

/// Escapes a label value for the exposition format (`\\`, `\"`, `\n`).
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a `# HELP` text (`\\`, `\n`).
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Parses a whole exposition; never fails as a whole (see [`Exposition::errors`]).
pub fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_matches([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        let result = if let Some(comment) = trimmed.strip_prefix('#') {
            parse_comment(comment, &mut out);
            Ok(())
        } else {
            parse_sample(trimmed).map(|s| out.samples.push(s))
        };
        if let Err(message) = result {
            out.errors.push(LineError {
                line: i + 1,
                message,
            });
        }
    }
    out
}

/// `# HELP name text`, `# TYPE name type`; anything else after `#` is a comment. A malformed
/// HELP or TYPE line is treated as a comment too, as Prometheus does.
fn parse_comment(rest: &str, out: &mut Exposition) {
    let rest = rest.trim_start_matches([' ', '\t']);
    let (keyword, rest) = split_token(rest);
    let (name, rest) = split_token(rest);
    if name.is_empty() || !is_metric_name(name) {
        return;
    }
    match keyword {
        "HELP" => {
            out.help.insert(name.to_string(), unescape_help(rest));
        }
        "TYPE" => {
            let (t, _) = split_token(rest);
            if let Some(t) = MetricType::parse(t) {
                out.types.insert(name.to_string(), t);
            }
        }
        _ => {}
    }
}

/// The first blank-separated token and the rest (leading blanks removed).
fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// A cursor over one sample line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (label names have no colon, checked by the caller).
    fn name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(is_name_start) {
            return None;
        }
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        Some(&self.s[start..self.pos])
    }

    /// A double-quoted label value, unescaped; the opening quote is next.
    fn quoted(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(format!(
                "expected '\"' to open a label value at column {}",
                self.pos + 1
            ));
        }
        self.pos += 1;
        let mut out = String::new();
        let rest = &self.s[self.pos..];
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("a label value is not closed with '\"'".into())
    }

    /// The next blank-separated token.
    fn token(&mut self) -> &'a str {
        self.skip_blanks();
        let start = self.pos;
        while self.peek().is_some_and(|c| c != b' ' && c != b'\t') {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let mut c = Cursor { s: line, pos: 0 };
    let name = c
        .name()
        .ok_or_else(|| {
            format!(
                "a sample must start with a metric name, got {:?}",
                clip(line)
            )
        })?
        .to_string();
    c.skip_blanks();
    let mut labels = Vec::new();
    if c.peek() == Some(b'{') {
        c.pos += 1;
        loop {
            c.skip_blanks();
            if c.peek() == Some(b'}') {
                c.pos += 1;
                break;
            }
            let label = match c.name() {
                Some(n) if !n.contains(':') => n.to_string(),
                _ => {
                    return Err(format!(
                        "expected a label name or '}}' at column {} of {:?}",
                        c.pos + 1,
                        clip(line)
                    ));
                }
            };
            c.skip_blanks();
            if c.peek() != Some(b'=') {
                return Err(format!(
                    "expected '=' after label {label:?} at column {}",
                    c.pos + 1
                ));
            }
            c.pos += 1;
            c.skip_blanks();
            let value = c.quoted()?;
            if labels.iter().any(|(n, _): &(String, String)| *n == label) {
                return Err(format!("label {label:?} appears twice"));
            }
            labels.push((label, value));
            c.skip_blanks();
            match c.peek() {
                Some(b',') => c.pos += 1,
                Some(b'}') => {}
                _ => {
                    return Err(format!(
                        "expected ',' or '}}' after a label value at column {}",
                        c.pos + 1
                    ));
                }
            }
        }
    }
    let value_text = c.token();
    if value_text.is_empty() {
        return Err(format!("sample {name:?} has no value"));
    }
    let value = parse_value(value_text)
        .ok_or_else(|| format!("sample {name:?}: {value_text:?} is not a number"))?;
    let ts_text = c.token();
    let timestamp_ms = if ts_text.is_empty() || ts_text.starts_with('#') {
        None
    } else {
        Some(ts_text.parse::<i64>().map_err(|_| {
            format!("sample {name:?}: timestamp {ts_text:?} is not an integer (ms)")
        })?)
    };
    if timestamp_ms.is_some() {
        let rest = c.token();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err(format!(
                "sample {name:?}: unexpected {rest:?} after the timestamp"
            ));
        }
    }
    labels.sort();
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// A float as Go's `strconv.ParseFloat` writes them: decimal or exponent notation, `NaN`,
/// `+Inf`, `-Inf` (`Inf` too).
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ if s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E')) =>
        {
            s.parse::<f64>().ok()
        }
        _ => None,
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM: &str = include_str!("../../tests/data/vllm_metrics.txt");

    #[test]
    fn parses_a_captured_vllm_exposition() {
        let e = parse(VLLM);
        assert_eq!(e.errors, vec![], "every line of the capture parses");
        let m = [("model_name", "Qwen/Qwen2.5-7B-Instruct")];
        let running = e.find("vllm:num_requests_running", &m).unwrap();
        assert_eq!(running.value, 3.0);
        assert_eq!(
            running.key(),
            "vllm:num_requests_running{engine=\"0\",model_name=\"Qwen/Qwen2.5-7B-Instruct\"}"
        );
        for (name, value) in [
            ("vllm:num_requests_waiting", 1.0),
            ("vllm:gpu_cache_usage_perc", 0.4375),
            ("vllm:kv_cache_usage_perc", 0.4375),
            ("vllm:prompt_tokens_total", 182_345.0),
            ("vllm:generation_tokens_total", 1.234567e6),
        ] {
            assert_eq!(e.find(name, &m).unwrap().value, value, "{name}");
        }
        assert_eq!(e.type_of("vllm:prompt_tokens_total"), MetricType::Counter);
        assert_eq!(e.type_of("vllm:num_requests_running"), MetricType::Gauge);
        assert_eq!(
            e.type_of("vllm:time_to_first_token_seconds_bucket"),
            MetricType::Histogram
        );
        let inf = e
            .find("vllm:time_to_first_token_seconds_bucket", &[("le", "+Inf")])
            .unwrap();
        assert_eq!(inf.value, 1024.0);
        let count = e
            .find("vllm:time_to_first_token_seconds_count", &m)
            .unwrap();
        assert_eq!(count.value, inf.value, "+Inf bucket equals _count");
        let buckets: Vec<f64> = e
            .samples
            .iter()
            .filter(|s| s.name == "vllm:time_to_first_token_seconds_bucket")
            .map(|s| s.value)
            .collect();
        assert!(buckets.len() > 5);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        assert_eq!(
            e.help["vllm:num_requests_running"],
            "Number of requests in model execution batches."
        );
        // A multi-process Python exporter gauge, and the process collector's.
        assert!(e.find("process_resident_memory_bytes", &[]).is_some());
        assert!(
            e.find("vllm:cache_config_info", &[("block_size", "16")])
                .is_some()
        );
        let finished = e
            .find(
                "vllm:request_success_total",
                &[("finished_reason", "length")],
            )
            .unwrap();
        assert_eq!(finished.value, 900.0);
    }

    #[test]
    fn labels_with_escapes_and_separators_inside_quotes() {
        let e = parse(
            "m{path=\"/a,b=c\",quote=\"say \\\"hi\\\"\",nl=\"x\\ny\",bs=\"C:\\\\dir\",brace=\"}{\",} 1\n",
        );
        assert_eq!(e.errors, vec![]);
        let s = &e.samples[0];
        assert_eq!(s.label("path"), Some("/a,b=c"));
        assert_eq!(s.label("quote"), Some("say \"hi\""));
        assert_eq!(s.label("nl"), Some("x\ny"));
        assert_eq!(s.label("bs"), Some("C:\\dir"));
        assert_eq!(s.label("brace"), Some("}{"));
        // Sorted by name, escaped again in the key.
        assert_eq!(
            s.key(),
            "m{brace=\"}{\",bs=\"C:\\\\dir\",nl=\"x\\ny\",path=\"/a,b=c\",quote=\"say \\\"hi\\\"\"}"
        );
        // The key parses back to the same sample.
        let back = parse(&format!("{} 1", s.key()));
        assert_eq!(back.samples[0], *s);
    }

    #[test]
    fn special_values_timestamps_and_exemplars() {
        let e = parse(
            "a NaN\nb +Inf\nc -Inf\nd 1.5e3 1700000000000\ne{x=\"1\"} 7 -5\nf 2 # {trace_id=\"abc\"} 1.0\n# EOF\n",
        );
        assert_eq!(e.errors, vec![]);
        let v: Vec<f64> = e.samples.iter().map(|s| s.value).collect();
        assert!(v[0].is_nan());
        assert_eq!(
            &v[1..],
            &[f64::INFINITY, f64::NEG_INFINITY, 1500.0, 7.0, 2.0]
        );
        assert_eq!(e.samples[3].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(e.samples[4].timestamp_ms, Some(-5));
        assert_eq!(e.samples[5].timestamp_ms, None);
    }

    #[test]
    fn help_type_comments_blank_lines_and_crlf() {
        let e = parse(
            "# HELP x_total Requests\\nwith a \\\\ in it.\r\n# TYPE x_total counter\r\n\r\n   \n# just a comment\n#\nx_total 3\r\n  y\t4  \n",
        );
        assert_eq!(e.errors, vec![]);
        assert_eq!(e.help["x_total"], "Requests\nwith a \\ in it.");
        assert_eq!(e.types["x_total"], MetricType::Counter);
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[1].name, "y");
        assert_eq!(e.samples[1].value, 4.0);
        assert_eq!(e.type_of("y"), MetricType::Untyped);
    }

    #[test]
    fn bad_lines_are_skipped_with_their_line_number() {
        let e = parse(
            "ok 1\n{a=\"b\"} 2\nm{a=b} 3\nm{a=\"b\" 4\nm{a=\"unclosed} 5\nm 1,5\nm\nm{a=\"1\",a=\"2\"} 1\nm 1 12.5\nm{bad:label=\"x\"} 1\nlast 9\n",
        );
        assert_eq!(
            e.samples
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            vec!["ok", "last"]
        );
        let lines: Vec<usize> = e.errors.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert!(
            e.errors[4].message.contains("\"1,5\" is not a number"),
            "{}",
            e.errors[4]
        );
        assert!(e.errors[6].message.contains("twice"), "{}", e.errors[6]);
    }

    #[test]
    fn escape_round_trips() {
        for v in ["", "plain", "a\"b", "back\\slash", "multi\nline", "\\\"\n"] {
            let line = format!("m{{v=\"{}\"}} 1", escape_label_value(v));
            let e = parse(&line);
            assert_eq!(e.samples[0].label("v"), Some(v), "{line}");
        }
        assert_eq!(unescape_help(&escape_help("a\\b\nc")), "a\\b\nc");
    }
}

//! Reading fields of another tool's document, with errors that name the tool, its version and
//! the field.

use super::ImportError;
use serde_json::Value;

/// The tool and version a document is read for, so errors can name them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) tool: &'static str,
    pub(crate) version: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(tool: &'static str, version: Option<&'a str>) -> Self {
        Self { tool, version }
    }

    pub(crate) fn err(&self, what: impl Into<String>) -> ImportError {
        ImportError::malformed(self.tool, self.version, what.into())
    }

    /// The value at a `/`-separated path, `None` when a step is missing or null.
    pub(crate) fn get<'v>(&self, v: &'v Value, path: &str) -> Option<&'v Value> {
        let mut cur = v;
        for step in path.split('/') {
            cur = match cur {
                Value::Object(o) => o.get(step)?,
                Value::Array(a) => a.get(step.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!cur.is_null()).then_some(cur)
    }

    /// A number at `path`: `None` when absent or null, an error when it is something else.
    /// The strings `inf`/`Infinity` (as some tools write an unbounded rate) read as infinity.
    pub(crate) fn f64(&self, v: &Value, path: &str) -> Result<Option<f64>, ImportError> {
        match self.get(v, path) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if matches!(s.as_str(), "inf" | "Infinity" | "+inf") => {
                Ok(Some(f64::INFINITY))
            }
            Some(other) => Err(self.err(format!("`{path}` is {other}, expected a number"))),
        }
    }

    /// A number at `path` that must be there.
    pub(crate) fn req_f64(&self, v: &Value, path: &str) -> Result<f64, ImportError> {
        self.f64(v, path)?
            .ok_or_else(|| self.err(format!("`{path}` is missing")))
    }

    /// A non-negative whole number at `path` (written as an integer or a float such as
    /// `20.0`): `None` when absent or null.
    pub(crate) fn count(&self, v: &Value, path: &str) -> Result<Option<u64>, ImportError> {
        match self.f64(v, path)? {
            None => Ok(None),
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1e15 => Ok(Some(x as u64)),
            Some(x) => Err(self.err(format!("`{path}` is {x}, expected a count"))),
        }
    }

    /// A string at `path`: `None` when absent or null.
    pub(crate) fn str<'v>(&self, v: &'v Value, path: &str) -> Result<Option<&'v str>, ImportError> {
        match self.get(v, path) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(format!("`{path}` is {other}, expected a string"))),
        }
    }

    /// A list at `path`: `None` when absent or null.
    pub(crate) fn list<'v>(
        &self,
        v: &'v Value,
        path: &str,
    ) -> Result<Option<&'v Vec<Value>>, ImportError> {
        match self.get(v, path) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.err(format!("`{path}` is {}, expected a list", short(other)))),
        }
    }

    /// A list of numbers at `path` (seconds or ms, as the tool wrote them).
    pub(crate) fn numbers(&self, v: &Value, path: &str) -> Result<Option<Vec<f64>>, ImportError> {
        let Some(list) = self.list(v, path)? else {
            return Ok(None);
        };
        list.iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_f64().ok_or_else(|| {
                    self.err(format!("`{path}/{i}` is {}, expected a number", short(x)))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// A value shortened for an error message.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// Seconds to whole microseconds for a histogram; `None` for negative or non-finite values.
pub(crate) fn s_to_us(s: f64) -> Option<u64> {
    ms_to_us(s * 1000.0)
}

/// Milliseconds to whole microseconds for a histogram; `None` for negative or non-finite
/// values.
pub(crate) fn ms_to_us(ms: f64) -> Option<u64> {
    (ms.is_finite() && ms >= 0.0).then(|| libm::round(ms * 1000.0) as u64)
}

/// RFC 3339 (UTC) of a Unix time in seconds, to the second (no clock is read: the time is
/// the file's).
pub(crate) fn rfc3339_utc(unix_s: f64) -> String {
    let secs = libm::floor(unix_s) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_become_rfc3339() {
        assert_eq!(rfc3339_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400.5), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_796_536_364.9), "2026-12-06T05:52:44Z");
    }

    #[test]
    fn fields_are_named_in_errors() {
        let ctx = Ctx::new("X", Some("1.0"));
        let v: Value = serde_json::json!({"a": {"b": "x"}, "n": 20.0, "f": 1.5});
        assert_eq!(ctx.count(&v, "n").unwrap(), Some(20));
        assert_eq!(ctx.f64(&v, "missing").unwrap(), None);
        let e = ctx.f64(&v, "a/b").unwrap_err().to_string();
        assert_eq!(
            e,
            "X 1.0 file is malformed: `a/b` is \"x\", expected a number"
        );
        assert!(ctx.count(&v, "f").is_err());
        assert!(
            ctx.req_f64(&v, "z")
                .unwrap_err()
                .to_string()
                .contains("`z` is missing")
        );
        assert_eq!(ms_to_us(1.2345), Some(1235));
        assert_eq!(s_to_us(-1.0), None);
    }
}

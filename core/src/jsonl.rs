//! Reading JSON Lines: UTF-8 text, one JSON value per non-blank line, errors by line number.

use serde::de::DeserializeOwned;

/// Parses each non-blank line of `bytes` as a `T` and hands it to `each`, in file order.
///
/// The first problem ends the reading: text that is not UTF-8, a line that is not a `T`, or
/// a message `each` returns; `line_error` turns it, with its 1-based line number, into the
/// caller's error.
pub(crate) fn for_each_line<T: DeserializeOwned, E>(
    bytes: &[u8],
    line_error: impl Fn(usize, String) -> E,
    mut each: impl FnMut(T) -> Result<(), String>,
) -> Result<(), E> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        line_error(line, format!("not UTF-8 text: {e}"))
    })?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        serde_json::from_str(line)
            .map_err(|e| e.to_string())
            .and_then(&mut each)
            .map_err(|message| line_error(i + 1, message))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Vec<u32>, (usize, String)> {
        let mut out = Vec::new();
        for_each_line(
            bytes,
            |line, message| (line, message),
            |v: u32| {
                if v == 0 {
                    return Err("zero".to_string());
                }
                out.push(v);
                Ok(())
            },
        )?;
        Ok(out)
    }

    #[test]
    fn skips_blank_lines_and_numbers_the_others_from_one() {
        assert_eq!(read(b"1\n\n  \n2\r\n3"), Ok(vec![1, 2, 3]));
        assert_eq!(read(b"1\n\n0\n"), Err((3, "zero".to_string())));
        let (line, message) = read(b"1\n\"x\"\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("invalid type"), "{message}");
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let (line, message) = read(b"1\n2\n\xff\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(message.starts_with("not UTF-8 text:"), "{message}");
    }
}

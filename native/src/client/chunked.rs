//! An incremental decoder for HTTP/1.1 `Transfer-Encoding: chunked` bodies.
//!
//! Fed bytes exactly as they come off the socket (a chunk-size line, a chunk or the trailer
//! may be split at any byte); hands out the payload as slices of the input, without copying.
//! Chunk extensions and trailer fields are skipped. Bare `\n` line endings are accepted.

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk-size line that is not hexadecimal digits.
    #[error("invalid chunk size line (byte {0:#04x})")]
    BadSize(u8),
    /// A chunk size too large to be real.
    #[error("chunk size overflows 64 bits")]
    SizeOverflow,
    /// A chunk not followed by its line ending.
    #[error("chunk data not followed by CRLF (byte {0:#04x})")]
    MissingCrlf(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size,
    /// Skipping a chunk extension up to the line end.
    Extension,
    /// After the `\r` of a size line.
    SizeLf,
    /// Inside a chunk's data.
    Data,
    /// After a chunk's data, expecting `\r\n`.
    DataCr,
    /// After the `\r` following a chunk's data.
    DataLf,
    /// At the start of a trailer line (an empty one ends the body).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// After the `\r` of the final empty line.
    EndLf,
    /// The body has ended.
    Done,
}

/// Incremental chunked-body decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Size of the current chunk while reading its size line; bytes left while in `Data`.
    size: u64,
    /// Hex digits seen on the current size line.
    digits: u8,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self {
            state: State::Size,
            size: 0,
            digits: 0,
        }
    }

    /// Whether the terminating zero-size chunk and trailer have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, calling `on_data` with each run of payload bytes. Returns how many
    /// bytes of `input` belong to the body: all of them unless the body ended inside it.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
        mut on_data: impl FnMut(&'a [u8]),
    ) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Data => {
                    let take = usize::try_from(self.size)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    on_data(&input[i..i + take]);
                    i += take;
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        // All the digits at once.
                        while let Some(d) = input.get(i).and_then(|&b| (b as char).to_digit(16)) {
                            if self.size > (u64::MAX >> 4) {
                                return Err(ChunkedError::SizeOverflow);
                            }
                            self.size = (self.size << 4) | u64::from(d);
                            self.digits = self.digits.saturating_add(1);
                            i += 1;
                        }
                        continue;
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => self.state = State::Extension,
                    b'\r' if self.digits > 0 => self.state = State::SizeLf,
                    b'\n' if self.digits > 0 => self.end_size_line(),
                    _ => return Err(ChunkedError::BadSize(b)),
                },
                State::Extension => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => self.end_size_line(),
                    _ => {}
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadSize(b));
                    }
                    self.end_size_line();
                }
                State::DataCr => match b {
                    b'\r' if input.get(i + 1) == Some(&b'\n') => {
                        self.start_size_line();
                        i += 2;
                        continue;
                    }
                    b'\r' => self.state = State::DataLf,
                    b'\n' => self.start_size_line(),
                    _ => return Err(ChunkedError::MissingCrlf(b)),
                },
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::MissingCrlf(b));
                    }
                    self.start_size_line();
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::EndLf,
                    b'\n' => self.state = State::Done,
                    _ => self.state = State::TrailerLine,
                },
                State::TrailerLine => {
                    if b == b'\n' {
                        self.state = State::TrailerStart;
                    }
                }
                State::EndLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::MissingCrlf(b));
                    }
                    self.state = State::Done;
                }
                State::Done => return Ok(i),
            }
            i += 1;
        }
        Ok(i)
    }

    fn end_size_line(&mut self) {
        self.state = if self.size == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
    }

    fn start_size_line(&mut self) {
        self.state = State::Size;
        self.size = 0;
        self.digits = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(chunks: &[Vec<u8>], ext: bool, trailer: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:X}", c.len()).as_bytes());
            if ext {
                out.extend_from_slice(b";name=value");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n");
        if trailer {
            out.extend_from_slice(b"X-Trailer: yes\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn decode_in_parts(
        wire: &[u8],
        cuts: &[usize],
    ) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut dec = ChunkedDecoder::new();
        let mut payload = Vec::new();
        let mut consumed = 0;
        let mut from = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        for to in points {
            if to < from {
                continue;
            }
            let part = &wire[from..to];
            let n = dec.decode(part, |d| payload.extend_from_slice(d))?;
            consumed += n;
            if dec.is_done() {
                break;
            }
            from = to;
        }
        Ok((payload, consumed, dec.is_done()))
    }

    #[test]
    fn decodes_a_simple_body_and_stops_at_its_end() {
        let mut wire = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec();
        let body_len = wire.len();
        wire.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        let n = dec.decode(&wire, |d| out.extend_from_slice(d)).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(n, body_len);
        assert!(dec.is_done());
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut dec = ChunkedDecoder::new();
        assert_eq!(
            dec.decode(b"zz\r\n", |_| {}),
            Err(ChunkedError::BadSize(b'z'))
        );
        let mut dec = ChunkedDecoder::new();
        assert_eq!(
            dec.decode(b"2\r\nabX", |_| {}),
            Err(ChunkedError::MissingCrlf(b'X'))
        );
        let mut dec = ChunkedDecoder::new();
        assert_eq!(
            dec.decode(b"\r\n", |_| {}),
            Err(ChunkedError::BadSize(b'\r'))
        );
        let mut dec = ChunkedDecoder::new();
        assert_eq!(
            dec.decode(b"11111111111111111\r\n", |_| {}),
            Err(ChunkedError::SizeOverflow)
        );
    }

    #[test]
    fn bare_newlines_are_accepted() {
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        dec.decode(b"3\nabc\n0\n\n", |d| out.extend_from_slice(d))
            .unwrap();
        assert_eq!(out, b"abc");
        assert!(dec.is_done());
    }

    proptest! {
        /// Wherever the reads split the body, the payload and the body's length are the same.
        #[test]
        fn split_anywhere_decodes_the_same(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            ext in any::<bool>(),
            trailer in any::<bool>(),
        ) {
            let wire = encode(&chunks, ext, trailer);
            let mut with_next = wire.clone();
            with_next.extend_from_slice(b"NEXT");
            let (payload, consumed, done) = decode_in_parts(&with_next, &cuts).unwrap();
            prop_assert_eq!(payload, chunks.concat());
            prop_assert!(done);
            prop_assert_eq!(consumed, wire.len());
        }
    }
}

//! Content-Encoding decoding, streaming and bounded, for every carrier.
//!
//! Body chunks are written into a stack of decoders (the last coding the
//! server applied is undone first) whose innermost writer is a [`Sink`]
//! that counts decoded bytes against `--max-body` and keeps them only when
//! the run needs the body. Each decoder turns its input into output in
//! steps of at most [`STEP`] bytes and hands each step to the next writer
//! at once, so a small compressed chunk that inflates to gigabytes stops
//! at the limit with only a step's worth in memory: a decompression bomb
//! ends as `body_too_large`, never as the process's memory.
//!
//! The decoders are the crates reqwest's own `gzip`, `deflate`, `brotli`
//! and `zstd` features use (flate2, brotli, zstd), driven as `Write`rs so
//! the same code serves the async transports and the blocking threads model.

use std::io::{self, Write};

/// Decoded bytes produced per step by a decoder before the next writer
/// sees them (flate2's own buffer is 32 KiB; brotli's is set to match).
const STEP: usize = 32 * 1024;

/// The largest zstd window accepted: 8 MiB, the limit RFC 9659 sets for
/// `Content-Encoding: zstd`. A frame asking for more is refused instead of
/// reserving up to 128 MiB per body (zstd's own default limit).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// One content coding this build can undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (and its old alias `x-gzip`), members concatenated allowed.
    Gzip,
    /// `deflate`: zlib-wrapped as RFC 9110 says, or raw deflate as some
    /// servers send it (told apart by the zlib header).
    Deflate,
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
}

impl Coding {
    /// The name in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// The `Accept-Encoding` value sent when a run asks for compressed bodies.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// `codings` as a `Content-Encoding` value lists them.
pub(crate) fn names(codings: &[Coding]) -> String {
    let names: Vec<&str> = codings.iter().map(|c| c.as_str()).collect();
    names.join(", ")
}

/// What a `Content-Encoding` header asks of the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Codings {
    /// Nothing to undo (no header, or only `identity`).
    #[default]
    Identity,
    /// The codings in the order the server applied them.
    Known(Vec<Coding>),
    /// A coding this build does not know: the body is kept as it came.
    Unknown,
}

/// Reads every `Content-Encoding` value (a list, possibly over several
/// header lines), in the order the codings were applied.
pub(crate) fn codings<'a>(values: impl Iterator<Item = &'a [u8]>) -> Codings {
    let mut known = Vec::new();
    for value in values {
        for token in value.split(|&b| b == b',') {
            let token = token.trim_ascii();
            let coding = if token.is_empty() || token.eq_ignore_ascii_case(b"identity") {
                continue;
            } else if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
                Coding::Gzip
            } else if token.eq_ignore_ascii_case(b"deflate") {
                Coding::Deflate
            } else if token.eq_ignore_ascii_case(b"br") {
                Coding::Brotli
            } else if token.eq_ignore_ascii_case(b"zstd") {
                Coding::Zstd
            } else {
                return Codings::Unknown;
            };
            known.push(coding);
        }
    }
    if known.is_empty() {
        Codings::Identity
    } else {
        Codings::Known(known)
    }
}

/// Why decoding stopped.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// The decoded body passed the limit.
    TooLarge,
    /// The body is not valid in its coding (corrupt, truncated, trailing
    /// bytes, a zstd window over 8 MiB).
    Invalid(io::Error),
}

/// A body's decoders, from the outermost coding in.
pub(crate) struct Decoder {
    top: Layer,
    codings: Vec<Coding>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("codings", &self.codings)
            .field("decoded", &self.sink().decoded)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Decoders for `codings` (in the order applied); the decoded body is
    /// kept when `keep`, and may not pass `max` bytes.
    pub(crate) fn new(codings: &[Coding], keep: bool, max: u64) -> Result<Decoder, DecodeError> {
        let mut layer = Layer::Sink(Sink::new(keep, max));
        // The first coding applied is undone last: it wraps the sink.
        for &coding in codings {
            layer = Layer::wrap(coding, layer).map_err(DecodeError::Invalid)?;
        }
        Ok(Decoder {
            top: layer,
            codings: codings.to_vec(),
        })
    }

    /// Decodes one chunk of the body as it came off the wire.
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        let written = self.top.write_all(chunk);
        self.verdict(written)
    }

    /// Ends the body: whatever the decoders still hold is flushed, and a
    /// body cut short of its coding's end is an error.
    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        let finished = self.top.finish();
        self.verdict(finished)
    }

    /// The limit on decoded bytes.
    pub(crate) fn max(&self) -> u64 {
        self.sink().max
    }

    /// Decoded bytes so far.
    pub(crate) fn decoded(&self) -> u64 {
        self.sink().decoded
    }

    /// The decoded body kept so far (empty when not kept), taken out.
    pub(crate) fn take_kept(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.top.sink_mut().kept)
    }

    /// The codings, as a `Content-Encoding` value names them.
    pub(crate) fn describe(&self) -> String {
        names(&self.codings)
    }

    fn verdict(&self, r: io::Result<()>) -> Result<(), DecodeError> {
        match r {
            Ok(()) => Ok(()),
            // The sink's own refusal travels up through every decoder as an
            // io::Error; its count says so whatever a decoder made of it.
            Err(_) if self.sink().over() => Err(DecodeError::TooLarge),
            Err(e) => Err(DecodeError::Invalid(e)),
        }
    }

    fn sink(&self) -> &Sink {
        self.top.sink()
    }
}

/// The innermost writer: counts decoded bytes and keeps them if asked.
struct Sink {
    kept: Vec<u8>,
    keep: bool,
    decoded: u64,
    max: u64,
}

impl Sink {
    fn new(keep: bool, max: u64) -> Sink {
        Sink {
            kept: Vec::new(),
            keep,
            decoded: 0,
            max,
        }
    }

    fn over(&self) -> bool {
        self.decoded > self.max
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.decoded = self.decoded.saturating_add(buf.len() as u64);
        if self.over() {
            return Err(io::Error::other("decoded body over --max-body"));
        }
        if self.keep {
            self.kept.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One decoder of the stack, or the sink at its bottom.
enum Layer {
    Sink(Sink),
    Gzip(Box<flate2::write::MultiGzDecoder<Layer>>),
    Zlib(Box<flate2::write::ZlibDecoder<Layer>>),
    RawDeflate(Box<flate2::write::DeflateDecoder<Layer>>),
    /// `deflate` before its first two bytes have told zlib from raw.
    Deflate {
        head: Vec<u8>,
        next: Box<Layer>,
    },
    Brotli(Box<brotli::DecompressorWriter<Layer>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Layer>>),
}

impl Layer {
    fn wrap(coding: Coding, next: Layer) -> io::Result<Layer> {
        Ok(match coding {
            Coding::Gzip => Layer::Gzip(Box::new(flate2::write::MultiGzDecoder::new(next))),
            Coding::Deflate => Layer::Deflate {
                head: Vec::with_capacity(2),
                next: Box::new(next),
            },
            Coding::Brotli => Layer::Brotli(Box::new(brotli::DecompressorWriter::new(next, STEP))),
            Coding::Zstd => {
                let mut d = zstd::stream::write::Decoder::new(next)?;
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Layer::Zstd(Box::new(d))
            }
        })
    }

    fn sink(&self) -> &Sink {
        match self {
            Layer::Sink(s) => s,
            Layer::Gzip(d) => d.get_ref().sink(),
            Layer::Zlib(d) => d.get_ref().sink(),
            Layer::RawDeflate(d) => d.get_ref().sink(),
            Layer::Deflate { next, .. } => next.sink(),
            Layer::Brotli(d) => d.get_ref().sink(),
            Layer::Zstd(d) => d.get_ref().sink(),
        }
    }

    fn sink_mut(&mut self) -> &mut Sink {
        match self {
            Layer::Sink(s) => s,
            Layer::Gzip(d) => d.get_mut().sink_mut(),
            Layer::Zlib(d) => d.get_mut().sink_mut(),
            Layer::RawDeflate(d) => d.get_mut().sink_mut(),
            Layer::Deflate { next, .. } => next.sink_mut(),
            Layer::Brotli(d) => d.get_mut().sink_mut(),
            Layer::Zstd(d) => d.get_mut().sink_mut(),
        }
    }

    /// Flushes this layer into the next, then finishes the next.
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Layer::Sink(_) => Ok(()),
            Layer::Gzip(d) => {
                d.try_finish()?;
                d.get_mut().finish()
            }
            Layer::Zlib(d) => {
                d.try_finish()?;
                d.get_mut().finish()
            }
            Layer::RawDeflate(d) => {
                d.try_finish()?;
                d.get_mut().finish()
            }
            Layer::Deflate { head, next } => {
                if !head.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "deflate stream cut short",
                    ));
                }
                next.finish()
            }
            Layer::Brotli(d) => {
                d.close()?;
                d.get_mut().finish()
            }
            Layer::Zstd(d) => {
                d.do_finish()?;
                d.get_mut().finish()
            }
        }
    }

    /// Once two bytes of a `deflate` body are in, becomes the zlib or the
    /// raw decoder and hands it those bytes.
    fn choose_deflate(&mut self) -> io::Result<()> {
        let Layer::Deflate { head, next } = self else {
            return Ok(());
        };
        // A stand-in for the moment `self` is replaced.
        let next = std::mem::replace(next, Box::new(Layer::Sink(Sink::new(false, 0))));
        let head = std::mem::take(head);
        // RFC 1950: CM 8 in the low nibble, and the two bytes a multiple of 31.
        let zlib = head[0] & 0x0f == 8 && u16::from_be_bytes([head[0], head[1]]) % 31 == 0;
        *self = if zlib {
            Layer::Zlib(Box::new(flate2::write::ZlibDecoder::new(*next)))
        } else {
            Layer::RawDeflate(Box::new(flate2::write::DeflateDecoder::new(*next)))
        };
        self.write_all(&head)
    }
}

impl Write for Layer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Layer::Sink(s) => s.write(buf),
            Layer::Gzip(d) => d.write(buf),
            Layer::Zlib(d) => d.write(buf),
            Layer::RawDeflate(d) => d.write(buf),
            Layer::Deflate { head, .. } => {
                let take = (2 - head.len()).min(buf.len());
                head.extend_from_slice(&buf[..take]);
                if head.len() == 2 {
                    self.choose_deflate()?;
                }
                Ok(take)
            }
            Layer::Brotli(d) => d.write(buf),
            Layer::Zstd(d) => d.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Layer::Sink(s) => s.flush(),
            Layer::Gzip(d) => d.flush(),
            Layer::Zlib(d) => d.flush(),
            Layer::RawDeflate(d) => d.flush(),
            Layer::Deflate { next, .. } => next.flush(),
            Layer::Brotli(d) => d.flush(),
            Layer::Zstd(d) => d.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(codings: &[Coding], body: &[u8], max: u64) -> Result<Vec<u8>, DecodeError> {
        let mut d = Decoder::new(codings, true, max)?;
        // Byte by byte too: every decoder must take input in any split.
        for piece in body.chunks(7) {
            d.write(piece)?;
        }
        d.finish()?;
        Ok(d.take_kept())
    }

    #[test]
    fn content_encoding_lists_are_read_in_order() {
        let read = |v: &[&str]| codings(v.iter().map(|s| s.as_bytes()));
        assert_eq!(read(&[]), Codings::Identity);
        assert_eq!(read(&["identity"]), Codings::Identity);
        assert_eq!(read(&["GZIP"]), Codings::Known(vec![Coding::Gzip]));
        assert_eq!(
            read(&["gzip, br", "zstd"]),
            Codings::Known(vec![Coding::Gzip, Coding::Brotli, Coding::Zstd])
        );
        assert_eq!(
            read(&["x-gzip, identity"]),
            Codings::Known(vec![Coding::Gzip])
        );
        assert_eq!(read(&["gzip, compress"]), Codings::Unknown);
    }

    #[test]
    fn every_coding_and_a_stack_decode() {
        let text = b"hello, decoded world ".repeat(500);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(&text).unwrap();
        let raw = r.finish().unwrap();
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &text[..], &mut br, &Default::default()).unwrap();
        let zst = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(
            decode(&[Coding::Gzip], &gzip(&text), u64::MAX).unwrap(),
            text
        );
        assert_eq!(decode(&[Coding::Deflate], &zlib, u64::MAX).unwrap(), text);
        assert_eq!(decode(&[Coding::Deflate], &raw, u64::MAX).unwrap(), text);
        assert_eq!(decode(&[Coding::Brotli], &br, u64::MAX).unwrap(), text);
        assert_eq!(decode(&[Coding::Zstd], &zst, u64::MAX).unwrap(), text);
        // gzip applied first, then zstd: zstd is undone first.
        let stacked = zstd::encode_all(&gzip(&text)[..], 3).unwrap();
        assert_eq!(
            decode(&[Coding::Gzip, Coding::Zstd], &stacked, u64::MAX).unwrap(),
            text
        );
        let twice = [gzip(b"one "), gzip(b"two")].concat();
        assert_eq!(
            decode(&[Coding::Gzip], &twice, u64::MAX).unwrap(),
            b"one two"
        );
    }

    #[test]
    fn corrupt_and_cut_bodies_are_invalid() {
        let good = gzip(&b"abc".repeat(1000));
        let cut = &good[..good.len() - 5];
        assert!(matches!(
            decode(&[Coding::Gzip], cut, u64::MAX),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode(&[Coding::Gzip], b"not gzip at all", u64::MAX),
            Err(DecodeError::Invalid(_))
        ));
        for coding in [Coding::Brotli, Coding::Zstd, Coding::Deflate] {
            assert!(
                matches!(
                    decode(&[coding], b"\xff\xfe garbage \x00\x01", u64::MAX),
                    Err(DecodeError::Invalid(_))
                ),
                "{coding:?}"
            );
        }
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &b"abc".repeat(1000)[..], &mut br, &Default::default())
            .unwrap();
        assert!(matches!(
            decode(&[Coding::Brotli], &br[..br.len() / 2], u64::MAX),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn the_limit_holds_on_decoded_bytes_in_bounded_steps() {
        // 64 MiB of zeros in one compressed chunk: decoding stops just past
        // the limit, having held no more than a step at a time.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        let mut d = Decoder::new(&[Coding::Gzip], true, 1 << 20).unwrap();
        assert!(matches!(d.write(&bomb), Err(DecodeError::TooLarge)));
        assert!(d.decoded() <= (1 << 20) + STEP as u64, "{}", d.decoded());
        assert!(d.take_kept().len() <= 1 << 20);
        let mut unkept = Decoder::new(&[Coding::Gzip], false, u64::MAX).unwrap();
        unkept.write(&bomb).unwrap();
        unkept.finish().unwrap();
        assert_eq!(unkept.decoded(), 64 << 20);
        assert!(unkept.take_kept().is_empty(), "counted, not kept");
    }

    #[test]
    fn a_zstd_window_over_8_mib_is_refused() {
        let data = vec![7u8; 1024];
        let framed = |log: u32| {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            enc.window_log(log).unwrap();
            enc.include_contentsize(false).unwrap();
            enc.write_all(&data).unwrap();
            enc.finish().unwrap()
        };
        assert_eq!(
            decode(&[Coding::Zstd], &framed(23), u64::MAX).unwrap(),
            data
        );
        assert!(matches!(
            decode(&[Coding::Zstd], &framed(27), u64::MAX),
            Err(DecodeError::Invalid(_))
        ));
    }
}

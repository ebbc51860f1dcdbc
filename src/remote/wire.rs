//! The lossless, mergeable form of a latency histogram that summaries and
//! `/snapshot` carry: hdrhistogram's V2 serialization (the format every
//! HdrHistogram port reads), in base64 so it fits a JSON string.
//!
//! Adding decoded histograms gives exactly the histogram one process would
//! have recorded for all their responses, so merged percentiles are exact
//! to the histogram's precision (3 significant figures), never averages.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::snapshot::Percentiles;

/// Name of the encoding, in the JSON next to the data.
pub const FORMAT: &str = "hdrhistogram-v2+base64";

/// A histogram of microseconds in its lossless form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LosslessHistogram {
    /// The unit of the recorded values: always "us".
    pub unit: String,
    /// Always [`FORMAT`].
    pub format: String,
    /// The serialized histogram.
    pub data: String,
}

impl LosslessHistogram {
    /// Encodes `h` (values in µs).
    pub fn encode(h: &Histogram<u64>) -> LosslessHistogram {
        let mut bytes = Vec::new();
        // Serializing into a Vec fails only for a histogram too large to
        // describe, which fixed bounds rule out; an empty one is still valid.
        if V2Serializer::new().serialize(h, &mut bytes).is_err() {
            bytes.clear();
        }
        LosslessHistogram {
            unit: "us".into(),
            format: FORMAT.into(),
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// Decodes the histogram; a one-line error for anything else.
    pub fn decode(&self) -> Result<Histogram<u64>, String> {
        if self.format != FORMAT || self.unit != "us" {
            return Err(format!(
                "a histogram in {} of {}, not {FORMAT} of us",
                self.format, self.unit
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.data.trim())
            .map_err(|e| format!("the histogram is not base64: {e}"))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("the histogram does not decode: {e:?}"))
    }
}

/// Adds histograms exactly, whatever their bounds (the sum grows to hold them).
#[derive(Debug)]
pub struct HistogramSum {
    sum: Histogram<u64>,
}

impl Default for HistogramSum {
    fn default() -> Self {
        HistogramSum::new()
    }
}

impl HistogramSum {
    /// An empty sum at the engine's precision.
    pub fn new() -> HistogramSum {
        let mut sum =
            Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures is valid"));
        sum.auto(true);
        HistogramSum { sum }
    }

    /// Adds `h`.
    pub fn add(&mut self, h: &Histogram<u64>) -> Result<(), String> {
        self.sum
            .add(h)
            .map_err(|e| format!("cannot add a histogram: {e:?}"))
    }

    /// The sum so far.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.sum
    }

    /// Its percentiles in milliseconds, read the way the engine reads its own.
    pub fn percentiles(&self) -> Percentiles {
        percentiles_ms(&self.sum)
    }
}

/// The engine's percentiles of a histogram of µs, in ms.
pub fn percentiles_ms(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
        count: h.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap()
    }

    #[test]
    fn a_histogram_survives_the_round_trip() {
        let mut h = engine_histogram();
        for v in [1, 250, 1_000, 12_345, 12_345, 3_000_000] {
            h.record(v).unwrap();
        }
        let wire = LosslessHistogram::encode(&h);
        let json = serde_json::to_string(&wire).unwrap();
        let back: LosslessHistogram = serde_json::from_str(&json).unwrap();
        let decoded = back.decode().unwrap();
        assert_eq!(decoded, h);
        assert_eq!(
            LosslessHistogram::encode(&engine_histogram())
                .decode()
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn parts_add_up_to_the_whole() {
        let (mut whole, mut parts) = (
            engine_histogram(),
            [engine_histogram(), engine_histogram(), engine_histogram()],
        );
        for v in 1..=30_000u64 {
            let us = v * v % 1_000_003 + 1;
            whole.record(us).unwrap();
            parts[(v % 3) as usize].record(us).unwrap();
        }
        let mut sum = HistogramSum::new();
        for p in &parts {
            sum.add(&LosslessHistogram::encode(p).decode().unwrap())
                .unwrap();
        }
        assert_eq!(sum.histogram().len(), whole.len());
        assert_eq!(sum.percentiles(), percentiles_ms(&whole));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut bad = LosslessHistogram::encode(&engine_histogram());
        bad.data = "!!!".into();
        assert!(bad.decode().unwrap_err().contains("base64"));
        bad.data = "AAAA".into();
        assert!(bad.decode().is_err());
        bad.format = "csv".into();
        assert!(bad.decode().is_err());
    }
}

//! The grammar of a threshold, hand-written (it is three tokens):
//!
//! ```text
//! threshold := metric op number unit?        spaces allowed between tokens
//! metric    := p50 | p90 | p99 | p99.9 | p999 | max | mean      latency, unit us|ms|s
//!            | error_rate                                       unit % (or a fraction)
//!            | rps                                              optional /s
//!            | timeouts | errors | failed | done | cancelled | requests
//!            | status_NNN | status_Nxx | an error kind (http_429, connect, …)
//! op        := > | >= | < | <= | == | !=
//! ```
//!
//! An error names the column where the expression went wrong, so a typo in
//! a CI file is found at a glance.

use super::{Metric, Op, Threshold};
use crate::engine::ErrorKind;

/// What went wrong, and at which character (from 0).
#[derive(Debug, PartialEq)]
pub(super) struct ParseError {
    pub at: usize,
    pub what: String,
}

/// Parses one expression; the error text is one line with the column.
pub fn parse(text: &str) -> Result<Threshold, String> {
    parse_inner(text).map_err(|e| {
        format!(
            "invalid threshold {text:?} at column {}: {} (e.g. p99>300ms, error_rate>1%, rps<1000, timeouts>0)",
            e.at + 1,
            e.what
        )
    })
}

fn err<T>(at: usize, what: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        at,
        what: what.into(),
    })
}

/// Index of the first char at or after `i` that is not a space.
fn skip_spaces(s: &str, i: usize) -> usize {
    i + s[i..].len() - s[i..].trim_start().len()
}

/// The longest run from `i` of chars that satisfy `f`.
fn take_while(s: &str, i: usize, f: impl Fn(char) -> bool) -> (usize, &str) {
    let end = s[i..].find(|c: char| !f(c)).map_or(s.len(), |n| i + n);
    (end, &s[i..end])
}

pub(super) fn parse_inner(text: &str) -> Result<Threshold, ParseError> {
    let s = text;
    let i = skip_spaces(s, 0);
    let (end, name) = take_while(s, i, |c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if name.is_empty() {
        return err(i, "expected a metric such as p99, error_rate or rps");
    }
    let metric = metric(name).ok_or_else(|| ParseError {
        at: i,
        what: format!(
            "unknown metric {name:?} (p50, p90, p99, p99.9, max, mean, error_rate, rps, timeouts, errors, failed, done, cancelled, requests, status_NNN, status_5xx, or an error kind)"
        ),
    })?;
    let i = skip_spaces(s, end);
    let (end, op_text) = take_while(s, i, |c| matches!(c, '<' | '>' | '=' | '!'));
    let op = match op_text {
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        "<=" => Op::Le,
        "==" | "=" => Op::Eq,
        "!=" => Op::Ne,
        "" => return err(i, "expected a comparison: >, >=, <, <=, == or !="),
        other => return err(i, format!("unknown comparison {other:?}")),
    };
    let i = skip_spaces(s, end);
    let (end, number) = take_while(s, i, |c| c.is_ascii_digit() || c == '.');
    let value: f64 = match number.parse() {
        Ok(v) if number.chars().next().is_some_and(|c| c.is_ascii_digit()) => v,
        _ => return err(i, "expected a number"),
    };
    let i = skip_spaces(s, end);
    let (end, unit) = take_while(s, i, |c| !c.is_whitespace());
    let value = scale(metric, value, unit).map_err(|what| ParseError { at: i, what })?;
    let rest = skip_spaces(s, end);
    if rest < s.len() {
        return err(rest, "unexpected text after the threshold");
    }
    Ok(Threshold {
        text: text.trim().to_string(),
        metric,
        op,
        value,
    })
}

fn metric(name: &str) -> Option<Metric> {
    use super::Latency::*;
    let m = match name {
        "p50" => Metric::Latency(P50),
        "p90" => Metric::Latency(P90),
        "p99" => Metric::Latency(P99),
        "p99.9" | "p999" => Metric::Latency(P999),
        "max" => Metric::Latency(Max),
        "mean" => Metric::Latency(Mean),
        "error_rate" => Metric::ErrorRate,
        "rps" => Metric::Rps,
        "timeouts" => Metric::Kind(ErrorKind::Timeout),
        "errors" | "failed" => Metric::Failed,
        "done" => Metric::Done,
        "cancelled" => Metric::Cancelled,
        "requests" => Metric::Requests,
        _ => {
            if let Some(code) = name.strip_prefix("status_") {
                return status(code);
            }
            return ErrorKind::ALL
                .into_iter()
                .find(|k| k.as_str() == name)
                .map(Metric::Kind);
        }
    };
    Some(m)
}

/// `status_503` (one code) or `status_5xx` (a class).
fn status(code: &str) -> Option<Metric> {
    let b = code.as_bytes();
    if b.len() != 3 || !(b'1'..=b'5').contains(&b[0]) {
        return None;
    }
    if &code[1..] == "xx" {
        return Some(Metric::StatusClass(u16::from(b[0] - b'0')));
    }
    code.parse().ok().map(Metric::Status)
}

/// The value in the metric's own unit: ms for latency, a fraction for
/// error_rate, per second for rps, a count otherwise.
fn scale(metric: Metric, value: f64, unit: &str) -> Result<f64, String> {
    match metric {
        Metric::Latency(_) => match unit {
            "us" | "µs" => Ok(value / 1000.0),
            "ms" => Ok(value),
            "s" => Ok(value * 1000.0),
            "m" | "min" => Ok(value * 60_000.0),
            "" => Err("a latency needs a unit: us, ms or s".into()),
            other => Err(format!("unknown unit {other:?} for a latency (us, ms, s)")),
        },
        Metric::ErrorRate => match unit {
            "%" if value <= 100.0 => Ok(value / 100.0),
            "" if value <= 1.0 => Ok(value),
            "%" | "" => Err("an error rate is at most 100% (or a fraction up to 1)".into()),
            other => Err(format!(
                "unknown unit {other:?} for error_rate (% or a fraction)"
            )),
        },
        Metric::Rps => match unit {
            "" | "/s" => Ok(value),
            other => Err(format!("unknown unit {other:?} for rps (none, or /s)")),
        },
        _ => match unit {
            "" if value.fract() == 0.0 => Ok(value),
            "" => Err("a count is a whole number".into()),
            other => Err(format!("a count takes no unit (found {other:?})")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::Latency;
    use super::*;

    fn ok(s: &str) -> Threshold {
        parse_inner(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn the_issue_examples_parse() {
        let t = ok("p99>300ms");
        assert_eq!(
            (t.metric, t.op, t.value),
            (Metric::Latency(Latency::P99), Op::Gt, 300.0)
        );
        assert_eq!(ok("p50 > 0.05s").value, 50.0);
        assert_eq!(ok("max>=1500us").value, 1.5);
        assert_eq!(ok("error_rate>1%").value, 0.01);
        assert_eq!(ok("error_rate > 0.02").value, 0.02);
        let t = ok("rps<1000");
        assert_eq!((t.metric, t.op, t.value), (Metric::Rps, Op::Lt, 1000.0));
        let t = ok("timeouts>0");
        assert_eq!(t.metric, Metric::Kind(ErrorKind::Timeout));
        assert_eq!(ok("status_5xx>=10").metric, Metric::StatusClass(5));
        assert_eq!(ok("status_429 != 0").metric, Metric::Status(429));
        assert_eq!(ok("http_429>3").metric, Metric::Kind(ErrorKind::Http429));
        assert_eq!(ok("  p99.9 <= 2s ").text, "p99.9 <= 2s");
    }

    #[test]
    fn errors_point_at_the_column() {
        for (s, at, says) in [
            ("p98>300ms", 0, "unknown metric"),
            ("p99 300ms", 4, "expected a comparison"),
            ("p99=>300ms", 3, "unknown comparison"),
            ("p99>fast", 4, "expected a number"),
            ("p99>300", 7, "needs a unit"),
            ("p99>300xs", 7, "unknown unit"),
            ("error_rate>150%", 14, "at most 100%"),
            ("timeouts>1.5", 12, "whole number"),
            ("rps<10 /s more", 10, "unexpected text"),
            ("rps<10 and", 7, "unknown unit"),
            ("", 0, "expected a metric"),
            ("status_600>1", 0, "unknown metric"),
        ] {
            let e = parse_inner(s).unwrap_err();
            assert_eq!(e.at, at, "{s}: {e:?}");
            assert!(e.what.contains(says), "{s}: {e:?}");
        }
        let line = parse("p99>300xs").unwrap_err();
        assert!(line.contains("at column 8"), "{line}");
        assert!(!line.contains('\n'));
    }
}

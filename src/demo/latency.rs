//! The demo API's simulated latency and failure rate: parsing them from the
//! command line and drawing a heavy-tailed delay for each request.

use std::time::Duration;

/// Floor used for the logarithm when the minimum latency is zero.
const LOG_FLOOR: Duration = Duration::from_micros(1);

/// Parses a latency range for the CLI: "5ms..150ms", or a single fixed value "20ms" (min = max), using humantime for each side ("0ms", "1s", "250us" ...). Errors (as a one-line String suitable for clap's value_parser): missing side, unparsable duration, min > max.
pub fn parse_latency_range(s: &str) -> Result<(Duration, Duration), String> {
    let s = s.trim();
    let (min, max) = match s.split_once("..") {
        Some((lo, hi)) => {
            let (lo, hi) = (lo.trim(), hi.trim());
            if lo.is_empty() || hi.is_empty() {
                return Err(format!(
                    "latency range '{s}' is missing a side: expected MIN..MAX such as 5ms..150ms"
                ));
            }
            (parse_duration(lo)?, parse_duration(hi)?)
        }
        None => {
            let fixed = parse_duration(s)?;
            (fixed, fixed)
        }
    };
    if min > max {
        return Err(format!(
            "latency range '{s}': minimum {} is greater than maximum {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok((min, max))
}

/// Parses an error rate for the CLI: a float in 0..=1 (also accept a percentage like "5%"). One-line error otherwise.
pub fn parse_error_rate(s: &str) -> Result<f64, String> {
    let text = s.trim();
    let (number, scale) = match text.strip_suffix('%') {
        Some(pct) => (pct.trim_end(), 100.0),
        None => (text, 1.0),
    };
    let rate = number
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v / scale);
    match rate {
        Some(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "invalid error rate '{s}': expected a fraction from 0 to 1 (such as 0.01) or a percentage (such as 5%)"
        )),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration '{s}': {e} (examples: 0ms, 250us, 20ms, 1s)"))
}

/// Heavy-tailed delay in `[min, max]` for a uniform `u` in `[0, 1)`:
/// log-interpolation between min and max at `t = u³`, so most delays sit near
/// `min` and a few reach toward `max`. Monotonic in `u`.
pub(super) fn sample_delay(min: Duration, max: Duration, u: f64) -> Duration {
    if max.is_zero() || min >= max {
        return max;
    }
    let lo = min.max(LOG_FLOOR);
    if lo >= max {
        return max;
    }
    let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
    let t = u * u * u;
    let (ln_lo, ln_hi) = (lo.as_secs_f64().ln(), max.as_secs_f64().ln());
    let secs = (ln_lo + t * (ln_hi - ln_lo)).exp();
    Duration::try_from_secs_f64(secs)
        .unwrap_or(max)
        .clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_ranges_parse() {
        let ms = Duration::from_millis;
        assert_eq!(parse_latency_range("5ms..150ms"), Ok((ms(5), ms(150))));
        assert_eq!(parse_latency_range("20ms"), Ok((ms(20), ms(20))));
        assert_eq!(parse_latency_range("0ms..0ms"), Ok((ms(0), ms(0))));
        assert_eq!(
            parse_latency_range(" 250us .. 1s "),
            Ok((Duration::from_micros(250), ms(1000)))
        );
        for bad in ["150ms..5ms", "5ms..", "..5ms", "..", "abc", "", "5ms..abc"] {
            let err = parse_latency_range(bad).expect_err(bad);
            assert!(!err.is_empty() && !err.contains('\n'), "{bad}: {err}");
        }
    }

    #[test]
    fn error_rates_parse() {
        assert_eq!(parse_error_rate("0.01"), Ok(0.01));
        assert_eq!(parse_error_rate("1"), Ok(1.0));
        assert_eq!(parse_error_rate("0"), Ok(0.0));
        assert_eq!(parse_error_rate("5%"), Ok(0.05));
        assert_eq!(parse_error_rate("100%"), Ok(1.0));
        for bad in ["-0.1", "1.5", "x", "", "%", "101%", "NaN", "inf", "-5%"] {
            let err = parse_error_rate(bad).expect_err(bad);
            assert!(!err.is_empty() && !err.contains('\n'), "{bad}: {err}");
        }
    }

    #[test]
    fn sampled_delays_stay_in_range_and_grow_with_u() {
        let ms = Duration::from_millis;
        let cases = [
            (ms(5), ms(150)),
            (Duration::ZERO, ms(150)),
            (Duration::ZERO, Duration::ZERO),
            (ms(20), ms(20)),
            (Duration::ZERO, Duration::from_nanos(500)),
            (Duration::from_micros(1), ms(1)),
            (ms(300), Duration::from_secs(3600)),
        ];
        for (min, max) in cases {
            let mut prev = Duration::ZERO;
            for i in 0..=1000 {
                let u = f64::from(i) / 1000.0;
                let d = sample_delay(min, max, u);
                assert!(min <= d && d <= max, "{min:?}..{max:?} u={u}: {d:?}");
                assert!(d >= prev, "{min:?}..{max:?} u={u}: {d:?} < {prev:?}");
                prev = d;
            }
        }
        // Heavy-tailed: the median is well below the middle of the range,
        // while the top of the range is reached.
        let (min, max) = (ms(5), ms(150));
        assert!(sample_delay(min, max, 0.5) < ms(20));
        assert!(sample_delay(min, max, 0.0) < ms(6));
        assert!(sample_delay(min, max, 0.999) > ms(140));
        assert_eq!(sample_delay(ms(20), ms(20), 0.3), ms(20));
        assert_eq!(
            sample_delay(Duration::ZERO, Duration::ZERO, 0.7),
            Duration::ZERO
        );
    }
}

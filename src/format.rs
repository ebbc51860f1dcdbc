//! Human-readable numbers, shared by the progress line, the summary and the
//! dashboard so they always agree.

use std::time::Duration;

/// `1234567` as `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with a sensible number of digits: `0.42ms`, `12.3ms`, `1.20s`.
pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}ms")
    } else if v >= 10.0 {
        format!("{v:.1}ms")
    } else {
        format!("{v:.2}ms")
    }
}

/// A wall-clock span, coarse, to the nearest second: `42s`, `3m05s`, `2h07m`.
pub fn span(d: Duration) -> String {
    let s = (d.as_millis() as u64 + 500) / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A clock reading `mm:ss` (or `h:mm:ss`), to the nearest second.
pub fn clock(d: Duration) -> String {
    let s = (d.as_millis() as u64 + 500) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// Bytes in decimal units: `512 B`, `19.8 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A rate per second: `0.5/s`, `12.3/s`, `1,204/s`.
pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{}/s", count(v.round() as u64))
    } else {
        format!("{v:.1}/s")
    }
}

/// A `--rate` setting: like [`rate`], with two decimals below 1/s (`0.25/s`).
pub fn pace(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.2}/s")
    } else {
        rate(v)
    }
}

pub use fetchtop_engine::text::inert;

/// Shortens `s` to at most `width` characters by cutting out its middle,
/// where URLs are least telling: `http://host/a/…/item/42` (`mark` stands
/// for what was cut).
pub fn middle_truncate(s: &str, width: usize, mark: char) -> String {
    let len = s.chars().count();
    if len <= width {
        return s.to_string();
    }
    if width <= 1 {
        return std::iter::repeat_n(mark, width).collect();
    }
    let keep = width - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push(mark);
    out.extend(s.chars().skip(len - tail));
    out
}

/// Parses a size such as `16MiB`, `512k`, `1GB` or `1000` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("invalid size {s:?}: expected a number with an optional unit such as 16MiB")
    })?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?} (use B, kB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    let bytes = value * mult;
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!("size {s:?} is out of range (1 byte to 1 PB)"));
    }
    Ok(bytes as u64)
}

/// Why a limit was lowered below what was asked: for the start-up warning
/// and the dashboard's warnings panel.
pub fn capped_message(asked: u64, ceiling: u64) -> String {
    format!(
        "limit {} capped at {}: each request holds an open file and the open-files limit \
         (ulimit -n) allows no more; raise the hard limit to go higher",
        count(asked),
        count(ceiling)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(ms(0.4234), "0.42ms");
        assert_eq!(ms(12.34), "12.3ms");
        assert_eq!(ms(150.2), "150ms");
        assert_eq!(ms(1200.0), "1.20s");
        assert_eq!(span(Duration::from_secs(42)), "42s");
        assert_eq!(span(Duration::from_secs(185)), "3m05s");
        assert_eq!(span(Duration::from_secs(7620)), "2h07m");
        assert_eq!(clock(Duration::from_secs(75)), "01:15");
        assert_eq!(clock(Duration::from_millis(980)), "00:01");
        assert_eq!(span(Duration::from_millis(2600)), "3s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(19_800_000), "19.8 MB");
        assert_eq!(rate(2074.3), "2,074/s");
        assert_eq!(rate(0.5), "0.5/s");
    }

    #[test]
    fn outside_text_is_made_inert() {
        assert_eq!(inert("http://h/a b"), "http://h/a b");
        assert_eq!(inert("x\u{1b}[31mred\u{7}"), "x?[31mred?");
        assert_eq!(inert("\u{9b}2J\r\n"), "?2J??");
        assert_eq!(inert("abc\u{202e}cba"), "abc?cba");
        assert!(matches!(inert("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn middle_truncation_keeps_both_ends() {
        assert_eq!(
            middle_truncate("http://host/items/12345", 40, '…'),
            "http://host/items/12345"
        );
        let t = middle_truncate("http://host/very/long/path/items/12345", 20, '…');
        assert_eq!(t.chars().count(), 20);
        assert!(
            t.starts_with("http://ho") && t.ends_with("12345") && t.contains('…'),
            "{t}"
        );
        assert_eq!(middle_truncate("abcdef", 1, '~'), "~");
        assert_eq!(middle_truncate("abcdef", 0, '~'), "");
        assert_eq!(middle_truncate("abcdefgh", 5, '~'), "ab~gh");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 * 1024 * 1024);
        assert_eq!(parse_size("1k").unwrap(), 1000);
        assert_eq!(parse_size("2 KiB").unwrap(), 2048);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("-5").is_err());
    }
}

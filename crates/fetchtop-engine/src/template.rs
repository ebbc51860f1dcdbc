//! The `{a..b}` URL template: parsing one numeric range out of a URL and
//! producing its n-th expansion on demand.
//!
//! Expansion is by index rather than by materialising a list, so a range of
//! any size costs the same memory as a single URL.

use std::fmt;
use std::fmt::Write as _;

/// A `{a..b}` range inside a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The URL text as given, for display.
    text: String,
    /// Everything before the `{`.
    prefix: String,
    /// First number of the range.
    start: u64,
    /// Last number of the range (inclusive).
    end: u64,
    /// Zero-padding width; 0 means no padding.
    width: usize,
    /// Everything after the `}`.
    suffix: String,
}

impl Template {
    /// Parses a URL that may contain one range. Returns `Ok(None)` when the
    /// text has no range (plain URL).
    ///
    /// A range is a `{...}` group whose content contains `..`; both sides must
    /// be non-negative decimal integers (u64) with start <= end. Zero padding
    /// is kept: `{001..250}` yields 001, 002, ..., 250; `{1..10}` yields 1..10
    /// unpadded. A `{` group without `..` inside (e.g. `{id}`) is left
    /// literally as part of the URL. Errors are one-line user-facing strings
    /// quoting the offending range.
    pub fn parse(url: &str) -> Result<Option<Template>, String> {
        Template::parse_raw(url).map_err(|e| one_line(&e))
    }

    fn parse_raw(url: &str) -> Result<Option<Template>, String> {
        let mut found: Option<(usize, usize)> = None;
        let mut i = 0;
        while let Some(off) = url[i..].find('{') {
            let open = i + off;
            let rest = &url[open + 1..];
            match rest.find(['{', '}']) {
                Some(k) if rest.as_bytes()[k] == b'}' => {
                    let close = open + 1 + k;
                    if rest[..k].contains("..") {
                        if let Some((o, c)) = found {
                            return Err(format!(
                                "only one {{a..b}} range per URL is supported (found {} and {})",
                                &url[o..=c],
                                &url[open..=close]
                            ));
                        }
                        found = Some((open, close));
                    }
                    i = close + 1;
                }
                other => {
                    let seg_end = other.map_or(url.len(), |k| open + 1 + k);
                    if url[open + 1..seg_end].contains("..") {
                        return Err(format!(
                            "unclosed range {} in URL: missing '}}'",
                            &url[open..seg_end]
                        ));
                    }
                    i = open + 1;
                }
            }
        }
        let Some((open, close)) = found else {
            return Ok(None);
        };
        let group = &url[open..=close];
        let content = &url[open + 1..close];
        let Some((start_text, end_text)) = content.split_once("..") else {
            // Unreachable in practice: `found` is only set for groups containing "..".
            return Ok(None);
        };
        let start = parse_bound(group, "start", start_text)?;
        let end = parse_bound(group, "end", end_text)?;
        if start > end {
            return Err(format!(
                "invalid range {group} in URL: start {start} is greater than end {end}"
            ));
        }
        let padded = |t: &str| t.len() > 1 && t.starts_with('0');
        let width = if padded(start_text) || padded(end_text) {
            start_text.len().max(end_text.len())
        } else {
            0
        };
        Ok(Some(Template {
            text: url.to_string(),
            prefix: url[..open].to_string(),
            start,
            end,
            width,
            suffix: url[close + 1..].to_string(),
        }))
    }

    /// Number of URLs it expands to (end - start + 1, saturating at `u64::MAX`).
    pub fn len(&self) -> u64 {
        (self.end - self.start).saturating_add(1)
    }

    /// Always false: a range holds at least one number (start <= end).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The n-th URL (0-based), `None` past the end. One String allocation.
    pub fn nth(&self, n: u64) -> Option<String> {
        let mut out = String::new();
        self.write_nth(n, &mut out).then_some(out)
    }

    /// Writes the n-th URL into `out` (cleared first); false past the end.
    /// Lets a source reuse one buffer across a whole range.
    pub(super) fn write_nth(&self, n: u64, out: &mut String) -> bool {
        if n > self.end - self.start {
            return false;
        }
        let value = self.start + n;
        out.clear();
        out.reserve(self.prefix.len() + self.width.max(20) + self.suffix.len());
        out.push_str(&self.prefix);
        // Writing into a String cannot fail.
        let _ = write!(out, "{value:0width$}", width = self.width);
        out.push_str(&self.suffix);
        true
    }
}

impl fmt::Display for Template {
    /// The URL text as it was given, range included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An error quotes the URL, which may hold anything (a newline, an escape
/// sequence): control characters are shown escaped so the error stays one
/// inert line.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses one side of a range as a u64, with a user-facing error.
fn parse_bound(group: &str, which: &str, text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err(format!(
            "invalid range {group} in URL: the {which} number is missing"
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid range {group} in URL: the {which} '{text}' is not a non-negative whole number"
        ));
    }
    text.parse::<u64>().map_err(|_| {
        format!(
            "invalid range {group} in URL: the {which} {text} is too large (max {})",
            u64::MAX
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tpl(s: &str) -> Template {
        Template::parse(s).expect("parses").expect("is a template")
    }

    fn all(t: &Template) -> Vec<String> {
        (0..t.len()).map(|i| t.nth(i).expect("in range")).collect()
    }

    #[test]
    fn template_simple_range() {
        let t = tpl("http://h/i/{1..5}?x=1");
        assert_eq!(t.len(), 5);
        assert!(!t.is_empty());
        assert_eq!(
            all(&t),
            [
                "http://h/i/1?x=1",
                "http://h/i/2?x=1",
                "http://h/i/3?x=1",
                "http://h/i/4?x=1",
                "http://h/i/5?x=1"
            ]
        );
        assert_eq!(t.nth(5), None);
        assert_eq!(t.nth(u64::MAX), None);
        assert_eq!(t.to_string(), "http://h/i/{1..5}?x=1");
    }

    #[test]
    fn template_zero_padding() {
        let t = tpl("http://h/{001..250}.json");
        assert_eq!(t.len(), 250);
        let v = all(&t);
        assert_eq!(v[0], "http://h/001.json");
        assert_eq!(v[1], "http://h/002.json");
        assert_eq!(v[98], "http://h/099.json");
        assert_eq!(v[99], "http://h/100.json");
        assert_eq!(v[249], "http://h/250.json");
        // Padding given on the end only still pads to the widest bound.
        assert_eq!(tpl("{1..010}").nth(0).as_deref(), Some("001"));
        // A single "0" is not padding.
        assert_eq!(tpl("{0..10}").nth(0).as_deref(), Some("0"));
        assert_eq!(tpl("{0..10}").nth(10).as_deref(), Some("10"));
    }

    #[test]
    fn template_no_padding() {
        let t = tpl("x{8..12}y");
        assert_eq!(all(&t), ["x8y", "x9y", "x10y", "x11y", "x12y"]);
    }

    #[test]
    fn template_single_value() {
        let t = tpl("{7..7}");
        assert_eq!(t.len(), 1);
        assert_eq!(all(&t), ["7"]);
    }

    #[test]
    fn plain_and_literal_braces() {
        assert_eq!(Template::parse("http://h/x").expect("ok"), None);
        assert_eq!(Template::parse("http://h/{id}/x").expect("ok"), None);
        assert_eq!(Template::parse("http://h/?q={\"a\":1}").expect("ok"), None);
        assert_eq!(Template::parse("http://h/a/../b").expect("ok"), None);
        assert_eq!(Template::parse("http://h/{").expect("ok"), None);
        assert_eq!(Template::parse("").expect("ok"), None);
        let t = tpl("http://h/{id}/{1..2}/{x}");
        assert_eq!(all(&t), ["http://h/{id}/1/{x}", "http://h/{id}/2/{x}"]);
        // A nested brace: the inner group is the range.
        let t = tpl("http://h/{a{1..2}}");
        assert_eq!(all(&t), ["http://h/{a1}", "http://h/{a2}"]);
    }

    #[test]
    fn template_errors_quote_the_range() {
        let cases = [
            ("http://h/{5..}", "{5..}"),
            ("http://h/{..5}", "{..5}"),
            ("http://h/{a..b}", "{a..b}"),
            ("http://h/{1.5..3}", "{1.5..3}"),
            ("http://h/{-1..3}", "{-1..3}"),
            ("http://h/{+1..3}", "{+1..3}"),
            ("http://h/{ 1..3}", "{ 1..3}"),
            ("http://h/{10..1}", "{10..1}"),
            (
                "http://h/{0..18446744073709551616}",
                "{0..18446744073709551616}",
            ),
            ("http://h/{1..5", "{1..5"),
            ("http://h/{1..5/{x}", "{1..5/"),
            ("http://h/{1..2}/{3..4}", "{1..2}"),
        ];
        for (url, quoted) in cases {
            let err = Template::parse(url).expect_err(url);
            assert!(err.contains(quoted), "{url}: {err}");
            assert!(!err.contains('\n'), "{url}: {err}");
        }
        let err = Template::parse("{1..2}{3..4}").expect_err("two ranges");
        assert!(
            err.contains("only one {a..b} range per URL is supported"),
            "{err}"
        );
        assert!(err.contains("{3..4}"), "{err}");
        assert!(
            Template::parse("{10..1}")
                .expect_err("rev")
                .contains("greater")
        );
        assert!(
            Template::parse("{0..99999999999999999999}")
                .expect_err("overflow")
                .contains("too large")
        );
        assert!(
            Template::parse("x{1..5")
                .expect_err("unclosed")
                .contains("unclosed")
        );
    }

    #[test]
    fn errors_stay_one_inert_line() {
        // Found by the fuzzer: a newline inside the range was quoted as is.
        let err = Template::parse("{5..\n161709551615}").expect_err("bad end");
        assert!(err.contains("{5..\\n161709551615}"), "{err}");
        let err = Template::parse("http://h/{\u{1b}[2J..3}").expect_err("bad start");
        assert!(!err.chars().any(char::is_control), "{err}");
    }

    #[test]
    fn template_u64_extremes() {
        let t = tpl("{0..18446744073709551615}");
        assert_eq!(t.len(), u64::MAX); // saturated, no overflow
        assert_eq!(t.nth(0).as_deref(), Some("0"));
        assert_eq!(t.nth(u64::MAX - 1).as_deref(), Some("18446744073709551614"));
        let t = tpl("{18446744073709551615..18446744073709551615}");
        assert_eq!(t.len(), 1);
        assert_eq!(t.nth(0).as_deref(), Some("18446744073709551615"));
        assert_eq!(t.nth(1), None);
        let t = tpl("{18446744073709551614..18446744073709551615}");
        assert_eq!(all(&t), ["18446744073709551614", "18446744073709551615"]);
    }

    proptest! {
        #[test]
        fn nth_parses_back(
            start in 0u64..2_000_000_000_000,
            span in 0u64..5_000_000,
            pad in 0usize..4,
            picks in proptest::collection::vec(any::<u64>(), 1..8),
        ) {
            let end = start + span;
            let start_text = if pad > 0 {
                format!("{start:0w$}", w = start.to_string().len() + pad)
            } else {
                start.to_string()
            };
            let url = format!("http://h/p{{{start_text}..{end}}}/s");
            let t = Template::parse(&url).expect("valid").expect("template");
            prop_assert_eq!(t.len(), span + 1);
            let width = if pad > 0 { start_text.len().max(end.to_string().len()) } else { 0 };
            let mut idx: Vec<u64> = picks.iter().map(|p| p % (span + 1)).collect();
            idx.push(0);
            idx.push(span);
            for i in idx {
                let s = t.nth(i).expect("in range");
                let num = s.strip_prefix("http://h/p").and_then(|r| r.strip_suffix("/s")).expect("shape");
                prop_assert_eq!(num.parse::<u64>().expect("number"), start + i);
                if width > 0 {
                    prop_assert_eq!(num.len(), width.max((start + i).to_string().len()));
                } else {
                    prop_assert_eq!(num, (start + i).to_string());
                }
            }
            prop_assert_eq!(t.nth(span + 1), None);
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            // Errors, when any, are one line that a terminal can show.
            if let Err(e) = Template::parse(&s) {
                prop_assert!(!e.contains('\n'), "{e}");
            }
        }

        #[test]
        fn prefix_and_suffix_are_kept_exactly(
            prefix in "[a-z:/.?=&%-]{0,20}",
            suffix in "[a-z:/.?=&%-]{0,20}",
            start in any::<u64>(),
            span in 0u64..1000,
        ) {
            let end = start.saturating_add(span);
            let url = format!("{prefix}{{{start}..{end}}}{suffix}");
            let t = Template::parse(&url).expect("valid").expect("template");
            prop_assert_eq!(t.to_string(), url.clone());
            prop_assert_eq!(t.len(), end - start + 1);
            prop_assert_eq!(t.nth(0), Some(format!("{prefix}{start}{suffix}")));
            prop_assert_eq!(t.nth(end - start), Some(format!("{prefix}{end}{suffix}")));
        }

        #[test]
        fn errors_never_carry_control_characters(
            s in "x?\\{[0-9\\n\\r\\x1b\\x07]{0,5}\\.\\.[0-9\\n\\x1b\\x9b]{0,5}\\}?",
        ) {
            if let Err(e) = Template::parse(&s) {
                prop_assert!(!e.chars().any(char::is_control), "{e:?}");
            }
        }

        #[test]
        fn reversed_ranges_are_refused(a in any::<u64>(), b in any::<u64>()) {
            prop_assume!(a != b);
            let (lo, hi) = (a.min(b), a.max(b));
            let err = Template::parse(&format!("http://h/{{{hi}..{lo}}}")).expect_err("reversed");
            prop_assert!(err.contains("greater"), "{err}");
        }

        #[test]
        fn overflowing_bounds_are_refused(digits in "[1-9][0-9]{20,40}", other in any::<u64>()) {
            for url in [format!("{{{other}..{digits}}}"), format!("{{{digits}..{other}}}")] {
                let err = Template::parse(&url).expect_err("overflow");
                prop_assert!(err.contains("too large"), "{url}: {err}");
            }
        }

        #[test]
        fn parse_never_panics_on_brace_soup(s in "[{}.0-9a-z/ é\\n\\x1b-]{0,24}") {
            if let Err(e) = Template::parse(&s) {
                prop_assert!(!e.chars().any(char::is_control), "{e:?}");
            }
            if let Ok(Some(t)) = Template::parse(&s) {
                prop_assert!(t.nth(0).is_some());
                prop_assert!(t.nth(t.len() - 1).is_some());
                prop_assert!(t.nth(t.len()).is_none() || t.len() == u64::MAX);
            }
        }
    }
}

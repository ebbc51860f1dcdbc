//! Text from outside, made safe to show or log.

/// Makes text from outside (URLs from a list, error messages, anything a
/// server sent) safe to draw: control characters (C0, DEL, C1, which carry
/// ESC/CSI/OSC sequences) and invisible direction overrides become `?`.
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    fn hostile(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if s.chars().any(hostile) {
        s.chars()
            .map(|c| if hostile(c) { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// The one of `all` named `text` (any case, spaces around ignored), for
/// the enums the command line names; the error lists every name
/// ("unknown model \"x\": use async, threads or sequential").
pub fn by_name<T: Copy>(
    all: &[T],
    name: impl Fn(T) -> &'static str,
    what: &str,
    text: &str,
) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|&t| name(t).eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&t| name(t)).collect();
            let list = match names.split_last() {
                Some((last, [])) => (*last).to_string(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("unknown {what} {text:?}: use {list}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_any_case_and_the_error_lists_them() {
        let all = [1u8, 2, 3];
        let name = |n: u8| ["one", "two", "three"][usize::from(n - 1)];
        assert_eq!(by_name(&all, name, "number", " TWO "), Ok(2));
        assert_eq!(
            by_name(&all, name, "number", "four"),
            Err("unknown number \"four\": use one, two or three".to_string())
        );
        assert_eq!(
            by_name(&all[..1], name, "number", "x"),
            Err("unknown number \"x\": use one".to_string())
        );
    }
}

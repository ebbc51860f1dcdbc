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

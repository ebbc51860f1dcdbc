//! The `{a..b}` template parser on arbitrary text: it never panics, its
//! errors are one line, and a template it accepts expands as promised.
#![no_main]

use fetchtop::engine::template::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Template::parse(text) {
        Ok(Some(t)) => {
            assert!(t.len() >= 1);
            assert_eq!(t.to_string(), text);
            assert!(t.nth(0).is_some());
            assert!(t.nth(t.len() - 1).is_some());
            if t.len() < u64::MAX {
                assert!(t.nth(t.len()).is_none());
            }
        }
        Ok(None) => {}
        Err(e) => assert!(!e.contains('\n'), "{e}"),
    }
});

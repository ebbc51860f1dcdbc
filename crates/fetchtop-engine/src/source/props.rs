//! Property tests of the list reader: whatever the bytes and however they
//! are cut into reads, every item line becomes exactly one item, in order,
//! with its own line number, and the background count agrees.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use super::{Item, MAX_LINE_BYTES, Source, count_items};

/// Hands out its bytes at most `step` at a time, so lines straddle reads.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl AsyncRead for Trickle {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let n = this
            .step
            .min(buf.remaining())
            .min(this.data.len() - this.at);
        buf.put_slice(&this.data[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

fn read_all(data: Vec<u8>, step: usize) -> Vec<Item> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let source = Source::from_reader(Trickle { data, at: 0, step }, "prop", None);
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(source.run(tx));
        let mut items = Vec::new();
        while let Some(item) = rx.recv().await {
            items.push(item);
        }
        assert_eq!(task.await.expect("join"), Ok(()));
        items
    })
}

/// One line of a generated list, and what it should become.
#[derive(Clone, Debug)]
enum Line {
    Url(String),
    Blank(String),
    Comment(String),
    NotUtf8,
    Nul,
    TooLong(usize),
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        4 => "[a-z0-9/._~%?=&-]{1,40}".prop_map(|p| Line::Url(format!("http://h/{p}"))),
        1 => "[ \t]{0,3}".prop_map(Line::Blank),
        1 => "[ \t]{0,2}#[ -~]{0,20}".prop_map(Line::Comment),
        1 => Just(Line::NotUtf8),
        1 => Just(Line::Nul),
        1 => (1usize..3000).prop_map(Line::TooLong),
    ]
}

impl Line {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Line::Url(u) => format!("  {u} ").into_bytes(),
            Line::Blank(b) => b.clone().into_bytes(),
            Line::Comment(c) => c.clone().into_bytes(),
            Line::NotUtf8 => b"http://h/\xff\xfe".to_vec(),
            Line::Nul => b"http://h/a\0b".to_vec(),
            Line::TooLong(extra) => {
                let mut v = b"http://h/".to_vec();
                v.resize(MAX_LINE_BYTES + extra, b'x');
                v
            }
        }
    }

    /// The URL or defect expected, `None` for lines that are not items.
    fn expect(&self) -> Option<(Option<&str>, &'static str)> {
        match self {
            Line::Url(u) => Some((Some(u), "")),
            Line::Blank(_) | Line::Comment(_) => None,
            Line::NotUtf8 => Some((None, "not valid UTF-8")),
            Line::Nul => Some((None, "NUL byte")),
            Line::TooLong(_) => Some((None, "longer than")),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn each_item_line_is_one_item_with_its_line_number(
        lines in proptest::collection::vec(line(), 0..30),
        crlf in any::<bool>(),
        trailing_newline in any::<bool>(),
        step in 1usize..200,
    ) {
        let sep: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut data = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                data.extend_from_slice(sep);
            }
            data.extend_from_slice(&l.bytes());
        }
        if trailing_newline && !lines.is_empty() {
            data.extend_from_slice(sep);
        }
        let items = read_all(data, step);
        let want: Vec<(u64, Option<&str>, &str)> = lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.expect().map(|(u, d)| (i as u64 + 1, u, d)))
            .collect();
        prop_assert_eq!(items.len(), want.len());
        for (k, (item, (line_no, url, defect))) in items.iter().zip(&want).enumerate() {
            prop_assert_eq!(item.seq, k as u64 + 1);
            prop_assert_eq!(item.line, Some(*line_no));
            match url {
                Some(u) => {
                    prop_assert_eq!(&*item.url, *u);
                    prop_assert!(item.defect.is_none());
                }
                None => {
                    let d = item.defect.as_deref().unwrap_or_default();
                    prop_assert!(d.contains(defect), "{d}");
                    prop_assert!(item.url.chars().count() <= 200);
                    prop_assert!(!item.url.chars().any(char::is_control));
                }
            }
        }
    }

    #[test]
    fn any_bytes_read_in_any_pieces_give_ordered_bounded_items_and_the_same_count(
        data in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'#'), Just(0u8), Just(0xffu8), Just(b' '), any::<u8>()],
            0..2000,
        ),
        step in 1usize..64,
    ) {
        let items = read_all(data.clone(), step);
        let mut last_line = 0;
        for (k, item) in items.iter().enumerate() {
            prop_assert_eq!(item.seq, k as u64 + 1);
            let line = item.line.unwrap_or_default();
            prop_assert!(line > last_line);
            last_line = line;
            prop_assert!(item.url.len() <= MAX_LINE_BYTES);
            prop_assert!(!item.url.is_empty() || item.defect.is_some());
        }
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(&data).expect("write");
        f.flush().expect("flush");
        prop_assert_eq!(count_items(f.path(), None).expect("count"), items.len() as u64);
    }
}

//! The list reader on arbitrary bytes: it never panics or hangs, and the
//! items it yields are numbered in order, with rising line numbers and
//! bounded URLs.
#![no_main]

use fetchtop::engine::source::{MAX_LINE_BYTES, Source};
use libfuzzer_sys::fuzz_target;
use tokio::sync::mpsc;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let data = data.to_vec();
    rt.block_on(async move {
        let source = Source::from_reader(std::io::Cursor::new(data), "fuzz", None);
        let (tx, mut rx) = mpsc::channel(64);
        let task = tokio::spawn(source.run(tx));
        let mut seq = 0;
        let mut line = 0;
        while let Some(item) = rx.recv().await {
            seq += 1;
            assert_eq!(item.seq, seq);
            let l = item.line.expect("list items have line numbers");
            assert!(l > line);
            line = l;
            assert!(item.url.len() <= MAX_LINE_BYTES);
        }
        assert_eq!(task.await.expect("the reader ends"), Ok(()));
    });
});

//! Work-item sources: a repeated URL, a `{a..b}` URL template (parsed in
//! [`super::template`]), or a list of URLs read from a file or standard input.
//!
//! Items are produced lazily and pushed into a bounded channel, so memory use
//! is independent of the number of items: a template is expanded one URL at a
//! time and a list is read through a fixed 64 KiB buffer with at most
//! [`MAX_LINE_BYTES`] (+1) bytes of the current line kept.

use std::fmt;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::sync::mpsc;

// Re-exported because callers reach the template through the source it
// becomes (`SourceSpec::Template`).
use super::feed::{Feed, Urls};
use super::job_shard::JobShard;
pub use super::template::Template;

/// One unit of work: the item's position in the source and its URL text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// 1-based position among the items of the source (blank and comment lines are not items).
    pub seq: u64,
    /// The URL text, not yet parsed or validated (the fetch task parses it and fails the item if it is invalid).
    pub url: Arc<str>,
    /// 1-based line number in the list file / stdin; None for other sources.
    pub line: Option<u64>,
    /// Set when the input line itself is unusable (invalid UTF-8, longer than
    /// [`MAX_LINE_BYTES`], contains a NUL byte); the engine records the item as
    /// failed with this reason and does not fetch it. `url` then holds a lossy,
    /// truncated (<= 200 chars) rendering of the line.
    pub defect: Option<String>,
}

/// Longest accepted list line (bytes, without the newline). Longer lines
/// become a defective item and reading continues at the next line without
/// buffering the rest of the long line.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Most URLs a command-line range may hold (ten billion: days of fetching
/// even at full speed), a guard against a typo such as an extra digit.
pub const MAX_TEMPLATE_ITEMS: u64 = 10_000_000_000;

/// Capacity of the list reader's buffer.
const READ_BUF_BYTES: usize = 64 * 1024;

/// Longest rendering (in chars) of a defective line kept in [`Item::url`].
const DEFECT_SHOWN_CHARS: usize = 200;

/// Where items come from.
#[derive(Clone, Debug)]
pub enum SourceSpec {
    /// One URL, fetched again and again (endless; the caller bounds it with `limit` or a duration).
    Repeat(String),
    /// A URL with a `{a..b}` range.
    Template(Template),
    /// A list file, one URL per line.
    ListFile(PathBuf),
    /// The same list format read from standard input.
    Stdin,
}

impl SourceSpec {
    /// From the command line: `url` (may contain a template) or `input` (a
    /// path, or "-" for stdin). Exactly one must be given, else `Err`. Errors
    /// are one-line user-facing strings. The URL is trimmed of surrounding
    /// whitespace.
    pub fn from_args(url: Option<&str>, input: Option<&Path>) -> Result<SourceSpec, String> {
        match (url, input) {
            (Some(_), Some(_)) => Err("give either a URL or an input file, not both".to_string()),
            (None, None) => Err(
                "nothing to fetch: give a URL or an input file (- for standard input)".to_string(),
            ),
            (Some(url), None) => {
                let url = url.trim();
                if url.is_empty() {
                    return Err("the URL is empty".to_string());
                }
                Ok(match Template::parse(url)? {
                    Some(t) if t.len() > MAX_TEMPLATE_ITEMS => {
                        return Err(format!(
                            "the range in {url:?} holds {} URLs, more than the {MAX_TEMPLATE_ITEMS} a run accepts: is a digit too many?",
                            t.len()
                        ));
                    }
                    Some(t) => SourceSpec::Template(t),
                    None => SourceSpec::Repeat(url.to_string()),
                })
            }
            (None, Some(path)) => {
                if path.as_os_str().is_empty() {
                    Err("the input file name is empty".to_string())
                } else if path.as_os_str() == "-" {
                    Ok(SourceSpec::Stdin)
                } else {
                    Ok(SourceSpec::ListFile(path.to_path_buf()))
                }
            }
        }
    }
}

/// The reader type behind a list source.
type ListReader = BufReader<Box<dyn AsyncRead + Send + Unpin>>;

/// What an opened source streams from.
enum Kind {
    /// The same URL again and again.
    Repeat(Arc<str>),
    /// A URL range.
    Template(Template),
    /// A list of URLs, one per line.
    List {
        /// The buffered input.
        reader: ListReader,
        /// Name for messages ("urls.txt", "stdin").
        name: String,
        /// The file, when it can be read again by [`Source::counter`].
        path: Option<PathBuf>,
    },
}

/// An opened source, ready to stream. Opening checks what can be checked up
/// front (the list file exists and is readable), so that bad input fails at
/// start-up.
pub struct Source {
    /// The input.
    kind: Kind,
    /// Stop after this many items of the job (before it is split).
    limit: Option<u64>,
    /// The part of the job this process runs (`--shard K/N`).
    job_shard: JobShard,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("describe", &self.describe())
            .field("limit", &self.limit)
            .field("job_shard", &self.job_shard)
            .finish()
    }
}

impl Source {
    /// Opens `spec`. `limit`: stop after this many items (like -n). For
    /// Repeat without a limit the stream is endless. A list file that cannot
    /// be opened fails with `cannot read input file PATH: REASON`.
    pub async fn open(spec: SourceSpec, limit: Option<u64>) -> Result<Source, String> {
        let kind = match spec {
            SourceSpec::Repeat(url) => Kind::Repeat(Arc::from(url)),
            SourceSpec::Template(t) => Kind::Template(t),
            SourceSpec::ListFile(path) => {
                let fail = |why: &dyn fmt::Display| {
                    format!("cannot read input file {}: {why}", path.display())
                };
                let file = tokio::fs::File::open(&path).await.map_err(|e| fail(&e))?;
                let meta = file.metadata().await.map_err(|e| fail(&e))?;
                if meta.is_dir() {
                    return Err(fail(&"is a directory"));
                }
                let reader: Box<dyn AsyncRead + Send + Unpin> = Box::new(file);
                Kind::List {
                    reader: BufReader::with_capacity(READ_BUF_BYTES, reader),
                    name: path.display().to_string(),
                    path: Some(path),
                }
            }
            SourceSpec::Stdin => {
                let reader: Box<dyn AsyncRead + Send + Unpin> = Box::new(tokio::io::stdin());
                Kind::List {
                    reader: BufReader::with_capacity(READ_BUF_BYTES, reader),
                    name: "stdin".to_string(),
                    path: None,
                }
            }
        };
        Ok(Source {
            kind,
            limit,
            job_shard: JobShard::WHOLE,
        })
    }

    /// Keeps only the items of job shard `part` (`--shard K/N`). Seqs stay
    /// the job's: shard 1/3 of a template yields seqs 2, 5, 8, …; `limit`
    /// still counts the job's items, before the split.
    pub fn with_job_shard(mut self, part: JobShard) -> Source {
        self.job_shard = part;
        self
    }

    /// The part of the job this source yields.
    pub fn job_shard(&self) -> JobShard {
        self.job_shard
    }

    /// A list source reading from any byte stream (for example a pipe or an
    /// in-memory buffer), in the list format. `name` is used in
    /// [`Source::describe`] and error messages; [`Source::counter`] is `None`.
    pub fn from_reader<R>(reader: R, name: impl Into<String>, limit: Option<u64>) -> Source
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let reader: Box<dyn AsyncRead + Send + Unpin> = Box::new(reader);
        Source {
            kind: Kind::List {
                reader: BufReader::with_capacity(READ_BUF_BYTES, reader),
                name: name.into(),
                path: None,
            },
            limit,
            job_shard: JobShard::WHOLE,
        }
    }

    /// Total item count when known up front: Template -> min(len, limit);
    /// Repeat -> limit; list file / stdin -> `None` (a limit is not a known
    /// total: there could be fewer lines; see [`Source::counter`]).
    /// With a job shard, the shard's share of that.
    pub fn total(&self) -> Option<u64> {
        let job = match &self.kind {
            Kind::Repeat(_) => self.limit,
            Kind::Template(t) => Some(self.limit.map_or(t.len(), |l| l.min(t.len()))),
            Kind::List { .. } => None,
        };
        job.map(|n| self.job_shard.share(n))
    }

    /// A short human description for headers, e.g. "http://h/items/{1..1000}",
    /// "urls.txt (list)", "stdin (list)", "http://h/x ×1000" (or
    /// "http://h/x ×∞" without a limit).
    /// A job shard adds " (shard K/N)".
    pub fn describe(&self) -> String {
        let what = self.describe_job();
        if self.job_shard.is_whole() {
            what
        } else {
            format!("{what} (shard {})", self.job_shard)
        }
    }

    /// [`Source::describe`] without the job shard.
    fn describe_job(&self) -> String {
        match &self.kind {
            Kind::Repeat(url) => match self.limit {
                Some(n) => format!("{url} ×{n}"),
                None => format!("{url} ×∞"),
            },
            Kind::Template(t) => t.to_string(),
            Kind::List { name, .. } => format!("{name} (list)"),
        }
    }

    /// For a list file, a blocking function counting its items (same skipping
    /// rules, capped at the limit, so it equals what [`Source::run`] yields if
    /// the file does not change) that the engine runs in `spawn_blocking` to
    /// learn the total after start; `None` for other sources.
    pub fn counter(&self) -> Option<Box<dyn FnOnce() -> std::io::Result<u64> + Send>> {
        match &self.kind {
            Kind::List {
                path: Some(path), ..
            } => {
                let path = path.clone();
                let (limit, part) = (self.limit, self.job_shard);
                Some(Box::new(move || {
                    count_items(&path, limit).map(|n| part.share(n))
                }))
            }
            _ => None,
        }
    }

    /// Streams the items into `tx` in order, seq starting at 1, until the
    /// source ends, the limit is reached, or `tx` is closed (receiver dropped:
    /// returns `Ok` quietly, also while waiting for input). I/O errors
    /// mid-stream end the stream and are returned as `Err`.
    pub async fn run(self, tx: mpsc::Sender<Item>) -> Result<(), String> {
        self.run_into(&tx).await
    }

    /// Splits the source for the shards: repeats and templates become a
    /// counter every shard draws from (no channel); a list needs a reader,
    /// which is returned to run on the control plane.
    pub(crate) fn into_feed(self) -> (Feed, Option<ListReaderTask>) {
        let max = self.limit.unwrap_or(u64::MAX);
        let part = self.job_shard;
        match self.kind {
            Kind::Repeat(url) => (
                Feed::counted(Urls::Repeat(url), part.share(max), part),
                None,
            ),
            Kind::Template(t) => {
                let count = part.share(max.min(t.len()));
                (Feed::counted(Urls::Template(t), count, part), None)
            }
            kind @ Kind::List { .. } => {
                let (tx, rx) = async_channel::bounded(READ_AHEAD);
                let source = Source {
                    kind,
                    limit: self.limit,
                    job_shard: part,
                };
                let stop = tokio_util::sync::CancellationToken::new();
                let feed = Feed::stream(rx, stop.clone());
                let reader = ListReaderTask {
                    source,
                    out: StreamOut { tx, stop },
                };
                (feed, Some(reader))
            }
        }
    }

    async fn run_into(self, tx: &impl ItemOut) -> Result<(), String> {
        let max = self.limit.unwrap_or(u64::MAX);
        let part = self.job_shard;
        match self.kind {
            Kind::Repeat(url) => {
                let mut seq = 0u64;
                while seq < max {
                    seq += 1;
                    if !part.holds(seq) {
                        continue;
                    }
                    let item = Item {
                        seq,
                        url: Arc::clone(&url),
                        line: None,
                        defect: None,
                    };
                    if !tx.put(item).await {
                        break;
                    }
                }
                Ok(())
            }
            Kind::Template(t) => {
                let count = max.min(t.len());
                let mut buf = String::new();
                for n in 0..count {
                    if !part.holds(n + 1) {
                        continue;
                    }
                    if !t.write_nth(n, &mut buf) {
                        break;
                    }
                    let item = Item {
                        seq: n + 1,
                        url: Arc::from(buf.as_str()),
                        line: None,
                        defect: None,
                    };
                    if !tx.put(item).await {
                        break;
                    }
                }
                Ok(())
            }
            Kind::List { reader, name, .. } => run_list(reader, &name, max, part, tx).await,
        }
    }
}

/// Items a list reader may read ahead of the shards.
const READ_AHEAD: usize = 1024;

/// A list source's reader, to run as a task of its own: it reads the list
/// into the feed the shards take from.
pub(crate) struct ListReaderTask {
    source: Source,
    out: StreamOut,
}

impl ListReaderTask {
    /// Reads to the end of the list, or until the feed is closed.
    pub(crate) async fn run(self) -> Result<(), String> {
        let ListReaderTask { source, out } = self;
        let result = source.run_into(&out).await;
        // Closing tells the shards that nothing more will come.
        out.tx.close();
        result
    }
}

/// Where a source puts its items: a tokio channel (tests, one consumer) or
/// the shards' feed (many consumers).
trait ItemOut {
    /// Hands one item over; false once nobody takes items any more.
    async fn put(&self, item: Item) -> bool;
    /// Resolves once nobody takes items any more.
    async fn gone(&self);
}

impl ItemOut for mpsc::Sender<Item> {
    async fn put(&self, item: Item) -> bool {
        self.send(item).await.is_ok()
    }

    async fn gone(&self) {
        self.closed().await;
    }
}

/// The list reader's side of a stream feed.
struct StreamOut {
    tx: async_channel::Sender<Item>,
    /// Cancelled when the run stops admitting.
    stop: tokio_util::sync::CancellationToken,
}

impl ItemOut for StreamOut {
    async fn put(&self, item: Item) -> bool {
        tokio::select! {
            biased;
            () = self.stop.cancelled() => false,
            sent = self.tx.send(item) => sent.is_ok(),
        }
    }

    async fn gone(&self) {
        self.stop.cancelled().await;
    }
}

/// Streams a list source; see [`Source::run`].
async fn run_list(
    mut reader: ListReader,
    name: &str,
    max: u64,
    part: JobShard,
    tx: &impl ItemOut,
) -> Result<(), String> {
    let mut lines = LineState::new();
    let mut seq = 0u64;
    while seq < max {
        if reader.buffer().is_empty() {
            tokio::select! {
                biased;
                () = tx.gone() => return Ok(()),
                r = reader.fill_buf() => {
                    if let Err(e) = r {
                        return Err(format!("error reading {name}: {e}"));
                    }
                }
            }
        }
        let chunk = reader.buffer();
        let at_eof = chunk.is_empty();
        if at_eof {
            if !lines.has_partial() {
                return Ok(());
            }
        } else {
            let (used, complete) = lines.feed(chunk);
            reader.consume(used);
            if !complete {
                continue;
            }
        }
        let line_no = lines.end_line();
        let item = lines.classify().map(|kind| {
            seq += 1;
            kind.into_item(seq, line_no)
        });
        lines.clear();
        // Every line is read and numbered; only this job shard's items go on.
        if let Some(item) = item.filter(|i| part.holds(i.seq))
            && !tx.put(item).await
        {
            return Ok(());
        }
        if at_eof {
            return Ok(());
        }
    }
    Ok(())
}

/// Counts the items of a list file, capped at `limit`; see [`Source::counter`].
fn count_items(path: &Path, limit: Option<u64>) -> std::io::Result<u64> {
    let max = limit.unwrap_or(u64::MAX);
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::with_capacity(READ_BUF_BYTES, file);
    let mut lines = LineState::new();
    let mut count = 0u64;
    while count < max {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let at_eof = chunk.is_empty();
        if at_eof {
            if !lines.has_partial() {
                break;
            }
        } else {
            let (used, complete) = lines.feed(chunk);
            reader.consume(used);
            if !complete {
                continue;
            }
        }
        lines.end_line();
        if lines.classify().is_some() {
            count += 1;
        }
        lines.clear();
        if at_eof {
            break;
        }
    }
    Ok(count)
}

/// Assembles list lines from chunks, keeping at most `MAX_LINE_BYTES + 1`
/// bytes of the current line (the +1 lets a CRLF line of exactly
/// `MAX_LINE_BYTES` through).
struct LineState {
    /// The start of the current line.
    buf: Vec<u8>,
    /// Full length of the current line so far, newline excluded.
    raw_len: u64,
    /// Lines ended so far, i.e. the 1-based number of the line last ended.
    line_no: u64,
}

impl LineState {
    /// An empty state before the first line.
    fn new() -> Self {
        LineState {
            buf: Vec::new(),
            raw_len: 0,
            line_no: 0,
        }
    }

    /// Takes bytes from `chunk` up to and including the first newline.
    /// Returns how many bytes were used and whether a line was completed.
    fn feed(&mut self, chunk: &[u8]) -> (usize, bool) {
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.append(&chunk[..i]);
                (i + 1, true)
            }
            None => {
                self.append(chunk);
                (chunk.len(), false)
            }
        }
    }

    /// Adds line bytes, keeping only what fits the bound.
    fn append(&mut self, bytes: &[u8]) {
        self.raw_len += bytes.len() as u64;
        let room = (MAX_LINE_BYTES + 1).saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// Whether bytes of an unterminated line are pending.
    fn has_partial(&self) -> bool {
        self.raw_len > 0
    }

    /// Ends the current line; returns its 1-based number.
    fn end_line(&mut self) -> u64 {
        self.line_no += 1;
        self.line_no
    }

    /// Classifies the line just ended; `None` for blank and comment lines.
    fn classify(&self) -> Option<LineKind<'_>> {
        classify(&self.buf, self.raw_len, self.line_no == 1)
    }

    /// Forgets the current line (keeps the allocation).
    fn clear(&mut self) {
        self.buf.clear();
        self.raw_len = 0;
    }
}

/// A list line that is an item.
enum LineKind<'a> {
    /// A usable URL line, trimmed.
    Url(&'a str),
    /// Longer than [`MAX_LINE_BYTES`]; holds the kept start and the full length.
    TooLong(&'a [u8], u64),
    /// Not valid UTF-8; holds the trimmed line.
    NotUtf8(&'a [u8]),
    /// Contains a NUL byte; holds the trimmed line.
    HasNul(&'a [u8]),
}

impl LineKind<'_> {
    /// Builds the item for this line.
    fn into_item(self, seq: u64, line: u64) -> Item {
        let (url, defect) = match self {
            LineKind::Url(s) => (Arc::from(s), None),
            LineKind::TooLong(b, len) => (
                render_defective(b),
                Some(format!(
                    "line is longer than {MAX_LINE_BYTES} bytes ({len} bytes)"
                )),
            ),
            LineKind::NotUtf8(b) => (
                render_defective(b),
                Some("line is not valid UTF-8".to_string()),
            ),
            LineKind::HasNul(b) => (
                render_defective(b),
                Some("line contains a NUL byte".to_string()),
            ),
        };
        Item {
            seq,
            url,
            line: Some(line),
            defect,
        }
    }
}

/// Classifies one line (`buf` holds its first bytes, `raw_len` its full
/// length without the newline). Blank lines and lines whose first
/// non-whitespace char is `#` give `None`. A UTF-8 byte-order mark at the
/// start of the first line is ignored.
fn classify(buf: &[u8], raw_len: u64, first_line: bool) -> Option<LineKind<'_>> {
    let bytes = if first_line {
        buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf)
    } else {
        buf
    };
    let limit = MAX_LINE_BYTES as u64;
    let too_long = raw_len > limit + 1 || (raw_len == limit + 1 && buf.last() != Some(&b'\r'));
    let trimmed = bytes.trim_ascii();
    if trimmed.first() == Some(&b'#') {
        return None;
    }
    if too_long {
        return Some(LineKind::TooLong(trimmed, raw_len));
    }
    match std::str::from_utf8(trimmed) {
        Ok(s) => {
            let s = s.trim();
            if s.is_empty() || s.starts_with('#') {
                None
            } else if s.contains('\0') {
                Some(LineKind::HasNul(trimmed))
            } else {
                Some(LineKind::Url(s))
            }
        }
        Err(_) => Some(LineKind::NotUtf8(trimmed)),
    }
}

/// A lossy rendering of at most [`DEFECT_SHOWN_CHARS`] chars of a bad line,
/// with control characters (NUL included) shown as U+FFFD.
fn render_defective(bytes: &[u8]) -> Arc<str> {
    let head = &bytes[..bytes.len().min(DEFECT_SHOWN_CHARS * 4)];
    let shown: String = String::from_utf8_lossy(head)
        .chars()
        .take(DEFECT_SHOWN_CHARS)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    Arc::from(shown)
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::io::Write as _;
    use std::time::Duration;

    /// Runs `fut` on a fresh runtime in another thread and fails the test if
    /// it does not finish within `secs` seconds.
    fn within<T, F>(secs: u64, fut: F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let out = rt.block_on(fut);
            let _ = done_tx.send(out);
            rt.shutdown_background();
        });
        done_rx
            .recv_timeout(Duration::from_secs(secs))
            .expect("timed out (hang?)")
    }

    fn tpl(s: &str) -> Template {
        Template::parse(s).expect("parses").expect("is a template")
    }

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        f.flush().expect("flush");
        f
    }

    async fn collect(source: Source) -> Result<Vec<Item>, String> {
        let (tx, mut rx) = mpsc::channel(64);
        let task = tokio::spawn(source.run(tx));
        let mut items = Vec::new();
        while let Some(item) = rx.recv().await {
            items.push(item);
        }
        task.await.expect("run task")?;
        Ok(items)
    }

    async fn collect_spec(spec: SourceSpec, limit: Option<u64>) -> Vec<Item> {
        let source = Source::open(spec, limit).await.expect("open");
        collect(source).await.expect("run")
    }

    fn urls(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| &*i.url).collect()
    }

    // ---- from_args / open ----

    #[test]
    fn enormous_ranges_are_refused_on_the_command_line() {
        let ok = format!("http://h/{{1..{MAX_TEMPLATE_ITEMS}}}");
        assert!(matches!(
            SourceSpec::from_args(Some(&ok), None),
            Ok(SourceSpec::Template(_))
        ));
        let big = format!("http://h/{{0..{MAX_TEMPLATE_ITEMS}}}");
        let e = SourceSpec::from_args(Some(&big), None).unwrap_err();
        assert!(e.contains("more than the 10000000000"), "{e}");
        let e =
            SourceSpec::from_args(Some("http://h/{0..18446744073709551615}"), None).unwrap_err();
        assert!(e.contains("18446744073709551615 URLs"), "{e}");
    }

    #[test]
    fn from_args_variants() {
        assert!(matches!(
            SourceSpec::from_args(Some("http://h/x"), None),
            Ok(SourceSpec::Repeat(u)) if u == "http://h/x"
        ));
        assert!(matches!(
            SourceSpec::from_args(Some(" http://h/{1..3} "), None),
            Ok(SourceSpec::Template(t)) if t.len() == 3
        ));
        assert!(matches!(
            SourceSpec::from_args(None, Some(Path::new("-"))),
            Ok(SourceSpec::Stdin)
        ));
        assert!(matches!(
            SourceSpec::from_args(None, Some(Path::new("urls.txt"))),
            Ok(SourceSpec::ListFile(p)) if p == Path::new("urls.txt")
        ));
        let neither = SourceSpec::from_args(None, None).expect_err("neither");
        assert!(neither.contains("URL"), "{neither}");
        let both =
            SourceSpec::from_args(Some("http://h/"), Some(Path::new("f"))).expect_err("both");
        assert!(both.contains("not both"), "{both}");
        assert!(SourceSpec::from_args(Some("  "), None).is_err());
        assert!(SourceSpec::from_args(Some("http://h/{1..}"), None).is_err());
    }

    #[tokio::test]
    async fn open_missing_file_names_path() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("no-such-list.txt");
        let err = Source::open(SourceSpec::ListFile(path.clone()), None)
            .await
            .expect_err("missing");
        assert!(err.starts_with("cannot read input file "), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        let err = Source::open(SourceSpec::ListFile(dir.path().to_path_buf()), None)
            .await
            .expect_err("directory");
        assert!(err.contains("is a directory"), "{err}");
    }

    // ---- job shards (--shard K/N) ----

    /// Every item of every job shard of `spec`, read through the shards' feed.
    async fn shard_seqs(spec: &SourceSpec, limit: Option<u64>, count: u64) -> Vec<Vec<u64>> {
        let mut all = Vec::new();
        for index in 0..count {
            let part = JobShard::new(index, count).expect("shard");
            let source = Source::open(spec.clone(), limit)
                .await
                .expect("open")
                .with_job_shard(part);
            let total = source.total();
            let counter = source.counter();
            let (feed, reader) = source.into_feed();
            let reading = reader.map(|r| tokio::spawn(r.run()));
            let (mut out, mut buf) = (Vec::new(), String::new());
            loop {
                if feed.take(3, &mut out, &mut buf) == super::super::feed::Supply::Ended {
                    break;
                }
                if feed.is_stream() {
                    match feed.next().await {
                        Some(item) => out.push(item),
                        None => break,
                    }
                }
            }
            if let Some(r) = reading {
                r.await.expect("reader").expect("reads");
            }
            let seqs: Vec<u64> = out.iter().map(|i| i.seq).collect();
            assert!(seqs.iter().all(|&s| part.holds(s)), "{part}: {seqs:?}");
            let known = match counter {
                Some(count) => Some(count().expect("counts")),
                None => total,
            };
            assert_eq!(known, Some(seqs.len() as u64), "{part}: total");
            all.push(seqs);
        }
        all
    }

    fn union_is(shards: &[Vec<u64>], job: u64) {
        let mut all: Vec<u64> = shards.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (1..=job).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn job_shards_split_every_source_by_position() {
        let t = SourceSpec::Template(tpl("http://h/{1..100}"));
        let shards = shard_seqs(&t, None, 3).await;
        assert_eq!(shards[1][..3], [2, 5, 8]);
        union_is(&shards, 100);
        union_is(&shard_seqs(&t, Some(10), 4).await, 10);
        let r = SourceSpec::Repeat("http://h/x".into());
        union_is(&shard_seqs(&r, Some(7), 3).await, 7);
        // A list: blank and comment lines are not items, seqs and lines stay the job's.
        let mut text = String::from("# a comment\n\n");
        for n in 1..=50 {
            text.push_str(&format!("http://h/{n}\n"));
        }
        let f = file_with(text.as_bytes());
        let list = SourceSpec::ListFile(f.path().to_path_buf());
        union_is(&shard_seqs(&list, None, 3).await, 50);
        union_is(&shard_seqs(&list, Some(20), 3).await, 20);
        let part = JobShard::new(2, 3).expect("shard");
        let source = Source::open(list, None)
            .await
            .expect("open")
            .with_job_shard(part);
        assert!(
            source.describe().ends_with("(shard 2/3)"),
            "{}",
            source.describe()
        );
        let items = collect(source).await.expect("run");
        assert_eq!(items[0].seq, 3);
        assert_eq!(&*items[0].url, "http://h/3");
        assert_eq!(items[0].line, Some(5));
    }

    // ---- Repeat / Template streaming, limits, totals ----

    #[tokio::test]
    async fn repeat_with_limit() {
        let spec = SourceSpec::Repeat("http://h/x".into());
        let source = Source::open(spec.clone(), Some(3)).await.expect("open");
        assert_eq!(source.total(), Some(3));
        assert_eq!(source.describe(), "http://h/x ×3");
        assert!(source.counter().is_none());
        let items = collect(source).await.expect("run");
        assert_eq!(items.len(), 3);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.seq, i as u64 + 1);
            assert_eq!(&*item.url, "http://h/x");
            assert_eq!(item.line, None);
            assert_eq!(item.defect, None);
        }
        let endless = Source::open(spec, None).await.expect("open");
        assert_eq!(endless.total(), None);
        assert!(endless.describe().starts_with("http://h/x"));
        assert!(
            collect_spec(SourceSpec::Repeat("u".into()), Some(0))
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn template_stream_and_limit() {
        let spec = SourceSpec::Template(tpl("http://h/items/{1..1000}"));
        let source = Source::open(spec.clone(), None).await.expect("open");
        assert_eq!(source.total(), Some(1000));
        assert_eq!(source.describe(), "http://h/items/{1..1000}");
        assert!(source.counter().is_none());
        let items = collect(source).await.expect("run");
        assert_eq!(items.len(), 1000);
        assert_eq!(&*items[999].url, "http://h/items/1000");
        assert_eq!(items[999].seq, 1000);
        assert!(items.iter().all(|i| i.line.is_none() && i.defect.is_none()));

        let capped = Source::open(spec.clone(), Some(10)).await.expect("open");
        assert_eq!(capped.total(), Some(10));
        let items = collect(capped).await.expect("run");
        assert_eq!(items.len(), 10);
        assert_eq!(&*items[9].url, "http://h/items/10");

        let over = Source::open(spec, Some(5000)).await.expect("open");
        assert_eq!(over.total(), Some(1000));
        assert_eq!(collect(over).await.expect("run").len(), 1000);
    }

    // ---- Lists ----

    #[tokio::test]
    async fn list_skips_and_numbers() {
        let f = file_with(
            b"# header comment\n\
              http://h/1\n\
              \n\
              \x20  http://h/2  \r\n\
              \t# indented comment\r\n\
              \r\n\
              \x20\t\n\
              http://h/3\r\n\
              http://h/4",
        );
        let source = Source::open(SourceSpec::ListFile(f.path().into()), None)
            .await
            .expect("open");
        assert_eq!(source.total(), None);
        assert_eq!(source.describe(), format!("{} (list)", f.path().display()));
        let items = collect(source).await.expect("run");
        assert_eq!(
            urls(&items),
            ["http://h/1", "http://h/2", "http://h/3", "http://h/4"]
        );
        let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        let lines: Vec<Option<u64>> = items.iter().map(|i| i.line).collect();
        assert_eq!(lines, [Some(2), Some(4), Some(8), Some(9)]);
        assert!(items.iter().all(|i| i.defect.is_none()));
    }

    #[tokio::test]
    async fn list_edge_files() {
        for (bytes, want) in [
            (&b""[..], &[][..]),
            (b"\n\n\n", &[]),
            (b"# only\n", &[]),
            (b"a", &["a"]),
            (b"a\n", &["a"]),
            (b"\xEF\xBB\xBFhttp://bom\n", &["http://bom"]),
            (b"a\r\nb\r\n", &["a", "b"]),
            (b"a\rb\n", &["a\rb"]),
            ("\u{3000}# ideographic-space comment\n".as_bytes(), &[]),
            ("\u{a0}http://nbsp\u{a0}\n".as_bytes(), &["http://nbsp"]),
        ] {
            let f = file_with(bytes);
            let items = collect_spec(SourceSpec::ListFile(f.path().into()), None).await;
            assert_eq!(urls(&items), want, "{bytes:?}");
        }
    }

    #[tokio::test]
    async fn list_defective_lines() {
        let mut data = Vec::new();
        data.extend_from_slice(b"http://h/ok1\n"); // 1
        data.extend_from_slice(b"http://h/\xff\xfe bad\n"); // 2
        data.extend_from_slice(b"# comment \xff is fine\n"); // 3
        data.extend_from_slice(b"http://h/ok2\n"); // 4
        data.extend_from_slice(b"http://h/\0nul\r\n"); // 5
        data.extend_from_slice(b"http://h/ok3\n"); // 6
        data.extend_from_slice(b"http://h/");
        data.extend(std::iter::repeat_n(b'x', 100 * 1024)); // 7: 100 KiB line
        data.extend_from_slice(b"\n");
        data.extend_from_slice(b"http://h/ok4\n"); // 8
        data.extend_from_slice(b"#");
        data.extend(std::iter::repeat_n(b'c', 100 * 1024)); // 9: long comment
        data.extend_from_slice(b"\n");
        data.extend_from_slice(b"http://h/ok5"); // 10
        let f = file_with(&data);
        let items = collect_spec(SourceSpec::ListFile(f.path().into()), None).await;
        let summary: Vec<(u64, Option<u64>, bool)> = items
            .iter()
            .map(|i| (i.seq, i.line, i.defect.is_some()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, Some(1), false),
                (2, Some(2), true),
                (3, Some(4), false),
                (4, Some(5), true),
                (5, Some(6), false),
                (6, Some(7), true),
                (7, Some(8), false),
                (8, Some(10), false),
            ]
        );
        assert_eq!(&*items[0].url, "http://h/ok1");
        assert_eq!(&*items[2].url, "http://h/ok2");
        assert_eq!(&*items[4].url, "http://h/ok3");
        assert_eq!(&*items[6].url, "http://h/ok4");
        assert_eq!(&*items[7].url, "http://h/ok5");

        let utf8 = &items[1];
        assert!(utf8.defect.as_deref().is_some_and(|d| d.contains("UTF-8")));
        assert!(utf8.url.starts_with("http://h/"), "{}", utf8.url);
        assert!(utf8.url.ends_with(" bad"), "{}", utf8.url);

        let nul = &items[3];
        assert!(nul.defect.as_deref().is_some_and(|d| d.contains("NUL")));
        assert!(!nul.url.contains('\0'));
        assert!(nul.url.starts_with("http://h/"));

        let long = &items[5];
        let reason = long.defect.as_deref().unwrap_or_default();
        assert!(reason.contains("longer than 65536"), "{reason}");
        assert!(reason.contains(&(9 + 100 * 1024).to_string()), "{reason}");
        assert!(long.url.chars().count() <= 200);
        assert!(long.url.starts_with("http://h/xxx"));

        // The counter applies the same rules.
        let source = Source::open(SourceSpec::ListFile(f.path().into()), None)
            .await
            .expect("open");
        let count = source.counter().expect("counter")().expect("count");
        assert_eq!(count, items.len() as u64);
    }

    #[tokio::test]
    async fn line_length_boundaries() {
        let exact = "a".repeat(MAX_LINE_BYTES);
        let mut data = Vec::new();
        data.extend_from_slice(exact.as_bytes()); // 1: exactly the limit
        data.extend_from_slice(b"\n");
        data.extend_from_slice(exact.as_bytes()); // 2: limit + CR
        data.extend_from_slice(b"\r\n");
        data.extend_from_slice(exact.as_bytes()); // 3: one over
        data.extend_from_slice(b"b\n");
        data.extend_from_slice(exact.as_bytes()); // 4: one over, CRLF
        data.extend_from_slice(b"b\r\n");
        data.extend(std::iter::repeat_n(b'z', 3 * MAX_LINE_BYTES)); // 5: over, no newline
        let f = file_with(&data);
        let items = collect_spec(SourceSpec::ListFile(f.path().into()), None).await;
        let defects: Vec<bool> = items.iter().map(|i| i.defect.is_some()).collect();
        assert_eq!(defects, [false, false, true, true, true]);
        assert_eq!(items[0].url.len(), MAX_LINE_BYTES);
        assert_eq!(items[1].url.len(), MAX_LINE_BYTES);
        let lines: Vec<Option<u64>> = items.iter().map(|i| i.line).collect();
        assert_eq!(lines, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
    }

    #[test]
    fn line_state_keeps_memory_bounded() {
        let mut st = LineState::new();
        let chunk = vec![b'x'; READ_BUF_BYTES];
        // 16 MiB without a newline: the kept buffer stays at the bound.
        for _ in 0..256 {
            let (used, done) = st.feed(&chunk);
            assert_eq!((used, done), (chunk.len(), false));
        }
        assert_eq!(st.buf.len(), MAX_LINE_BYTES + 1);
        assert_eq!(st.raw_len, 256 * READ_BUF_BYTES as u64);
        let (used, done) = st.feed(b"\nnext");
        assert_eq!((used, done), (1, true));
        assert_eq!(st.end_line(), 1);
        assert!(matches!(st.classify(), Some(LineKind::TooLong(..))));
        st.clear();
        assert!(!st.has_partial());
    }

    #[tokio::test]
    async fn counter_matches_run_on_messy_file() {
        let mut data = Vec::new();
        for i in 0..5000u32 {
            match i % 9 {
                0 => data.extend_from_slice(b"# c\n"),
                1 => data.extend_from_slice(b"   \r\n"),
                2 => data.extend_from_slice(format!("  http://h/{i}  \r\n").as_bytes()),
                3 => data.extend_from_slice(b"\xc3\x28\n"),
                4 => data.extend_from_slice(b"a\0b\n"),
                5 if i % 1000 == 5 => {
                    data.extend(std::iter::repeat_n(b'q', 70_000));
                    data.push(b'\n');
                }
                6 => data.extend_from_slice("\u{3000}\n".as_bytes()),
                _ => data.extend_from_slice(format!("http://h/{i}\n").as_bytes()),
            }
        }
        data.extend_from_slice(b"http://h/last");
        let f = file_with(&data);
        for limit in [None, Some(100), Some(1_000_000)] {
            let source = Source::open(SourceSpec::ListFile(f.path().into()), limit)
                .await
                .expect("open");
            let counter = source.counter().expect("counter");
            let counted = tokio::task::spawn_blocking(counter)
                .await
                .expect("join")
                .expect("count");
            let items = collect(source).await.expect("run");
            assert_eq!(counted, items.len() as u64, "limit {limit:?}");
            if limit == Some(100) {
                assert_eq!(counted, 100);
            } else {
                assert!(counted > 3000);
                assert_eq!(items.last().map(|i| &*i.url), Some("http://h/last"));
            }
        }
    }

    #[test]
    fn big_list_streams_with_backpressure() {
        let mut data = String::with_capacity(200_000 * 24);
        for i in 1..=200_000u32 {
            data.push_str(&format!("http://h/item/{i}\n"));
        }
        let f = file_with(data.as_bytes());
        let path = f.path().to_path_buf();
        let (count, last_seq, in_order) = within(120, async move {
            let source = Source::open(SourceSpec::ListFile(path), None)
                .await
                .expect("open");
            let (tx, mut rx) = mpsc::channel::<Item>(16);
            let consumer = tokio::spawn(async move {
                let mut count = 0u64;
                let mut last = 0u64;
                let mut in_order = true;
                while let Some(item) = rx.recv().await {
                    count += 1;
                    in_order &= item.seq == count
                        && item.line == Some(count)
                        && *item.url == *format!("http://h/item/{count}");
                    last = item.seq;
                }
                (count, last, in_order)
            });
            source.run(tx).await.expect("run");
            consumer.await.expect("consumer")
        });
        assert_eq!(count, 200_000);
        assert_eq!(last_seq, 200_000);
        assert!(in_order);
    }

    #[tokio::test]
    async fn list_limit() {
        let f = file_with(b"a\n\nb\n#c\nc\nd\n");
        let source = Source::open(SourceSpec::ListFile(f.path().into()), Some(2))
            .await
            .expect("open");
        assert_eq!(source.total(), None);
        assert_eq!(urls(&collect(source).await.expect("run")), ["a", "b"]);
        assert!(
            collect_spec(SourceSpec::ListFile(f.path().into()), Some(0))
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn from_reader_and_stdin_describe() {
        let source = Source::from_reader(&b"# x\nhttp://h/1\r\n\nhttp://h/2"[..], "mem", None);
        assert_eq!(source.describe(), "mem (list)");
        assert_eq!(source.total(), None);
        assert!(source.counter().is_none());
        let items = collect(source).await.expect("run");
        assert_eq!(urls(&items), ["http://h/1", "http://h/2"]);
        assert_eq!(items[1].line, Some(4));

        let stdin = Source::open(SourceSpec::Stdin, Some(5))
            .await
            .expect("open");
        assert_eq!(stdin.describe(), "stdin (list)");
        assert_eq!(stdin.total(), None);
        assert!(stdin.counter().is_none());
    }

    #[tokio::test]
    async fn read_error_mid_stream_is_reported() {
        struct Failing(bool);
        impl AsyncRead for Failing {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                if self.0 {
                    std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")))
                } else {
                    self.0 = true;
                    buf.put_slice(b"http://h/1\nhttp://h/2");
                    std::task::Poll::Ready(Ok(()))
                }
            }
        }
        let source = Source::from_reader(Failing(false), "broken", None);
        let (tx, mut rx) = mpsc::channel(8);
        let err = source.run(tx).await.expect_err("read error");
        assert!(
            err.contains("broken") && err.contains("disk on fire"),
            "{err}"
        );
        assert_eq!(rx.recv().await.map(|i| i.seq), Some(1));
        assert_eq!(rx.recv().await, None);
    }

    // ---- Early close ----

    #[test]
    fn closing_receiver_stops_endless_repeat() {
        within(20, async {
            let source = Source::open(SourceSpec::Repeat("http://h/x".into()), None)
                .await
                .expect("open");
            let (tx, mut rx) = mpsc::channel(4);
            let task = tokio::spawn(source.run(tx));
            for want in 1..=10 {
                assert_eq!(rx.recv().await.map(|i| i.seq), Some(want));
            }
            drop(rx);
            assert_eq!(task.await.expect("join"), Ok(()));
        });
    }

    #[test]
    fn closing_receiver_stops_template_and_list() {
        within(30, async {
            let t = tpl("http://h/{1..18446744073709551615}");
            let source = Source::open(SourceSpec::Template(t), None)
                .await
                .expect("open");
            let (tx, mut rx) = mpsc::channel(4);
            let task = tokio::spawn(source.run(tx));
            assert_eq!(rx.recv().await.map(|i| i.seq), Some(1));
            drop(rx);
            assert_eq!(task.await.expect("join"), Ok(()));

            let mut data = String::new();
            for i in 0..50_000 {
                data.push_str(&format!("http://h/{i}\n"));
            }
            let f = file_with(data.as_bytes());
            let source = Source::open(SourceSpec::ListFile(f.path().into()), None)
                .await
                .expect("open");
            let (tx, mut rx) = mpsc::channel(4);
            let task = tokio::spawn(source.run(tx));
            assert_eq!(rx.recv().await.map(|i| i.seq), Some(1));
            drop(rx);
            assert_eq!(task.await.expect("join"), Ok(()));
        });
    }

    #[test]
    fn closing_receiver_stops_run_waiting_for_input() {
        within(20, async {
            // A pipe that delivers one line and then stays silent (writer kept open).
            let (mut writer, reader) = tokio::io::duplex(1024);
            tokio::io::AsyncWriteExt::write_all(&mut writer, b"http://h/1\n")
                .await
                .expect("write");
            let source = Source::from_reader(reader, "pipe", None);
            let (tx, mut rx) = mpsc::channel(4);
            let task = tokio::spawn(source.run(tx));
            assert_eq!(rx.recv().await.map(|i| i.seq), Some(1));
            drop(rx);
            assert_eq!(task.await.expect("join"), Ok(()));
            drop(writer);
        });
    }
}

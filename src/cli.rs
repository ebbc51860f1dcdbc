//! The command line: every flag, its help text and how its value is checked.
//!
//! Values are validated here (clap value parsers) so a bad argument is a
//! one-line error with exit status 2 before anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use reqwest::header::{HeaderName, HeaderValue};

use crate::demo::scenario::Scenario;
use crate::demo::server::{parse_error_rate, parse_latency_range};
use crate::engine::http::parse_header;
use crate::engine::model::Model;
use crate::engine::net::ConnectRules;
use crate::engine::pace::parse_rate;
use crate::engine::transport::TransportChoice;
use crate::engine::{MAX_CONCURRENCY, MAX_RETRIES};

/// Watch thousands of concurrent HTTP fetches live.
#[derive(Debug, Parser)]
#[command(
    name = "fetchtop",
    version,
    about = "Watch thousands of concurrent HTTP fetches live: one tokio task per item, a live concurrency limit, JSONL results.",
    args_conflicts_with_subcommands = true,
    after_help = "Sources: a URL (fetched once, or -n/-z times), a URL with a range such as http://host/items/{1..1000}, or a list with -i FILE (-i - for stdin).\nTry it with no network: fetchtop demo"
)]
pub struct Cli {
    /// Run the built-in demo API or a demo against it.
    #[command(subcommand)]
    pub command: Option<Mode>,

    /// What to fetch.
    #[command(flatten)]
    pub source: SourceArgs,

    /// How to fetch it.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Most shards (`--workers`) accepted, a guard against typos.
pub const MAX_WORKERS: u64 = crate::engine::MAX_SHARDS as u64;

impl Cli {
    /// The `--workers` asked for, if any (URL runs and demos; not `serve`).
    pub fn workers(&self) -> Option<u64> {
        match &self.command {
            None => self.run.workers,
            Some(Mode::Demo(d)) => d.run.workers,
            Some(Mode::Sweep(s)) => s.run.workers,
            Some(
                Mode::Serve(_)
                | Mode::Completions(_)
                | Mode::Man
                | Mode::Merge(_)
                | Mode::Attach(_)
                | Mode::Replay(_)
                | Mode::Report(_),
            ) => None,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Serve the demo API: GET /items/{id}, /compressed/{coding}, /bytes/{n}
    /// and /stats, POST /stats/reset.
    // `serve` has no scenarios: its defaults are plain numbers.
    #[command(
        mut_arg("latency", |a| a.help("Response delay range, heavy-tailed inside it (e.g. 5ms..150ms, or 20ms) [default: 5ms..150ms]")),
        mut_arg("error_rate", |a| a.help("Fraction of item requests answered with 500 or 503 (e.g. 0.01 or 1%) [default: 0.01]")),
        mut_arg("slots", |a| a.help("Serve at most N item requests at once (a known capacity); N more wait in a queue, the rest get 429 [default: no limit]")),
    )]
    Serve(ServeArgs),
    /// Start the demo API in-process and fetch /items/{1..N} from it.
    // The demo's source is its own /items/{1..N}: no plain URL to repeat.
    #[command(
        mut_arg("requests", |a| a.help("Stop after N of the demo's items (default: all --items)")),
        mut_arg("duration", |a| a.help("Stop admitting after this long (e.g. 30s, 5m); requests in flight then finish")),
    )]
    Demo(Box<DemoArgs>),
    /// Find the knee of URL: `--sweep 1..1024` unless given, a plain URL
    /// repeated until the sweep ends.
    Sweep(Box<SweepArgs>),
    /// Show a recording (made with --record) on the dashboard again, with
    /// keys to pause, step, seek and change speed.
    Replay(ReplayArgs),
    /// Make the HTML report (as --report) from a recording (made with --record).
    Report(ReportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout; read it with `fetchtop man | man -l -`.
    Man,
    /// Merge the JSON summaries (--summary-file) of a job's shards into one.
    Merge(MergeArgs),
    /// Watch running instances (their --metrics address) as one dashboard; keys steer them all.
    Attach(AttachArgs),
}

/// `fetchtop replay FILE`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording (`--record FILE`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Most frames per second.
    #[arg(long = "fps", value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,

    /// Draw the dashboard with ASCII symbols and borders only.
    #[arg(long = "ascii")]
    pub ascii: bool,
}

/// `fetchtop report FILE`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The recording (`--record FILE`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Where to write the page (default: FILE with the extension .html).
    #[arg(short = 'o', long = "output", value_name = "HTML")]
    pub output: Option<PathBuf>,
}

/// `fetchtop completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

/// `fetchtop sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// What to fetch.
    #[command(flatten)]
    pub source: SourceArgs,

    /// How to fetch it.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Where the items come from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// URL to fetch; may contain one range such as {1..1000} or {001..250} (padding is kept).
    #[arg(value_name = "URL")]
    pub url: Option<String>,

    /// Read URLs from FILE, one per line (blank lines and # comments skipped); - reads stdin.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        conflicts_with = "url"
    )]
    pub input: Option<PathBuf>,
}

/// Options shared by runs against any source, the demo included.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Requests in flight at once; 0 starts paused. Changeable while running.
    #[arg(short = 'c', long = "concurrency", value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=MAX_CONCURRENCY))]
    pub concurrency: u64,

    /// Stop after N items (for a plain URL: fetch it N times; default 1).
    #[arg(short = 'n', long = "requests", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Stop admitting after this long (e.g. 30s, 5m); a plain URL repeats until then.
    #[arg(short = 'z', long = "duration", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Start at most R requests per second (fractions allowed, e.g. 0.5);
    /// r / R on the dashboard halve / double it. Latency counts from each
    /// request's scheduled send time. A..B with --ramp D: from A to B
    /// linearly over D, then B.
    #[arg(long = "rate", value_name = "R", value_parser = parse_rate_arg, allow_negative_numbers = true)]
    pub rate: Option<RateArg>,

    /// With --rate A..B: how long the linear ramp from A to B takes.
    #[arg(long = "ramp", value_name = "DURATION", value_parser = parse_duration)]
    pub ramp: Option<Duration>,

    /// Rate stages RATE:DURATION,...: each ramps linearly from the last
    /// rate (0 at first; a 0s stage is a step) to its own; the run ends
    /// with the last stage. E.g. 100:30s,500:60s,0:10s.
    #[arg(long = "rate-stages", value_name = "STAGES", conflicts_with_all = ["rate", "ramp"],
          value_parser = parse_rate_stages)]
    pub rate_stages: Option<RateStages>,

    /// Shards: event loops, each an OS thread running its share of the tasks; 1 runs every task on one thread. Default: one per core.
    #[arg(long = "workers", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS))]
    pub workers: Option<u64>,

    /// How items run: async (a tokio task each), threads (an OS thread each, capped), sequential (one at a time).
    #[arg(long = "model", value_name = "MODEL", default_value = "async", value_parser = parse_model)]
    pub model: Model,

    /// HTTP request options.
    #[command(flatten)]
    pub http: HttpArgs,

    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Thresholds for CI (`--fail-if`, `--abort-if`).
    #[command(flatten)]
    pub thresholds: ThresholdArgs,

    /// The limit moved by the engine (`--adaptive`).
    #[command(flatten)]
    pub adaptive: AdaptiveArgs,

    /// Running as one part of a job over many processes.
    #[command(flatten)]
    pub job: JobArgs,
}

/// `--adaptive` and its bounds.
#[derive(Debug, Args)]
pub struct AdaptiveArgs {
    /// Let the engine move the concurrency limit itself, from -c: AIMD on
    /// 429/503 and timeouts, Vegas on latency. `a` on the dashboard
    /// switches it; a limit key takes the limit back by hand.
    #[arg(long = "adaptive")]
    pub adaptive: bool,

    /// Highest limit --adaptive sets.
    #[arg(long = "adaptive-max", value_name = "N",
          default_value_t = crate::engine::adaptive::DEFAULT_MAX,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CONCURRENCY))]
    pub adaptive_max: u64,

    /// --adaptive keeps the p99 latency under this (e.g. 200ms).
    #[arg(long = "target-p99", value_name = "DURATION", value_parser = parse_duration)]
    pub target_p99: Option<Duration>,

    /// Find the knee: step the limit from MIN to MAX (×2 a step), hold each
    /// until steady, stop when throughput stops growing or errors appear,
    /// and end the run at the knee (a single URL is fetched again and again until then).
    #[arg(long = "sweep", value_name = "MIN..MAX", conflicts_with = "adaptive",
          value_parser = crate::engine::sweep::parse_range)]
    pub sweep: Option<(u64, u64)>,

    /// Longest hold of one --sweep step when it does not settle.
    #[arg(long = "sweep-hold", value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration)]
    pub sweep_hold: Duration,
}

/// The `--sweep` range `fetchtop sweep` uses unless told otherwise.
pub const SWEEP_DEFAULT: (u64, u64) = (1, 1024);

impl AdaptiveArgs {
    /// The `--sweep` plan, if one was asked for.
    pub fn sweep_plan(&self) -> Option<crate::engine::sweep::Plan> {
        self.sweep.map(|(min, max)| crate::engine::sweep::Plan {
            min,
            max,
            hold_max: self.sweep_hold,
        })
    }

    /// The bounds as the engine takes them.
    pub fn bounds(&self) -> crate::engine::adaptive::Bounds {
        crate::engine::adaptive::Bounds {
            min: 1,
            max: self.adaptive_max,
            target_p99_ms: self.target_p99.map(|d| d.as_secs_f64() * 1000.0),
        }
    }
}

/// Conditions on the run's numbers that fail or stop it.
#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// Fail the run (exit status 3) if EXPR holds at the end, on the whole
    /// run: p99>300ms, p50>50ms, error_rate>1%, rps<1000, timeouts>0,
    /// status_5xx>0 ...; repeatable.
    #[arg(long = "fail-if", value_name = "EXPR", value_parser = crate::thresholds::parse)]
    pub fail_if: Vec<crate::thresholds::Threshold>,

    /// Stop admitting as soon as EXPR holds (after --abort-after); the run
    /// then fails with exit status 3. Same expressions as --fail-if; repeatable.
    #[arg(long = "abort-if", value_name = "EXPR", value_parser = crate::thresholds::parse)]
    pub abort_if: Vec<crate::thresholds::Threshold>,

    /// Warm-up before --abort-if is watched: the first seconds are too few
    /// samples to judge (one early error is a 100% error rate).
    #[arg(long = "abort-after", value_name = "DURATION",
          default_value = crate::thresholds::DEFAULT_ABORT_AFTER, value_parser = parse_duration)]
    pub abort_after: Duration,
}

impl ThresholdArgs {
    /// The thresholds as the run judges them.
    pub fn rules(&self) -> crate::thresholds::Rules {
        crate::thresholds::Rules {
            fail_if: self.fail_if.clone(),
            abort_if: self.abort_if.clone(),
            abort_after: self.abort_after,
        }
    }
}

/// How each request is made.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// HTTP method (default GET, or POST when a body is given).
    #[arg(short = 'm', long = "method", value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<reqwest::Method>,

    /// Add a header, "Name: value"; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,

    /// Request body, sent with every request.
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        conflicts_with = "data_file"
    )]
    pub data: Option<String>,

    /// Request body read from FILE, sent with every request.
    #[arg(long = "data-file", value_name = "FILE")]
    pub data_file: Option<PathBuf>,

    /// Limit for a whole request: connect, headers and body.
    #[arg(short = 't', long = "timeout", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration)]
    pub timeout: Duration,

    /// Limit for opening a connection.
    #[arg(long = "connect-timeout", value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Redirects to follow (0 follows none).
    #[arg(long = "redirects", value_name = "N", default_value_t = 10)]
    pub redirects: usize,

    /// Speak HTTP/2: from the start over plain HTTP (prior knowledge), over
    /// https offered by ALPN beside HTTP/1.1 (the server chooses).
    #[arg(long = "http2", conflicts_with = "http1_1")]
    pub http2: bool,

    /// Speak HTTP/1.1 only (the default; offered alone by ALPN over https).
    #[arg(long = "http1.1")]
    pub http1_1: bool,

    /// Accept invalid TLS certificates (verification is on unless you ask).
    #[arg(long = "insecure")]
    pub insecure: bool,

    /// Trust the CA certificates in FILE (PEM, one or more) instead of the
    /// system's, for a private CA. SSL_CERT_FILE / SSL_CERT_DIR are used
    /// when this is not given.
    #[arg(long = "cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Client certificate (PEM chain) for servers that ask for one (mutual TLS).
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) of --cert; default: read from the --cert file.
    #[arg(long = "key", value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Send requests through this proxy: http://, https:// or socks5(h)://,
    /// credentials as user:password@host. Overrides HTTP_PROXY, HTTPS_PROXY
    /// and ALL_PROXY; "" uses none.
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    pub proxy: Option<String>,

    /// Hosts that bypass the proxy: a comma list of names (subdomains
    /// included), IPs, CIDR ranges, or * for all. Overrides NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST")]
    pub noproxy: Option<String>,

    /// Connect HOST:PORT to ADDR (IP addresses, comma-separated) instead of
    /// what DNS says; repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<String>,

    /// Connect requests for HOST1:PORT1 to HOST2:PORT2 (an empty field
    /// matches any, or keeps the URL's); repeatable.
    #[arg(long = "connect-to", value_name = "HOST1:PORT1:HOST2:PORT2",
          value_parser = parse_connect_to)]
    pub connect_to: Vec<String>,

    /// Connect every request to this Unix socket; the URL still gives the
    /// Host header and the path.
    #[arg(long = "unix-socket", value_name = "PATH", value_parser = parse_unix_socket)]
    pub unix_socket: Option<PathBuf>,

    /// Try again up to N times after a connect error, a timeout, a 429 or a
    /// 5xx, with exponential backoff (full jitter, from 100ms) or the
    /// server's Retry-After.
    #[arg(long = "retries", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=MAX_RETRIES as i64))]
    pub retries: u32,

    /// Longest wait before a retry, Retry-After included.
    #[arg(long = "max-backoff", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration)]
    pub max_backoff: Duration,

    /// HTTP client: `auto` uses each shard's own lean client (hyper, rustls)
    /// for http:// and https://; `reqwest` uses reqwest for every URL.
    #[arg(long = "transport", value_name = "KIND", default_value = "auto",
          value_parser = clap::builder::TypedValueParser::map(
              clap::builder::PossibleValuesParser::new(["auto", "reqwest"]),
              |s| s.parse::<TransportChoice>().unwrap_or_default()))]
    pub transport: TransportChoice,
}

/// What is written, and where.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write one JSON line per finished item to FILE.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Skip the items already recorded in the -o file and append the rest (a
    /// torn last line is cut off first). Use the same source as the earlier run.
    #[arg(long = "resume", requires = "output")]
    pub resume: bool,

    /// Write each response body to DIR/SEQ.body (named from the item's seq,
    /// never from the URL); DIR is created if need be.
    #[arg(long = "save-bodies", value_name = "DIR")]
    pub save_bodies: Option<PathBuf>,

    /// Log the run to FILE (appended): settings with secrets redacted,
    /// commands, signals, failures. Never to the terminal. FETCHTOP_LOG=debug
    /// also logs each failed item.
    #[arg(long = "log", value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Put each response body in its JSON line: parsed when it is JSON, a
    /// string when it is UTF-8 text, else base64 in "body_base64".
    #[arg(long = "keep-body")]
    pub keep_body: bool,

    /// Keep the value at this JSON pointer (RFC 6901, e.g. /name); repeatable.
    #[arg(long = "extract", value_name = "POINTER", value_parser = parse_pointer)]
    pub extract: Vec<String>,

    /// Largest response body accepted, on the wire or decoded; larger ones
    /// fail as body_too_large.
    #[arg(long = "max-body", value_name = "SIZE", default_value = "16MiB",
          value_parser = crate::format::parse_size)]
    pub max_body: u64,

    /// Ask for compressed bodies (Accept-Encoding: gzip, deflate, br, zstd)
    /// and decode them even when bodies are not kept, as curl does. Already
    /// the default with --keep-body, --extract or --save-bodies.
    #[arg(long = "compressed")]
    pub compressed: bool,

    /// Keep and save bodies as they came off the wire: never decode a
    /// Content-Encoding (compressed bodies are asked for only with --compressed).
    #[arg(long = "raw")]
    pub raw: bool,

    /// Run without the dashboard (automatic when stdout is not a terminal).
    #[arg(long = "no-tui")]
    pub no_tui: bool,

    /// Print the summary as one JSON object.
    #[arg(long = "json")]
    pub json: bool,

    /// Also write the summary as one JSON object to FILE (handy with the dashboard).
    #[arg(long = "summary-file", value_name = "FILE")]
    pub summary_file: Option<PathBuf>,

    /// Write one row per second of the run to FILE as it goes: time, rps, in
    /// flight, limit, that second's p50/p90/p99/max and errors by kind. CSV,
    /// or JSON lines when FILE ends in .jsonl.
    #[arg(long = "timeseries", value_name = "FILE")]
    pub timeseries: Option<PathBuf>,

    /// Record the run's timeline to FILE as it goes (5 snapshots a second,
    /// zstd): `fetchtop replay FILE` shows it again on the dashboard.
    #[arg(long = "record", value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Write an HTML report to FILE at the end of the run: charts over time,
    /// the histogram, outcomes, settings and summary, in one file.
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// No progress line on stderr.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Most dashboard frames per second.
    #[arg(long = "fps", value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,

    /// Draw the dashboard with ASCII symbols and borders only.
    #[arg(long = "ascii")]
    pub ascii: bool,
}

/// `fetchtop serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback unless you say otherwise).
    #[arg(long = "addr", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Server options shared with the demo.
    #[command(flatten)]
    pub api: ApiArgs,

    /// Items in the catalogue: /items/1 to /items/N exist.
    #[arg(long = "items", value_name = "N", default_value_t = 1_000_000)]
    pub items: u64,

    /// Also serve the fault paths (/reset, /stall, /slow, /endless,
    /// /redirect-loop, /429/SECS/KEY, /503/N/KEY, /malformed, /chunked-close)
    /// on this address.
    #[arg(long = "faults", value_name = "ADDR")]
    pub faults: Option<SocketAddr>,
}

/// How the demo API behaves.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Response delay range, heavy-tailed inside it (e.g. 5ms..150ms, or 20ms). Default: the scenario's (items, blocking, flaky: 5ms..150ms; slow-tail: 10ms..5s).
    #[arg(long = "latency", value_name = "MIN..MAX", value_parser = parse_latency_range)]
    pub latency: Option<(Duration, Duration)>,

    /// Fraction of item requests answered with 500 or 503 (e.g. 0.01 or 1%). Default: the scenario's (0.01; slow-tail: 0; flaky: 0.1, plus 0.1 answered 429).
    #[arg(long = "error-rate", value_name = "RATE", value_parser = parse_error_rate)]
    pub error_rate: Option<f64>,

    /// Serve at most N item requests at once (a known capacity); N more wait
    /// in a queue, the rest get 429. Default: no limit, or 32 with --scenario capacity.
    #[arg(long = "slots", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub slots: Option<u64>,
}

impl ApiArgs {
    /// The server's capacity: `--slots`, else the scenario's.
    pub fn capacity(&self, preset_slots: Option<usize>) -> Option<crate::demo::Capacity> {
        self.slots
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .or(preset_slots)
            .map(crate::demo::Capacity::with_slots)
    }
}

/// `fetchtop demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// What the demo shows: items, blocking (tasks that block the executor), slow-tail, flaky (errors and 429s), capacity (a known number of server slots).
    #[arg(long = "scenario", value_name = "SCENARIO", value_enum, default_value_t = Scenario::Items)]
    pub scenario: Scenario,

    /// Items to fetch: /items/1 to /items/N.
    #[arg(long = "items", value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub items: u64,

    /// Server options.
    #[command(flatten)]
    pub api: ApiArgs,

    /// Run options, as for any URL.
    #[command(flatten)]
    pub run: RunArgs,
}

/// A job over many processes (`--shard`), and the endpoint others watch it at (`--metrics`).
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Run job shard K of N: the items whose position (seq - 1) is K modulo N; records keep the job's seqs.
    #[arg(long = "shard", value_name = "K/N", value_parser = crate::engine::job_shard::JobShard::parse,
          conflicts_with = "shard_from_env")]
    pub shard: Option<crate::engine::job_shard::JobShard>,

    /// Take K from JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job) and N from FETCHTOP_SHARDS.
    #[arg(long = "shard-from-env")]
    pub shard_from_env: bool,

    /// Serve /metrics (Prometheus), /snapshot (JSON) and /control (POST, bearer token) on ADDR while the run lasts (a bare PORT binds 127.0.0.1).
    #[arg(long = "metrics", value_name = "ADDR", value_parser = crate::remote::parse_listen_addr)]
    pub metrics: Option<SocketAddr>,

    /// Keep serving --metrics this long after the run ends, so a last scrape sees the end.
    #[arg(long = "metrics-grace", value_name = "DURATION", default_value = "15s",
          value_parser = humantime::parse_duration)]
    pub metrics_grace: Duration,

    /// Token /control requires (Authorization: Bearer TOKEN); default: one generated at start, printed to stderr and written to a 0600 file.
    #[arg(
        long = "control-token",
        value_name = "TOKEN",
        env = "FETCHTOP_CONTROL_TOKEN",
        hide_env_values = true,
        requires = "metrics"
    )]
    pub control_token: Option<String>,
}

/// `fetchtop merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' summaries (*.json, from --summary-file); *.jsonl files are their outputs, checked seq by seq.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Also check the -o files the summaries name (relative paths from here).
    #[arg(long = "check-outputs")]
    pub check_outputs: bool,

    /// Print the merged summary as one JSON object.
    #[arg(long = "json")]
    pub json: bool,
}

/// `fetchtop attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The instances' --metrics addresses, e.g. http://10.0.0.5:9898 or 127.0.0.1:9898.
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,

    /// The token their /control requires (one for all, as a Kubernetes Secret gives it).
    #[arg(
        long = "control-token",
        value_name = "TOKEN",
        env = "FETCHTOP_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub control_token: Option<String>,

    /// Most dashboard frames per second.
    #[arg(long = "fps", value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,

    /// Draw the dashboard with ASCII symbols and borders only.
    #[arg(long = "ascii")]
    pub ascii: bool,
}

/// Parses `10s`, `250ms`, `1m30s` (humantime).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?}: {e} (examples: 500ms, 10s, 2m)"))?;
    if d.is_zero() {
        return Err(format!("duration {s:?} must be more than zero"));
    }
    Ok(d)
}

/// `--rate`: one rate, or a range to ramp over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateArg {
    /// Always this many per second.
    Fixed(f64),
    /// From the first to the second, over `--ramp`.
    Ramp(f64, f64),
}

/// `--rate-stages`: (rate, duration) pairs in order.
#[derive(Clone, Debug, PartialEq)]
pub struct RateStages(pub Vec<(f64, Duration)>);

fn parse_rate_stages(s: &str) -> Result<RateStages, String> {
    crate::engine::pace::parse_stages(s).map(RateStages)
}

fn parse_rate_arg(s: &str) -> Result<RateArg, String> {
    let Some((a, b)) = s.split_once("..") else {
        return parse_rate(s).map(RateArg::Fixed);
    };
    // A ramp may start from nothing.
    let from = match a.trim() {
        "0" => 0.0,
        a => parse_rate(a)?,
    };
    Ok(RateArg::Ramp(from, parse_rate(b)?))
}

impl RunArgs {
    /// The rate's schedule: (a constant rate, or a changing one). Exit 2
    /// for a range without --ramp or --ramp without a range.
    pub fn rate_schedule(
        &self,
    ) -> Result<(Option<f64>, Option<crate::engine::pace::Schedule>), String> {
        use crate::engine::pace::Schedule;
        if let Some(stages) = &self.rate_stages {
            return Ok((None, Some(Schedule::stages(&stages.0))));
        }
        match (self.rate, self.ramp) {
            (None, None) => Ok((None, None)),
            (Some(RateArg::Fixed(r)), None) => Ok((Some(r), None)),
            (Some(RateArg::Ramp(a, b)), Some(d)) => Ok((None, Some(Schedule::ramp(a, b, d)))),
            (Some(RateArg::Ramp(..)), None) => {
                Err("--rate A..B ramps: say over how long with --ramp DURATION".into())
            }
            (_, Some(_)) => Err("--ramp needs a range to ramp over: --rate A..B".into()),
        }
    }
}

fn parse_method(s: &str) -> Result<reqwest::Method, String> {
    reqwest::Method::from_bytes(s.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid HTTP method {s:?}"))
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
}

fn parse_pointer(s: &str) -> Result<String, String> {
    if s.is_empty() || s.starts_with('/') {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid JSON pointer {s:?}: it must start with / (for example /name or /items/0/id)"
        ))
    }
}

/// Checks a `--resolve` entry (kept as text; the rules are built in order).
fn parse_resolve(s: &str) -> Result<String, String> {
    ConnectRules::default().add_resolve(s)?;
    Ok(s.to_string())
}

/// Checks a `--connect-to` entry.
fn parse_connect_to(s: &str) -> Result<String, String> {
    ConnectRules::default().add_connect_to(s)?;
    Ok(s.to_string())
}

/// A `--unix-socket` must name a socket that exists now.
fn parse_unix_socket(s: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::FileTypeExt;
    let path = PathBuf::from(s);
    match std::fs::metadata(&path) {
        Ok(m) if m.file_type().is_socket() => Ok(path),
        Ok(_) => Err(format!("{s} is not a Unix socket")),
        Err(e) => Err(format!("{s}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_a_full_command_line() {
        let cli = Cli::try_parse_from([
            "fetchtop",
            "-c",
            "7",
            "-n",
            "9",
            "-H",
            "X-A: 1",
            "-H",
            "X-B: 2",
            "-m",
            "post",
            "--extract",
            "/name",
            "--max-body",
            "1MiB",
            "-t",
            "2s",
            "--no-tui",
            "--json",
            "http://127.0.0.1:1/items/{1..9}",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.concurrency, 7);
        assert_eq!(cli.run.requests, Some(9));
        assert_eq!(cli.run.http.headers.len(), 2);
        assert_eq!(cli.run.http.method, Some(reqwest::Method::POST));
        assert_eq!(cli.run.output.max_body, 1024 * 1024);
        assert_eq!(cli.run.http.timeout, Duration::from_secs(2));
        assert_eq!(
            cli.source.url.as_deref(),
            Some("http://127.0.0.1:1/items/{1..9}")
        );
    }

    #[test]
    fn rejects_bad_values() {
        for args in [
            vec!["fetchtop", "-c", "-1", "http://x/"],
            vec!["fetchtop", "-c", "99999999", "http://x/"],
            vec!["fetchtop", "-H", "NoColon", "http://x/"],
            vec!["fetchtop", "-z", "soon", "http://x/"],
            vec!["fetchtop", "--extract", "name", "http://x/"],
            vec!["fetchtop", "-i", "f", "http://x/"],
            vec!["fetchtop", "-n", "0", "http://x/"],
            vec!["fetchtop", "--workers", "0", "http://x/"],
            vec!["fetchtop", "--workers", "100000", "http://x/"],
            vec!["fetchtop", "--model", "fibers", "http://x/"],
            vec!["fetchtop", "demo", "--scenario", "chaos"],
        ] {
            let err = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn parses_retry_rate_and_fault_flags() {
        let cli = Cli::try_parse_from([
            "fetchtop",
            "--retries",
            "3",
            "--max-backoff",
            "2s",
            "--rate",
            "0.5",
            "http://x/",
        ])
        .unwrap();
        assert_eq!(cli.run.http.retries, 3);
        assert_eq!(cli.run.http.max_backoff, Duration::from_secs(2));
        assert_eq!(cli.run.rate, Some(RateArg::Fixed(0.5)));
        let cli = Cli::try_parse_from(["fetchtop", "http://x/"]).unwrap();
        assert_eq!(cli.run.http.retries, 0);
        assert_eq!(cli.run.http.max_backoff, Duration::from_secs(30));
        assert_eq!(cli.run.rate, None);
        let cli = Cli::try_parse_from(["fetchtop", "serve", "--faults", "127.0.0.1:0"]).unwrap();
        assert!(matches!(cli.command, Some(Mode::Serve(s)) if s.faults.is_some()));
        for bad in [["--rate", "0"], ["--rate", "-2"], ["--retries", "101"]] {
            let args = ["fetchtop", bad[0], bad[1], "http://x/"];
            assert_eq!(
                Cli::try_parse_from(args).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tuning_flags_parse_and_conflict_where_they_should() {
        let cli = Cli::try_parse_from([
            "fetchtop",
            "--adaptive",
            "--adaptive-max",
            "300",
            "--target-p99",
            "200ms",
            "--fail-if",
            "p99>1s",
            "--fail-if",
            "rps<10",
            "--rate",
            "10..100",
            "--ramp",
            "30s",
            "http://x/",
        ])
        .unwrap();
        let b = cli.run.adaptive.bounds();
        assert!(cli.run.adaptive.adaptive);
        assert_eq!((b.max, b.target_p99_ms), (300, Some(200.0)));
        assert_eq!(cli.run.thresholds.fail_if.len(), 2);
        assert_eq!(cli.run.thresholds.abort_after, Duration::from_secs(10));
        assert_eq!(cli.run.rate, Some(RateArg::Ramp(10.0, 100.0)));
        assert!(cli.run.rate_schedule().unwrap().1.is_some());
        let cli =
            Cli::try_parse_from(["fetchtop", "sweep", "http://x/", "--sweep-hold", "3s"]).unwrap();
        match cli.command {
            Some(Mode::Sweep(s)) => {
                assert_eq!(s.source.url.as_deref(), Some("http://x/"));
                assert_eq!(s.run.adaptive.sweep, None, "the default comes at launch");
                assert_eq!(s.run.adaptive.sweep_hold, Duration::from_secs(3));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            vec!["fetchtop", "--adaptive", "--sweep", "1..10", "http://x/"],
            vec!["fetchtop", "--sweep", "10..1", "http://x/"],
            vec![
                "fetchtop",
                "--rate-stages",
                "1:1s",
                "--rate",
                "5",
                "http://x/",
            ],
            vec!["fetchtop", "--fail-if", "p99>", "http://x/"],
            vec!["fetchtop", "demo", "--slots", "0"],
        ] {
            let e = Cli::try_parse_from(&bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn demo_and_serve_take_their_own_flags() {
        let cli = Cli::try_parse_from([
            "fetchtop",
            "demo",
            "--items",
            "10",
            "-c",
            "3",
            "--latency",
            "1ms..2ms",
        ])
        .unwrap();
        match cli.command {
            Some(Mode::Demo(d)) => {
                assert_eq!(d.items, 10);
                assert_eq!(d.run.concurrency, 3);
                assert_eq!(d.api.latency.unwrap().1, Duration::from_millis(2));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "fetchtop",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--error-rate",
            "0.5",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Mode::Serve(s)) if s.api.error_rate == Some(0.5)));
    }

    #[test]
    fn workers_model_and_scenario_parse() {
        let cli = Cli::try_parse_from([
            "fetchtop",
            "demo",
            "--scenario",
            "slow-tail",
            "--workers",
            "1",
            "--model",
            "threads",
        ])
        .unwrap();
        assert_eq!(cli.workers(), Some(1));
        match cli.command {
            Some(Mode::Demo(d)) => {
                assert_eq!(d.scenario, Scenario::SlowTail);
                assert_eq!(d.run.model, Model::Threads);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["fetchtop", "--workers", "3", "http://x/"]).unwrap();
        assert_eq!(cli.workers(), Some(3));
        assert_eq!(cli.run.model, Model::Async);
    }
}

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
            Some(Mode::Serve(_) | Mode::Merge(_) | Mode::Attach(_)) => None,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Serve the demo API: GET /items/{id}, GET /stats, POST /stats/reset.
    Serve(ServeArgs),
    /// Start the demo API in-process and fetch /items/{1..N} from it.
    Demo(Box<DemoArgs>),
    /// Merge the JSON summaries (--summary-file) of a job's shards into one.
    Merge(MergeArgs),
    /// Watch running instances (their --metrics address) as one dashboard; keys steer them all.
    Attach(AttachArgs),
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
    /// request's scheduled send time.
    #[arg(long = "rate", value_name = "R", value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,

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

    /// Running as one part of a job over many processes.
    #[command(flatten)]
    pub job: JobArgs,
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
    #[arg(long = "http2")]
    pub http2: bool,

    /// Accept invalid TLS certificates (verification is on unless you ask).
    #[arg(long = "insecure")]
    pub insecure: bool,

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

    /// Put each response body in its JSON line (parsed when it is JSON).
    #[arg(long = "keep-body")]
    pub keep_body: bool,

    /// Keep the value at this JSON pointer (RFC 6901, e.g. /name); repeatable.
    #[arg(long = "extract", value_name = "POINTER", value_parser = parse_pointer)]
    pub extract: Vec<String>,

    /// Largest response body accepted; larger ones fail as body_too_large.
    #[arg(long = "max-body", value_name = "SIZE", default_value = "16MiB",
          value_parser = crate::format::parse_size)]
    pub max_body: u64,

    /// Run without the dashboard (automatic when stdout is not a terminal).
    #[arg(long = "no-tui")]
    pub no_tui: bool,

    /// Print the summary as one JSON object.
    #[arg(long = "json")]
    pub json: bool,

    /// Also write the summary as one JSON object to FILE (handy with the dashboard).
    #[arg(long = "summary-file", value_name = "FILE")]
    pub summary_file: Option<PathBuf>,

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
    /// Response delay range, heavy-tailed inside it (e.g. 5ms..150ms, or 20ms). Default 5ms..150ms, or the scenario's.
    #[arg(long = "latency", value_name = "MIN..MAX", value_parser = parse_latency_range)]
    pub latency: Option<(Duration, Duration)>,

    /// Fraction of item requests answered with 500 or 503 (e.g. 0.01 or 1%). Default 0.01, or the scenario's.
    #[arg(long = "error-rate", value_name = "RATE", value_parser = parse_error_rate)]
    pub error_rate: Option<f64>,
}

/// `fetchtop demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// What the demo shows: items, blocking (tasks that block the executor), slow-tail, flaky (errors and 429s).
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
        assert_eq!(cli.run.rate, Some(0.5));
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

//! `/metrics`: the run in Prometheus's exposition format, read from the
//! latest snapshot at each scrape (prometheus-client's `Collector`), so
//! nothing is counted twice and nothing is kept between scrapes.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::engine::job_shard::JobShard;
use crate::snapshot::Snapshot;

/// The latency histogram's fixed bucket bounds, in seconds: the same for
/// every instance, so Prometheus can add them across shards.
pub const LATENCY_BUCKETS_S: [f64; 16] = [
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    f64::INFINITY,
];

/// The content type of OpenMetrics text, which Prometheus asks for first.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of Prometheus's classic text format (0.0.4), for
/// every other client (curl, promtool, older scrapers).
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A registry whose one collector reads `snapshots`; every series carries
/// `shard="K"`, the job shard (not an engine worker).
pub fn registry(snapshots: watch::Receiver<Snapshot>, part: JobShard) -> Registry {
    let mut registry = Registry::with_prefix_and_labels(
        "fetchtop",
        [(
            std::borrow::Cow::Borrowed("shard"),
            std::borrow::Cow::Owned(part.index.to_string()),
        )]
        .into_iter(),
    );
    registry.register_collector(Box::new(SnapshotCollector { snapshots }));
    registry
}

/// The registry in text, as one scrape sees it: OpenMetrics when the
/// client's `Accept` asks for it, else Prometheus's classic text format.
/// Returns the text and its content type.
pub fn encode(registry: &Registry, accept: Option<&str>) -> (String, &'static str) {
    let mut text = String::new();
    let openmetrics = accept.is_some_and(|a| a.contains("application/openmetrics-text"));
    // Writing into a String cannot fail; a collector's own error leaves the
    // text as far as it got, which Prometheus then reports.
    if openmetrics {
        let _ = prometheus_client::encoding::text::encode(&mut text, registry);
        (text, OPENMETRICS)
    } else {
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, registry);
        (text, PROMETHEUS_TEXT)
    }
}

#[derive(Debug)]
struct SnapshotCollector {
    snapshots: watch::Receiver<Snapshot>,
}

/// Seconds from milliseconds.
fn secs(ms: f64) -> f64 {
    ms / 1000.0
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Copied out so the watch is not held across the formatting.
        let s = self.snapshots.borrow().clone();
        let c = &s.counts;
        {
            let mut m = enc.encode_descriptor(
                "items_ended",
                "Items that ended, by how",
                None,
                MetricType::Counter,
            )?;
            for (state, n) in [
                ("done", c.done),
                ("failed", c.failed),
                ("cancelled", c.cancelled),
            ] {
                ConstCounter::new(n).encode(m.encode_family(&[("state", state)])?)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "items_active",
                "Items in flight, by phase",
                None,
                MetricType::Gauge,
            )?;
            for (phase, n) in [
                ("queued", c.queued),
                ("connecting", c.connecting),
                ("waiting", c.waiting),
                ("receiving", c.receiving),
                ("retrying", c.retrying),
            ] {
                ConstGauge::new(n as i64).encode(m.encode_family(&[("phase", phase)])?)?;
            }
        }
        counter(
            &mut enc,
            "requests",
            "Items that got an outcome of their own (done or failed)",
            c.done + c.failed,
        )?;
        counter(
            &mut enc,
            "items_skipped",
            "Items skipped as already recorded (--resume)",
            s.skipped,
        )?;
        {
            let mut m = enc.encode_descriptor(
                "responses",
                "Responses by HTTP status code",
                None,
                MetricType::Counter,
            )?;
            for (code, n) in &s.status {
                ConstCounter::new(*n).encode(m.encode_family(&[("code", code.to_string())])?)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "errors",
                "Failed and cancelled items by error kind",
                None,
                MetricType::Counter,
            )?;
            for (kind, n) in &s.errors {
                ConstCounter::new(*n).encode(m.encode_family(&[("kind", kind.as_str())])?)?;
            }
        }
        gauge(
            &mut enc,
            "in_flight",
            "Requests in flight now",
            s.in_flight as f64,
        )?;
        gauge(
            &mut enc,
            "limit",
            "The concurrency limit in force (0 while paused)",
            s.effective_limit() as f64,
        )?;
        gauge(
            &mut enc,
            "paused",
            "1 while admission is paused",
            f64::from(u8::from(s.paused)),
        )?;
        gauge(
            &mut enc,
            "finished",
            "1 once the run has ended",
            f64::from(u8::from(s.state == crate::snapshot::RunState::Finished)),
        )?;
        if let Some(total) = s.total {
            gauge(
                &mut enc,
                "items_planned",
                "Items this shard's source holds",
                total as f64,
            )?;
        }
        counter(&mut enc, "received_bytes", "Body bytes received", s.bytes)?;
        counter(
            &mut enc,
            "retries",
            "Attempts after the first (--retries)",
            s.retries,
        )?;
        gauge(
            &mut enc,
            "executor_lag_seconds",
            "How late the executor's heartbeat fires now",
            secs(s.executor.lag_now_ms),
        )?;
        gauge(
            &mut enc,
            "executor_lag_p99_seconds",
            "99th percentile of the heartbeat's lag, last 5 s",
            secs(s.executor.lag_p99_ms),
        )?;
        latency(&mut enc, &s)
    }
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// The latency as a Prometheus histogram over [`LATENCY_BUCKETS_S`], from
/// the engine's hdrhistogram (one walk over its recorded buckets).
fn latency(enc: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_S.iter().map(|&b| (b, 0)).collect();
    let (mut sum, mut count) = (0.0, 0u64);
    if let Some(h) = &s.latency_histogram {
        for v in h.iter_recorded() {
            let value_s = v.value_iterated_to() as f64 / 1e6;
            let n = v.count_at_value();
            let i = LATENCY_BUCKETS_S.partition_point(|&b| b < value_s);
            if let Some(slot) = buckets.get_mut(i) {
                slot.1 += n;
            }
            sum += value_s * n as f64;
            count += n;
        }
    }
    let mut m = enc.encode_descriptor(
        "request_duration_seconds",
        "Latency of the items that got a response (from the scheduled send time under --rate)",
        None,
        MetricType::Histogram,
    )?;
    m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::StateCounts;

    #[test]
    fn a_scrape_shows_the_snapshot_with_the_shard_label() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for us in [800, 20_000, 20_000, 2_000_000] {
            h.record(us).unwrap();
        }
        let snap = Snapshot {
            counts: StateCounts {
                done: 3,
                failed: 1,
                waiting: 2,
                ..StateCounts::default()
            },
            status: vec![(200, 3), (503, 1)],
            in_flight: 2,
            limit: 50,
            latency_histogram: Some(std::sync::Arc::new(h)),
            ..Snapshot::default()
        };
        let (_tx, rx) = watch::channel(snap);
        let registry = registry(rx, JobShard::new(2, 3).unwrap());
        let (text, kind) = encode(
            &registry,
            Some("application/openmetrics-text;version=1.0.0"),
        );
        assert_eq!(kind, OPENMETRICS);
        for line in [
            r#"fetchtop_items_ended_total{shard="2",state="done"} 3"#,
            r#"fetchtop_requests_total{shard="2"} 4"#,
            r#"fetchtop_responses_total{shard="2",code="503"} 1"#,
            r#"fetchtop_items_active{shard="2",phase="waiting"} 2"#,
            r#"fetchtop_limit{shard="2"} 50"#,
            r#"fetchtop_request_duration_seconds_bucket{shard="2",le="0.001"} 1"#,
            r#"fetchtop_request_duration_seconds_bucket{shard="2",le="0.025"} 3"#,
            r#"fetchtop_request_duration_seconds_bucket{shard="2",le="+Inf"} 4"#,
            r#"fetchtop_request_duration_seconds_count{shard="2"} 4"#,
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        let (classic, kind) = encode(&registry, None);
        assert_eq!(kind, PROMETHEUS_TEXT);
        assert!(
            classic.contains("# TYPE fetchtop_requests_total counter"),
            "{classic}"
        );
        assert!(
            classic.contains(r#"fetchtop_requests_total{shard="2"} 4"#),
            "{classic}"
        );
    }
}

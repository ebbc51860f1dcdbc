//! The tuning features on screen, rendered into ratatui's `TestBackend`:
//! the sweep's table, the adaptive header and marks, a breached threshold.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use fetchtop::app::App;
use fetchtop::snapshot::{
    AdaptiveView, HistoryPoint, LimitChange, Percentiles, Snapshot, StateCounts, SweepStep,
    SweepView,
};
use fetchtop::thresholds::{Rules, parse};
use fetchtop::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const UNICODE: Theme = Theme {
    color: true,
    unicode: true,
};

fn render(snap: &Snapshot, app: &mut App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    terminal.draw(|f| draw(f, app, snap, &UNICODE)).unwrap();
    terminal
}

fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn running() -> Snapshot {
    Snapshot {
        target: "http://127.0.0.1:8080/items/{1..100000}".into(),
        elapsed: Duration::from_secs(20),
        limit: 37,
        in_flight: 37,
        total: Some(100_000),
        counts: StateCounts {
            done: 9_000,
            ..StateCounts::default()
        },
        latency: Percentiles {
            p50: 60.0,
            p99: 140.0,
            count: 9_000,
            ..Percentiles::default()
        },
        history: (1..=20)
            .map(|t| HistoryPoint {
                t_s: t,
                finished: 600,
                in_flight: if t < 3 { 50 } else { 37 },
                limit: if t < 3 { 50 } else { 37 },
            })
            .collect(),
        ..Snapshot::default()
    }
}

fn step(limit: u64, rps: f64, p50_ms: f64) -> SweepStep {
    SweepStep {
        limit,
        rps,
        p50_ms,
        p99_ms: p50_ms * 1.1,
        completed: 500,
        secs: 1.0,
        steady: true,
        ..SweepStep::default()
    }
}

#[test]
fn a_sweep_shows_its_steps_and_the_knee() {
    let mut snap = running();
    snap.sweep = Some(SweepView {
        min: 1,
        max: 512,
        steps: Arc::new(vec![
            step(8, 150.0, 52.0),
            step(16, 309.0, 52.5),
            step(32, 588.0, 52.9),
            step(64, 615.0, 104.0),
        ]),
        current: None,
        knee: Some(32),
        ended: Some("throughput stopped growing at limit 64".into()),
    });
    let t = text(&render(&snap, &mut App::default()));
    assert!(t.contains("sweep · knee 32"), "{t}");
    assert!(t.contains("← knee"), "{t}");
    assert!(t.contains("588.0"), "{t}");
    assert!(t.contains("throughput stopped growing at limit 64"), "{t}");
    // The sweep takes the throughput chart's place.
    assert!(!t.contains(" throughput 0"), "{t}");
    snap.sweep = Some(SweepView {
        current: Some(16),
        knee: None,
        ended: None,
        steps: Arc::new(vec![step(8, 150.0, 52.0)]),
        min: 1,
        max: 512,
    });
    let t = text(&render(&snap, &mut App::default()));
    assert!(t.contains("sweep · measuring limit 16"), "{t}");
}

#[test]
fn adaptive_is_in_the_header_and_its_changes_on_the_chart() {
    let mut snap = running();
    let plain = text(&render(&snap, &mut App::default()));
    assert!(!plain.contains("adaptive"), "{plain}");
    snap.adaptive = AdaptiveView {
        on: true,
        max: 1000,
        target_p99_ms: None,
        changes: Arc::new(VecDeque::from(vec![
            LimitChange {
                t_s: 2.5,
                from: 50,
                to: 37,
                why: "vegas".into(),
            },
            LimitChange {
                t_s: 12.0,
                from: 37,
                to: 37,
                why: "vegas".into(),
            },
        ])),
        dropped: 0,
    };
    let marked = text(&render(&snap, &mut App::default()));
    assert!(
        marked.contains("adaptive ≤1,000 (a) · last 37→37"),
        "{marked}"
    );
    // The marks change the in-flight chart (the right half of the charts row).
    let chart = |s: &str| -> String {
        s.lines()
            .skip(21)
            .take(9)
            .map(|l| l.chars().skip(80).collect::<String>())
            .collect()
    };
    assert_ne!(chart(&plain), chart(&marked), "{marked}");
}

#[test]
fn a_breached_threshold_is_marked_live() {
    let snap = running();
    let mut app = App::default();
    app.thresholds = Rules {
        fail_if: vec![parse("p99>100ms").unwrap(), parse("error_rate>5%").unwrap()],
        abort_if: Vec::new(),
        abort_after: Duration::from_secs(10),
    };
    let t = text(&render(&snap, &mut app));
    assert!(
        t.contains("threshold breached: p99>100ms (now 140ms)"),
        "{t}"
    );
    assert!(!t.contains("error_rate>5%"), "{t}");
}

//! The dashboard rendered into ratatui's `TestBackend` from fixture
//! snapshots: whole screens checked with insta, plus targeted assertions
//! (symbols, colours, hostile text, small terminals).

use std::sync::Arc;
use std::time::Duration;

use fetchtop::app::App;
use fetchtop::engine::{ErrorKind, Model, Phase};
use fetchtop::keymap::Action;
use fetchtop::snapshot::{
    DemoSwitches, ExecutorView, HistogramBar, HistoryPoint, Percentiles, RunState, ShardView,
    Snapshot, StateCounts, TaskView,
};
use fetchtop::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const UNICODE: Theme = Theme {
    color: true,
    unicode: true,
};

fn render(snap: &Snapshot, app: &mut App, theme: Theme, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(f, app, snap, &theme)).unwrap();
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

fn task(id: u64, phase: Phase, age_ms: u64, bytes: u64) -> TaskView {
    TaskView {
        id,
        phase,
        url: Arc::from(format!("http://127.0.0.1:8080/items/{id}").as_str()),
        age: Duration::from_millis(age_ms),
        bytes,
    }
}

fn latency(p50: f64, count: u64) -> Percentiles {
    Percentiles {
        p50,
        p90: p50 * 4.0,
        p99: p50 * 9.0,
        p999: p50 * 11.0,
        max: p50 * 12.0,
        mean: p50 * 2.0,
        count,
    }
}

fn empty_start() -> Snapshot {
    Snapshot {
        target: "http://127.0.0.1:8080/items/{1..100000}".into(),
        limit: 50,
        total: Some(100_000),
        ..Snapshot::default()
    }
}

fn busy() -> Snapshot {
    let history: Vec<HistoryPoint> = (1..=40)
        .map(|t| {
            let limit = if t <= 20 { 50 } else { 100 };
            HistoryPoint {
                t_s: t,
                finished: if t <= 20 { 2200 } else { 4100 } + (t % 3) * 40,
                in_flight: limit - (t % 4),
                limit,
            }
        })
        .collect();
    let histogram = (0..24)
        .map(|i| HistogramBar {
            le_ms: 5.0 * 1.2f64.powi(i + 1),
            count: 40_000 / (i as u64 + 1).pow(2),
        })
        .collect();
    Snapshot {
        target: "http://127.0.0.1:8080/items/{1..100000}".into(),
        elapsed: Duration::from_secs(40),
        limit: 100,
        in_flight: 98,
        max_in_flight: 100,
        total: Some(100_000),
        dispatched: 63_098,
        counts: StateCounts {
            queued: 2,
            waiting: 90,
            receiving: 6,
            done: 62_400,
            failed: 600,
            ..StateCounts::default()
        },
        latency: latency(8.9, 63_000),
        latency_recent: latency(14.2, 20_500),
        histogram,
        status: vec![(200, 62_400), (500, 310), (503, 290)],
        errors: vec![(ErrorKind::Http5xx, 600)],
        bytes: 11_200_000,
        rate_recent: 4105.0,
        rate_overall: 1575.0,
        history,
        tasks: (0..40)
            .map(|i| {
                let phase = [Phase::Waiting, Phase::Receiving, Phase::Queued][i as usize % 3];
                task(
                    63_000 + i,
                    phase,
                    150 - i * 3,
                    if phase == Phase::Receiving { 120 } else { 0 },
                )
            })
            .collect(),
        executor: ExecutorView {
            workers: 2,
            lag_now_ms: 0.21,
            lag_p99_ms: 0.82,
            lag_max_ms: 1.9,
            lag_run_p99_ms: 0.9,
            lag_run_max_ms: 4.2,
            lag_history_us: (0..120).map(|i| 200 + (i % 7) * 150).collect(),
            beats: 4000,
            alive_tasks: 104,
            busy: Some(0.34),
            os_threads: Some(9),
            os_threads_peak: Some(11),
            rss_bytes: Some(24_100_000),
            thread_cap: 1000,
            active_shards: 2,
            shards: vec![
                ShardView {
                    id: 0,
                    in_flight: 26,
                    lag_max_ms: 1.9,
                    ..ShardView::default()
                },
                ShardView {
                    id: 1,
                    in_flight: 24,
                    lag_max_ms: 0.7,
                    ..ShardView::default()
                },
            ],
            ..ExecutorView::default()
        },
        ..Snapshot::default()
    }
}

/// A demo with blocking work inside the tasks on one worker.
fn blocked_demo() -> Snapshot {
    let mut s = busy();
    s.executor = ExecutorView {
        workers: 1,
        current_thread: true,
        active_shards: 1,
        lag_now_ms: 96.0,
        lag_p99_ms: 304.0,
        lag_max_ms: 310.0,
        lag_run_p99_ms: 290.0,
        lag_run_max_ms: 310.0,
        lag_history_us: (0..120)
            .map(|i| {
                if i < 60 {
                    400
                } else {
                    60_000 + (i % 5) * 50_000
                }
            })
            .collect(),
        beats: 900,
        demo: Some(DemoSwitches {
            blocking: true,
            offload: false,
            work: "every 10th item sleeps 50ms".into(),
            blocked_items: 77,
        }),
        shards: Vec::new(),
        ..s.executor
    };
    s.rate_recent = 161.0;
    s
}

fn many_errors() -> Snapshot {
    let mut s = busy();
    s.counts.done = 20_000;
    s.counts.failed = 43_000;
    s.errors = vec![
        (ErrorKind::Timeout, 30_000),
        (ErrorKind::Connect, 8_000),
        (ErrorKind::Http5xx, 5_000),
    ];
    s.status = vec![(200, 20_000), (503, 5_000)];
    s
}

fn paused() -> Snapshot {
    let mut s = busy();
    s.paused = true;
    s.state = RunState::Paused;
    s.in_flight = 0;
    s.tasks.clear();
    s
}

#[test]
fn empty_start_screen() {
    let t = render(&empty_start(), &mut App::default(), UNICODE, 120, 40);
    insta::assert_snapshot!("empty_start_120x40", t.backend());
    let s = text(&t);
    assert!(s.contains("0 in flight / limit 50"));
    assert!(s.contains("0/100,000"));
    assert!(s.contains("no responses yet"));
}

#[test]
fn busy_run_screen() {
    let t = render(&busy(), &mut App::default(), UNICODE, 160, 45);
    insta::assert_snapshot!("busy_160x45", t.backend());
    let s = text(&t);
    assert!(s.contains("98 in flight / limit 100"));
    assert!(s.contains("62,400"), "done count");
    assert!(s.contains("p99.9"));
    assert!(s.contains("in flight 98 · top 40 · sort: age"));
    assert!(s.contains("ETA"));
    assert!(
        !s.contains("warnings"),
        "a healthy run shows no warnings panel"
    );
}

#[test]
fn many_errors_raise_warnings() {
    let t = render(&many_errors(), &mut App::default(), UNICODE, 160, 45);
    insta::assert_snapshot!("many_errors_160x45", t.backend());
    let s = text(&t);
    assert!(s.contains("warnings"));
    assert!(s.contains("high error rate"));
    assert!(s.contains("many timeouts"));
    assert!(s.contains("timeout") && s.contains("30,000"));
}

#[test]
fn paused_screen() {
    let t = render(&paused(), &mut App::default(), UNICODE, 160, 45);
    insta::assert_snapshot!("paused_160x45", t.backend());
    let s = text(&t);
    assert!(s.contains("paused · 00:40"));
    assert!(s.contains("limit 100 · paused"));
}

#[test]
fn a_capped_limit_shows_the_open_files_wall() {
    let snap = Snapshot {
        limit: 19_936,
        ceiling: 19_936,
        requested_limit: Some(30_000),
        in_flight: 19_900,
        ..busy()
    };
    let s = text(&render(&snap, &mut App::default(), UNICODE, 160, 45));
    assert!(s.contains("limit 19,936 · open files allow 19,936"), "{s}");
    assert!(s.contains("limit 30,000 capped at 19,936"), "{s}");
    // Far below the wall, nothing is said.
    let s = text(&render(&busy(), &mut App::default(), UNICODE, 160, 45));
    assert!(!s.contains("open files"), "{s}");
}

#[test]
fn small_terminal_collapses_gracefully() {
    let t = render(&busy(), &mut App::default(), UNICODE, 80, 24);
    insta::assert_snapshot!("busy_80x24", t.backend());
    let s = text(&t);
    assert!(s.contains("98 in flight / limit 100"));
    assert!(s.contains("states") && s.contains("latency") && s.contains("outcomes"));
    assert!(!s.contains("throughput"), "charts are the first to go");
    assert!(s.contains("in flight 98"));
    assert!(
        s.contains("heartbeat lag") && s.contains("OS threads 9"),
        "{s}"
    );
    // Tiny terminals keep the header, the table and the footer, and never panic.
    for (w, h) in [(60, 16), (40, 10), (20, 5), (1, 1)] {
        let t = render(&busy(), &mut App::default(), UNICODE, w, h);
        if h >= 10 {
            assert!(text(&t).contains("limit"), "{w}x{h}");
        }
    }
}

#[test]
fn a_blocked_executor_shows_lag_warning_and_switches() {
    let t = render(&blocked_demo(), &mut App::default(), UNICODE, 160, 45);
    insta::assert_snapshot!("blocked_demo_160x45", t.backend());
    let s = text(&t);
    assert!(s.contains(
        "executor · async: a tokio task per item · 1 shard: one event loop runs every task"
    ));
    assert!(
        s.contains("heartbeat lag now 96.0ms p99 304ms max 310ms"),
        "{s}"
    );
    assert!(s.contains("the executor is blocked: a task is not yielding"));
    assert!(s.contains("b blocking · y spawn_blocking · m model"));
    assert!(s.contains("blocking work on, inside the task"));
    assert!(s.contains('█'), "the stall shows in the sparkline");

    let mut threads = blocked_demo();
    threads.executor.model = Model::Threads;
    threads.executor.item_threads = 1000;
    let t = render(&threads, &mut App::default(), UNICODE, 80, 24);
    insta::assert_snapshot!("threads_at_cap_80x24", t.backend());
    let s = text(&t);
    assert!(
        s.contains("executor · threads 1,000/1,000 · 1 shard"),
        "{s}"
    );
    assert!(s.contains("blocking in threads"), "{s}");
    // At 80x24 the warnings fold into one line: the first, and a count of the rest.
    assert!(
        s.contains("the executor is blocked") && s.contains("(+1 more)"),
        "{s}"
    );
    let s = text(&render(&threads, &mut App::default(), UNICODE, 160, 45));
    assert!(s.contains("cap of 1,000 OS threads"), "{s}");
}

#[test]
fn help_and_details_popups() {
    let snap = busy();
    let mut app = App::default();
    app.update(Action::Help, &snap);
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    for o in fetchtop::ui::component::offers(&snap, &app) {
        let keys = o.binding.full_label();
        assert!(s.contains(&keys), "help lists {keys}");
    }
    let mut app = App::default();
    app.update(Action::Down, &snap);
    app.update(Action::Details, &snap);
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    assert!(s.contains("request"));
    let selected = app.selected.unwrap();
    assert!(s.contains(&format!("http://127.0.0.1:8080/items/{selected}")));
}

#[test]
fn the_histogram_switches_between_run_and_recent() {
    let mut snap = busy();
    snap.histogram_recent = vec![HistogramBar {
        le_ms: 999.0,
        count: 4242,
    }];
    let mut app = App::default();
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    assert!(s.contains("histogram: whole run") && !s.contains("4,242"));
    app.update(Action::LatencyWindow, &snap);
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    assert!(
        s.contains("histogram: last 5s") && s.contains("4,242"),
        "{s}"
    );
}

#[test]
fn footer_comes_from_the_key_table() {
    let s = text(&render(&busy(), &mut App::default(), UNICODE, 160, 45));
    let footer = s.lines().last().unwrap();
    let offered = fetchtop::ui::component::footer(&busy(), &App::default());
    assert!(offered.len() >= 8, "{}", offered.len());
    for o in offered {
        let (keys, what) = (o.binding.label(), o.short);
        assert!(
            footer.contains(&keys) && footer.contains(what),
            "{keys} {what} in {footer:?}"
        );
    }
}

#[test]
fn ascii_fallback_draws_only_ascii() {
    let ascii = Theme {
        color: true,
        unicode: false,
    };
    let s = text(&render(&busy(), &mut App::default(), ascii, 160, 45));
    assert!(s.is_ascii(), "{s}");
    assert!(
        s.contains("+-") && s.contains("| . queued") && s.contains("| + done"),
        "{s}"
    );
    assert!(s.contains("]/[ x2 /2"), "{s}");
}

#[test]
fn no_color_means_no_colours() {
    let plain = Theme {
        color: false,
        unicode: true,
    };
    let t = render(&many_errors(), &mut App::default(), plain, 160, 45);
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert!(matches!(cell.fg, Color::Reset), "{:?}", cell);
        assert!(matches!(cell.bg, Color::Reset), "{:?}", cell);
    }
    let t = render(&many_errors(), &mut App::default(), UNICODE, 160, 45);
    assert!(
        t.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

#[test]
fn hostile_text_is_drawn_inert() {
    let mut snap = busy();
    snap.target = "evil\u{1b}]0;pwned\u{7}target".into();
    snap.tasks[0].url = Arc::from("http://x/\u{1b}[2J\u{9b}31m\r\nrm -rf");
    snap.source_error = Some("bad\u{1b}[5mblink".into());
    let mut app = App::default();
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{s:?}");
    assert!(s.contains("evil?]0;pwned?target"));
    app.update(Action::Details, &snap);
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    assert!(!s.chars().any(|c| c.is_control() && c != '\n'));
}

#[test]
fn a_frozen_display_keeps_its_snapshot_while_the_run_goes_on() {
    let before = busy();
    let mut app = App::default();
    app.update(Action::Freeze, &before);
    let mut later = busy();
    later.in_flight = 7;
    later.counts.done = 99_999;
    let s = text(&render(&later, &mut app, UNICODE, 160, 45));
    assert!(s.contains("FROZEN · running"), "{s}");
    assert!(s.contains("98 in flight / limit 100") && !s.contains("99,999"));
    app.update(Action::Freeze, &later);
    let s = text(&render(&later, &mut app, UNICODE, 160, 45));
    assert!(!s.contains("FROZEN") && s.contains("99,999"));
}

#[test]
fn the_rate_and_retrying_tasks_show() {
    let mut snap = busy();
    snap.rate_limit = Some(250.0);
    snap.counts.retrying = 3;
    snap.tasks[0].phase = Phase::Retrying;
    for (w, h) in [(160, 45), (80, 24)] {
        let s = text(&render(&snap, &mut App::default(), UNICODE, w, h));
        assert!(s.contains("rate 250/s"), "{w}x{h}:\n{s}");
    }
    let s = text(&render(&snap, &mut App::default(), UNICODE, 160, 45));
    // The states panel's cell of its retrying row (the table's rows have an age in ms).
    let count = s
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .find(|cell| cell.contains("↻ retrying") && !cell.contains("ms"))
        .unwrap_or_default();
    assert!(count.trim_end().ends_with(" 3"), "{count:?}");
    assert!(s.contains("↻ retrying"), "{s}");
    let help = {
        let mut app = App::default();
        app.update(Action::Help, &snap);
        text(&render(&snap, &mut app, UNICODE, 160, 45))
    };
    assert!(help.contains("r/R") && help.contains("--rate"), "{help}");
}

/// The cells of row `y`, as text.
fn row(t: &Terminal<TestBackend>, y: u16) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

/// Where `needle` starts on screen: (column, row), counted in cells.
fn find(t: &Terminal<TestBackend>, needle: &str) -> Option<(u16, u16)> {
    let buf = t.backend().buffer();
    (0..buf.area.height).find_map(|y| {
        let cells: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        let first = needle.chars().next()?.to_string();
        (0..cells.len()).find_map(|x| {
            let here: String = cells[x..].concat();
            (cells[x] == first && here.starts_with(needle)).then_some((x as u16, y))
        })
    })
}

#[test]
fn paused_charts_say_what_the_header_says() {
    for (w, h) in [(160, 45), (80, 40)] {
        let s = text(&render(&paused(), &mut App::default(), UNICODE, w, h));
        assert!(s.contains("limit 100 · paused"), "{w}x{h}:\n{s}");
        assert!(
            !s.contains("limit 0 "),
            "{w}x{h}: one truth about the limit:\n{s}"
        );
    }
}

#[test]
fn the_in_flight_chart_names_its_colours() {
    let t = render(&busy(), &mut App::default(), UNICODE, 160, 45);
    let (x, y) = find(&t, "━ in flight 98  ━ limit 100").expect("a legend in the title");
    let buf = t.backend().buffer();
    assert_eq!(buf[(x, y)].fg, Color::Cyan, "in flight is drawn cyan");
    let limit_mark = x + "━ in flight 98  ".chars().count() as u16;
    assert_eq!(
        buf[(limit_mark, y)].fg,
        Color::Yellow,
        "the limit is drawn yellow"
    );
    // The chart's lines use those colours.
    let colours: Vec<Color> = buf
        .content()
        .iter()
        .filter(|c| c.symbol() == "▀" || c.symbol() == "▄" || c.symbol() == "█")
        .map(|c| c.fg)
        .collect();
    assert!(colours.contains(&Color::Cyan) && colours.contains(&Color::Yellow));
}

#[test]
fn help_lists_the_aliases_and_fits_80x24() {
    let snap = busy();
    let mut app = App::default();
    app.update(Action::Help, &snap);
    let t = render(&snap, &mut app, UNICODE, 80, 24);
    insta::assert_snapshot!("help_80x24", t.backend());
    let s = text(&t);
    for o in fetchtop::ui::component::offers(&snap, &app) {
        if o.binding.has(Action::Close) {
            continue;
        }
        let (keys, what) = (o.binding.full_label(), o.binding.help);
        assert!(s.contains(&keys), "help lists {keys}:\n{s}");
        assert!(s.contains(what), "the whole of {what:?} at 80x24:\n{s}");
    }
    assert!(s.contains("p, Space") && s.contains("?, h, F1"), "{s}");
    assert!(s.contains("Esc or ? closes this help"), "{s}");
}

#[test]
fn no_eta_while_stopping() {
    let mut snap = busy();
    snap.state = RunState::Stopping;
    for (w, h) in [(160, 45), (80, 24)] {
        let s = text(&render(&snap, &mut App::default(), UNICODE, w, h));
        assert!(s.contains("stopping"), "{s}");
        assert!(
            !s.contains("ETA"),
            "{w}x{h}: nothing more is admitted:\n{s}"
        );
    }
    let s = text(&render(&busy(), &mut App::default(), UNICODE, 80, 24));
    assert!(s.contains("ETA"), "a running job has one");
}

#[test]
fn warnings_at_80x24_leave_the_table_its_rows() {
    let t = render(&many_errors(), &mut App::default(), UNICODE, 80, 24);
    insta::assert_snapshot!("many_errors_80x24", t.backend());
    let s = text(&t);
    assert!(s.contains("high error rate"), "{s}");
    assert!(s.contains("(+1 more)"), "{s}");
    let task_rows = s
        .lines()
        .filter(|l| l.contains("http://127.0.0.1:8080/items/630"))
        .count();
    assert!(task_rows >= 2, "the in-flight table keeps rows:\n{s}");
}

#[test]
fn the_latency_key_at_80x24_does_not_announce_a_hidden_histogram() {
    let snap = busy();
    let mut app = App::default();
    let s = text(&render(&snap, &mut app, UNICODE, 80, 24));
    assert!(!s.contains("histogram"), "no histogram at 80x24:\n{s}");
    app.update(Action::LatencyWindow, &snap);
    let s = text(&render(&snap, &mut app, UNICODE, 80, 24));
    let footer = s.lines().last().unwrap_or_default();
    assert!(footer.contains("last 5s (not on screen"), "{footer}");
    let mut app = App::default();
    render(&snap, &mut app, UNICODE, 160, 45);
    app.update(Action::LatencyWindow, &snap);
    let s = text(&render(&snap, &mut app, UNICODE, 160, 45));
    assert!(
        s.lines()
            .last()
            .unwrap_or_default()
            .contains("latency histogram: last 5s")
    );
}

/// Half a second in: no whole second of history yet, but something to see.
fn first_second() -> Snapshot {
    let mut s = busy();
    s.elapsed = Duration::from_millis(600);
    s.history.clear();
    s.rate_recent = 1800.0;
    s.counts.done = 1000;
    s.counts.failed = 0;
    s
}

#[test]
fn the_charts_draw_from_the_first_frame() {
    let t = render(&first_second(), &mut App::default(), UNICODE, 160, 45);
    insta::assert_snapshot!("first_second_160x45", t.backend());
    let s = text(&t);
    assert!(!s.contains("collecting the first seconds"), "{s}");
    assert!(s.contains("throughput 1,800/s"), "{s}");
    // The axes are drawn, and the lines on them.
    assert!(s.contains("0s") && s.contains('└'), "{s}");
    let buf = t.backend().buffer();
    let drawn = buf
        .content()
        .iter()
        .filter(|c| c.fg == Color::Green && c.symbol() != " ")
        .count();
    assert!(drawn > 0, "the throughput line is drawn:\n{s}");
}

#[test]
fn the_sparkline_fills_its_row() {
    // A young run: 3 s of heartbeats (30 points) on a 160-column screen.
    let mut snap = blocked_demo();
    snap.executor.lag_history_us.truncate(30);
    let t = render(&snap, &mut App::default(), UNICODE, 160, 45);
    let (_, y) = find(&t, "heartbeat lag").expect("the lag line");
    let line = row(&t, y);
    let inner = line.trim_end_matches('│');
    assert!(!inner.ends_with(' '), "no empty cells at its end: {line:?}");
    let spark = inner.chars().filter(|c| ('▁'..='█').contains(c)).count();
    assert!(spark > 60, "{spark} sparkline cells in {line:?}");
}

#[test]
fn borders_stay_visible_on_a_black_terminal() {
    let t = render(&busy(), &mut App::default(), UNICODE, 160, 45);
    let buf = t.backend().buffer();
    for (x, y) in [(0, 0), (0, 4), (159, 44 - 1)] {
        let c = &buf[(x, y)];
        assert_ne!(c.fg, Color::DarkGray, "({x},{y}) {:?}", c.symbol());
        assert_ne!(c.fg, Color::Black);
    }
    assert_eq!(buf[(0, 0)].fg, Color::Gray);
}

#[test]
fn the_footer_tells_what_became_of_a_cancel() {
    for (w, h) in [(160, 45), (80, 24)] {
        let snap = busy();
        let mut app = App::default();
        render(&snap, &mut app, UNICODE, w, h);
        let sent = app.update(Action::CancelSelected, &snap);
        assert!(sent.is_some());
        let footer =
            |t: &Terminal<TestBackend>| text(t).lines().last().unwrap_or_default().to_string();
        let t = render(&snap, &mut app, UNICODE, w, h);
        assert!(
            footer(&t).contains("cancelling #63000"),
            "{w}x{h}: {}",
            footer(&t)
        );
        assert!(
            !footer(&t).contains("cancelled #"),
            "{w}x{h}: not before it happened"
        );
        // The request finished on its own before the command reached it.
        let mut later = busy();
        later.tasks.retain(|t| t.id != 63_000);
        later.counts.done += 1;
        app.observe(&later);
        let t = render(&later, &mut app, UNICODE, w, h);
        assert!(
            footer(&t).contains("#63000 had already ended"),
            "{w}x{h}: {}",
            footer(&t)
        );
    }
}

//! The live dashboard: pure rendering from `(&Snapshot, &App)` into a frame.
//!
//! ```text
//! ╭ fetchtop · target ─────────────────────────────────── state · elapsed ╮  header (4)
//! │ limit  ━━━━━━━━━━━━━━━━━━━━────────  48 in flight / limit 50          │
//! │ items  ━━━━━━━━━━──────────────────  12,345/100,000 12% · ETA 38s     │
//! ╰───────────────────────────────────────────────────────────────────────╯
//! ╭ states ───╮╭ latency ────────────────────────────╮╭ outcomes ─────────╮  body (11)
//! │ ◌ queued  ││  p50 p90 p99 p99.9 max │ histogram  ││ 200   12,000      │
//! │ ✔ done    ││  run / last 5 s        │ ≤12ms ███  ││ http_5xx  120     │
//! ╰───────────╯╰─────────────────────────────────────╯╰───────────────────╯
//! ╭ executor · model · workers ─────────────────── b blocking · y · m (demo) ╮  executor (4-5)
//! │ heartbeat lag now p99 max (5 s)  ▁▁▁▁▁▁▇█▁▁ (one point per 100 ms)      │
//! │ OS threads · RSS · tasks · busy · queue     [blocking work: demos]      │
//! ╰───────────────────────────────────────────────────────────────────────╯
//! ╭ throughput req/s ──────────────────╮╭ in flight and limit ────────────╮  charts (9)
//! ╰────────────────────────────────────╯╰─────────────────────────────────╯
//! ╭ warnings (only when something is wrong) ─────────────────────────────╮  0-5
//! ╭ in flight: id phase age bytes url ───────────────────────────────────╮  table (rest)
//! ╰───────────────────────────────────────────────────────────────────────╯
//!  + - limit  ] [ ×2 ÷2  p pause  c cancel  C cancel all ... notice         footer (1)
//! ```
//!
//! Narrow or short terminals lose the charts first, then the histogram, then
//! the executor's third line, the states panel and the executor panel; the
//! header, the table and the footer always stay.

mod executor;
mod footer;
mod frames;
mod header;
mod latency;
mod outcomes;
mod popup;
mod states;
mod sweep;
mod theme;
mod throughput;
mod warnings;

pub mod component;
pub mod dashboard;
pub mod events;
pub mod player;
pub mod replay;
pub mod table;
pub mod tasks;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

pub use theme::Theme;
pub use warnings::warnings;

use crate::app::{App, Popup};
use crate::snapshot::Snapshot;
use component::{Component, RunControls, View};
use latency::Latency;

/// Below this height the charts row is left out.
const CHARTS_MIN_HEIGHT: u16 = 34;
/// From this height on the body row is taller.
const TALL: u16 = 40;
/// Below this height the body row (states, latency, outcomes) is left out.
const BODY_MIN_HEIGHT: u16 = 20;
/// Below this height the executor panel is left out.
const EXECUTOR_MIN_HEIGHT: u16 = 22;
/// From this height on the executor panel has a line for the demo switches.
const EXECUTOR_ROOMY: u16 = 30;

/// A bordered panel with a title, in the theme's style.
fn panel<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    let title: Line = title.into();
    Block::bordered()
        .border_set(theme.border_set())
        .border_style(theme.border())
        .title(title.style(theme.title()))
}

/// Label and value, the commonest line of the dashboard.
fn pair<'a>(label: &'a str, value: String, theme: &Theme) -> Vec<Span<'a>> {
    vec![
        Span::styled(label, theme.label()),
        Span::styled(value, theme.value()),
    ]
}

/// Draws one frame.
pub fn draw(frame: &mut Frame, app: &mut App, live: &Snapshot, theme: &Theme) {
    // The frozen snapshot leaves the app while drawing, so widgets can borrow
    // it while the table settles the app's selection; no copy per frame.
    let frozen = app.frozen.take();
    draw_view(
        frame,
        app,
        frozen.as_ref().unwrap_or(live),
        frozen.is_some(),
        theme,
    );
    app.frozen = frozen;
    if !theme.unicode {
        theme::fold_to_ascii(frame.buffer_mut());
    }
}

fn draw_view(frame: &mut Frame, app: &mut App, snap: &Snapshot, frozen: bool, theme: &Theme) {
    let area = frame.area();
    let mut warn = warnings(snap);
    // A breached threshold comes first: it decides the exit status.
    let breached = app.thresholds.breached_now(snap);
    if !breached.is_empty() {
        warn.insert(0, format!("threshold breached: {}", breached.join(", ")));
    }
    // A short screen gives the warnings one line without borders, so the
    // in-flight table keeps rows to show (at 80x24 a bordered panel of two
    // warnings left it only its header).
    let warn_strip = area.height < CHARTS_MIN_HEIGHT;
    let warn_height = match warn.len() {
        0 => 0,
        _ if warn_strip => 1,
        n => n.min(3) as u16 + 2,
    };
    // Seven states and their borders need 9 rows; tall screens give the histogram more.
    let body_height = match area.height {
        h if h >= TALL => 11,
        h if h >= BODY_MIN_HEIGHT => 9,
        _ => 0,
    };
    let chart_height = if area.height >= CHARTS_MIN_HEIGHT {
        9
    } else {
        0
    };
    let roomy = area.height >= EXECUTOR_ROOMY;
    let executor_height = if area.height >= EXECUTOR_MIN_HEIGHT {
        executor::height(roomy)
    } else {
        0
    };
    let [head, body, exec, charts, warn_area, table, foot] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(body_height),
        Constraint::Length(executor_height),
        Constraint::Length(chart_height),
        Constraint::Length(warn_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);

    let [states_area, latency_area, outcomes_area] = body_areas(body);
    // What `l` offers and says depends on whether its histogram is on screen.
    app.histogram_shown = body_height > 0 && latency::fits_histogram(latency_area);
    // The table's selection settles on a row that is there before anything
    // reads it (the table, the details popup, the footer's cancel).
    let rows = app.rows(snap);
    app.resolve_selection(&rows);
    let app = &*app;
    let view = View {
        snap,
        app,
        theme,
        frozen,
    };
    let warnings = warnings::Warnings {
        list: &warn,
        strip: warn_strip,
    };
    let executor = executor::Executor { roomy };
    // Each component where the layout put it; a zero-height row is left out.
    let placed: [(&dyn Component, Rect); 10] = [
        (&RunControls, head),
        (&states::States, states_area),
        (&Latency, latency_area),
        (&outcomes::Outcomes, outcomes_area),
        (&executor, exec),
        (&throughput::Charts, charts),
        (&warnings, warn_area),
        (&tasks::InFlight, table),
        (&footer::Footer, foot),
        match app.popup {
            Popup::None => (&NOTHING, Rect::ZERO),
            Popup::Help => (&popup::HelpPopup, area),
            Popup::Details => (&popup::DetailsPopup, area),
        },
    ];
    for (component, at) in placed {
        if at.height > 0 && at.width > 0 {
            component.draw(frame, at, &view);
        }
    }
}

/// The empty popup slot.
struct Nothing;

impl Component for Nothing {}

const NOTHING: Nothing = Nothing;

/// Where states, latency and outcomes go.
fn body_areas(area: Rect) -> [Rect; 3] {
    // Wide screens give the side panels room for big counts.
    let (side, middle, right) = if area.width >= 100 {
        (22, 40, 34)
    } else {
        (20, 28, 24)
    };
    Layout::horizontal([
        Constraint::Length(side),
        Constraint::Min(middle),
        Constraint::Length(right),
    ])
    .areas(area)
}

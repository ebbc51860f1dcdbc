//! Over time: throughput, and in-flight against the limit, one point per
//! second. The limit is drawn as steps so a change of limit, and what it did
//! to throughput, can be seen; each change `--adaptive` made is marked
//! where it took the limit.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};

use super::component::{Component, View};
use super::{Theme, panel};
use crate::format;
use crate::snapshot::{HistoryPoint, Snapshot};

/// Seconds of history shown.
const WINDOW: usize = 90;

fn recent(snap: &Snapshot) -> &[HistoryPoint] {
    let h = &snap.history;
    &h[h.len().saturating_sub(WINDOW)..]
}

fn x_bounds(points: &[HistoryPoint]) -> [f64; 2] {
    let last = points.last().map_or(1, |p| p.t_s) as f64;
    let first = points.first().map_or(0, |p| p.t_s.saturating_sub(1)) as f64;
    [first.min(last - 1.0), last.max(first + 1.0)]
}

/// A round top for the y axis, with a little headroom above `values`.
pub(super) fn y_max(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(1.0, f64::max) * 1.05;
    let magnitude = 10f64.powf(max.log10().floor());
    let step = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|s| s * magnitude >= max)
        .unwrap_or(10.0);
    step * magnitude
}

fn axis_labels(bounds: [f64; 2], fmt: impl Fn(f64) -> String) -> Vec<Line<'static>> {
    vec![Line::from(fmt(bounds[0])), Line::from(fmt(bounds[1]))]
}

/// The points to draw: the last [`WINDOW`] seconds, or while the run is
/// younger than two whole seconds, its start and the live values now, so
/// the charts draw from the first frame instead of waiting for history.
fn points_to_draw(snap: &Snapshot) -> Vec<(f64, HistoryPoint)> {
    let points = recent(snap);
    if points.len() >= 2 {
        return points.iter().map(|p| (p.t_s as f64, *p)).collect();
    }
    let limit = snap.effective_limit();
    let now = snap.elapsed.as_secs_f64().max(0.1);
    let start = HistoryPoint {
        t_s: 0,
        finished: 0,
        in_flight: 0,
        limit,
    };
    let live = HistoryPoint {
        t_s: snap.elapsed.as_secs(),
        finished: snap.rate_recent.round() as u64,
        in_flight: snap.in_flight,
        limit,
    };
    vec![(0.0, start), (now, live)]
}

/// The in-flight chart's title, its legend included: the chart is too
/// short for ratatui's legend box, so the colours are named here. The
/// limit is the one the header shows; the line drops to 0 while paused,
/// as nothing is admitted then.
fn flight_title<'a>(snap: &Snapshot, theme: &Theme) -> Line<'a> {
    let mark = if theme.unicode { "━ " } else { "- " };
    let mut spans = vec![
        Span::raw(" "),
        Span::styled(mark, theme.series(1)),
        Span::styled(
            format!("in flight {}", format::count(snap.in_flight)),
            theme.title(),
        ),
        Span::raw("  "),
        Span::styled(mark, theme.series(2)),
        Span::styled(
            format!("limit {}", format::count(snap.limit)),
            theme.title(),
        ),
    ];
    if snap.paused {
        spans.push(Span::styled(" · paused (0 admitted)", theme.warn()));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// The charts: throughput, and in flight against the limit.
pub struct Charts;

impl Component for Charts {
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        render(frame, area, view.snap, view.theme);
    }
}

/// Renders the two charts side by side.
fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, theme: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let points = points_to_draw(snap);
    let rate_title = format!(" throughput {} ", format::rate(snap.rate_recent));
    let first = points.first().map_or(0.0, |p| p.0);
    let last = points.last().map_or(1.0, |p| p.0);
    let xb = if recent(snap).len() >= 2 {
        x_bounds(recent(snap))
    } else {
        [first, last.max(first + 1.0)]
    };

    let rate: Vec<(f64, f64)> = points
        .iter()
        .map(|(t, p)| (*t, p.finished as f64))
        .collect();
    // A sweep's table takes the throughput chart's place: it is the same
    // story, step by step.
    if let Some(sweep) = &snap.sweep {
        super::sweep::render(frame, left, sweep, theme);
    } else {
        let rate_chart = line_chart(&[("req/s", 0, &rate)], None, rate_title, xb, theme);
        frame.render_widget(rate_chart.legend_position(None), left);
    }

    let flight: Vec<(f64, f64)> = points
        .iter()
        .map(|(t, p)| (*t, p.in_flight as f64))
        .collect();
    // Steps: hold each second's limit across that second.
    let limit: Vec<(f64, f64)> = points
        .iter()
        .flat_map(|(t, p)| [(t - 0.999, p.limit as f64), (*t, p.limit as f64)])
        .filter(|p| p.0 >= xb[0])
        .collect();
    let marks: Vec<(f64, f64)> = snap
        .adaptive
        .changes
        .iter()
        .rev()
        .take_while(|c| c.t_s >= xb[0])
        .map(|c| (c.t_s, c.to as f64))
        .collect();
    let flight_chart = line_chart(
        &[("limit", 2, &limit), ("in flight", 1, &flight)],
        (!marks.is_empty()).then_some(("adaptive", 3, &marks[..])),
        flight_title(snap, theme),
        xb,
        theme,
    );
    frame.render_widget(flight_chart.legend_position(None), right);
}

/// One line of a chart: its name, colour index and points.
type Series<'a> = (&'a str, usize, &'a [(f64, f64)]);

/// A line chart of `series` (name, colour index, points) over seconds
/// `xb`, with a round y axis from 0 that fits them all.
/// `marks`, when given, are points drawn as dots over the lines.
fn line_chart<'a>(
    series: &[Series<'a>],
    marks: Option<Series<'a>>,
    title: impl Into<Line<'a>>,
    xb: [f64; 2],
    theme: &Theme,
) -> Chart<'a> {
    let ymax = y_max(
        series
            .iter()
            .chain(marks.iter())
            .flat_map(|s| s.2.iter().map(|p| p.1)),
    );
    let mut datasets: Vec<Dataset> = series
        .iter()
        .map(|&(name, colour, data)| {
            Dataset::default()
                .name(name)
                .marker(theme.marker())
                .graph_type(GraphType::Line)
                .style(theme.series(colour))
                .data(data)
        })
        .collect();
    if let Some((name, colour, data)) = marks {
        datasets.push(
            Dataset::default()
                .name(name)
                .marker(ratatui::symbols::Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(theme.series(colour))
                .data(data),
        );
    }
    Chart::new(datasets)
        .block(panel(title, theme))
        .x_axis(
            Axis::default()
                .bounds(xb)
                .style(theme.dim())
                .labels(axis_labels(xb, |v| format!("{v:.0}s"))),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .style(theme.dim())
                .labels(axis_labels([0.0, ymax], |v| format::count(v as u64))),
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn axis_tops_are_round_and_above_the_data() {
        assert_eq!(super::y_max([11_000.0].into_iter()), 12_000.0);
        assert_eq!(super::y_max([50.0, 48.0].into_iter()), 60.0);
        assert_eq!(super::y_max([200.0].into_iter()), 250.0);
        assert_eq!(super::y_max(std::iter::empty()), 1.2);
    }
}

//! The knee finder while it runs (`--sweep`): one row per step, its
//! throughput as a bar against the best so far, so the flattening (the
//! knee) is seen as it comes; the knee marked once found.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::header::meter;
use super::{Theme, panel};
use crate::format;
use crate::snapshot::SweepView;

/// Renders the sweep's table into `area` (in place of the throughput chart).
pub fn render(frame: &mut Frame, area: Rect, sweep: &SweepView, theme: &Theme) {
    let title = match (sweep.knee, &sweep.current) {
        (Some(k), _) => format!(" sweep · knee {} ", format::count(k)),
        (None, Some(c)) => format!(" sweep · measuring limit {} ", format::count(*c)),
        (None, None) => " sweep ".to_string(),
    };
    // Borders, the column names and the closing line.
    let inner = area.height.saturating_sub(4) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let best = sweep.steps.iter().map(|s| s.rps).fold(0.0, f64::max);
    // The columns take 42 cells and the knee mark 7.
    let bar = width.saturating_sub(50).min(40);
    let mut lines = vec![Line::styled(
        format!(
            "{:>6} {:>9} {:>8} {:>8} {:>6}",
            "limit", "req/s", "p50", "p99", "errors"
        ),
        theme.label(),
    )];
    // The newest steps when they do not all fit.
    let skip = sweep.steps.len().saturating_sub(inner.max(1));
    for st in sweep.steps.iter().skip(skip) {
        let knee = Some(st.limit) == sweep.knee;
        let mut spans = vec![Span::styled(
            format!(
                "{:>6} {:>9.1} {:>8} {:>8} {:>6} ",
                format::count(st.limit),
                st.rps,
                format::ms(st.p50_ms),
                format::ms(st.p99_ms),
                format::count(st.errors)
            ),
            if st.errors > 0 {
                theme.bad()
            } else {
                theme.value()
            },
        )];
        if bar >= 4 && best > 0.0 {
            spans.extend(meter(st.rps / best, bar, theme, theme.series(0)));
        }
        if knee {
            spans.push(Span::styled(" ← knee", theme.good()));
        }
        lines.push(Line::from(spans));
    }
    if let Some(why) = &sweep.ended {
        lines.push(Line::styled(format::inert(why), theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines).block(panel(title, theme)), area);
}

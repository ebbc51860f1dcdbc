//! The header: what is running, where it is, and two meters: in-flight
//! against the limit, and progress through the items.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, panel};
use crate::format;
use crate::keymap::{self, Action};
use crate::snapshot::{RunState, Snapshot};

/// Label width, so both meters start in the same column.
const LABEL: usize = 7;
/// Room kept for the text beside the meters.
const TEXT_COLUMN: usize = 52;

/// A horizontal meter `width` cells wide, `ratio` of it filled.
pub(super) fn meter(
    ratio: f64,
    width: usize,
    theme: &Theme,
    style: ratatui::style::Style,
) -> Vec<Span<'static>> {
    let ratio = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = (ratio * width as f64).round() as usize;
    let (full, empty) = if theme.unicode {
        ("━", "─")
    } else {
        ("#", "-")
    };
    vec![
        Span::styled(full.repeat(filled), style),
        Span::styled(empty.repeat(width - filled), theme.dim()),
    ]
}

fn state_span(snap: &Snapshot, frozen: bool, theme: &Theme) -> Span<'static> {
    let (text, style) = match snap.state {
        RunState::Running => ("running".to_string(), theme.good()),
        RunState::Paused => ("paused".to_string(), theme.warn()),
        RunState::Stopping => ("stopping".to_string(), theme.warn()),
        RunState::Finished => (
            format!("finished · {} to quit", keymap::key_for(Action::Quit)),
            theme.value(),
        ),
    };
    let text = if frozen {
        format!("FROZEN · {text}")
    } else {
        text
    };
    Span::styled(text, style)
}

/// Renders the header into `area` (4 rows with borders).
pub fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, frozen: bool, theme: &Theme) {
    let inner_width = area.width.saturating_sub(2) as usize;
    let target = format::inert(&snap.target);
    let right = Line::from(vec![
        state_span(snap, frozen, theme),
        Span::styled(
            format!(" · {} ", format::clock(snap.elapsed)),
            theme.label(),
        ),
    ]);
    let room = inner_width.saturating_sub(right.width() + 14);
    let title = format!(
        " fetchtop · {} ",
        format::middle_truncate(&target, room, theme.ellipsis())
    );
    let block = panel(title, theme).title_top(right.right_aligned());

    let limit = snap.effective_limit();
    let mut limit_text = format!(
        "{} in flight / limit {}",
        format::count(snap.in_flight),
        format::count(snap.limit)
    );
    if let Some(rate) = snap.rate_limit {
        limit_text += &format!(
            " · rate {} ({})",
            format::pace(rate),
            keymap::binding_of(Action::RateHalve).map_or_else(String::new, keymap::Binding::label)
        );
    }
    if snap.adaptive.on {
        limit_text += &format!(
            " · adaptive ≤{} (a){}",
            format::count(snap.adaptive.max),
            snap.adaptive
                .changes
                .back()
                .map(|c| format!(" · last {}→{}", c.from, c.to))
                .unwrap_or_default()
        );
    }
    if snap.paused {
        limit_text += " · paused";
    }
    // Near the open-files ceiling, say where the wall is.
    let near_ceiling = snap.ceiling > 0 && snap.in_flight.max(snap.limit) * 10 >= snap.ceiling * 8;
    if snap.requested_limit.is_some() || near_ceiling {
        limit_text += &format!(" · open files allow {}", format::count(snap.ceiling));
    }
    let limit_ratio = if limit == 0 {
        0.0
    } else {
        snap.in_flight as f64 / limit as f64
    };

    // Items an earlier run recorded (--resume) count towards progress.
    let finished = snap.settled();
    let skipped = if snap.skipped > 0 {
        format!(" · {} skipped", format::count(snap.skipped))
    } else {
        String::new()
    };
    let rate = format::rate(snap.rate_recent);
    let (ratio, text) = match (snap.total, snap.duration) {
        (Some(total), _) if total > 0 => {
            let r = finished as f64 / total as f64;
            // Stopping admits nothing more: the items left will not run.
            let eta = snap
                .eta()
                .filter(|_| snap.state != RunState::Stopping)
                .map(|e| format!(" · ETA {}", format::span(e)))
                .unwrap_or_default();
            (
                Some(r),
                format!(
                    "{}/{} {:.1}%{skipped} · {rate}{eta}",
                    format::count(finished),
                    format::count(total),
                    r * 100.0
                ),
            )
        }
        (_, Some(d)) => (
            Some(snap.elapsed.as_secs_f64() / d.as_secs_f64()),
            format!(
                "{} done · {} of {} · {rate}",
                format::count(finished),
                format::span(snap.elapsed.min(d)),
                format::span(d)
            ),
        ),
        _ => (None, format!("{} done · {rate}", format::count(finished))),
    };
    // Both meters get what a fixed text column leaves, so they do not jump as
    // the text changes length; on a narrow screen they go.
    let text_width = limit_text
        .chars()
        .count()
        .max(text.chars().count())
        .max(TEXT_COLUMN.min(inner_width / 2));
    let bar = inner_width.saturating_sub(LABEL + text_width + 2);
    let bar = if bar >= 8 { bar } else { 0 };
    let line = |label: &'static str, ratio: Option<f64>, text: String, style| {
        let mut spans = vec![Span::styled(format!("{label:<LABEL$}"), theme.label())];
        if let Some(r) = ratio.filter(|_| bar > 0) {
            spans.extend(meter(r, bar, theme, style));
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(text, theme.value()));
        Line::from(spans)
    };
    let l1 = line("limit", Some(limit_ratio), limit_text, theme.series(1));
    let l2 = line("items", ratio, text, theme.series(0));

    frame.render_widget(Paragraph::new(vec![l1, l2]).block(block), area);
}

//! The report page: one self-contained HTML file, charts as inline SVG drawn
//! by plotters, tables for the rest, a few lines of CSS, no network.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::series::Point;
use crate::output::Summary;
use crate::snapshot::Snapshot;

/// Everything a report is made from.
pub struct Input<'a> {
    /// The run's settings, as (name, value), secrets redacted.
    pub settings: &'a [(String, String)],
    /// The summary, as `--json` prints it.
    pub summary: &'a Summary,
    /// The run's last snapshot (histogram, statuses, errors).
    pub last: &'a Snapshot,
    /// One point per second (or per merged seconds).
    pub points: &'a [Point],
}

const W: u32 = 960;
const H: u32 = 300;

/// Text for HTML: `&`, `<`, `>`, quotes escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

type Drawn = Result<(), String>;

/// One line of a chart: its name in the legend, its colour, its points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn failed<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw a chart: {e:?}")
}

/// One chart of lines over the run's time: (name, colour, points).
fn lines(svg: &mut String, y_desc: &str, series: &[Line], t_max: f64) -> Drawn {
    let y_max = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let root = SVGBackend::with_string(svg, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..t_max.max(1.0), 0.0..y_max)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(y_desc)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(failed)?;
    for (name, colour, pts) in series {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
            .map_err(failed)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(failed)?;
    root.present().map_err(failed)
}

/// The limit as steps: it holds from one point's start to its end.
fn steps(points: &[Point], value: impl Fn(&Point) -> f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for p in points {
        out.push((p.t_s - p.span_s, value(p)));
        out.push((p.t_s, value(p)));
    }
    out
}

fn histogram(svg: &mut String, last: &Snapshot) -> Drawn {
    let bars = &last.histogram;
    let y_max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64 * 1.1;
    let n = bars.len().max(1) as f64;
    let root = SVGBackend::with_string(svg, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..n, 0.0..y_max)
        .map_err(failed)?;
    let label = |x: &f64| {
        bars.get(x.floor() as usize)
            .map(|b| format!("≤{}", crate::format::ms(b.le_ms)))
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len().min(12))
        .x_label_formatter(&label)
        .x_desc("latency (upper bound of each bar)")
        .y_desc("responses")
        .draw()
        .map_err(failed)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.08, 0.0), (x + 0.92, b.count as f64)],
                BLUE.mix(0.7).filled(),
            )
        }))
        .map_err(failed)?;
    root.present().map_err(failed)
}

fn figure(html: &mut String, id: &str, title: &str, svg: &str) {
    let _ = writeln!(
        html,
        "<figure id=\"{id}\" class=\"chart\"><figcaption>{}</figcaption>{svg}</figure>",
        esc(title)
    );
}

/// A table of (key, value) rows; each value cell carries its key for
/// scripts (`data-key`).
fn table(html: &mut String, id: &str, head: (&str, &str), rows: &[(String, String)]) {
    let _ = write!(
        html,
        "<table id=\"{id}\"><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(head.0),
        esc(head.1)
    );
    for (k, v) in rows {
        let _ = write!(
            html,
            "<tr><th>{}</th><td data-key=\"{}\">{}</td></tr>",
            esc(k),
            esc(k),
            esc(v)
        );
    }
    html.push_str("</tbody></table>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px}figure{margin:12px 0}\
figcaption{font-weight:600;margin-bottom:4px}table{border-collapse:collapse;margin:8px 0}\
th,td{border:1px solid #ddd;padding:3px 10px;text-align:left}td{font-variant-numeric:tabular-nums}\
.grid{display:flex;gap:24px;flex-wrap:wrap}.fail{color:#b00020}.pass{color:#1b5e20}";

/// The report page.
pub fn page(input: &Input) -> Result<String, String> {
    let Input {
        settings,
        summary,
        last,
        points,
    } = input;
    let t_max = points.last().map_or(1.0, |p| p.t_s);
    let summary_json: serde_json::Value =
        serde_json::from_str(&summary.to_json()).map_err(|e| e.to_string())?;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>fetchtop report: {}</title><style>{STYLE}</style></head><body>\n\
         <h1>fetchtop report</h1><p>{}: {} items in {} s</p>\n",
        esc(&last.target),
        esc(&last.target),
        summary.total,
        summary.elapsed_s
    );

    html.push_str("<h2>Summary</h2>\n");
    let number = |path: &[&str]| {
        let mut v = &summary_json;
        for p in path {
            v = &v[*p];
        }
        v.to_string()
    };
    let rows: Vec<(String, String)> = [
        ("total", vec!["total"]),
        ("done", vec!["done"]),
        ("failed", vec!["failed"]),
        ("cancelled", vec!["cancelled"]),
        ("elapsed_s", vec!["elapsed_s"]),
        ("rps", vec!["rps"]),
        ("bytes", vec!["bytes"]),
        ("max_in_flight", vec!["max_in_flight"]),
        ("latency_ms.p50", vec!["latency_ms", "p50"]),
        ("latency_ms.p90", vec!["latency_ms", "p90"]),
        ("latency_ms.p99", vec!["latency_ms", "p99"]),
        ("latency_ms.p999", vec!["latency_ms", "p999"]),
        ("latency_ms.max", vec!["latency_ms", "max"]),
        ("executor.lag_ms_p99", vec!["executor", "lag_ms_p99"]),
        ("executor.lag_ms_max", vec!["executor", "lag_ms_max"]),
    ]
    .into_iter()
    .map(|(k, path)| (k.to_string(), number(&path)))
    .collect();
    table(&mut html, "summary", ("", "value"), &rows);

    if let Some(t) = &summary.thresholds {
        html.push_str("<h2>Thresholds</h2>\n");
        let _ = write!(
            html,
            "<table id=\"thresholds\"><thead><tr><th>threshold</th><th>measured</th><th>verdict</th></tr></thead><tbody>"
        );
        for c in &t.checks {
            let (class, word) = if c.passed {
                ("pass", "passed")
            } else {
                ("fail", "failed")
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>",
                esc(&c.expression),
                esc(&c.measured.to_string())
            );
        }
        html.push_str("</tbody></table>\n");
        if let Some(a) = &t.aborted {
            let _ = writeln!(
                html,
                "<p class=\"fail\">stopped by --abort-if {} at {} s</p>",
                esc(&a.expression),
                a.at_s
            );
        }
    }

    html.push_str("<h2>Over time</h2>\n");
    let mut svg = String::new();
    lines(
        &mut svg,
        "completed per second",
        &[(
            "throughput (req/s)",
            RGBColor(21, 101, 192),
            // A last sliver of a second (the run's drain) would draw a
            // rate from a handful of items: left out of the line.
            points
                .iter()
                .filter(|p| p.span_s >= 0.5 || points.len() == 1)
                .map(|p| (p.t_s, p.rps()))
                .collect(),
        )],
        t_max,
    )?;
    figure(&mut html, "chart-throughput", "Throughput", &svg);
    svg.clear();
    lines(
        &mut svg,
        "requests",
        &[
            (
                "in flight",
                RGBColor(46, 125, 50),
                points.iter().map(|p| (p.t_s, p.in_flight as f64)).collect(),
            ),
            (
                "limit",
                RGBColor(198, 40, 40),
                steps(points, |p| p.limit as f64),
            ),
        ],
        t_max,
    )?;
    figure(
        &mut html,
        "chart-concurrency",
        "In flight and the limit",
        &svg,
    );
    svg.clear();
    let pct = |f: fn(&Point) -> f64| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| p.completed > 0 || p.max > 0.0)
            .map(|p| (p.t_s, f(p)))
            .collect()
    };
    lines(
        &mut svg,
        "ms",
        &[
            ("p50", RGBColor(21, 101, 192), pct(|p| p.p50)),
            ("p90", RGBColor(46, 125, 50), pct(|p| p.p90)),
            ("p99", RGBColor(239, 108, 0), pct(|p| p.p99)),
            ("max", RGBColor(198, 40, 40), pct(|p| p.max)),
        ],
        t_max,
    )?;
    figure(&mut html, "chart-latency", "Latency per second (ms)", &svg);
    svg.clear();
    lines(
        &mut svg,
        "ms",
        &[(
            "heartbeat lag, max of the last 5 s",
            RGBColor(106, 27, 154),
            points.iter().map(|p| (p.t_s, p.lag_ms)).collect(),
        )],
        t_max,
    )?;
    figure(&mut html, "chart-lag", "Executor lag (ms)", &svg);
    svg.clear();
    histogram(&mut svg, last)?;
    figure(
        &mut html,
        "chart-histogram",
        "Latency histogram (whole run)",
        &svg,
    );

    html.push_str("<h2>Outcomes</h2>\n<div class=\"grid\">\n");
    let status: Vec<(String, String)> = summary
        .status
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    table(&mut html, "status", ("status", "count"), &status);
    let errors: Vec<(String, String)> = summary
        .errors
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    table(&mut html, "errors", ("error kind", "count"), &errors);
    html.push_str("</div>\n<h2>Settings</h2>\n");
    table(&mut html, "settings", ("setting", "value"), settings);
    // A check the browser runs: every chart laid out with a size. A test
    // reads the mark from the DOM.
    html.push_str(
        "<script>document.body.dataset.charts=[...document.querySelectorAll('figure.chart')]\
         .filter(f=>{const s=f.querySelector('svg');return s&&s.getBoundingClientRect().width>0}).length;</script>\n",
    );
    html.push_str("</body></html>\n");
    Ok(html)
}

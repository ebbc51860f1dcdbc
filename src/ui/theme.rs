//! Colours and symbols, with plain fallbacks: no colour under `NO_COLOR`,
//! ASCII symbols and borders when the terminal is not UTF-8 or `--ascii`.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;

use crate::engine::Phase;

/// How the dashboard paints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Use colours.
    pub color: bool,
    /// Use Unicode symbols and box drawing.
    pub unicode: bool,
}

/// The states shown in the states panel, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    /// An in-flight phase.
    Phase(Phase),
    /// Finished with success.
    Done,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

const ASCII_BORDER: symbols::border::Set<'static> = symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Default for Theme {
    fn default() -> Self {
        Theme {
            color: true,
            unicode: true,
        }
    }
}

impl Theme {
    /// Reads `NO_COLOR` and the locale; `ascii` forces the plain symbols.
    pub fn from_env(ascii: bool) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        // The first of these that is set decides, as in setlocale(3).
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let utf8 = locale.contains("utf-8") || locale.contains("utf8");
        Theme {
            color: !no_color,
            unicode: utf8 && !ascii,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// Panel borders.
    pub fn border_set(&self) -> symbols::border::Set<'static> {
        if self.unicode {
            symbols::border::ROUNDED
        } else {
            ASCII_BORDER
        }
    }

    /// Panel borders' style: grey, not dark grey, which many terminals
    /// draw so close to black that the panels lose their edges.
    pub fn border(&self) -> Style {
        self.fg(Color::Gray)
    }

    /// Panel titles.
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Labels beside values.
    pub fn label(&self) -> Style {
        self.fg(Color::Gray)
    }

    /// Quiet text.
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Values that matter.
    pub fn value(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Good news.
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    /// Needs a look.
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Something failed.
    pub fn bad(&self) -> Style {
        self.fg(Color::Red)
    }

    /// The selected table row.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Keys in the footer and help.
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Chart lines: throughput, in flight, limit.
    pub fn series(&self, which: usize) -> Style {
        self.fg([Color::Green, Color::Cyan, Color::Yellow][which % 3])
    }

    /// Bars of the latency histogram.
    pub fn bar(&self) -> Style {
        self.fg(Color::Blue)
    }

    /// The style of an HTTP status by class.
    pub fn status(&self, code: u16) -> Style {
        match code {
            200..=299 => self.good(),
            300..=399 => self.fg(Color::Cyan),
            400..=499 => self.warn(),
            _ => self.bad(),
        }
    }

    /// Symbol and style of a state.
    pub fn state(&self, s: StateKind) -> (&'static str, Style) {
        let (uni, ascii, style) = match s {
            StateKind::Phase(Phase::Queued) => ("◌", ".", self.dim()),
            StateKind::Phase(Phase::Connecting) => ("⇢", ">", self.fg(Color::Yellow)),
            StateKind::Phase(Phase::Waiting) => ("◔", "~", self.fg(Color::Cyan)),
            StateKind::Phase(Phase::Receiving) => ("▼", "v", self.fg(Color::Blue)),
            StateKind::Phase(Phase::Retrying) => ("↻", "r", self.warn()),
            StateKind::Done => ("✔", "+", self.good()),
            StateKind::Failed => ("✖", "x", self.bad()),
            StateKind::Cancelled => ("⊘", "-", self.fg(Color::Magenta)),
        };
        (if self.unicode { uni } else { ascii }, style)
    }

    /// The filled and empty cells of a bar.
    pub fn bar_cells(&self) -> (&'static str, &'static str) {
        if self.unicode {
            ("█", "░")
        } else {
            ("#", ".")
        }
    }

    /// The chart marker: half blocks read as solid lines in any font
    /// (Braille dots vanish in many), at twice the vertical resolution.
    pub fn marker(&self) -> symbols::Marker {
        if self.unicode {
            symbols::Marker::HalfBlock
        } else {
            symbols::Marker::Dot
        }
    }

    /// The mark that stands for text cut out.
    pub fn ellipsis(&self) -> char {
        if self.unicode { '…' } else { '~' }
    }
}

/// ASCII stand-ins for the few non-ASCII glyphs that text and widgets use.
const ASCII_FOLD: &[(&str, &str)] = &[
    ("·", "|"),
    ("…", "~"),
    ("≤", "<"),
    ("×", "x"),
    ("÷", "/"),
    ("→", ">"),
    ("←", "<"),
    ("▼", "v"),
    ("▲", "^"),
    ("↑", "^"),
    ("↓", "v"),
    ("•", "*"),
    ("│", "|"),
    ("─", "-"),
    ("━", "#"),
    ("└", "+"),
    ("┌", "+"),
    ("┐", "+"),
    ("┘", "+"),
    ("⚠", "!"),
];

/// Rewrites a drawn frame to plain ASCII: known glyphs get their stand-in,
/// anything else outside ASCII becomes `?`. The last step of every frame
/// in ASCII mode, so no widget can slip a glyph through.
pub fn fold_to_ascii(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.is_ascii() {
            continue;
        }
        let plain = ASCII_FOLD
            .iter()
            .find(|(from, _)| *from == sym)
            .map_or("?", |(_, to)| to);
        cell.set_symbol(plain);
    }
}

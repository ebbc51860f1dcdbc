//! Where the terminal loops get their input: the real terminal
//! ([`TerminalEvents`]), or a script a test feeds ([`Script`]), so a whole
//! screen with its key presses runs into ratatui's `TestBackend` without a
//! pseudo-terminal (as gitui's `run_main_loop` does).

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;

/// A source of terminal events.
pub trait Events {
    /// Waits up to `timeout` for an event; true when one is ready to read.
    fn poll(&mut self, timeout: Duration) -> io::Result<bool>;
    /// The event that is ready.
    fn read(&mut self) -> io::Result<Event>;
    /// A frame has just been drawn into `screen`. The real terminal has
    /// nothing to do with it; a script keeps it, and moves on.
    fn drawn(&mut self, _screen: &Buffer) {}
}

/// The real terminal, through crossterm.
pub struct TerminalEvents;

impl Events for TerminalEvents {
    fn poll(&mut self, timeout: Duration) -> io::Result<bool> {
        event::poll(timeout)
    }

    fn read(&mut self) -> io::Result<Event> {
        event::read()
    }
}

/// One step of a [`Script`].
pub enum Step {
    /// A key press.
    Key(KeyEvent),
    /// Something to do between frames: send a snapshot, say.
    Run(Box<dyn FnOnce() + Send>),
    /// Keep the frame drawn after the steps before (in [`Script::screens`]).
    Capture,
}

impl Step {
    /// A character key with nothing held.
    pub fn char(c: char) -> Step {
        Step::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    /// Any key with nothing held.
    pub fn key(code: KeyCode) -> Step {
        Step::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }
}

/// How many empty polls a script waits for a frame before it moves on
/// anyway (a frozen screen does not redraw for a new snapshot).
const PATIENCE: u32 = 50;

/// A scripted event source. Each step waits for a frame to be drawn after
/// the one before, so every key is seen on screen before the next comes,
/// whatever the frame rate; once the steps are done it only waits.
pub struct Script {
    steps: VecDeque<Step>,
    ready: Option<Event>,
    /// A frame was drawn since the last step.
    drawn: bool,
    waited: u32,
    last: Option<Buffer>,
    /// The frames kept by [`Step::Capture`], in order.
    pub screens: Vec<Buffer>,
}

impl Script {
    /// A script of `steps`.
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script {
            steps: steps.into_iter().collect(),
            ready: None,
            drawn: false,
            waited: 0,
            last: None,
            screens: Vec::new(),
        }
    }

    /// The last frame drawn.
    pub fn last_screen(&self) -> Option<&Buffer> {
        self.last.as_ref()
    }
}

impl Events for Script {
    fn poll(&mut self, timeout: Duration) -> io::Result<bool> {
        if self.ready.is_some() {
            return Ok(true);
        }
        // A frame after the step before (or a long wait for one) lets the
        // next step go.
        let go = self.drawn || self.waited >= PATIENCE;
        if go {
            match self.steps.pop_front() {
                Some(Step::Key(k)) => {
                    self.drawn = false;
                    self.waited = 0;
                    self.ready = Some(Event::Key(k));
                    return Ok(true);
                }
                Some(Step::Run(f)) => {
                    self.drawn = false;
                    self.waited = 0;
                    f();
                }
                Some(Step::Capture) => {
                    // Taken at once: nothing has happened since that frame.
                    if let Some(last) = &self.last {
                        self.screens.push(last.clone());
                    }
                }
                None => {}
            }
        }
        if !timeout.is_zero() {
            self.waited += 1;
            std::thread::sleep(timeout.min(Duration::from_millis(20)));
        }
        Ok(false)
    }

    fn read(&mut self) -> io::Result<Event> {
        self.ready
            .take()
            .ok_or_else(|| io::Error::other("the script had no event ready"))
    }

    fn drawn(&mut self, screen: &Buffer) {
        self.drawn = true;
        self.last = Some(screen.clone());
    }
}

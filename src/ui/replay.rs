//! `fetchtop replay FILE`: the dashboard on a recording. The same drawing
//! as a live run, fed by the [`Player`] instead of the engine; the keys
//! that would change a run are not bound (see `ui::component::offers`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};
use crossterm::event::{Event, KeyEventKind};
use ratatui::Terminal;
use ratatui::backend::Backend;

use super::dashboard::{Screen, open_terminal};
use super::events::{Events, TerminalEvents};
use super::player::Player;
use super::{Theme, component, draw};
use crate::app::App;
use crate::keymap::Action;

/// Replays `path` until the user quits (or `stop` is set, by a signal).
pub fn run(path: &Path, theme: Theme, fps: f64, stop: &AtomicBool) -> Result<()> {
    let mut player = Player::open(path).map_err(|e| eyre!(e))?;
    let mut screen = Screen(Some(
        open_terminal().wrap_err("cannot open the terminal for the replay")?,
    ));
    let Some(terminal) = screen.0.as_mut() else {
        return Err(eyre!("the terminal was closed before use"));
    };
    run_loop(
        terminal,
        &mut TerminalEvents,
        &mut player,
        &theme,
        fps,
        stop,
    )
}

/// The replay's loop, on any ratatui backend and event source (tests give
/// it a `TestBackend` and a [`Script`](super::events::Script)).
pub fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    events: &mut E,
    player: &mut Player,
    theme: &Theme,
    fps: f64,
    stop: &AtomicBool,
) -> Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Events,
{
    let mut app = App::default();
    app.headers.clone_from(&player.header.headers);
    // The run's thresholds are marked when breached, as they were live; a
    // header whose expressions no longer parse marks none.
    app.thresholds = player.header.thresholds.rules().unwrap_or_default();
    app.replay = Some(player.status(theme.unicode));
    let frame_every = Duration::from_secs_f64(1.0 / fps.clamp(1.0, 240.0));
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if events
            .poll(frame_every)
            .wrap_err("cannot read the terminal")?
        {
            while {
                match events.read().wrap_err("cannot read the terminal")? {
                    Event::Key(key) if key.kind != KeyEventKind::Release => {
                        if let Some(action) = component::dispatch(key, player.snapshot(), &app)
                            && !act(player, &mut app, action).map_err(|e| eyre!(e))?
                        {
                            return Ok(());
                        }
                    }
                    Event::Resize(..) => terminal.autoresize().wrap_err("cannot resize")?,
                    _ => {}
                }
                events
                    .poll(Duration::ZERO)
                    .wrap_err("cannot read the terminal")?
            } {}
        }
        let now = Instant::now();
        player.advance(now.saturating_duration_since(last));
        last = now;
        app.replay = Some(player.status(theme.unicode));
        let snap = player.snapshot();
        let drawn = terminal
            .draw(|frame| draw(frame, &mut app, snap, theme))
            .wrap_err("cannot draw the replay")?;
        events.drawn(drawn.buffer);
    }
    Ok(())
}

/// Applies one key's action; false when the replay should end.
pub fn act(player: &mut Player, app: &mut App, action: Action) -> Result<bool, String> {
    match action {
        Action::Quit | Action::Abort => return Ok(false),
        Action::PlayPause => player.play_pause()?,
        Action::StepForward => player.step_forward(),
        Action::StepBack => player.step_back()?,
        Action::SeekForward => player.seek_by(false)?,
        Action::SeekBack => player.seek_by(true)?,
        Action::SeekStart => player.seek(Duration::ZERO)?,
        Action::SeekEnd => player.seek(player.length())?,
        Action::Faster => player.change_speed(true),
        Action::Slower => player.change_speed(false),
        // The view's own keys (select, sort, details, help): no command
        // can come of them, and there is no run to send one to.
        view => {
            let _ = app.update(view, player.snapshot());
        }
    }
    Ok(true)
}

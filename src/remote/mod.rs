//! One job over many processes: which part of the job this process runs
//! (`--shard`, [`job`]), the lossless histogram form shards exchange
//! ([`wire`]), and the HTTP endpoint a running instance serves
//! (`--metrics`: [`server`], with [`metrics`] for Prometheus and
//! [`control`] for commands). Readers of the engine's `watch<Snapshot>`,
//! like the dashboard: the engine knows nothing of them.

pub mod attach;
pub mod control;
pub mod job;
pub mod metrics;
pub mod server;
pub mod wire;

use std::net::SocketAddr;

use crate::cli::JobArgs;
use crate::engine::EngineHandle;
use crate::engine::job_shard::JobShard;
use crate::launch::Failure;

/// `--metrics`, ready before the run starts: the address bound and the
/// control token made, so that either failing stops fetchtop before any
/// request is sent.
pub struct Prepared {
    listening: server::Listening,
    token: control::Token,
    token_file: Option<std::path::PathBuf>,
    part: JobShard,
}

/// Binds, says where and how open the endpoint is, and makes the control
/// token (given, or generated, printed and written to a file only the user
/// can read).
pub async fn prepare(addr: SocketAddr, job: &JobArgs, part: JobShard) -> Result<Prepared, Failure> {
    let (token, generated) = match &job.control_token {
        Some(t) => (control::Token::given(t).map_err(Failure::Usage)?, false),
        None => (
            control::Token::generate().map_err(|e| {
                Failure::Usage(format!(
                    "cannot make a control token (give --control-token): {e}"
                ))
            })?,
            true,
        ),
    };
    let listening = server::Listening::bind(addr)
        .await
        .map_err(Failure::Usage)?;
    let bound = listening.addr();
    let reach = if bound.ip().is_loopback() {
        "this machine only; --metrics 0.0.0.0:PORT serves others"
    } else {
        "open to other machines"
    };
    eprintln!("fetchtop: serving /metrics, /snapshot and /control at http://{bound} ({reach})");
    let mut token_file = None;
    if generated {
        let path = control::token_path(bound.port());
        let written = match token.write_private(&path) {
            Ok(()) => {
                let shown = format!(" (also in {}, mode 0600)", path.display());
                token_file = Some(path);
                shown
            }
            Err(e) => format!(" (not written to {}: {e})", path.display()),
        };
        eprintln!("fetchtop: /control token: {}{written}", token.expose());
    }
    Ok(Prepared {
        listening,
        token,
        token_file,
        part,
    })
}

impl Prepared {
    /// Serves the run of `handle`.
    pub fn serve(self, handle: &EngineHandle) -> server::Remote {
        let mut remote = server::Remote::start(
            self.listening,
            server::RemoteSetup {
                part: self.part,
                token: self.token,
                snapshots: handle.snapshots.clone(),
                commands: handle.commands.clone(),
            },
        );
        if let Some(path) = self.token_file {
            remote.remove_at_finish(path);
        }
        remote
    }
}

/// `--metrics`'s value: `IP:PORT`, or a bare `PORT` on 127.0.0.1 (never
/// every interface unless asked).
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse()
        .map_err(|_| format!("{s:?} is not PORT or IP:PORT (for example 9898 or 0.0.0.0:9898)"))
}

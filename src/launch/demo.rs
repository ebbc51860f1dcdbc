//! `fetchtop serve` and `fetchtop demo`: the demo API on its own, or with
//! a run against it.

use std::process::ExitCode;

use crate::cli::{DemoArgs, ServeArgs};
use crate::demo::faults::FAULT_PATHS;
use crate::demo::scenario::Scenario;
use crate::demo::{DemoServer, FaultServer, ServerConfig};
use crate::engine::source::Template;
use crate::engine::{Blocking, SourceSpec};
use crate::output::job::JobSource;

use super::{Failure, fetch_with};

pub(super) async fn serve(args: ServeArgs) -> Result<ExitCode, Failure> {
    let preset = Scenario::Items.preset();
    let (latency_min, latency_max) = args.api.latency.unwrap_or(preset.latency);
    let cfg = ServerConfig {
        addr: args.addr,
        latency_min,
        latency_max,
        error_rate: args.api.error_rate.unwrap_or(preset.error_rate),
        items: args.items,
        throttle_rate: preset.throttle_rate,
        capacity: args.api.capacity(preset.slots),
    };
    let faults = match args.faults {
        Some(addr) => {
            let server = FaultServer::start(addr).await?;
            let paths: Vec<&str> = FAULT_PATHS.iter().map(|(p, _)| *p).collect();
            eprintln!(
                "fetchtop fault server listening on http://{} ({})",
                server.addr(),
                paths.join(", ")
            );
            Some(server)
        }
        None => None,
    };
    let served = crate::demo::server::serve_until_ctrl_c(cfg).await;
    if let Some(f) = faults {
        f.shutdown().await;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let preset = args.scenario.preset();
    let (latency_min, latency_max) = args.api.latency.unwrap_or(preset.latency);
    let server = DemoServer::start(ServerConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        latency_min,
        latency_max,
        error_rate: args.api.error_rate.unwrap_or(preset.error_rate),
        items: args.items,
        throttle_rate: preset.throttle_rate,
        capacity: args.api.capacity(preset.slots),
    })
    .await?;
    if !args.run.output.quiet {
        eprintln!(
            "fetchtop demo: the demo API is serving at {} (counters at {})",
            server.url(""),
            server.url("/stats")
        );
    }
    let url = server.url(&format!("/items/{{1..{}}}", args.items));
    let template = Template::parse(&url)
        .map_err(Failure::Usage)?
        .ok_or_else(|| Failure::Usage(format!("not a template: {url}")))?;
    // Every demo can switch blocking work on (`b`); the blocking scenario starts with it on.
    let blocking = Blocking {
        on: preset.blocking,
        ..Blocking::default()
    };
    // The server in this process holds the other end of every connection.
    let job = JobSource::Demo {
        scenario: args.scenario.as_str().to_string(),
        items: args.items,
    };
    let result = fetch_with(
        SourceSpec::Template(template),
        &args.run,
        2,
        Some(blocking),
        Some(job),
    )
    .await;
    server.shutdown().await;
    result
}

//! The knee finder on the real binary (`fetchtop sweep URL`, `--sweep`)
//! against a demo server of known capacity that this test starts on
//! loopback: the knee found is within one step of the true one.

use std::process::Stdio;
use std::time::Duration;

use fetchtop::demo::{Capacity, DemoServer, ServerConfig};
use tokio::process::Command;

async fn capacity_server(capacity: Capacity) -> DemoServer {
    fetchtop::sys::raise_fd_limit();
    DemoServer::start(ServerConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        latency_min: Duration::from_millis(50),
        latency_max: Duration::from_millis(50),
        error_rate: 0.0,
        capacity: Some(capacity),
        ..ServerConfig::default()
    })
    .await
    .expect("demo server starts")
}

async fn sweep_json(args: &[&str]) -> serde_json::Value {
    let child = Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Seven steps of at most 4 s each, and room for a loaded machine.
    let o = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("the sweep ends")
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knee_is_within_one_step_of_the_servers_slots() {
    let slots = 16;
    let server = capacity_server(Capacity::with_slots(slots as usize)).await;
    let url = server.url("/items/1");
    let v = sweep_json(&[
        "sweep",
        &url,
        "--no-tui",
        "-q",
        "--json",
        "--sweep-hold",
        "4s",
    ])
    .await;
    let sweep = &v["sweep"];
    let knee = sweep["knee"].as_u64().expect("a knee");
    let steps = sweep["steps"].as_array().unwrap();
    let limits: Vec<u64> = steps.iter().map(|s| s["limit"].as_u64().unwrap()).collect();
    // Geometric from 1 (the default range 1..1024), stopped soon past the knee.
    assert_eq!(limits[..5], [1, 2, 4, 8, 16], "{sweep}");
    assert!(
        limits.len() <= 8,
        "it stops when throughput stops growing: {sweep}"
    );
    // The true knee is 16; one step either side is 8 or 32.
    assert!((16..=32).contains(&knee), "knee {knee}: {sweep}");
    // It stops at the first step past the knee: throughput stopped growing,
    // or (past 16 slots + 32 queued) 429s appeared.
    let ended = sweep["ended"].as_str().unwrap();
    assert!(
        ended.contains("stopped growing") || ended.contains("errors"),
        "{sweep}"
    );
    // Below the knee, throughput doubles with the limit (Little's law,
    // 50 ms each): 8 in flight give about 160/s.
    let at8 = steps[3]["rps"].as_f64().unwrap();
    assert!((100.0..=170.0).contains(&at8), "{at8}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_stops_when_errors_appear() {
    // 16 slots and no queue: past 16 in flight the server answers 429.
    let server = capacity_server(Capacity {
        slots: 16,
        queue: 0,
    })
    .await;
    let url = server.url("/items/{1..1000000}");
    let v = sweep_json(&[
        &url,
        "--sweep",
        "5..200",
        "--sweep-hold",
        "4s",
        "--no-tui",
        "-q",
        "--json",
    ])
    .await;
    let sweep = &v["sweep"];
    let steps = sweep["steps"].as_array().unwrap();
    let last = steps.last().unwrap();
    assert!(
        sweep["ended"].as_str().unwrap().contains("errors"),
        "{sweep}"
    );
    assert!(last["errors"].as_u64().unwrap() > 0, "{sweep}");
    // 5 and 10 are served; 20 is the first past the slots.
    assert_eq!(last["limit"], 20, "{sweep}");
    assert_eq!(sweep["knee"], 10, "a limit with errors is no knee: {sweep}");
    server.shutdown().await;
}

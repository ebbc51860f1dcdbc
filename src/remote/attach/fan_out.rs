//! The dashboard's commands, sent to every instance's `/control`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use crate::engine::Command;
use crate::remote::control::Token;

use super::{Instance, Shared, lock};

/// Shares of `new` in proportion to `old` (equal shares when all are 0),
/// adding up to `new`.
fn proportional(old: &[f64], new: f64) -> Vec<f64> {
    let sum: f64 = old.iter().sum();
    if old.is_empty() {
        return Vec::new();
    }
    if sum <= 0.0 {
        return vec![new / old.len() as f64; old.len()];
    }
    old.iter().map(|o| o * new / sum).collect()
}

/// Whole shares of `new` in proportion to `old`, adding up to `new` exactly.
fn proportional_whole(old: &[u64], new: u64) -> Vec<u64> {
    let shares = proportional(
        &old.iter().map(|&o| o as f64).collect::<Vec<_>>(),
        new as f64,
    );
    let mut whole: Vec<u64> = shares.iter().map(|s| s.floor() as u64).collect();
    let mut left = new.saturating_sub(whole.iter().sum());
    // The remainder goes to the largest fractions first.
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        (shares[b] - shares[b].floor()).total_cmp(&(shares[a] - shares[a].floor()))
    });
    for i in order {
        if left == 0 {
            break;
        }
        whole[i] += 1;
        left -= 1;
    }
    whole
}

/// The per-instance requests for one dashboard command; `None` for those
/// attach does not forward (quitting detaches instead).
fn requests_for(cmd: Command, instances: &[Instance]) -> Option<Vec<Option<String>>> {
    let body = |s: String| Some(s);
    let same = |s: &str| Some(vec![Some(s.to_string()); instances.len()]);
    match cmd {
        Command::SetConcurrency(total) => {
            let old: Vec<u64> = instances
                .iter()
                .map(|i| i.last.as_ref().map_or(0, |(d, _)| d.limit))
                .collect();
            Some(
                proportional_whole(&old, total)
                    .into_iter()
                    .map(|l| body(format!("{{\"command\":\"set_limit\",\"limit\":{l}}}")))
                    .collect(),
            )
        }
        Command::SetRate(total) => {
            let old: Vec<f64> = instances
                .iter()
                .map(|i| {
                    i.last
                        .as_ref()
                        .and_then(|(d, _)| d.rate_limit)
                        .unwrap_or(0.0)
                })
                .collect();
            Some(
                proportional(&old, total)
                    .into_iter()
                    .map(|r| {
                        let r =
                            r.clamp(crate::engine::pace::MIN_RATE, crate::engine::pace::MAX_RATE);
                        body(format!("{{\"command\":\"set_rate\",\"rate\":{r}}}"))
                    })
                    .collect(),
            )
        }
        Command::Pause => same(r#"{"command":"pause"}"#),
        Command::Resume => same(r#"{"command":"resume"}"#),
        Command::CancelAll => same(r#"{"command":"cancel_all"}"#),
        _ => None,
    }
}

/// Sends each command to every instance's `/control`.
pub(super) async fn fan_out(
    client: reqwest::Client,
    token: Option<Token>,
    shared: Arc<Shared>,
    mut commands: mpsc::Receiver<Command>,
    poke: mpsc::Sender<()>,
) {
    while let Some(cmd) = commands.recv().await {
        if matches!(cmd, Command::Stop | Command::Abort) {
            shared.detach.cancel();
            continue;
        }
        let planned = {
            let instances = lock(&shared);
            requests_for(cmd, &instances).map(|bodies| {
                instances
                    .iter()
                    .map(|i| i.base.clone())
                    .zip(bodies)
                    .collect::<Vec<_>>()
            })
        };
        let Some(planned) = planned else {
            shared.applied.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let mut sends = tokio::task::JoinSet::new();
        for (i, (base, body)) in planned.into_iter().enumerate() {
            let Some(body) = body else { continue };
            let (client, token) = (client.clone(), token.clone());
            sends.spawn(async move { (i, send(&client, token.as_ref(), &base, body).await) });
        }
        let mut results = Vec::new();
        while let Some(Ok(r)) = sends.join_next().await {
            results.push(r);
        }
        {
            let mut instances = lock(&shared);
            for (i, result) in results {
                if let Some(inst) = instances.get_mut(i) {
                    inst.command_error = result.err();
                }
            }
        }
        shared.applied.fetch_add(1, Ordering::Relaxed);
        let _ = poke.try_send(());
    }
}

async fn send(
    client: &reqwest::Client,
    token: Option<&Token>,
    base: &str,
    body: String,
) -> Result<(), String> {
    let mut req = client
        .post(format!("{base}/control"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t.expose());
    }
    let resp = req.send().await.map_err(|e| format!("no answer ({e})"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
        " (give --control-token)"
    } else {
        ""
    };
    Err(format!(
        "refused the command: HTTP {}{hint}",
        status.as_u16()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_shared_in_proportion_and_add_up() {
        assert_eq!(proportional_whole(&[4, 4], 16), [8, 8]);
        assert_eq!(proportional_whole(&[10, 30], 20), [5, 15]);
        assert_eq!(proportional_whole(&[0, 0, 0], 10).iter().sum::<u64>(), 10);
        assert_eq!(proportional_whole(&[1, 1, 1], 4).iter().sum::<u64>(), 4);
        assert!(proportional_whole(&[], 4).is_empty());
    }
}

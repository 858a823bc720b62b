//! The latency and remediation scenarios' driver: a person at the CLI of random devices, on a
//! thread and runtime of its own (whose CPU time is taken out of the engine's). Each change is a
//! gNMI Set of one interface description to `bench-<n>`. Latency: once the engine has recorded
//! the drift, the description is set back, and the device can be picked again. Remediation (auto
//! mode): the engine sets it back; the device is free once the event is Remediated.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use fabric_gnmi::backoff::{Jitter, SplitMix64};
use fabric_gnmi::client::{Client, ClientConfig};
use fabric_gnmi::rpc::SetRequest;
use fabric_gnmi::{Path, Value};
use fabric_sim::topology::{SYNTHETIC_PORTS, synthetic_intent};
use serde_json::json;
use tokio::sync::mpsc;

use crate::Summary;
use crate::port::{Detection, MARK, Seen};
use crate::proc;

/// What a change is timed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The engine records the drift.
    Detection,
    /// The engine records the event Remediated.
    Remediation,
}

/// How long a change may go unreported before it counts as missed.
const MISSED_AFTER: Duration = Duration::from_secs(5);

enum State {
    Idle,
    Changing {
        sequence: u64,
        port: u64,
        set_at: Option<Instant>,
        detected_at: Option<Instant>,
        since: Instant,
    },
    Restoring,
}

enum Msg {
    SetDone {
        device: usize,
        sequence: u64,
        at: Instant,
    },
    Restored {
        device: usize,
    },
    Failed {
        device: usize,
        error: String,
    },
}

struct Outcome {
    latencies_ms: Vec<f64>,
    changes: u64,
    missed: u64,
    busy_skips: u64,
    failures: u64,
    first_error: Option<String>,
    driver_cpu: f64,
}

fn description_path(port: u64) -> Path {
    // A literal of this module's shape: parsing cannot fail.
    format!("/interfaces/interface[name=Ethernet{port}]/config/description")
        .parse()
        .unwrap_or_default()
}

pub fn latency(
    s: &mut Summary,
    addresses: &[String],
    detections: mpsc::UnboundedReceiver<Detection>,
    rate: f64,
    seconds: u64,
    measure: Measure,
) -> anyhow::Result<()> {
    if rate.is_nan() || rate <= 0.0 || rate.is_infinite() {
        anyhow::bail!("--rate must be a positive number of changes per second");
    }
    let addresses = addresses.to_vec();
    let cpu0 = proc::process_cpu();
    let t0 = Instant::now();
    let outcome = std::thread::Builder::new()
        .name("driver".into())
        .spawn(move || -> anyhow::Result<Outcome> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(drive(
                addresses,
                detections,
                rate,
                Duration::from_secs(seconds),
                measure,
            ))
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the latency driver panicked"))??;
    let wall = t0.elapsed().as_secs_f64();
    let engine_cpu = (proc::process_cpu() - cpu0 - outcome.driver_cpu).max(0.0);
    let mut l = outcome.latencies_ms;
    l.sort_by(f64::total_cmp);
    let (prefix, quantiles) = match measure {
        Measure::Detection => (
            "latency",
            [
                ("detect_p50_ms", 0.5),
                ("detect_p99_ms", 0.99),
                ("detect_max_ms", 1.0),
            ],
        ),
        Measure::Remediation => (
            "remediation",
            [
                ("remediation_p50_ms", 0.5),
                ("remediation_p99_ms", 0.99),
                ("remediation_max_ms", 1.0),
            ],
        ),
    };
    let key = |k: &str| -> &'static str { Box::leak(format!("{prefix}_{k}").into_boxed_str()) };
    s.num(key("rate"), rate, " changes/s", 0);
    s.int(key("changes"), outcome.changes);
    s.int(key("completed"), l.len() as u64);
    for (k, q) in quantiles {
        match proc::quantile(&l, q) {
            Some(v) => s.num(k, v, " ms", 3),
            None => s.put(k, serde_json::Value::Null, "none completed".into()),
        }
    }
    s.int(key("missed"), outcome.missed);
    s.int(key("busy_skips"), outcome.busy_skips);
    s.int(key("set_failures"), outcome.failures);
    if let Some(e) = outcome.first_error {
        s.put(key("first_error"), json!(e), e.clone());
    }
    s.num(
        key("engine_cpu_percent"),
        100.0 * engine_cpu / wall,
        " % (100 = one core)",
        1,
    );
    s.num(
        key("driver_cpu_percent"),
        100.0 * outcome.driver_cpu / wall,
        " %",
        1,
    );
    Ok(())
}

async fn drive(
    addresses: Vec<String>,
    mut detections: mpsc::UnboundedReceiver<Detection>,
    rate: f64,
    duration: Duration,
    measure: Measure,
) -> anyhow::Result<Outcome> {
    let n = addresses.len();
    // Connect to every device first (not timed): a change then costs one Set.
    let mut clients = Vec::with_capacity(n);
    for chunk in addresses.chunks(64) {
        let connected =
            futures::future::join_all(chunk.iter().map(|a| {
                Client::connect(ClientConfig::new(a.clone()).credentials("admin", "admin"))
            }))
            .await;
        for (c, a) in connected.into_iter().zip(chunk) {
            clients.push(c.with_context(|| format!("connecting to {a}"))?);
        }
    }
    let intended: HashMap<u64, String> = synthetic_intent(0)
        .interfaces
        .iter()
        .enumerate()
        .filter_map(|(i, x)| Some((i as u64 + 1, x.description.clone()?)))
        .collect();
    while detections.try_recv().is_ok() {}

    let cpu0 = proc::thread_cpu();
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut states: Vec<State> = (0..n).map(|_| State::Idle).collect();
    let mut rng = SplitMix64(0xbe_4c_11);
    let mut out = Outcome {
        latencies_ms: Vec::new(),
        changes: 0,
        missed: 0,
        busy_skips: 0,
        failures: 0,
        first_error: None,
        driver_cpu: 0.0,
    };
    let mut sequence = 0u64;
    let start = tokio::time::Instant::now();
    let end = start + duration;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let set =
        |device: usize, port: u64, value: String, done: Msg, tx: &mpsc::UnboundedSender<Msg>| {
            let client = clients[device].clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let req = SetRequest {
                    updates: vec![(description_path(port), Value::String(value))],
                    ..SetRequest::default()
                };
                let msg = match client.set(&req).await {
                    Ok(_) => match done {
                        Msg::SetDone {
                            device, sequence, ..
                        } => Msg::SetDone {
                            device,
                            sequence,
                            at: Instant::now(),
                        },
                        other => other,
                    },
                    Err(e) => Msg::Failed {
                        device,
                        error: e.to_string(),
                    },
                };
                let _ = tx.send(msg);
            });
        };

    // A change is complete once both its Set's response and its detection are in.
    let complete = |state: &mut State, out: &mut Outcome| -> Option<u64> {
        if let State::Changing {
            set_at: Some(set_at),
            detected_at: Some(detected_at),
            port,
            ..
        } = *state
        {
            // The engine may see the change before the client sees the Set's response.
            let ms = detected_at.saturating_duration_since(set_at).as_secs_f64() * 1e3;
            out.latencies_ms.push(ms);
            *state = State::Restoring;
            return Some(port);
        }
        None
    };

    // A completed change: set the description back (latency), or nothing to do: the engine did
    // (remediation).
    let finish = |device: usize,
                  done: Option<u64>,
                  states: &mut Vec<State>,
                  tx: &mpsc::UnboundedSender<Msg>| {
        let Some(port) = done else { return };
        match measure {
            Measure::Detection => {
                let value = intended.get(&port).cloned().unwrap_or_default();
                set(device, port, value, Msg::Restored { device }, tx);
            }
            Measure::Remediation => states[device] = State::Idle,
        }
    };

    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = tokio::time::Instant::now();
                if now < end {
                    let due = ((now - start).as_secs_f64() * rate) as u64;
                    while out.changes + out.busy_skips < due {
                        let mut picked = None;
                        for _ in 0..8 {
                            let d = rng.upto(n as u64 - 1) as usize;
                            if matches!(states[d], State::Idle) {
                                picked = Some(d);
                                break;
                            }
                        }
                        let Some(device) = picked else {
                            out.busy_skips += 1;
                            continue;
                        };
                        sequence += 1;
                        out.changes += 1;
                        let port = 1 + rng.upto(SYNTHETIC_PORTS - 1);
                        states[device] = State::Changing {
                            sequence,
                            port,
                            set_at: None,
                            detected_at: None,
                            since: Instant::now(),
                        };
                        set(device, port, format!("{MARK}{sequence}"), Msg::SetDone { device, sequence, at: Instant::now() }, &tx);
                    }
                } else {
                    let pending = states.iter().any(|s| !matches!(s, State::Idle));
                    let overdue = states.iter().all(|s| match s {
                        State::Changing { since, .. } => since.elapsed() > MISSED_AFTER,
                        _ => true,
                    });
                    if !pending || (overdue && now > end + MISSED_AFTER) {
                        break;
                    }
                }
            }
            Some(d) = detections.recv() => {
                let wanted = match measure {
                    Measure::Detection => d.what == Seen::Drift,
                    Measure::Remediation => d.what == Seen::Remediated,
                };
                if wanted
                    && let Some(state) = states.get_mut(d.device)
                    && let State::Changing { sequence, detected_at, .. } = state
                    && (measure == Measure::Remediation || *sequence == d.sequence)
                {
                    *detected_at = Some(d.at);
                    finish(d.device, complete(state, &mut out), &mut states, &tx);
                }
            }
            Some(m) = rx.recv() => match m {
                Msg::SetDone { device, sequence: seq, at } => {
                    if let State::Changing { sequence, set_at, .. } = &mut states[device]
                        && *sequence == seq
                    {
                        *set_at = Some(at);
                        let done = complete(&mut states[device], &mut out);
                        finish(device, done, &mut states, &tx);
                    }
                }
                Msg::Restored { device } => states[device] = State::Idle,
                Msg::Failed { device, error } => {
                    out.failures += 1;
                    out.first_error.get_or_insert(error);
                    states[device] = State::Idle;
                }
            },
        }
    }
    out.missed = states
        .iter()
        .filter(|s| matches!(s, State::Changing { .. }))
        .count() as u64;
    out.driver_cpu = proc::thread_cpu() - cpu0;
    Ok(out)
}

//! Remediation end to end: the lab fabric on fabric-sim over real gRPC, the engine through the
//! lab adapter, decisions made the way a person makes them (the lab's stand-in for
//! `kubectl annotate`). Each mode is checked on what the device itself received: the
//! simulator's count of Sets and its leaves.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use fabric_drift::{Duration as PolicyDuration, policy::Mode};
use fabric_e2e::{
    BGP, fast_options, key, lab_config, make_unreachable, restart_engine, set, start_lab_with,
    start_lab_with_options,
};
use fabric_engine::{
    Clock, DecisionAction, EngineOptions, Phase, Reachability, SyncState, WebhookTarget,
    memory::{MemoryEvent, MemoryState},
};
use fabric_gnmi::{Path, Value};
use fabric_operator::lab::{LabError, LiveLab};

const MTU1: &str = "/interfaces/interface[name=Ethernet1]/config/mtu";
const MTU2: &str = "/interfaces/interface[name=Ethernet2]/config/mtu";
/// Long enough for a Set the engine should not send to have reached the simulator.
const QUIET: Duration = Duration::from_millis(1500);

/// The lab with every policy's dampening off, so each test measures the behaviour under test.
async fn lab() -> anyhow::Result<LiveLab> {
    start_lab_with(|c| c.policy.rules.dampening = PolicyDuration::ZERO).await
}

fn sets(live: &LiveLab, device: &str) -> u64 {
    live.sim.set_count(device).expect("a lab device")
}

fn leaf(live: &LiveLab, device: &str, path: &str) -> Option<Value> {
    let path: Path = path.parse().expect("a path");
    live.sim.device(device).expect("a lab device").get(&path)
}

fn events(state: &MemoryState, device: &str) -> Vec<MemoryEvent> {
    state.events_of(&key(device)).cloned().collect()
}

async fn wait_event(
    live: &LiveLab,
    device: &str,
    what: &str,
    timeout: Duration,
    condition: impl Fn(&[MemoryEvent]) -> bool,
) -> anyhow::Result<Vec<MemoryEvent>> {
    let state = live
        .port
        .wait_for(&format!("{device}: {what}"), timeout, |s| {
            condition(&events(s, device))
        })
        .await?;
    Ok(events(&state, device))
}

/// The name of the device's `n`th event (from 1), once it exists.
async fn nth_event(live: &LiveLab, device: &str, n: usize) -> anyhow::Result<String> {
    let events = wait_event(
        live,
        device,
        &format!("event {n}"),
        Duration::from_secs(2),
        |e| e.len() >= n,
    )
    .await?;
    Ok(events[n - 1].name.clone())
}

fn is_9214(v: Option<Value>) -> bool {
    v.is_some_and(|v| v.semantic_eq(&Value::Uint(9214)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_mode_reports_and_never_sends_a_set() -> anyhow::Result<()> {
    let live = lab().await?;
    set(&live, "spine1", MTU1, Value::Uint(1500)).await?;
    let before = sets(&live, "spine1");
    wait_event(
        &live,
        "spine1",
        "an Alerted event",
        Duration::from_secs(2),
        |e| e.len() == 1 && e[0].phase == Phase::Alerted,
    )
    .await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(sets(&live, "spine1"), before, "alert never sends a Set");
    assert!(!is_9214(leaf(&live, "spine1", MTU1)));
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_mode_applies_the_plan_only_after_the_approval() -> anyhow::Result<()> {
    let live = lab().await?;
    set(&live, "leaf1", MTU1, Value::Uint(1500)).await?;
    let before = sets(&live, "leaf1");
    let pending = wait_event(
        &live,
        "leaf1",
        "a Pending event",
        Duration::from_secs(2),
        |e| e.len() == 1 && e[0].phase == Phase::Pending,
    )
    .await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        sets(&live, "leaf1"),
        before,
        "nothing sent before the approval"
    );

    live.control.decide(&pending[0].name, true).await?;
    let done = wait_event(
        &live,
        "leaf1",
        "the event Remediated",
        Duration::from_secs(3),
        |e| e[0].phase == Phase::Remediated,
    )
    .await?;
    assert_eq!(sets(&live, "leaf1"), before + 1, "one atomic SetRequest");
    assert!(
        is_9214(leaf(&live, "leaf1", MTU1)),
        "the device is back at intent"
    );
    let event = &done[0];
    assert_eq!(
        event.phases,
        [Phase::Pending, Phase::Remediating, Phase::Remediated]
    );
    let decision = event.decision.as_ref().expect("the decision is recorded");
    assert_eq!(
        (decision.action, decision.by.as_str()),
        (DecisionAction::Approve, "lab-user")
    );
    let outcome = event.outcome.as_ref().expect("the outcome is recorded");
    assert_eq!(outcome.attempts, 1);
    assert!(
        outcome.duration.is_some() && outcome.error.is_none(),
        "{outcome:?}"
    );

    // The operator's own write is not new drift.
    tokio::time::sleep(QUIET).await;
    let state = live.port.snapshot();
    assert_eq!(events(&state, "leaf1").len(), 1);
    assert_eq!(state.reports[&key("leaf1")].sync, SyncState::InSync);
    assert!(state.reports[&key("leaf1")].last_remediation.is_some());
    // The lab's live view shows the decision, under one header.
    let view = fabric_operator::lab::render_live(&live.lab, &state);
    assert_eq!(
        view.lines().filter(|l| l.starts_with("EVENT ")).count(),
        1,
        "{view}"
    );
    let row = view
        .lines()
        .find(|l| l.starts_with(&event.name))
        .expect("the event's row");
    assert!(
        row.contains("Remediated") && row.contains("approve by lab-user"),
        "{view}"
    );
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_approval_is_superseded_and_sends_nothing() -> anyhow::Result<()> {
    let live = lab().await?;
    set(&live, "leaf2", MTU1, Value::Uint(1500)).await?;
    let first = nth_event(&live, "leaf2", 1).await?;
    // The drift changes before anyone decides: a new event carries it.
    set(&live, "leaf2", MTU2, Value::Uint(1500)).await?;
    let before = sets(&live, "leaf2");
    let all = wait_event(
        &live,
        "leaf2",
        "the first superseded",
        Duration::from_secs(2),
        |e| e.len() == 2 && e[0].phase == Phase::Superseded && e[1].phase == Phase::Pending,
    )
    .await?;
    assert_eq!(all[0].superseded_by.as_deref(), Some(all[1].name.as_str()));
    assert_eq!(
        all[1].record.drift.len(),
        2,
        "the new event carries both leaves"
    );

    // Approving the old event is refused by the lab, as kubectl-fabric refuses it...
    assert!(matches!(
        live.control.decide(&first, true).await,
        Err(LabError::NotPending { .. })
    ));
    // ...and an approval that reaches the engine anyway (an annotation racing the change)
    // applies nothing.
    live.control
        .engine
        .decide(
            &key("leaf2"),
            &first,
            fabric_engine::Decision {
                action: DecisionAction::Approve,
                by: "racing-annotation".into(),
                at: jiff::Timestamp::now(),
            },
        )
        .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(sets(&live, "leaf2"), before, "nothing stale is sent");
    let now = events(&live.port.snapshot(), "leaf2");
    assert_eq!(
        (now[0].phase, now[1].phase),
        (Phase::Superseded, Phase::Pending)
    );
    assert!(now[0].decision.is_none());
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_keeps_the_drift_reported_and_does_not_propose_it_again() -> anyhow::Result<()>
{
    let live = lab().await?;
    set(&live, "leaf3", MTU1, Value::Uint(1500)).await?;
    let name = nth_event(&live, "leaf3", 1).await?;
    let before = sets(&live, "leaf3");
    live.control.decide(&name, false).await?;
    wait_event(
        &live,
        "leaf3",
        "the event Rejected",
        Duration::from_secs(2),
        |e| e[0].phase == Phase::Rejected,
    )
    .await?;
    tokio::time::sleep(QUIET).await;
    let state = live.port.snapshot();
    assert_eq!(events(&state, "leaf3").len(), 1, "not proposed again");
    assert!(
        matches!(
            state.reports[&key("leaf3")].sync,
            SyncState::Drifted { count: 1, .. }
        ),
        "the drift stays reported"
    );
    assert_eq!(sets(&live, "leaf3"), before);

    // Other drift is proposed.
    set(&live, "leaf3", MTU2, Value::Uint(1500)).await?;
    wait_event(
        &live,
        "leaf3",
        "a new Pending event",
        Duration::from_secs(2),
        |e| e.len() == 2 && e[1].phase == Phase::Pending && e[0].phase == Phase::Rejected,
    )
    .await?;
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_restores_intent_and_its_own_write_is_not_drift() -> anyhow::Result<()> {
    // With a dampening: the event is opened by the dampening timer, not by a notification.
    let live =
        start_lab_with(|c| c.policy.rules.dampening = PolicyDuration::from_millis(300)).await?;
    // Counted before the change: auto may remediate before this test looks again.
    let before = sets(&live, "leaf5");
    set(&live, "leaf5", MTU1, Value::Uint(1500)).await?;
    let done = wait_event(
        &live,
        "leaf5",
        "the event Remediated",
        Duration::from_secs(3),
        |e| e.len() == 1 && e[0].phase == Phase::Remediated,
    )
    .await?;
    assert!(is_9214(leaf(&live, "leaf5", MTU1)));
    assert_eq!(
        sets(&live, "leaf5"),
        before + 2,
        "the change, and one remediation"
    );
    let decision = done[0].decision.as_ref().expect("decision");
    assert_eq!(
        (decision.action, decision.by.as_str()),
        (DecisionAction::Auto, "policy/leaves-auto")
    );
    tokio::time::sleep(QUIET).await;
    let state = live.port.snapshot();
    assert_eq!(
        events(&state, "leaf5").len(),
        1,
        "no event from its own Set"
    );
    assert_eq!(state.reports[&key("leaf5")].sync, SyncState::InSync);
    assert_eq!(
        sets(&live, "leaf5"),
        before + 2,
        "and no second remediation"
    );
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flap_guard_stops_fighting_and_resumes_when_cleared() -> anyhow::Result<()> {
    let live = lab().await?;
    // Someone keeps putting MTU 1500 back: the lab policy's guard is 3 times in 10 minutes.
    for round in 1..=3 {
        set(&live, "leaf6", MTU1, Value::Uint(1500)).await?;
        wait_event(
            &live,
            "leaf6",
            "remediated again",
            Duration::from_secs(3),
            |e| e.len() == round && e[round - 1].phase == Phase::Remediated,
        )
        .await?;
    }
    let state = live
        .port
        .wait_for("leaf6 contested", Duration::from_secs(2), |s| {
            !s.reports[&key("leaf6")].contested.is_empty()
        })
        .await?;
    assert_eq!(state.reports[&key("leaf6")].contested, [MTU1]);

    // The fourth time it is left alone, and the event says why.
    set(&live, "leaf6", MTU1, Value::Uint(1500)).await?;
    let before = sets(&live, "leaf6");
    let waiting = wait_event(
        &live,
        "leaf6",
        "a Pending, Contested event",
        Duration::from_secs(2),
        |e| {
            e.len() == 4
                && e[3].phase == Phase::Pending
                && e[3].reason.as_deref() == Some("Contested")
        },
    )
    .await?;
    assert!(
        waiting[3]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains(MTU1),
        "{:?}",
        waiting[3].message
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(sets(&live, "leaf6"), before, "no Set while contested");

    // A person clears the guard: the waiting event is remediated.
    live.control.clear_contested("leaf6").await?;
    wait_event(
        &live,
        "leaf6",
        "remediated after the clear",
        Duration::from_secs(3),
        |e| e[3].phase == Phase::Remediated,
    )
    .await?;
    assert!(is_9214(leaf(&live, "leaf6", MTU1)));
    assert!(
        live.port.snapshot().reports[&key("leaf6")]
            .contested
            .is_empty()
    );
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_trigger_remediates_once_even_in_alert_mode() -> anyhow::Result<()> {
    let live = lab().await?;
    set(&live, "spine2", MTU1, Value::Uint(1500)).await?;
    wait_event(
        &live,
        "spine2",
        "an Alerted event",
        Duration::from_secs(2),
        |e| e.len() == 1 && e[0].phase == Phase::Alerted,
    )
    .await?;
    live.control.remediate("spine2").await?;
    let done = wait_event(&live, "spine2", "Remediated", Duration::from_secs(3), |e| {
        e[0].phase == Phase::Remediated
    })
    .await?;
    assert_eq!(
        done[0].decision.as_ref().map(|d| d.action),
        Some(DecisionAction::Manual)
    );
    assert!(is_9214(leaf(&live, "spine2", MTU1)));
    // Once: the next drift is only reported.
    set(&live, "spine2", MTU1, Value::Uint(1500)).await?;
    let before = sets(&live, "spine2");
    wait_event(
        &live,
        "spine2",
        "a second Alerted event",
        Duration::from_secs(2),
        |e| e.len() == 2 && e[1].phase == Phase::Alerted,
    )
    .await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(sets(&live, "spine2"), before);
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_set_is_retried_with_backoff_and_recorded() -> anyhow::Result<()> {
    // Approve mode, so the fault is armed between the change and the remediation.
    let live = start_lab_with(|c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.rules.mode = fabric_drift::policy::Mode::Approve;
        c.policy.rules.remediation.retry.backoff = PolicyDuration::from_millis(200);
    })
    .await?;
    set(&live, "leaf7", MTU1, Value::Uint(1500)).await?;
    let name = nth_event(&live, "leaf7", 1).await?;
    live.sim
        .device("leaf7")
        .expect("leaf7")
        .fail_next_sets(1, None);
    live.control.decide(&name, true).await?;
    let done = wait_event(
        &live,
        "leaf7",
        "Remediated on the second attempt",
        Duration::from_secs(4),
        |e| e.len() == 1 && e[0].phase == Phase::Remediated,
    )
    .await?;
    let outcome = done[0].outcome.as_ref().expect("outcome");
    assert_eq!(outcome.attempts, 2, "{outcome:?}");
    assert!(is_9214(leaf(&live, "leaf7", MTU1)));
    assert_eq!(
        live.control
            .engine
            .stats()
            .remediation_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    live.stop().await;

    // Every attempt refused: Failed, with the device's error, and not retried forever.
    let live = start_lab_with(|c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.rules.mode = fabric_drift::policy::Mode::Approve;
        c.policy.rules.remediation.retry.backoff = PolicyDuration::from_millis(100);
        c.policy.rules.remediation.retry.attempts = 2;
    })
    .await?;
    set(&live, "leaf8", MTU1, Value::Uint(1500)).await?;
    let name = nth_event(&live, "leaf8", 1).await?;
    live.sim
        .device("leaf8")
        .expect("leaf8")
        .fail_next_sets(10, None);
    live.control.decide(&name, true).await?;
    let failed = wait_event(&live, "leaf8", "Failed", Duration::from_secs(4), |e| {
        e.len() == 1 && e[0].phase == Phase::Failed
    })
    .await?;
    let outcome = failed[0].outcome.as_ref().expect("outcome");
    assert_eq!(outcome.attempts, 2);
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("refused the Set"),
        "{outcome:?}"
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        events(&live.port.snapshot(), "leaf8").len(),
        1,
        "the same drift is not retried as a new event"
    );
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_its_maintenance_window_auto_waits() -> anyhow::Result<()> {
    let live = start_lab_with(|c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        // One minute a year, on January 1st at 00:00 UTC.
        c.policy.rules.remediation.maintenance_windows =
            vec![fabric_drift::policy::MaintenanceWindow {
                schedule: "0 0 1 1 *".into(),
                duration: PolicyDuration::from_secs(60),
                time_zone: None,
            }];
    })
    .await?;
    set(&live, "leaf5", MTU1, Value::Uint(1500)).await?;
    let before = sets(&live, "leaf5");
    let waiting = wait_event(
        &live,
        "leaf5",
        "Pending OutsideWindow",
        Duration::from_secs(2),
        |e| e.len() == 1 && e[0].reason.as_deref() == Some("OutsideWindow"),
    )
    .await?;
    assert_eq!(waiting[0].phase, Phase::Pending);
    assert!(
        waiting[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("the next opens at"),
        "{:?}",
        waiting[0].message
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(sets(&live, "leaf5"), before);
    live.stop().await;
    Ok(())
}

type Received = Arc<Mutex<Vec<serde_json::Value>>>;
type Receiver = (Received, Arc<std::sync::atomic::AtomicU32>);

/// A webhook receiver that answers 500 to its first request and 200 afterwards.
async fn flaky_receiver() -> anyhow::Result<(String, Received)> {
    use axum::{Json, extract::State, http::StatusCode, routing::post};
    let received: Received = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let app =
        axum::Router::new()
            .route(
                "/hook",
                post(
                    |State((received, calls)): State<Receiver>,
                     Json(body): Json<serde_json::Value>| async move {
                        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                            return StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        received.lock().unwrap().push(body);
                        StatusCode::OK
                    },
                ),
            )
            .with_state((received.clone(), calls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, received))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_announce_each_transition_and_retry_after_a_500() -> anyhow::Result<()> {
    let (url, received) = flaky_receiver().await?;
    let live = start_lab_with(move |c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.webhooks = vec![WebhookTarget {
            name: "audit".into(),
            url: url.clone(),
            format: fabric_drift::policy::WebhookFormat::Json,
        }];
    })
    .await?;
    set(&live, "leaf4", MTU1, Value::Uint(1500)).await?;
    let name = nth_event(&live, "leaf4", 1).await?;
    live.control.decide(&name, true).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let kinds = loop {
        let kinds: Vec<String> = received
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b["device"]["name"] == "leaf4")
            .map(|b| b["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        if kinds.len() >= 3 || tokio::time::Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(sorted, ["approved", "detected", "remediated"], "{kinds:?}");
    let bodies = received.lock().unwrap().clone();
    let detected = bodies
        .iter()
        .find(|b| b["kind"] == "detected")
        .expect("detected");
    assert_eq!(detected["drift"][0]["path"], MTU1);
    assert_eq!(detected["drift"][0]["expected"], 9214);
    assert_eq!(detected["drift"][0]["actual"], 1500);
    let stats = live.control.engine.stats();
    assert_eq!(
        stats
            .webhook_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the 500"
    );
    assert_eq!(
        stats
            .webhooks_dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "retried, not lost"
    );
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_waiting_for_the_rate_limit_survives_a_restart() -> anyhow::Result<()> {
    let edit = |c: &mut fabric_engine::DeviceConfig| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.rules.remediation.max_per_hour = Some(1);
    };
    let live = start_lab_with(edit).await?;
    // The hour's one remediation.
    set(&live, "leaf1", MTU1, Value::Uint(1500)).await?;
    let first = nth_event(&live, "leaf1", 1).await?;
    live.control.decide(&first, true).await?;
    wait_event(&live, "leaf1", "Remediated", Duration::from_secs(3), |e| {
        e[0].phase == Phase::Remediated
    })
    .await?;
    // The second approval has to wait for the rate limit; the decision is recorded.
    set(&live, "leaf1", MTU1, Value::Uint(1500)).await?;
    let second = nth_event(&live, "leaf1", 2).await?;
    live.control.decide(&second, true).await?;
    let waiting = wait_event(&live, "leaf1", "RateLimited", Duration::from_secs(2), |e| {
        e[1].reason.as_deref() == Some("RateLimited")
    })
    .await?;
    assert_eq!(waiting[1].phase, Phase::Approved);
    assert_eq!(
        waiting[1].decision.as_ref().map(|d| d.action),
        Some(DecisionAction::Approve)
    );

    // An operator restart: a new engine over the same recorded events carries the approval out
    // (its rate-limit history started afresh with the process).
    let engine = restart_engine(&live, edit).await?;
    let done = wait_event(
        &live,
        "leaf1",
        "the approved event Remediated",
        Duration::from_secs(5),
        |e| e.len() == 2 && e[1].phase == Phase::Remediated,
    )
    .await?;
    assert_eq!(
        done[1].decision.as_ref().map(|d| d.by.as_str()),
        Some("lab-user"),
        "the person's decision, not a new one"
    );
    assert!(is_9214(leaf(&live, "leaf1", MTU1)));
    engine.shutdown().await;
    live.sim.shutdown().await;
    Ok(())
}

fn is_1500(v: Option<Value>) -> bool {
    v.is_some_and(|v| v.semantic_eq(&Value::Uint(1500)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_never_sends_drift_that_appeared_after_the_decision() -> anyhow::Result<()> {
    let live = start_lab_with(|c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.rules.mode = Mode::Approve;
        c.policy.rules.remediation.retry.backoff = PolicyDuration::from_secs(1);
    })
    .await?;
    set(&live, "leaf7", MTU1, Value::Uint(1500)).await?;
    let name = nth_event(&live, "leaf7", 1).await?;
    live.sim
        .device("leaf7")
        .expect("leaf7")
        .fail_next_sets(1, None);
    live.control.decide(&name, true).await?;
    wait_event(
        &live,
        "leaf7",
        "the first attempt refused",
        Duration::from_secs(2),
        |e| e[0].reason.as_deref() == Some("Retrying"),
    )
    .await?;
    // Someone changes another leaf while the retry waits: the approval was not for it.
    set(&live, "leaf7", MTU2, Value::Uint(1500)).await?;
    let before = sets(&live, "leaf7");
    let all = wait_event(
        &live,
        "leaf7",
        "the approved event superseded at its retry",
        Duration::from_secs(4),
        |e| e.len() == 2 && e[0].phase == Phase::Superseded && e[1].phase == Phase::Pending,
    )
    .await?;
    assert_eq!(all[0].superseded_by.as_deref(), Some(all[1].name.as_str()));
    assert_eq!(all[1].record.drift.len(), 2, "the new event carries both");
    tokio::time::sleep(QUIET).await;
    assert_eq!(sets(&live, "leaf7"), before, "no retry was sent");
    assert!(
        is_1500(leaf(&live, "leaf7", MTU2)),
        "the other leaf was not reverted"
    );
    assert!(is_1500(leaf(&live, "leaf7", MTU1)));
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_path_is_confirmed_by_a_get_before_the_timeout() -> anyhow::Result<()> {
    // The next SAMPLE comes long after the confirmation timeout: only a Get can confirm in time.
    let options = EngineOptions {
        sample_interval: Duration::from_secs(3),
        confirm_timeout: Duration::from_millis(800),
        ..fast_options()
    };
    let live = start_lab_with_options(options, |c| c.policy.rules.dampening = PolicyDuration::ZERO)
        .await?;
    let path = format!("{BGP}/neighbors/neighbor[neighbor-address=10.0.1.8]/config/description");
    let before = sets(&live, "leaf5");
    set(&live, "leaf5", &path, "changed by hand").await?;
    let done = wait_event(&live, "leaf5", "Remediated", Duration::from_secs(8), |e| {
        e.len() == 1 && e[0].phase.is_final()
    })
    .await?;
    assert_eq!(done[0].phase, Phase::Remediated, "{:?}", done[0]);
    let outcome = done[0].outcome.as_ref().expect("outcome");
    assert_eq!(outcome.attempts, 1, "{outcome:?}");
    assert_eq!(
        live.control
            .engine
            .stats()
            .remediation_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "confirmed before the timeout, not after it"
    );
    assert_eq!(
        sets(&live, "leaf5"),
        before + 2,
        "the change and one remediation"
    );
    // The sample that follows shows it too: no new event, back in sync.
    live.port
        .wait_for("leaf5 in sync", Duration::from_secs(5), |s| {
            s.reports[&key("leaf5")].sync == SyncState::InSync
        })
        .await?;
    assert_eq!(events(&live.port.snapshot(), "leaf5").len(), 1);
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_wide_limit_holds_and_frees_even_through_retries() -> anyhow::Result<()> {
    let options = EngineOptions {
        max_concurrent_remediations: 1,
        ..fast_options()
    };
    let live = start_lab_with_options(options, |c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.rules.mode = Mode::Approve;
        c.policy.rules.remediation.retry.backoff = PolicyDuration::from_secs(5);
    })
    .await?;
    let mut names = Vec::new();
    for device in ["leaf1", "leaf2", "leaf3", "leaf4"] {
        set(&live, device, MTU1, Value::Uint(1500)).await?;
        names.push(nth_event(&live, device, 1).await?);
    }
    // leaf1 answers slowly: its remediation holds the only slot for a while.
    live.sim
        .device("leaf1")
        .expect("leaf1")
        .set_latency(Duration::from_millis(1500));
    let leaf2_before = sets(&live, "leaf2");
    live.control.decide(&names[0], true).await?;
    wait_event(&live, "leaf1", "Remediating", Duration::from_secs(2), |e| {
        e[0].phase == Phase::Remediating
    })
    .await?;
    live.control.decide(&names[1], true).await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        sets(&live, "leaf2"),
        leaf2_before,
        "leaf2 waits for the slot"
    );
    assert_eq!(
        events(&live.port.snapshot(), "leaf2")[0].phase,
        Phase::Pending
    );
    // ...and takes it once leaf1 is done.
    wait_event(&live, "leaf2", "Remediated", Duration::from_secs(5), |e| {
        e[0].phase == Phase::Remediated
    })
    .await?;
    live.sim
        .device("leaf1")
        .expect("leaf1")
        .set_latency(Duration::ZERO);

    // A refused attempt waiting 5 s for its retry does not keep the slot.
    live.sim
        .device("leaf3")
        .expect("leaf3")
        .fail_next_sets(1, None);
    live.control.decide(&names[2], true).await?;
    wait_event(&live, "leaf3", "Retrying", Duration::from_secs(2), |e| {
        e[0].reason.as_deref() == Some("Retrying")
    })
    .await?;
    live.control.decide(&names[3], true).await?;
    wait_event(
        &live,
        "leaf4",
        "Remediated during leaf3's backoff",
        Duration::from_secs(3),
        |e| e[0].phase == Phase::Remediated,
    )
    .await?;
    assert_eq!(
        events(&live.port.snapshot(), "leaf3")[0].phase,
        Phase::Remediating,
        "leaf3 still waits for its retry"
    );
    let done = wait_event(&live, "leaf3", "Remediated", Duration::from_secs(8), |e| {
        e[0].phase == Phase::Remediated
    })
    .await?;
    assert_eq!(done[0].outcome.as_ref().map(|o| o.attempts), Some(2));
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_request_made_while_unreachable_is_carried_out_once_it_is_back()
-> anyhow::Result<()> {
    let live = lab().await?;
    set(&live, "spine2", MTU1, Value::Uint(1500)).await?;
    wait_event(&live, "spine2", "Alerted", Duration::from_secs(2), |e| {
        e.len() == 1 && e[0].phase == Phase::Alerted
    })
    .await?;
    make_unreachable(&live, "spine2", Duration::from_secs(5)).await?;
    live.control.remediate("spine2").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Not reported handled yet: an operator restarting now would still see the request.
    assert_eq!(
        live.port.snapshot().reports[&key("spine2")].remediate_handled,
        None
    );
    let done = wait_event(
        &live,
        "spine2",
        "Remediated",
        Duration::from_secs(15),
        |e| e.len() == 1 && e[0].phase == Phase::Remediated,
    )
    .await?;
    assert_eq!(
        done[0].decision.as_ref().map(|d| d.action),
        Some(DecisionAction::Manual)
    );
    assert!(is_9214(leaf(&live, "spine2", MTU1)));
    let state = live
        .port
        .wait_for(
            "the request reported handled",
            Duration::from_secs(2),
            |s| s.reports[&key("spine2")].remediate_handled.is_some(),
        )
        .await?;
    assert!(state.reports[&key("spine2")].remediate_handled.is_some());
    live.stop().await;
    Ok(())
}

/// Someone puts MTU 1500 back on `device` three times; each is remediated; the lab policy's
/// guard (3 times in 10 minutes) then contests the path.
async fn contest(live: &LiveLab, device: &str) -> anyhow::Result<()> {
    for round in 1..=3 {
        set(live, device, MTU1, Value::Uint(1500)).await?;
        wait_event(
            live,
            device,
            "remediated again",
            Duration::from_secs(3),
            |e| e.len() == round && e[round - 1].phase == Phase::Remediated,
        )
        .await?;
    }
    live.port
        .wait_for(
            &format!("{device} contested"),
            Duration::from_secs(2),
            |s| s.reports[&key(device)].contested == [MTU1],
        )
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flap_guard_stays_up_across_a_restart() -> anyhow::Result<()> {
    let edit =
        |c: &mut fabric_engine::DeviceConfig| c.policy.rules.dampening = PolicyDuration::ZERO;
    let live = start_lab_with(edit).await?;
    contest(&live, "leaf6").await?;
    // The restarted operator reads the contested paths from the status.
    let contested = live.port.snapshot().reports[&key("leaf6")]
        .contested
        .clone();
    let writes = live.port.snapshot().report_writes[&key("leaf6")];
    let engine = restart_engine(&live, |c| {
        edit(c);
        if c.key == key("leaf6") {
            c.contested = contested.clone();
        }
    })
    .await?;
    live.port
        .wait_for("leaf6 resynced", Duration::from_secs(5), |s| {
            s.report_writes[&key("leaf6")] > writes
                && s.reports[&key("leaf6")].reachability == Reachability::Reachable
        })
        .await?;
    set(&live, "leaf6", MTU1, Value::Uint(1500)).await?;
    let before = sets(&live, "leaf6");
    wait_event(
        &live,
        "leaf6",
        "a Pending, Contested event",
        Duration::from_secs(2),
        |e| {
            e.len() == 4
                && e[3].phase == Phase::Pending
                && e[3].reason.as_deref() == Some("Contested")
        },
    )
    .await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        sets(&live, "leaf6"),
        before,
        "no Set after the restart either"
    );
    assert_eq!(
        live.port.snapshot().reports[&key("leaf6")].contested,
        [MTU1]
    );
    engine.shutdown().await;
    live.sim.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flap_guard_resumes_when_the_intent_changes_and_says_so_by_webhook()
-> anyhow::Result<()> {
    let (url, received) = flaky_receiver().await?;
    let edit = move |c: &mut fabric_engine::DeviceConfig| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        c.policy.webhooks = vec![WebhookTarget {
            name: "audit".into(),
            url: url.clone(),
            format: fabric_drift::policy::WebhookFormat::Json,
        }];
    };
    let live = start_lab_with(&edit).await?;
    contest(&live, "leaf8").await?;

    // The contested notification names the path, with the drift.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let contested = loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find(|b| b["device"]["name"] == "leaf8" && b["kind"] == "contested")
            .cloned();
        match found {
            Some(body) => break body,
            None if tokio::time::Instant::now() > deadline => {
                anyhow::bail!("no contested notification")
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert!(
        contested["message"]
            .as_str()
            .unwrap_or_default()
            .contains(MTU1),
        "{contested}"
    );
    assert_eq!(contested["drift"][0]["path"], MTU1, "{contested}");
    let remediated = received
        .lock()
        .unwrap()
        .iter()
        .find(|b| b["device"]["name"] == "leaf8" && b["kind"] == "remediated")
        .cloned()
        .expect("remediated notifications");
    assert_eq!(remediated["drift"][0]["path"], MTU1, "{remediated}");

    // The team takes the person's value into the intent: the guard lifts...
    let mut config = lab_config(&live, "leaf8", &edit)?;
    config
        .intent
        .interfaces
        .iter_mut()
        .find(|i| i.name == "Ethernet1")
        .expect("Ethernet1 in leaf8's intent")
        .mtu = Some(1500);
    set(&live, "leaf8", MTU1, Value::Uint(1500)).await?;
    live.control.engine.apply(config).await;
    live.port
        .wait_for("the guard lifted", Duration::from_secs(3), |s| {
            s.reports[&key("leaf8")].contested.is_empty()
        })
        .await?;
    // ...and auto-remediation resumes for the next drift.
    let count = events(&live.port.snapshot(), "leaf8").len();
    set(&live, "leaf8", MTU2, Value::Uint(1500)).await?;
    wait_event(
        &live,
        "leaf8",
        "the next drift remediated",
        Duration::from_secs(3),
        |e| e.last().is_some_and(|l| l.phase == Phase::Remediated) && e.len() > count,
    )
    .await?;
    assert!(is_9214(leaf(&live, "leaf8", MTU2)));
    assert!(is_1500(leaf(&live, "leaf8", MTU1)), "the new intent holds");
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_runs_when_its_window_opens_on_an_injected_clock() -> anyhow::Result<()> {
    let t0: jiff::Timestamp = "2030-01-01T00:59:00Z".parse()?;
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let clock = {
        let offset = offset.clone();
        Clock::from_fn(move || {
            t0.checked_add(jiff::SignedDuration::from_secs(
                offset.load(std::sync::atomic::Ordering::SeqCst),
            ))
            .expect("in range")
        })
    };
    let options = EngineOptions {
        clock,
        ..fast_options()
    };
    let live = start_lab_with_options(options, |c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        // Ten minutes a day from 01:00 UTC.
        c.policy.rules.remediation.maintenance_windows =
            vec![fabric_drift::policy::MaintenanceWindow {
                schedule: "0 1 * * *".into(),
                duration: PolicyDuration::from_secs(600),
                time_zone: None,
            }];
    })
    .await?;
    let before = sets(&live, "leaf5");
    set(&live, "leaf5", MTU1, Value::Uint(1500)).await?;
    wait_event(
        &live,
        "leaf5",
        "OutsideWindow",
        Duration::from_secs(2),
        |e| e.len() == 1 && e[0].reason.as_deref() == Some("OutsideWindow"),
    )
    .await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        sets(&live, "leaf5"),
        before + 1,
        "only the change: the window is closed"
    );

    // 01:01: the window is open.
    offset.store(120, std::sync::atomic::Ordering::SeqCst);
    wait_event(
        &live,
        "leaf5",
        "Remediated in the window",
        Duration::from_secs(3),
        |e| e[0].phase == Phase::Remediated,
    )
    .await?;
    assert_eq!(sets(&live, "leaf5"), before + 2, "one remediation");
    assert!(is_9214(leaf(&live, "leaf5", MTU1)));
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unexpected_vlan_is_deleted_and_confirmed_by_reading_it_back() -> anyhow::Result<()> {
    // strict ownership: a VLAN the intent does not name is drift, and its repair a delete.
    let live = start_lab_with(|c| {
        c.policy.rules.dampening = PolicyDuration::ZERO;
        if c.key == key("leaf5") {
            c.ownership = fabric_drift::intent::Ownership::Strict;
        }
    })
    .await?;
    assert!(
        events(&live.port.snapshot(), "leaf5").is_empty(),
        "the lab is in sync under strict ownership"
    );
    let vlan = "/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=99]";
    set(
        &live,
        "leaf5",
        &format!("{vlan}/config/vlan-id"),
        Value::Uint(99),
    )
    .await?;
    let done = wait_event(&live, "leaf5", "Remediated", Duration::from_secs(3), |e| {
        e.len() == 1 && e[0].phase.is_final()
    })
    .await?;
    assert_eq!(done[0].phase, Phase::Remediated, "{:?}", done[0]);
    assert_eq!(done[0].outcome.as_ref().map(|o| o.attempts), Some(1));
    assert_eq!(
        leaf(&live, "leaf5", &format!("{vlan}/config/vlan-id")),
        None,
        "the VLAN is gone"
    );
    tokio::time::sleep(QUIET).await;
    let state = live.port.snapshot();
    assert_eq!(events(&state, "leaf5").len(), 1);
    assert_eq!(state.reports[&key("leaf5")].sync, SyncState::InSync);
    live.stop().await;
    Ok(())
}

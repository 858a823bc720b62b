//! The engine end to end: the lab fabric on fabric-sim over real gRPC, watched through the
//! in-memory port (the lab adapter). Each test asserts what a user of the lab would see.

use std::time::{Duration, Instant};

use fabric_e2e::{BGP, fast_options, key, set, start_lab};
use fabric_engine::{Engine, Phase, Reachability, SyncState, model::UnreachableReason};
use fabric_gnmi::{Path, Value, rpc::SetRequest};

const SPINE_MTU: &str = "/interfaces/interface[name=Ethernet1]/config/mtu";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_starts_in_sync_with_no_events() -> anyhow::Result<()> {
    let live = start_lab().await?;
    let state = live.port.snapshot();
    assert_eq!(state.reports.len(), 10);
    for (device, report) in &state.reports {
        assert_eq!(report.reachability, Reachability::Reachable, "{device}");
        assert_eq!(
            report.sync,
            SyncState::InSync,
            "{device}: the simulator holds the intent"
        );
    }
    assert!(state.events.is_empty(), "{:?}", state.events);
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_change_is_an_event_within_a_second_and_resolves_when_undone()
-> anyhow::Result<()> {
    let live = start_lab().await?;
    set(&live, "spine1", SPINE_MTU, Value::Uint(1500)).await?;
    let changed = Instant::now();
    let state = live
        .port
        .wait_for(
            "spine1's drift event and status",
            Duration::from_secs(1),
            |s| {
                s.events_of(&key("spine1")).count() == 1
                    && matches!(s.reports[&key("spine1")].sync, SyncState::Drifted { .. })
            },
        )
        .await?;
    let detected = changed.elapsed();
    let event = state.events_of(&key("spine1")).next().expect("one event");
    assert_eq!(event.phase, Phase::Alerted, "spines are alert mode");
    assert_eq!(event.record.policy.as_deref(), Some("spines-alert"));
    assert_eq!(event.record.drift.len(), 1);
    let item = &event.record.drift[0];
    assert_eq!(item.path.to_string(), SPINE_MTU);
    assert!(
        item.expected
            .as_ref()
            .is_some_and(|v| v.semantic_eq(&Value::Uint(9214))),
        "{item:?}"
    );
    assert!(
        item.actual
            .as_ref()
            .is_some_and(|v| v.semantic_eq(&Value::Uint(1500))),
        "{item:?}"
    );
    let report = &state.reports[&key("spine1")];
    assert!(
        matches!(&report.sync, SyncState::Drifted { count: 1, .. }),
        "{:?}",
        report.sync
    );
    assert_eq!(report.active_event.as_deref(), Some(event.name.as_str()));
    println!("detected in {detected:?}");

    // Put it back by hand: the event is resolved and the device is in sync again.
    set(&live, "spine1", SPINE_MTU, Value::Uint(9214)).await?;
    let state = live
        .port
        .wait_for("spine1 back in sync", Duration::from_secs(2), |s| {
            s.reports[&key("spine1")].sync == SyncState::InSync
        })
        .await?;
    let event = state
        .events_of(&key("spine1"))
        .next()
        .expect("still recorded");
    assert_eq!(event.phase, Phase::Resolved);
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_unreachable_is_caught_after_the_reconnect() -> anyhow::Result<()> {
    let live = start_lab().await?;
    let spine2 = live.sim.device("spine2").expect("spine2");
    spine2.make_unreachable(Duration::from_secs(2));
    live.port
        .wait_for("spine2 unreachable", Duration::from_secs(3), |s| {
            matches!(
                s.reports[&key("spine2")].reachability,
                Reachability::Unreachable { .. }
            )
        })
        .await?;
    // Changed on the box while the operator cannot see it.
    let request = SetRequest {
        updates: vec![(SPINE_MTU.parse::<Path>()?, Value::Uint(1400))],
        ..SetRequest::default()
    };
    spine2
        .apply(&request)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let state = live
        .port
        .wait_for(
            "spine2 reachable again, with its drift",
            Duration::from_secs(10),
            |s| {
                s.events_of(&key("spine2")).count() == 1
                    && s.reports[&key("spine2")].reachability == Reachability::Reachable
            },
        )
        .await?;
    let event = state.events_of(&key("spine2")).next().expect("one event");
    assert_eq!(event.record.drift[0].path.to_string(), SPINE_MTU);
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_engine_does_not_duplicate_the_event() -> anyhow::Result<()> {
    let live = start_lab().await?;
    set(&live, "spine1", SPINE_MTU, Value::Uint(1500)).await?;
    live.port
        .wait_for("the first event", Duration::from_secs(2), |s| {
            s.events_of(&key("spine1")).count() == 1
        })
        .await?;
    live.control.engine.shutdown().await;

    // A new engine (an operator restart) over the same recorded state.
    let engine = Engine::new(live.port.clone(), fast_options());
    for (name, config) in live.lab.device_configs() {
        let mut config = config?;
        config.target.address = live.sim.addr(&name).expect("served").to_string();
        engine.apply(config).await;
    }
    let before = live.port.snapshot().report_writes[&key("spine1")];
    live.port
        .wait_for(
            "spine1 resynced by the new engine",
            Duration::from_secs(5),
            |s| {
                s.report_writes[&key("spine1")] > before
                    && matches!(s.reports[&key("spine1")].sync, SyncState::Drifted { .. })
            },
        )
        .await?;
    // Give a duplicate every chance to appear.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = live.port.snapshot();
    let events: Vec<_> = state.events_of(&key("spine1")).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].phase, Phase::Alerted, "still open");
    assert_eq!(
        state.reports[&key("spine1")].active_event.as_deref(),
        Some(events[0].name.as_str())
    );
    engine.shutdown().await;
    live.sim.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgp_is_sampled_where_on_change_is_refused_and_its_drift_is_still_caught()
-> anyhow::Result<()> {
    let live = start_lab().await?;
    let state = live.port.snapshot();
    let roots = &state.reports[&key("spine1")].roots;
    let bgp_roots: Vec<_> = roots.iter().filter(|r| r.root.contains("]/bgp/")).collect();
    assert!(!bgp_roots.is_empty(), "{roots:?}");
    assert!(
        bgp_roots.iter().all(|r| !r.on_change && r.reason.is_some()),
        "{bgp_roots:?}"
    );
    assert!(
        roots
            .iter()
            .any(|r| r.on_change && r.root.starts_with("/interfaces")),
        "{roots:?}"
    );

    let path = format!("{BGP}/neighbors/neighbor[neighbor-address=10.0.1.1]/config/description");
    set(&live, "spine1", &path, "changed by hand").await?;
    let state = live
        .port
        .wait_for("the sampled BGP drift", Duration::from_secs(3), |s| {
            s.events_of(&key("spine1")).count() == 1
        })
        .await?;
    let event = state.events_of(&key("spine1")).next().expect("one event");
    assert_eq!(event.record.drift[0].path.to_string(), path);
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dampening_ignores_a_short_blip_and_reports_lasting_drift() -> anyhow::Result<()> {
    // leaf5's policy (leaves-auto) has 2 s of dampening.
    let live = start_lab().await?;
    let path = "/interfaces/interface[name=Ethernet1]/config/mtu";
    set(&live, "leaf5", path, Value::Uint(1500)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    set(&live, "leaf5", path, Value::Uint(9214)).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let state = live.port.snapshot();
    assert_eq!(
        state.events_of(&key("leaf5")).count(),
        0,
        "a 300 ms blip is not reported"
    );
    assert_eq!(state.reports[&key("leaf5")].sync, SyncState::InSync);

    set(&live, "leaf5", path, Value::Uint(1500)).await?;
    let changed = Instant::now();
    live.port
        .wait_for("leaf5's lasting drift", Duration::from_secs(4), |s| {
            s.events_of(&key("leaf5")).count() == 1
        })
        .await?;
    let waited = changed.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "reported after {waited:?}, before the dampening"
    );
    live.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_reported_as_unauthenticated() -> anyhow::Result<()> {
    let live = start_lab().await?;
    let (_, config) = live
        .lab
        .device_configs()
        .into_iter()
        .find(|(n, _)| n == "leaf1")
        .expect("leaf1");
    let mut config = config?;
    config.target.address = live.sim.addr("leaf1").expect("served").to_string();
    if let Some(credentials) = &mut config.target.credentials {
        credentials.password = "wrong".into();
    }
    live.control.engine.apply(config).await;
    let state = live
        .port
        .wait_for("leaf1 unauthenticated", Duration::from_secs(3), |s| {
            matches!(
                &s.reports[&key("leaf1")].reachability,
                Reachability::Unreachable {
                    reason: UnreachableReason::Unauthenticated,
                    ..
                }
            )
        })
        .await?;
    assert!(state.events_of(&key("leaf1")).next().is_none());
    live.stop().await;
    Ok(())
}

//! The engine end to end: the lab fabric on fabric-sim over real gRPC, watched through the
//! in-memory port (the lab adapter). Each test asserts what a user of the lab would see.

use std::time::{Duration, Instant};

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use futures::StreamExt as _;

use fabric_e2e::{
    BGP, fast_options, key, lab_config, make_unreachable, restart_engine, set, start_lab,
};
use fabric_engine::{
    DeviceKey, DeviceReport, Engine, EngineOptions, EventRecord, EventUpdate, KnownEvent, Phase,
    Port, PortError, Reachability, SyncState,
    memory::{MemoryPort, MemoryState},
    model::UnreachableReason,
};
use fabric_gnmi::{
    Path, Value,
    rpc::SetRequest,
    server::{self as srv, GNmi, GNmiServer},
};

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
    let spine2 = make_unreachable(&live, "spine2", Duration::from_secs(2)).await?;
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
    let asked = |s: &MemoryState| {
        s.open_requests
            .iter()
            .filter(|(d, _)| d == &key("spine1"))
            .count()
    };
    let asked_before = asked(&live.port.snapshot());

    // A new engine (an operator restart) over the same recorded state.
    let before = live.port.snapshot().report_writes[&key("spine1")];
    let engine = restart_engine(&live, |_| {}).await?;
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
    // The port would have found the open event by its fingerprint anyway (as a lookup by the
    // fingerprint label does): the restart must not even ask, it adopts the event it reads.
    assert_eq!(
        asked(&state),
        asked_before,
        "the restarted engine asked to create an event"
    );
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

/// A port whose first `fail` reads of the open events fail (an API server hiccup), and which
/// remembers every reachability it was told.
struct FlakyPort {
    inner: MemoryPort,
    fail: AtomicU32,
    reachability: Mutex<Vec<Reachability>>,
}

impl Port for FlakyPort {
    async fn report(&self, device: &DeviceKey, report: &DeviceReport) {
        self.reachability
            .lock()
            .unwrap()
            .push(report.reachability.clone());
        self.inner.report(device, report).await
    }

    async fn known_events(&self, device: &DeviceKey) -> Result<Vec<KnownEvent>, PortError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PortError("the API server is not answering".into()));
        }
        self.inner.known_events(device).await
    }

    async fn open_event(&self, record: &EventRecord) -> Result<String, PortError> {
        self.inner.open_event(record).await
    }

    async fn update_event(
        &self,
        device: &DeviceKey,
        event: &str,
        mode: fabric_drift::policy::Mode,
        update: &EventUpdate,
    ) -> Result<(), PortError> {
        self.inner.update_event(device, event, mode, update).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_of_open_events_is_retried_without_calling_the_device_unreachable()
-> anyhow::Result<()> {
    let live = start_lab().await?;
    live.control.engine.shutdown().await;
    let port = Arc::new(FlakyPort {
        inner: MemoryPort::new(),
        fail: AtomicU32::new(3),
        reachability: Mutex::default(),
    });
    let engine = Engine::new(port.clone(), fast_options());
    engine.apply(lab_config(&live, "leaf1", |_| {})?).await;
    port.inner
        .wait_for("leaf1 synced", Duration::from_secs(10), |s| {
            s.reports.get(&key("leaf1")).is_some_and(|r| {
                r.reachability == Reachability::Reachable && r.sync == SyncState::InSync
            })
        })
        .await?;
    assert_eq!(
        port.fail.load(Ordering::SeqCst),
        0,
        "read again until it worked"
    );
    let seen = port.reachability.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|r| matches!(r, Reachability::Unknown | Reachability::Reachable)),
        "the port failing is not the device failing: {seen:?}"
    );
    assert_eq!(
        live.control
            .engine
            .stats()
            .reconnects
            .load(Ordering::Relaxed),
        0
    );
    assert_eq!(engine.stats().reconnects.load(Ordering::Relaxed), 0);
    engine.shutdown().await;
    live.sim.shutdown().await;
    Ok(())
}

/// A gNMI target that accepts every Subscribe and then goes quiet: after one notification when
/// `first` is set (so the stream opens, and the initial sync never ends), otherwise at once.
#[derive(Clone)]
struct QuietTarget {
    first: bool,
}

type Responses =
    Pin<Box<dyn futures::Stream<Item = Result<srv::SubscribeResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl GNmi for QuietTarget {
    async fn capabilities(
        &self,
        _: tonic::Request<srv::CapabilityRequest>,
    ) -> Result<tonic::Response<srv::CapabilityResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("quiet"))
    }

    async fn get(
        &self,
        _: tonic::Request<srv::GetRequest>,
    ) -> Result<tonic::Response<srv::GetResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("quiet"))
    }

    async fn set(
        &self,
        _: tonic::Request<srv::SetRequest>,
    ) -> Result<tonic::Response<srv::SetResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("quiet"))
    }

    type SubscribeStream = Responses;

    async fn subscribe(
        &self,
        _: tonic::Request<tonic::Streaming<srv::SubscribeRequest>>,
    ) -> Result<tonic::Response<Responses>, tonic::Status> {
        let first = self.first.then(|| {
            Ok(srv::SubscribeResponse {
                response: Some(srv::subscribe_response::Response::Update(
                    srv::Notification {
                        timestamp: 1,
                        ..Default::default()
                    },
                )),
                ..Default::default()
            })
        });
        let stream = futures::stream::iter(first).chain(futures::stream::pending());
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}

/// Serves a [`QuietTarget`] on an ephemeral port; its address.
async fn quiet_target(first: bool) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GNmiServer::new(QuietTarget { first }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Ok(addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_goes_quiet_is_a_timeout_and_stalls_no_other_device() -> anyhow::Result<()> {
    let live = start_lab().await?;
    live.control.engine.shutdown().await;
    let silent = quiet_target(false).await?;
    let no_sync = quiet_target(true).await?;

    // Quiet before the first answer, and quiet before the sync ends: both time out, both are
    // tried again.
    let port = Arc::new(MemoryPort::new());
    let engine = Engine::new(
        port.clone(),
        EngineOptions {
            sync_timeout: Duration::from_millis(500),
            ..fast_options()
        },
    );
    for (device, address) in [("leaf1", &silent), ("leaf2", &no_sync)] {
        let mut config = lab_config(&live, device, |_| {})?;
        config.target.address = address.clone();
        engine.apply(config).await;
    }
    port.wait_for(
        "both quiet targets timed out",
        Duration::from_secs(5),
        |s| {
            ["leaf1", "leaf2"].iter().all(|d| {
                s.reports.get(&key(d)).is_some_and(|r| {
                    matches!(
                        r.reachability,
                        Reachability::Unreachable {
                            reason: UnreachableReason::Timeout,
                            ..
                        }
                    )
                })
            })
        },
    )
    .await?;
    // And tried again with backoff (each try ends in a timeout and a reconnect).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reconnects = engine.stats().reconnects.load(Ordering::Relaxed);
    assert!(reconnects >= 3, "{reconnects} reconnects");
    drop(engine);

    // A session stuck on its device for long (a long sync timeout) while its spec keeps
    // changing: its queue fills and the caller handing it specs waits, but no other device does.
    let port = Arc::new(MemoryPort::new());
    let engine = Arc::new(Engine::new(
        port.clone(),
        EngineOptions {
            sync_timeout: Duration::from_secs(60),
            ..fast_options()
        },
    ));
    let mut stuck = lab_config(&live, "leaf1", |_| {})?;
    stuck.target.address = silent.clone();
    engine.apply(stuck.clone()).await;
    let feeder = {
        let engine = engine.clone();
        tokio::spawn(async move {
            for generation in 0..64 {
                stuck.generation = Some(generation);
                engine.apply(stuck.clone()).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!feeder.is_finished(), "the stuck session's queue is full");
    tokio::time::timeout(
        Duration::from_secs(2),
        engine.apply(lab_config(&live, "leaf3", |_| {})?),
    )
    .await
    .map_err(|_| anyhow::anyhow!("applying another device waited on the stuck one"))?;
    port.wait_for("leaf3 synced", Duration::from_secs(10), |s| {
        s.reports
            .get(&key("leaf3"))
            .is_some_and(|r| r.sync == SyncState::InSync)
    })
    .await?;
    feeder.abort();
    live.sim.shutdown().await;
    Ok(())
}

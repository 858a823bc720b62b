//! fabric-sim over real gRPC on 127.0.0.1, through fabric-gnmi's client:
//! every RPC, auth, TLS, ON_CHANGE refusal, faults, the control endpoint
//! and the binary.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path as FsPath;
use std::time::{Duration, Instant};

use fabric_gnmi::client::{
    Client, ClientConfig, ClientError, SubscribeEvent, Subscription, TlsMode,
};
use fabric_gnmi::rpc::{DataType, GetRequest, SetRequest, SubscribeRequest, Subscription as Sub};
use fabric_gnmi::{Encoding, KeyTable, Notification, Path, Value, flatten_json_ietf};
use fabric_sim::{Sim, SimHandle, Topology};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(10);

const TOPOLOGY: &str = r#"
defaults:
  username: admin
  password: admin
  onChangeRefused:
    - /network-instances/network-instance[name=*]/protocols/protocol[identifier=BGP][name=*]/bgp/...
devices:
  - name: leaf1
    port: 0
    config:
      openconfig-system:system: {config: {hostname: leaf1}}
      openconfig-interfaces:interfaces:
        interface:
          - name: Ethernet1
            config: {name: Ethernet1, description: to spine1, mtu: 9214, enabled: true}
            state: {oper-status: UP}
          - name: Ethernet2
            config: {name: Ethernet2, description: to spine2, mtu: 9214, enabled: true}
            state: {oper-status: DOWN}
      openconfig-network-instance:network-instances:
        network-instance:
          - name: default
            config: {name: default}
            protocols:
              protocol:
                - identifier: BGP
                  name: BGP
                  config: {identifier: BGP, name: BGP}
                  bgp:
                    global: {config: {as: 65001, router-id: 10.0.250.11}}
  - name: leaf2
    port: 0
    password: other
    tls: {generate: true}
"#;

fn p(s: &str) -> Path {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

async fn start() -> SimHandle {
    let topo = Topology::from_yaml(TOPOLOGY, FsPath::new(".")).expect("topology");
    Sim::start(topo, LOCAL).await.expect("sim starts")
}

async fn client(sim: &SimHandle, name: &str) -> Client {
    let addr = sim.addr(name).expect("device");
    Client::connect(ClientConfig::new(addr.to_string()).credentials("admin", "admin"))
        .await
        .expect("connect")
}

async fn next(sub: &mut Subscription) -> SubscribeEvent {
    match tokio::time::timeout(WAIT, sub.next_event()).await {
        Ok(Some(Ok(ev))) => ev,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Events up to and including the next sync response.
async fn until_sync(sub: &mut Subscription) -> Vec<Notification> {
    let mut out = Vec::new();
    loop {
        match next(sub).await {
            SubscribeEvent::SyncResponse => return out,
            SubscribeEvent::Notification(n) => out.push(n),
            other => panic!("before sync: {other:?}"),
        }
    }
}

async fn next_notification(sub: &mut Subscription) -> Notification {
    match next(sub).await {
        SubscribeEvent::Notification(n) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

/// Nothing arrives within `d`.
async fn quiet(sub: &mut Subscription, d: Duration) {
    if let Ok(ev) = tokio::time::timeout(d, sub.next_event()).await {
        panic!("expected silence, got {ev:?}");
    }
}

fn update(path: &str, v: impl Into<Value>) -> SetRequest {
    SetRequest {
        updates: vec![(p(path), v.into())],
        ..Default::default()
    }
}

fn code(e: &ClientError) -> Option<tonic::Code> {
    e.code()
}

const DESC: &str = "/interfaces/interface[name=Ethernet1]/config/description";

#[tokio::test]
async fn capabilities_announce_models_and_json_encodings() {
    let sim = start().await;
    let caps = client(&sim, "leaf1")
        .await
        .capabilities()
        .await
        .expect("caps");
    assert!(
        caps.models
            .iter()
            .any(|m| m.name == "openconfig-interfaces")
    );
    assert!(caps.encodings.contains(&Encoding::JsonIetf));
    assert!(caps.encodings.contains(&Encoding::Json));
    assert_eq!(caps.version, "0.10.0");
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_unauthenticated() {
    let sim = start().await;
    let addr = sim.addr("leaf1").expect("leaf1").to_string();
    let bad = Client::connect(ClientConfig::new(addr.clone()).credentials("admin", "nope"))
        .await
        .expect("connect");
    let e = bad.capabilities().await.expect_err("refused");
    assert_eq!(code(&e), Some(tonic::Code::Unauthenticated));
    let none = Client::connect(ClientConfig::new(addr))
        .await
        .expect("connect");
    let e = none
        .get(&GetRequest::paths([p("/system")]))
        .await
        .expect_err("refused");
    assert_eq!(code(&e), Some(tonic::Code::Unauthenticated));
    let e = none
        .subscribe(&SubscribeRequest::once([p("/system")]))
        .await
        .expect_err("refused");
    assert_eq!(code(&e), Some(tonic::Code::Unauthenticated));
    sim.shutdown().await;
}

#[tokio::test]
async fn get_config_state_prefix_several_paths_and_wildcards() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    let keys = KeyTable::default();
    let leaves = |ns: &[Notification]| {
        let mut out = Vec::new();
        for n in ns {
            for u in &n.updates {
                let Value::JsonIetf(s) = &u.value else {
                    panic!("not JSON_IETF: {:?}", u.value)
                };
                out.extend(flatten_json_ietf(&u.path, s.as_bytes(), &keys).expect("flatten"));
            }
        }
        out
    };
    // Two paths under a prefix: one notification each.
    let req = GetRequest {
        prefix: Some(p("/interfaces")),
        paths: vec![
            p("/interface[name=Ethernet1]/config/mtu"),
            p("/interface[name=Ethernet2]/config"),
        ],
        ..Default::default()
    };
    let ns = c.get(&req).await.expect("get");
    assert_eq!(ns.len(), 2);
    let got = leaves(&ns);
    assert!(got.iter().any(
        |l| l.path == p("/interfaces/interface[name=Ethernet1]/config/mtu")
            && l.value.semantic_eq(&Value::Uint(9214))
    ));
    assert!(
        got.iter()
            .any(|l| l.path == p("/interfaces/interface[name=Ethernet2]/config/description"))
    );
    // Wildcard: one update per interface.
    let ns = c
        .get(&GetRequest::paths([p(
            "/interfaces/interface[name=*]/config/description",
        )]))
        .await
        .expect("wildcard get");
    assert_eq!(ns[0].updates.len(), 2);
    // CONFIG leaves out state, STATE leaves out config.
    let cfg = GetRequest {
        data_type: DataType::Config,
        ..GetRequest::paths([p("/interfaces")])
    };
    let got = leaves(&c.get(&cfg).await.expect("config"));
    assert!(!got.is_empty() && got.iter().all(|l| !l.path.to_string().contains("/state/")));
    let st = GetRequest {
        data_type: DataType::State,
        ..GetRequest::paths([p("/interfaces")])
    };
    let got = leaves(&c.get(&st).await.expect("state"));
    // The JSON carries the list keys; apart from them, state leaves only.
    let state: Vec<_> = got
        .iter()
        .filter(|l| l.path.last().is_some_and(|e| e.name != "name"))
        .collect();
    assert_eq!(state.len(), 2, "{got:?}");
    assert!(state.iter().all(|l| l.path.to_string().contains("/state/")));
    // Module-prefixed request paths are the same nodes.
    let ns = c
        .get(&GetRequest::paths([p(
            "/openconfig-system:system/config/hostname",
        )]))
        .await
        .expect("prefixed");
    assert_eq!(
        leaves(&ns).first().map(|l| l.value.clone()),
        Some(Value::from("leaf1"))
    );
    // Unknown and absent paths.
    let e = c
        .get(&GetRequest::paths([p("/interfaces/interfaec")]))
        .await
        .expect_err("unknown");
    assert_eq!(code(&e), Some(tonic::Code::NotFound));
    assert!(e.to_string().contains("/interfaces/interfaec"), "{e}");
    let e = c
        .get(&GetRequest::paths([p(
            "/interfaces/interface[name=Ethernet9]",
        )]))
        .await
        .expect_err("absent");
    assert_eq!(code(&e), Some(tonic::Code::NotFound));
    sim.shutdown().await;
}

#[tokio::test]
async fn set_is_atomic_and_names_the_offending_path() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    let dev = sim.device("leaf1").expect("leaf1");
    let before = dev.leaves();
    // A valid update next to an unknown path: nothing applied.
    let req = SetRequest {
        deletes: vec![p("/interfaces/interface[name=Ethernet2]")],
        updates: vec![
            (p(DESC), Value::from("changed")),
            (
                p("/interfaces/interface[name=Ethernet1]/config/colour"),
                Value::from("red"),
            ),
        ],
        ..Default::default()
    };
    let e = c.set(&req).await.expect_err("unknown path");
    assert_eq!(code(&e), Some(tonic::Code::InvalidArgument));
    assert!(
        e.to_string()
            .contains("/interfaces/interface[name=Ethernet1]/config/colour"),
        "{e}"
    );
    assert_eq!(dev.leaves(), before);
    // Type mismatch.
    let e = c
        .set(&update(
            "/interfaces/interface[name=Ethernet1]/config/mtu",
            "jumbo",
        ))
        .await
        .expect_err("type");
    assert_eq!(code(&e), Some(tonic::Code::InvalidArgument));
    assert!(
        e.to_string()
            .contains("/interfaces/interface[name=Ethernet1]/config/mtu"),
        "{e}"
    );
    assert_eq!(dev.set_count(), 0);
    // Delete + replace + update in one request, JSON_IETF and scalar values.
    let req = SetRequest {
        prefix: Some(p("/interfaces")),
        deletes: vec![p("/interface[name=Ethernet2]")],
        replaces: vec![(
            p("/interface[name=Ethernet3]"),
            Value::JsonIetf(r#"{"openconfig-interfaces:name":"Ethernet3","config":{"name":"Ethernet3","mtu":"1500"}}"#.into()),
        )],
        updates: vec![(p("/interface[name=Ethernet1]/config/description"), Value::from("new"))],
        union_replaces: vec![],
    };
    let resp = c.set(&req).await.expect("set");
    assert_eq!(resp.results.len(), 3);
    assert_eq!(dev.set_count(), 1);
    assert_eq!(dev.get(&p(DESC)), Some(Value::from("new")));
    // The RFC 7951 string "1500" is stored as the number it is.
    assert_eq!(
        dev.get(&p("/interfaces/interface[name=Ethernet3]/config/mtu")),
        Some(Value::Uint(1500))
    );
    assert!(
        dev.get(&p("/interfaces/interface[name=Ethernet2]/config/mtu"))
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn on_change_streams_initial_sync_then_every_clients_changes_and_deletes() {
    let sim = start().await;
    let a = client(&sim, "leaf1").await;
    let b = client(&sim, "leaf1").await;
    let mut s1 = a
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(
            "/interfaces",
        ))]))
        .await
        .expect("subscribe");
    let mut s2 = b
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(
            "/interfaces/interface[name=*]/config",
        ))]))
        .await
        .expect("subscribe");
    let initial = until_sync(&mut s1).await;
    let n: usize = initial.iter().map(|n| n.updates.len()).sum();
    assert_eq!(n, 12, "{initial:?}");
    until_sync(&mut s2).await;
    // A change outside the subscription is not sent.
    b.set(&update("/system/config/hostname", "x"))
        .await
        .expect("set");
    // Client b's Set reaches both subscribers.
    b.set(&update(DESC, "via b")).await.expect("set");
    for s in [&mut s1, &mut s2] {
        let n = next_notification(s).await;
        assert_eq!(n.updates.len(), 1, "{n:?}");
        assert_eq!(n.updates[0].path, p(DESC));
        assert_eq!(n.updates[0].value, Value::from("via b"));
    }
    // A Set that changes nothing notifies nobody.
    b.set(&update(DESC, "via b")).await.expect("set");
    quiet(&mut s1, Duration::from_millis(300)).await;
    // Deleting an interface: delete notifications for its leaves.
    a.set(&SetRequest {
        deletes: vec![p("/interfaces/interface[name=Ethernet2]")],
        ..Default::default()
    })
    .await
    .expect("delete");
    let n = next_notification(&mut s1).await;
    assert!(n.updates.is_empty());
    assert_eq!(n.deletes.len(), 6, "{n:?}");
    assert!(n.deletes.contains(&p(
        "/interfaces/interface[name=Ethernet2]/state/oper-status"
    )));
    let n = next_notification(&mut s2).await;
    assert_eq!(
        n.deletes.len(),
        4,
        "config subscriber sees config leaves only: {n:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn updates_only_once_and_poll() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    let req = SubscribeRequest {
        updates_only: true,
        ..SubscribeRequest::stream(vec![Sub::on_change(p("/interfaces"))])
    };
    let mut s = c.subscribe(&req).await.expect("subscribe");
    assert!(
        until_sync(&mut s).await.is_empty(),
        "updates_only: no initial data"
    );
    c.set(&update(DESC, "u")).await.expect("set");
    assert_eq!(next_notification(&mut s).await.updates[0].path, p(DESC));

    let mut once = c
        .subscribe(&SubscribeRequest::once([p("/system")]))
        .await
        .expect("once");
    let ns = until_sync(&mut once).await;
    assert_eq!(ns[0].updates[0].value, Value::from("leaf1"));
    assert_eq!(next(&mut once).await, SubscribeEvent::End);

    let mut poll = c
        .subscribe(&SubscribeRequest::poll([p(DESC)]))
        .await
        .expect("poll");
    assert_eq!(
        until_sync(&mut poll).await[0].updates[0].value,
        Value::from("u")
    );
    c.set(&update(DESC, "polled")).await.expect("set");
    quiet(&mut poll, Duration::from_millis(200)).await;
    poll.poll().await.expect("poll");
    assert_eq!(
        until_sync(&mut poll).await[0].updates[0].value,
        Value::from("polled")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn sample_suppress_redundant_and_heartbeat() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    // Plain SAMPLE: every interval, every value.
    let mut plain = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::sample(
            p(DESC),
            Duration::from_millis(100),
        )]))
        .await
        .expect("sample");
    until_sync(&mut plain).await;
    for _ in 0..2 {
        assert_eq!(next_notification(&mut plain).await.updates[0].path, p(DESC));
    }
    // suppress_redundant: only changes.
    let sub = Sub {
        suppress_redundant: true,
        ..Sub::sample(
            p("/interfaces/interface[name=Ethernet1]/config"),
            Duration::from_millis(50),
        )
    };
    let mut s = c
        .subscribe(&SubscribeRequest::stream(vec![sub]))
        .await
        .expect("sample");
    until_sync(&mut s).await;
    quiet(&mut s, Duration::from_millis(300)).await;
    c.set(&update(DESC, "sampled")).await.expect("set");
    let n = next_notification(&mut s).await;
    assert_eq!(n.updates.len(), 1, "only the changed leaf: {n:?}");
    // With a heartbeat the full values come back periodically anyway.
    let sub = Sub {
        suppress_redundant: true,
        heartbeat_interval: Some(Duration::from_millis(200)),
        ..Sub::sample(
            p("/interfaces/interface[name=Ethernet1]/config"),
            Duration::from_millis(50),
        )
    };
    let mut hb = c
        .subscribe(&SubscribeRequest::stream(vec![sub]))
        .await
        .expect("sample");
    until_sync(&mut hb).await;
    let n = next_notification(&mut hb).await;
    assert_eq!(n.updates.len(), 4, "heartbeat resends all: {n:?}");
    // ON_CHANGE with a heartbeat.
    let sub = Sub {
        heartbeat_interval: Some(Duration::from_millis(100)),
        ..Sub::on_change(p(DESC))
    };
    let mut oc = c
        .subscribe(&SubscribeRequest::stream(vec![sub]))
        .await
        .expect("on_change");
    until_sync(&mut oc).await;
    assert_eq!(
        next_notification(&mut oc).await.updates[0].value,
        Value::from("sampled")
    );
    sim.shutdown().await;
}

const BGP_AS: &str = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/as";

#[tokio::test]
async fn on_change_refused_on_bgp_paths_sample_and_target_defined_work() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    let e = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(BGP_AS))]))
        .await
        .expect_err("ON_CHANGE refused");
    assert_eq!(code(&e), Some(tonic::Code::InvalidArgument));
    assert!(e.to_string().contains(BGP_AS), "{e}");
    // SAMPLE on the same path works.
    let mut s = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::sample(
            p(BGP_AS),
            Duration::from_millis(50),
        )]))
        .await
        .expect("sample");
    until_sync(&mut s).await;
    assert!(
        next_notification(&mut s).await.updates[0]
            .value
            .semantic_eq(&Value::Uint(65001))
    );
    // TARGET_DEFINED there becomes SAMPLE (10 s by default): the change is
    // not pushed at once. Elsewhere it is ON_CHANGE.
    let mut td = c
        .subscribe(&SubscribeRequest::stream(vec![
            Sub::target_defined(p(BGP_AS)),
            Sub::target_defined(p(DESC)),
        ]))
        .await
        .expect("target defined");
    until_sync(&mut td).await;
    c.set(&update(BGP_AS, 65009u64)).await.expect("set");
    c.set(&update(DESC, "td")).await.expect("set");
    let n = next_notification(&mut td).await;
    assert_eq!(n.updates.len(), 1);
    assert_eq!(n.updates[0].path, p(DESC));
    // A broader ON_CHANGE subscription is accepted but does not stream the
    // refused subtree.
    let mut broad = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(
            "/network-instances",
        ))]))
        .await
        .expect("broad on_change");
    until_sync(&mut broad).await;
    c.set(&update(BGP_AS, 65010u64)).await.expect("set");
    quiet(&mut broad, Duration::from_millis(300)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_drop_streams_latency_failing_sets_reset_unreachable() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    let dev = sim.device("leaf1").expect("leaf1");
    // drop streams
    let mut s = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(
            "/interfaces",
        ))]))
        .await
        .expect("subscribe");
    until_sync(&mut s).await;
    dev.drop_streams();
    match tokio::time::timeout(WAIT, s.next_event()).await {
        Ok(Some(Err(e))) => assert_eq!(code(&e), Some(tonic::Code::Unavailable)),
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    // latency
    dev.set_latency(Duration::from_millis(300));
    let t = Instant::now();
    c.capabilities().await.expect("caps");
    assert!(t.elapsed() >= Duration::from_millis(300));
    dev.set_latency(Duration::ZERO);
    // failing Sets
    dev.fail_next_sets(2, Some(tonic::Code::Aborted));
    for _ in 0..2 {
        let e = c.set(&update(DESC, "f")).await.expect_err("injected");
        assert_eq!(code(&e), Some(tonic::Code::Aborted));
    }
    c.set(&update(DESC, "third"))
        .await
        .expect("third Set passes");
    assert_eq!(dev.set_count(), 1);
    // reset, seen by subscribers
    let mut s = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(DESC))]))
        .await
        .expect("subscribe");
    until_sync(&mut s).await;
    dev.reset();
    assert_eq!(
        next_notification(&mut s).await.updates[0].value,
        Value::from("to spine1")
    );
    // unreachable: new connections refused, then back
    dev.make_unreachable(Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = dev.addr().to_string();
    let refused =
        Client::connect(ClientConfig::new(addr.clone()).credentials("admin", "admin")).await;
    assert!(
        matches!(refused, Err(ClientError::Connect { .. })),
        "{refused:?}"
    );
    let e = c.capabilities().await.expect_err("down");
    assert!(e.is_transient(), "{e}");
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let back = Client::connect(ClientConfig::new(addr).credentials("admin", "admin"))
        .await
        .expect("reachable again");
    back.capabilities().await.expect("caps");
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_subscriber_does_not_block_sets_and_is_dropped() {
    let sim = start().await;
    let c = client(&sim, "leaf1").await;
    let dev = sim.device("leaf1").expect("leaf1");
    let mut slow = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(
            "/interfaces",
        ))]))
        .await
        .expect("subscribe");
    until_sync(&mut slow).await;
    // Never read `slow` while 20,000 Sets go through.
    let t = Instant::now();
    for i in 0..20_000u32 {
        dev.apply(&update(DESC, format!("v{i}"))).expect("set");
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "Sets were held up: {:?}",
        t.elapsed()
    );
    let mut ended = None;
    while let Ok(Some(ev)) = tokio::time::timeout(WAIT, slow.next_event()).await {
        if let Err(e) = ev {
            ended = Some(e);
            break;
        }
    }
    assert_eq!(
        ended.and_then(|e| e.code()),
        Some(tonic::Code::ResourceExhausted)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn tls_with_generated_certificate_and_per_device_password() {
    let sim = start().await;
    let dev = sim.device("leaf2").expect("leaf2");
    let ca = dev.cert_pem().expect("generated certificate");
    let addr = dev.addr().to_string();
    let tls = TlsMode::Tls {
        ca_pem: ca.into_bytes(),
        client: None,
        server_name: Some("localhost".into()),
    };
    let c = Client::connect(
        ClientConfig::new(addr.clone())
            .tls(tls)
            .credentials("admin", "other"),
    )
    .await
    .expect("TLS connect");
    c.capabilities().await.expect("caps over TLS");
    let wrong = Client::connect(
        ClientConfig::new(addr.clone())
            .tls(TlsMode::InsecureSkipVerify { client: None })
            .credentials("admin", "admin"),
    )
    .await
    .expect("connect");
    assert_eq!(
        code(
            &wrong
                .capabilities()
                .await
                .expect_err("leaf2 has its own password")
        ),
        Some(tonic::Code::Unauthenticated)
    );
    let plain = Client::connect(ClientConfig::new(addr).credentials("admin", "other")).await;
    if let Ok(plain) = plain {
        assert!(
            plain.capabilities().await.is_err(),
            "plaintext must not work against TLS"
        );
    }
    sim.shutdown().await;
}

async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect control");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn control_endpoint_routes() {
    let mut sim = start().await;
    let ctl = sim
        .serve_control(SocketAddr::new(LOCAL, 0))
        .await
        .expect("control");
    let c = client(&sim, "leaf1").await;
    let (st, body) = http(ctl, "GET", "/devices", "").await;
    assert_eq!(st, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    let (st, _) = http(ctl, "POST", "/devices/leaf1/fail-sets", r#"{"count":1}"#).await;
    assert_eq!(st, 200);
    let e = c.set(&update(DESC, "x")).await.expect_err("injected");
    assert_eq!(code(&e), Some(tonic::Code::Unavailable));
    c.set(&update(DESC, "y")).await.expect("set");
    let (_, body) = http(ctl, "GET", "/devices/leaf1/set-count", "").await;
    assert_eq!(body, r#"{"setCount":1}"#);

    let (st, _) = http(ctl, "POST", "/devices/leaf1/reset", "").await;
    assert_eq!(st, 200);
    assert_eq!(
        sim.device("leaf1").and_then(|d| d.get(&p(DESC))),
        Some(Value::from("to spine1"))
    );

    let (st, _) = http(ctl, "POST", "/devices/leaf1/latency", r#"{"ms":250}"#).await;
    assert_eq!(st, 200);
    let t = Instant::now();
    c.capabilities().await.expect("caps");
    assert!(t.elapsed() >= Duration::from_millis(250));
    http(ctl, "POST", "/devices/leaf1/latency", r#"{"ms":0}"#).await;

    let mut s = c
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(DESC))]))
        .await
        .expect("subscribe");
    until_sync(&mut s).await;
    let (st, _) = http(ctl, "POST", "/devices/leaf1/drop-streams", "").await;
    assert_eq!(st, 200);
    assert!(matches!(
        tokio::time::timeout(WAIT, s.next_event()).await,
        Ok(Some(Err(_)))
    ));

    let (st, body) = http(
        ctl,
        "POST",
        "/devices/leaf1/unreachable",
        r#"{"seconds":1}"#,
    )
    .await;
    assert_eq!(st, 200);
    assert!(body.contains(r#""reachable":false"#), "{body}");
    let (st, pem) = http(ctl, "GET", "/devices/leaf2/certificate", "").await;
    assert_eq!(st, 200);
    assert!(pem.contains("BEGIN CERTIFICATE"));
    assert_eq!(http(ctl, "POST", "/devices/nope/reset", "").await.0, 404);
    assert_eq!(
        http(ctl, "POST", "/devices/leaf1/latency", r#"{"msec":1}"#)
            .await
            .0
            / 100,
        4
    );
    sim.shutdown().await;
}

/// Starts the binary, returns it and its lines up to `ready`.
fn spawn_ready(args: &[&str]) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_fabric-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fabric-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line == "ready";
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines)
}

/// SIGTERM, then a clean exit within [`WAIT`].
fn terminate(mut child: std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            assert!(st.success(), "exit status {st}");
            return;
        }
        assert!(start.elapsed() < WAIT, "fabric-sim did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binary_serves_generated_devices_prints_ready_and_stops_on_sigterm() {
    let args = [
        "serve",
        "--generate",
        "3",
        "--base-port",
        "0",
        "--control",
        "127.0.0.1:0",
    ];
    let (child, lines) = spawn_ready(&args);
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0].starts_with("gen0001 127.0.0.1:"), "{lines:?}");
    assert!(
        lines[3].starts_with("control http://127.0.0.1:"),
        "{lines:?}"
    );
    let addr: SocketAddr = lines[1]
        .split(' ')
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("address");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = Client::connect(ClientConfig::new(addr.to_string()).credentials("admin", "admin"))
            .await
            .expect("connect");
        let ns = c
            .get(&GetRequest::paths([p("/system/config/hostname")]))
            .await
            .expect("get");
        assert!(matches!(&ns[0].updates[0].value, Value::JsonIetf(s) if s.contains("gen0002")));
    });
    terminate(child);
    // A supervisor may signal the moment it reads `ready`: still a clean stop.
    let (child, lines) = spawn_ready(&args);
    assert_eq!(lines.last().map(String::as_str), Some("ready"));
    terminate(child);
}

fn repo_root() -> std::path::PathBuf {
    FsPath::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn lab_topology_starts_in_sync_with_its_fabric_devices() {
    let root = repo_root();
    let topo = Topology::load(&root.join("examples/fabric/topology.yaml")).expect("lab topology");
    let names: Vec<&str> = topo.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "spine1", "spine2", "leaf1", "leaf2", "leaf3", "leaf4", "leaf5", "leaf6", "leaf7",
            "leaf8"
        ]
    );
    // The ports are those the FabricDevices point at.
    for d in &topo.devices {
        let text = std::fs::read_to_string(
            root.join(format!("examples/fabric/manifests/devices/{}.yaml", d.name)),
        )
        .expect("manifest");
        assert!(
            text.contains(&format!("address: 127.0.0.1:{}", d.port)),
            "{} port {}",
            d.name,
            d.port
        );
    }
    let sim = Sim::start(topo.with_ephemeral_ports(), LOCAL)
        .await
        .expect("sim");
    let keys = fabric_drift::key_table();
    for dev in sim.devices() {
        let manifest = root.join(format!(
            "examples/fabric/manifests/devices/{}.yaml",
            dev.name()
        ));
        let desired =
            fabric_sim::topology::leaves_from_fabric_device(dev.name(), &manifest).expect("intent");
        assert!(
            desired.len() > 50,
            "{}: {} leaves",
            dev.name(),
            desired.len()
        );
        // What a client observes over gNMI, decoded as the engine decodes it.
        let c = client(&sim, dev.name()).await;
        let mut observed = std::collections::BTreeMap::new();
        for n in c
            .get(&GetRequest::paths([Path::root()]))
            .await
            .expect("get /")
        {
            for u in &n.updates {
                let Value::JsonIetf(s) = &u.value else {
                    panic!("not JSON_IETF")
                };
                for l in flatten_json_ietf(&u.path, s.as_bytes(), &keys).expect("flatten") {
                    observed.insert(l.path, l.value);
                }
            }
        }
        for (path, want) in &desired {
            match observed.get(path) {
                Some(got) if got.semantic_eq(want) => {}
                other => panic!("{}: {path}: intent {want:?}, device {other:?}", dev.name()),
            }
        }
        // Beyond intent: the management interface and operational state.
        let extra: Vec<&Path> = observed
            .keys()
            .filter(|p| !desired.iter().any(|(d, _)| d == *p))
            .collect();
        assert!(extra.contains(&&p(
            "/interfaces/interface[name=Management1]/config/description"
        )));
        assert!(extra.contains(&&p(
            "/interfaces/interface[name=Ethernet1]/state/oper-status"
        )));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn tls_with_a_provided_certificate() {
    let dir = std::env::temp_dir().join(format!("fabric-sim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ck = rcgen::generate_simple_self_signed(vec!["sim.example".to_string()]).expect("cert");
    std::fs::write(dir.join("dev.pem"), ck.cert.pem()).expect("write cert");
    std::fs::write(dir.join("dev.key"), ck.signing_key.serialize_pem()).expect("write key");
    let yaml = r#"
devices:
  - name: d
    port: 0
    tls: {certFile: dev.pem, keyFile: dev.key}
    config: {openconfig-system:system: {config: {hostname: d}}}
"#;
    let topo = Topology::from_yaml(yaml, &dir).expect("topology");
    let sim = Sim::start(topo, LOCAL).await.expect("sim");
    let dev = sim.device("d").expect("d");
    assert_eq!(dev.cert_pem().as_deref(), Some(ck.cert.pem().as_str()));
    let tls = TlsMode::Tls {
        ca_pem: ck.cert.pem().into_bytes(),
        client: None,
        server_name: Some("sim.example".into()),
    };
    // No credentials configured: no auth required.
    let c = Client::connect(ClientConfig::new(dev.addr().to_string()).tls(tls))
        .await
        .expect("TLS connect");
    c.capabilities()
        .await
        .expect("caps over TLS with the provided certificate");
    // A client that trusts another CA is refused.
    let other = rcgen::generate_simple_self_signed(vec!["sim.example".to_string()]).expect("cert");
    let wrong = TlsMode::Tls {
        ca_pem: other.cert.pem().into_bytes(),
        client: None,
        server_name: Some("sim.example".into()),
    };
    let refused = match Client::connect(ClientConfig::new(dev.addr().to_string()).tls(wrong)).await
    {
        Ok(c) => c.capabilities().await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a certificate from another CA was accepted");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn start_names_the_device_whose_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let yaml = format!("devices: [{{name: a, port: 0}}, {{name: b, port: {port}}}]");
    let topo = Topology::from_yaml(&yaml, FsPath::new(".")).expect("topology");
    match Sim::start(topo, LOCAL).await {
        Err(fabric_sim::SimError::Bind { device, addr, .. }) => {
            assert_eq!(device, "b");
            assert_eq!(addr.port(), port);
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("started on a taken port"),
    }
}

#[tokio::test]
async fn device_spec_from_embedded_manifest_text() {
    let text =
        std::fs::read_to_string(repo_root().join("examples/fabric/manifests/devices/spine1.yaml"))
            .expect("manifest");
    let leaves = fabric_sim::topology::leaves_from_fabric_device_yaml("spine1", "embedded", &text)
        .expect("intent");
    let creds = fabric_sim::Credentials {
        username: "admin".into(),
        password: "admin".into(),
    };
    let spec = fabric_sim::DeviceSpec::from_leaves("spine1", 0, Some(creds), leaves.clone())
        .refuse_on_change(&["/network-instances/network-instance[name=*]/protocols/protocol[identifier=BGP][name=*]/bgp/..."])
        .expect("pattern");
    let sim = Sim::start(
        Topology {
            devices: vec![spec],
        },
        LOCAL,
    )
    .await
    .expect("sim");
    let dev = sim.device("spine1").expect("spine1");
    assert_eq!(dev.leaves().len(), leaves.len());
    let hostname = leaves
        .iter()
        .find(|(p, _)| p.to_string().ends_with("hostname"))
        .map(|(p, _)| p.clone())
        .expect("hostname leaf");
    assert_eq!(dev.get(&hostname), Some(Value::from("spine1")));
    let e = client(&sim, "spine1")
        .await
        .subscribe(&SubscribeRequest::stream(vec![Sub::on_change(p(
            "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp",
        ))]))
        .await
        .expect_err("refused");
    assert_eq!(code(&e), Some(tonic::Code::InvalidArgument));
    let bad = fabric_sim::topology::leaves_from_fabric_device_yaml("x", "embedded", "kind: Secret");
    assert!(bad.is_err());
    sim.shutdown().await;
}

/// Every leaf of a device as a client decodes it (Get of `/`, JSON_IETF,
/// the drift engine's key table).
async fn observed(c: &Client) -> Vec<fabric_gnmi::Leaf> {
    let keys = fabric_drift::key_table();
    let mut out = Vec::new();
    for n in c
        .get(&GetRequest::paths([Path::root()]))
        .await
        .expect("get /")
    {
        for u in &n.updates {
            let Value::JsonIetf(s) = &u.value else {
                panic!("not JSON_IETF")
            };
            out.extend(flatten_json_ietf(&u.path, s.as_bytes(), &keys).expect("flatten"));
        }
    }
    out
}

fn leaves_of(n: &Notification) -> Vec<fabric_gnmi::Leaf> {
    n.updates
        .iter()
        .map(|u| fabric_gnmi::Leaf::new(u.path.clone(), u.value.clone()))
        .collect()
}

#[tokio::test]
async fn drift_engine_sees_the_lab_in_sync_and_ignores_extras_in_merge_ownership() {
    let root = repo_root();
    let topo = Topology::load(&root.join("examples/fabric/topology.yaml")).expect("lab topology");
    let sim = Sim::start(topo.with_ephemeral_ports(), LOCAL)
        .await
        .expect("sim");
    for name in ["spine1", "leaf1", "leaf8"] {
        let text = std::fs::read_to_string(
            root.join(format!("examples/fabric/manifests/devices/{name}.yaml")),
        )
        .expect("manifest");
        let desired = fabric_sim::topology::desired_from_fabric_device_yaml(name, name, &text)
            .expect("intent");
        let mut tracker = fabric_drift::DriftTracker::new(desired);
        let c = client(&sim, name).await;
        // Initial sync from a Get of everything, then the full diff.
        tracker.apply(&observed(&c).await, &[]);
        tracker.full_diff();
        assert!(
            tracker.drift().is_empty(),
            "{name} starts with drift: {:?}",
            tracker.drift()
        );
        // From here on, ON_CHANGE notifications feed the tracker incrementally.
        let req = SubscribeRequest {
            updates_only: true,
            ..SubscribeRequest::stream(vec![Sub::on_change(p("/interfaces"))])
        };
        let mut sub = c.subscribe(&req).await.expect("subscribe");
        until_sync(&mut sub).await;
        // Changes beyond intent (the management interface, state) are not drift.
        c.set(&update(
            "/interfaces/interface[name=Management1]/config/description",
            "changed",
        ))
        .await
        .expect("set");
        let n = next_notification(&mut sub).await;
        assert!(
            tracker.apply(&leaves_of(&n), &n.deletes).is_empty(),
            "{name}: extra reported"
        );
        // A change to an intended leaf is drift, and setting it back clears it.
        let desc = "/interfaces/interface[name=Ethernet1]/config/description";
        let intended = sim
            .device(name)
            .and_then(|d| d.get(&p(desc)))
            .expect("intended description");
        c.set(&update(desc, "hand edit")).await.expect("set");
        let n = next_notification(&mut sub).await;
        tracker.apply(&leaves_of(&n), &n.deletes);
        let drift: Vec<String> = tracker.drift().iter().map(|d| d.path.to_string()).collect();
        assert_eq!(drift, [desc], "{name}");
        c.set(&update(desc, intended)).await.expect("set back");
        let n = next_notification(&mut sub).await;
        tracker.apply(&leaves_of(&n), &n.deletes);
        assert!(tracker.drift().is_empty(), "{name}: {:?}", tracker.drift());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn unreachable_period_can_be_extended_while_down() {
    let sim = start().await;
    let dev = sim.device("leaf1").expect("leaf1");
    let addr = dev.addr().to_string();
    dev.make_unreachable(Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(100)).await;
    dev.make_unreachable(Duration::from_millis(1200));
    // Past the first deadline, still down.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!dev.is_reachable());
    let refused =
        Client::connect(ClientConfig::new(addr.clone()).credentials("admin", "admin")).await;
    assert!(
        matches!(refused, Err(ClientError::Connect { .. })),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(dev.is_reachable());
    let c = Client::connect(ClientConfig::new(addr).credentials("admin", "admin"))
        .await
        .expect("back");
    c.capabilities().await.expect("caps");
    sim.shutdown().await;
}

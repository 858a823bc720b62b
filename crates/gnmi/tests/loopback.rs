//! The client against a small real gNMI target over gRPC on 127.0.0.1.
//!
//! The target is the generated service (`server` feature) over an in-memory
//! map of leaves with a username/password check. It is deliberately small;
//! fabric-sim is the full simulator.

#![cfg(all(feature = "client", feature = "server"))]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use fabric_gnmi::client::{
    Client, ClientConfig, ClientError, ClientIdentity, SubscribeEvent, Subscription, TlsMode,
};
use fabric_gnmi::rpc::{self, GetRequest, SetOperation, SetRequest, SubscribeRequest};
use fabric_gnmi::{Encoding, KeyTable, Path, Value, flatten_json_ietf};
use support::{PASS, USER, p, pki, start};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

async fn client(addr: SocketAddr) -> Client {
    let cfg = ClientConfig::new(addr.to_string()).credentials(USER, PASS);
    Client::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

async fn next(sub: &mut Subscription) -> SubscribeEvent {
    match tokio::time::timeout(Duration::from_secs(5), sub.next_event()).await {
        Ok(Some(Ok(ev))) => ev,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn updates_of(ev: &SubscribeEvent) -> BTreeMap<Path, Value> {
    match ev {
        SubscribeEvent::Notification(n) => n
            .updates
            .iter()
            .map(|u| (u.path.clone(), u.value.clone()))
            .collect(),
        other => panic!("expected a notification, got {other:?}"),
    }
}

#[tokio::test]
async fn capabilities_get_and_set() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;

    let caps = c.capabilities().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(caps.version, "0.10.0");
    assert!(caps.encodings.contains(&Encoding::JsonIetf));
    assert_eq!(caps.models[0].name, "openconfig-interfaces");

    // Get two paths under a prefix; the JSON_IETF blobs flatten back to leaves.
    let get = GetRequest {
        prefix: Some(p("/interfaces")),
        paths: vec![
            p("/interface[name=Ethernet1]/config"),
            p("/interface[name=Ethernet2]/config/mtu"),
        ],
        ..Default::default()
    };
    let ns = c.get(&get).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ns.len(), 2);
    let mut leaves = Vec::new();
    for n in &ns {
        for u in &n.updates {
            let Value::JsonIetf(blob) = &u.value else {
                panic!("expected JSON_IETF, got {:?}", u.value)
            };
            leaves.extend(
                flatten_json_ietf(&u.path, blob.as_bytes(), &KeyTable::default())
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
    }
    let got: BTreeMap<Path, Value> = leaves.into_iter().map(|l| (l.path, l.value)).collect();
    assert_eq!(
        got.get(&p(
            "/interfaces/interface[name=Ethernet1]/config/description"
        )),
        Some(&Value::from("to spine1"))
    );
    assert_eq!(
        got.get(&p("/interfaces/interface[name=Ethernet2]/config/mtu")),
        Some(&Value::Uint(9214))
    );
    assert_eq!(got.len(), 4);

    // The same through get_leaves.
    let leaves = c
        .get_leaves(&get, &KeyTable::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let via_helper: BTreeMap<Path, Value> = leaves.into_iter().map(|l| (l.path, l.value)).collect();
    assert_eq!(via_helper, got);

    // Set: delete, replace and update in one request; per-operation results.
    let set = SetRequest {
        prefix: Some(p("/interfaces")),
        deletes: vec![p("/interface[name=Ethernet2]/config/description")],
        replaces: vec![(
            p("/interface[name=Ethernet1]/config"),
            Value::JsonIetf(r#"{"name":"Ethernet1","mtu":1500}"#.into()),
        )],
        updates: vec![(
            p("/interface[name=Ethernet2]/config/mtu"),
            Value::Uint(9000),
        )],
        union_replaces: vec![],
    };
    let resp = c.set(&set).await.unwrap_or_else(|e| panic!("{e}"));
    let ops: Vec<(String, SetOperation)> = resp
        .results
        .iter()
        .map(|r| (r.path.to_string(), r.op))
        .collect();
    assert_eq!(
        ops,
        vec![
            (
                "/interfaces/interface[name=Ethernet2]/config/description".into(),
                SetOperation::Delete
            ),
            (
                "/interfaces/interface[name=Ethernet1]/config".into(),
                SetOperation::Replace
            ),
            (
                "/interfaces/interface[name=Ethernet2]/config/mtu".into(),
                SetOperation::Update
            ),
        ]
    );
    // The replace dropped Ethernet1's description; a Get of it is now NotFound.
    let err = c
        .get(&GetRequest::paths([p(
            "/interfaces/interface[name=Ethernet1]/config/description",
        )]))
        .await
        .err();
    assert_eq!(err.and_then(|e| e.code()), Some(tonic::Code::NotFound));
}

#[tokio::test]
async fn wrong_password_is_unauthenticated() {
    let (addr, _target) = start(None).await;
    let cfg = ClientConfig::new(addr.to_string()).credentials(USER, "wrong");
    let c = Client::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let err = c.capabilities().await.err();
    match err {
        Some(ClientError::Status { code, message }) => {
            assert_eq!(code, tonic::Code::Unauthenticated);
            assert_eq!(message, "invalid username or password");
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
    let err = c
        .subscribe(&SubscribeRequest::once([p("/system")]))
        .await
        .err();
    assert_eq!(
        err.and_then(|e| e.code()),
        Some(tonic::Code::Unauthenticated)
    );
}

#[tokio::test]
async fn stream_on_change_sync_then_change_after_set() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;
    let req = SubscribeRequest::stream(vec![rpc::Subscription::on_change(p(
        "/interfaces/interface[name=*]/config",
    ))]);
    let mut sub = c.subscribe(&req).await.unwrap_or_else(|e| panic!("{e}"));

    let initial = updates_of(&next(&mut sub).await);
    assert_eq!(
        initial.len(),
        6,
        "3 config leaves x 2 interfaces: {initial:?}"
    );
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);

    // A Set on the same connection is pushed to the subscription.
    let set = SetRequest {
        updates: vec![(
            p("/interfaces/interface[name=Ethernet1]/config/description"),
            Value::from("drifted"),
        )],
        deletes: vec![p("/interfaces/interface[name=Ethernet2]/config/mtu")],
        ..Default::default()
    };
    c.set(&set).await.unwrap_or_else(|e| panic!("{e}"));
    match next(&mut sub).await {
        SubscribeEvent::Notification(n) => {
            assert_eq!(n.updates.len(), 1);
            assert_eq!(
                n.updates[0].path,
                p("/interfaces/interface[name=Ethernet1]/config/description")
            );
            assert_eq!(n.updates[0].value, Value::from("drifted"));
            assert_eq!(
                n.deletes,
                vec![p("/interfaces/interface[name=Ethernet2]/config/mtu")]
            );
        }
        other => panic!("expected the change, got {other:?}"),
    }
    // A change outside the subscription is not delivered.
    let other = SetRequest {
        updates: vec![(p("/system/config/hostname"), Value::from("leaf9"))],
        ..Default::default()
    };
    c.set(&other).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sub.next_event())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn once_ends_after_sync() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;
    let mut sub = c
        .subscribe(&SubscribeRequest::once([p("/system")]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ups = updates_of(&next(&mut sub).await);
    assert_eq!(
        ups.get(&p("/system/config/hostname")),
        Some(&Value::from("leaf1"))
    );
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);
    assert_eq!(next(&mut sub).await, SubscribeEvent::End);
    assert!(sub.next_event().await.is_none());
    // poll() is only for POLL subscriptions.
    assert!(matches!(sub.poll().await, Err(ClientError::NotPollMode)));
}

#[tokio::test]
async fn poll_returns_current_values_each_time() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;
    let mut sub = c
        .subscribe(&SubscribeRequest::poll([p("/system/config")]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(updates_of(&next(&mut sub).await).len(), 1);
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);

    let set = SetRequest {
        updates: vec![(p("/system/config/hostname"), Value::from("leaf2"))],
        ..Default::default()
    };
    c.set(&set).await.unwrap_or_else(|e| panic!("{e}"));
    sub.poll().await.unwrap_or_else(|e| panic!("{e}"));
    let ups = updates_of(&next(&mut sub).await);
    assert_eq!(
        ups.get(&p("/system/config/hostname")),
        Some(&Value::from("leaf2"))
    );
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);
}

#[tokio::test]
async fn updates_only_skips_the_initial_values() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;
    let mut req = SubscribeRequest::stream(vec![rpc::Subscription::on_change(p("/system"))]);
    req.updates_only = true;
    let mut sub = c.subscribe(&req).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);
}

#[tokio::test]
async fn tls_with_generated_ca_and_client_certificate() {
    let pki = pki();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&pki.server_cert, &pki.server_key))
        .client_ca_root(Certificate::from_pem(&pki.ca_pem));
    let (addr, _target) = start(Some(tls)).await;
    let identity = ClientIdentity {
        cert_pem: pki.client_cert.clone().into_bytes(),
        key_pem: pki.client_key.clone().into_bytes(),
    };

    // Verified TLS with mutual authentication; the certificate names leaf1.lab.
    let verified = ClientConfig::new(addr.to_string())
        .credentials(USER, PASS)
        .tls(TlsMode::Tls {
            ca_pem: pki.ca_pem.clone().into_bytes(),
            client: Some(identity.clone()),
            server_name: Some("leaf1.lab".into()),
        });
    let c = Client::connect(verified)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert_eq!(
        c.capabilities().await.map(|c| c.version).ok().as_deref(),
        Some("0.10.0")
    );

    // Devices are often addressed by management IP: the IP SAN verifies.
    let by_ip = ClientConfig::new(addr.to_string())
        .credentials(USER, PASS)
        .tls(TlsMode::Tls {
            ca_pem: pki.ca_pem.clone().into_bytes(),
            client: Some(identity.clone()),
            server_name: None,
        });
    let c = Client::connect(by_ip)
        .await
        .unwrap_or_else(|e| panic!("connect by IP: {e}"));
    assert!(c.capabilities().await.is_ok());

    // The wrong server name fails verification.
    let wrong_name = ClientConfig::new(addr.to_string())
        .credentials(USER, PASS)
        .tls(TlsMode::Tls {
            ca_pem: pki.ca_pem.clone().into_bytes(),
            client: Some(identity.clone()),
            server_name: Some("spine1.lab".into()),
        });
    let failed = match Client::connect(wrong_name).await {
        Err(e) => Some(e),
        Ok(c) => c.capabilities().await.err(),
    };
    assert!(
        failed.is_some(),
        "a certificate for another name must be rejected"
    );

    // Skip-verify (labs) trusts any certificate but still does TLS.
    let lab = ClientConfig::new(addr.to_string())
        .credentials(USER, PASS)
        .tls(TlsMode::InsecureSkipVerify {
            client: Some(identity),
        });
    let c = Client::connect(lab)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert_eq!(
        c.capabilities().await.map(|c| c.version).ok().as_deref(),
        Some("0.10.0")
    );

    // Plaintext against the TLS port does not get through.
    let plain = Client::connect(ClientConfig::new(addr.to_string()).credentials(USER, PASS)).await;
    let failed = match plain {
        Err(e) => Some(e),
        Ok(c) => c.capabilities().await.err(),
    };
    assert!(failed.is_some());
}

#[tokio::test]
async fn tls_without_a_ca_rejects_a_certificate_the_system_roots_do_not_sign() {
    let pki = pki();
    let tls =
        ServerTlsConfig::new().identity(Identity::from_pem(&pki.server_cert, &pki.server_key));
    let (addr, _target) = start(Some(tls)).await;
    let cfg = |ca_pem: &str| {
        ClientConfig::new(addr.to_string())
            .credentials(USER, PASS)
            .tls(TlsMode::Tls {
                ca_pem: ca_pem.as_bytes().to_vec(),
                client: None,
                server_name: Some("leaf1.lab".into()),
            })
    };

    // No caSecretRef: the operator passes no CA and the client verifies
    // against the system's roots, which do not include the test CA. The
    // handshake reaches the server and fails on the certificate: a connect
    // error (retried) naming the reason, not a configuration error.
    let err = match Client::connect(cfg("")).await {
        Err(e) => e,
        Ok(c) => match c.capabilities().await {
            Err(e) => e,
            Ok(_) => panic!("a certificate from an unknown CA must be rejected"),
        },
    };
    assert!(
        !matches!(err, ClientError::Config(_)),
        "no CA must mean the system's roots, not a configuration error: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("invalid peer certificate") && msg.contains("UnknownIssuer"),
        "{msg}"
    );

    // The same target with its CA given verifies.
    let c = Client::connect(cfg(&pki.ca_pem))
        .await
        .unwrap_or_else(|e| panic!("connect with the CA: {e}"));
    assert_eq!(
        c.capabilities().await.map(|c| c.version).ok().as_deref(),
        Some("0.10.0")
    );
}

#[tokio::test]
async fn malformed_notifications_are_reported_and_the_stream_goes_on() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;
    let req = SubscribeRequest::stream(vec![
        rpc::Subscription::on_change(p("/inject-malformed")),
        rpc::Subscription::on_change(p("/system")),
    ]);
    let mut sub = c.subscribe(&req).await.unwrap_or_else(|e| panic!("{e}"));
    match next(&mut sub).await {
        SubscribeEvent::Malformed(e) => {
            assert!(e.to_string().contains("deprecated `element`"), "{e}")
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    match next(&mut sub).await {
        SubscribeEvent::Malformed(fabric_gnmi::DecodeError::UpdateValue { path, .. }) => {
            assert_eq!(path, p("/system/config/hostname"))
        }
        other => panic!("expected Malformed value, got {other:?}"),
    }
    // The good data and the sync still arrive.
    let ups = updates_of(&next(&mut sub).await);
    assert_eq!(
        ups.get(&p("/system/config/hostname")),
        Some(&Value::from("leaf1"))
    );
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);
}

#[tokio::test]
async fn oversized_response_is_a_typed_error() {
    let (addr, _target) = start(None).await;
    let mut cfg = ClientConfig::new(addr.to_string()).credentials(USER, PASS);
    cfg.max_decode_size = 64;
    let c = Client::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let err = c.get(&GetRequest::paths([p("/interfaces")])).await.err();
    assert!(
        matches!(err, Some(ClientError::MessageTooLarge { .. })),
        "{err:?}"
    );
    assert_eq!(err.and_then(|e| e.code()), Some(tonic::Code::OutOfRange));
}

#[tokio::test]
async fn call_timeout_and_connect_errors_are_typed() {
    let (addr, _target) = start(None).await;
    let mut cfg = ClientConfig::new(addr.to_string()).credentials(USER, PASS);
    cfg.call_timeout = Duration::from_millis(200);
    let c = Client::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let started = std::time::Instant::now();
    let err = c.get(&GetRequest::paths([p("/slow")])).await.err();
    assert!(
        matches!(err, Some(ClientError::Timeout { call: "Get", .. })),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(err.is_some_and(|e| e.is_transient()));

    // Nothing listens on the port of a dropped listener: a Connect error.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"))
    };
    let mut cfg = ClientConfig::new(closed.to_string());
    cfg.connect_timeout = Duration::from_secs(2);
    match Client::connect(cfg).await {
        Err(ClientError::Connect { address, .. }) => assert_eq!(address, closed.to_string()),
        other => panic!("expected a Connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn stream_error_ends_the_subscription_with_a_transient_status() {
    let (addr, _target) = start(None).await;
    let c = client(addr).await;
    let req = SubscribeRequest::stream(vec![rpc::Subscription::on_change(p("/inject-abort"))]);
    let mut sub = c.subscribe(&req).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next(&mut sub).await, SubscribeEvent::SyncResponse);
    let err = match tokio::time::timeout(Duration::from_secs(5), sub.next_event()).await {
        Ok(Some(Err(e))) => e,
        other => panic!("expected the stream error, got {other:?}"),
    };
    assert_eq!(err.code(), Some(tonic::Code::Unavailable));
    assert!(err.to_string().contains("target restarting"));
    assert!(err.is_transient(), "a reconnect should follow");
    assert!(sub.next_event().await.is_none(), "nothing after the error");
    // The connection itself is still fine for new calls.
    assert!(c.capabilities().await.is_ok());
}

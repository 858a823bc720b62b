//! The client against a small real gNMI target over gRPC on 127.0.0.1.
//!
//! The target is the generated service (`server` feature) over an in-memory
//! map of leaves with a username/password check. It is deliberately small;
//! fabric-sim is the full simulator.

#![cfg(all(feature = "client", feature = "server"))]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric_gnmi::client::{
    Client, ClientConfig, ClientError, ClientIdentity, SubscribeEvent, Subscription, TlsMode,
};
use fabric_gnmi::rpc::{
    self, Capabilities, GetRequest, ListMode, SetOperation, SetRequest, SetResult, SubscribeRequest,
};
use fabric_gnmi::server::{self as srv, GNmi, GNmiServer};
use fabric_gnmi::{
    Encoding, KeyTable, Leaf, Notification, Path, Update, Value, encode_json_ietf,
    flatten_json_ietf,
};
use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

const USER: &str = "admin";
const PASS: &str = "fabric";

type Tree = BTreeMap<Path, Value>;

#[derive(Clone)]
struct Target {
    tree: Arc<Mutex<Tree>>,
    changes: broadcast::Sender<Notification>,
}

fn p(s: &str) -> Path {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn check_auth<T>(req: &Request<T>) -> Result<(), Status> {
    let md = req.metadata();
    let user = md.get("username").and_then(|v| v.to_str().ok());
    let pass = md.get("password").and_then(|v| v.to_str().ok());
    if user == Some(USER) && pass == Some(PASS) {
        Ok(())
    } else {
        Err(Status::unauthenticated("invalid username or password"))
    }
}

/// Does subscription/get path `pat` cover `leaf` (a prefix, with wildcards)?
fn covers(pat: &Path, leaf: &Path) -> bool {
    if leaf.len() < pat.len() {
        return false;
    }
    let head = Path::new(leaf.elems[..pat.len()].to_vec());
    pat.matches(&head)
}

fn snapshot(tree: &Tree, pats: &[Path]) -> Vec<Update> {
    tree.iter()
        .filter(|(k, _)| pats.iter().any(|pat| covers(pat, k)))
        .map(|(k, v)| Update {
            path: k.clone(),
            value: v.clone(),
            duplicates: 0,
        })
        .collect()
}

fn lock(tree: &Mutex<Tree>) -> Result<std::sync::MutexGuard<'_, Tree>, Status> {
    tree.lock().map_err(|_| Status::internal("state poisoned"))
}

fn notification(updates: Vec<Update>, deletes: Vec<Path>) -> srv::Notification {
    srv::Notification::from(&Notification {
        timestamp: 1,
        updates,
        deletes,
        ..Default::default()
    })
}

fn update_response(n: srv::Notification) -> srv::SubscribeResponse {
    srv::SubscribeResponse {
        response: Some(srv::subscribe_response::Response::Update(n)),
        extension: Vec::new(),
    }
}

fn sync_response() -> srv::SubscribeResponse {
    srv::SubscribeResponse {
        response: Some(srv::subscribe_response::Response::SyncResponse(true)),
        extension: Vec::new(),
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<srv::SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl GNmi for Target {
    async fn capabilities(
        &self,
        req: Request<srv::CapabilityRequest>,
    ) -> Result<Response<srv::CapabilityResponse>, Status> {
        check_auth(&req)?;
        let caps = Capabilities {
            models: vec![rpc::ModelData {
                name: "openconfig-interfaces".into(),
                organization: "OpenConfig working group".into(),
                version: "3.0.0".into(),
            }],
            encodings: vec![Encoding::JsonIetf, Encoding::Json],
            version: srv::GNMI_VERSION.into(),
        };
        Ok(Response::new(srv::CapabilityResponse::from(&caps)))
    }

    async fn get(
        &self,
        req: Request<srv::GetRequest>,
    ) -> Result<Response<srv::GetResponse>, Status> {
        check_auth(&req)?;
        let get = rpc::GetRequest::try_from(req.get_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let prefix = get.prefix.unwrap_or_default();
        let tree = lock(&self.tree)?;
        let mut notifications = Vec::new();
        for path in &get.paths {
            let full = prefix
                .join(path)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let leaves: Vec<Leaf> = snapshot(&tree, std::slice::from_ref(&full))
                .into_iter()
                .map(|u| Leaf::new(u.path, u.value))
                .collect();
            if leaves.is_empty() {
                return Err(Status::not_found(format!("{full}")));
            }
            // One JSON_IETF blob per requested path, as EOS answers.
            let blob =
                encode_json_ietf(&full, &leaves).map_err(|e| Status::internal(e.to_string()))?;
            let value = Value::JsonIetf(String::from_utf8_lossy(&blob).into_owned());
            notifications.push(notification(
                vec![Update {
                    path: full,
                    value,
                    duplicates: 0,
                }],
                vec![],
            ));
        }
        Ok(Response::new(srv::GetResponse {
            notification: notifications,
            ..Default::default()
        }))
    }

    async fn set(
        &self,
        req: Request<srv::SetRequest>,
    ) -> Result<Response<srv::SetResponse>, Status> {
        check_auth(&req)?;
        let set = rpc::SetRequest::try_from(req.get_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let prefix = set.prefix.clone().unwrap_or_default();
        let join = |p: &Path| {
            prefix
                .join(p)
                .map_err(|e| Status::invalid_argument(e.to_string()))
        };
        let mut results = Vec::new();
        let mut deleted = Vec::new();
        let mut updated = Vec::new();
        {
            let mut tree = lock(&self.tree)?;
            let mut remove_under = |tree: &mut Tree, root: &Path| {
                let gone: Vec<Path> = tree
                    .keys()
                    .filter(|k| root.is_prefix_of(k))
                    .cloned()
                    .collect();
                for k in gone {
                    tree.remove(&k);
                    deleted.push(k);
                }
            };
            for d in &set.deletes {
                let full = join(d)?;
                remove_under(&mut tree, &full);
                results.push(SetResult {
                    path: full,
                    op: SetOperation::Delete,
                });
            }
            for (ops, op) in [
                (&set.replaces, SetOperation::Replace),
                (&set.updates, SetOperation::Update),
            ] {
                for (path, value) in ops {
                    let full = join(path)?;
                    if op == SetOperation::Replace {
                        remove_under(&mut tree, &full);
                    }
                    let leaves = match value {
                        Value::JsonIetf(s) | Value::Json(s) => {
                            flatten_json_ietf(&full, s.as_bytes(), &KeyTable::default())
                                .map_err(|e| Status::invalid_argument(e.to_string()))?
                        }
                        v => vec![Leaf::new(full.clone(), v.clone())],
                    };
                    for l in leaves {
                        tree.insert(l.path.clone(), l.value.clone());
                        updated.push(Update {
                            path: l.path,
                            value: l.value,
                            duplicates: 0,
                        });
                    }
                    results.push(SetResult { path: full, op });
                }
            }
        }
        deleted.retain(|d| !updated.iter().any(|u| &u.path == d));
        // Nobody listening is fine.
        let _ = self.changes.send(Notification {
            timestamp: 2,
            updates: updated,
            deletes: deleted,
            ..Default::default()
        });
        Ok(Response::new(srv::SetResponse::from(&rpc::SetResponse {
            timestamp: 3,
            results,
        })))
    }

    type SubscribeStream = ResponseStream;

    async fn subscribe(
        &self,
        req: Request<Streaming<srv::SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        check_auth(&req)?;
        let mut requests = req.into_inner();
        let first = requests
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("no SubscriptionList"))?;
        let Some(srv::subscribe_request::Request::Subscribe(list)) = first.request else {
            return Err(Status::invalid_argument(
                "first message must be a SubscriptionList",
            ));
        };
        let sub = rpc::SubscribeRequest::try_from(&list)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let prefix = sub.prefix.clone().unwrap_or_default();
        let pats: Vec<Path> = sub
            .subscriptions
            .iter()
            .map(|s| prefix.join(&s.path))
            .collect::<Result<_, _>>()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (tx, rx) = mpsc::channel(16);
        // Subscribe to changes before the snapshot so none falls between.
        let mut changes = self.changes.subscribe();
        let tree = self.tree.clone();
        let send_snapshot = move |pats: &[Path]| -> Vec<srv::SubscribeResponse> {
            let ups = tree.lock().map(|t| snapshot(&t, pats)).unwrap_or_default();
            let mut out = Vec::new();
            if !sub.updates_only && !ups.is_empty() {
                out.push(update_response(notification(ups, vec![])));
            }
            out.push(sync_response());
            out
        };
        // Test hook: a subscription to /inject-malformed first gets a
        // notification that uses the deprecated `element` path form and one
        // whose value is unset, then the normal data.
        let inject = pats.iter().any(|p| {
            p.elems
                .first()
                .is_some_and(|e| e.name == "inject-malformed")
        });
        tokio::spawn(async move {
            if inject {
                #[allow(deprecated)]
                let old_form = srv::Notification {
                    update: vec![srv::Update {
                        path: Some(srv::Path {
                            element: vec!["system".into()],
                            ..Default::default()
                        }),
                        val: Some(srv::TypedValue {
                            value: Some(srv::typed_value::Value::StringVal("x".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let no_value = srv::Notification {
                    update: vec![srv::Update {
                        path: Some(srv::Path::from(&p("/system/config/hostname"))),
                        val: Some(srv::TypedValue { value: None }),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                for n in [old_form, no_value] {
                    if tx.send(Ok(update_response(n))).await.is_err() {
                        return;
                    }
                }
            }
            for r in send_snapshot(&pats) {
                if tx.send(Ok(r)).await.is_err() {
                    return;
                }
            }
            match sub.mode {
                ListMode::Once => {}
                ListMode::Poll => {
                    while let Ok(Some(m)) = requests.message().await {
                        if let Some(srv::subscribe_request::Request::Poll(_)) = m.request {
                            for r in send_snapshot(&pats) {
                                if tx.send(Ok(r)).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
                ListMode::Stream => {
                    while let Ok(n) = changes.recv().await {
                        let ups: Vec<Update> = n
                            .updates
                            .into_iter()
                            .filter(|u| pats.iter().any(|p| covers(p, &u.path)))
                            .collect();
                        let dels: Vec<Path> = n
                            .deletes
                            .into_iter()
                            .filter(|d| pats.iter().any(|p| covers(p, d)))
                            .collect();
                        if ups.is_empty() && dels.is_empty() {
                            continue;
                        }
                        if tx
                            .send(Ok(update_response(notification(ups, dels))))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn seed() -> Tree {
    let mut t = Tree::new();
    for (name, desc, mtu) in [
        ("Ethernet1", "to spine1", 9214u64),
        ("Ethernet2", "to spine2", 9214),
    ] {
        t.insert(
            p(&format!("/interfaces/interface[name={name}]/name")),
            Value::from(name),
        );
        t.insert(
            p(&format!("/interfaces/interface[name={name}]/config/name")),
            Value::from(name),
        );
        t.insert(
            p(&format!(
                "/interfaces/interface[name={name}]/config/description"
            )),
            Value::from(desc),
        );
        t.insert(
            p(&format!("/interfaces/interface[name={name}]/config/mtu")),
            Value::Uint(mtu),
        );
    }
    t.insert(p("/system/config/hostname"), Value::from("leaf1"));
    t
}

async fn start(tls: Option<ServerTlsConfig>) -> (SocketAddr, Target) {
    let target = Target {
        tree: Arc::new(Mutex::new(seed())),
        changes: broadcast::channel(64).0,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .unwrap_or_else(|e| panic!("tls: {e}"));
    }
    let router = builder.add_service(GNmiServer::new(target.clone()));
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    (addr, target)
}

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

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let fail = |e: rcgen::Error| -> ! { panic!("rcgen: {e}") };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(e));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fabric test CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap_or_else(|e| fail(e)))
            .unwrap_or_else(|e| fail(e));
    let server_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
    let server_params =
        CertificateParams::new(vec!["leaf1.lab".to_string(), "127.0.0.1".to_string()])
            .unwrap_or_else(|e| fail(e));
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .unwrap_or_else(|e| fail(e));
    let client_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
    let client_params =
        CertificateParams::new(vec!["operator".to_string()]).unwrap_or_else(|e| fail(e));
    let client_cert = client_params
        .signed_by(&client_key, &ca)
        .unwrap_or_else(|e| fail(e));
    Pki {
        ca_pem: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
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

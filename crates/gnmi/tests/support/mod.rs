//! A small in-memory gNMI target for the loopback tests and the
//! `mem_target` example: a map of leaves, a username/password check, Get,
//! Set (JSON_IETF values are flattened), and STREAM / ONCE / POLL
//! subscriptions. fabric-sim is the full simulator; this stays small.
//!
//! Test hooks: a Get of `/slow` answers after two seconds; a subscription to
//! `/inject-malformed` first receives two undecodable notifications; one to
//! `/inject-abort` ends with UNAVAILABLE after its sync.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric_gnmi::rpc::{self, Capabilities, ListMode, SetOperation, SetResult};
use fabric_gnmi::server::{self as srv, GNmi, GNmiServer};
use fabric_gnmi::{
    Encoding, KeyTable, Leaf, Notification, Path, Update, Value, encode_json_ietf,
    flatten_json_ietf,
};
use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::transport::{Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

pub const USER: &str = "admin";
pub const PASS: &str = "fabric";

pub type Tree = BTreeMap<Path, Value>;

#[derive(Clone)]
pub struct Target {
    pub tree: Arc<Mutex<Tree>>,
    pub changes: broadcast::Sender<Notification>,
}

pub fn p(s: &str) -> Path {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn check_auth<T>(req: &Request<T>) -> Result<(), Status> {
    if srv::credentials(req) == Some((USER, PASS)) {
        Ok(())
    } else {
        Err(Status::unauthenticated("invalid username or password"))
    }
}

pub fn snapshot(tree: &Tree, pats: &[Path]) -> Vec<Update> {
    tree.iter()
        .filter(|(k, _)| pats.iter().any(|pat| pat.covers(k)))
        .map(|(k, v)| Update {
            path: k.clone(),
            value: v.clone(),
            duplicates: 0,
        })
        .collect()
}

pub fn lock(tree: &Mutex<Tree>) -> Result<std::sync::MutexGuard<'_, Tree>, Status> {
    tree.lock().map_err(|_| Status::internal("state poisoned"))
}

pub fn notification(updates: Vec<Update>, deletes: Vec<Path>) -> srv::Notification {
    srv::Notification::from(&Notification {
        timestamp: 1,
        updates,
        deletes,
        ..Default::default()
    })
}

pub fn update_response(n: srv::Notification) -> srv::SubscribeResponse {
    srv::SubscribeResponse {
        response: Some(srv::subscribe_response::Response::Update(n)),
        extension: Vec::new(),
    }
}

pub fn sync_response() -> srv::SubscribeResponse {
    srv::SubscribeResponse {
        response: Some(srv::subscribe_response::Response::SyncResponse(true)),
        extension: Vec::new(),
    }
}

pub type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<srv::SubscribeResponse, Status>> + Send>>;

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
        // Test hook: a Get of /slow answers after two seconds.
        if get
            .paths
            .iter()
            .any(|p| p.elems.first().is_some_and(|e| e.name == "slow"))
        {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
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
        // Test hook: a subscription to /inject-abort ends with UNAVAILABLE
        // right after its sync, as a restarting target does.
        let abort = pats
            .iter()
            .any(|p| p.elems.first().is_some_and(|e| e.name == "inject-abort"));
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
            if abort {
                let _ = tx.send(Err(Status::unavailable("target restarting"))).await;
                return;
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
                            .filter(|u| pats.iter().any(|p| p.covers(&u.path)))
                            .collect();
                        let dels: Vec<Path> = n
                            .deletes
                            .into_iter()
                            .filter(|d| pats.iter().any(|p| p.covers(d)))
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

pub fn seed() -> Tree {
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

/// Starts the target on an ephemeral loopback port.
pub async fn start(tls: Option<ServerTlsConfig>) -> (SocketAddr, Target) {
    start_on("127.0.0.1:0", tls).await
}

/// Starts the target on `addr` (tests and the example only use loopback).
pub async fn start_on(addr: &str, tls: Option<ServerTlsConfig>) -> (SocketAddr, Target) {
    fabric_gnmi::install_crypto_provider();
    let target = Target {
        tree: Arc::new(Mutex::new(seed())),
        changes: broadcast::channel(64).0,
    };
    let listener = tokio::net::TcpListener::bind(addr)
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

/// A test CA, a server certificate for `leaf1.lab` and 127.0.0.1, and a
/// client certificate, all PEM.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub fn pki() -> Pki {
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

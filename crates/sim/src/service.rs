//! The gNMI service of one device: Capabilities, Get, Set, Subscribe.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fabric_gnmi::rpc::{self, Capabilities, DataType, ModelData};
use fabric_gnmi::server::{self as srv, GNmi};
use fabric_gnmi::{Encoding, Leaf, Notification, Path, Update, Value, encode_json_ietf};
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use crate::device::{Device, SetError, normalize, now_nanos};
use crate::subscribe;
use crate::tree::{DataKind, concrete_head, select};

/// The gNMI service bound to one device.
#[derive(Clone)]
pub struct DeviceService {
    pub(crate) dev: Arc<Device>,
}

/// Models announced in Capabilities: those whose paths the simulator serves.
fn models() -> Vec<ModelData> {
    [
        ("openconfig-interfaces", "3.0.0"),
        ("openconfig-if-ethernet", "2.11.0"),
        ("openconfig-if-ip", "3.1.0"),
        ("openconfig-vlan", "3.2.1"),
        ("openconfig-network-instance", "1.1.0"),
        ("openconfig-bgp", "9.0.0"),
        ("openconfig-system", "1.0.0"),
        ("arista-exp-eos-vxlan", "1.0.0"),
    ]
    .into_iter()
    .map(|(name, version)| ModelData {
        name: name.into(),
        organization: if name.starts_with("arista") {
            "Arista Networks, Inc.".into()
        } else {
            "OpenConfig working group".into()
        },
        version: version.into(),
    })
    .collect()
}

pub(crate) fn set_status(e: &SetError) -> Status {
    Status::new(e.code(), e.to_string())
}

pub(crate) fn path_status(e: SetError) -> Status {
    Status::invalid_argument(e.to_string())
}

/// Largest number of updates per notification (about 10 KB on the wire).
/// A gRPC client's receive buffer keeps the capacity of the largest message
/// it decoded for as long as the stream lives (tonic's does): 500-update
/// sync messages cost the operator ~160 KB per device that way, for good.
/// 64 keeps that small, and a 2,800-leaf sync is still ~45 messages.
pub(crate) const CHUNK: usize = 64;

pub(crate) fn notification(updates: Vec<Update>, deletes: Vec<Path>) -> srv::Notification {
    srv::Notification::from(&Notification {
        timestamp: now_nanos(),
        updates,
        deletes,
        ..Default::default()
    })
}

impl DeviceService {
    /// Auth, reachability and injected latency, for every RPC.
    async fn admit<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if self.dev.is_down() {
            return Err(Status::unavailable(format!(
                "{} is unreachable",
                self.dev.name
            )));
        }
        let latency = self.dev.faults().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(c) = &self.dev.credentials {
            let md = req.metadata();
            let user = md.get("username").and_then(|v| v.to_str().ok());
            let pass = md.get("password").and_then(|v| v.to_str().ok());
            if user != Some(c.username.as_str()) || pass != Some(c.password.as_str()) {
                tracing::debug!(device = %self.dev.name, "rejected credentials");
                return Err(Status::unauthenticated("invalid username or password"));
            }
        }
        Ok(())
    }
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<srv::SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl GNmi for DeviceService {
    async fn capabilities(
        &self,
        req: Request<srv::CapabilityRequest>,
    ) -> Result<Response<srv::CapabilityResponse>, Status> {
        self.admit(&req).await?;
        let caps = Capabilities {
            models: models(),
            encodings: vec![Encoding::Json, Encoding::JsonIetf],
            version: srv::GNMI_VERSION.into(),
        };
        Ok(Response::new(srv::CapabilityResponse::from(&caps)))
    }

    async fn get(
        &self,
        req: Request<srv::GetRequest>,
    ) -> Result<Response<srv::GetResponse>, Status> {
        self.admit(&req).await?;
        let get = rpc::GetRequest::try_from(req.get_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let json_ietf = match get.encoding {
            Encoding::JsonIetf => true,
            Encoding::Json => false,
            other => {
                return Err(Status::unimplemented(format!(
                    "encoding {other} is not supported: use JSON or JSON_IETF"
                )));
            }
        };
        let kind = match get.data_type {
            DataType::All => DataKind::All,
            DataType::Config => DataKind::Config,
            DataType::State | DataType::Operational => DataKind::State,
        };
        let prefix = match &get.prefix {
            Some(p) => normalize(p).map_err(path_status)?,
            None => Path::root(),
        };
        let tree = self.dev.snapshot();
        let paths = if get.paths.is_empty() {
            vec![Path::root()]
        } else {
            get.paths.clone()
        };
        let mut notifications = Vec::with_capacity(paths.len());
        for p in &paths {
            let full = prefix
                .join(p)
                .map_err(|e| Status::invalid_argument(format!("{p}: {e}")))
                .and_then(|j| normalize(&j).map_err(path_status))?;
            if !self.dev.schema.knows_node(&full) {
                return Err(Status::not_found(format!(
                    "unknown path {full}: no such node in the device schema"
                )));
            }
            // One JSON blob per concrete node the path selects (one for a
            // plain path, one per instance for a wildcard), as EOS answers.
            let mut groups: Vec<(Path, Vec<Leaf>)> = Vec::new();
            for (leaf, value) in select(&tree, &full, kind) {
                let head = concrete_head(&full, leaf);
                match groups.last_mut() {
                    Some((h, leaves)) if *h == head => {
                        leaves.push(Leaf::new(leaf.clone(), value.clone()))
                    }
                    _ => groups.push((head, vec![Leaf::new(leaf.clone(), value.clone())])),
                }
            }
            if groups.is_empty() {
                return Err(Status::not_found(format!("no data at {full}")));
            }
            let mut updates = Vec::with_capacity(groups.len());
            for (head, leaves) in groups {
                let blob = encode_json_ietf(&head, &leaves)
                    .map_err(|e| Status::internal(format!("encoding {head}: {e}")))?;
                let text = String::from_utf8_lossy(&blob).into_owned();
                updates.push(Update {
                    path: head,
                    value: if json_ietf {
                        Value::JsonIetf(text)
                    } else {
                        Value::Json(text)
                    },
                    duplicates: 0,
                });
            }
            notifications.push(notification(updates, vec![]));
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
        self.admit(&req).await?;
        let set = rpc::SetRequest::try_from(req.get_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        match self.dev.apply_set(&set) {
            Ok(resp) => {
                tracing::debug!(device = %self.dev.name, ops = resp.results.len(), "set applied");
                Ok(Response::new(srv::SetResponse::from(&resp)))
            }
            Err(e) => {
                tracing::debug!(device = %self.dev.name, error = %e, "set refused");
                Err(set_status(&e))
            }
        }
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        req: Request<Streaming<srv::SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        self.admit(&req).await?;
        let mut inbound = req.into_inner();
        let first = inbound.message().await?.ok_or_else(|| {
            Status::invalid_argument("Subscribe closed before its SubscriptionList")
        })?;
        let Some(srv::subscribe_request::Request::Subscribe(list)) = first.request else {
            return Err(Status::invalid_argument(
                "the first SubscribeRequest must carry a SubscriptionList",
            ));
        };
        let list = rpc::SubscribeRequest::try_from(&list)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let plan = subscribe::Plan::new(&self.dev, &list)?;
        let (tx, rx) = mpsc::channel(64);
        let dev = self.dev.clone();
        let producer = Box::pin(async move {
            let sent = subscribe::run(dev.clone(), plan, inbound, tx).await;
            tracing::debug!(device = %dev.name, sent, "subscription ended");
        });
        Ok(Response::new(Box::pin(Driven {
            producer: Some(producer),
            rx,
            dev: self.dev.clone(),
        })))
    }
}

/// A Subscribe response stream that runs its producer itself: the HTTP/2
/// connection task that polls the stream also polls the subscription, so
/// a change reaches the socket without a hop through another task. The
/// producer only runs while the stream is polled, so a client that stops
/// reading (HTTP/2 flow control) stops it, lags the change broadcast and is
/// ended with RESOURCE_EXHAUSTED, as before; dropping the stream (client
/// gone) drops the producer.
struct Driven {
    producer: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    rx: mpsc::Receiver<Result<srv::SubscribeResponse, Status>>,
    dev: Arc<Device>,
}

impl Stream for Driven {
    type Item = Result<srv::SubscribeResponse, Status>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if let Some(p) = self.producer.as_mut()
            && p.as_mut().poll(cx).is_ready()
        {
            self.producer = None;
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => {
                if matches!(
                    &item,
                    Ok(srv::SubscribeResponse {
                        response: Some(srv::subscribe_response::Response::Update(_)),
                        ..
                    })
                ) {
                    self.dev
                        .counters
                        .notifications_sent
                        .fetch_add(1, Ordering::Relaxed);
                }
                // The producer may be waiting for room in the channel: it
                // runs again on the next poll, which the caller makes soon
                // because this one returned an item.
                Poll::Ready(Some(item))
            }
            other => other,
        }
    }
}

/// Default SAMPLE interval when the client leaves it to the target.
pub(crate) const DEFAULT_SAMPLE: Duration = Duration::from_secs(10);
/// Shortest SAMPLE/heartbeat interval served, so a zero-ish interval
/// cannot spin a core.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(10);

//! Subscribe: STREAM (ON_CHANGE, SAMPLE, TARGET_DEFINED, heartbeats,
//! updates_only), ONCE and POLL, over a device's change broadcast.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use fabric_gnmi::rpc::{ListMode, StreamMode, SubscribeRequest};
use fabric_gnmi::server as srv;
use fabric_gnmi::{Encoding, Path, Value};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tonic::{Status, Streaming};

use crate::device::now_nanos;
use crate::device::{Change, Device, normalize, refused};
use crate::service::{CHUNK, DEFAULT_SAMPLE, MIN_INTERVAL, path_status};
use crate::tree::{DataKind, Tree, covers, select};

/// How one subscription of the list is served.
#[derive(Debug, Clone, PartialEq)]
pub struct SubPlan {
    pub path: Path,
    pub on_change: bool,
    /// SAMPLE interval (`None` for ON_CHANGE).
    pub sample: Option<Duration>,
    pub suppress_redundant: bool,
    pub heartbeat: Option<Duration>,
}

/// A validated SubscriptionList.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mode: ListMode,
    pub updates_only: bool,
    pub subs: Vec<SubPlan>,
}

fn interval(d: Option<Duration>) -> Duration {
    d.unwrap_or(DEFAULT_SAMPLE).max(MIN_INTERVAL)
}

impl Plan {
    /// Checks the list against the device: known paths, supported
    /// encoding, and ON_CHANGE only where the device offers it.
    ///
    /// A refused ON_CHANGE fails the whole Subscribe with INVALID_ARGUMENT
    /// and `failed to subscribe to PATH: ...`, the form EOS uses for the
    /// subscriptions it cannot serve; TARGET_DEFINED on such a path becomes
    /// SAMPLE (10 s unless the client gave an interval).
    pub fn new(dev: &Device, list: &SubscribeRequest) -> Result<Plan, Status> {
        match list.encoding {
            Encoding::Json | Encoding::JsonIetf | Encoding::Proto => {}
            other => {
                return Err(Status::unimplemented(format!(
                    "encoding {other} is not supported: use JSON, JSON_IETF or PROTO"
                )));
            }
        }
        if list.subscriptions.is_empty() {
            return Err(Status::invalid_argument(
                "SubscriptionList has no subscription",
            ));
        }
        let prefix = match &list.prefix {
            Some(p) => normalize(p).map_err(path_status)?,
            None => Path::root(),
        };
        let mut subs = Vec::with_capacity(list.subscriptions.len());
        for s in &list.subscriptions {
            let path = prefix
                .join(&s.path)
                .map_err(|e| Status::invalid_argument(format!("{}: {e}", s.path)))
                .and_then(|j| normalize(&j).map_err(path_status))?;
            if !dev.schema.knows_node(&path) {
                return Err(Status::invalid_argument(format!(
                    "failed to subscribe to {path}: unknown path"
                )));
            }
            let refusal = refused(&dev.on_change_refused, &path);
            let (on_change, sample) = match (list.mode, s.mode) {
                (ListMode::Stream, StreamMode::OnChange) => {
                    if let Some(pattern) = refusal {
                        return Err(Status::invalid_argument(format!(
                            "failed to subscribe to {path}: ON_CHANGE is not supported for this path (it is under {pattern}); subscribe with SAMPLE"
                        )));
                    }
                    (true, None)
                }
                (ListMode::Stream, StreamMode::TargetDefined) if refusal.is_none() => (true, None),
                (ListMode::Stream, _) => (false, Some(interval(s.sample_interval))),
                _ => (false, None),
            };
            subs.push(SubPlan {
                path,
                on_change,
                sample,
                suppress_redundant: s.suppress_redundant,
                heartbeat: s.heartbeat_interval.map(|h| h.max(MIN_INTERVAL)),
            });
        }
        Ok(Plan {
            mode: list.mode,
            updates_only: list.updates_only,
            subs,
        })
    }
}

/// Most queued changes taken at once by a subscriber.
const DRAIN: usize = 256;

type Tx = mpsc::Sender<Result<srv::SubscribeResponse, Status>>;

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

/// A leaf as a protobuf update, converted straight from the tree's
/// references: the stream's hot path clones each leaf once.
fn pb_update(path: &Path, value: &Value) -> srv::Update {
    srv::Update {
        path: Some(pb_path(path)),
        val: Some(srv::TypedValue::from(value)),
        ..Default::default()
    }
}

/// `srv::Path::from(&Path)` with `as_str().to_owned()` for each name: the
/// generic conversion goes through `Display` (`to_string`), which showed up
/// in profiles of the stream's hot path.
fn pb_path(path: &Path) -> srv::Path {
    srv::Path {
        origin: path.origin.as_deref().unwrap_or_default().to_owned(),
        elem: path
            .elems
            .iter()
            .map(|e| srv::PathElem {
                name: e.name.as_str().to_owned(),
                key: e
                    .keys
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                    .collect(),
            })
            .collect(),
        ..Default::default()
    }
}

fn pb_notification(update: Vec<srv::Update>, delete: Vec<srv::Path>) -> srv::Notification {
    srv::Notification {
        timestamp: now_nanos(),
        update,
        delete,
        ..Default::default()
    }
}

/// Sends updates and deletes in notifications of at most [`CHUNK`] updates.
/// Returns the number of notifications sent, or `None` if the client is gone.
async fn send_changes(tx: &Tx, updates: Vec<srv::Update>, deletes: Vec<srv::Path>) -> Option<u64> {
    if updates.is_empty() && deletes.is_empty() {
        return Some(0);
    }
    let mut sent = 0;
    let mut deletes = Some(deletes);
    let mut rest = updates;
    loop {
        let tail = rest.split_off(rest.len().min(CHUNK));
        let n = pb_notification(rest, deletes.take().unwrap_or_default());
        tx.send(Ok(update_response(n))).await.ok()?;
        sent += 1;
        if tail.is_empty() {
            return Some(sent);
        }
        rest = tail;
    }
}

/// Current values under the given paths, each leaf once.
fn current(tree: &Tree, paths: &[&Path]) -> Vec<srv::Update> {
    if let [one] = paths {
        return select(tree, one, DataKind::All)
            .map(|(p, v)| pb_update(p, v))
            .collect();
    }
    let mut out: BTreeMap<&Path, &Value> = BTreeMap::new();
    for p in paths {
        out.extend(select(tree, p, DataKind::All));
    }
    out.into_iter().map(|(p, v)| pb_update(p, v)).collect()
}

/// Serves one Subscribe RPC until it ends; returns the notifications sent.
pub async fn run(
    dev: Arc<Device>,
    plan: Plan,
    inbound: Streaming<srv::SubscribeRequest>,
    tx: Tx,
) -> u64 {
    let mut kill = dev.kill.subscribe();
    kill.borrow_and_update();
    match plan.mode {
        ListMode::Once => {
            let tree = dev.snapshot();
            let paths: Vec<&Path> = plan.subs.iter().map(|s| &s.path).collect();
            let sent = send_changes(&tx, current(&tree, &paths), vec![])
                .await
                .unwrap_or(0);
            let _ = tx.send(Ok(sync_response())).await;
            sent
        }
        ListMode::Poll => poll(&dev, &plan, inbound, &tx, &mut kill).await,
        ListMode::Stream => stream(&dev, &plan, inbound, &tx, &mut kill).await,
    }
}

async fn dropped(tx: &Tx) {
    let _ = tx
        .send(Err(Status::unavailable(
            "stream dropped by the target (fault injection)",
        )))
        .await;
}

async fn poll(
    dev: &Device,
    plan: &Plan,
    mut inbound: Streaming<srv::SubscribeRequest>,
    tx: &Tx,
    kill: &mut tokio::sync::watch::Receiver<u64>,
) -> u64 {
    let paths: Vec<&Path> = plan.subs.iter().map(|s| &s.path).collect();
    let mut sent = 0;
    let mut answer = true;
    loop {
        if answer {
            let tree = dev.snapshot();
            match send_changes(tx, current(&tree, &paths), vec![]).await {
                Some(n) => sent += n,
                None => return sent,
            }
            if tx.send(Ok(sync_response())).await.is_err() {
                return sent;
            }
        }
        tokio::select! {
            _ = kill.changed() => { dropped(tx).await; return sent; }
            _ = tx.closed() => return sent,
            msg = inbound.message() => match msg {
                Ok(Some(m)) => match m.request {
                    Some(srv::subscribe_request::Request::Poll(_)) => answer = true,
                    _ => {
                        let _ = tx.send(Err(Status::invalid_argument(
                            "a POLL subscription only accepts Poll messages"))).await;
                        return sent;
                    }
                },
                Ok(None) | Err(_) => return sent,
            },
        }
    }
}

/// Per SAMPLE subscription: what was sent last (for suppress_redundant and
/// for deletes) and when the next sample and heartbeat are due.
struct Sampler {
    idx: usize,
    last: HashMap<Path, Value>,
    next: Instant,
    next_heartbeat: Option<Instant>,
}

async fn stream(
    dev: &Device,
    plan: &Plan,
    // Kept open, never read: dropping it could reset the client's stream.
    _inbound: Streaming<srv::SubscribeRequest>,
    tx: &Tx,
    kill: &mut tokio::sync::watch::Receiver<u64>,
) -> u64 {
    let (tree, mut changes) = dev.snapshot_and_subscribe();
    let mut sent = 0;
    let now = Instant::now();
    let mut samplers: Vec<Sampler> = Vec::new();
    // ON_CHANGE heartbeats: (subscription, next due).
    let mut heartbeats: Vec<(usize, Instant)> = Vec::new();
    for (idx, s) in plan.subs.iter().enumerate() {
        if let Some(iv) = s.sample {
            let last = if plan.updates_only {
                HashMap::new()
            } else {
                select(&tree, &s.path, DataKind::All)
                    .map(|(p, v)| (p.clone(), v.clone()))
                    .collect()
            };
            samplers.push(Sampler {
                idx,
                last,
                next: now + iv,
                next_heartbeat: s.heartbeat.map(|h| now + h),
            });
        } else if let Some(h) = s.heartbeat {
            heartbeats.push((idx, now + h));
        }
    }
    if !plan.updates_only {
        let paths: Vec<&Path> = plan.subs.iter().map(|s| &s.path).collect();
        match send_changes(tx, current(&tree, &paths), vec![]).await {
            Some(n) => sent += n,
            None => return sent,
        }
    }
    drop(tree);
    if tx.send(Ok(sync_response())).await.is_err() {
        return sent;
    }
    let on_change: Vec<&Path> = plan
        .subs
        .iter()
        .filter(|s| s.on_change)
        .map(|s| &s.path)
        .collect();
    loop {
        let next_due = samplers
            .iter()
            .map(|s| s.next)
            .chain(heartbeats.iter().map(|h| h.1))
            .min();
        let timer = async {
            match next_due {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        // Neither the request side nor `tx.closed()` is watched: a STREAM
        // client has nothing more to say (some close their side at once,
        // which must not end the subscription), and the stream that owns
        // this future is dropped with the client. Fewer branches, less work
        // per notification.
        tokio::select! {
            _ = kill.changed() => { dropped(tx).await; return sent; }
            r = changes.recv() => match r {
                Ok(change) => {
                    // Take every change already queued, so a burst goes out
                    // as one batch of messages (one write for many
                    // notifications) rather than one wake-up each.
                    let mut batch = vec![change];
                    while batch.len() < DRAIN {
                        match changes.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(_) => break,
                        }
                    }
                    for change in batch {
                        let (ups, dels) = filter_change(&change, &on_change, &dev.on_change_refused);
                        match send_changes(tx, ups, dels).await {
                            Some(n) => sent += n,
                            None => return sent,
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(device = %dev.name, missed = n, "slow subscriber dropped");
                    let _ = tx.send(Err(Status::resource_exhausted(format!(
                        "subscriber fell {n} changes behind; subscribe again to resync")))).await;
                    return sent;
                }
                Err(broadcast::error::RecvError::Closed) => return sent,
            },
            () = timer => {
                let now = Instant::now();
                let tree = dev.snapshot();
                for s in samplers.iter_mut().filter(|s| s.next <= now) {
                    let sub = &plan.subs[s.idx];
                    let beat = s.next_heartbeat.is_some_and(|h| h <= now);
                    let (ups, dels) = sample(&tree, sub, &mut s.last, beat);
                    match send_changes(tx, ups, dels).await {
                        Some(n) => sent += n,
                        None => return sent,
                    }
                    s.next = now + sub.sample.unwrap_or(DEFAULT_SAMPLE);
                    if beat {
                        s.next_heartbeat = sub.heartbeat.map(|h| now + h);
                    }
                }
                for (idx, due) in heartbeats.iter_mut().filter(|h| h.1 <= now) {
                    let sub = &plan.subs[*idx];
                    match send_changes(tx, current(&tree, &[&sub.path]), vec![]).await {
                        Some(n) => sent += n,
                        None => return sent,
                    }
                    *due = now + sub.heartbeat.unwrap_or(DEFAULT_SAMPLE);
                }
            }
        }
    }
}

/// The part of a change an ON_CHANGE subscriber sees: leaves under its
/// paths, minus those under patterns where the device refuses ON_CHANGE.
fn filter_change(
    change: &Change,
    paths: &[&Path],
    refused: &[Path],
) -> (Vec<srv::Update>, Vec<srv::Path>) {
    let wanted =
        |p: &Path| paths.iter().any(|s| covers(s, p)) && !refused.iter().any(|r| covers(r, p));
    let ups = change
        .updates
        .iter()
        .filter(|(p, _)| wanted(p))
        .map(|(p, v)| pb_update(p, v))
        .collect();
    let dels = change
        .deletes
        .iter()
        .filter(|p| wanted(p))
        .map(pb_path)
        .collect();
    (ups, dels)
}

/// One SAMPLE tick: every value (or, with suppress_redundant and no
/// heartbeat due, only the changed ones) and deletes for vanished leaves.
fn sample(
    tree: &Tree,
    sub: &SubPlan,
    last: &mut HashMap<Path, Value>,
    heartbeat: bool,
) -> (Vec<srv::Update>, Vec<srv::Path>) {
    let mut now: HashMap<Path, Value> = HashMap::with_capacity(last.len());
    let mut ups = Vec::new();
    for (p, v) in select(tree, &sub.path, DataKind::All) {
        let changed = last.get(p) != Some(v);
        if changed || !sub.suppress_redundant || heartbeat {
            ups.push(pb_update(p, v));
        }
        now.insert(p.clone(), v.clone());
    }
    let dels = last
        .keys()
        .filter(|p| !now.contains_key(*p))
        .map(pb_path)
        .collect();
    *last = now;
    (ups, dels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_proto_path_matches_the_crate_conversion() {
        for s in [
            "/",
            "/interfaces/interface[name=Ethernet1]/config/mtu",
            "openconfig:/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]",
        ] {
            let p: Path = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(pb_path(&p), srv::Path::from(&p), "{s}");
        }
    }

    #[tokio::test]
    async fn changes_go_out_in_notifications_of_at_most_chunk_updates() {
        let (tx, mut rx) = mpsc::channel(16);
        let leaf = |i: usize| -> Path {
            format!("/interfaces/interface[name=Ethernet{i}]/config/description")
                .parse()
                .unwrap_or_default()
        };
        let updates: Vec<srv::Update> = (0..2 * CHUNK + 3)
            .map(|i| pb_update(&leaf(i), &Value::from("x")))
            .collect();
        let deletes = vec![pb_path(&leaf(9999))];
        assert_eq!(send_changes(&tx, updates, deletes).await, Some(3));
        drop(tx);
        let mut sizes = Vec::new();
        while let Some(Ok(r)) = rx.recv().await {
            let Some(srv::subscribe_response::Response::Update(n)) = r.response else {
                panic!("not an update: {r:?}");
            };
            sizes.push((n.update.len(), n.delete.len()));
        }
        // The deletes ride in the first notification; every update is sent once.
        assert_eq!(sizes, vec![(CHUNK, 1), (CHUNK, 0), (3, 0)]);
    }
}

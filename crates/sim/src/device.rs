//! One simulated device: its tree, the Set transaction, change broadcast,
//! and the faults the control endpoint injects.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fabric_gnmi::rpc::{SetOperation, SetRequest, SetResponse, SetResult};
use fabric_gnmi::{Path, Value, flatten_json_ietf};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::schema::{Schema, SchemaError};
use crate::topology::{Credentials, DeviceSpec};
use crate::tree::{Tree, covers};

/// Changes a subscriber may fall behind by before its stream is ended (it
/// then reconnects and resyncs): slow subscribers never block a Set.
const CHANGE_BUFFER: usize = 1024;

/// One committed change: the leaves a Set (or a reset) created or modified,
/// and those it removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub timestamp: i64,
    pub updates: Vec<(Path, Value)>,
    pub deletes: Vec<Path>,
}

/// Why a Set was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{path}: {message}")]
    BadValue { path: Path, message: String },
    #[error("{path}: origin {origin:?} is not served (use openconfig or none)")]
    Origin { path: Path, origin: String },
    #[error("{path}: {message}")]
    BadPath { path: Path, message: String },
    #[error("injected failure (fault injection: {remaining} more Sets will fail)")]
    Injected { code: tonic::Code, remaining: u32 },
}

impl SetError {
    pub fn code(&self) -> tonic::Code {
        match self {
            SetError::Injected { code, .. } => *code,
            _ => tonic::Code::InvalidArgument,
        }
    }
}

/// Faults set through the control endpoint or [`crate::DeviceHandle`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before every RPC is answered.
    pub latency: Duration,
    /// The next `fail_sets` Sets fail with `fail_code`.
    pub fail_sets: u32,
    pub fail_code: Option<tonic::Code>,
}

/// Counters readable through the handle and the control endpoint.
#[derive(Debug, Default)]
pub struct Counters {
    pub sets_applied: AtomicU64,
    pub sets_rejected: AtomicU64,
    pub notifications_sent: AtomicU64,
}

pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A request path as the tree stores it: no origin (or `openconfig`), no
/// module prefixes.
pub fn normalize(path: &Path) -> Result<Path, SetError> {
    match path.origin.as_deref() {
        None | Some("openconfig") | Some("") => {
            let mut p = path.without_module_prefixes();
            p.origin = None;
            Ok(p)
        }
        Some(o) => Err(SetError::Origin {
            path: path.clone(),
            origin: o.to_string(),
        }),
    }
}

/// A simulated device. Shared by its gRPC service, its listener task, the
/// control endpoint and the library handle.
pub struct Device {
    pub name: String,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) on_change_refused: Vec<Path>,
    pub(crate) schema: Arc<Schema>,
    initial: Tree,
    tree: Mutex<Tree>,
    changes: broadcast::Sender<Arc<Change>>,
    pub(crate) counters: Counters,
    faults: Mutex<Faults>,
    /// Bumped to end every open Subscribe stream.
    pub(crate) kill: watch::Sender<u64>,
    /// `Some(until)` while the device is unreachable.
    pub(crate) down: watch::Sender<Option<Instant>>,
    pub(crate) addr: Mutex<Option<SocketAddr>>,
    pub(crate) cert_pem: Mutex<Option<String>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-applied tree (the
    // new tree is swapped in whole), so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Device {
    pub fn new(spec: &DeviceSpec) -> Device {
        Device {
            name: spec.name.clone(),
            credentials: spec.credentials.clone(),
            on_change_refused: spec.on_change_refused.clone(),
            schema: spec.schema.clone(),
            initial: spec.initial.clone(),
            tree: Mutex::new(spec.initial.clone()),
            changes: broadcast::channel(CHANGE_BUFFER).0,
            counters: Counters::default(),
            faults: Mutex::new(Faults::default()),
            kill: watch::channel(0).0,
            down: watch::channel(None).0,
            addr: Mutex::new(None),
            cert_pem: Mutex::new(None),
        }
    }

    /// The current tree (an O(1) snapshot).
    /// The tree the device started with (what `reset` goes back to).
    pub fn initial(&self) -> &Tree {
        &self.initial
    }

    pub fn snapshot(&self) -> Tree {
        lock(&self.tree).clone()
    }

    /// A snapshot and a receiver of every change after it, taken together
    /// so a subscriber neither misses nor repeats a change.
    pub fn snapshot_and_subscribe(&self) -> (Tree, broadcast::Receiver<Arc<Change>>) {
        let tree = lock(&self.tree);
        (tree.clone(), self.changes.subscribe())
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut lock(&self.faults));
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        *lock(&self.addr)
    }

    pub fn is_down(&self) -> bool {
        self.down
            .borrow()
            .is_some_and(|until| until > Instant::now())
    }

    /// Ends every open Subscribe stream of the device (UNAVAILABLE).
    pub fn drop_streams(&self) {
        self.kill.send_modify(|g| *g += 1);
    }

    /// Back to the initial tree; subscribers see the difference.
    pub fn reset(&self) {
        let mut tree = lock(&self.tree);
        let (updates, deletes) = tree.diff(&self.initial);
        let change = Change {
            timestamp: now_nanos(),
            updates,
            deletes,
        };
        *tree = self.initial.clone();
        if !change.updates.is_empty() || !change.deletes.is_empty() {
            let _ = self.changes.send(Arc::new(change));
        }
    }

    /// Applies a Set atomically: every operation or none (spec 3.4.3: deletes,
    /// then replaces, then updates, all against one copy of the tree).
    pub fn apply_set(&self, req: &SetRequest) -> Result<SetResponse, SetError> {
        {
            let mut f = lock(&self.faults);
            if f.fail_sets > 0 {
                f.fail_sets -= 1;
                self.counters.sets_rejected.fetch_add(1, Ordering::Relaxed);
                return Err(SetError::Injected {
                    code: f.fail_code.unwrap_or(tonic::Code::Unavailable),
                    remaining: f.fail_sets,
                });
            }
        }
        let result = self.apply_set_inner(req);
        let counter = match &result {
            Ok(_) => &self.counters.sets_applied,
            Err(_) => &self.counters.sets_rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    fn apply_set_inner(&self, req: &SetRequest) -> Result<SetResponse, SetError> {
        let prefix = match &req.prefix {
            Some(p) => normalize(p)?,
            None => Path::root(),
        };
        let full = |p: &Path| -> Result<Path, SetError> {
            let joined = prefix.join(p).map_err(|e| SetError::BadPath {
                path: p.clone(),
                message: e.to_string(),
            })?;
            normalize(&joined)
        };
        // Parse and check everything before taking the lock.
        let deletes = req
            .deletes
            .iter()
            .map(&full)
            .collect::<Result<Vec<_>, _>>()?;
        for d in &deletes {
            if !self.schema.knows_node(d) {
                return Err(SchemaError::Unknown { path: d.clone() }.into());
            }
        }
        let mut writes: Vec<Write> = Vec::new();
        for (op, list) in [
            (SetOperation::Replace, &req.replaces),
            (SetOperation::Update, &req.updates),
            (SetOperation::UnionReplace, &req.union_replaces),
        ] {
            for (p, v) in list {
                let at = full(p)?;
                if at.has_wildcards() {
                    return Err(SetError::BadPath {
                        path: at,
                        message: "wildcards are not allowed in a Set update".into(),
                    });
                }
                let leaves = self.leaves_of(&at, v)?;
                writes.push((op, at, leaves));
            }
        }

        // Everything that can fail was checked above, so the tree is changed
        // in place under the lock: no reader sees a half-applied Set, and
        // map nodes no snapshot shares are not copied. `touched` keeps each
        // touched leaf's value before the Set and after it, so the difference
        // is reported without looking the leaves up again.
        let mut results = Vec::with_capacity(deletes.len() + writes.len());
        let mut tree = lock(&self.tree);
        let mut touched = Touched::new();
        for d in deletes {
            remove_under(&mut tree, &d, &mut touched);
            results.push(SetResult {
                path: d,
                op: SetOperation::Delete,
            });
        }
        for (op, at, leaves) in writes {
            if op != SetOperation::Update {
                remove_under(&mut tree, &at, &mut touched);
            }
            for (p, v) in leaves {
                let old = tree.insert(p.clone(), v.clone());
                touched
                    .entry(p)
                    .and_modify(|(_, after)| *after = Some(v.clone()))
                    .or_insert_with(|| (old, Some(v)));
            }
            results.push(SetResult { path: at, op });
        }
        let mut change = Change {
            timestamp: now_nanos(),
            updates: Vec::new(),
            deletes: Vec::new(),
        };
        for (p, (before, after)) in touched {
            match after {
                Some(new) if before.as_deref() != Some(&new) => change.updates.push((p, new)),
                None if before.is_some() => change.deletes.push(p),
                _ => {}
            }
        }
        if !change.updates.is_empty() || !change.deletes.is_empty() {
            // No receiver is not an error: nobody is subscribed.
            let _ = self.changes.send(Arc::new(change));
        }
        drop(tree);
        Ok(SetResponse {
            timestamp: now_nanos(),
            results,
        })
    }

    /// The leaves a Set value writes at `at`, checked against the schema.
    fn leaves_of(&self, at: &Path, v: &Value) -> Result<Vec<(Path, Value)>, SetError> {
        let raw: Vec<(Path, Value)> = match v {
            Value::Json(s) | Value::JsonIetf(s) => {
                flatten_json_ietf(at, s.as_bytes(), &fabric_drift::key_table())
                    .map_err(|e| SetError::BadValue {
                        path: at.clone(),
                        message: e.to_string(),
                    })?
                    .into_iter()
                    .map(|l| (l.path.without_module_prefixes(), l.value))
                    .collect()
            }
            other => vec![(at.clone(), other.clone())],
        };
        raw.into_iter()
            .map(|(p, v)| {
                let v = self.schema.check_leaf(&p, v)?;
                Ok((p, v))
            })
            .collect()
    }
}

/// One replace/update of a Set: the operation, its path, the leaves it writes.
type Write = (SetOperation, Path, Vec<(Path, Value)>);

/// The leaves a Set touched: each one's value before the Set and after it.
type Touched = BTreeMap<Path, (Option<Arc<Value>>, Option<Value>)>;

/// Removes every leaf at or under `at` (wildcards allowed), remembering
/// the value each had before the Set.
fn remove_under(tree: &mut Tree, at: &Path, touched: &mut Touched) {
    let gone: Vec<Path> = crate::tree::select(tree, at, crate::tree::DataKind::All)
        .map(|(p, _)| p.clone())
        .collect();
    for p in gone {
        let old = tree.remove(&p);
        touched
            .entry(p)
            .and_modify(|(_, after)| *after = None)
            .or_insert((old, None));
    }
}

/// Is ON_CHANGE refused for leaves at `path` on this device?
pub fn refused(patterns: &[Path], path: &Path) -> Option<Path> {
    patterns.iter().find(|pat| covers(pat, path)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn device() -> Device {
        let topo = Topology::generate(1, 0).expect("generate");
        Device::new(&topo.devices[0])
    }

    #[test]
    fn set_is_atomic_and_reports_the_bad_path() {
        let d = device();
        let (_, mut rx) = d.snapshot_and_subscribe();
        let before = d.snapshot();
        let req = SetRequest {
            updates: vec![
                (
                    p("/interfaces/interface[name=Ethernet1]/config/description"),
                    Value::from("x"),
                ),
                (
                    p("/interfaces/interface[name=Ethernet1]/config/mtu"),
                    Value::from("big"),
                ),
            ],
            ..Default::default()
        };
        let err = d
            .apply_set(&req)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("/interfaces/interface[name=Ethernet1]/config/mtu"),
            "{err}"
        );
        assert_eq!(d.snapshot(), before);
        assert!(rx.try_recv().is_err());
        assert_eq!(d.counters.sets_applied.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_set_reports_each_leaf_by_its_value_before_and_after_the_whole_set() {
        let d = device();
        let (tree, mut rx) = d.snapshot_and_subscribe();
        let desc = p("/interfaces/interface[name=Ethernet3]/config/description");
        let mtu = p("/interfaces/interface[name=Ethernet3]/config/mtu");
        let old_mtu = tree.get(&mtu).cloned().expect("Ethernet3 has an mtu");
        // Replace the container with its own mtu and a new description, then update the
        // description twice: the mtu was removed and written back (no change), the
        // description changed once, to its last value; every other config leaf is deleted.
        let req = SetRequest {
            replaces: vec![(
                p("/interfaces/interface[name=Ethernet3]/config"),
                Value::JsonIetf(format!(r#"{{"mtu":{old_mtu},"description":"first"}}"#)),
            )],
            updates: vec![
                (desc.clone(), Value::from("second")),
                (desc.clone(), Value::from("third")),
            ],
            ..Default::default()
        };
        d.apply_set(&req).expect("set");
        let change = rx.try_recv().expect("one change");
        assert_eq!(change.updates, vec![(desc, Value::from("third"))]);
        assert!(!change.deletes.contains(&mtu));
        let removed: Vec<&Path> = tree
            .keys()
            .filter(|k| {
                k.to_string()
                    .starts_with("/interfaces/interface[name=Ethernet3]/config/")
            })
            .filter(|k| **k != mtu && k.elems.last().is_some_and(|e| e.name != "description"))
            .collect();
        assert!(!removed.is_empty(), "Ethernet3 has other config leaves");
        assert_eq!(change.deletes.iter().collect::<Vec<_>>(), removed);
        assert!(rx.try_recv().is_err(), "one Set, one change");
    }

    #[test]
    fn delete_replace_update_in_one_change_and_reset() {
        let d = device();
        let (_, mut rx) = d.snapshot_and_subscribe();
        let req = SetRequest {
            prefix: Some(p("/interfaces")),
            deletes: vec![p("/interface[name=Ethernet2]")],
            replaces: vec![(
                p("/interface[name=Ethernet3]/config"),
                Value::JsonIetf(r#"{"openconfig-interfaces:description":"only"}"#.into()),
            )],
            updates: vec![(
                p("/interface[name=Ethernet4]/config/mtu"),
                Value::Uint(1500),
            )],
            union_replaces: vec![],
        };
        let resp = d.apply_set(&req).expect("set");
        assert_eq!(resp.results.len(), 3);
        let t = d.snapshot();
        assert!(!t.keys().any(|k| k.to_string().contains("Ethernet2]")));
        assert_eq!(
            t.get(&p(
                "/interfaces/interface[name=Ethernet3]/config/description"
            )),
            Some(&Value::from("only"))
        );
        assert_eq!(
            t.get(&p("/interfaces/interface[name=Ethernet3]/config/mtu")),
            None
        );
        let change = rx.try_recv().expect("one change");
        assert!(
            change
                .deletes
                .iter()
                .any(|k| k.to_string().contains("Ethernet2]"))
        );
        assert!(change.updates.contains(&(
            p("/interfaces/interface[name=Ethernet4]/config/mtu"),
            Value::Uint(1500)
        )));
        assert!(rx.try_recv().is_err(), "one Set, one change");
        d.reset();
        assert_eq!(d.snapshot(), d.initial);
        let back = rx.try_recv().expect("reset change");
        assert!(
            back.updates
                .iter()
                .any(|(k, _)| k.to_string().contains("Ethernet2]"))
        );
    }

    #[test]
    fn unknown_paths_and_injected_failures() {
        let d = device();
        let req = SetRequest {
            updates: vec![(
                p("/interfaces/interface[name=E1]/confg/mtu"),
                Value::Uint(1),
            )],
            ..Default::default()
        };
        assert!(matches!(
            d.apply_set(&req),
            Err(SetError::Schema(SchemaError::Unknown { .. }))
        ));
        let del = SetRequest {
            deletes: vec![p("/no-such-container")],
            ..Default::default()
        };
        assert!(d.apply_set(&del).is_err());
        d.update_faults(|f| f.fail_sets = 1);
        let ok = SetRequest {
            updates: vec![(p("/system/config/hostname"), Value::from("x"))],
            ..Default::default()
        };
        assert!(matches!(d.apply_set(&ok), Err(SetError::Injected { .. })));
        assert!(d.apply_set(&ok).is_ok());
    }
}

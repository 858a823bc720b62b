//! The control endpoint: plain HTTP/1.1 + JSON for fault injection.
//!
//! | method | route | body | effect |
//! |---|---|---|---|
//! | GET  | /devices | | every device: name, address, reachable, set counts, faults |
//! | GET  | /devices/{name} | | one device |
//! | GET  | /devices/{name}/set-count | | `{"setCount": n}` |
//! | GET  | /devices/{name}/certificate | | the device's TLS certificate (PEM) |
//! | POST | /devices/{name}/drop-streams | | ends its Subscribe streams (UNAVAILABLE) |
//! | POST | /devices/{name}/unreachable | `{"seconds": 5}` | listener closed for that long |
//! | POST | /devices/{name}/latency | `{"ms": 200}` | delay before every answer (0 clears) |
//! | POST | /devices/{name}/fail-sets | `{"count": 2, "code": 14}` | next Sets fail (gRPC code, default 14 UNAVAILABLE) |
//! | POST | /devices/{name}/reset | | back to the initial configuration |
//! | POST | /churn | `{"rate": 1000, "pattern": "/interfaces/interface[name=*]/config/description"}` | out-of-band changes per second over random devices, to string leaves the pattern covers (0 stops); see [`crate::churn`] |
//! | GET  | /churn | | `{"rate": r, "changes": n}` |

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::DeviceHandle;
use crate::churn::Churn;

type Devices = Arc<BTreeMap<String, DeviceHandle>>;
type ChurnSlot = Arc<std::sync::Mutex<Option<Churn>>>;

#[derive(Clone)]
struct Ctl {
    devices: Devices,
    churn: ChurnSlot,
}

impl FromRef<Ctl> for Devices {
    fn from_ref(c: &Ctl) -> Devices {
        c.devices.clone()
    }
}

impl FromRef<Ctl> for ChurnSlot {
    fn from_ref(c: &Ctl) -> ChurnSlot {
        c.churn.clone()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChurnRate {
    rate: f64,
    /// Leaves to change (default [`crate::churn::DEFAULT_PATTERN`]).
    pattern: Option<String>,
}

fn churn_view(slot: &ChurnSlot) -> serde_json::Value {
    let churn = slot.lock().unwrap_or_else(|p| p.into_inner());
    match churn.as_ref() {
        Some(c) => serde_json::json!({"rate": c.rate(), "changes": c.changes()}),
        None => serde_json::json!({"rate": 0.0, "changes": 0}),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceView {
    name: String,
    address: String,
    reachable: bool,
    set_count: u64,
    sets_rejected: u64,
    latency_ms: u64,
    failing_sets: u32,
    tls: bool,
}

fn view(d: &DeviceHandle) -> DeviceView {
    let f = d.faults();
    DeviceView {
        name: d.name().to_string(),
        address: d.addr().to_string(),
        reachable: d.is_reachable(),
        set_count: d.set_count(),
        sets_rejected: d.sets_rejected(),
        latency_ms: u64::try_from(f.latency.as_millis()).unwrap_or(u64::MAX),
        failing_sets: f.fail_sets,
        tls: d.cert_pem().is_some(),
    }
}

fn not_found(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": format!("no device named {name:?}")})),
    )
        .into_response()
}

fn with_device(
    devices: &Devices,
    name: &str,
    f: impl FnOnce(&DeviceHandle) -> Response,
) -> Response {
    match devices.get(name) {
        Some(d) => f(d),
        None => not_found(name),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Unreachable {
    seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Latency {
    ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailSets {
    count: u32,
    code: Option<i32>,
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": message})),
    )
        .into_response()
}

/// The control routes over the devices of one simulator.
pub fn router(devices: BTreeMap<String, DeviceHandle>) -> Router {
    let devices: Devices = Arc::new(devices);
    Router::new()
        .route(
            "/devices",
            get(|State(d): State<Devices>| async move {
                Json(d.values().map(view).collect::<Vec<_>>())
            }),
        )
        .route(
            "/devices/{name}",
            get(|State(d): State<Devices>, UrlPath(name): UrlPath<String>| async move {
                with_device(&d, &name, |dev| Json(view(dev)).into_response())
            }),
        )
        .route(
            "/devices/{name}/set-count",
            get(|State(d): State<Devices>, UrlPath(name): UrlPath<String>| async move {
                with_device(&d, &name, |dev| {
                    Json(serde_json::json!({"setCount": dev.set_count()})).into_response()
                })
            }),
        )
        .route(
            "/devices/{name}/certificate",
            get(|State(d): State<Devices>, UrlPath(name): UrlPath<String>| async move {
                with_device(&d, &name, |dev| match dev.cert_pem() {
                    Some(pem) => pem.into_response(),
                    None => (StatusCode::NOT_FOUND, "device serves plaintext gRPC").into_response(),
                })
            }),
        )
        .route(
            "/devices/{name}/drop-streams",
            post(|State(d): State<Devices>, UrlPath(name): UrlPath<String>| async move {
                with_device(&d, &name, |dev| {
                    dev.drop_streams();
                    tracing::info!(device = %name, "control: streams dropped");
                    Json(view(dev)).into_response()
                })
            }),
        )
        .route(
            "/devices/{name}/reset",
            post(|State(d): State<Devices>, UrlPath(name): UrlPath<String>| async move {
                with_device(&d, &name, |dev| {
                    dev.reset();
                    tracing::info!(device = %name, "control: reset to initial config");
                    Json(view(dev)).into_response()
                })
            }),
        )
        .route(
            "/devices/{name}/unreachable",
            post(
                |State(d): State<Devices>, UrlPath(name): UrlPath<String>, Json(b): Json<Unreachable>| async move {
                    with_device(&d, &name, |dev| {
                        if !(b.seconds.is_finite() && (0.0..=86_400.0).contains(&b.seconds)) {
                            return bad_request(format!("seconds must be within 0..=86400, got {}", b.seconds));
                        }
                        dev.make_unreachable(Duration::from_secs_f64(b.seconds));
                        tracing::info!(device = %name, seconds = b.seconds, "control: unreachable");
                        Json(view(dev)).into_response()
                    })
                },
            ),
        )
        .route(
            "/devices/{name}/latency",
            post(
                |State(d): State<Devices>, UrlPath(name): UrlPath<String>, Json(b): Json<Latency>| async move {
                    with_device(&d, &name, |dev| {
                        dev.set_latency(Duration::from_millis(b.ms));
                        tracing::info!(device = %name, ms = b.ms, "control: latency");
                        Json(view(dev)).into_response()
                    })
                },
            ),
        )
        .route(
            "/devices/{name}/fail-sets",
            post(
                |State(d): State<Devices>, UrlPath(name): UrlPath<String>, Json(b): Json<FailSets>| async move {
                    with_device(&d, &name, |dev| {
                        let code = match b.code {
                            None => None,
                            Some(c) if (1..=16).contains(&c) => Some(tonic::Code::from_i32(c)),
                            Some(c) => return bad_request(format!("code must be a gRPC error code 1..=16, got {c}")),
                        };
                        dev.fail_next_sets(b.count, code);
                        tracing::info!(device = %name, count = b.count, "control: failing next Sets");
                        Json(view(dev)).into_response()
                    })
                },
            ),
        )
        .route(
            "/churn",
            get(|State(c): State<ChurnSlot>| async move { Json(churn_view(&c)) }).post(
                |State(d): State<Devices>, State(c): State<ChurnSlot>, Json(b): Json<ChurnRate>| async move {
                    if !(b.rate.is_finite() && (0.0..=1_000_000.0).contains(&b.rate)) {
                        return bad_request(format!("rate must be within 0..=1000000 changes per second, got {}", b.rate));
                    }
                    let text = b.pattern.as_deref().unwrap_or(crate::churn::DEFAULT_PATTERN);
                    let pattern = match text.parse::<fabric_gnmi::Path>() {
                        Ok(p) => p.without_module_prefixes(),
                        Err(e) => return bad_request(format!("pattern: {e}")),
                    };
                    {
                        let mut slot = c.lock().unwrap_or_else(|p| p.into_inner());
                        // The old task stops when dropped.
                        *slot = (b.rate > 0.0).then(|| Churn::start(d.values().cloned().collect(), b.rate, pattern));
                    }
                    tracing::info!(rate = b.rate, "control: churn");
                    Json(churn_view(&c)).into_response()
                },
            ),
        )
        .with_state(Ctl {
            devices,
            churn: ChurnSlot::default(),
        })
}

//! The operator's HTTP endpoints: `/metrics` (Prometheus), `/healthz` (the process serves),
//! `/readyz` (serving: a standby is ready; a leader once the CRDs are found and its controllers
//! run; the body says which), `/webhooks/netbox` (NetBox's webhooks; 503 on a standby).
//!
//! Readiness is not leadership: with replicas ≥ 2 a standby that were never Ready would keep
//! `helm install --wait`, Argo CD and Flux health from ever passing. Leadership is the
//! `fabric_leader` gauge and the `/readyz` body.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};

use crate::{k8s::netbox::Webhooks, metrics::Metrics};

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match (
        state.ready.load(Ordering::Relaxed),
        state.metrics.is_leader(),
    ) {
        (true, true) => (StatusCode::OK, "ready: leader"),
        (true, false) => (StatusCode::OK, "ready: standby"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

/// Only the leader takes NetBox's webhooks: a standby's sync is not running. 503 makes NetBox
/// retry, and the Service may send the retry to the leader.
async fn leader_only(
    State(metrics): State<Arc<Metrics>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if metrics.is_leader() {
        next.run(request).await
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "5")],
            "standby replica: the leader takes webhooks; retry",
        )
            .into_response()
    }
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn netbox_webhook(
    State(hooks): State<Arc<Webhooks>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let signature = headers
        .get(fabric_netbox::webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let answer = hooks.receive(&body, signature);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, answer.message)
}

/// `POST /webhooks/netbox`: 401 unless `X-Hook-Signature` verifies with a NetBoxSource's
/// webhook secret; 200 once the affected devices' re-sync is queued. `run` serves it behind
/// [`leader_guard`] (503 on a standby).
pub fn netbox_router(hooks: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/webhooks/netbox", post(netbox_webhook))
        .with_state(hooks)
}

/// `router` answered by the leader only (503 on a standby).
pub fn leader_guard(router: Router, metrics: Arc<Metrics>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(metrics, leader_only))
}

/// Serves until the process ends.
pub async fn serve(addr: SocketAddr, router: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: &Router, method: &str, path: &str) -> (StatusCode, String) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_standby_is_ready_and_says_so_and_refuses_webhooks() {
        let metrics = Arc::new(Metrics::new(Arc::new(fabric_engine::Stats::default())));
        let ready = Arc::new(AtomicBool::new(false));
        let webhooks = Router::new().route("/webhooks/netbox", post(|| async { "queued" }));
        let router = router(HttpState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        })
        .merge(leader_guard(webhooks, metrics.clone()));

        assert_eq!(call(&router, "GET", "/healthz").await.0, StatusCode::OK);
        assert_eq!(
            call(&router, "GET", "/readyz").await,
            (StatusCode::SERVICE_UNAVAILABLE, "not ready".into())
        );
        // Serving as a standby: Ready (so rollouts and GitOps health pass), not leading.
        ready.store(true, Ordering::Relaxed);
        assert_eq!(
            call(&router, "GET", "/readyz").await,
            (StatusCode::OK, "ready: standby".into())
        );
        assert_eq!(
            call(&router, "POST", "/webhooks/netbox").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(
            call(&router, "GET", "/metrics")
                .await
                .1
                .contains("fabric_leader 0")
        );

        metrics.set_leader(true);
        assert_eq!(
            call(&router, "GET", "/readyz").await,
            (StatusCode::OK, "ready: leader".into())
        );
        assert_eq!(
            call(&router, "POST", "/webhooks/netbox").await,
            (StatusCode::OK, "queued".into())
        );
        assert!(
            call(&router, "GET", "/metrics")
                .await
                .1
                .contains("fabric_leader 1")
        );
    }
}

//! Prometheus metrics, served at `/metrics` in the text exposition format.
//! Counts and timings only: no ids, no content.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::AppState;

/// The server's metrics (process-wide).
pub(crate) struct Metrics {
    registry: Registry,
    /// Authenticated WebSocket connections open now.
    pub connections: IntGauge,
    /// Messages accepted (committed), duplicates excluded.
    pub messages_accepted: IntCounter,
    /// Deliveries acknowledged by their device.
    pub messages_delivered: IntCounter,
    /// Deliveries queued now (read from the database at scrape time).
    pub queue_depth: IntGauge,
    /// Errors sent to clients, by code.
    pub errors: IntCounterVec,
    /// Seconds from receiving a `send` to answering `accepted` (durable commit included).
    pub send_latency: Histogram,
    /// Requests committed together by the message path's group commit.
    pub batch_size: Histogram,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("curbside".into()), None)?;
    let connections = IntGauge::new("connections", "Authenticated WebSocket connections open now")?;
    let messages_accepted = IntCounter::new("messages_accepted_total", "Messages accepted (committed)")?;
    let messages_delivered = IntCounter::new(
        "messages_delivered_total",
        "Deliveries acknowledged by their device",
    )?;
    let queue_depth = IntGauge::new("queue_depth", "Deliveries waiting in the queue")?;
    let errors = IntCounterVec::new(
        Opts::new("errors_total", "Errors sent to clients, by code"),
        &["code"],
    )?;
    let send_latency = Histogram::with_opts(
        HistogramOpts::new(
            "send_latency_seconds",
            "From receiving a send to answering accepted",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]),
    )?;
    let batch_size = Histogram::with_opts(
        HistogramOpts::new(
            "commit_batch_requests",
            "Message-path requests (accept, ack, receipt ack) committed in one transaction",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]),
    )?;
    registry.register(Box::new(batch_size.clone()))?;
    registry.register(Box::new(connections.clone()))?;
    registry.register(Box::new(messages_accepted.clone()))?;
    registry.register(Box::new(messages_delivered.clone()))?;
    registry.register(Box::new(queue_depth.clone()))?;
    registry.register(Box::new(errors.clone()))?;
    registry.register(Box::new(send_latency.clone()))?;
    Ok(Metrics {
        registry,
        connections,
        messages_accepted,
        messages_delivered,
        queue_depth,
        errors,
        send_latency,
        batch_size,
    })
}

/// The process-wide metrics. Construction cannot fail with these fixed,
/// distinct names; if it ever did, metrics would be reported as unavailable.
pub(crate) static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| build().ok());

/// Counts an error sent to a client.
pub(crate) fn count_error(code: curbside_protocol::error::ErrorCode) {
    if let Some(m) = METRICS.as_ref() {
        m.errors.with_label_values(&[code.as_str()]).inc();
    }
}

/// Runs `f` on the metrics, if available.
pub(crate) fn with(f: impl FnOnce(&Metrics)) {
    if let Some(m) = METRICS.as_ref() {
        f(m);
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let Some(m) = METRICS.as_ref() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            Vec::new(),
        );
    };
    match state.store.total_queue_depth().await {
        Ok(depth) => m.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX)),
        Err(e) => tracing::warn!(error = %e, "queue depth unavailable for metrics"),
    }
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if encoder.encode(&m.registry.gather(), &mut body).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            Vec::new(),
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
}

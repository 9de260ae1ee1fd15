//! `GET /metrics`: Prometheus (OpenMetrics) text: requests by route and status, latency
//! histograms by route, the queue, the workers and the jobs by state.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::jobs::JobState;
use super::App;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    queue: Gauge,
    busy: Gauge,
    workers: Gauge,
    jobs: Family<StateLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 5 ms to about 80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("nst");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by method, route and status", requests.clone());
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register("http_request_duration_seconds", "Time from request to the answer's headers, by route", latency.clone());
        let queue = Gauge::default();
        registry.register("queue_length", "Pieces of work waiting for a worker", queue.clone());
        let busy = Gauge::default();
        registry.register("workers_busy", "Workers running a piece of work", busy.clone());
        let workers = Gauge::default();
        registry.register("workers", "Inference workers", workers.clone());
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register("jobs", "Jobs kept by the server, by state", jobs.clone());
        Self { registry, requests, latency, queue, busy, workers, jobs }
    }
}

impl Metrics {
    /// The text exposition, with the gauges read now.
    pub fn render(&self, app: &App) -> String {
        self.queue.set(app.pool.queued() as i64);
        self.busy.set(app.pool.busy() as i64);
        self.workers.set(app.pool.workers() as i64);
        let counts = app.jobs.counts();
        for state in JobState::ALL {
            self.jobs.get_or_create(&StateLabels { state: state.name().into() }).set(counts.get(&state).copied().unwrap_or(0) as i64);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Middleware: counts every answer and times it, by the route's pattern (not the raw
/// path, which would make a series per job id).
pub async fn track(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let m = &app.metrics;
    m.requests.get_or_create(&RequestLabels { method, route: route.clone(), status: res.status().as_u16() }).inc();
    m.latency.get_or_create(&RouteLabels { route }).observe(started.elapsed().as_secs_f64());
    res
}

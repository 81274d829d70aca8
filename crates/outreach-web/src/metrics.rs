//! Request counters and latencies in Prometheus text format.

use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000];

#[derive(Debug, Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    let class = usize::from(response.status().as_u16() / 100).clamp(1, 5) - 1;
    m.by_class[class].fetch_add(1, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    for (i, limit) in BUCKETS_MS.iter().enumerate() {
        if ms <= *limit {
            m.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    m.count.fetch_add(1, Ordering::Relaxed);
    m.sum_micros.fetch_add(
        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    response
}

/// The metrics page body.
pub fn render(state: &AppState) -> String {
    let m = &state.metrics;
    let mut out = String::new();
    out.push_str("# HELP outreach_http_requests_total HTTP requests by status class.\n");
    out.push_str("# TYPE outreach_http_requests_total counter\n");
    for (i, counter) in m.by_class.iter().enumerate() {
        out.push_str(&format!(
            "outreach_http_requests_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            counter.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP outreach_http_request_duration_seconds Request latency.\n");
    out.push_str("# TYPE outreach_http_request_duration_seconds histogram\n");
    for (i, limit) in BUCKETS_MS.iter().enumerate() {
        out.push_str(&format!(
            "outreach_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
            *limit as f64 / 1000.0,
            m.buckets[i].load(Ordering::Relaxed)
        ));
    }
    let count = m.count.load(Ordering::Relaxed);
    out.push_str(&format!(
        "outreach_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
    ));
    out.push_str(&format!(
        "outreach_http_request_duration_seconds_sum {}\n",
        m.sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0
    ));
    out.push_str(&format!(
        "outreach_http_request_duration_seconds_count {count}\n"
    ));
    let pool = state.db.pool_stats();
    out.push_str("# HELP outreach_db_connections Database connections open and idle.\n");
    out.push_str("# TYPE outreach_db_connections gauge\n");
    out.push_str(&format!(
        "outreach_db_connections{{state=\"open\"}} {}\n",
        pool.size
    ));
    out.push_str(&format!(
        "outreach_db_connections{{state=\"idle\"}} {}\n",
        pool.idle
    ));
    out
}

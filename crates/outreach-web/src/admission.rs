//! How many requests a server works on at once. Past that, requests wait in
//! line for their turn — all but "next case", which an agent waits for with
//! the headset on and which never waits in line. Fewer requests at once also
//! means less contention for the database and the cores, so the line moves
//! as fast as the crowd did (docs/benchmarks-history.md, call queue, session 9).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Requests worked on at once by default. PostgreSQL: 8 — with more, the
/// requests in flight crowd the lease's statement on the database and the
/// cores. SQLite: no line here (the most the setting allows): its writes
/// already wait in the store's line for the one writer, where the lease goes
/// first; a line here as well held the requests back in waves and the
/// leases came in bursts (lease p99 94–137 ms at 8, 6–8 ms without; see
/// docs/benchmarks-history.md, call queue, session 10).
pub fn default_at_once(backend: outreach_app::Backend) -> usize {
    match backend {
        outreach_app::Backend::Postgres => 8,
        outreach_app::Backend::Sqlite => MOST_AT_ONCE,
    }
}

/// The most requests at once the setting allows.
pub const MOST_AT_ONCE: usize = 1024;

/// The route an agent takes the next case by; it never waits in line.
const NEXT_CASE: &str = "/anrufe/naechster";

pub struct Admission {
    line: tokio::sync::Semaphore,
}

impl Admission {
    pub fn new(at_once: usize) -> Arc<Admission> {
        Arc::new(Admission {
            line: tokio::sync::Semaphore::new(at_once.max(1)),
        })
    }
}

pub async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST && request.uri().path() == NEXT_CASE {
        return next.run(request).await;
    }
    // The load balancer's probes answer at once, also under load.
    if request.method() == Method::GET && matches!(request.uri().path(), "/healthz" | "/readyz") {
        return next.run(request).await;
    }
    // The semaphore is never closed; were it, the request goes ahead.
    let _turn = admission.line.acquire().await.ok();
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    #[tokio::test]
    async fn past_the_limit_requests_wait_but_the_next_case_never_does() {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
        let served = Arc::new(AtomicUsize::new(0));
        let admission = Admission::new(1);
        let counter = served.clone();
        let app = Router::new()
            .route(
                "/lang",
                get(move || async move {
                    if let Some(rx) = released.lock().await.take() {
                        let _ = rx.await;
                    }
                }),
            )
            .route(
                "/andere",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .route(NEXT_CASE, post(|| async { "Fall" }))
            .layer(axum::middleware::from_fn_with_state(
                admission.clone(),
                admit,
            ));
        let call = |method: &str, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            tokio::spawn(app.clone().oneshot(request))
        };
        // The one place is taken by a request that waits to be released.
        let long = call("GET", "/lang");
        while admission.line.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let other = call("GET", "/andere");
        // "Next case" goes ahead while both others hold or wait.
        let next = call("POST", NEXT_CASE).await.unwrap().unwrap();
        assert_eq!(next.status(), 200);
        assert_eq!(
            served.load(Ordering::SeqCst),
            0,
            "the other request waits in line"
        );
        release.send(()).unwrap();
        assert_eq!(long.await.unwrap().unwrap().status(), 200);
        assert_eq!(other.await.unwrap().unwrap().status(), 200);
        assert_eq!(served.load(Ordering::SeqCst), 1);
    }
}

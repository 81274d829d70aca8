//! The server loop: one listener, each connection served by hyper's HTTP/1
//! with limits, since `axum::serve` sets none.
//!
//! - **Header-read timeout**: a client must send a request's headers within
//!   [`Limits::header_read`] (slowloris; also ends idle keep-alive
//!   connections).
//! - **Idle timeouts, not whole-request limits**: while reading a body, no
//!   byte for [`Limits::body_idle`] ends it (`tower_http`'s per-frame request
//!   body timeout, see `app`); while writing a response, a client that reads
//!   nothing for [`Limits::write_idle`] loses the connection ([`WriteIdle`]).
//!   A large upload or download that keeps moving is never cut off.
//! - **Request line and headers**: over [`MAX_URI_BYTES`] the answer is a
//!   German 414 page, headers over [`MAX_HEADER_BYTES`] a German 431 page
//!   (`check_request`); hyper's own buffer ([`HYPER_BUFFER_BYTES`]) stays
//!   above both, so its bare answers come only beyond that.
//! - **Uploads at once**: at most [`Limits::uploads_at_once`] imports stream
//!   in at the same time; more get a German 503 with `Retry-After`.
//!
//! - **HTTPS** with rustls when a certificate is given ([`serve_with`]).
//!
//! On shutdown the listener closes first, then the requests in flight end.

use crate::AppState;
use crate::origin::Transport;
use crate::tls::Tls;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The longest request target (path and query) answered; longer ones get 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) answered; more get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// hyper's read buffer, which bounds a request's head before our checks.
pub const HYPER_BUFFER_BYTES: usize = 64 * 1024;

/// The loop's timeouts and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read: Duration,
    pub body_idle: Duration,
    pub write_idle: Duration,
    pub uploads_at_once: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            write_idle: Duration::from_secs(30),
            uploads_at_once: 4,
        }
    }
}

/// Serves the application over plain HTTP until `shutdown` completes, then
/// finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over HTTPS when `tls` is given: each connection's handshake
/// must end within [`Limits::header_read`], like a request's headers.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = state.config.limits;
    let router = crate::app(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(HYPER_BUFFER_BYTES)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment
                    // rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let transport = Transport { tls: tls.is_some() };
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.extensions_mut().insert(transport);
                router.clone().oneshot(request.map(axum::body::Body::new))
            });
        let http = http.clone();
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        tokio::spawn(async move {
            let result = match acceptor {
                None => {
                    let io = TokioIo::new(WriteIdle::new(stream, limits.write_idle));
                    watcher.watch(http.serve_connection(io, service)).await
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.header_read, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                    let io = TokioIo::new(WriteIdle::new(stream, limits.write_idle));
                    watcher.watch(http.serve_connection(io, service)).await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A stream whose writes fail with `TimedOut` when the peer has taken no
/// byte for `timeout`: the clock runs only while a write waits, so a slow
/// handler or an idle connection is never affected.
pub struct WriteIdle<S> {
    inner: S,
    timeout: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteIdle<S> {
    pub fn new(inner: S, timeout: Duration) -> WriteIdle<S> {
        WriteIdle {
            inner,
            timeout,
            waiting: None,
        }
    }

    /// After a write returned `poll`: starts, checks or ends the clock.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.waiting = None;
            return poll;
        }
        let timeout = self.timeout;
        let sleep = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_ready() {
            self.waiting = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no data of the response",
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteIdle<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteIdle<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The routes whose bodies are uploaded files.
fn is_upload(request: &Request) -> bool {
    request.method() == Method::POST
        && matches!(
            request.uri().path(),
            "/kunden/import" | "/api/v1/kunden/import"
        )
}

/// Bounds of one request before any other work: the request line's and the
/// headers' length (German 414 and 431), and the uploads streaming in at
/// once (German 503 with `Retry-After`).
pub async fn check_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return crate::AppError::UriTooLong.into_response();
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return crate::AppError::HeadersTooLarge.into_response();
    }
    if !is_upload(&request) {
        return next.run(request).await;
    }
    let Ok(_permit) = state.uploads.clone().try_acquire_owned() else {
        let mut response = if request.uri().path().starts_with("/api/") {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({
                    "fehler": "Zurzeit werden bereits mehrere Dateien übertragen. Bitte in einer Minute erneut versuchen."
                })),
            )
                .into_response()
        } else {
            crate::AppError::UploadsBusy.into_response()
        };
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    };
    // The permit is held until the handler has read the whole upload.
    next.run(request).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_times_out_and_one_read_slowly_does_not() {
        // Nobody reads: the 64-byte pipe fills, and the write fails after
        // the timeout.
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut stream = WriteIdle::new(ours, Duration::from_secs(30));
        let error = stream.write_all(&[7u8; 4096]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);

        // The peer reads a little every 20 s: each wait is shorter than
        // the timeout, so the whole write goes through, however long.
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut stream = WriteIdle::new(ours, Duration::from_secs(30));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 4096 {
                tokio::time::sleep(Duration::from_secs(20)).await;
                got += theirs.read(&mut buf).await.unwrap();
            }
            got
        });
        stream.write_all(&[7u8; 4096]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 4096);
    }
}

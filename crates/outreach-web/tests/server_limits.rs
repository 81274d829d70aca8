//! The server loop over real TCP connections (both databases): the
//! header-read timeout, idle timeouts that cut a stalled body but not a
//! slow steady one, German 414/431 pages, a German 413 page for a form too
//! large that the sender gets to read, the bound on uploads at once, and an
//! API import that checks its token before reading a byte of the body.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Side, TestApp, test_config, username};
use outreach_core::access::Role;
use outreach_store::testing::backends;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server on a free port; stops when dropped.
struct Running {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(app: &TestApp) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(outreach_web::serve(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        port,
        stop: Some(stop),
    }
}

fn limits(body_idle: u64) -> outreach_web::WebConfig {
    outreach_web::WebConfig {
        limits: outreach_web::server::Limits {
            header_read: Duration::from_secs(1),
            body_idle: Duration::from_secs(body_idle),
            write_idle: Duration::from_secs(5),
            uploads_at_once: 1,
        },
        ..test_config()
    }
}

/// Reads what the server sends until it closes or answers in full, at most
/// 15 s; returns it with the time it took.
async fn answer(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_string)
                        })
                        .and_then(|v| v.trim().parse::<usize>().ok());
                    if length.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
            Err(_) => panic!("no answer within 15 s: {}", String::from_utf8_lossy(&got)),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

async fn connect(server: &Running) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap()
}

async fn api_token(app: &TestApp) -> String {
    let mut tx = app.state.db.begin().await.unwrap();
    let admin =
        outreach_store::user::by_username(&mut tx, &username(Role::JobcenterAdmin, Side::Own))
            .await
            .unwrap()
            .unwrap();
    let (_, token) = outreach_store::api_token::create(
        &mut tx,
        app.fixtures.jc_a,
        "Test",
        &outreach_core::api_token::ApiScope::ALL,
        admin.id,
        jiff::Timestamp::now().as_second(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    token
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_slow_steady_ones_are_not() {
    for backend in backends().await {
        let app = TestApp::with_config(backend, limits(1)).await;
        let server = start(&app).await;

        // Headers that never end: closed after the header-read timeout.
        let mut slow = connect(&server).await;
        slow.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let (got, took) = answer(&mut slow).await;
        assert!(!got.contains("200 OK"), "{backend:?}: {got}");
        assert!(took >= Duration::from_millis(900), "{backend:?}: {took:?}");

        // An upload that stops: ended after a second without a byte.
        let token = api_token(&app).await;
        let mut stalled = connect(&server).await;
        stalled
            .write_all(format!("POST /api/v1/kunden/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\n\r\nKundennummer;").as_bytes())
            .await
            .unwrap();
        let (got, took) = answer(&mut stalled).await;
        assert!(got.starts_with("HTTP/1.1 400"), "{backend:?}: {got}");
        assert!(
            got.contains("nicht vollständig empfangen"),
            "{backend:?}: {got}"
        );
        assert!(took < Duration::from_secs(10), "{backend:?}: {took:?}");

        // An upload that trickles for 4 s, a few bytes every 100 ms: read
        // in full and imported (the timeout is per pause, not per request).
        let mut steady = connect(&server).await;
        let csv = "Kundennummer;Nachname;Geburtsdatum\r\nA9;Muster;01.02.1980\r\n";
        steady
            .write_all(format!("POST /api/v1/kunden/import?probelauf=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n", csv.len()).as_bytes())
            .await
            .unwrap();
        let started = Instant::now();
        for chunk in csv.as_bytes().chunks(2) {
            steady.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(130)).await;
        }
        assert!(started.elapsed() > Duration::from_secs(3));
        let (got, _) = answer(&mut steady).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{backend:?}: {got}");
        assert!(got.contains("\"accepted\":1"), "{backend:?}: {got}");
    }
}

#[tokio::test]
async fn long_request_lines_and_headers_get_a_german_page() {
    for backend in backends().await {
        let app = TestApp::with_config(backend, limits(5)).await;
        let server = start(&app).await;
        let mut long = connect(&server).await;
        let query = "a".repeat(9000);
        long.write_all(
            format!("GET /login?x={query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let (got, _) = answer(&mut long).await;
        assert!(got.starts_with("HTTP/1.1 414"), "{backend:?}: {got}");
        assert!(got.contains("Adresse zu lang"), "{backend:?}: {got}");

        let mut big = connect(&server).await;
        let cookie = "b".repeat(17_000);
        big.write_all(
            format!(
                "GET /login HTTP/1.1\r\nHost: x\r\nCookie: x={cookie}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let (got, _) = answer(&mut big).await;
        assert!(got.starts_with("HTTP/1.1 431"), "{backend:?}: {got}");
        assert!(got.contains("Anfrage zu groß"), "{backend:?}: {got}");

        // Below the limits the page is served.
        let mut fine = connect(&server).await;
        fine.write_all(b"GET /login?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        assert!(answer(&mut fine).await.0.starts_with("HTTP/1.1 200"));
    }
}

/// A form body of 24 MB (the limit is 1 MB): the server reads it to its end
/// and answers with the German page; the browser, still sending, reads it
/// instead of a reset connection.
#[tokio::test]
async fn a_form_too_large_gets_a_german_page_its_sender_reads() {
    for backend in backends().await {
        let app = TestApp::with_config(backend, limits(5)).await;
        let server = start(&app).await;
        let mut first = connect(&server).await;
        first
            .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (login, _) = answer(&mut first).await;
        let cookie = login
            .lines()
            .find_map(|l| {
                l.strip_prefix("set-cookie: ")
                    .or(l.strip_prefix("Set-Cookie: "))
            })
            .and_then(|c| c.split(';').next())
            .expect("the login form's cookie")
            .to_string();
        let size = 24 * 1024 * 1024;
        let (mut reader, mut writer) = connect(&server).await.into_split();
        let head = format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\nConnection: close\r\n\r\nusername="
        );
        let sender = tokio::spawn(async move {
            writer.write_all(head.as_bytes()).await?;
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = "username=".len();
            while sent < size {
                let n = chunk.len().min(size - sent);
                writer.write_all(&chunk[..n]).await?;
                sent += n;
            }
            // A browser keeps its side open until it has the answer.
            Ok::<_, std::io::Error>((sent, writer))
        });
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(15), reader.read_to_end(&mut got))
            .await
            .expect("an answer within 15 s")
            .expect("the answer, not a reset connection");
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 413"), "{backend:?}: {got}");
        assert!(got.contains("Eingabe zu groß"), "{backend:?}: {got}");
        assert!(got.contains("größer als 1 MB"), "{backend:?}: {got}");
        assert_eq!(
            sender.await.unwrap().unwrap().0,
            size,
            "{backend:?}: the whole body was taken"
        );
    }
}

/// The attack of issue 21: a 200 MB request without a token was read into
/// memory before the token was checked. Now the answer comes before a byte
/// of the body is sent.
#[tokio::test]
async fn an_api_import_without_a_token_is_refused_before_its_body() {
    for backend in backends().await {
        let app = TestApp::with_config(backend, limits(5)).await;
        let server = start(&app).await;
        let mut anonymous = connect(&server).await;
        anonymous
            .write_all(b"POST /api/v1/kunden/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 200000000\r\n\r\n")
            .await
            .unwrap();
        let (got, took) = answer(&mut anonymous).await;
        assert!(got.starts_with("HTTP/1.1 401"), "{backend:?}: {got}");
        assert!(got.contains("Zugangstoken fehlt"), "{backend:?}: {got}");
        assert!(took < Duration::from_secs(5), "{backend:?}: {took:?}");
    }
}

/// One upload at a time (as configured): a second gets a German 503 with
/// Retry-After while the first streams in; the file of an import is gone
/// when the import ends.
#[tokio::test]
async fn uploads_at_once_are_bounded_and_their_files_go() {
    for backend in backends().await {
        let app = TestApp::with_config(backend, limits(30)).await;
        let server = start(&app).await;
        let token = api_token(&app).await;
        let head = |length: usize| {
            format!(
                "POST /api/v1/kunden/import?probelauf=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {length}\r\n\r\n"
            )
        };
        let mut first = connect(&server).await;
        first.write_all(head(100_000).as_bytes()).await.unwrap();
        first
            .write_all(b"Kundennummer;Nachname;Geburtsdatum\r\n")
            .await
            .unwrap();
        // The first holds the only place once the server has read its
        // head: poll the second until it is refused (or the first is done).
        let deadline = Instant::now() + Duration::from_secs(15);
        let refused = loop {
            let mut second = connect(&server).await;
            second.write_all(head(0).as_bytes()).await.unwrap();
            let (got, _) = answer(&mut second).await;
            if got.starts_with("HTTP/1.1 503") {
                break got;
            }
            assert!(
                Instant::now() < deadline,
                "{backend:?}: never refused: {got}"
            );
        };
        assert!(
            refused.to_ascii_lowercase().contains("retry-after: 60"),
            "{refused}"
        );
        assert!(
            refused.contains("Zurzeit werden bereits mehrere Dateien"),
            "{refused}"
        );
        // While the first streams in, its file is in the server's folder.
        let spooled = || {
            outreach_web::maintenance::spooled_files(&app.state)
                .iter()
                .filter(|f| {
                    f.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("api-import-"))
                })
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while spooled() != 1 {
            assert!(Instant::now() < deadline, "{backend:?}: no upload file");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(first);
        // Once the first has ended, the next import goes through, and no
        // upload file is left.
        let deadline = Instant::now() + Duration::from_secs(15);
        let csv = "Kundennummer;Nachname;Geburtsdatum\r\nA9;Muster;01.02.1980\r\n";
        loop {
            let mut again = connect(&server).await;
            again.write_all(head(csv.len()).as_bytes()).await.unwrap();
            again.write_all(csv.as_bytes()).await.unwrap();
            let (got, _) = answer(&mut again).await;
            if got.starts_with("HTTP/1.1 200") {
                assert!(got.contains("\"accepted\":1"), "{got}");
                break;
            }
            assert!(got.starts_with("HTTP/1.1 503"), "{backend:?}: {got}");
            assert!(
                Instant::now() < deadline,
                "{backend:?}: the place was never freed"
            );
        }
        assert_eq!(spooled(), 0, "{backend:?}: upload files left behind");
    }
}

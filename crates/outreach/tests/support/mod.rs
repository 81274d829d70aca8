//! Real `outreach serve` processes for the tests of the running service:
//! started with a log file each, polled until ready (never slept for),
//! killed or stopped by signal, and an HTTPS client that trusts the test's
//! own CA. Shared by the test binaries of this crate (`#[path]`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../outreach-store/tests/support/ca.rs"]
pub mod ca;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_outreach");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `outreach serve`.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    /// `https://` or `http://`, with `127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `outreach serve --bind 127.0.0.1:PORT ARGS` with `env`, its
    /// output into `dir/serve-PORT.log`.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let bind = format!("127.0.0.1:{port}");
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--bind", &bind])
            .args(args)
            .env_remove("OUTREACH_DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in env {
            command.env(k, v);
        }
        let tls = args.contains(&"--tls-cert");
        Server {
            child: command.spawn().unwrap(),
            port,
            log,
            base: format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" }),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Polls `GET /readyz` with `client` until it answers 200 (60 s at most,
    /// while the process runs).
    pub async fn wait_ready(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(self.running(), "the server exited: {}", self.output());
            assert!(
                Instant::now() < deadline,
                "not ready in 60 s: {}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits for the process to end (60 s at most); its exit status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "did not end: {}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rustls client configuration trusting only `ca_pem` (ring).
pub fn client_tls(ca_pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A client with cookies, following no redirects; over HTTPS trusting
/// `ca_pem` only.
pub fn client(ca_pem: Option<&str>) -> reqwest::Client {
    // reqwest builds a TLS configuration even for plain HTTP: ring, as
    // everywhere (already installed by another test of this process: fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some(ca) = ca_pem {
        builder = builder.tls_backend_preconfigured(client_tls(ca));
    }
    builder.build().unwrap()
}

/// Writes `issued` as `dir/NAME.crt` and `dir/NAME.key`.
pub fn write_cert(dir: &Path, name: &str, issued: &ca::Issued) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    (cert, key)
}

/// The login form's CSRF token on `page`.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token on the page: {page}"))
        .to_string()
}

/// Logs `username` in through the login form at `base`, and through the
/// second step when asked, with the code of the test secret the account is
/// enrolled with (or the next step's, when this one was used by the
/// account's last sign-in). The last response's status and location.
pub async fn log_in(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let with = |mut request: reqwest::RequestBuilder| {
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request
    };
    let page = with(client.get(format!("{base}/login")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_of(&page);
    let response = with(client.post(format!("{base}/login")).form(&[
        ("csrf", token.as_str()),
        ("username", username),
        ("password", password),
    ]))
    .send()
    .await
    .unwrap();
    let (status, location) = status_and_location(&response);
    if location != SECOND_FACTOR {
        return (status, location);
    }
    let now = jiff::Timestamp::now().as_second();
    let codes = [now, now + 30].map(|t| {
        outreach_core::second_factor::code_at(outreach_store::testing::TEST_TOTP_SECRET, t).unwrap()
    });
    let mut last = (0, String::new());
    for code in codes {
        let response = with(
            client
                .post(format!("{base}{SECOND_FACTOR}"))
                .form(&[("csrf", token.as_str()), ("code", code.as_str())]),
        )
        .send()
        .await
        .unwrap();
        last = status_and_location(&response);
        if last.0 != 422 {
            break;
        }
    }
    last
}

/// The page of a sign-in's second step.
pub const SECOND_FACTOR: &str = "/login/zweiter-faktor";

fn status_and_location(response: &reqwest::Response) -> (u16, String) {
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
        .to_string();
    (response.status().as_u16(), location)
}

/// HAProxy with `deploy/haproxy.cfg`; killed when dropped.
pub struct Haproxy {
    child: Child,
    log: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Haproxy {
    /// HAProxy before the servers on `ports` of 127.0.0.1, with TLS from
    /// `pem` (certificate chain and key), logging into `dir`.
    pub fn start(dir: &Path, pem: &Path, ports: &[u16]) -> Haproxy {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/haproxy.cfg");
        let errors = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/errors");
        let port = free_port();
        let log = dir.join("haproxy.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new("haproxy");
        command
            .args(["-db", "-f", config])
            .env("OUTREACH_LB_BIND", format!("127.0.0.1:{port}"))
            .env("OUTREACH_LB_CERT", pem)
            .env("OUTREACH_LB_ERRORS", errors)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (i, port) in ports.iter().enumerate() {
            command.env(
                format!("OUTREACH_SERVER_{}", i + 1),
                format!("127.0.0.1:{port}"),
            );
        }
        Haproxy {
            child: command.spawn().unwrap(),
            log,
            base: format!("https://127.0.0.1:{port}"),
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

//! A simulated agent over HTTP: logs in through the login form and works
//! the queue with the real pages and forms (session cookie, CSRF token,
//! redirects followed by hand). Shared by the two-server queue test and
//! the queue benchmark.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `outreach serve`; killed when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The page of a sign-in's second step.
const SECOND_FACTOR: &str = "/login/zweiter-faktor";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `outreach serve --training` on a free port with the clock on a
/// working day (`OUTREACH_CLOCK_START`, which only training mode accepts),
/// logging at `log`; polls `/healthz` until it answers. Returns the server
/// and its base URL.
pub async fn start_server(url: &str, log: &str) -> (Server, String) {
    let port = free_port();
    // `OUTREACH_SERVER_BIN` runs another build of the server (an A/B run of
    // a benchmark against the same set-up code).
    let bin = std::env::var_os("OUTREACH_SERVER_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_outreach").into());
    let mut command = Command::new(&bin);
    command.args(["serve", "--bind", &format!("127.0.0.1:{port}")]);
    let help = serve_help(&bin);
    if help.contains("--training") {
        command.arg("--training");
    }
    // Hundreds of agents sign in from one address at once.
    if help.contains("--login-burst") {
        command.args(["--login-burst", "100000", "--login-rate", "100000"]);
    }
    let child = command
        .args(["--database-url", url])
        .env("OUTREACH_CLOCK_START", outreach_store::testing::QUEUE_CLOCK)
        .env("RUST_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = Agent::client();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(server.0.try_wait().unwrap().is_none(), "server exited");
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

/// What this build of the server says of `serve` (an older build of an
/// A/B run takes the moved clock without `--training`, and has no rate
/// limits).
fn serve_help(bin: &std::ffi::OsStr) -> String {
    Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

pub struct Agent {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    csrf: String,
}

/// One answer: status, `Location` and body.
pub struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
}

/// One completed cycle of an agent.
pub struct Cycle {
    pub case_id: i64,
    /// `POST /anrufe/naechster` until its redirect arrived.
    pub lease: Duration,
    /// Each request of the cycle, in order (see [`STEPS`]).
    pub steps: [Duration; 6],
}

/// The requests of one cycle.
pub const STEPS: [&str; 6] = [
    "POST naechster",
    "GET fall",
    "POST start",
    "GET fall",
    "POST ergebnis",
    "GET anrufe",
];

/// The value of the hidden CSRF field or meta tag of a page.
fn csrf_in(body: &str) -> Option<String> {
    ["name=\"csrf-token\" content=\"", "name=\"csrf\" value=\""]
        .iter()
        .find_map(|marker| {
            let start = body.find(marker)? + marker.len();
            body[start..].split('"').next().map(str::to_string)
        })
}

impl Agent {
    /// A client without its own connection pool limits: one keep-alive
    /// connection per agent, as a browser tab would mostly use.
    pub fn client() -> reqwest::Client {
        // reqwest is built with rustls for the HTTPS tests, without a
        // crypto provider of its own: ring, as everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_default()
    }

    /// Signs in with the password and, when asked, the code of the test
    /// secret the account is enrolled with.
    pub async fn log_in(
        client: reqwest::Client,
        base: &str,
        username: &str,
        password: &str,
    ) -> Result<Agent, String> {
        let mut agent = Agent {
            client,
            base: base.trim_end_matches('/').to_string(),
            cookies: HashMap::new(),
            csrf: String::new(),
        };
        agent.get("/login").await?;
        let mut page = agent
            .post("/login", &[("username", username), ("password", password)])
            .await?;
        if page.location == SECOND_FACTOR {
            // The test secret's code, or the next step's when this one was
            // used by the account's last sign-in.
            let now = jiff::Timestamp::now().as_second();
            for time in [now, now + 30] {
                let code = outreach_core::second_factor::code_at(
                    outreach_store::testing::TEST_TOTP_SECRET,
                    time,
                )
                .unwrap_or_default();
                if let Ok(answer) = agent.post(SECOND_FACTOR, &[("code", &code)]).await {
                    page = answer;
                    break;
                }
            }
        }
        if page.status != 303 || page.location.contains("login") {
            return Err(format!(
                "{username}: Anmeldung fehlgeschlagen ({})",
                page.status
            ));
        }
        agent.get("/anrufe").await?;
        Ok(agent)
    }

    /// The same session (cookies, CSRF token) against another server.
    #[allow(dead_code, reason = "the sessions test uses it, the benchmark doesn't")]
    pub fn on(&self, base: &str) -> Agent {
        Agent {
            client: self.client.clone(),
            base: base.trim_end_matches('/').to_string(),
            cookies: self.cookies.clone(),
            csrf: self.csrf.clone(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Result<Page, String> {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header("cookie", cookie)
            .send()
            .await
            .map_err(|e| format!("Anfrage: {e}"))?;
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.text().await.map_err(|e| format!("Antwort: {e}"))?;
        if let Some(token) = csrf_in(&body) {
            self.csrf = token;
        }
        if status >= 400 {
            return Err(format!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            ));
        }
        Ok(Page {
            status,
            location,
            body,
        })
    }

    pub async fn get(&mut self, path: &str) -> Result<Page, String> {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form with the CSRF token of the last page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Page, String> {
        let mut all = vec![("csrf", self.csrf.clone())];
        all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_string())));
        let request = self.client.post(format!("{}{path}", self.base)).form(&all);
        self.send(request).await
    }

    /// Lease → case page → "Anruf starten" → case page → result → desk, as
    /// the pages do it. `None` when no case is due.
    pub async fn cycle(&mut self, result: &str) -> Result<Option<Cycle>, String> {
        let mut steps = [Duration::ZERO; 6];
        let mut clock = Instant::now();
        let mut lap = |i: usize| {
            steps[i] = clock.elapsed();
            clock = Instant::now();
        };
        let leased = self.post("/anrufe/naechster", &[]).await?;
        lap(0);
        if leased.location.contains("meldung=leer") {
            self.get(&leased.location).await?;
            return Ok(None);
        }
        let case_id: i64 = leased
            .location
            .strip_prefix("/anrufe/fall/")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| format!("unerwartete Weiterleitung: {}", leased.location))?;
        let case = format!("/anrufe/fall/{case_id}");
        let page = self.get(&case).await?;
        lap(1);
        if !page.body.contains("Anruf starten") {
            return Err(format!("Fall {case_id}: keine Fallansicht"));
        }
        let started = self
            .post(&format!("{case}/start"), &[("nummer", "phone")])
            .await?;
        lap(2);
        self.get(&started.location).await?;
        lap(3);
        let done = self
            .post(&format!("{case}/ergebnis"), &[("ergebnis", result)])
            .await?;
        lap(4);
        if !done.location.contains("meldung=erfasst") {
            return Err(format!(
                "Fall {case_id}: Ergebnis nicht erfasst ({})",
                done.location
            ));
        }
        self.get(&done.location).await?;
        lap(5);
        Ok(Some(Cycle {
            case_id,
            lease: steps[0],
            steps,
        }))
    }
}

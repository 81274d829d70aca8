//! A throw-away PostgreSQL cluster of a test's own, for what the shared
//! server can't show: TLS switched on or off, a server that stops and comes
//! back. `initdb` and `pg_ctl` of Debian's server package run as the
//! `postgres` user (the tests run as root here) in a fresh folder, on a free
//! port; the cluster is stopped and its folder removed when dropped.
//!
//! Where the server binaries or the `postgres` user are missing,
//! [`Cluster::start`] says why; in CI (`CI`, `OUTREACH_REQUIRE_POSTGRES`)
//! the caller must fail then, elsewhere it may skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The server's certificate and key (PEM) for `ssl = on`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A running cluster of a test's own.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

/// Debian's folder of PostgreSQL's server binaries (the newest version).
fn server_bin() -> Result<PathBuf, String> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e} (Debian package postgresql)", root.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no initdb under {}", root.display()))
}

/// A TCP port nobody listens on now.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Runs `program args` as the `postgres` user (as is, when not root).
fn as_postgres(program: &Path, args: &[&str]) -> Result<String, String> {
    let running_as_root = std::env::var("USER").map_or_else(
        |_| {
            Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0"))
        },
        |u| u == "root",
    );
    let mut command = if running_as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{} {}: {text}", program.display(), args.join(" ")))
    }
}

/// Hands `path` to the `postgres` user.
fn give_to_postgres(path: &Path) -> Result<(), String> {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .map_err(|e| format!("chown: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("chown postgres {} failed", path.display()))
    }
}

impl Cluster {
    /// `initdb` a fresh cluster and start it on a free port of 127.0.0.1,
    /// with TLS when `tls` is given. Connections: `trust` for everyone from
    /// 127.0.0.1; with TLS only over TLS (`hostssl`), plain ones are refused.
    pub fn start(tls: Option<&ServerTls>) -> Result<Cluster, String> {
        let bin = server_bin()?;
        let dir = std::env::temp_dir().join(format!("outreach-pg-{}", crate::random_token(6)));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        give_to_postgres(&dir)?;
        let cluster = Cluster {
            dir,
            bin,
            port: free_port()?,
        };
        let data = cluster.data();
        as_postgres(
            &cluster.bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        cluster.configure(tls)?;
        cluster.pg_ctl(&["start", "-w", "-t", "30"])?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Writes `postgresql.auto.conf`'s settings and `pg_hba.conf` for `tls`.
    fn configure(&self, tls: Option<&ServerTls>) -> Result<(), String> {
        let data = self.data();
        let write = |name: &str, text: &str| {
            std::fs::write(data.join(name), text).map_err(|e| format!("{name}: {e}"))
        };
        let mut conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 200\n",
            self.port,
            self.dir.display()
        );
        match tls {
            Some(tls) => {
                write("server.crt", &tls.cert_pem)?;
                write("server.key", &tls.key_pem)?;
                give_to_postgres(&data)?;
                std::fs::set_permissions(
                    data.join("server.key"),
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .map_err(|e| format!("server.key: {e}"))?;
                conf.push_str(
                    "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                );
                write(
                    "pg_hba.conf",
                    "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
                )?;
            }
            None => {
                conf.push_str("ssl = off\n");
                write(
                    "pg_hba.conf",
                    "local all all trust\nhost all all 127.0.0.1/32 trust\n",
                )?;
            }
        }
        write("postgresql.auto.conf", &conf)?;
        give_to_postgres(&data)
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<String, String> {
        let data = self.data();
        let log = self.dir.join("server.log");
        let mut all = vec![
            "-D",
            data.to_str().unwrap_or_default(),
            "-l",
            log.to_str().unwrap_or_default(),
        ];
        all.extend_from_slice(args);
        as_postgres(&self.bin.join("pg_ctl"), &all)
    }

    /// Switches TLS on or off and reloads the configuration (no restart).
    pub fn reconfigure(&self, tls: Option<&ServerTls>) -> Result<(), String> {
        self.configure(tls)?;
        self.pg_ctl(&["reload"])?;
        // A reload is asynchronous: wait until the server reads the new file.
        let deadline = Instant::now() + Duration::from_secs(10);
        let wanted = if tls.is_some() { "on" } else { "off" };
        loop {
            let out = as_postgres(
                &self.bin.join("psql"),
                &[
                    "-h",
                    self.dir.to_str().unwrap_or_default(),
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-Atc",
                    "SHOW ssl",
                ],
            );
            if out.as_deref().is_ok_and(|o| o.trim() == wanted) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("ssl did not become {wanted}: {out:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (connections are cut, as in a crash).
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]).map(|_| ())
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&self) -> Result<(), String> {
        self.pg_ctl(&["start", "-w", "-t", "30"]).map(|_| ())
    }

    /// `postgres://postgres@HOST:PORT/DATABASE?PARAMS` for this cluster.
    pub fn url(&self, host: &str, database: &str, params: &str) -> String {
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{params}")
        };
        format!("postgres://postgres@{host}:{}/{database}{query}", self.port)
    }
}

/// [`Cluster::start`] for a test: `None` (the reason printed) where no
/// cluster can start outside CI; in CI the missing cluster fails the test.
#[allow(
    clippy::panic,
    reason = "test support: a missing database in CI must fail the test"
)]
pub fn for_test(tls: Option<&ServerTls>) -> Option<Cluster> {
    match Cluster::start(tls) {
        Ok(cluster) => Some(cluster),
        Err(why) if !super::postgres_required() => {
            eprintln!("HINWEIS: kein eigener PostgreSQL-Cluster ({why}); Test übersprungen.");
            None
        }
        Err(why) => panic!("PostgreSQL-Cluster startet nicht (in CI ein Fehler): {why}"),
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! Files holding social data while a job needs them — uploaded exports and
//! print archives — in a directory of this server's own: the user's folder
//! `outreach-<uid>` in the temporary directory (`0700`), and in it one folder
//! per server (`srv-<pid>-<n>`, `0700`) with files created `0600`, never
//! readable by other users of the machine. The folder goes when the server
//! stops; folders of servers that are no longer running (a crash) go when
//! the next server starts.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// This server's folder.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
}

/// Servers started in this process (tests build several).
static STARTED: AtomicU64 = AtomicU64::new(0);

/// The user's own folder, made `0700` and checked to be a directory of
/// this user (not a link somebody else laid out).
fn user_folder(base: &Path) -> io::Result<PathBuf> {
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let folder = base.join(format!("outreach-{uid}"));
    match DirBuilder::new().mode(0o700).create(&folder) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&folder)?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a folder of this user", folder.display()),
        ));
    }
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))?;
    Ok(folder)
}

/// Whether a process with this id runs.
fn running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Spool {
    /// Makes this server's folder in `base` (the temporary directory), and
    /// removes those of servers no longer running.
    pub fn new(base: &Path) -> io::Result<Spool> {
        let folder = user_folder(base)?;
        for entry in std::fs::read_dir(&folder)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("srv-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if let Some(pid) = pid
                && !running(pid)
            {
                tracing::info!(folder = %name, "removing the files of a server that ended");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = folder.join(format!("srv-{}-{n}", std::process::id()));
        DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Spool { dir })
    }

    /// A new file's path in this server's folder (not yet created).
    pub fn path(&self, prefix: &str, extension: &str) -> PathBuf {
        self.dir.join(format!(
            "{prefix}-{}.{extension}",
            outreach_app::random_token(16)
        ))
    }

    /// Creates the file at `path`, `0600`; refuses one that exists.
    pub fn create(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }

    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files this server holds now.
    pub fn files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.dir)
            .map(|dir| dir.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_a_crashed_servers_files_go() {
        let base = std::env::temp_dir().join(format!("outreach-spool-test-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let spool = Spool::new(&base).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.mode() & 0o777).unwrap_or(0);
        assert_eq!(mode(spool.dir()), 0o700);
        assert_eq!(mode(spool.dir().parent().unwrap_or(&base)), 0o700);
        let path = spool.path("upload", "csv");
        drop(Spool::create(&path));
        assert_eq!(mode(&path), 0o600);
        // A folder left by a server that no longer runs (pid 4194304 is
        // above Linux's limit), and one of a running server.
        let folder = spool
            .dir()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let dead = folder.join("srv-4194304-0");
        let alive = folder.join(format!("srv-{}-999", std::process::id()));
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::create_dir_all(&alive).unwrap();
        let second = Spool::new(&base).unwrap();
        assert!(!dead.exists(), "left-overs of a crash are removed");
        assert!(
            alive.exists() && path.exists(),
            "a running server's files stay"
        );
        let own = spool.dir().to_path_buf();
        drop(spool);
        assert!(!own.exists(), "the folder goes with the server");
        drop(second);
        let _ = std::fs::remove_dir_all(&base);
    }
}

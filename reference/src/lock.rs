//! The backup PID lock of CONTRACT.md section 5. The lock file only ever appears complete:
//! the PID is written to a private temp file which is then `link(2)`ed to the lock path
//! (atomic and exclusive), so a contender never sees an empty lock of a live holder. A
//! lock whose content is not the PID of a live process (dead, zombie, empty, not a number)
//! is stale; it is removed only while holding `flock(2)` on that very inode and after
//! re-checking that the path still names it, so two contenders racing for one stale lock
//! can never delete each other's fresh lock. This module must not log or exit; callers
//! turn `AcquireError` into events.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum AcquireError {
    /// A live process holds it; the text is the lock file's content (its PID).
    Held(String),
    /// The filesystem refused something; the text says what, with which path.
    Io(String),
}

/// The held lock; dropping it removes the lock file if it is still ours.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    dev_ino: (u64, u64),
    pid: u32,
}

/// A successful acquisition.
#[derive(Debug)]
pub struct Acquired {
    pub guard: LockGuard,
    /// True when a stale lock (dead holder) was removed on the way.
    pub took_over_stale: bool,
}

/// Takes the lock for this process.
pub fn acquire(path: &Path) -> Result<Acquired, AcquireError> {
    let me = std::process::id();
    acquire_as(path, me, &|pid| pid != me && pid_alive(pid))
}

/// Takes the lock writing `pid`, judging liveness of other holders with `alive`.
pub fn acquire_as(path: &Path, pid: u32, alive: &dyn Fn(u32) -> bool) -> Result<Acquired, AcquireError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| io_err("create the lock directory", dir, e))?;
    remove_dead_temp_files(path, alive);
    let tmp = TempPid::write(path, pid)?;
    let mut took_over_stale = false;
    for _ in 0..100 {
        match std::fs::hard_link(&tmp.path, path) {
            Ok(()) => {
                let meta = std::fs::metadata(path).map_err(|e| io_err("stat the new lock", path, e))?;
                let guard = LockGuard { path: path.to_path_buf(), dev_ino: (meta.dev(), meta.ino()), pid };
                return Ok(Acquired { guard, took_over_stale });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create the lock file", path, e)),
        }
        match inspect(path, alive)? {
            Holder::Gone => {}
            Holder::Live(text) => return Err(AcquireError::Held(text)),
            Holder::Stale => took_over_stale |= remove_if_stale(path, alive)?,
        }
    }
    Err(AcquireError::Io(format!("gave up taking lock {} after 100 contended attempts", path.display())))
}

/// Treats a lock as held by anybody at all (the `stale-lock-never-taken` defect).
pub fn existing_holder(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|t| t.trim().to_string())
}

impl LockGuard {
    /// Removes the lock file if it is still the one this guard created (same inode and
    /// still our PID: inode numbers alone are reused).
    pub fn release(self) {
        drop(self)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            let ours = existing_holder(&self.path) == Some(self.pid.to_string());
            if (meta.dev(), meta.ino()) == self.dev_ino && ours {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

enum Holder {
    Gone,
    Live(String),
    Stale,
}

fn inspect(path: &Path, alive: &dyn Fn(u32) -> bool) -> Result<Holder, AcquireError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(judge(&text, alive)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Holder::Gone),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Ok(Holder::Stale),
        Err(e) => Err(io_err("read the lock file", path, e)),
    }
}

fn judge(text: &str, alive: &dyn Fn(u32) -> bool) -> Holder {
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 0 && alive(pid) => Holder::Live(text.trim().to_string()),
        _ => Holder::Stale,
    }
}

/// Removes the lock file if it is (still) stale. Returns true if it removed it.
fn remove_if_stale(path: &Path, alive: &dyn Fn(u32) -> bool) -> Result<bool, AcquireError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err("open the stale lock", path, e)),
    };
    // SAFETY: flock on a valid open descriptor; released when `file` is closed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io_err("flock the stale lock", path, std::io::Error::last_os_error()));
    }
    let held = file.metadata().map_err(|e| io_err("stat the stale lock", path, e))?;
    let same = std::fs::symlink_metadata(path).map(|m| (m.dev(), m.ino()) == (held.dev(), held.ino()));
    if !matches!(same, Ok(true)) {
        return Ok(false);
    }
    let mut text = String::new();
    file.rewind().map_err(|e| io_err("rewind the stale lock", path, e))?;
    if file.read_to_string(&mut text).is_ok() && !matches!(judge(&text, alive), Holder::Stale) {
        return Ok(false);
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove the stale lock", path, e)),
    }
}

/// A private file holding our PID, linked to the lock path when the lock is free.
struct TempPid {
    path: PathBuf,
}

impl TempPid {
    fn write(lock: &Path, pid: u32) -> Result<TempPid, AcquireError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = lock.with_file_name(format!("{}{pid}.{nanos}.tmp", temp_name_prefix(lock)));
        let mut file = File::create(&path).map_err(|e| io_err("create the lock temp file", &path, e))?;
        let tmp = TempPid { path };
        file.write_all(format!("{pid}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err("write the lock temp file", &tmp.path, e))?;
        Ok(tmp)
    }
}

impl Drop for TempPid {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn temp_name_prefix(lock: &Path) -> String {
    let name = lock.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.")
}

/// Removes temp PID files left by processes killed between writing and linking them.
fn remove_dead_temp_files(lock: &Path, alive: &dyn Fn(u32) -> bool) {
    let prefix = temp_name_prefix(lock);
    let Some(dir) = lock.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".tmp")) else {
            continue;
        };
        let pid = rest.split('.').next().and_then(|p| p.parse::<u32>().ok());
        if matches!(pid, Some(p) if !alive(p)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// True if `pid` names a process that is running (zombies count as dead).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z") | Some("X"))
}

fn io_err(doing: &str, path: &Path, e: std::io::Error) -> AcquireError {
    AcquireError::Io(format!("cannot {doing} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;

//! Crash-safe file replacement: write beside the target, sync, rename over it, sync the directory.
//!
//! A rename within one directory is atomic on POSIX file systems, so after a crash (SIGKILL,
//! power loss) the target holds either its old content or the new one, never a mix. What a
//! crash can leave behind is the temporary file; its name (`.<target>.<pid>.<n>.tmp`) never
//! looks like a file the store reads, and [`remove_stale_temporaries`] clears the ones whose
//! process is gone.
use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

/// Suffix of every temporary file this module creates.
const TEMP_SUFFIX: &str = ".tmp";

/// Distinguishes the temporaries of concurrent writes within one process; the process id
/// distinguishes processes.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with what `write` puts into the temporary path it is given, all or nothing.
///
/// `write` must create the file at the path it receives (it does not exist yet). Its result is
/// handed back, so a writer can return, say, the checksum of what it wrote. If `write` or any
/// later step fails, the temporary file is removed and `path` keeps its old content (or stays
/// absent). The writer's own error type is kept (a model layer's failure stays its own).
pub fn write_atomically<T, E: From<StoreError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<T, E>,
) -> Result<T, E> {
    let file_name = path
        .file_name()
        .ok_or_else(|| StoreError::format(path, "not a file path"))?;
    let dir = parent_dir(path);
    let temp = dir.join(temp_name(file_name));
    let written = write(&temp).and_then(|value| {
        // Without this sync the rename could reach the disk before the data does, and a power
        // loss would leave the new name on an empty or partial file.
        File::open(&temp)
            .and_then(|file| file.sync_all())
            .map_err(|e| StoreError::io(&temp, e))?;
        fs::rename(&temp, path).map_err(|e| StoreError::io(path, e))?;
        Ok::<T, E>(value)
    });
    if written.is_err() {
        // Best effort: a temporary that survives is ignored by readers and removed on the next
        // open, so failing to remove it must not hide the error that matters.
        let _ = fs::remove_file(&temp);
    }
    let value = written?;
    // The rename lives in the directory; until the directory is synced it can be lost.
    sync_dir(dir)?;
    Ok(value)
}

/// Replaces `path` with `bytes`, all or nothing (see [`write_atomically`]).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomically(path, |temp| {
        fs::write(temp, bytes).map_err(|e| StoreError::io(temp, e))
    })
}

/// Removes, from `dir`, the temporary files left by [`write_atomically`] in processes that no
/// longer run, and returns their paths.
///
/// Temporaries of this process and of live processes are kept: they may be writes in progress.
/// Liveness is read from `/proc`; where there is none (not Linux), every other process's
/// temporary counts as left over.
pub fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let own_pid = std::process::id();
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        let path = entry.path();
        let is_file = entry
            .file_type()
            .map_err(|e| StoreError::io(&path, e))?
            .is_file();
        if !is_file || pid == own_pid || process_alive(pid) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            // Another process cleaned it up first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&path, e)),
        }
    }
    Ok(removed)
}

/// The directory holding `path`; a bare file name lives in the current directory.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.<target>.<pid>.<n>.tmp`: hidden, and ending in neither `.json` nor `.safetensors`, so no
/// reader mistakes it for the target.
fn temp_name(target: &std::ffi::OsStr) -> OsString {
    let mut name = OsString::from(".");
    name.push(target);
    let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    name.push(format!(".{}.{n}{TEMP_SUFFIX}", std::process::id()));
    name
}

/// The process id in a name made by [`temp_name`], or `None` for any other name.
fn temp_owner(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let mut parts = inner.rsplitn(3, '.');
    let n = parts.next()?;
    let pid = parts.next()?;
    let target = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if target.is_empty() || !digits(n) || !digits(pid) {
        return None;
    }
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc/self").exists() && Path::new("/proc").join(pid.to_string()).exists()
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A process id above Linux's largest possible (2^22), so never alive.
    const DEAD_PID: u32 = u32::MAX;

    /// The sorted file names in `dir` (shared with the checkpoint tests).
    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_bytes_atomically(&path, b"old").unwrap();
        write_bytes_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["a.json"]);
    }

    #[test]
    fn failed_write_keeps_old_content_and_removes_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_bytes_atomically(&path, b"old").unwrap();
        let err = write_atomically(&path, |temp| {
            fs::write(temp, b"half").unwrap();
            Err::<(), _>(StoreError::format(temp, "writer gave up"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("writer gave up"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["a.json"]);
    }

    #[test]
    fn writer_result_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n");
        let len = write_atomically(&path, |temp| {
            fs::write(temp, b"12345").map_err(|e| StoreError::io(temp, e))?;
            Ok::<_, StoreError>(5)
        })
        .unwrap();
        assert_eq!(len, 5);
    }

    #[test]
    fn temporary_names_are_recognised_and_nothing_else() {
        let name = temp_name(std::ffi::OsStr::new("epoch-000001.json"));
        let name = name.to_str().unwrap();
        assert!(name.starts_with(".epoch-000001.json."), "{name}");
        assert_eq!(temp_owner(name), Some(std::process::id()));
        for other in [
            "epoch-000001.json",
            ".epoch-000001.json",
            ".x.12.tmp",
            ".x.a.1.tmp",
            "..12.3.tmp",
            "x.12.3.tmp",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let stale = format!(".best.json.{DEAD_PID}.0.tmp");
        let own = format!(".best.json.{}.0.tmp", std::process::id());
        for name in [stale.as_str(), own.as_str(), "best.json", "notes.tmp"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = remove_stale_temporaries(dir.path()).unwrap();
        assert_eq!(removed, [dir.path().join(&stale)]);
        let mut kept = vec![own, "best.json".to_string(), "notes.tmp".to_string()];
        kept.sort();
        assert_eq!(names(dir.path()), kept);
    }
}

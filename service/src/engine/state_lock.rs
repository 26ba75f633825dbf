//! One augmentd per state dir: an exclusive lock on `<state dir>/augmentd.lock`, taken when the
//! engine opens and given back when it stops (or when the process dies). Two processes on one
//! state dir would both resume the queued jobs and rewrite the model registry, so the second one
//! refuses to start and names the holder's pid, which the holder writes into the file.
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::EngineError;

/// The lock file's name inside the state dir.
pub const LOCK_FILE: &str = "augmentd.lock";

/// The held lock; [`StateLock::release`] or dropping it gives it back.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl StateLock {
    /// Takes the lock of `state_dir` (created if missing), or says who holds it.
    pub fn acquire(state_dir: &Path) -> Result<Self, EngineError> {
        std::fs::create_dir_all(state_dir).map_err(EngineError::state_dir("create", state_dir))?;
        let path = state_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(EngineError::state_dir("open", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another augmentd process".to_string(),
                    pid => format!("another augmentd process ({pid})"),
                };
                return Err(EngineError::StateDirLocked {
                    dir: state_dir.to_path_buf(),
                    lock: path,
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(EngineError::state_dir("lock", &path)(e)),
        }
        file.set_len(0)
            .and_then(|()| file.write_all(format!("pid {}\n", std::process::id()).as_bytes()))
            .map_err(EngineError::state_dir("write", &path))?;
        Ok(Self {
            path,
            file: Mutex::new(Some(file)),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the lock back (a later [`StateLock::acquire`] succeeds); idempotent.
    pub fn release(&self) {
        let file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(file) = file {
            let _ = file.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let first = StateLock::acquire(&state).expect("first lock");
        assert_eq!(first.path(), state.join(LOCK_FILE));

        let err = StateLock::acquire(&state).expect_err("second lock refused");
        let message = err.to_string();
        let pid = format!("(pid {})", std::process::id());
        assert!(
            message.contains("is in use by another augmentd process"),
            "{message}"
        );
        assert!(message.contains(&pid), "{message}");
        assert!(message.contains(&state.display().to_string()), "{message}");

        first.release();
        first.release();
        let again = StateLock::acquire(&state).expect("lock after release");
        drop(again);
        StateLock::acquire(&state).expect("lock after drop");
    }
}

//! Persistence of jobs: reading every `job.json` at start, writing one (atomically, with an
//! fsync) at every change. Changes are written by a thread of their own ([`Persister`]), so
//! neither the scheduler nor anyone waiting on it waits for a disk: the scheduler hands over
//! the newest record of a job, and a job changed twice before its write is written once.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::store::json::{read_json, write_json_atomically};
use crate::store::{JobsDir, RunDir};
use crate::train::EpochRecord;

use super::super::error::EngineError;
use super::record::JobRecord;

/// Every job stored in `dir` (created if missing), by folder name.
pub(super) fn load_jobs(dir: &JobsDir) -> Result<Vec<JobRecord>, EngineError> {
    let root = dir.root();
    std::fs::create_dir_all(root).map_err(EngineError::state_dir("create", root))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(EngineError::state_dir("list", root))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(|id| dir.job(id).record()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| read_json(path).map_err(EngineError::from))
        .collect()
}

/// Creates a job's folder and writes its first record (before it is listed).
pub(super) fn create_job(dir: &JobsDir, record: &JobRecord) -> Result<(), EngineError> {
    let job = dir.job(&record.id);
    std::fs::create_dir_all(job.root()).map_err(EngineError::state_dir("create", job.root()))?;
    write_json_atomically(&job.record(), record)?;
    Ok(())
}

/// The records a run directory holds so far (none when it has not started).
pub(super) fn read_records(run: &RunDir) -> Vec<EpochRecord> {
    std::fs::read_to_string(run.records())
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct Queue {
    /// The newest unwritten record of each job.
    pending: BTreeMap<String, JobRecord>,
    /// A batch is being written (taken from `pending`, not yet on disk).
    writing: bool,
    /// The owner is gone: write what is left and stop.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The thread that writes changed job records; its lock is never held during a write.
pub(super) struct Persister {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    /// Starts the writer of the records in `dir`.
    pub fn start(dir: JobsDir) -> Result<Self, EngineError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("augmentd-jobs-store".into())
            .spawn(move || write_loop(&writer, &dir))
            .map_err(|source| EngineError::Thread {
                what: "the job writer thread",
                source,
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues `record` to be written (replacing an unwritten older one of the same job).
    pub fn save(&self, record: &JobRecord) {
        self.shared
            .lock()
            .pending
            .insert(record.id.clone(), record.clone());
        self.shared.changed.notify_all();
    }

    /// Waits until every record queued so far is on disk (or failed and was reported).
    pub fn flush(&self) {
        let mut queue = self.shared.lock();
        while !queue.pending.is_empty() || queue.writing {
            queue = self
                .shared
                .changed
                .wait(queue)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            // The writer reports its own failures; a panic there has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

fn write_loop(shared: &Shared, dir: &JobsDir) {
    loop {
        let batch = {
            let mut queue = shared.lock();
            while queue.pending.is_empty() && !queue.closed {
                queue = shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if queue.pending.is_empty() {
                return;
            }
            queue.writing = true;
            std::mem::take(&mut queue.pending)
        };
        for (id, record) in batch {
            let path = dir.job(&id).record();
            if let Err(e) = write_json_atomically(&path, &record) {
                tracing::error!(job_id = %id, error = %e, "cannot store the job's record");
            }
        }
        shared.lock().writing = false;
        shared.changed.notify_all();
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::record::JobState;
    use super::*;

    /// A job of three epochs that has not run.
    pub(in super::super) fn record(id: &str, state: JobState) -> JobRecord {
        JobRecord {
            id: id.into(),
            state,
            failure_reason: String::new(),
            config_toml: String::new(),
            dataset: "synthetic".into(),
            model_name: "default".into(),
            publish_every: 0,
            activate: true,
            epochs: 3,
            epochs_done: 0,
            last_record: None,
            published: Vec::new(),
            created_unix_ms: 1,
            started_unix_ms: 0,
            finished_unix_ms: 0,
        }
    }

    #[test]
    fn saved_records_are_on_disk_after_a_flush_and_load_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = JobsDir::new(dir.path().join("jobs"));
        assert!(load_jobs(&jobs).unwrap().is_empty());
        let second = record("job-000002", JobState::Queued);
        create_job(&jobs, &second).unwrap();
        create_job(&jobs, &record("job-000001", JobState::Queued)).unwrap();
        let persister = Persister::start(jobs.clone()).unwrap();
        let mut first = record("job-000001", JobState::Running);
        persister.save(&first);
        first.epochs_done = 2;
        persister.save(&first);
        persister.flush();
        assert_eq!(
            load_jobs(&jobs).unwrap(),
            vec![first.clone(), second.clone()]
        );
        first.state = JobState::Succeeded;
        persister.save(&first);
        drop(persister);
        assert_eq!(
            load_jobs(&jobs).unwrap(),
            vec![first, second],
            "drop writes the rest"
        );
    }

    #[test]
    fn a_damaged_job_file_stops_the_load_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = JobsDir::new(dir.path());
        std::fs::create_dir_all(jobs.job("job-000001").root()).unwrap();
        std::fs::write(jobs.job("job-000001").record(), b"{").unwrap();
        let err = load_jobs(&jobs).unwrap_err().to_string();
        assert!(err.contains("job-000001/job.json"), "{err}");
    }
}

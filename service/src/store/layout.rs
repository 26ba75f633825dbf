//! The state dir's layout: the one place that names its files and folders.
//!
//! ```text
//! <state dir>/augmentd.lock                      StateDir::lock_file
//! <state dir>/jobs/<id>/job.json                 JobDir::record
//! <state dir>/jobs/<id>/run/                     JobDir::run (a RunDir)
//! <state dir>/models/registry.json               ModelsDir::registry
//! <state dir>/models/<name>/<version>/meta.json  VersionDir::meta
//! <state dir>/models/<name>/<version>/model.*    VersionDir::model (a ModelDir)
//! <run dir>/config.toml, records.jsonl, checkpoints/, model.*, models/epoch-NNNN/model.*,
//! <run dir>/grids/epoch-NNNN.png, accuracy.png   RunDir
//! ```
//! Each type only builds paths; the modules that own a file read and write it. Renaming a
//! file here renames it everywhere, and old state dirs then no longer open: don't.
use std::path::{Path, PathBuf};

/// The lock file that makes a state dir belong to one server.
pub const LOCK_FILE: &str = "augmentd.lock";
/// A job's stored record.
pub const JOB_FILE: &str = "job.json";
/// The registry's active versions and version counters.
pub const REGISTRY_FILE: &str = "registry.json";
/// A published version's description.
pub const META_FILE: &str = "meta.json";
/// A trained augmenter's weights.
pub const MODEL_WEIGHTS_FILE: &str = "model.safetensors";
/// A trained augmenter's description (beside its weights).
pub const MODEL_INFO_FILE: &str = "model.json";

/// `<state dir>`: everything a server keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The layout rooted at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The state dir itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `augmentd.lock`.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// `jobs/`.
    pub fn jobs(&self) -> JobsDir {
        JobsDir::new(self.root.join("jobs"))
    }

    /// `models/`.
    pub fn models(&self) -> ModelsDir {
        ModelsDir::new(self.root.join("models"))
    }
}

/// `<state dir>/jobs`: one folder per job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsDir {
    root: PathBuf,
}

impl JobsDir {
    /// The jobs folder at `root` (for callers given only that folder).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<id>/`.
    pub fn job(&self, id: &str) -> JobDir {
        JobDir {
            root: self.root.join(id),
        }
    }
}

/// `<state dir>/jobs/<id>`: a job's record and its training run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDir {
    root: PathBuf,
}

impl JobDir {
    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `job.json`.
    pub fn record(&self) -> PathBuf {
        self.root.join(JOB_FILE)
    }

    /// `run/`, the job's resumable training run.
    pub fn run(&self) -> RunDir {
        RunDir::new(self.root.join("run"))
    }
}

/// `<state dir>/models`: the registry file and one folder per name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsDir {
    root: PathBuf,
}

impl ModelsDir {
    /// The models folder at `root` (for callers given only that folder).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `registry.json`.
    pub fn registry(&self) -> PathBuf {
        self.root.join(REGISTRY_FILE)
    }

    /// `<name>/`, the versions of one name.
    pub fn name(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// `<name>/<version>/`.
    pub fn version(&self, name: &str, version: u64) -> VersionDir {
        VersionDir::new(self.name(name).join(version.to_string()))
    }
}

/// `<state dir>/models/<name>/<version>`: one published version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionDir {
    root: PathBuf,
}

impl VersionDir {
    /// The version folder at `root` (for callers that listed the name's folder).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `meta.json`, written last: a folder without it is an interrupted publication.
    pub fn meta(&self) -> PathBuf {
        self.root.join(META_FILE)
    }

    /// The model files, directly in the folder.
    pub fn model(&self) -> ModelDir {
        ModelDir::new(self.root.clone())
    }
}

/// A folder holding one trained augmenter: `model.safetensors` and `model.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// The model folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `model.safetensors`.
    pub fn weights(&self) -> PathBuf {
        self.root.join(MODEL_WEIGHTS_FILE)
    }

    /// `model.json`.
    pub fn info(&self) -> PathBuf {
        self.root.join(MODEL_INFO_FILE)
    }
}

/// A training run's folder (`augmentd train --out`, or a job's `run/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run folder at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`: the run's configuration, which a resumed run must match.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `records.jsonl`: one epoch record per line.
    pub fn records(&self) -> PathBuf {
        self.root.join("records.jsonl")
    }

    /// `checkpoints/` (the checkpoint store names the files inside).
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// The final model, directly in the run folder.
    pub fn final_model(&self) -> ModelDir {
        ModelDir::new(self.root.clone())
    }

    /// `models/epoch-NNNN/`: the model saved after a periodic epoch (`output.model_every`).
    pub fn epoch_model(&self, epoch: u64) -> ModelDir {
        ModelDir::new(self.root.join("models").join(epoch_stem(epoch)))
    }

    /// `grids/`.
    pub fn grids(&self) -> PathBuf {
        self.root.join("grids")
    }

    /// `grids/epoch-NNNN.png`: the original | augmented grid after an epoch.
    pub fn grid(&self, epoch: u64) -> PathBuf {
        self.grids().join(format!("{}.png", epoch_stem(epoch)))
    }

    /// `accuracy.png`: the accuracy curves so far.
    pub fn accuracy_plot(&self) -> PathBuf {
        self.root.join("accuracy.png")
    }

    /// `served-model.json`: the fingerprint of the frozen model a `served` run started with.
    pub fn frozen_model_fingerprint(&self) -> PathBuf {
        self.root.join("served-model.json")
    }
}

/// `epoch-NNNN`, as runs have always named their per-epoch files (four digits, more when
/// needed; the checkpoint store keeps its own six-digit names).
fn epoch_stem(epoch: u64) -> String {
    format!("epoch-{epoch:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_names_the_files_old_state_dirs_hold() {
        let state = StateDir::new("/s");
        assert_eq!(state.root(), Path::new("/s"));
        assert_eq!(state.lock_file(), Path::new("/s/augmentd.lock"));
        let jobs = state.jobs();
        assert_eq!(jobs, JobsDir::new("/s/jobs"));
        assert_eq!(jobs.root(), Path::new("/s/jobs"));
        let job = jobs.job("job-000007");
        assert_eq!(job.root(), Path::new("/s/jobs/job-000007"));
        assert_eq!(job.record(), Path::new("/s/jobs/job-000007/job.json"));
        assert_eq!(job.run().root(), Path::new("/s/jobs/job-000007/run"));
        let models = state.models();
        assert_eq!(models, ModelsDir::new("/s/models"));
        assert_eq!(models.registry(), Path::new("/s/models/registry.json"));
        assert_eq!(models.name("cifar"), Path::new("/s/models/cifar"));
        let version = models.version("cifar", 12);
        assert_eq!(version, VersionDir::new("/s/models/cifar/12"));
        assert_eq!(version.meta(), Path::new("/s/models/cifar/12/meta.json"));
        let model = version.model();
        assert_eq!(model.root(), Path::new("/s/models/cifar/12"));
        assert_eq!(
            model.weights(),
            Path::new("/s/models/cifar/12/model.safetensors")
        );
        assert_eq!(model.info(), Path::new("/s/models/cifar/12/model.json"));
    }

    #[test]
    fn a_run_dir_names_its_config_records_checkpoints_models_and_pictures() {
        let run = RunDir::new("/r");
        assert_eq!(run.root(), Path::new("/r"));
        assert_eq!(run.config(), Path::new("/r/config.toml"));
        assert_eq!(run.records(), Path::new("/r/records.jsonl"));
        assert_eq!(run.checkpoints(), Path::new("/r/checkpoints"));
        assert_eq!(
            run.final_model().weights(),
            Path::new("/r/model.safetensors")
        );
        assert_eq!(run.final_model().info(), Path::new("/r/model.json"));
        let periodic = run.epoch_model(3);
        assert_eq!(periodic.root(), Path::new("/r/models/epoch-0003"));
        assert_eq!(
            periodic.weights(),
            Path::new("/r/models/epoch-0003/model.safetensors")
        );
        assert_eq!(
            run.epoch_model(12345).root(),
            Path::new("/r/models/epoch-12345")
        );
        assert_eq!(run.grids(), Path::new("/r/grids"));
        assert_eq!(run.grid(7), Path::new("/r/grids/epoch-0007.png"));
        assert_eq!(run.accuracy_plot(), Path::new("/r/accuracy.png"));
        assert_eq!(
            run.frozen_model_fingerprint(),
            Path::new("/r/served-model.json")
        );
    }
}

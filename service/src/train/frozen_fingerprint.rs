//! The fingerprint of the frozen model a `served` run applies, kept in the run directory, so
//! that a run whose model file changed is refused rather than resumed with another augmenter.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::atomic::write_bytes_atomically;
use crate::store::{sha256_of_file, RunDir};

use super::error::TrainError;
use crate::model::model_files;

/// The model a served run started with, as the run directory remembers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ModelFingerprint {
    /// The weights file, as configured.
    weights: PathBuf,
    /// SHA-256 of the weights file.
    weights_sha256: String,
    /// SHA-256 of the description beside it.
    description_sha256: String,
}

/// Lower-case hex SHA-256 of a file.
fn sha256_of(path: &Path) -> Result<String, TrainError> {
    Ok(sha256_of_file(path)?.0)
}

/// Records the fingerprint of the model at `path` in `run_dir` at a run's first start, and at
/// every later start refuses a model whose files changed since.
pub fn check_model_unchanged(run_dir: &Path, path: &Path) -> Result<(), TrainError> {
    let [weights, description] = model_files(path);
    let now = ModelFingerprint {
        weights_sha256: sha256_of(&weights)?,
        description_sha256: sha256_of(&description)?,
        weights: weights.clone(),
    };
    let file = RunDir::new(run_dir).frozen_model_fingerprint();
    let unreadable = |problem: String| TrainError::RunDir {
        path: file.clone(),
        problem,
    };
    match std::fs::read(&file) {
        Ok(bytes) => {
            let then: ModelFingerprint = serde_json::from_slice(&bytes)
                .map_err(|e| unreadable(format!("not a model fingerprint: {e}")))?;
            let changed = |what: &str, then: &str, now: &str| {
                (then != now)
                    .then(|| format!("{what} has SHA-256 {now}, the run started with {then}"))
            };
            let differences: Vec<String> = [
                changed(
                    "model.safetensors",
                    &then.weights_sha256,
                    &now.weights_sha256,
                ),
                changed(
                    "model.json",
                    &then.description_sha256,
                    &now.description_sha256,
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            if differences.is_empty() {
                return Ok(());
            }
            Err(TrainError::ServedModel {
                path: weights,
                problem: format!(
                    "changed since this run started ({}); restore it or use a new run directory",
                    differences.join("; ")
                ),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let json = serde_json::to_vec_pretty(&now)
                .map_err(|e| unreadable(format!("cannot write the model fingerprint: {e}")))?;
            write_bytes_atomically(&file, &json)?;
            Ok(())
        }
        Err(e) => Err(TrainError::io(&file)(e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::save_model;
    use crate::model::test_support::test_model;
    use crate::nn::AugmenterKind;

    #[test]
    fn a_changed_model_file_is_refused_at_the_next_start() {
        let models = tempfile::tempdir().unwrap();
        let run_dir = tempfile::tempdir().unwrap();
        let model = test_model(AugmenterKind::AffineColor, 3, 5);
        let weights = save_model(models.path(), &model.info, &model.theta).unwrap();
        check_model_unchanged(run_dir.path(), &weights).unwrap();
        let stored =
            std::fs::read_to_string(RunDir::new(run_dir.path()).frozen_model_fingerprint())
                .unwrap();
        assert!(stored.contains(&sha256_of(&weights).unwrap()));
        // The directory names the same files.
        check_model_unchanged(run_dir.path(), models.path()).unwrap();

        let other = test_model(AugmenterKind::AffineColor, 3, 6);
        save_model(models.path(), &other.info, &other.theta).unwrap();
        let err = check_model_unchanged(run_dir.path(), &weights).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TrainError::ServedModel { .. }), "{text}");
        assert!(
            text.contains("changed since this run started") && text.contains("model.safetensors"),
            "{text}"
        );
        assert!(!text.contains("model.json has"), "{text}");
    }
}

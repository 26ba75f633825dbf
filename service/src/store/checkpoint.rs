//! The checkpoint store of a run directory: save after every epoch, resume from the newest
//! checkpoint that verifies, keep the best one apart.
//!
//! Each checkpoint is a pair in `<run_dir>/checkpoints`: a safetensors data file
//! (`epoch-000005.safetensors`) and a JSON manifest (`epoch-000005.json`) holding the format tag,
//! the epoch, the data file's name, size and SHA-256, and the caller's metadata. Both are written
//! with [`write_atomically`], data first, so a manifest never names a file that was not fully
//! written; a checkpoint counts only if its manifest parses and the data file's size and
//! checksum match it.
use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tch::{Device, Tensor};

use super::atomic::{remove_stale_temporaries, write_atomically, write_bytes_atomically};
use super::StoreError;

/// The `format` tag of every manifest this store writes and the only one it reads.
pub const CHECKPOINT_FORMAT: &str = "augmentd-checkpoint/1";

/// Epoch checkpoints kept after a save: a corrupt newest one still has a good predecessor.
const KEEP: usize = 2;
const BEST_STEM: &str = "best";
const MANIFEST_EXT: &str = "json";
const DATA_EXT: &str = "safetensors";
/// Reserved by the safetensors header for its own string map.
const RESERVED_NAME: &str = "__metadata__";

/// The checkpoints of one run, in `<run_dir>/checkpoints`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    root: PathBuf,
}

/// A loaded checkpoint: tensors on the CPU with the dtypes they were saved with.
#[derive(Debug)]
pub struct Checkpoint {
    /// The epoch it was saved after.
    pub epoch: u64,
    /// The named tensors, sorted by name (safetensors does not keep the saving order).
    pub tensors: Vec<(String, Tensor)>,
    /// The metadata document saved with it, unchanged.
    pub metadata: Value,
}

/// What [`CheckpointStore::load_latest`] found.
#[derive(Debug)]
pub struct LoadOutcome {
    /// The newest checkpoint that verified, if any did.
    pub checkpoint: Option<Checkpoint>,
    /// Newer checkpoints passed over because they failed to verify or load, newest first.
    pub skipped: Vec<SkippedCheckpoint>,
}

/// A checkpoint that [`CheckpointStore::load_latest`] passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCheckpoint {
    /// The file at fault (the manifest or the data file).
    pub path: PathBuf,
    /// What is wrong with it ("checksum mismatch: expected …, found …", "truncated: …").
    pub reason: String,
}

/// A manifest as written to disk; field order is the order in the file.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    epoch: u64,
    data_file: String,
    sha256: String,
    bytes: u64,
    metadata: Value,
}

impl CheckpointStore {
    /// Opens the store of `run_dir`, creating `run_dir/checkpoints` if needed and removing the
    /// temporary files that writers killed mid-save left there.
    pub fn open(run_dir: &Path) -> Result<Self, StoreError> {
        let root = super::RunDir::new(run_dir).checkpoints();
        fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        remove_stale_temporaries(&root)?;
        Ok(Self { root })
    }

    /// The directory holding the checkpoints (`<run_dir>/checkpoints`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Saves the checkpoint of `epoch` and returns its manifest's path.
    ///
    /// Tensors may live on any device and need not be contiguous; they are copied to the CPU.
    /// Afterwards only this checkpoint and the newest one of an earlier epoch are kept. Those of
    /// later epochs are deleted too: they belong to a run that was since resumed from an earlier
    /// point, and keeping them would make [`load_latest`](Self::load_latest) return them instead
    /// of this one. An error from that clean-up is returned although the checkpoint itself is
    /// safely written.
    pub fn save(
        &self,
        epoch: u64,
        tensors: &[(String, Tensor)],
        metadata: &Value,
    ) -> Result<PathBuf, StoreError> {
        let manifest = self.write_checkpoint(&epoch_stem(epoch), epoch, tensors, metadata)?;
        self.retain(epoch)?;
        Ok(manifest)
    }

    /// Saves `best.safetensors` and `best.json`, replacing the previous best, and returns the
    /// manifest's path. Epoch checkpoints are untouched.
    ///
    /// There is only one best pair, so a crash between writing its data file and its manifest
    /// leaves a pair that [`load_best`](Self::load_best) reports as corrupt (never one that loads
    /// wrong tensors) until the next `save_best`.
    pub fn save_best(
        &self,
        epoch: u64,
        tensors: &[(String, Tensor)],
        metadata: &Value,
    ) -> Result<PathBuf, StoreError> {
        self.write_checkpoint(BEST_STEM, epoch, tensors, metadata)
    }

    /// Loads the newest epoch checkpoint that verifies, passing over (and reporting in
    /// [`LoadOutcome::skipped`]) newer ones that are corrupt or incomplete. No checkpoint at all
    /// is `Ok` with `checkpoint: None`; only failing to list the directory is an error.
    pub fn load_latest(&self) -> Result<LoadOutcome, StoreError> {
        let mut skipped = Vec::new();
        for epoch in self.epochs()?.into_iter().rev() {
            let stem = epoch_stem(epoch);
            let manifest = self.root.join(format!("{stem}.{MANIFEST_EXT}"));
            if !exists(&manifest)? {
                skipped.push(SkippedCheckpoint {
                    path: self.root.join(format!("{stem}.{DATA_EXT}")),
                    reason: "no manifest: the save was interrupted before it was written"
                        .to_string(),
                });
                continue;
            }
            match Self::load_file(&manifest) {
                Ok(checkpoint) => {
                    return Ok(LoadOutcome {
                        checkpoint: Some(checkpoint),
                        skipped,
                    })
                }
                Err(err) => skipped.push(SkippedCheckpoint {
                    path: err.path().unwrap_or(&manifest).to_path_buf(),
                    reason: err.reason(),
                }),
            }
        }
        Ok(LoadOutcome {
            checkpoint: None,
            skipped,
        })
    }

    /// Loads the best checkpoint, or `None` if none was saved. A best checkpoint that fails to
    /// verify is an error, since there is no other to fall back on.
    pub fn load_best(&self) -> Result<Option<Checkpoint>, StoreError> {
        let manifest = self.root.join(format!("{BEST_STEM}.{MANIFEST_EXT}"));
        if !exists(&manifest)? {
            return Ok(None);
        }
        Self::load_file(&manifest).map(Some)
    }

    /// Loads and verifies the checkpoint of a manifest (`.json`) or of a data file
    /// (`.safetensors`, whose manifest is the `.json` beside it).
    pub fn load_file(path: &Path) -> Result<Checkpoint, StoreError> {
        let given_data =
            match path.extension().and_then(|e| e.to_str()) {
                Some(MANIFEST_EXT) => None,
                Some(DATA_EXT) => Some(path),
                _ => return Err(StoreError::format(
                    path,
                    "not a checkpoint file: expected a .json manifest or a .safetensors data file",
                )),
            };
        let manifest_path = path.with_extension(MANIFEST_EXT);
        let manifest = read_manifest(&manifest_path)?;
        let data_path = data_path_of(&manifest_path, &manifest)?;
        if let Some(given) = given_data {
            if given.file_name() != data_path.file_name() {
                return Err(StoreError::format(
                    given,
                    format!(
                        "its manifest {} names another data file, '{}'",
                        manifest_path.display(),
                        manifest.data_file
                    ),
                ));
            }
        }
        let bytes = read_verified(&data_path, &manifest_path, &manifest)?;
        Ok(Checkpoint {
            epoch: manifest.epoch,
            tensors: decode(&bytes, &data_path)?,
            metadata: manifest.metadata,
        })
    }

    /// Writes `<stem>.safetensors` then `<stem>.json`; returns the manifest's path.
    fn write_checkpoint(
        &self,
        stem: &str,
        epoch: u64,
        tensors: &[(String, Tensor)],
        metadata: &Value,
    ) -> Result<PathBuf, StoreError> {
        check_names(tensors)?;
        let data_file = format!("{stem}.{DATA_EXT}");
        let data_path = self.root.join(&data_file);
        let cpu = to_cpu(tensors, &data_path)?;
        let (sha256, bytes) = write_atomically(&data_path, |temp| {
            Tensor::write_safetensors(&cpu, temp).map_err(StoreError::tensor(&data_path, None))?;
            // Hash what is on disk rather than what was meant to be written.
            sha256_of_file(temp)
        })?;
        let manifest_path = self.root.join(format!("{stem}.{MANIFEST_EXT}"));
        let manifest = Manifest {
            format: CHECKPOINT_FORMAT.to_string(),
            epoch,
            data_file,
            sha256,
            bytes,
            metadata: metadata.clone(),
        };
        let mut json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StoreError::format(&manifest_path, e.to_string()))?;
        json.push(b'\n');
        write_bytes_atomically(&manifest_path, &json)?;
        Ok(manifest_path)
    }

    /// Deletes every epoch checkpoint except `saved` and the newest [`KEEP`]` - 1` before it.
    fn retain(&self, saved: u64) -> Result<(), StoreError> {
        let epochs = self.epochs()?;
        let keep: HashSet<u64> = std::iter::once(saved)
            .chain(epochs.range(..saved).rev().take(KEEP - 1).copied())
            .collect();
        for epoch in epochs.into_iter().filter(|e| !keep.contains(e)) {
            let stem = epoch_stem(epoch);
            // Manifest first: a crash in between leaves a data file without manifest, which
            // loaders treat as an interrupted save, not a manifest naming a missing file.
            for ext in [MANIFEST_EXT, DATA_EXT] {
                remove_if_present(&self.root.join(format!("{stem}.{ext}")))?;
            }
        }
        Ok(())
    }

    /// The epochs that have a manifest or a data file, ascending.
    fn epochs(&self) -> Result<BTreeSet<u64>, StoreError> {
        let mut epochs = BTreeSet::new();
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let entry = entry.map_err(|e| StoreError::io(&self.root, e))?;
            if let Some(epoch) = entry.file_name().to_str().and_then(epoch_of_file_name) {
                epochs.insert(epoch);
            }
        }
        Ok(epochs)
    }
}

fn epoch_stem(epoch: u64) -> String {
    format!("epoch-{epoch:06}")
}

/// The epoch of `epoch-NNNNNN.json` or `epoch-NNNNNN.safetensors`, spelled exactly as
/// [`epoch_stem`] spells it (so the pair of an epoch is always found under one name).
fn epoch_of_file_name(name: &str) -> Option<u64> {
    let (stem, ext) = name.rsplit_once('.')?;
    if ext != MANIFEST_EXT && ext != DATA_EXT {
        return None;
    }
    epoch_of_stem(stem)
}

fn epoch_of_stem(stem: &str) -> Option<u64> {
    let digits = stem.strip_prefix("epoch-")?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let epoch = digits.parse().ok()?;
    (epoch_stem(epoch) == stem).then_some(epoch)
}

fn check_names(tensors: &[(String, Tensor)]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(tensors.len());
    for (name, _) in tensors {
        if name == RESERVED_NAME {
            return Err(StoreError::TensorName {
                name: name.clone(),
                reason: "the safetensors format reserves it",
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(StoreError::TensorName {
                name: name.clone(),
                reason: "it is given twice",
            });
        }
    }
    Ok(())
}

/// Detached, contiguous CPU copies (or aliases, for tensors that already are), which is what
/// the safetensors writer can serialize.
fn to_cpu(
    tensors: &[(String, Tensor)],
    data_path: &Path,
) -> Result<Vec<(String, Tensor)>, StoreError> {
    tensors
        .iter()
        .map(|(name, tensor)| {
            tensor
                .f_detach()
                .and_then(|t| t.f_to_device(Device::Cpu))
                .and_then(|t| t.f_contiguous())
                .map(|t| (name.clone(), t))
                .map_err(StoreError::tensor(data_path, Some(name)))
        })
        .collect()
}

/// Lower-case hex SHA-256 and size of a file (read in a stream, not held in memory).
pub fn sha256_of_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut hasher = Sha256::new();
    let bytes = File::open(path)
        .and_then(|mut file| io::copy(&mut file, &mut hasher))
        .map_err(|e| StoreError::io(path, e))?;
    Ok((hex(&hasher.finalize()), bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_manifest(path: &Path) -> Result<Manifest, StoreError> {
    let text = fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "not an augmentd checkpoint manifest",
            _ => "manifest is not valid JSON",
        };
        StoreError::format(path, format!("{what}: {e}"))
    })?;
    if manifest.format != CHECKPOINT_FORMAT {
        return Err(StoreError::format(
            path,
            format!(
                "unknown checkpoint format '{}', expected '{CHECKPOINT_FORMAT}'",
                manifest.format
            ),
        ));
    }
    let named_epoch = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(epoch_of_stem);
    if let Some(named) = named_epoch.filter(|&named| named != manifest.epoch) {
        return Err(StoreError::corrupt(
            path,
            format!(
                "manifest says epoch {} but its name says epoch {named}",
                manifest.epoch
            ),
        ));
    }
    Ok(manifest)
}

/// The data file a manifest names, which must sit beside it: a name with directories in it
/// could point anywhere.
fn data_path_of(manifest_path: &Path, manifest: &Manifest) -> Result<PathBuf, StoreError> {
    let name = Path::new(&manifest.data_file);
    let mut components = name.components();
    let plain =
        matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none();
    if !plain {
        return Err(StoreError::format(
            manifest_path,
            format!(
                "data_file '{}' is not a plain file name",
                manifest.data_file
            ),
        ));
    }
    let dir = manifest_path.parent().unwrap_or(Path::new(""));
    Ok(dir.join(name))
}

/// The data file's bytes, once their size and SHA-256 match the manifest.
fn read_verified(
    data_path: &Path,
    manifest_path: &Path,
    manifest: &Manifest,
) -> Result<Vec<u8>, StoreError> {
    let mut file = match File::open(data_path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::corrupt(
                data_path,
                format!("missing data file (named by {})", manifest_path.display()),
            ))
        }
        Err(e) => return Err(StoreError::io(data_path, e)),
    };
    let found = file
        .metadata()
        .map_err(|e| StoreError::io(data_path, e))?
        .len();
    // Checked before reading so that a wrong, huge file is not read whole.
    if found != manifest.bytes {
        let what = if found < manifest.bytes {
            "truncated"
        } else {
            "size mismatch"
        };
        return Err(StoreError::corrupt(
            data_path,
            format!("{what}: expected {} bytes, found {found}", manifest.bytes),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(found).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(data_path, e))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    if !sha256.eq_ignore_ascii_case(&manifest.sha256) {
        return Err(StoreError::corrupt(
            data_path,
            format!(
                "checksum mismatch: expected sha256 {}, found {sha256}",
                manifest.sha256
            ),
        ));
    }
    Ok(bytes)
}

/// Parses verified safetensors bytes into CPU tensors sorted by name.
fn decode(bytes: &[u8], data_path: &Path) -> Result<Vec<(String, Tensor)>, StoreError> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| StoreError::format(data_path, format!("not a safetensors file: {e}")))?;
    let mut tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            Tensor::try_from(view)
                .map(|tensor| (name.clone(), tensor))
                .map_err(StoreError::tensor(data_path, Some(&name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    tensors.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(tensors)
}

fn exists(path: &Path) -> Result<bool, StoreError> {
    path.try_exists().map_err(|e| StoreError::io(path, e))
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::io(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use tch::Kind;

    /// The kinds of tensors a training run saves: f32 weights (one non-contiguous), f64 and
    /// i64 buffers (a 0-dim counter), optimizer state; values depend on `seed`.
    fn sample(seed: f64) -> Vec<(String, Tensor)> {
        let weight = Tensor::from_slice(&[1.0f32, -2.0, 3.5, 4.0, 5.0, 6.25]).view([2, 3]) + seed;
        let theta = (Tensor::arange(6, (Kind::Float, Device::Cpu)).view([2, 3]) * seed).tr();
        assert!(!theta.is_contiguous());
        vec![
            (
                "classifier.conv1.weight".to_string(),
                weight.shallow_clone(),
            ),
            (
                "classifier.bn1.running_var".to_string(),
                Tensor::from_slice(&[0.25f64, 1.0 / 3.0, seed]),
            ),
            (
                "classifier.bn1.num_batches_tracked".to_string(),
                Tensor::scalar_tensor(seed * 10.0, (Kind::Int64, Device::Cpu)),
            ),
            ("augmenter.theta".to_string(), theta),
            (
                "augmenter.indices".to_string(),
                Tensor::from_slice(&[i64::MAX, -1, 0, seed as i64]).view([2, 2]),
            ),
            ("classifier_opt.conv1.weight".to_string(), weight * 0.5),
        ]
    }

    fn metadata(epoch: u64) -> Value {
        json!({
            "epoch": epoch,
            "seeds": {"torch": 42, "loader": 7},
            "records": (1..=epoch).map(|e| json!({"epoch": e, "val_loss": 1.0 / e as f64})).collect::<Vec<_>>(),
            "config": {"lr": 0.1, "augmenter": "affine"},
        })
    }

    fn assert_same_tensors(loaded: &[(String, Tensor)], saved: &[(String, Tensor)]) {
        let mut saved: Vec<_> = saved.iter().collect();
        saved.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(loaded.len(), saved.len());
        for ((name, got), (want_name, want)) in loaded.iter().zip(saved) {
            assert_eq!(name, want_name);
            assert_eq!(got.device(), Device::Cpu, "{name}");
            assert_eq!(got.kind(), want.kind(), "{name}");
            assert_eq!(got.size(), want.size(), "{name}");
            assert!(got.equal(want), "{name}: {got} != {want}");
        }
    }

    /// A store with epochs 1 and 2 saved, and the path of epoch 2's data file.
    fn two_epochs() -> (tempfile::TempDir, CheckpointStore, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        for epoch in 1..=2 {
            store
                .save(epoch, &sample(epoch as f64), &metadata(epoch))
                .unwrap();
        }
        let data = store.root().join("epoch-000002.safetensors");
        (dir, store, data)
    }

    fn assert_falls_back_to_epoch_1(store: &CheckpointStore, bad: &Path, reason: &str) {
        let outcome = store.load_latest().unwrap();
        let checkpoint = outcome.checkpoint.unwrap();
        assert_eq!(checkpoint.epoch, 1);
        assert_same_tensors(&checkpoint.tensors, &sample(1.0));
        assert_eq!(outcome.skipped.len(), 1, "{:?}", outcome.skipped);
        assert_eq!(outcome.skipped[0].path, bad);
        assert!(
            outcome.skipped[0].reason.contains(reason),
            "{:?}",
            outcome.skipped[0]
        );
    }

    #[test]
    fn round_trip_keeps_names_shapes_dtypes_values_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.root(), dir.path().join("checkpoints"));
        let tensors = sample(5.0);
        let manifest = store.save(5, &tensors, &metadata(5)).unwrap();
        assert_eq!(manifest, store.root().join("epoch-000005.json"));

        let outcome = store.load_latest().unwrap();
        assert!(outcome.skipped.is_empty());
        let checkpoint = outcome.checkpoint.unwrap();
        assert_eq!(checkpoint.epoch, 5);
        assert_eq!(checkpoint.metadata, metadata(5));
        assert_same_tensors(&checkpoint.tensors, &tensors);
        let kinds: HashSet<Kind> = checkpoint.tensors.iter().map(|(_, t)| t.kind()).collect();
        assert_eq!(
            kinds,
            HashSet::from([Kind::Float, Kind::Double, Kind::Int64])
        );
    }

    #[test]
    fn manifest_has_the_documented_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let manifest = store.save(5, &sample(5.0), &metadata(5)).unwrap();
        let json: Value = serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
        let data = store.root().join("epoch-000005.safetensors");
        let (sha256, bytes) = sha256_of_file(&data).unwrap();
        assert_eq!(
            json,
            json!({
                "format": "augmentd-checkpoint/1",
                "epoch": 5,
                "data_file": "epoch-000005.safetensors",
                "sha256": sha256,
                "bytes": bytes,
                "metadata": metadata(5),
            })
        );
    }

    #[test]
    fn empty_tensor_list_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        store.save(0, &[], &json!(null)).unwrap();
        let checkpoint = store.load_latest().unwrap().checkpoint.unwrap();
        assert_eq!(checkpoint.epoch, 0);
        assert!(checkpoint.tensors.is_empty());
        assert_eq!(checkpoint.metadata, json!(null));
    }

    #[test]
    fn nothing_saved_loads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let outcome = store.load_latest().unwrap();
        assert!(outcome.checkpoint.is_none());
        assert!(outcome.skipped.is_empty());
        assert!(store.load_best().unwrap().is_none());
    }

    #[test]
    fn newest_epoch_wins_and_only_two_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        for epoch in 1..=5 {
            store
                .save(epoch, &sample(epoch as f64), &metadata(epoch))
                .unwrap();
        }
        let checkpoint = store.load_latest().unwrap().checkpoint.unwrap();
        assert_eq!(checkpoint.epoch, 5);
        assert_eq!(checkpoint.metadata, metadata(5));
        assert_same_tensors(&checkpoint.tensors, &sample(5.0));
        assert_eq!(
            super::super::atomic::tests::names(store.root()),
            [
                "epoch-000004.json",
                "epoch-000004.safetensors",
                "epoch-000005.json",
                "epoch-000005.safetensors"
            ]
        );
    }

    #[test]
    fn resaving_an_earlier_epoch_drops_the_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        for epoch in 1..=3 {
            store
                .save(epoch, &sample(epoch as f64), &metadata(epoch))
                .unwrap();
        }
        // Resumed from epoch 1 and trained epoch 2 again: epoch 3 is of the abandoned run.
        store.save(2, &sample(20.0), &metadata(2)).unwrap();
        let checkpoint = store.load_latest().unwrap().checkpoint.unwrap();
        assert_eq!(checkpoint.epoch, 2);
        assert_same_tensors(&checkpoint.tensors, &sample(20.0));
        // Epoch 1 had already gone to retention when epoch 3 was saved.
        assert_eq!(
            super::super::atomic::tests::names(store.root()),
            ["epoch-000002.json", "epoch-000002.safetensors"]
        );
    }

    #[test]
    fn truncated_newest_data_file_falls_back_to_previous() {
        let (_dir, store, data) = two_epochs();
        let bytes = fs::read(&data).unwrap();
        fs::write(&data, &bytes[..bytes.len() / 2]).unwrap();
        assert_falls_back_to_epoch_1(&store, &data, "truncated: expected");

        // The resumed run saves epoch 2 again, over the damaged pair.
        store.save(2, &sample(2.5), &metadata(2)).unwrap();
        let outcome = store.load_latest().unwrap();
        assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
        assert_same_tensors(&outcome.checkpoint.unwrap().tensors, &sample(2.5));
    }

    #[test]
    fn unparsable_newest_manifest_falls_back_to_previous() {
        let (_dir, store, _) = two_epochs();
        let manifest = store.root().join("epoch-000002.json");
        fs::write(&manifest, b"{\"format\": \"augmentd-chec").unwrap();
        assert_falls_back_to_epoch_1(&store, &manifest, "manifest is not valid JSON");
    }

    #[test]
    fn flipped_byte_is_caught_by_the_checksum() {
        let (_dir, store, data) = two_epochs();
        let mut bytes = fs::read(&data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        fs::write(&data, &bytes).unwrap();
        assert_falls_back_to_epoch_1(&store, &data, "checksum mismatch: expected sha256 ");
        let err = CheckpointStore::load_file(&data).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { path, .. } if path == &data),
            "{err}"
        );
    }

    #[test]
    fn missing_data_file_and_interrupted_save_are_skipped() {
        let (_dir, store, data) = two_epochs();
        fs::remove_file(&data).unwrap();
        assert_falls_back_to_epoch_1(&store, &data, "missing data file");

        // A save killed between the data file and the manifest.
        let (_dir, store, data) = two_epochs();
        fs::remove_file(store.root().join("epoch-000002.json")).unwrap();
        assert_falls_back_to_epoch_1(&store, &data, "no manifest");
    }

    #[test]
    fn manifest_disagreeing_with_its_name_or_format_is_skipped() {
        let (_dir, store, _) = two_epochs();
        let manifest = store.root().join("epoch-000002.json");
        let text = fs::read_to_string(&manifest).unwrap();
        fs::write(&manifest, text.replacen("\"epoch\": 2", "\"epoch\": 7", 1)).unwrap();
        assert_falls_back_to_epoch_1(&store, &manifest, "manifest says epoch 7");

        fs::write(&manifest, text.replace("augmentd-checkpoint/1", "other/9")).unwrap();
        assert_falls_back_to_epoch_1(&store, &manifest, "unknown checkpoint format 'other/9'");

        fs::write(
            &manifest,
            text.replace(
                "\"epoch-000002.safetensors\"",
                "\"../epoch-000002.safetensors\"",
            ),
        )
        .unwrap();
        assert_falls_back_to_epoch_1(&store, &manifest, "not a plain file name");

        fs::write(&manifest, b"[1, 2]").unwrap();
        assert_falls_back_to_epoch_1(&store, &manifest, "not an augmentd checkpoint manifest");
    }

    #[test]
    fn best_is_saved_loaded_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let manifest = store.save_best(3, &sample(3.0), &metadata(3)).unwrap();
        assert_eq!(manifest, store.root().join("best.json"));
        let best = store.load_best().unwrap().unwrap();
        assert_eq!(best.epoch, 3);
        assert_eq!(best.metadata, metadata(3));
        assert_same_tensors(&best.tensors, &sample(3.0));

        for epoch in 1..=4 {
            store
                .save(epoch, &sample(epoch as f64), &metadata(epoch))
                .unwrap();
        }
        store.save_best(7, &sample(7.0), &metadata(7)).unwrap();
        let best = store.load_best().unwrap().unwrap();
        assert_eq!(best.epoch, 7);
        assert_eq!(best.metadata, metadata(7));
        assert_same_tensors(&best.tensors, &sample(7.0));
        // Retention leaves best alone, and best does not count as an epoch checkpoint.
        assert_eq!(store.load_latest().unwrap().checkpoint.unwrap().epoch, 4);
        assert_eq!(
            super::super::atomic::tests::names(store.root()),
            [
                "best.json",
                "best.safetensors",
                "epoch-000003.json",
                "epoch-000003.safetensors",
                "epoch-000004.json",
                "epoch-000004.safetensors"
            ]
        );

        let data = store.root().join("best.safetensors");
        let bytes = fs::read(&data).unwrap();
        fs::write(&data, &bytes[..10]).unwrap();
        let err = store.load_best().unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { path, .. } if path == &data),
            "{err}"
        );
    }

    #[test]
    fn leftover_temporaries_are_ignored_and_cleaned_up_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        store.save(1, &sample(1.0), &metadata(1)).unwrap();
        // What a writer killed mid-save leaves: partial temporaries of the next epoch's files,
        // owned by a process id that no longer (indeed never can) run.
        let leftovers = [
            ".epoch-000002.safetensors.4294967295.0.tmp",
            ".epoch-000002.json.4294967295.1.tmp",
            ".best.json.4294967295.2.tmp",
        ];
        for name in leftovers {
            fs::write(store.root().join(name), b"{\"format\": \"augm").unwrap();
        }
        let outcome = store.load_latest().unwrap();
        assert_eq!(outcome.checkpoint.unwrap().epoch, 1);
        assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
        assert!(store.load_best().unwrap().is_none());

        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(
            super::super::atomic::tests::names(store.root()),
            ["epoch-000001.json", "epoch-000001.safetensors"]
        );
        store.save(2, &sample(2.0), &metadata(2)).unwrap();
        assert_eq!(store.load_latest().unwrap().checkpoint.unwrap().epoch, 2);
    }

    #[test]
    fn load_file_takes_a_manifest_or_a_data_file() {
        let (_dir, store, data) = two_epochs();
        let manifest = store.root().join("epoch-000002.json");
        for path in [&manifest, &data] {
            let checkpoint = CheckpointStore::load_file(path).unwrap();
            assert_eq!(checkpoint.epoch, 2);
            assert_same_tensors(&checkpoint.tensors, &sample(2.0));
        }
        let other = store.root().join("notes.txt");
        assert!(matches!(
            CheckpointStore::load_file(&other),
            Err(StoreError::Format { path, .. }) if path == other
        ));
    }

    #[test]
    fn load_file_of_a_missing_path_is_io_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("epoch-000009.json");
        let err = CheckpointStore::load_file(&missing).unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { path, source } if path == &missing
                && source.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(err.to_string().contains("epoch-000009.json"), "{err}");
    }

    #[test]
    fn unsavable_tensor_names_are_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let mut tensors = sample(1.0);
        tensors.push(("augmenter.theta".to_string(), Tensor::from_slice(&[1.0f32])));
        let err = store.save(1, &tensors, &json!({})).unwrap_err();
        assert!(
            matches!(&err, StoreError::TensorName { name, .. } if name == "augmenter.theta"),
            "{err}"
        );
        let reserved = [("__metadata__".to_string(), Tensor::from_slice(&[1.0f32]))];
        assert!(store.save_best(1, &reserved, &json!({})).is_err());
        assert!(super::super::atomic::tests::names(store.root()).is_empty());
    }

    /// The project's Python with torch and safetensors (see the Makefile).
    fn python() -> PathBuf {
        let path = std::env::var_os("AUGMENTD_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../.torch-venv/bin/python")
            });
        assert!(
            path.exists(),
            "no Python with torch at {} (run `make setup`)",
            path.display()
        );
        path
    }

    #[test]
    fn python_reads_and_verifies_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let manifest = store.save(5, &sample(5.0), &metadata(5)).unwrap();
        let script = r#"
import hashlib, json, os, sys
from safetensors.torch import load_file
manifest_path = sys.argv[1]
m = json.load(open(manifest_path))
assert m["format"] == "augmentd-checkpoint/1", m["format"]
data = os.path.join(os.path.dirname(manifest_path), m["data_file"])
raw = open(data, "rb").read()
assert len(raw) == m["bytes"] and hashlib.sha256(raw).hexdigest() == m["sha256"]
tensors = load_file(data)
for name in sorted(tensors):
    t = tensors[name]
    print(name, str(t.dtype), list(t.shape), repr(t.flatten().tolist()))
print("epoch", m["epoch"], m["metadata"]["config"]["augmenter"])
"#;
        let out = std::process::Command::new(python())
            .arg("-c")
            .arg(script)
            .arg(&manifest)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = [
            "augmenter.indices torch.int64 [2, 2] [9223372036854775807, -1, 0, 5]",
            "augmenter.theta torch.float32 [3, 2] [0.0, 15.0, 5.0, 20.0, 10.0, 25.0]",
            "classifier.bn1.num_batches_tracked torch.int64 [] [50]",
            "classifier.bn1.running_var torch.float64 [3] [0.25, 0.3333333333333333, 5.0]",
            "classifier.conv1.weight torch.float32 [2, 3] [6.0, 3.0, 8.5, 9.0, 10.0, 11.25]",
            "classifier_opt.conv1.weight torch.float32 [2, 3] [3.0, 1.5, 4.25, 4.5, 5.0, 5.625]",
            "epoch 5 affine",
        ];
        assert_eq!(stdout.lines().collect::<Vec<_>>(), want);
    }

    #[test]
    fn tensor_errors_keep_only_the_first_line() {
        let err = StoreError::tensor(Path::new("x.safetensors"), None)(tch::TchError::Torch(
            "shape mismatch\nException raised from foo at bar.cpp:1\nframe #0 …".into(),
        ));
        assert_eq!(err.to_string(), "x.safetensors: shape mismatch");
    }

    #[test]
    fn epoch_file_names_parse_only_in_the_written_spelling() {
        assert_eq!(epoch_of_file_name("epoch-000005.json"), Some(5));
        assert_eq!(
            epoch_of_file_name("epoch-1234567.safetensors"),
            Some(1_234_567)
        );
        for other in [
            "epoch-5.json",
            "epoch-000005.txt",
            "epoch-+00005.json",
            "epoch-.json",
            "best.json",
            ".epoch-000005.json.12.0.tmp",
        ] {
            assert_eq!(epoch_of_file_name(other), None, "{other}");
        }
    }
}

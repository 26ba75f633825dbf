//! The model registry: every published version of every named augmenter, which version each
//! name resolves to, and the server's default model. Versions live in the state dir
//! (`models/<name>/<version>/{model.safetensors, model.json, meta.json}`, written atomically,
//! plus `models/registry.json` for the active versions); in memory each version keeps its
//! weights as plain numbers, so that it can be shared across threads and instantiated as
//! tensors by whichever engine thread serves it. A request resolves its version once, at
//! admission: a swap or a delete never changes the version a running request uses.
mod entry;
mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::metrics::Metrics;
use crate::model::{load_model, save_model, served_distribution, SERVED_DRAWS};
use crate::store::atomic::write_bytes_atomically;

use super::error::EngineError;

use entry::{load_entry, save_meta};
pub use entry::{ModelEntry, ModelMeta, Provenance};
pub use spec::{check_name, ModelSpec};

/// A version as listed: its description and whether it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelView {
    /// The description.
    pub meta: ModelMeta,
    /// The version its name resolves to.
    pub active: bool,
    /// Its name is the server's default model.
    pub default: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    default: Option<String>,
    active: BTreeMap<String, u64>,
    next_version: BTreeMap<String, u64>,
}

#[derive(Default)]
struct NameEntry {
    versions: BTreeMap<u64, Arc<ModelEntry>>,
    active: Option<u64>,
    next_version: u64,
}

#[derive(Default)]
struct RegistryState {
    names: BTreeMap<String, NameEntry>,
    default: Option<String>,
}

/// The registry.
pub struct ModelRegistry {
    dir: PathBuf,
    state: RwLock<RegistryState>,
    metrics: Arc<Metrics>,
}

impl ModelRegistry {
    /// Opens (or creates) the registry in `dir`, loading every version found there.
    pub fn open(dir: &Path, metrics: Arc<Metrics>) -> Result<Self, EngineError> {
        std::fs::create_dir_all(dir).map_err(EngineError::state_dir("create", dir))?;
        let file_path = dir.join("registry.json");
        let file: RegistryFile = match std::fs::read(&file_path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| EngineError::corrupt(&file_path, e))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RegistryFile::default(),
            Err(e) => return Err(EngineError::state_dir("read", &file_path)(e)),
        };
        let mut state = RegistryState::default();
        for name_dir in read_dirs(dir)? {
            let Some(name) = name_dir
                .file_name()
                .and_then(|n| n.to_str())
                .map(String::from)
            else {
                continue;
            };
            if check_name(&name, "name").is_err() {
                continue;
            }
            let mut entry = NameEntry::default();
            for version_dir in read_dirs(&name_dir)? {
                let meta_path = version_dir.join("meta.json");
                if !meta_path.exists() {
                    // A publish interrupted before its last write: not a version.
                    continue;
                }
                let loaded = load_entry(&version_dir, &meta_path)?;
                entry.next_version = entry.next_version.max(loaded.meta.version + 1);
                entry.versions.insert(loaded.meta.version, Arc::new(loaded));
            }
            entry.next_version = entry
                .next_version
                .max(file.next_version.get(&name).copied().unwrap_or(1))
                .max(1);
            entry.active = file
                .active
                .get(&name)
                .copied()
                .filter(|v| entry.versions.contains_key(v));
            state.names.insert(name, entry);
        }
        state.default = file
            .default
            .filter(|n| state.names.get(n).is_some_and(|e| e.active.is_some()));
        let registry = Self {
            dir: dir.to_path_buf(),
            state: RwLock::new(state),
            metrics,
        };
        registry.refresh_metrics();
        Ok(registry)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RegistryState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RegistryState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn persist(&self, state: &RegistryState) -> Result<(), EngineError> {
        let file = RegistryFile {
            default: state.default.clone(),
            active: state
                .names
                .iter()
                .filter_map(|(n, e)| e.active.map(|v| (n.clone(), v)))
                .collect(),
            next_version: state
                .names
                .iter()
                .map(|(n, e)| (n.clone(), e.next_version))
                .collect(),
        };
        let path = self.dir.join("registry.json");
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| EngineError::corrupt(&path, e))?;
        write_bytes_atomically(&path, &bytes)?;
        Ok(())
    }

    fn refresh_metrics(&self) {
        let state = self.read();
        for entry in state.names.values() {
            for m in entry.versions.values() {
                self.metrics.set_model_collapsed(
                    &m.meta.name,
                    m.meta.version,
                    m.meta.served.collapsed,
                );
            }
        }
        match state
            .default
            .as_ref()
            .and_then(|n| state.names.get(n).and_then(|e| e.active).map(|v| (n, v)))
        {
            Some((name, version)) => self.metrics.set_active_model(name, version),
            None => self.metrics.clear_active_model(),
        }
    }

    /// Publishes the model saved at `model_path` (a `model.safetensors` or its directory) as
    /// the next version of `name` (engine threads only: it reads tensors).
    pub fn publish(
        &self,
        name: &str,
        model_path: &Path,
        provenance: Provenance,
        activate: bool,
    ) -> Result<ModelView, EngineError> {
        check_name(name, "model_name")?;
        let model = load_model(model_path, Device::Cpu)?;
        let served = match &model.info.served {
            Some(served) => served.clone(),
            None => served_distribution(&model, SERVED_DRAWS, 0, true)?,
        };
        let version = {
            let mut state = self.write();
            let entry = state.names.entry(name.to_string()).or_default();
            entry.next_version = entry.next_version.max(1);
            let v = entry.next_version;
            entry.next_version += 1;
            self.persist(&state)?;
            v
        };
        let version_dir = self.dir.join(name).join(version.to_string());
        std::fs::create_dir_all(&version_dir)
            .map_err(EngineError::state_dir("create", &version_dir))?;
        let mut info = model.info.clone();
        info.served = Some(served.clone());
        save_model(&version_dir, &info, &model.theta)?;
        let meta = ModelMeta::published_now(name, version, info, served, provenance);
        save_meta(&version_dir.join("meta.json"), &meta)?;
        let entry = Arc::new(ModelEntry::new(meta, &model.theta)?);
        {
            let mut state = self.write();
            let names = state.names.entry(name.to_string()).or_default();
            names.versions.insert(version, entry);
            if activate || names.active.is_none() {
                names.active = Some(version);
            }
            if activate || state.default.is_none() {
                state.default = Some(name.to_string());
            }
            self.persist(&state)?;
        }
        self.refresh_metrics();
        self.view(&ModelSpec::Version(name.to_string(), version))
    }

    /// The version a reference resolves to now.
    pub fn resolve(&self, spec: &ModelSpec) -> Result<Arc<ModelEntry>, EngineError> {
        let state = self.read();
        let (name, version) = match spec {
            ModelSpec::Default => {
                let name = state.default.as_ref().ok_or(EngineError::NoActiveModel)?;
                let version = state
                    .names
                    .get(name)
                    .and_then(|e| e.active)
                    .ok_or(EngineError::NoActiveModel)?;
                (name.clone(), version)
            }
            ModelSpec::Name(name) => {
                let entry = state
                    .names
                    .get(name)
                    .ok_or_else(|| EngineError::ModelNotFound(name.clone()))?;
                let version = entry
                    .active
                    .ok_or_else(|| EngineError::ModelNotFound(name.clone()))?;
                (name.clone(), version)
            }
            ModelSpec::Version(name, version) => (name.clone(), *version),
        };
        state
            .names
            .get(&name)
            .and_then(|e| e.versions.get(&version))
            .cloned()
            .ok_or_else(|| EngineError::ModelNotFound(format!("{name}@{version}")))
    }

    fn view_of(state: &RegistryState, entry: &ModelEntry) -> ModelView {
        let name = &entry.meta.name;
        let active = state
            .names
            .get(name)
            .is_some_and(|e| e.active == Some(entry.meta.version));
        ModelView {
            meta: entry.meta.clone(),
            active,
            default: active && state.default.as_deref() == Some(name.as_str()),
        }
    }

    /// The version a reference resolves to, as listed.
    pub fn view(&self, spec: &ModelSpec) -> Result<ModelView, EngineError> {
        let entry = self.resolve(spec)?;
        Ok(Self::view_of(&self.read(), &entry))
    }

    /// Every version (of one name when given), by name then version.
    pub fn list(&self, name: Option<&str>) -> Vec<ModelView> {
        let state = self.read();
        state
            .names
            .iter()
            .filter(|(n, _)| name.is_none_or(|want| want == n.as_str()))
            .flat_map(|(_, e)| e.versions.values())
            .map(|m| Self::view_of(&state, m))
            .collect()
    }

    /// Makes a version the one its name resolves to and its name the default. `name` alone
    /// activates the latest version.
    pub fn activate(&self, spec: &ModelSpec) -> Result<ModelView, EngineError> {
        let (name, version) = {
            let mut state = self.write();
            let (name, version) = match spec {
                ModelSpec::Default => {
                    return Err(EngineError::invalid(
                        "model",
                        "name the model to activate: 'name' or 'name@version'",
                    ))
                }
                ModelSpec::Name(name) => {
                    let latest = state
                        .names
                        .get(name)
                        .and_then(|e| e.versions.keys().next_back().copied())
                        .ok_or_else(|| EngineError::ModelNotFound(name.clone()))?;
                    (name.clone(), latest)
                }
                ModelSpec::Version(name, v) => (name.clone(), *v),
            };
            let entry = state
                .names
                .get_mut(&name)
                .filter(|e| e.versions.contains_key(&version))
                .ok_or_else(|| EngineError::ModelNotFound(format!("{name}@{version}")))?;
            entry.active = Some(version);
            state.default = Some(name.clone());
            self.persist(&state)?;
            (name, version)
        };
        self.refresh_metrics();
        self.view(&ModelSpec::Version(name, version))
    }

    /// Deletes one version (`name@version`) or every version of a name. An active version
    /// needs `force`.
    pub fn delete(&self, spec: &ModelSpec, force: bool) -> Result<Vec<ModelView>, EngineError> {
        let removed = {
            let mut state = self.write();
            let (name, versions): (String, Vec<u64>) = match spec {
                ModelSpec::Default => {
                    return Err(EngineError::invalid(
                        "model",
                        "name the model to delete: 'name' or 'name@version'",
                    ))
                }
                ModelSpec::Name(name) => {
                    let entry = state
                        .names
                        .get(name)
                        .filter(|e| !e.versions.is_empty())
                        .ok_or_else(|| EngineError::ModelNotFound(name.clone()))?;
                    (name.clone(), entry.versions.keys().copied().collect())
                }
                ModelSpec::Version(name, v) => {
                    let found = state
                        .names
                        .get(name)
                        .is_some_and(|e| e.versions.contains_key(v));
                    if !found {
                        return Err(EngineError::ModelNotFound(format!("{name}@{v}")));
                    }
                    (name.clone(), vec![*v])
                }
            };
            let entry = state
                .names
                .get(&name)
                .ok_or_else(|| EngineError::ModelNotFound(name.clone()))?;
            if let Some(active) = entry.active.filter(|a| versions.contains(a)) {
                if !force {
                    return Err(EngineError::ModelConflict(format!(
                        "{name}@{active} is active: activate another version first, or delete with force"
                    )));
                }
            }
            let views: Vec<ModelView> = versions
                .iter()
                .filter_map(|v| entry.versions.get(v))
                .map(|m| Self::view_of(&state, m))
                .collect();
            let entry = state
                .names
                .get_mut(&name)
                .ok_or_else(|| EngineError::ModelNotFound(name.clone()))?;
            for v in &versions {
                entry.versions.remove(v);
            }
            if entry.active.is_some_and(|a| versions.contains(&a)) {
                entry.active = None;
            }
            if entry.active.is_none() && state.default.as_deref() == Some(name.as_str()) {
                state.default = None;
            }
            self.persist(&state)?;
            for v in &versions {
                let dir = self.dir.join(&name).join(v.to_string());
                std::fs::remove_dir_all(&dir).map_err(EngineError::state_dir("remove", &dir))?;
                self.metrics.remove_model(&name, *v);
            }
            views
        };
        self.refresh_metrics();
        Ok(removed)
    }

    /// The default model's version, if any.
    pub fn default_entry(&self) -> Option<Arc<ModelEntry>> {
        self.resolve(&ModelSpec::Default).ok()
    }
}

fn read_dirs(dir: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(EngineError::state_dir("list", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

#[cfg(test)]
mod tests;

//! The registry on disk: state dirs written by the November 2026 release (a committed fixture)
//! still open with every version, and a damaged version is refused as lost data.
#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::fault::Fault;
use crate::model::{ModelError, ServedDistribution};
use crate::nn::{AffineVariant, AugmenterKind, AugmenterVariant};

/// A copy of the fixture's `models/` directory, so the test may write to it.
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-2026-11/models");
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("models");
    copy_dir(&from, &to);
    (dir, to)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn registry(dir: &Path) -> Result<ModelRegistry, EngineError> {
    ModelRegistry::open(dir, Arc::new(Metrics::new()))
}

fn check_fixture(registry: &ModelRegistry) {
    let views = registry.list(Some("fmnist"));
    assert_eq!(views.len(), 2);
    let (v1, v2) = (&views[0].meta, &views[1].meta);
    assert_eq!((v1.version, v2.version), (1, 2));
    assert!(!views[0].active && views[1].active && views[1].default);
    // Version 1: the description and the served distribution as model.json holds them.
    assert_eq!(
        v1.info.kind,
        AugmenterKind::SmallAffine(AffineVariant::Affine)
    );
    assert_eq!(v1.info.variant, AugmenterVariant::Narrow);
    assert_eq!(v1.info.epoch, 3);
    assert_eq!(v1.provenance.job, "job-0007");
    assert_eq!(v1.provenance.dataset, "fashion-mnist");
    assert_eq!(v1.provenance.metrics.get("val_acc"), Some(&81.25));
    assert_eq!(v1.created_unix_ms, 1_796_224_711_225);
    let ServedDistribution { params, draws, .. } = &v1.served;
    assert_eq!(
        (params[0].name.as_str(), params[0].mean),
        ("a11", 1.00385897202068)
    );
    assert_eq!(
        (*draws, v1.served.collapsed, v1.served.threshold),
        (4096, false, 1e-3)
    );
    // Version 2 predates variants (model.json without `variant`: reference) and the served
    // field of model.json: its distribution comes from the old meta.json.
    assert_eq!(v2.info.variant, AugmenterVariant::Reference);
    assert_eq!((v2.info.epoch, v2.provenance.job.as_str()), (9, "job-0003"));
    assert_eq!(v2.served.params[0].mean, 0.998390378736076);
    assert_eq!(v2.served.params.len(), 6);
    // Both still serve.
    for version in [1, 2] {
        let entry = registry
            .resolve(&ModelSpec::Version("fmnist".into(), version))
            .unwrap();
        let model = entry.instantiate(tch::Device::Cpu).unwrap();
        assert_eq!(model.augmenter.variant(), entry.meta.info.variant);
        assert_eq!(entry.param_names().len(), 6);
    }
}

#[test]
fn a_state_dir_of_the_november_release_opens_with_every_version() {
    let (_keep, dir) = fixture_copy();
    check_fixture(&registry(&dir).unwrap());
}

#[test]
fn a_version_published_now_writes_only_the_registry_facts_to_meta_json() {
    let (_keep, dir) = fixture_copy();
    let registry = registry(&dir).unwrap();
    let source = dir.join("fmnist/1");
    let published = registry
        .publish(
            "copy",
            &source,
            Provenance {
                job: "job-0042".into(),
                dataset: "synthetic".into(),
                metrics: Default::default(),
            },
            false,
        )
        .unwrap();
    assert_eq!(published.meta.version, 1);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("copy/1/meta.json")).unwrap()).unwrap();
    let mut keys: Vec<&str> = meta
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_unix_ms",
            "dataset",
            "metrics",
            "name",
            "source_job",
            "version"
        ]
    );
    // The served distribution travels in model.json, and survives a reopening.
    let old = registry
        .resolve(&ModelSpec::Version("fmnist".into(), 1))
        .unwrap();
    drop(registry);
    let reopened = self::registry(&dir).unwrap();
    let copy = reopened.resolve(&ModelSpec::Name("copy".into())).unwrap();
    assert_eq!(copy.meta.served, old.meta.served);
    assert_eq!(copy.meta.info, old.meta.info);
    check_fixture(&reopened);
}

#[test]
fn a_damaged_version_is_refused_as_lost_data_naming_its_file() {
    for (file, text) in [
        ("meta.json", "{\"name\": 1"),
        ("model.json", "{}"),
        ("model.safetensors", "not tensors"),
    ] {
        let (_keep, dir) = fixture_copy();
        let path = dir.join("fmnist/2").join(file);
        std::fs::write(&path, text).unwrap();
        let error = registry(&dir).err().unwrap();
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "{file}: {message}"
        );
        let fault = match &error {
            EngineError::Corrupt { .. } => Fault::Corrupt,
            EngineError::Store(e) => e.fault(),
            EngineError::Model(e) => e.fault(),
            other => panic!("{file}: {other:?}"),
        };
        assert_eq!(fault, Fault::Corrupt, "{file}: {message}");
    }
    let (_keep, dir) = fixture_copy();
    std::fs::remove_file(dir.join("fmnist/2/model.json")).unwrap();
    let missing = registry(&dir).err().unwrap();
    assert!(
        matches!(&missing, EngineError::Model(ModelError::Missing { .. })),
        "{missing:?}"
    );
}

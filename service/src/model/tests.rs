//! The model files: a round trip, and the models saved by earlier versions (committed
//! fixtures under `service/tests/fixtures/`) still load.
#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};

use tch::Device;

use super::test_support::test_model;
use super::*;
use crate::fault::Fault;
use crate::nn::{AffineVariant, AugmenterKind, AugmenterVariant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn the_base_round_trips_and_models_without_one_load_with_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = test_model(AugmenterKind::AffineColor, 3, 4);
    let base = ModelBase {
        baseline: "crop+flip+randaugment".parse().unwrap(),
        crop_padding: 2,
        color_jitter: true,
    };
    model.info.base = Some(base);
    let weights = save_model(dir.path(), &model.info, &model.theta).unwrap();
    let text = std::fs::read_to_string(dir.path().join("model.json")).unwrap();
    assert!(
        text.contains("\"baseline\": \"crop+flip+randaugment\""),
        "{text}"
    );
    assert_eq!(
        load_model(&weights, Device::Cpu).unwrap().info.base,
        Some(base)
    );
    model.info.base = None;
    save_model(dir.path(), &model.info, &model.theta).unwrap();
    let text = std::fs::read_to_string(dir.path().join("model.json")).unwrap();
    assert!(!text.contains("base"), "{text}");
    assert_eq!(load_model(&weights, Device::Cpu).unwrap().info.base, None);
}

#[test]
fn the_served_distribution_round_trips_and_old_descriptions_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = test_model(AugmenterKind::AffineColor, 3, 4);
    model.info.served = Some(served_distribution(&model, 64, 1, true).unwrap());
    let weights = save_model(dir.path(), &model.info, &model.theta).unwrap();
    let loaded = load_model(&weights, Device::Cpu).unwrap();
    // serde_json parses floats to within an ulp, not always bit for bit.
    let (saved, read) = (model.info.served.clone(), loaded.info.served.clone());
    let (saved, read) = (saved.unwrap(), read.unwrap());
    assert_eq!(
        ModelInfo {
            served: None,
            ..loaded.info.clone()
        },
        ModelInfo {
            served: None,
            ..model.info.clone()
        }
    );
    assert_eq!(
        (read.draws, read.collapsed, read.threshold),
        (64, false, 1e-3)
    );
    assert_eq!(read.params.len(), 10);
    for (r, s) in read.params.iter().zip(&saved.params) {
        assert_eq!(r.name, s.name);
        assert!((r.mean - s.mean).abs() < 1e-12 && (r.std - s.std).abs() < 1e-12);
    }

    // A description written before `served` existed.
    let json = dir.path().join("model.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("served");
    std::fs::write(&json, serde_json::to_vec(&value).unwrap()).unwrap();
    let old = load_model(dir.path(), Device::Cpu).unwrap();
    assert_eq!(old.info.served, None);
    assert_eq!(old.info.epoch, 0);
    assert!(old
        .theta
        .get("lin3.weight")
        .unwrap()
        .equal(model.theta.get("lin3.weight").unwrap()));
}

#[test]
fn a_model_saved_by_the_november_release_loads_with_its_enums() {
    let model = load_model(&fixture("model-2026-11"), Device::Cpu).unwrap();
    let info = &model.info;
    assert_eq!(info.kind, AugmenterKind::SmallAffine(AffineVariant::Affine));
    assert_eq!(info.variant, AugmenterVariant::Narrow);
    assert_eq!(info.normalization.mean, vec![0.286]);
    assert_eq!(info.normalization.std, vec![0.353]);
    assert_eq!(
        (info.shape.channels, info.shape.height, info.shape.width),
        (1, 28, 28)
    );
    assert_eq!(
        (info.epoch, info.bound, info.served.is_none()),
        (3, None, true)
    );
    // Its weights apply: a fresh narrow affine augmenter varies.
    assert!(!served_distribution(&model, 256, 0, true).unwrap().collapsed);
    // Saved again, the description is the same file.
    let dir = tempfile::tempdir().unwrap();
    save_model(dir.path(), &model.info, &model.theta).unwrap();
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join("model.json")).unwrap()).unwrap()
    };
    assert_eq!(read(dir.path()), read(&fixture("model-2026-11")));
}

#[test]
fn bad_model_files_keep_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let missing = load_model(dir.path(), Device::Cpu).err().unwrap();
    assert!(matches!(missing, ModelError::Missing { .. }), "{missing}");
    assert_eq!(missing.fault(), Fault::NotFound);

    let model = test_model(AugmenterKind::AffineColor, 3, 4);
    save_model(dir.path(), &model.info, &model.theta).unwrap();
    let json = dir.path().join("model.json");
    let text = std::fs::read_to_string(&json).unwrap();

    std::fs::write(&json, "{not json").unwrap();
    let corrupt = load_model(dir.path(), Device::Cpu).err().unwrap();
    assert_eq!(corrupt.fault(), Fault::Corrupt, "{corrupt}");
    assert!(
        corrupt.to_string().contains("not a model description"),
        "{corrupt}"
    );

    std::fs::write(&json, text.replace("augmentd-augmenter/1", "other/9")).unwrap();
    let format = load_model(dir.path(), Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        format.contains("format 'other/9', expected 'augmentd-augmenter/1'"),
        "{format}"
    );

    std::fs::write(&json, text.replace("affine_color", "small_affine")).unwrap();
    let mismatch = load_model(dir.path(), Device::Cpu).err().unwrap();
    assert_eq!(mismatch.fault(), Fault::Corrupt, "{mismatch}");
    assert!(
        mismatch.to_string().contains("model.safetensors"),
        "{mismatch}"
    );

    std::fs::write(&json, &text).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let no_weights = load_model(dir.path(), Device::Cpu).err().unwrap();
    assert_eq!(no_weights.fault(), Fault::NotFound, "{no_weights}");
}

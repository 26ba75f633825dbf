//! Tests of loading, merging, overriding and checking run configurations.
#![allow(clippy::unwrap_used)]
use std::path::Path;

use super::*;
use crate::data::{Level, Policy, CROP_PADDING};
use crate::nn::{AugmenterKind, AugmenterVariant, ClassifierArch};
use crate::objective::HypergradientScale;
use crate::train::presets::PRESET_NAMES;

#[test]
fn every_preset_parses_and_validates() {
    for name in PRESET_NAMES {
        let config = RunConfig::load(Some(name), None, &[]).unwrap();
        assert_eq!(config.seed, 6442, "{name}");
        // Round trip through the stored TOML.
        assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
    }
    let cifar = RunConfig::load(Some("cifar10-paper"), None, &[]).unwrap();
    assert_eq!(cifar.classifier.arch, ClassifierArch::ResNet18Cifar);
    assert_eq!(cifar.augment.baseline_with_settings(), Level::Flip.into());
    assert_eq!(cifar.classifier.schedule.lr_at(0.1, 59), 0.1);
    assert!((cifar.classifier.schedule.lr_at(0.1, 160) - 0.1 * 0.2f64.powi(3)).abs() < 1e-15);
    let bach = RunConfig::load(Some("bach-paper"), None, &[]).unwrap();
    assert_eq!((bach.batch_size, bach.data.patch), (16, Some(512)));
}

#[test]
fn learned_modes_record_their_variant_and_other_modes_refuse_one() {
    let load = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::load(Some("fmnist-small"), None, &sets)
    };
    let learned = load(&[]).unwrap();
    assert_eq!(learned.augment.variant, Some(AugmenterVariant::Broad));
    assert_eq!(
        learned.augment.variant_or_default(),
        AugmenterVariant::Broad
    );
    assert!(learned.to_toml().contains("variant = \"broad\""));
    let reference = load(&["augment.variant=reference"]).unwrap();
    assert_eq!(
        reference.augment.variant_or_default(),
        AugmenterVariant::Reference
    );
    assert_eq!(
        RunConfig::from_toml(&reference.to_toml()).unwrap(),
        reference
    );
    let plain = load(&["augment.mode=none"]).unwrap();
    assert_eq!(plain.augment.variant, None);
    assert!(!plain.to_toml().contains("variant"));
    let err = load(&["augment.mode=handcrafted", "augment.variant=spread"]).unwrap_err();
    assert_eq!(err.key, "augment.variant");
    assert!(err.problem.contains("learned modes"), "{err}");
    let err = load(&["augment.variant=wide"]).unwrap_err();
    assert_eq!(err.key, "augment.variant");
    assert!(err.problem.contains("'wide'"), "{err}");
}

#[test]
fn crop_padding_is_stored_only_when_changed_and_bounded() {
    let load = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::load(Some("fmnist-small"), None, &sets)
    };
    let default = load(&[]).unwrap();
    assert_eq!(default.augment.crop_padding, CROP_PADDING);
    assert!(!default.to_toml().contains("crop_padding"));
    let two = load(&["augment.crop_padding=2"]).unwrap();
    assert!(two.to_toml().contains("crop_padding = 2"));
    assert_eq!(RunConfig::from_toml(&two.to_toml()).unwrap(), two);
    let err = load(&["augment.crop_padding=65"]).unwrap_err();
    assert_eq!(err.key, "augment.crop_padding");
}

#[test]
fn policies_parse_with_randaugment_settings_checked() {
    let load = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::load(Some("fmnist-small"), None, &sets)
    };
    let ta = load(&[
        "augment.mode=handcrafted",
        "augment.baseline=crop+flip+trivialaugment+erasing",
    ])
    .unwrap();
    let b = ta.augment.baseline_with_settings();
    assert_eq!(b.level, Level::CropFlip);
    assert_eq!(b.policy, Some(Policy::TrivialAugment));
    assert!(b.erasing);
    assert!(!ta.to_toml().contains("randaugment_ops"));
    let ra = load(&[
        "augment.baseline=randaugment",
        "augment.randaugment_ops=3",
        "augment.randaugment_magnitude=20",
    ])
    .unwrap();
    assert_eq!(
        ra.augment.baseline_with_settings().policy,
        Some(Policy::RandAugment {
            ops: 3,
            magnitude: 20
        })
    );
    assert_eq!(RunConfig::from_toml(&ra.to_toml()).unwrap(), ra);
    let default = load(&["augment.baseline=randaugment"]).unwrap();
    assert_eq!(
        default.augment.baseline_with_settings().policy,
        Some(Policy::RANDAUGMENT)
    );
    let err = load(&["augment.baseline=crop", "augment.randaugment_ops=3"]).unwrap_err();
    assert_eq!(err.key, "augment.randaugment_ops");
    assert!(err.problem.contains("has no randaugment"), "{err}");
    let err = load(&[
        "augment.baseline=randaugment",
        "augment.randaugment_magnitude=31",
    ])
    .unwrap_err();
    assert_eq!(err.key, "augment.randaugment_magnitude");
    assert!(err.problem.contains("bin 31"), "{err}");
    let err = load(&["augment.baseline=randaugment", "augment.randaugment_ops=0"]).unwrap_err();
    assert_eq!(err.key, "augment.randaugment_ops");
    let err = load(&["augment.baseline=crop+trivialaugment+trivialaugment"]).unwrap_err();
    assert_eq!(err.key, "augment.baseline");
    assert!(
        err.problem.contains("'trivialaugment' appears twice"),
        "{err}"
    );
}

#[test]
fn overrides_and_files_refine_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.toml");
    std::fs::write(&file, "epochs = 3\n[augment]\nmode = \"affine_color\"\n").unwrap();
    let sets = vec![
        "classifier.lr=0.01".to_string(),
        "data.per_class = 50".to_string(),
        "augment.baseline=crop+flip".to_string(),
    ];
    let config = RunConfig::load(Some("fmnist-small"), Some(&file), &sets).unwrap();
    assert_eq!(config.epochs, 3);
    assert_eq!(
        config.augment.mode,
        AugmentMode::Learned(AugmenterKind::AffineColor)
    );
    assert_eq!(config.classifier.lr, 0.01);
    assert_eq!(config.data.per_class, Some(50));
    assert_eq!(
        config.augment.baseline_with_settings(),
        Level::CropFlip.into()
    );
    assert_eq!(
        config.classifier.arch,
        ClassifierArch::SmallCnn,
        "untouched keys stay"
    );
}

#[test]
fn model_every_is_stored_only_when_set() {
    let config = RunConfig::load(Some("fmnist-small"), None, &[]).unwrap();
    assert_eq!(config.output.model_every, 0);
    // Run directories written before the key existed hold the same config.toml.
    assert!(!config.to_toml().contains("model_every"));
    let sets = vec!["output.model_every=5".to_string()];
    let every = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
    assert_eq!(every.output.model_every, 5);
    assert_eq!(RunConfig::from_toml(&every.to_toml()).unwrap(), every);
}

#[test]
fn test_every_is_stored_only_when_not_one() {
    let config = RunConfig::load(Some("fmnist-small"), None, &[]).unwrap();
    assert_eq!(config.output.test_every, 1);
    // Run directories written before the key existed hold the same config.toml.
    let text = config.to_toml();
    assert!(!text.contains("test_every"), "{text}");
    assert_eq!(RunConfig::from_toml(&text).unwrap(), config);
    let sets = vec!["output.test_every=3".to_string()];
    let every = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
    assert_eq!(every.output.test_every, 3);
    let text = every.to_toml();
    assert!(text.contains("test_every = 3"), "{text}");
    assert_eq!(RunConfig::from_toml(&text).unwrap(), every);
}

#[test]
fn test_every_picks_every_kth_epoch_and_the_last() {
    let output = |test_every| OutputConfig {
        test_every,
        ..OutputConfig::default()
    };
    let tested = |test_every, epochs| -> Vec<u64> {
        (0..epochs)
            .filter(|&e| output(test_every).tests_after(e, epochs))
            .collect()
    };
    assert_eq!(tested(1, 4), [0, 1, 2, 3]);
    assert_eq!(tested(2, 3), [1, 2]);
    assert_eq!(tested(3, 7), [2, 5, 6]);
    assert_eq!(tested(10, 4), [3]);
    let err = error_of(&["output.test_every=0"]);
    assert_eq!(err.key, "output.test_every");
    assert!(err.problem.contains("never test"), "{err}");
    assert_eq!(error_of(&["output.test_every=-2"]).key, "output.test_every");
}

#[test]
fn val_ratio_zero_is_for_modes_without_validation_batches() {
    let load = |mode: &str| {
        let mut sets = vec![
            "data.val_ratio=0".to_string(),
            format!("augment.mode={mode}"),
        ];
        if mode == "served" {
            sets.push("augment.model=runs/a".to_string());
        }
        RunConfig::load(Some("fmnist-small"), None, &sets)
    };
    for mode in ["none", "handcrafted", "served"] {
        let config = load(mode).unwrap();
        assert_eq!(config.data.val_ratio, 0.0, "{mode}");
        assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
    }
    for mode in ["small_affine", "small_affine:rotation", "affine_color"] {
        let err = load(mode).unwrap_err();
        assert_eq!(err.key, "data.val_ratio", "{mode}");
        assert!(
            err.problem.contains(&format!("mode '{mode}'"))
                && err
                    .problem
                    .contains("need validation images for the bilevel step"),
            "{err}"
        );
    }
}

fn error_of(sets: &[&str]) -> ConfigError {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    RunConfig::load(Some("fmnist-small"), None, &sets).unwrap_err()
}

#[test]
fn bad_values_are_named_by_key() {
    let err = error_of(&["classifier.lrr=0.1"]);
    assert_eq!(err.key, "classifier.lrr");
    assert!(err.problem.contains("unknown field `lrr`"), "{err}");
    let err = error_of(&["classifier.lr=-0.1"]);
    assert_eq!(err.key, "classifier.lr");
    assert!(err.to_string().contains("-0.1"), "{err}");
    for ratio in ["1", "1.5", "-0.2", "nan"] {
        let err = error_of(&[&format!("data.val_ratio={ratio}"), "augment.mode=none"]);
        assert_eq!(err.key, "data.val_ratio", "{ratio}");
        assert!(err.problem.contains("outside [0, 1)"), "{err}");
    }
    assert_eq!(error_of(&["epochs=\"many\""]).key, "epochs");
    assert_eq!(error_of(&["augment.mode=magic"]).key, "augment.mode");
    assert_eq!(error_of(&["classifier.arch=vgg"]).key, "classifier.arch");
    assert_eq!(error_of(&["device=tpu"]).key, "device");
    assert_eq!(
        error_of(&["output.model_every=-1"]).key,
        "output.model_every"
    );
    let err = error_of(&["output.model_every=2", "augment.mode=handcrafted"]);
    assert_eq!(err.key, "output.model_every");
    assert_eq!(error_of(&["nonsense"]).key, "nonsense");
    let err = RunConfig::load(Some("imagenet-huge"), None, &[]).unwrap_err();
    assert!(err.problem.contains("fmnist-small"), "{err}");
}

#[test]
fn served_mode_needs_its_model_and_other_modes_refuse_one() {
    let err = error_of(&["augment.mode=served"]);
    assert_eq!(err.key, "augment.model");
    assert!(err.problem.contains("required in served mode"), "{err}");
    let err = error_of(&["augment.model=runs/a/model.safetensors"]);
    assert_eq!(err.key, "augment.model");
    assert!(
        err.problem.contains("runs/a/model.safetensors") && err.problem.contains("small_affine"),
        "{err}"
    );
    let err = error_of(&["augment.mode=none", "augment.model=runs/a"]);
    assert_eq!(err.key, "augment.model");
    let err = error_of(&[
        "augment.mode=served",
        "augment.model=runs/a",
        "output.model_every=2",
    ]);
    assert_eq!(err.key, "output.model_every");

    let sets = vec![
        "augment.mode=served".to_string(),
        "augment.model=runs/a/model.safetensors".to_string(),
    ];
    let served = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
    assert_eq!(served.augment.mode, AugmentMode::Frozen);
    assert_eq!(AugmentMode::Frozen.to_string(), "served");
    assert_eq!(
        served.served_model().unwrap(),
        Path::new("runs/a/model.safetensors")
    );
    let text = served.to_toml();
    assert!(
        text.contains("[augment]\nmode = \"served\"\nmodel = \"runs/a/model.safetensors\""),
        "{text}"
    );
    assert_eq!(RunConfig::from_toml(&text).unwrap(), served);
    // Stored configurations of the other modes are unchanged.
    let plain = RunConfig::load(Some("fmnist-small"), None, &[]).unwrap();
    assert!(!plain.to_toml().contains("model ="));
}

#[test]
fn a_missing_served_model_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let sets = |model: &Path| {
        vec![
            "augment.mode=served".to_string(),
            format!("augment.model={}", model.display()),
        ]
    };
    let missing = dir.path().join("gone/model.safetensors");
    let config = RunConfig::load(Some("fmnist-small"), None, &sets(&missing)).unwrap();
    let err = RunConfig {
        data: DataConfig {
            source: DataSource::Synthetic,
            ..config.data.clone()
        },
        ..config
    }
    .check_paths()
    .unwrap_err();
    assert_eq!(err.key, "augment.model");
    assert!(
        err.problem.contains(&missing.display().to_string()),
        "{err}"
    );
    // A directory without a model names the file it lacks.
    let config = RunConfig::load(Some("fmnist-small"), None, &sets(dir.path())).unwrap();
    let config = RunConfig {
        data: DataConfig {
            source: DataSource::Synthetic,
            ..config.data.clone()
        },
        ..config
    };
    let err = config.check_paths().unwrap_err();
    let expected = dir.path().join("model.safetensors");
    assert!(
        err.problem.contains(&expected.display().to_string()),
        "{err}"
    );
    // Weights without their description.
    std::fs::write(&expected, b"weights").unwrap();
    let err = config.check_paths().unwrap_err();
    assert!(err.problem.contains("model.json"), "{err}");
}

#[test]
fn a_missing_dataset_path_is_named() {
    let config = RunConfig::load(
        Some("fmnist-small"),
        None,
        &["data.path=/nonexistent/fashion".to_string()],
    )
    .unwrap();
    let err = config.check_paths().unwrap_err();
    assert_eq!(err.key, "data.path");
    assert!(err.problem.contains("/nonexistent/fashion"), "{err}");
}

#[test]
fn names_are_parsed_into_their_types_with_the_key_and_the_type_message() {
    let err = error_of(&["classifier.arch=vgg"]);
    assert_eq!(err.key, "classifier.arch");
    assert!(err.problem.contains("'vgg'"), "{err}");
    let err = error_of(&["data.normalization=imagenet"]);
    assert_eq!(err.key, "data.normalization");
    assert!(
        err.problem
            .starts_with("unknown 'imagenet': expected computed"),
        "{err}"
    );
    let err = error_of(&["device=tpu"]);
    assert!(err.problem.contains("unknown device 'tpu'"), "{err}");
    // Another spelling of the same names reads back as the same configuration.
    let config = RunConfig::load(
        Some("fmnist-small"),
        None,
        &["device=CUDA:1".into(), "augment.baseline=flip+crop".into()],
    )
    .unwrap();
    assert_eq!(config.device, crate::device::DeviceSpec::CudaIndex(1));
    assert_eq!(config.augment.baseline, Level::CropFlip.into());
    let text = config.to_toml();
    assert!(text.contains("device = \"cuda:1\"") && text.contains("baseline = \"crop+flip\""));
    assert_eq!(RunConfig::from_toml(&text).unwrap(), config);
}

#[test]
fn path_keys_name_every_path_and_only_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    for key in RunConfig::path_keys() {
        let mut sets = vec![format!("{key}={:?}", missing.display().to_string())];
        if *key == "augment.model" {
            sets.push("augment.mode=served".into());
        }
        let config = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
        let config = RunConfig {
            data: DataConfig {
                path: (*key == "data.path").then(|| missing.clone()),
                ..config.data.clone()
            },
            ..config
        };
        let err = config.check_paths().unwrap_err();
        assert_eq!(err.key, *key);
    }
    assert_eq!(RunConfig::path_keys().len(), 4);
}

#[test]
fn broad_fills_in_its_objective_and_the_objective_keys_are_checked() {
    let load = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::load(Some("fmnist-small"), None, &sets)
    };
    let broad = load(&["augment.variant=broad"]).unwrap();
    let objective = broad.augment.objective();
    assert_eq!(objective.scale, HypergradientScale::InverseLr);
    assert_eq!(objective.prior_kl, augment::BROAD_PRIOR_KL);
    assert_eq!(
        (objective.entropy_bonus, objective.freeze_below),
        (0.0, None)
    );
    let stored = broad.to_toml();
    assert!(
        stored.contains("hypergradient_scale = \"inverse-lr\""),
        "{stored}"
    );
    assert_eq!(RunConfig::from_toml(&stored).unwrap(), broad);
    let tuned = load(&[
        "augment.variant=broad",
        "augment.prior_kl=0.2",
        "augment.hypergradient_scale=\"none\"",
        "augment.freeze_below=0.05",
    ])
    .unwrap();
    let objective = tuned.augment.objective();
    assert_eq!(objective.prior_kl, 0.2);
    assert_eq!(objective.scale, HypergradientScale::None);
    assert_eq!(objective.freeze_below, Some(0.05));
    // The other variants keep the published objective and weight decay; broad has none.
    let narrow = load(&["augment.variant=narrow"]).unwrap();
    assert_eq!(
        narrow.augment.objective(),
        crate::objective::AugmenterObjective::default()
    );
    assert_eq!(
        narrow.augment.weight_decay,
        Some(augment::PUBLISHED_WEIGHT_DECAY)
    );
    assert_eq!(broad.augment.weight_decay, Some(0.0));
    let decayed = load(&["augment.weight_decay=0.001"]).unwrap();
    assert_eq!(decayed.augment.weight_decay, Some(0.001));
    assert_eq!(
        load(&["augment.mode=none"]).unwrap().augment.weight_decay,
        None
    );

    let err = load(&["augment.variant=narrow", "augment.prior_kl=0.1"]).unwrap_err();
    assert_eq!(err.key, "augment.prior_kl");
    assert!(err.problem.contains("broad"), "{err}");
    let err = load(&["augment.variant=reference", "augment.entropy_bonus=0.1"]).unwrap_err();
    assert_eq!(err.key, "augment.entropy_bonus");
    let err = load(&["augment.mode=none", "augment.freeze_below=0.1"]).unwrap_err();
    assert_eq!(err.key, "augment.freeze_below");
    assert!(err.problem.contains("learned modes"), "{err}");
    let err = load(&["augment.variant=broad", "augment.prior_kl=-1"]).unwrap_err();
    assert_eq!(err.key, "augment.prior_kl");
    let err = load(&["augment.freeze_below=1.5"]).unwrap_err();
    assert_eq!(err.key, "augment.freeze_below");
    let teach = load(&["augment.adversarial=1.0", "augment.teacher_decay=0.99"]).unwrap();
    let objective = teach.augment.objective();
    assert_eq!(
        (objective.adversarial, objective.teacher_decay),
        (1.0, 0.99)
    );
    assert_eq!(
        load(&["augment.adversarial=1.0"])
            .unwrap()
            .augment
            .objective()
            .teacher_decay,
        crate::teacher::TEACHER_DECAY
    );
    let err = load(&["augment.teacher_decay=0.9"]).unwrap_err();
    assert_eq!(err.key, "augment.teacher_decay");
    assert!(err.problem.contains("no teacher"), "{err}");
    let err = load(&["augment.adversarial=1.0", "augment.teacher_decay=1.0"]).unwrap_err();
    assert_eq!(err.key, "augment.teacher_decay");
    let err = load(&["augment.adversarial=-1"]).unwrap_err();
    assert_eq!(err.key, "augment.adversarial");
    let err = load(&["augment.hypergradient_scale=\"inverse\""]).unwrap_err();
    assert_eq!(err.key, "augment.hypergradient_scale");
    assert!(err.problem.contains("inverse-lr"), "{err}");
}

#[test]
fn prior_mode_names_its_kind_and_refuses_learned_keys() {
    let load = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::load(Some("fmnist-small"), None, &sets)
    };
    let prior = load(&["augment.mode=\"prior:affine_color\"", "data.val_ratio=0"]).unwrap();
    assert_eq!(
        prior.augment.mode,
        AugmentMode::Prior(AugmenterKind::AffineColor)
    );
    assert!(!prior.augment.mode.is_learned());
    assert_eq!(RunConfig::from_toml(&prior.to_toml()).unwrap(), prior);
    let err = load(&["augment.mode=\"prior:wide\""]).unwrap_err();
    assert_eq!(err.key, "augment.mode");
    assert!(
        err.problem.contains("'wide'") && err.problem.contains("prior:affine_color"),
        "{err}"
    );
    let err = load(&[
        "augment.mode=\"prior:affine_color\"",
        "augment.prior_kl=0.1",
    ])
    .unwrap_err();
    assert_eq!(err.key, "augment.prior_kl");
}

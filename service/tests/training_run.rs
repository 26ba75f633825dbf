//! Training runs end to end on synthetic data: what a run writes (records with every field,
//! checkpoints, the picture grid, the accuracy plot, the trained augmenter and its periodic
//! models), the events it sends, and that a run killed with SIGKILL, or stopped through its
//! control, and restarted produces the records of an uninterrupted run, even when its newest
//! checkpoint was truncated; and `served` runs, which train a fresh classifier through a learned
//! run's frozen model (from the library and the CLI, bit for bit, refusing models that do not
//! fit or changed); runs without a validation split (`data.val_ratio = 0`), and the test set
//! evaluated every `output.test_every` epochs.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use augmentd::model::load_model;
use augmentd::train::{
    EpochRecord, RunConfig, RunControl, RunEvent, StopReason, TrainError, TrainingRun,
};

const EPOCHS: u64 = 4;

/// The preset the test run refines.
const PRESET: &str = "synthetic-smoke";

/// The test run over [`PRESET`], as a config file: its own seed, EPOCHS epochs, a step schedule
/// and 3 grid images, in `mode`.
fn config_text(mode: &str) -> String {
    format!(
        r#"
seed = 11
epochs = {EPOCHS}
classifier.schedule = {{ kind = "step", milestones = [2], factor = 0.5 }}
augment.mode = "{mode}"
output.grid_images = 3
"#
    )
}

/// The test run in `mode`, refined by `sets`.
fn config_with(mode: &str, sets: &[String]) -> RunConfig {
    RunConfig::load_text(Some(PRESET), &config_text(mode), sets).unwrap()
}

fn records(dir: &Path) -> Vec<EpochRecord> {
    std::fs::read_to_string(dir.join("records.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<EpochRecord>(line)
                .unwrap()
                .without_timing()
        })
        .collect()
}

#[test]
fn a_short_run_writes_records_checkpoints_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with("affine_color", &[]);
    let summary = TrainingRun::new(config, dir.path())
        .unwrap()
        .run(None)
        .unwrap();
    assert_eq!(summary.records.len(), EPOCHS as usize);
    let record = &summary.records[EPOCHS as usize - 1];
    assert_eq!(record.epoch, EPOCHS - 1);
    assert!(
        (record.lr - 0.025).abs() < 1e-12,
        "schedule: ×0.5 from epoch 2"
    );
    assert!(record.train_loss.is_finite() && record.val_loss.is_some_and(f64::is_finite));
    assert!(record
        .val_acc
        .is_some_and(|acc| (0.0..=100.0).contains(&acc)));
    assert!((0.0..=100.0).contains(&record.train_acc));
    assert!(record.test_acc.is_some() && record.images_per_second > 0.0);
    assert!(record.augmenter_grad_norm.unwrap() > 0.0);
    let names: Vec<&str> = record.transforms.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a11",
            "a12",
            "tx",
            "a21",
            "a22",
            "ty",
            "brightness",
            "shift",
            "saturation",
            "hue"
        ]
    );
    assert!(record
        .transforms
        .iter()
        .all(|t| t.std >= 0.0 && t.mean.is_finite()));
    assert!(summary.records.iter().all(|r| !r.collapsed));
    // Every field is in the JSON-lines file.
    let first_line = std::fs::read_to_string(dir.path().join("records.jsonl")).unwrap();
    let json: serde_json::Value = serde_json::from_str(first_line.lines().next().unwrap()).unwrap();
    for field in [
        "epoch",
        "train_loss",
        "val_loss",
        "train_acc",
        "val_acc",
        "test_acc",
        "lr",
        "seconds",
        "images_per_second",
        "augmenter_grad_norm",
        "transforms",
        "served",
        "collapsed",
    ] {
        assert!(json.get(field).is_some(), "records.jsonl lacks {field}");
    }
    // Pictures: 3 images of 16 px upscaled ×4 to 64 px, original above augmented.
    let grid = image::open(dir.path().join("grids/epoch-0003.png")).unwrap();
    assert_eq!(
        (grid.width(), grid.height()),
        (2 + 3 * 64 + 2 * 2 + 2, 2 + 2 * 64 + 2 + 2)
    );
    let plot = image::open(dir.path().join("accuracy.png")).unwrap();
    assert_eq!((plot.width(), plot.height()), (800, 500));
    assert!(dir.path().join("checkpoints/best.json").exists());
    let model = summary.model.unwrap();
    let loaded = augmentd::model::load_model(&model, tch::Device::Cpu).unwrap();
    assert_eq!(loaded.info.kind.name(), "affine_color");
    assert_eq!(loaded.info.variant.name(), "broad", "the default variant");
    assert_eq!(loaded.info.epoch, EPOCHS - 1);
    let served = loaded.info.served.as_ref().unwrap();
    assert_eq!((served.draws, served.params.len()), (4096, 10));
    assert!(!served.collapsed && served.params.iter().any(|p| p.std > 0.01));
    // The default variant keeps every parameter's served spread above its floor, after every
    // epoch and in the published model (1,024 and 4,096 draws: 10 % sampling margin).
    for stats in summary
        .records
        .iter()
        .map(|r| &r.served)
        .chain([&served.params])
    {
        assert_eq!(stats.len(), 10);
        for stat in stats {
            let param = augmentd::nn::TransformParam::from_name(&stat.name).unwrap();
            let floor = param.spread_range().floor;
            assert!(stat.std >= 0.9 * floor, "{stat:?} below the floor {floor}");
        }
    }
    assert_eq!(
        summary.served.as_ref(),
        Some(served),
        "the summary has what model.json says"
    );

    // `augmentd augment` applies it to image files: two copies of a 20×12 image.
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let picture = image::GrayImage::from_fn(20, 12, |x, y| image::Luma([(x * 12 + y) as u8]));
    picture.save(inputs.join("sample.png")).unwrap();
    let out = dir.path().join("augmented");
    let status = Command::new(env!("CARGO_BIN_EXE_augmentd"))
        .args([
            "augment", "--copies", "2", "--params", "--seed", "5", "--model",
        ])
        .arg(&model)
        .arg("--input")
        .arg(&inputs)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for copy in 0..2 {
        let written = image::open(out.join(format!("sample-aug{copy}.png"))).unwrap();
        assert_eq!((written.width(), written.height()), (20, 12));
    }
    let params: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("params.json")).unwrap()).unwrap();
    let params = params.as_array().unwrap();
    assert_eq!(params.len(), 2);
    assert_ne!(
        params[0]["transform"], params[1]["transform"],
        "copies differ"
    );
    assert!(params[0]["transform"]["brightness"].as_f64().unwrap().abs() <= 1.0);
}

#[test]
fn plain_and_handcrafted_modes_train_without_an_augmenter() {
    for mode in ["none", "handcrafted"] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_with(mode, &[]);
        config.epochs = 2;
        config.augment.baseline = "crop+flip".parse().unwrap();
        let summary = TrainingRun::new(config, dir.path())
            .unwrap()
            .run(None)
            .unwrap();
        assert_eq!(summary.records.len(), 2, "{mode}");
        assert!(summary.model.is_none() && summary.served.is_none());
        assert!(summary.records.iter().all(|r| r.transforms.is_empty()));
        assert!(dir.path().join("grids/epoch-0001.png").exists(), "{mode}");
    }
}

/// Runs `augmentd train` on `config` in `dir`; with `kill_after`, SIGKILLs it as soon as it
/// reports that epoch (reported only once checkpointed). Returns what it wrote on stderr.
fn train_process(config: &Path, dir: &Path, kill_after: Option<u64>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_augmentd"))
        .args(["train", "--quiet", "--preset", PRESET, "--config"])
        .arg(config)
        .arg("--run-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        let epoch = line
            .split_whitespace()
            .next()
            .and_then(|w| w.parse::<u64>().ok());
        if kill_after.is_some() && epoch == kill_after {
            child.kill().unwrap();
            break;
        }
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if kill_after.is_none() {
        assert!(output.status.success(), "augmentd train failed: {stderr}");
    }
    stderr
}

#[test]
fn a_killed_run_resumes_to_the_records_of_an_uninterrupted_one() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("run.toml");
    std::fs::write(&config, config_text("small_affine")).unwrap();
    let whole = root.path().join("whole");
    train_process(&config, &whole, None);
    let expected = records(&whole);
    assert_eq!(expected.len(), EPOCHS as usize);

    // Killed after epoch 1, restarted: epochs 2 and 3 are trained once, nothing is lost.
    let killed = root.path().join("killed");
    train_process(&config, &killed, Some(1));
    let done = records(&killed).len();
    assert!(
        (2..EPOCHS as usize).contains(&done),
        "killed mid-run, after {done} epochs"
    );
    let stderr = train_process(&config, &killed, None);
    assert!(
        stderr.contains(&format!("resuming after epoch {}", done - 1)),
        "{stderr}"
    );
    assert_eq!(records(&killed), expected);

    // Killed after epoch 2 with its newest checkpoint then cut in half: the run falls back to
    // epoch 1's checkpoint and still ends with the same records.
    let truncated = root.path().join("truncated");
    train_process(&config, &truncated, Some(2));
    let newest = truncated.join("checkpoints/epoch-000002.safetensors");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let stderr = train_process(&config, &truncated, None);
    assert!(
        stderr.contains("skipped checkpoint") && stderr.contains("epoch-000002"),
        "{stderr}"
    );
    assert!(stderr.contains("resuming after epoch 1"), "{stderr}");
    assert_eq!(records(&truncated), expected);
}

/// Training images per epoch: 4 classes × 24, a quarter held out, in batches of 16 (the last
/// of 8).
const TRAIN_IMAGES: usize = 72;
const STEPS: usize = 5;

#[test]
fn a_stopped_run_resumes_and_models_are_saved_every_k_epochs() {
    let root = tempfile::tempdir().unwrap();
    let mut config = config_with("small_affine", &[]);
    config.output.model_every = 2;

    // Uninterrupted, with every event.
    let whole = root.path().join("whole");
    let (sender, receiver) = mpsc::channel();
    let summary = TrainingRun::new(config.clone(), &whole)
        .unwrap()
        .run(Some(&sender))
        .unwrap();
    drop(sender);
    let events: Vec<RunEvent> = receiver.iter().collect();
    assert_eq!(
        events[0],
        RunEvent::Started {
            first_epoch: 0,
            epochs: EPOCHS,
            steps_per_epoch: STEPS
        }
    );
    for epoch in 0..EPOCHS {
        let steps: Vec<(usize, usize, usize, f64)> = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Step {
                    epoch: e,
                    step,
                    steps_per_epoch,
                    images,
                    seconds,
                    ..
                } if *e == epoch => Some((*step, *steps_per_epoch, *images, *seconds)),
                _ => None,
            })
            .collect();
        let numbers: Vec<usize> = steps.iter().map(|s| s.0).collect();
        assert_eq!(numbers, (1..=STEPS).collect::<Vec<_>>(), "epoch {epoch}");
        assert!(steps.iter().all(|s| s.1 == STEPS && s.3 > 0.0));
        assert_eq!(steps.iter().map(|s| s.2).sum::<usize>(), TRAIN_IMAGES);
    }
    let saved: Vec<(u64, PathBuf, bool)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ModelSaved {
                epoch,
                path,
                final_model,
            } => Some((*epoch, path.clone(), *final_model)),
            _ => None,
        })
        .collect();
    let periodic = |epoch: u64| whole.join(format!("models/epoch-{epoch:04}/model.safetensors"));
    assert_eq!(
        saved,
        [
            (1, periodic(1), false),
            (3, periodic(3), false),
            (3, whole.join("model.safetensors"), true)
        ]
    );
    // Each after its epoch's record.
    let position = |wanted: &RunEvent| events.iter().position(|e| e == wanted).unwrap();
    let epoch_1 = RunEvent::Epoch(summary.records[1].clone());
    let model_1 = RunEvent::ModelSaved {
        epoch: 1,
        path: periodic(1),
        final_model: false,
    };
    assert_eq!(position(&model_1), position(&epoch_1) + 1);
    assert!(!whole.join("models/epoch-0000").exists() && !whole.join("models/epoch-0002").exists());
    let first = load_model(&periodic(1), tch::Device::Cpu).unwrap();
    assert_eq!(first.info.epoch, 1);
    let served = first.info.served.as_ref().unwrap();
    assert_eq!((served.draws, served.params.len()), (4096, 6));
    assert!(!served.collapsed);
    // The last periodic model is the final one.
    let last = load_model(&periodic(3), tch::Device::Cpu).unwrap();
    let final_model = load_model(&whole, tch::Device::Cpu).unwrap();
    assert_eq!(last.info, final_model.info);
    assert_ne!(first.info.served, last.info.served);

    // Stopped from the event stream once epoch 0 is reported: no partial epoch is written.
    let stopped = root.path().join("stopped");
    let run = TrainingRun::new(config.clone(), &stopped).unwrap();
    let control = RunControl::new();
    let (sender, receiver) = mpsc::channel();
    let result = std::thread::scope(|scope| {
        let (run, worker_control) = (&run, &control);
        let worker = scope.spawn(move || run.run_controlled(Some(&sender), worker_control));
        for event in &receiver {
            if let RunEvent::Epoch(record) = event {
                assert_eq!(record.epoch, 0);
                control.request_stop(StopReason::Cancelled);
                break;
            }
        }
        worker.join().unwrap()
    });
    assert!(
        matches!(result, Err(TrainError::Stopped(StopReason::Cancelled))),
        "{result:?}"
    );
    assert_eq!(records(&stopped).len(), 1);
    assert!(!stopped.join("model.safetensors").exists());

    // Started again: it resumes after epoch 0 and ends where the uninterrupted run did.
    let resumed = TrainingRun::new(config, &stopped)
        .unwrap()
        .run(None)
        .unwrap();
    assert_eq!(resumed.resumed_after, Some(0));
    assert_eq!(records(&stopped), records(&whole));
    let model = load_model(&stopped, tch::Device::Cpu).unwrap();
    assert_eq!(model.info, final_model.info);
    for (name, weight) in model.theta.iter() {
        assert!(weight.equal(final_model.theta.get(name).unwrap()), "{name}");
    }
}

/// Every training image of the synthetic set (4 classes × 24), in 6 batches of 16.
const ALL_IMAGES: usize = 96;

/// Runs `config` in `dir`, stopping it through its control once `stop_after_epoch` is
/// reported; returns the outcome and every event.
fn run_with_events(
    config: &RunConfig,
    dir: &Path,
    stop_after_epoch: Option<u64>,
) -> (
    Result<augmentd::train::RunSummary, TrainError>,
    Vec<RunEvent>,
) {
    let run = TrainingRun::new(config.clone(), dir).unwrap();
    let control = RunControl::new();
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        let (run, worker_control) = (&run, &control);
        let worker = scope.spawn(move || run.run_controlled(Some(&sender), worker_control));
        let mut events = Vec::new();
        for event in &receiver {
            let stop = matches!(&event, RunEvent::Epoch(r) if Some(r.epoch) == stop_after_epoch);
            events.push(event);
            if stop {
                control.request_stop(StopReason::Cancelled);
            }
        }
        (worker.join().unwrap(), events)
    })
}

#[test]
fn a_run_without_validation_trains_on_every_image_and_resumes() {
    let root = tempfile::tempdir().unwrap();
    let mut config = config_with("handcrafted", &[]);
    config.data.val_ratio = 0.0;
    config.epochs = 3;
    config.augment.baseline = "crop+flip".parse().unwrap();

    let whole = root.path().join("whole");
    let (summary, events) = run_with_events(&config, &whole, None);
    let summary = summary.unwrap();
    assert_eq!(
        events[0],
        RunEvent::Started {
            first_epoch: 0,
            epochs: 3,
            steps_per_epoch: ALL_IMAGES / 16
        }
    );
    for epoch in 0..3 {
        let images: usize = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Step {
                    epoch: e, images, ..
                } if *e == epoch => Some(*images),
                _ => None,
            })
            .sum();
        assert_eq!(images, ALL_IMAGES, "epoch {epoch} trains on every image");
    }
    assert_eq!(summary.records.len(), 3);
    for record in &summary.records {
        assert_eq!(
            (record.val_loss, record.val_acc),
            (None, None),
            "{record:?}"
        );
        assert!(record
            .test_acc
            .is_some_and(|acc| (0.0..=100.0).contains(&acc)));
        assert!((0.0..=100.0).contains(&record.train_acc) && record.train_loss > 0.0);
    }
    let lines = std::fs::read_to_string(whole.join("records.jsonl")).unwrap();
    let json: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(
        json["val_loss"].is_null() && json["val_acc"].is_null(),
        "{json}"
    );
    // No validation accuracy, no best epoch; the rest is written as usual.
    assert!(whole.join("checkpoints/epoch-000002.json").exists());
    assert!(!whole.join("checkpoints/best.json").exists());
    assert!(whole.join("accuracy.png").exists());
    let stored = std::fs::read_to_string(whole.join("config.toml")).unwrap();
    assert!(
        stored.contains("val_ratio = 0.0") && !stored.contains("test_every"),
        "{stored}"
    );

    // Stopped once epoch 0 is reported, started again: it resumes and ends where the
    // uninterrupted run did.
    let stopped = root.path().join("stopped");
    let (result, _) = run_with_events(&config, &stopped, Some(0));
    assert!(
        matches!(result, Err(TrainError::Stopped(StopReason::Cancelled))),
        "{result:?}"
    );
    assert_eq!(records(&stopped).len(), 1);
    let (resumed, events) = run_with_events(&config, &stopped, None);
    assert_eq!(resumed.unwrap().resumed_after, Some(0));
    assert!(matches!(
        events[0],
        RunEvent::Started { first_epoch: 1, .. }
    ));
    assert_eq!(records(&stopped), records(&whole));
}

#[test]
fn the_test_set_is_evaluated_every_k_epochs_and_after_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with("none", &[]);
    config.epochs = 3;
    config.output.test_every = 2;
    let summary = TrainingRun::new(config, dir.path())
        .unwrap()
        .run(None)
        .unwrap();
    let tested: Vec<u64> = summary
        .records
        .iter()
        .filter(|r| r.test_acc.is_some())
        .map(|r| r.epoch)
        .collect();
    assert_eq!(tested, [1, 2]);
    assert!(summary
        .records
        .iter()
        .all(|r| r.val_acc.is_some_and(|acc| (0.0..=100.0).contains(&acc))));
    assert!(dir.path().join("checkpoints/best.json").exists());
    let stored = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(stored.contains("test_every = 2"), "{stored}");
    // records.jsonl agrees: null where the test set was skipped.
    let written: Vec<Option<f64>> = records(dir.path()).iter().map(|r| r.test_acc).collect();
    assert_eq!(
        written,
        summary
            .records
            .iter()
            .map(|r| r.test_acc)
            .collect::<Vec<_>>()
    );
    assert_eq!(written[0], None);
}

/// A learned `small_affine` run of one epoch in `root/learned`; returns its final model.
fn learned_model(root: &Path) -> PathBuf {
    let mut config = config_with("small_affine", &[]);
    config.epochs = 1;
    TrainingRun::new(config, &root.join("learned"))
        .unwrap()
        .run(None)
        .unwrap()
        .model
        .unwrap()
}

/// The test configuration in `served` mode with `model`, 2 epochs, the flip baseline under it.
fn served_config(model: &Path) -> RunConfig {
    let model = format!("augment.model={:?}", model.display().to_string());
    let mut config = config_with("served", &[model]);
    config.epochs = 2;
    config.augment.baseline = "flip".parse().unwrap();
    config
}

#[test]
fn a_served_run_trains_a_fresh_classifier_through_a_frozen_model() {
    let root = tempfile::tempdir().unwrap();
    let model_path = learned_model(root.path());
    let model = load_model(&model_path, tch::Device::Cpu).unwrap();
    let config = served_config(&model_path);
    let dir = root.path().join("served");
    let (sender, receiver) = mpsc::channel();
    let summary = TrainingRun::new(config.clone(), &dir)
        .unwrap()
        .run(Some(&sender))
        .unwrap();
    drop(sender);
    let events: Vec<RunEvent> = receiver.iter().collect();
    assert_eq!(
        events[0],
        RunEvent::Started {
            first_epoch: 0,
            epochs: 2,
            steps_per_epoch: STEPS
        }
    );
    let steps = events
        .iter()
        .filter(|e| matches!(e, RunEvent::Step { .. }))
        .count();
    assert_eq!(steps, 2 * STEPS);
    assert!(!events
        .iter()
        .any(|e| matches!(e, RunEvent::ModelSaved { .. })));
    assert!(summary.model.is_none() && summary.served.is_none());
    assert!(!dir.join("model.safetensors").exists() && !dir.join("models").exists());
    assert!(dir.join("grids/epoch-0001.png").exists());
    assert!(dir.join("served-model.json").exists());

    assert_eq!(summary.records.len(), 2);
    let served = model.info.served.as_ref().unwrap();
    for record in &summary.records {
        assert_eq!(record.augmenter_grad_norm, None);
        assert!(record.test_acc.is_some() && record.val_acc.is_some_and(f64::is_finite));
        assert!(record.train_loss.is_finite() && record.train_loss > 0.0);
        assert!(!record.collapsed);
        let names: Vec<&str> = record.transforms.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a11", "a12", "tx", "a21", "a22", "ty"]);
        assert!(record.transforms.iter().any(|t| t.std > 1e-3), "{record:?}");
        // small_affine's transformation depends on noise and dropout only, so the epoch's 72
        // samples come from the distribution model.json describes (4,096 draws): every mean
        // within four standard errors of it.
        for (applied, stored) in record.transforms.iter().zip(&served.params) {
            let tolerance = 4.0 * stored.std / (TRAIN_IMAGES as f64).sqrt() + 1e-9;
            assert!(
                (applied.mean - stored.mean).abs() <= tolerance,
                "{applied:?} vs {stored:?}"
            );
        }
    }
    // The two epochs draw different noise.
    assert_ne!(summary.records[0].transforms, summary.records[1].transforms);

    // Started again: nothing left to train, the same records.
    let again = TrainingRun::new(config.clone(), &dir)
        .unwrap()
        .run(None)
        .unwrap();
    assert_eq!(again.resumed_after, Some(1));
    assert_eq!(again.records, summary.records);

    // The model file replaced by other weights: the run directory refuses it.
    let other = augmentd::nn::Augmenter::new(
        "small_affine".parse().unwrap(),
        model.info.normalization.mean.clone(),
        model.info.normalization.std.clone(),
        None,
    )
    .unwrap()
    .init(99, tch::Kind::Float, tch::Device::Cpu)
    .unwrap();
    augmentd::model::save_model(model_path.parent().unwrap(), &model.info, &other).unwrap();
    let refused = TrainingRun::new(config, &dir).err().unwrap();
    let text = refused.to_string();
    assert!(matches!(refused, TrainError::ServedModel { .. }), "{text}");
    assert!(
        text.contains("changed since this run started")
            && text.contains(&model_path.display().to_string()),
        "{text}"
    );
}

#[test]
fn a_served_run_repeats_bit_for_bit_and_runs_from_the_cli() {
    let root = tempfile::tempdir().unwrap();
    let model = learned_model(root.path());
    let library = root.path().join("library");
    TrainingRun::new(served_config(&model), &library)
        .unwrap()
        .run(None)
        .unwrap();

    // `augmentd train` over the learned configuration, switched to served by --set.
    let file = root.path().join("run.toml");
    std::fs::write(&file, config_text("small_affine")).unwrap();
    let cli = root.path().join("cli");
    let output = Command::new(env!("CARGO_BIN_EXE_augmentd"))
        .args(["train", "--quiet", "--preset", PRESET, "--config"])
        .arg(&file)
        .args(["--set", "augment.mode=served", "--set"])
        .arg(format!("augment.model={}", model.display()))
        .args(["--set", "epochs=2", "--set", "augment.baseline=flip"])
        .arg("--run-dir")
        .arg(&cli)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("trained augmenter"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(cli.join("config.toml")).unwrap(),
        std::fs::read_to_string(library.join("config.toml")).unwrap()
    );
    let expected = records(&library);
    assert_eq!(expected.len(), 2);
    assert_eq!(records(&cli), expected);
}

#[test]
fn a_served_run_refuses_a_missing_model_or_one_for_other_images() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nowhere/model.safetensors");
    let err = TrainingRun::new(served_config(&missing), &root.path().join("a"))
        .err()
        .unwrap();
    match &err {
        TrainError::Config(e) => assert_eq!(e.key, "augment.model"),
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    // A 1-channel model for 3-channel data.
    let model = learned_model(root.path());
    let mut config = served_config(&model);
    config.data.synthetic.channels = 3;
    let err = TrainingRun::new(config, &root.path().join("b"))
        .unwrap()
        .run(None)
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TrainError::ServedModel { .. }), "{text}");
    assert!(
        text.contains("augment.model")
            && text.contains(&model.display().to_string())
            && text.contains("1-channel")
            && text.contains("3 channels"),
        "{text}"
    );
}

/// A run with TeachAugment's teacher, stopped after its first epoch and started again, ends
/// with the records and the model of one that never stopped: the checkpoint holds the teacher.
#[test]
fn a_run_with_a_teacher_resumes_to_the_records_of_an_uninterrupted_one() {
    let root = tempfile::tempdir().unwrap();
    let config = config_with(
        "affine_color",
        &[
            "augment.adversarial=1.0".into(),
            "augment.teacher_decay=0.9".into(),
            "output.grid_images=0".into(),
        ],
    );
    let whole = root.path().join("whole");
    let (result, _) = run_with_events(&config, &whole, None);
    result.unwrap();
    let stopped = root.path().join("stopped");
    let (result, _) = run_with_events(&config, &stopped, Some(0));
    assert!(
        matches!(result, Err(TrainError::Stopped(StopReason::Cancelled))),
        "{result:?}"
    );
    let (result, _) = run_with_events(&config, &stopped, None);
    assert_eq!(result.unwrap().resumed_after, Some(0));
    assert_eq!(records(&stopped), records(&whole));
    let (a, b) = (
        load_model(&stopped, tch::Device::Cpu).unwrap(),
        load_model(&whole, tch::Device::Cpu).unwrap(),
    );
    for (name, weight) in a.theta.iter() {
        assert!(weight.equal(b.theta.get(name).unwrap()), "{name}");
    }
}

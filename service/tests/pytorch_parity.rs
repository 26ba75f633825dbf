//! Parity with PyTorch: the Rust bilevel step and an independent PyTorch implementation
//! (`tests/python/bilevel_parity.py`, run with the project's own torch) start from the same
//! weights, noise and batches; the augmenter's gradient, the updated augmenter weights and the
//! updated classifier weights must agree to 1e-5 in f32 on the CPU.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use augmentd::nn::{AffineVariant, AugmenterKind, ParamSet};
use common::{refs, relative_max_error, Problem};
use tch::{Kind, Tensor};

const TOLERANCE: f64 = 1e-5;

fn python() -> PathBuf {
    let path = std::env::var_os("AUGMENTD_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.torch-venv/bin/python"));
    assert!(
        path.exists(),
        "no Python with torch at {} (run `make setup`)",
        path.display()
    );
    path
}

fn save(path: &Path, named: &[(String, Tensor)]) {
    let refs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Tensor::write_safetensors(&refs, path).unwrap();
}

fn json_list<T: std::fmt::Display>(items: &[T], quote: bool) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|i| {
            if quote {
                format!("\"{i}\"")
            } else {
                i.to_string()
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn check_parity(problem: Problem) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    let reference = problem.learner(17);
    let mut learner = problem.learner(17);
    let train = problem.batches(23, problem.inner_steps);
    let val = problem.batches(29, 1);
    let noise = problem.noise(31);

    reference
        .classifier
        .weights
        .save(&folder.join("weights.safetensors"))
        .unwrap();
    reference
        .classifier
        .buffers
        .save(&folder.join("buffers.safetensors"))
        .unwrap();
    reference
        .augmenter
        .theta
        .save(&folder.join("theta.safetensors"))
        .unwrap();
    let momentum = reference
        .classifier
        .weights
        .with_tensors(
            reference
                .virtual_momentum()
                .iter()
                .map(Tensor::copy)
                .collect(),
        )
        .unwrap();
    momentum.save(&folder.join("momentum.safetensors")).unwrap();
    let mut inputs = vec![
        ("val_images".to_string(), val[0].images.copy()),
        ("val_labels".to_string(), val[0].labels.copy()),
    ];
    for (k, (batch, draw)) in train.iter().zip(&noise).enumerate() {
        inputs.push((format!("train_images_{k}"), batch.images.copy()));
        inputs.push((format!("train_labels_{k}"), batch.labels.copy()));
        inputs.push((format!("z_{k}"), draw.z.copy()));
        if let Some([m1, m2]) = &draw.dropout {
            inputs.push((format!("mask1_{k}"), m1.copy()));
            inputs.push((format!("mask2_{k}"), m2.copy()));
        }
        if !draw.color_order.is_empty() {
            let order: Vec<i64> = draw.color_order.iter().map(|op| op.param_index()).collect();
            inputs.push((format!("order_{k}"), Tensor::from_slice(&order)));
        }
    }
    save(&folder.join("inputs.safetensors"), &inputs);
    let config = problem.config();
    let augmenter = problem.augmenter();
    let channels = problem.channels as usize;
    std::fs::write(
        folder.join("config.json"),
        format!(
            r#"{{"augmenter": "{}", "mean": {}, "std": {}, "inner_steps": {},
                "classifier": {{"lr": {}, "momentum": {}, "weight_decay": {}}},
                "augmenter_opt": {{"lr": {}, "momentum": {}, "weight_decay": {}}},
                "weight_names": {}, "theta_names": {}}}"#,
            augmenter.kind(),
            json_list(&vec![0.45; channels], false),
            json_list(&vec![0.25; channels], false),
            config.inner_steps,
            config.classifier.lr,
            config.classifier.momentum,
            config.classifier.weight_decay,
            config.augmenter.lr,
            config.augmenter.momentum,
            config.augmenter.weight_decay,
            json_list(reference.classifier.weights.names(), true),
            json_list(reference.augmenter.theta.names(), true),
        ),
    )
    .unwrap();

    let (theta_grads, outcome) = reference
        .hypergradient(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    learner
        .step(&refs(&train), &noise, val[0].as_ref())
        .unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/bilevel_parity.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(folder)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the PyTorch side failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let torch: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(folder.join("pytorch.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    let worst = std::cell::Cell::new(0.0f64);
    let compare = |label: &str, ours: &Tensor| {
        let theirs = &torch[label];
        assert_eq!(ours.size(), theirs.size(), "{label}");
        let error = relative_max_error(ours, theirs);
        assert!(error <= TOLERANCE, "{label}: relative error {error:e}");
        worst.set(worst.get().max(error));
    };
    compare(
        "val_loss",
        &outcome.val_loss.detach().reshape([1]).to_kind(Kind::Float),
    );
    let named = |set: &ParamSet, prefix: &str, f: &dyn Fn(&str, &Tensor)| {
        for (name, t) in set.iter() {
            f(&format!("{prefix}.{name}"), t);
        }
    };
    for (name, g) in reference.augmenter.theta.names().iter().zip(&theta_grads) {
        assert!(g.abs().max().double_value(&[]) > 0.0 || name.ends_with("bias"));
        compare(&format!("theta_grad.{name}"), g);
    }
    named(&learner.augmenter.theta, "theta", &compare);
    named(&learner.classifier.weights, "weights", &compare);
    named(&learner.classifier.buffers, "buffers", &compare);
    eprintln!(
        "{}: worst relative error against PyTorch {:e}",
        problem.kind,
        worst.get()
    );
}

fn problem(kind: AugmenterKind, channels: i64, inner_steps: usize, momentum: f64) -> Problem {
    let mut problem = Problem::new(kind, channels);
    problem.dtype = Kind::Float;
    problem.dropout = true;
    problem.side = 12;
    problem.batch = 8;
    problem.classes = 4;
    problem.inner_steps = inner_steps;
    problem.momentum = momentum;
    problem.lr = 0.1;
    problem
}

#[test]
fn small_affine_step_matches_pytorch() {
    check_parity(problem(
        AugmenterKind::SmallAffine(AffineVariant::Affine),
        1,
        1,
        0.9,
    ));
}

#[test]
fn affine_color_two_inner_steps_match_pytorch() {
    check_parity(problem(AugmenterKind::AffineColor, 3, 2, 0.9));
}

#[test]
fn translation_without_momentum_matches_pytorch() {
    check_parity(problem(
        AugmenterKind::SmallAffine(AffineVariant::Translation),
        3,
        1,
        0.0,
    ));
}

#[test]
fn affine_color_greyscale_matches_pytorch() {
    check_parity(problem(AugmenterKind::AffineColor, 1, 1, 0.9));
}

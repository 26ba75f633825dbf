//! A short bilevel run on real data, end to end through the engine: Fashion-MNIST (Debian's
//! `dataset-fashion-mnist`) → balanced subset → stratified split → loader thread → bilevel steps
//! with `small-cnn` and an augmenter, on the CPU by default. Prints per epoch the losses, the
//! test accuracy and the mean ± std of every transformation parameter.
//!
//! Usage: `fashion-mnist-run [--data DIR] [--per-class N] [--epochs N] [--augmenter KIND]
//! [--device D] [--seed N]`.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use augmentd::bilevel::{BatchRef, BilevelConfig, BilevelLearner};
use augmentd::data::{read_idx_dir, BatchLoader, LoaderConfig, Normalization, Split};
use augmentd::device::DeviceSpec;
use augmentd::nn::{Augmenter, AugmenterKind, Classifier, ClassifierArch, Weights};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Kind};

struct Options {
    data: PathBuf,
    per_class: usize,
    epochs: u64,
    augmenter: AugmenterKind,
    device: Device,
    seed: u64,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        data: PathBuf::from("/usr/share/datasets/fashion-mnist"),
        per_class: 200,
        epochs: 5,
        augmenter: "small_affine".parse()?,
        device: Device::Cpu,
        seed: 6442,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => options.data = value.into(),
            "--per-class" => options.per_class = value.parse().context("--per-class")?,
            "--epochs" => options.epochs = value.parse().context("--epochs")?,
            "--augmenter" => options.augmenter = value.parse()?,
            "--device" => options.device = value.parse::<DeviceSpec>()?.resolve()?,
            "--seed" => options.seed = value.parse().context("--seed")?,
            other => bail!("unknown argument '{other}'"),
        }
    }
    Ok(options)
}

fn main() -> Result<()> {
    let o = parse_options()?;
    let full = read_idx_dir(&o.data, Split::Train, None)?;
    let test = read_idx_dir(&o.data, Split::Test, None)?;
    let subset = full.balanced_subset(o.per_class, o.seed)?;
    let (train, val) = subset.stratified_split(0.2, o.seed)?;
    let norm = Normalization::fashion_mnist();
    println!(
        "Fashion-MNIST: {} train, {} validation, {} test images; {} on {:?}",
        train.len(),
        val.len(),
        test.len(),
        o.augmenter,
        o.device
    );
    let classifier = Classifier::new(ClassifierArch::SmallCnn, 1, 10)?;
    let (weights, buffers) = classifier.init(o.seed, Kind::Float, o.device)?;
    let augmenter = Augmenter::new(o.augmenter, norm.mean.clone(), norm.std.clone(), None)?;
    let theta = augmenter.init(o.seed + 1, Kind::Float, o.device)?;
    let mut config = BilevelConfig::default();
    config.classifier.lr = 0.05;
    let mut learner =
        BilevelLearner::new((classifier, weights, buffers), (augmenter, theta), config)?;
    let names = learner.augmenter.net.transform_names();
    let (train, val) = (Arc::new(train), Arc::new(val));
    let mut loader = LoaderConfig::new(128, norm.clone());
    loader.seed = o.seed;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let test_indices: Vec<usize> = (0..test.len()).collect();
    let test_batches: Vec<_> = test_indices
        .chunks(1000)
        .map(|chunk| test.to_batch(chunk, &norm))
        .collect::<Result<_, _>>()?;
    for epoch in 0..o.epochs {
        learner.start_epoch()?;
        let start = Instant::now();
        let mut val_config = loader.clone();
        val_config.seed = o.seed ^ 0x0076_616c;
        let mut val_batches = BatchLoader::epoch(val.clone(), &val_config, epoch)?;
        let (mut train_loss, mut val_loss, mut steps) = (0.0, 0.0, 0usize);
        let mut means = vec![0.0; names.len()];
        let mut stds = vec![0.0; names.len()];
        for batch in BatchLoader::epoch(train.clone(), &loader, epoch)? {
            let batch = batch?.to_device(o.device)?;
            let val_batch = match val_batches.next() {
                Some(b) => b?,
                None => {
                    val_batches = BatchLoader::epoch(val.clone(), &val_config, epoch + 1000)?;
                    val_batches.next().context("empty validation set")??
                }
            }
            .to_device(o.device)?;
            let noise = learner.augmenter.net.sample_noise(
                batch.len() as i64,
                &mut rng,
                true,
                (Kind::Float, o.device),
            )?;
            let report = learner.step(&[BatchRef::from(&batch)], &[noise], (&val_batch).into())?;
            train_loss += report.train_loss;
            val_loss += report.val_loss;
            for i in 0..names.len() {
                means[i] += report.transform_mean[i];
                stds[i] += report.transform_std[i];
            }
            steps += 1;
        }
        let mut correct = 0i64;
        for batch in &test_batches {
            let batch = batch.to_device(o.device)?;
            let weights = Weights {
                params: &learner.classifier.weights,
                buffers: &learner.classifier.buffers,
                train: false,
            };
            let logits = tch::no_grad(|| learner.classifier.net.forward(weights, &batch.images))?;
            let hits = logits.argmax(-1, false).eq_tensor(&batch.labels);
            correct += hits.sum(Kind::Int64).int64_value(&[]);
        }
        let n = steps as f64;
        let summary: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} {:+.3}±{:.3}", means[i] / n, stds[i] / n))
            .collect();
        println!(
            "epoch {epoch}: {steps} steps in {:.1}s, train loss {:.3}, val loss {:.3}, test \
             accuracy {:.2}%\n  transforms: {}",
            start.elapsed().as_secs_f64(),
            train_loss / n,
            val_loss / n,
            100.0 * correct as f64 / test.len() as f64,
            summary.join(", ")
        );
    }
    Ok(())
}

//! Benchmark: images per second of a plain SGD step of the classifier (no augmenter) and of
//! the bilevel step with `small_affine` and with `affine_color`, for ResNet-18 on 3×32×32 and
//! `small-cnn` on 1×28×28, at batch 128; and the cost of a bilevel step in plain steps.
//!
//! Usage: `step-throughput [--device cpu|cuda|cuda:N|auto] [--steps N] [--batch N]`.
use std::time::Instant;

use anyhow::{bail, Context, Result};
use augmentd::bilevel::{BatchRef, BilevelConfig, BilevelLearner};
use augmentd::device::DeviceSpec;
use augmentd::nn::{AffineVariant, Augmenter, AugmenterKind, Classifier, ClassifierArch};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Kind, Tensor};

/// One benchmarked configuration.
struct Case {
    arch: ClassifierArch,
    channels: i64,
    side: i64,
    steps: usize,
}

struct Options {
    device: Device,
    batch: i64,
    steps: Option<usize>,
}

fn parse_options() -> Result<Options> {
    let mut device = DeviceSpec::Auto;
    let mut batch = 128;
    let mut steps = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--device" => device = value()?.parse()?,
            "--batch" => batch = value()?.parse().context("--batch")?,
            "--steps" => steps = Some(value()?.parse().context("--steps")?),
            other => bail!("unknown argument '{other}' (expected --device, --batch, --steps)"),
        }
    }
    Ok(Options {
        device: device.resolve()?,
        batch,
        steps,
    })
}

fn learner(case: &Case, kind: AugmenterKind, device: Device) -> Result<BilevelLearner> {
    let classifier = Classifier::new(case.arch, case.channels, 10)?;
    let (weights, buffers) = classifier.init(1, Kind::Float, device)?;
    let channels = case.channels as usize;
    let augmenter = Augmenter::new(kind, vec![0.5; channels], vec![0.25; channels], None)?;
    let theta = augmenter.init(2, Kind::Float, device)?;
    Ok(BilevelLearner::new(
        (classifier, weights, buffers),
        (augmenter, theta),
        BilevelConfig::default(),
    )?)
}

/// Median seconds per call of `step` over `steps` calls, after one warm-up call.
fn time_steps(steps: usize, device: Device, mut step: impl FnMut() -> Result<()>) -> Result<f64> {
    step()?;
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        step()?;
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn main() -> Result<()> {
    let options = parse_options()?;
    let device = options.device;
    let batch = options.batch;
    let cases = [
        Case {
            arch: ClassifierArch::ResNet18Cifar,
            channels: 3,
            side: 32,
            steps: 3,
        },
        Case {
            arch: ClassifierArch::SmallCnn,
            channels: 1,
            side: 28,
            steps: 20,
        },
    ];
    println!(
        "device {device:?}, batch {batch}, {} CPU threads for libtorch",
        tch::get_num_threads()
    );
    println!(
        "| classifier | input | step | ms/step | images/s | time vs plain |\n\
         |---|---|---|---:|---:|---:|"
    );
    for case in &cases {
        let steps = options.steps.unwrap_or(case.steps);
        let shape = [batch, case.channels, case.side, case.side];
        let images = Tensor::randn(shape, (Kind::Float, device));
        let labels = Tensor::randint(10, [batch], (Kind::Int64, device));
        let val_images = Tensor::randn(shape, (Kind::Float, device));
        let val_labels = Tensor::randint(10, [batch], (Kind::Int64, device));
        let train = BatchRef {
            images: &images,
            labels: &labels,
        };
        let val = BatchRef {
            images: &val_images,
            labels: &val_labels,
        };
        let input = format!("{}×{}×{}", case.channels, case.side, case.side);
        let mut plain = learner(case, AugmenterKind::AffineColor, device)?;
        let plain_time = time_steps(steps, device, || {
            plain.classifier.plain_step(train)?;
            Ok(())
        })?;
        drop(plain);
        let row = |name: &str, secs: f64| {
            println!(
                "| {} | {input} | {name} | {:.1} | {:.0} | {:.2}× |",
                case.arch,
                secs * 1e3,
                batch as f64 / secs,
                secs / plain_time
            );
        };
        row("plain SGD", plain_time);
        for kind in [
            AugmenterKind::SmallAffine(AffineVariant::Affine),
            AugmenterKind::AffineColor,
        ] {
            let mut bilevel = learner(case, kind, device)?;
            let mut rng = StdRng::seed_from_u64(3);
            let secs = time_steps(steps, device, || {
                let noise = bilevel.augmenter.net.sample_noise(
                    batch,
                    &mut rng,
                    true,
                    (Kind::Float, device),
                )?;
                bilevel.step(&[train], &[noise], val)?;
                Ok(())
            })?;
            row(&format!("bilevel {kind}"), secs);
        }
    }
    Ok(())
}

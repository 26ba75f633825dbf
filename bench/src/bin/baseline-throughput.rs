//! Benchmark: images per second of each hand-crafted baseline (level, TrivialAugmentWide,
//! RandAugment, random erasing) on one loader thread, for 1×28×28 (Fashion-MNIST) and 3×32×32
//! (CIFAR-10) batches of 128 images in [0, 1] (`Baseline::apply`, then
//! `Baseline::apply_standardized` as the loader calls them).
//!
//! Usage: `baseline-throughput [--images N]` (images per case, 100,000 by default).
use std::hint::black_box;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use augmentd::data::{Baseline, ImageShape};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BATCH: usize = 128;
const BASELINES: [&str; 7] = [
    "crop+flip",
    "crop+affine+flip",
    "crop+flip+erasing",
    "trivialaugment",
    "crop+flip+trivialaugment",
    "crop+flip+randaugment",
    "crop+flip+trivialaugment+erasing",
];

fn main() -> Result<()> {
    let mut images = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--images" => {
                images = args
                    .next()
                    .context("--images needs a value")?
                    .parse()
                    .context("--images")?
            }
            other => bail!("unknown argument '{other}' (expected --images)"),
        }
    }
    println!("| baseline | 1×28×28 img/s | 3×32×32 img/s |");
    println!("|---|---:|---:|");
    for name in BASELINES {
        let baseline: Baseline = name.parse()?;
        let grey = images_per_second(baseline, ImageShape::new(1, 28, 28), images)?;
        let colour = images_per_second(baseline, ImageShape::new(3, 32, 32), images)?;
        println!("| {name} | {grey:.0} | {colour:.0} |");
    }
    Ok(())
}

/// Applies `baseline` to batches of `shape` until `images` images are done.
fn images_per_second(baseline: Baseline, shape: ImageShape, images: usize) -> Result<f64> {
    let original: Vec<f32> = (0..BATCH * shape.numel())
        .map(|i| ((i * 37) % 256) as f32 / 255.0)
        .collect();
    let mut rng = StdRng::seed_from_u64(0);
    let mut batch = original.clone();
    let batches = images.div_ceil(BATCH).max(1);
    let start = Instant::now();
    for _ in 0..batches {
        batch.copy_from_slice(&original);
        baseline.apply((false, 2), &mut batch, shape, &mut rng)?;
        baseline.apply_standardized(&mut batch, shape, &mut rng);
        black_box(&batch);
    }
    Ok((batches * BATCH) as f64 / start.elapsed().as_secs_f64())
}

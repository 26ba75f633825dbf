//! `small-cnn`: a classifier sized for CPU work on small images (MNIST-like 28×28, 32×32):
//! three conv–BN–ReLU blocks (32, 64, 128 channels; max-pool after the first two), global
//! average pooling and a linear layer. About 94 k parameters.
use tch::Tensor;

use super::error::NnResult;
use super::init::NetBuilder;
use super::layers::{global_avg_pool, Weights};

const WIDTHS: [i64; 3] = [32, 64, 128];

/// Registers every parameter and buffer of the network.
pub fn build(net: &mut NetBuilder, in_channels: i64, classes: i64) -> NnResult<()> {
    let mut inputs = in_channels;
    for (i, &width) in WIDTHS.iter().enumerate() {
        net.conv(&format!("conv{}", i + 1), inputs, width, 3, false)?;
        net.batch_norm(&format!("bn{}", i + 1), width)?;
        inputs = width;
    }
    net.linear("fc", inputs, classes)
}

/// Logits for a standardized batch [B, C, H, W].
pub fn forward(w: Weights, x: &Tensor) -> NnResult<Tensor> {
    let mut out = x.shallow_clone();
    for i in 1..=WIDTHS.len() {
        out = w.conv_bn(&out, (&format!("conv{i}"), &format!("bn{i}")), (1, 1), true)?;
        if i < WIDTHS.len() {
            out = out.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
        }
    }
    w.linear(&global_avg_pool(&out)?, "fc")
}

//! ResNet-18 in functional form, in its two stems: the CIFAR variant (3×3 stem, no max-pool,
//! for 32×32 images) and the ImageNet variant (7×7 stride-2 stem + max-pool, for large images
//! such as 512×512 histology patches). Names follow torchvision's `resnet18` state dict.
use tch::Tensor;

use super::error::NnResult;
use super::init::NetBuilder;
use super::layers::{global_avg_pool, Weights};

/// Which stem the network starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stem {
    /// 3×3 stride-1 convolution, no max-pool (kuangliu's CIFAR ResNet, the reference's choice).
    Cifar,
    /// 7×7 stride-2 convolution and 3×3 stride-2 max-pool (torchvision).
    ImageNet,
}

/// Channels of the four stages and the stride of each stage's first block.
const STAGES: [(i64, i64); 4] = [(64, 1), (128, 2), (256, 2), (512, 2)];
const BLOCKS_PER_STAGE: usize = 2;

fn needs_downsample(in_planes: i64, planes: i64, stride: i64) -> bool {
    stride != 1 || in_planes != planes
}

/// Registers every parameter and buffer of a ResNet-18.
pub fn build(net: &mut NetBuilder, stem: Stem, in_channels: i64, classes: i64) -> NnResult<()> {
    match stem {
        Stem::Cifar => net.conv("conv1", in_channels, 64, 3, false)?,
        Stem::ImageNet => net.conv("conv1", in_channels, 64, 7, false)?,
    }
    net.batch_norm("bn1", 64)?;
    let mut in_planes = 64;
    for (stage, &(planes, first_stride)) in STAGES.iter().enumerate() {
        for block in 0..BLOCKS_PER_STAGE {
            let stride = if block == 0 { first_stride } else { 1 };
            let p = format!("layer{}.{block}", stage + 1);
            net.conv(&format!("{p}.conv1"), in_planes, planes, 3, false)?;
            net.batch_norm(&format!("{p}.bn1"), planes)?;
            net.conv(&format!("{p}.conv2"), planes, planes, 3, false)?;
            net.batch_norm(&format!("{p}.bn2"), planes)?;
            if needs_downsample(in_planes, planes, stride) {
                net.conv(&format!("{p}.downsample.0"), in_planes, planes, 1, false)?;
                net.batch_norm(&format!("{p}.downsample.1"), planes)?;
            }
            in_planes = planes;
        }
    }
    net.linear("fc", 512, classes)
}

fn basic_block(
    w: Weights,
    x: &Tensor,
    p: &str,
    (in_planes, planes, stride): (i64, i64, i64),
) -> NnResult<Tensor> {
    let out = w.conv_bn(
        x,
        (&format!("{p}.conv1"), &format!("{p}.bn1")),
        (stride, 1),
        true,
    )?;
    let out = w.conv_bn(
        &out,
        (&format!("{p}.conv2"), &format!("{p}.bn2")),
        (1, 1),
        false,
    )?;
    let shortcut = if needs_downsample(in_planes, planes, stride) {
        w.conv_bn(
            x,
            (&format!("{p}.downsample.0"), &format!("{p}.downsample.1")),
            (stride, 0),
            false,
        )?
    } else {
        x.shallow_clone()
    };
    Ok(out.f_add(&shortcut)?.f_relu()?)
}

/// Logits of a ResNet-18 for a standardized batch [B, C, H, W].
pub fn forward(w: Weights, stem: Stem, x: &Tensor) -> NnResult<Tensor> {
    let mut out = match stem {
        Stem::Cifar => w.conv_bn(x, ("conv1", "bn1"), (1, 1), true)?,
        Stem::ImageNet => w.conv_bn(x, ("conv1", "bn1"), (2, 3), true)?.f_max_pool2d(
            [3, 3],
            [2, 2],
            [1, 1],
            [1, 1],
            false,
        )?,
    };
    let mut in_planes = 64;
    for (stage, &(planes, first_stride)) in STAGES.iter().enumerate() {
        for block in 0..BLOCKS_PER_STAGE {
            let stride = if block == 0 { first_stride } else { 1 };
            let p = format!("layer{}.{block}", stage + 1);
            out = basic_block(w, &out, &p, (in_planes, planes, stride))?;
            in_planes = planes;
        }
    }
    w.linear(&global_avg_pool(&out)?, "fc")
}

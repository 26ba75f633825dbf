//! Functional layers: each reads its weights by name prefix from the parameter set it is given,
//! so the same network code runs on real weights and on virtual ones.
use tch::Tensor;

use super::error::NnResult;
use super::params::ParamSet;

/// BatchNorm momentum and epsilon, PyTorch's defaults.
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// The weights one forward pass reads: trainable parameters (real or virtual), BatchNorm
/// buffers, and whether BatchNorm runs in training mode (batch statistics, running-stat update).
#[derive(Clone, Copy)]
pub struct Weights<'a> {
    /// Trainable parameters.
    pub params: &'a ParamSet,
    /// BatchNorm running statistics (updated in place in training mode).
    pub buffers: &'a ParamSet,
    /// Training-mode BatchNorm.
    pub train: bool,
}

impl Weights<'_> {
    /// Convolution with square kernel; bias used when the set has one.
    pub fn conv2d(&self, x: &Tensor, prefix: &str, stride: i64, padding: i64) -> NnResult<Tensor> {
        let weight = self.params.get(&format!("{prefix}.weight"))?;
        let bias = self.params.get(&format!("{prefix}.bias")).ok();
        Ok(x.f_conv2d(
            weight,
            bias,
            [stride, stride],
            [padding, padding],
            [1, 1],
            1,
        )?)
    }

    /// BatchNorm: batch statistics and a running-statistics update in training mode (outside
    /// autograd), running statistics in evaluation mode.
    pub fn batch_norm(&self, x: &Tensor, prefix: &str) -> NnResult<Tensor> {
        Ok(Tensor::f_batch_norm(
            x,
            Some(self.params.get(&format!("{prefix}.weight"))?),
            Some(self.params.get(&format!("{prefix}.bias"))?),
            Some(self.buffers.get(&format!("{prefix}.running_mean"))?),
            Some(self.buffers.get(&format!("{prefix}.running_var"))?),
            self.train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )?)
    }

    /// Convolution (`{conv}`) → BatchNorm (`{bn}`) → optional ReLU.
    pub fn conv_bn(
        &self,
        x: &Tensor,
        (conv, bn): (&str, &str),
        (stride, padding): (i64, i64),
        relu: bool,
    ) -> NnResult<Tensor> {
        let y = self.conv2d(x, conv, stride, padding)?;
        let y = self.batch_norm(&y, bn)?;
        Ok(if relu { y.f_relu()? } else { y })
    }

    /// Affine layer `x·Wᵀ + b`.
    pub fn linear(&self, x: &Tensor, prefix: &str) -> NnResult<Tensor> {
        let weight = self.params.get(&format!("{prefix}.weight"))?;
        let bias = self.params.get(&format!("{prefix}.bias"))?;
        Ok(x.f_linear(weight, Some(bias))?)
    }
}

/// Mean over the spatial dimensions: [B, C, H, W] → [B, C].
pub fn global_avg_pool(x: &Tensor) -> NnResult<Tensor> {
    Ok(x.f_mean_dim([-2i64, -1].as_slice(), false, x.kind())?)
}

//! Seeded weight initialisation, drawn with a Rust RNG so a network built from a seed is the
//! same on every device and thread (libtorch's global generator is shared process state).
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tch::{Device, Kind, Tensor};

use super::error::NnResult;
use super::params::ParamSet;

/// Builds a network's parameter set (trainable) and buffer set (BatchNorm running statistics)
/// with PyTorch's default layer initialisation.
pub struct NetBuilder {
    rng: StdRng,
    kind: Kind,
    device: Device,
    /// Trainable parameters registered so far.
    pub params: ParamSet,
    /// Non-trainable buffers registered so far.
    pub buffers: ParamSet,
}

impl NetBuilder {
    /// A builder drawing from `seed`, creating tensors of `kind` on `device`.
    pub fn new(seed: u64, kind: Kind, device: Device) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            kind,
            device,
            params: ParamSet::new(),
            buffers: ParamSet::new(),
        }
    }

    fn uniform(&mut self, shape: &[i64], bound: f64) -> NnResult<Tensor> {
        let count: i64 = shape.iter().product();
        let values: Vec<f64> = (0..count)
            .map(|_| self.rng.random_range(-bound..=bound))
            .collect();
        Ok(Tensor::from_slice(&values)
            .f_view(shape)?
            .f_to_kind(self.kind)?
            .f_to_device(self.device)?)
    }

    fn constant(&self, shape: &[i64], value: f64) -> NnResult<Tensor> {
        Ok(Tensor::f_full(shape, value, (self.kind, self.device))?)
    }

    fn param(&mut self, name: String, tensor: Tensor) -> NnResult<()> {
        self.params.push(name, tensor.set_requires_grad(true))
    }

    /// A convolution `{prefix}.weight` [out, in, k, k] (and `{prefix}.bias` when `bias`), with
    /// PyTorch's default U(±1/√fan_in).
    pub fn conv(
        &mut self,
        prefix: &str,
        in_channels: i64,
        out_channels: i64,
        kernel: i64,
        bias: bool,
    ) -> NnResult<()> {
        let bound = 1.0 / ((in_channels * kernel * kernel) as f64).sqrt();
        let weight = self.uniform(&[out_channels, in_channels, kernel, kernel], bound)?;
        self.param(format!("{prefix}.weight"), weight)?;
        if bias {
            let bias = self.uniform(&[out_channels], bound)?;
            self.param(format!("{prefix}.bias"), bias)?;
        }
        Ok(())
    }

    /// A BatchNorm over `channels`: weight 1, bias 0, running mean 0 and variance 1.
    pub fn batch_norm(&mut self, prefix: &str, channels: i64) -> NnResult<()> {
        let weight = self.constant(&[channels], 1.0)?;
        let bias = self.constant(&[channels], 0.0)?;
        self.param(format!("{prefix}.weight"), weight)?;
        self.param(format!("{prefix}.bias"), bias)?;
        let mean = self.constant(&[channels], 0.0)?;
        let var = self.constant(&[channels], 1.0)?;
        self.buffers.push(format!("{prefix}.running_mean"), mean)?;
        self.buffers.push(format!("{prefix}.running_var"), var)?;
        Ok(())
    }

    /// A linear layer `{prefix}.weight` [out, in] and `{prefix}.bias` [out], U(±1/√in).
    pub fn linear(&mut self, prefix: &str, inputs: i64, outputs: i64) -> NnResult<()> {
        let bound = 1.0 / (inputs as f64).sqrt();
        let weight = self.uniform(&[outputs, inputs], bound)?;
        let bias = self.uniform(&[outputs], bound)?;
        self.param(format!("{prefix}.weight"), weight)?;
        self.param(format!("{prefix}.bias"), bias)
    }

    /// A linear layer like [`Self::linear`] but with weights U(±`scale`/√in) and a zero bias:
    /// an output layer that starts near zero.
    pub fn linear_head(
        &mut self,
        prefix: &str,
        inputs: i64,
        outputs: i64,
        scale: f64,
    ) -> NnResult<()> {
        let bound = scale / (inputs as f64).sqrt();
        let weight = self.uniform(&[outputs, inputs], bound)?;
        let bias = self.constant(&[outputs], 0.0)?;
        self.param(format!("{prefix}.weight"), weight)?;
        self.param(format!("{prefix}.bias"), bias)
    }

    /// A parameter `name` of `shape` with every entry `value`.
    pub fn constant_param(&mut self, name: &str, shape: &[i64], value: f64) -> NnResult<()> {
        let tensor = self.constant(shape, value)?;
        self.param(name.to_string(), tensor)
    }

    /// The finished `(parameters, buffers)`.
    pub fn finish(self) -> (ParamSet, ParamSet) {
        (self.params, self.buffers)
    }
}

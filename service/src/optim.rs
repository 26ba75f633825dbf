//! SGD with momentum and weight decay, with exactly PyTorch's `torch.optim.SGD` semantics
//! (dampening 0, no Nesterov): d = g + wd·w; b = μ·b + d (b = d on the first step); w −= lr·b.
use tch::Tensor;

use crate::nn::{NnError, NnResult, ParamSet};

/// Hyper-parameters of one SGD optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum μ (0 disables the buffer).
    pub momentum: f64,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Checks that every value is finite and non-negative, and momentum below 1.
    pub fn validate(&self, what: &str) -> NnResult<()> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(self.lr) || !ok(self.weight_decay) || !ok(self.momentum) || self.momentum >= 1.0 {
            return Err(NnError::InvalidConfig(format!(
                "{what} optimizer: lr {}, momentum {}, weight decay {}: each must be a finite \
                 number ≥ 0, and momentum < 1",
                self.lr, self.momentum, self.weight_decay
            )));
        }
        Ok(())
    }
}

/// The optimizer state: its configuration and one momentum buffer per parameter.
#[derive(Debug)]
pub struct Sgd {
    /// Current hyper-parameters (the learning rate may be rescheduled between steps).
    pub config: SgdConfig,
    buffers: Vec<Option<Tensor>>,
}

impl Sgd {
    /// A fresh optimizer (empty momentum buffers).
    pub fn new(config: SgdConfig) -> Self {
        Self {
            config,
            buffers: Vec::new(),
        }
    }

    /// The momentum buffers, in parameter order (`None` before the first step).
    pub fn buffers(&self) -> &[Option<Tensor>] {
        &self.buffers
    }

    /// Restores momentum buffers (from a checkpoint).
    pub fn set_buffers(&mut self, buffers: Vec<Option<Tensor>>) {
        self.buffers = buffers;
    }

    /// One update of `params` in place with `grads` (same order), outside autograd.
    pub fn step(&mut self, params: &ParamSet, grads: &[Tensor]) -> NnResult<()> {
        if grads.len() != params.len() {
            return Err(NnError::InvalidConfig(format!(
                "{} gradients for {} parameters",
                grads.len(),
                params.len()
            )));
        }
        if self.buffers.len() != params.len() {
            self.buffers = (0..params.len()).map(|_| None).collect();
        }
        let SgdConfig {
            lr,
            momentum,
            weight_decay,
        } = self.config;
        let _no_grad = tch::no_grad_guard();
        for ((param, grad), buffer) in params.tensors().iter().zip(grads).zip(&mut self.buffers) {
            let mut d = grad.f_detach()?;
            if weight_decay != 0.0 {
                d = d.f_add(&param.f_mul_scalar(weight_decay)?)?;
            }
            if momentum != 0.0 {
                let next = match buffer.take() {
                    None => d.f_detach_copy()?,
                    Some(b) => b.f_mul_scalar(momentum)?.f_add(&d)?,
                };
                d = next.shallow_clone();
                *buffer = Some(next);
            }
            let mut param = param.shallow_clone();
            let _updated = param.f_sub_(&d.f_mul_scalar(lr)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn matches_pytorch_sgd_by_hand() {
        let mut set = ParamSet::new();
        set.push(
            "w",
            Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true),
        )
        .unwrap();
        let mut sgd = Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.01,
        });
        let g = Tensor::from_slice(&[0.5f64, 0.5]);
        sgd.step(&set, &[g.shallow_clone()]).unwrap();
        // d = 0.5 + 0.01·1 = 0.51; b = d; w = 1 − 0.051
        let w0 = set.get("w").unwrap().double_value(&[0]);
        assert!((w0 - 0.949).abs() < 1e-12, "{w0}");
        sgd.step(&set, &[g]).unwrap();
        // d = 0.5 + 0.01·0.949 = 0.50949; b = 0.9·0.51 + d = 0.96849; w = 0.949 − 0.096849
        let w0 = set.get("w").unwrap().double_value(&[0]);
        assert!((w0 - 0.852151).abs() < 1e-12, "{w0}");
        assert!(
            set.get("w").unwrap().requires_grad(),
            "still a trainable leaf"
        );
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = SgdConfig {
            lr: -1.0,
            momentum: 0.9,
            weight_decay: 0.0,
        };
        let err = bad.validate("classifier").unwrap_err().to_string();
        assert!(err.contains("classifier") && err.contains("lr -1"), "{err}");
        let bad = SgdConfig {
            lr: 0.1,
            momentum: 1.0,
            weight_decay: 0.0,
        };
        assert!(bad.validate("augmenter").is_err());
    }
}

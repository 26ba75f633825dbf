//! The teacher of TeachAugment's adversarial term (Suzuki, CVPR 2022): an exponential moving
//! average w̄ of the classifier's weights, w̄ ← d·w̄ + (1 − d)·w after every real step. The
//! augmenter's loss adds α·E[−log(1 − p_w(y|x̃)) + CE(f_w̄(x̃), y)]: the augmented image x̃
//! should fool the classifier being trained (the non-saturating form of maximizing its loss)
//! while the teacher still recognises it, which keeps the adversary from destroying the label.
//!
//! (Minimizing log(1 − p) as written in some descriptions would make x̃ easier, not harder:
//! the sign here is the one that makes the term adversarial.)
use tch::{Kind, Tensor};

use crate::nn::{Classifier, NnResult, ParamSet, Weights};

/// The teacher's decay d when `augment.teacher_decay` is absent (TeachAugment's 0.999).
pub const TEACHER_DECAY: f64 = 0.999;

/// The smallest 1 − p the target term takes the log of (p = 1 exactly would be −log 0).
const MIN_MISS_PROBABILITY: f64 = 1e-6;

/// The EMA classifier: weights w̄ and its own BatchNorm running statistics.
pub struct Teacher {
    /// w̄ (detached, no gradient).
    pub weights: ParamSet,
    /// Its BatchNorm buffers (its passes run in training mode, as every bilevel pass does).
    pub buffers: ParamSet,
}

fn copy_of(set: &ParamSet) -> NnResult<ParamSet> {
    let _no_grad = tch::no_grad_guard();
    let tensors = set
        .tensors()
        .iter()
        .map(|t| Ok(t.f_detach()?.copy()))
        .collect::<NnResult<Vec<_>>>()?;
    set.with_tensors(tensors)
}

impl Teacher {
    /// A teacher equal to the classifier `weights` with `buffers`.
    pub fn new(weights: &ParamSet, buffers: &ParamSet) -> NnResult<Self> {
        Ok(Self {
            weights: copy_of(weights)?,
            buffers: copy_of(buffers)?,
        })
    }

    /// w̄ ← decay·w̄ + (1 − decay)·w.
    pub fn update(&mut self, weights: &ParamSet, decay: f64) -> NnResult<()> {
        let _no_grad = tch::no_grad_guard();
        for (teacher, w) in self.weights.tensors().iter().zip(weights.tensors()) {
            let mut teacher = teacher.shallow_clone();
            let _ = teacher.f_mul_scalar_(decay)?;
            let _ = teacher.f_add_(&w.f_detach()?.f_mul_scalar(1.0 - decay)?)?;
        }
        Ok(())
    }

    /// −log(1 − p_w(y|x̃)) averaged over the batch, from the classifier's `logits` of the
    /// augmented images, plus the teacher's cross-entropy on `augmented` (in the graph of the
    /// augmenter through both).
    pub fn adversarial_loss(
        &self,
        net: &Classifier,
        logits: &Tensor,
        augmented: &Tensor,
        labels: &Tensor,
    ) -> NnResult<Tensor> {
        let p = logits
            .f_softmax(-1, logits.kind())?
            .f_gather(1, &labels.f_unsqueeze(1)?, false)?
            .f_squeeze_dim(1)?;
        let target = p
            .f_neg()?
            .f_add_scalar(1.0)?
            .f_clamp_min(MIN_MISS_PROBABILITY)?
            .f_log()?
            .f_neg()?
            .f_mean(logits.kind())?;
        let teacher_logits = net.forward(
            Weights {
                params: &self.weights,
                buffers: &self.buffers,
                train: true,
            },
            augmented,
        )?;
        let teacher = teacher_logits
            .f_log_softmax(-1, teacher_logits.kind())?
            .f_gather(1, &labels.f_unsqueeze(1)?, false)?
            .f_neg()?
            .f_mean(Kind::Double)?
            .f_to_kind(target.kind())?;
        Ok(target.f_add(&teacher)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tch::Device;

    use super::*;
    use crate::nn::ClassifierArch;

    #[test]
    fn the_teacher_follows_the_weights_by_its_decay() {
        let net = Classifier::new(ClassifierArch::SmallCnn, 1, 3).unwrap();
        let (weights, buffers) = net.init(1, Kind::Double, Device::Cpu).unwrap();
        let mut teacher = Teacher::new(&weights, &buffers).unwrap();
        let (other, _) = net.init(2, Kind::Double, Device::Cpu).unwrap();
        teacher.update(&other, 0.75).unwrap();
        let (t, w, o) = (
            &teacher.weights.tensors()[0],
            &weights.tensors()[0],
            &other.tensors()[0],
        );
        let expected = w * 0.75 + o * 0.25;
        assert!(t.allclose(&expected, 1e-12, 1e-12, false));
        // The copy is its own: the classifier's weights did not move.
        assert!(!t.allclose(w, 1e-6, 1e-6, false));
    }

    #[test]
    fn the_target_term_grows_as_the_classifier_gets_the_label_right() {
        let net = Classifier::new(ClassifierArch::SmallCnn, 1, 3).unwrap();
        let (weights, buffers) = net.init(1, Kind::Double, Device::Cpu).unwrap();
        let teacher = Teacher::new(&weights, &buffers).unwrap();
        let images = Tensor::rand([4, 1, 8, 8], (Kind::Double, Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 1, 2, 0]);
        let loss = |logits: &Tensor| {
            teacher
                .adversarial_loss(&net, logits, &images, &labels)
                .unwrap()
                .double_value(&[])
        };
        let right = labels.one_hot(3).to_kind(Kind::Double) * 5.0;
        let wrong = labels.one_hot(3).to_kind(Kind::Double) * -5.0;
        assert!(loss(&right) > loss(&wrong) + 3.0);
    }
}

//! The online bilevel step of the method (`shared/ALGORITHM.md`), generalised to K inner steps.
//!
//! Per step, for k = 0..K on K training batches: x̃ₖ = A_θ(xₖ, zₖ); Lₖ = CE(C_{wₖ}(x̃ₖ), yₖ);
//! gₖ = ∂Lₖ/∂wₖ with the graph kept (so gₖ is a function of θ); mₖ₊₁ = μ·mₖ + gₖ;
//! wₖ₊₁ = wₖ − η·mₖ₊₁ (no weight decay in the virtual step; m₀ is the step's own momentum
//! buffer, detached). Then L_val = CE(C_{w_K}(x_v), y_v) on an un-augmented validation batch,
//! θ takes an SGD step on ∂L_val/∂θ alone, and the classifier takes its ordinary SGD steps
//! (momentum, weight decay) with the detached gₖ alone. BatchNorm runs in training mode in
//! every pass.
//!
//! The augmenter's loss is L_val, times η₀/η when the objective's scale says so, plus the
//! objective's regularisers on the moments of the first batch's noise (β·KL(q_φ‖q₀) −
//! γ·Σ log σ, see `objective.rs`) and α times TeachAugment's adversarial term on the first
//! training batch (`teacher.rs`, whose EMA follows every real classifier step); it takes no
//! step once η falls below the objective's freeze fraction of its initial value.
//!
//! With K > 1 the classifier takes one real step per training batch, using gₖ evaluated at
//! the virtual weights wₖ: without weight decay and with the optimizer's momentum equal to the
//! step's own buffer these are exactly the weights the real steps reach.
use tch::{Kind, Reduction, Tensor};

use crate::nn::{
    AugmentNoise, Augmenter, Classifier, NnError, NnResult, ParamSet, SpreadMoments, Weights,
};
use crate::objective::{AugmenterObjective, HypergradientScale};
use crate::optim::{Sgd, SgdConfig};
use crate::teacher::Teacher;

/// A labelled batch, already on the run's device: standardized images [B, C, H, W] and int64
/// labels [B].
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    /// Images.
    pub images: &'a Tensor,
    /// Labels.
    pub labels: &'a Tensor,
}

impl<'a> From<&'a crate::data::Batch> for BatchRef<'a> {
    fn from(batch: &'a crate::data::Batch) -> Self {
        Self {
            images: &batch.images,
            labels: &batch.labels,
        }
    }
}

/// Hyper-parameters of the bilevel step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BilevelConfig {
    /// Virtual steps K before the validation loss (the method uses 1).
    pub inner_steps: usize,
    /// The classifier's optimizer; its `lr` is the current scheduled η_C, also used by the
    /// virtual step, and its momentum is the virtual step's μ.
    pub classifier: SgdConfig,
    /// The augmenter's optimizer.
    pub augmenter: SgdConfig,
    /// What the augmenter's loss adds to L_val.
    pub objective: AugmenterObjective,
}

impl Default for BilevelConfig {
    /// The reference configuration: K = 1; classifier SGD lr 0.1, momentum 0.9, wd 5e-4;
    /// augmenter SGD lr 0.2, momentum 0.9, wd 0.01.
    fn default() -> Self {
        Self {
            inner_steps: 1,
            classifier: SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 5e-4,
            },
            augmenter: SgdConfig {
                lr: 0.2,
                momentum: 0.9,
                weight_decay: 0.01,
            },
            objective: AugmenterObjective::default(),
        }
    }
}

/// What one step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Mean training loss over the K inner batches (on augmented images).
    pub train_loss: f64,
    /// Images of the K inner batches whose logits (augmented images, before the update) put
    /// their label first.
    pub train_correct: usize,
    /// Validation loss after the virtual step(s).
    pub val_loss: f64,
    /// L2 norm of the gradient of the augmenter's loss (before weight decay).
    pub augmenter_grad_norm: f64,
    /// Whether the augmenter stayed as it was (the objective's freeze).
    pub augmenter_frozen: bool,
    /// Per transformation parameter (see [`Augmenter::transform_names`]), the mean over the
    /// samples of the step.
    pub transform_mean: Vec<f64>,
    /// Per transformation parameter, the standard deviation over the samples of the step.
    pub transform_std: Vec<f64>,
}

/// The graph-carrying result of the virtual steps.
pub struct VirtualOutcome {
    /// Training loss of each inner batch.
    pub train_losses: Vec<Tensor>,
    /// Correctly classified images of each inner batch.
    pub train_correct: Vec<usize>,
    /// gₖ, detached, for the real classifier steps.
    pub classifier_grads: Vec<Vec<Tensor>>,
    /// The momentum after the last virtual step, detached.
    pub momentum: Vec<Tensor>,
    /// L_val on the final virtual weights, in the graph of θ.
    pub val_loss: Tensor,
    /// The augmenter's loss (L_val scaled, plus the regularisers), in the graph of θ.
    pub augmenter_loss: Tensor,
    /// The transformations applied, [ΣB, T], detached.
    pub transforms: Tensor,
}

/// The hosted classifier with its weights and optimizer: all that plain training updates.
pub struct ClassifierState {
    /// The architecture.
    pub net: Classifier,
    /// Its weights w (trainable leaves).
    pub weights: ParamSet,
    /// Its BatchNorm running statistics.
    pub buffers: ParamSet,
    /// Its SGD optimizer (momentum buffers, current learning rate).
    pub optimizer: Sgd,
}

impl ClassifierState {
    /// Puts a classifier together with a fresh optimizer.
    pub fn new(
        (net, weights, buffers): (Classifier, ParamSet, ParamSet),
        optimizer: SgdConfig,
    ) -> NnResult<Self> {
        optimizer.validate("classifier")?;
        Ok(Self {
            net,
            weights,
            buffers,
            optimizer: Sgd::new(optimizer),
        })
    }

    fn view<'a>(&'a self, weights: &'a ParamSet, train: bool) -> Weights<'a> {
        Weights {
            params: weights,
            buffers: &self.buffers,
            train,
        }
    }

    /// Logits of a batch in evaluation mode (running statistics, no graph).
    pub fn eval_logits(&self, images: &Tensor) -> NnResult<Tensor> {
        let _no_grad = tch::no_grad_guard();
        self.net.forward(self.view(&self.weights, false), images)
    }

    /// An ordinary SGD step on `batch` (the baseline without an augmenter); returns the
    /// training loss and how many images the step's own logits classified correctly.
    pub fn plain_step(&mut self, batch: BatchRef) -> NnResult<PlainStep> {
        let logits = self
            .net
            .forward(self.view(&self.weights, true), batch.images)?;
        let loss = cross_entropy(&logits, batch.labels)?;
        let grads = gradients(&loss, self.weights.tensors(), false)?;
        self.optimizer.step(&self.weights, &grads)?;
        Ok(PlainStep {
            loss: scalar(&loss)?,
            correct: correct(&logits, batch.labels)?,
        })
    }
}

/// What an ordinary SGD step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlainStep {
    /// The training loss of the batch.
    pub loss: f64,
    /// Images of the batch whose logits (before the update, training-mode BatchNorm) put
    /// their label first: the epoch's training accuracy is counted from these, so no second
    /// pass over the training split is needed.
    pub correct: usize,
}

/// Images whose logits put their label first.
pub fn correct(logits: &Tensor, labels: &Tensor) -> NnResult<usize> {
    let _no_grad = tch::no_grad_guard();
    let hits = logits
        .f_argmax(-1, false)?
        .f_eq_tensor(labels)?
        .f_sum(Kind::Int64)?
        .f_int64_value(&[])?;
    Ok(usize::try_from(hits).unwrap_or(0))
}

/// The augmenter with its weights and optimizer.
pub struct AugmenterState {
    /// The augmenter.
    pub net: Augmenter,
    /// Its weights θ (trainable leaves).
    pub theta: ParamSet,
    /// Its SGD optimizer.
    pub optimizer: Sgd,
}

/// The two networks and their optimizers: everything the bilevel loop updates.
pub struct BilevelLearner {
    /// The hosted classifier.
    pub classifier: ClassifierState,
    /// The augmenter.
    pub augmenter: AugmenterState,
    inner_steps: usize,
    virtual_momentum: Vec<Tensor>,
    objective: AugmenterObjective,
    initial_lr: f64,
    /// The EMA teacher of the adversarial term (when the objective has one).
    pub teacher: Option<Teacher>,
}

fn cross_entropy(logits: &Tensor, labels: &Tensor) -> NnResult<Tensor> {
    Ok(logits.f_cross_entropy_loss::<&Tensor>(labels, None, Reduction::Mean, -100, 0.0)?)
}

/// Autograd gradients of `loss` with respect to `inputs`; an input the loss does not reach
/// gets an exact zero rather than an undefined tensor. The graph is kept only when the
/// gradients themselves are differentiated later (`create_graph`); otherwise its buffers are
/// freed as the backward pass goes.
fn gradients(loss: &Tensor, inputs: &[Tensor], create_graph: bool) -> NnResult<Vec<Tensor>> {
    let grads = Tensor::f_run_backward(&[loss], inputs, create_graph, create_graph)?;
    grads
        .into_iter()
        .zip(inputs)
        .map(|(g, x)| {
            if g.defined() {
                Ok(g)
            } else {
                Ok(x.f_zeros_like()?)
            }
        })
        .collect()
}

fn scalar(t: &Tensor) -> NnResult<f64> {
    Ok(t.f_double_value(&[])?)
}

impl BilevelLearner {
    /// Puts the networks together; weights and θ must be trainable leaves on one device.
    pub fn new(
        classifier: (Classifier, ParamSet, ParamSet),
        (augmenter, theta): (Augmenter, ParamSet),
        config: BilevelConfig,
    ) -> NnResult<Self> {
        if config.inner_steps == 0 {
            return Err(NnError::InvalidConfig(
                "inner_steps must be at least 1".into(),
            ));
        }
        config.augmenter.validate("augmenter")?;
        config.objective.validate()?;
        if config.objective.prior_kl > 0.0 && !augmenter.variant().has_gate() {
            return Err(NnError::InvalidConfig(format!(
                "prior_kl needs the broad variant (the one with a prior), not {}",
                augmenter.variant()
            )));
        }
        if config.objective.entropy_bonus > 0.0 && augmenter.variant().spread_shift().is_none() {
            return Err(NnError::InvalidConfig(
                "entropy_bonus needs a variant with spreads, not reference".into(),
            ));
        }
        let classifier = ClassifierState::new(classifier, config.classifier)?;
        let teacher = if config.objective.adversarial > 0.0 {
            Some(Teacher::new(&classifier.weights, &classifier.buffers)?)
        } else {
            None
        };
        if classifier.net.in_channels != augmenter.channels() {
            return Err(NnError::InvalidConfig(format!(
                "the classifier takes {} channels, the augmenter {}",
                classifier.net.in_channels,
                augmenter.channels()
            )));
        }
        let virtual_momentum = zeros_like_all(&classifier.weights)?;
        Ok(Self {
            classifier,
            augmenter: AugmenterState {
                net: augmenter,
                theta,
                optimizer: Sgd::new(config.augmenter),
            },
            inner_steps: config.inner_steps,
            virtual_momentum,
            objective: config.objective,
            initial_lr: config.classifier.lr,
            teacher,
        })
    }

    /// Virtual steps per bilevel step (K).
    pub fn inner_steps(&self) -> usize {
        self.inner_steps
    }

    /// Resets the step's own momentum buffer, as the method does at the start of every epoch.
    pub fn start_epoch(&mut self) -> NnResult<()> {
        self.virtual_momentum = zeros_like_all(&self.classifier.weights)?;
        Ok(())
    }

    /// The step's own momentum buffer m (in weight order).
    pub fn virtual_momentum(&self) -> &[Tensor] {
        &self.virtual_momentum
    }

    /// Replaces the step's own momentum buffer (tests, checkpoints).
    pub fn set_virtual_momentum(&mut self, momentum: Vec<Tensor>) -> NnResult<()> {
        if momentum.len() != self.classifier.weights.len() {
            return Err(NnError::InvalidConfig(format!(
                "{} momentum tensors for {} weights",
                momentum.len(),
                self.classifier.weights.len()
            )));
        }
        self.virtual_momentum = momentum;
        Ok(())
    }

    /// Steps 1–5 of the method with augmenter weights `theta`: the K virtual steps and the
    /// validation loss on the final virtual weights, keeping the graph back to `theta`. The
    /// virtual step uses the classifier optimizer's current learning rate and momentum.
    pub fn virtual_steps(
        &self,
        theta: &ParamSet,
        train: &[BatchRef],
        noise: &[AugmentNoise],
        val: BatchRef,
    ) -> NnResult<VirtualOutcome> {
        if train.len() != self.inner_steps || noise.len() != train.len() {
            return Err(NnError::InvalidConfig(format!(
                "{} training batches and {} noise draws for {} inner steps",
                train.len(),
                noise.len(),
                self.inner_steps
            )));
        }
        let classifier = &self.classifier;
        let eta = classifier.optimizer.config.lr;
        let mu = classifier.optimizer.config.momentum;
        let mut weights = classifier.weights.shallow_clone();
        let mut momentum: Vec<Tensor> = self
            .virtual_momentum
            .iter()
            .map(Tensor::f_detach)
            .collect::<Result<_, _>>()?;
        let mut train_losses = Vec::with_capacity(train.len());
        let mut train_correct = Vec::with_capacity(train.len());
        let mut classifier_grads = Vec::with_capacity(train.len());
        let mut transforms = Vec::with_capacity(train.len());
        let mut adversarial = None;
        let mut moments = None;
        for (batch, noise) in train.iter().zip(noise) {
            let augmented = self.augmenter.net.forward(theta, batch.images, noise)?;
            let logits = classifier
                .net
                .forward(classifier.view(&weights, true), &augmented.images)?;
            if let (Some(teacher), None) = (&self.teacher, &adversarial) {
                adversarial = Some(teacher.adversarial_loss(
                    &classifier.net,
                    &logits,
                    &augmented.images,
                    batch.labels,
                )?);
            }
            let loss = cross_entropy(&logits, batch.labels)?;
            let grads = gradients(&loss, weights.tensors(), true)?;
            let mut next_weights = Vec::with_capacity(grads.len());
            let mut next_momentum = Vec::with_capacity(grads.len());
            for ((w, m), g) in weights.tensors().iter().zip(&momentum).zip(&grads) {
                let m = if mu == 0.0 {
                    g.shallow_clone()
                } else {
                    m.f_mul_scalar(mu)?.f_add(g)?
                };
                next_weights.push(w.f_sub(&m.f_mul_scalar(eta)?)?);
                next_momentum.push(m);
            }
            classifier_grads.push(
                grads
                    .iter()
                    .map(Tensor::f_detach)
                    .collect::<Result<_, _>>()?,
            );
            train_losses.push(loss);
            train_correct.push(correct(&logits, batch.labels)?);
            transforms.push(augmented.transform);
            if moments.is_none() {
                moments = augmented.moments;
            }
            weights = weights.with_tensors(next_weights)?;
            momentum = next_momentum;
        }
        let logits = classifier
            .net
            .forward(classifier.view(&weights, true), val.images)?;
        let val_loss = cross_entropy(&logits, val.labels)?;
        let augmenter_loss =
            self.augmenter_loss(&val_loss, moments.as_ref(), adversarial.as_ref())?;
        Ok(VirtualOutcome {
            train_losses,
            train_correct,
            classifier_grads,
            momentum: momentum
                .iter()
                .map(Tensor::f_detach)
                .collect::<Result<_, _>>()?,
            val_loss,
            augmenter_loss,
            transforms: Tensor::f_cat(&transforms, 0)?,
        })
    }

    /// The augmenter's loss for `val_loss` (L_val in the graph of θ): scaled by the objective,
    /// plus its regularisers on the first batch's `moments` and α times that batch's
    /// `adversarial` term.
    fn augmenter_loss(
        &self,
        val_loss: &Tensor,
        moments: Option<&SpreadMoments>,
        adversarial: Option<&Tensor>,
    ) -> NnResult<Tensor> {
        let objective = &self.objective;
        let mut loss = match objective.scale {
            HypergradientScale::None => val_loss.shallow_clone(),
            HypergradientScale::InverseLr => {
                val_loss.f_mul_scalar(self.initial_lr / self.classifier.optimizer.config.lr)?
            }
        };
        if objective.regularises() {
            let moments = moments.ok_or_else(|| {
                NnError::InvalidConfig(
                    "the objective's regularisers need a variant with spreads".into(),
                )
            })?;
            if objective.prior_kl > 0.0 {
                let kl = moments.kl_to_prior()?.f_to_kind(loss.kind())?;
                loss = loss.f_add(&kl.f_mul_scalar(objective.prior_kl)?)?;
            }
            if objective.entropy_bonus > 0.0 {
                let entropy = moments.log_spread()?.f_to_kind(loss.kind())?;
                loss = loss.f_sub(&entropy.f_mul_scalar(objective.entropy_bonus)?)?;
            }
        }
        if let Some(adversarial) = adversarial {
            let term = adversarial.f_to_kind(loss.kind())?;
            loss = loss.f_add(&term.f_mul_scalar(objective.adversarial)?)?;
        }
        Ok(loss)
    }

    /// The gradient of the augmenter's loss with respect to θ (with the default objective,
    /// ∂L_val/∂θ through the virtual steps: the hypergradient), with the outcome it came from.
    pub fn hypergradient(
        &self,
        train: &[BatchRef],
        noise: &[AugmentNoise],
        val: BatchRef,
    ) -> NnResult<(Vec<Tensor>, VirtualOutcome)> {
        let outcome = self.virtual_steps(&self.augmenter.theta, train, noise, val)?;
        let grads = gradients(
            &outcome.augmenter_loss,
            self.augmenter.theta.tensors(),
            false,
        )?;
        Ok((grads, outcome))
    }

    /// One full bilevel step: the hypergradient, the augmenter update from it, and the real
    /// classifier update(s) from the training loss.
    pub fn step(
        &mut self,
        train: &[BatchRef],
        noise: &[AugmentNoise],
        val: BatchRef,
    ) -> NnResult<StepReport> {
        let (theta_grads, outcome) = self.hypergradient(train, noise, val)?;
        let grad_norm = theta_grads
            .iter()
            .map(|g| Ok(g.f_square()?.f_sum(Kind::Double)?))
            .collect::<NnResult<Vec<_>>>()?;
        let grad_norm = scalar(&Tensor::f_stack(&grad_norm, 0)?.f_sum(Kind::Double)?)?.sqrt();
        let frozen = self
            .objective
            .frozen_at(self.classifier.optimizer.config.lr, self.initial_lr);
        if !frozen {
            let augmenter = &mut self.augmenter;
            augmenter.optimizer.step(&augmenter.theta, &theta_grads)?;
        }
        for grads in &outcome.classifier_grads {
            let classifier = &mut self.classifier;
            classifier.optimizer.step(&classifier.weights, grads)?;
            if let Some(teacher) = self.teacher.as_mut() {
                teacher.update(&classifier.weights, self.objective.teacher_decay)?;
            }
        }
        self.virtual_momentum = outcome.momentum;
        let mut train_loss = 0.0;
        for loss in &outcome.train_losses {
            train_loss += scalar(loss)?;
        }
        let (transform_mean, transform_std) = column_stats(&outcome.transforms)?;
        Ok(StepReport {
            train_loss: train_loss / outcome.train_losses.len() as f64,
            train_correct: outcome.train_correct.iter().sum(),
            val_loss: scalar(&outcome.val_loss)?,
            augmenter_grad_norm: grad_norm,
            augmenter_frozen: frozen,
            transform_mean,
            transform_std,
        })
    }
}

fn zeros_like_all(set: &ParamSet) -> NnResult<Vec<Tensor>> {
    set.tensors()
        .iter()
        .map(|t| Ok(t.f_detach()?.f_zeros_like()?))
        .collect()
}

/// Per-column mean and (unbiased) standard deviation of [N, T]; std is 0 for N = 1.
pub(crate) fn column_stats(values: &Tensor) -> NnResult<(Vec<f64>, Vec<f64>)> {
    let values = values
        .f_to_kind(Kind::Double)?
        .f_to_device(tch::Device::Cpu)?;
    let mean = values.f_mean_dim(0, false, Kind::Double)?;
    let std = if values.size()[0] > 1 {
        values.f_std_dim(0, true, false)?
    } else {
        mean.f_zeros_like()?
    };
    Ok((Vec::<f64>::try_from(&mean)?, Vec::<f64>::try_from(&std)?))
}

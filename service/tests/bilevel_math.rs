//! The bilevel step's mathematics: the hypergradient against central finite differences of
//! the augmenter's loss (the post-virtual-step validation loss, scaled and regularised as the
//! objective says), and the absence of leaks between the two networks.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use augmentd::nn::{AffineVariant, AugmenterKind, AugmenterVariant, ParamSet};
use augmentd::objective::{AugmenterObjective, HypergradientScale};
use common::{randn, refs, relative_max_error, values, Problem};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Kind, Tensor};

const EPS: f64 = 1e-6;
/// The `spread` variant's border padding clips sample coordinates, which makes the loss
/// piecewise smooth with pieces narrower than [`EPS`] around some points: a smaller step stays
/// inside one piece (double precision leaves ~1e-9 relative rounding error at this step).
const BORDER_EPS: f64 = 1e-7;
const TOLERANCE: f64 = 1e-4;

/// θ + step·direction, as a fresh parameter set.
fn shifted(theta: &ParamSet, direction: &[Tensor], step: f64) -> ParamSet {
    let tensors = theta
        .tensors()
        .iter()
        .zip(direction)
        .map(|(t, d)| t.detach() + d * step)
        .collect();
    theta.with_tensors(tensors).unwrap()
}

fn check_against_finite_differences(problem: Problem) {
    check_with_step(problem, EPS);
}

fn check_with_step(problem: Problem, eps: f64) {
    let learner = problem.learner(11);
    let train = problem.batches(21, problem.inner_steps);
    let val = problem.batches(31, 1);
    let noise = problem.noise(41);
    let (grads, _) = learner
        .hypergradient(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    let loss_at = |theta: &ParamSet| {
        learner
            .virtual_steps(theta, &refs(&train), &noise, val[0].as_ref())
            .unwrap()
            .augmenter_loss
            .double_value(&[])
    };
    let theta = &learner.augmenter.theta;
    let mut directions: Vec<Vec<Tensor>> = Vec::new();
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..3 {
        let direction = theta
            .tensors()
            .iter()
            .map(|t| randn(&mut rng, &t.size(), t.kind()))
            .collect();
        directions.push(direction);
    }
    // The single coordinates with the largest gradients, where an error would show most.
    let flat: Vec<(usize, usize, f64)> = grads
        .iter()
        .enumerate()
        .flat_map(|(t, g)| {
            values(g)
                .into_iter()
                .enumerate()
                .map(move |(i, v)| (t, i, v))
        })
        .collect();
    let mut largest = flat.clone();
    largest.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
    for &(t, i, _) in largest.iter().take(8) {
        let direction: Vec<Tensor> = theta.tensors().iter().map(Tensor::zeros_like).collect();
        let _ = direction[t].view(-1).get(i as i64).fill_(1.0);
        directions.push(direction);
    }
    for (n, direction) in directions.iter().enumerate() {
        let analytic: f64 = grads
            .iter()
            .zip(direction)
            .map(|(g, d)| (g * d).sum(Kind::Double).double_value(&[]))
            .sum();
        let numeric = (loss_at(&shifted(theta, direction, eps))
            - loss_at(&shifted(theta, direction, -eps)))
            / (2.0 * eps);
        let relative = (analytic - numeric).abs() / numeric.abs().max(1e-12);
        assert!(
            analytic.abs() > 1e-7,
            "direction {n}: the hypergradient vanished ({analytic:e}): nothing is being tested"
        );
        assert!(
            relative <= TOLERANCE,
            "direction {n}: analytic {analytic:e} vs finite differences {numeric:e} \
             (relative error {relative:e}) for K={} μ={}",
            problem.inner_steps,
            problem.momentum
        );
    }
}

fn affine_problem(inner_steps: usize, momentum: f64) -> Problem {
    let mut problem = Problem::new(AugmenterKind::SmallAffine(AffineVariant::Affine), 1);
    problem.inner_steps = inner_steps;
    problem.momentum = momentum;
    problem
}

#[test]
fn hypergradient_matches_finite_differences_k1_plain() {
    check_against_finite_differences(affine_problem(1, 0.0));
}

#[test]
fn hypergradient_matches_finite_differences_k1_momentum() {
    check_against_finite_differences(affine_problem(1, 0.9));
}

#[test]
fn hypergradient_matches_finite_differences_k2_plain() {
    check_against_finite_differences(affine_problem(2, 0.0));
}

#[test]
fn hypergradient_matches_finite_differences_k2_momentum() {
    check_against_finite_differences(affine_problem(2, 0.9));
}

#[test]
fn hypergradient_matches_finite_differences_affine_color() {
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.inner_steps = 2;
    check_against_finite_differences(problem);
}

/// The FD checks of a spread variant: `small_affine` with one inner step and momentum, and
/// `affine_color` with two.
fn check_spread_variant(variant: AugmenterVariant) {
    let mut problem = affine_problem(1, 0.9);
    problem.variant = variant;
    check_with_step(problem, BORDER_EPS);
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.variant = variant;
    problem.inner_steps = 2;
    check_with_step(problem, BORDER_EPS);
}

#[test]
fn spread_variant_hypergradient_matches_finite_differences() {
    check_spread_variant(AugmenterVariant::Spread);
}

#[test]
fn narrow_variant_hypergradient_matches_finite_differences() {
    check_spread_variant(AugmenterVariant::Narrow);
}

/// The `broad` objective: the inverse-lr scale, the KL toward q₀ and an entropy bonus, each
/// large enough to move the gradient.
fn broad_objective() -> AugmenterObjective {
    AugmenterObjective {
        scale: HypergradientScale::InverseLr,
        prior_kl: 0.3,
        entropy_bonus: 0.2,
        ..Default::default()
    }
}

#[test]
fn broad_variant_hypergradient_matches_finite_differences() {
    let mut problem = affine_problem(1, 0.9);
    problem.variant = AugmenterVariant::Broad;
    problem.objective = broad_objective();
    check_with_step(problem, BORDER_EPS);
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.variant = AugmenterVariant::Broad;
    problem.objective = broad_objective();
    problem.inner_steps = 2;
    check_with_step(problem, BORDER_EPS);
}

/// TeachAugment's adversarial term (with its teacher a copy of the classifier at the start)
/// on top of the broad objective.
#[test]
fn adversarial_hypergradient_matches_finite_differences() {
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.variant = AugmenterVariant::Broad;
    problem.objective = AugmenterObjective {
        adversarial: 0.5,
        ..broad_objective()
    };
    problem.inner_steps = 2;
    check_with_step(problem, BORDER_EPS);
    let mut problem = affine_problem(1, 0.9);
    problem.objective.adversarial = 1.0;
    check_against_finite_differences(problem);
}

/// The adversarial term moves the augmenter's loss, and the teacher follows the classifier
/// after a real step by its decay.
#[test]
fn the_adversarial_term_changes_the_loss_and_the_teacher_follows() {
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.variant = AugmenterVariant::Broad;
    let train = problem.batches(21, 1);
    let val = problem.batches(31, 1);
    let noise = problem.noise(41);
    let loss = |problem: &Problem| {
        let learner = problem.learner(11);
        let theta = &learner.augmenter.theta;
        learner
            .virtual_steps(theta, &refs(&train), &noise, val[0].as_ref())
            .unwrap()
            .augmenter_loss
            .double_value(&[])
    };
    let plain = loss(&problem);
    problem.objective.adversarial = 1.0;
    assert!((loss(&problem) - plain).abs() > 1e-3);
    problem.objective.teacher_decay = 0.5;
    let mut learner = problem.learner(11);
    let before = learner.teacher.as_ref().unwrap().weights.tensors()[0].copy();
    assert!(before.equal(&learner.classifier.weights.tensors()[0]));
    learner
        .step(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    let after = &learner.teacher.as_ref().unwrap().weights.tensors()[0];
    let expected = &before * 0.5 + &learner.classifier.weights.tensors()[0] * 0.5;
    assert!(after.allclose(&expected, 1e-12, 1e-12, false));
}

/// The gradient reaches the apply probability's logit, through the relaxed gate and the KL.
#[test]
fn broad_hypergradient_reaches_the_gate() {
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.variant = AugmenterVariant::Broad;
    problem.objective = broad_objective();
    let learner = problem.learner(11);
    let train = problem.batches(21, 1);
    let val = problem.batches(31, 1);
    let (grads, _) = learner
        .hypergradient(&refs(&train), &problem.noise(41), val[0].as_ref())
        .unwrap();
    let names = learner.augmenter.theta.names();
    let gate = names
        .iter()
        .position(|n| n == augmentd::nn::GATE_LOGIT)
        .unwrap();
    let g = grads[gate].double_value(&[0]);
    assert!(g.is_finite() && g.abs() > 1e-6, "gate gradient {g}");
}

/// inverse-lr multiplies L_val by η₀/η: the same at the start, twice as much once η halves.
#[test]
fn inverse_lr_scales_the_validation_loss_by_the_decay() {
    let mut problem = Problem::new(AugmenterKind::AffineColor, 3);
    problem.variant = AugmenterVariant::Broad;
    problem.objective.scale = HypergradientScale::InverseLr;
    let mut learner = problem.learner(11);
    let train = problem.batches(21, 1);
    let val = problem.batches(31, 1);
    let noise = problem.noise(41);
    let theta = &learner.augmenter.theta;
    let theta = theta
        .with_tensors(theta.tensors().iter().map(Tensor::detach).collect())
        .unwrap();
    let outcome = learner
        .virtual_steps(&theta, &refs(&train), &noise, val[0].as_ref())
        .unwrap();
    let val_loss = outcome.val_loss.double_value(&[]);
    assert!((outcome.augmenter_loss.double_value(&[]) - val_loss).abs() < 1e-12);
    learner.classifier.optimizer.config.lr = problem.lr / 2.0;
    let outcome = learner
        .virtual_steps(&theta, &refs(&train), &noise, val[0].as_ref())
        .unwrap();
    let halved = outcome.val_loss.double_value(&[]);
    let scaled = outcome.augmenter_loss.double_value(&[]);
    assert!(
        (scaled - 2.0 * halved).abs() < 1e-9,
        "{scaled} vs 2 × {halved}"
    );
}

#[test]
fn no_hypergradient_when_the_virtual_step_is_empty() {
    let mut problem = affine_problem(2, 0.9);
    problem.lr = 0.0;
    let mut learner = problem.learner(3);
    let train = problem.batches(4, 2);
    let val = problem.batches(5, 1);
    let noise = problem.noise(6);
    let (grads, _) = learner
        .hypergradient(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    for g in &grads {
        assert_eq!(g.abs().max().double_value(&[]), 0.0, "exactly zero");
    }
    // With no hypergradient, θ moves by its weight decay alone (SGD's first step: b = wd·θ):
    // the training loss, which certainly depends on θ, never reaches it.
    let before = learner.augmenter.theta.deep_copy(false).unwrap();
    let report = learner
        .step(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    assert_eq!(report.augmenter_grad_norm, 0.0);
    for (old, new) in before
        .tensors()
        .iter()
        .zip(learner.augmenter.theta.tensors())
    {
        let expected = old * (1.0 - 0.2 * 0.01);
        assert!(relative_max_error(new, &expected) < 1e-15);
    }
}

#[test]
fn classifier_update_is_a_plain_sgd_step_on_the_augmented_batch() {
    let problem = affine_problem(1, 0.9);
    let mut bilevel = problem.learner(8);
    let mut plain = problem.learner(8);
    let train = problem.batches(9, 1);
    let val = problem.batches(10, 1);
    let noise = problem.noise(12);
    let augmented = plain
        .augmenter
        .net
        .forward(&plain.augmenter.theta, &train[0].images, &noise[0])
        .unwrap()
        .images
        .detach();
    let report = bilevel
        .step(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    let step = plain
        .classifier
        .plain_step(augmentd::bilevel::BatchRef {
            images: &augmented,
            labels: &train[0].labels,
        })
        .unwrap();
    assert!((step.loss - report.train_loss).abs() < 1e-12);
    // The same logits, so the same count of correctly classified images.
    assert_eq!(step.correct, report.train_correct);
    for (name, w) in bilevel.classifier.weights.iter() {
        let expected = plain.classifier.weights.get(name).unwrap();
        assert!(
            relative_max_error(w, expected) < 1e-12,
            "{name} differs from a plain SGD step"
        );
        assert!(!w.equal(
            &problem
                .learner(8)
                .classifier
                .weights
                .get(name)
                .unwrap()
                .detach()
        ));
    }
}

#[test]
fn step_reports_transform_statistics() {
    let problem = affine_problem(2, 0.9);
    let mut learner = problem.learner(1);
    let train = problem.batches(2, 2);
    let val = problem.batches(3, 1);
    let noise = problem.noise(4);
    let outcome = learner
        .virtual_steps(
            &learner.augmenter.theta,
            &refs(&train),
            &noise,
            val[0].as_ref(),
        )
        .unwrap();
    let transforms = outcome.transforms.shallow_clone();
    assert_eq!(transforms.size(), [8, 6]);
    let report = learner
        .step(&refs(&train), &noise, val[0].as_ref())
        .unwrap();
    let mean = values(&transforms.mean_dim(0, false, Kind::Double));
    let std = values(&transforms.std_dim(0, true, false));
    for i in 0..6 {
        assert!((report.transform_mean[i] - mean[i]).abs() < 1e-12);
        assert!((report.transform_std[i] - std[i]).abs() < 1e-12);
    }
    assert!(report.augmenter_grad_norm > 0.0 && report.val_loss > 0.0);
}

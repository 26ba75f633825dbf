//! The learned augmenters of the method: `small_affine` (and its translation, scale, rotation
//! variants) and `affine_color`. A network maps noise z ~ U(−1, 1) to transformation
//! parameters, which are applied to standardized images with differentiable operations, so the
//! gradient of a loss on the augmented images reaches the network's weights θ. The network is
//! the method's (`reference`) or that of the `spread` and `narrow` variants (mean and spread per
//! parameter, see `variant.rs`).
//!
//! All randomness (noise, dropout masks, the order of the colour operations, the spread
//! variants' ε) is drawn up front into an [`AugmentNoise`] from a caller's seeded RNG; the
//! forward pass itself is deterministic, which makes runs reproducible and lets tests fix the
//! noise.
use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use tch::{Device, Kind, Tensor};

use super::affine::{
    bound_matrix, offset_matrix, spread_matrix, variant_matrix, warp, AffineVariant, Padding,
};
use super::color::ColorOp;
use super::error::{NnError, NnResult};
use super::init::NetBuilder;
use super::params::ParamSet;
use super::prior::{prior_std, SpreadMoments, GATE_TEMPERATURE, PRIOR_APPLY_PROB};
use super::transform_param::TransformParam;
use super::variant::{spread_moments, AugmenterVariant, LEAKY_SLOPE, SPREAD_HEAD_INIT_SCALE};

/// Name of the `broad` variant's apply-probability logit in θ.
pub const GATE_LOGIT: &str = "gate.logit";

/// Dropout probability of the augmenter's hidden layers (the reference's 0.2).
pub const DROPOUT: f64 = 0.2;

/// The augmenter families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AugmenterKind {
    /// z ∈ R⁶ → 6 → 60 → P, one of the affine variants.
    SmallAffine(AffineVariant),
    /// z ∈ R¹⁰ → 10 → 100 → 10 (tanh): an affine matrix and four colour parameters.
    AffineColor,
}

impl AugmenterKind {
    /// Every kind, for listings and error messages.
    pub const ALL: [Self; 5] = [
        Self::SmallAffine(AffineVariant::Affine),
        Self::SmallAffine(AffineVariant::Translation),
        Self::SmallAffine(AffineVariant::Scale),
        Self::SmallAffine(AffineVariant::Rotation),
        Self::AffineColor,
    ];

    /// The name used in configuration: `small_affine`, `small_affine:translation`, …,
    /// `affine_color`.
    pub fn name(self) -> String {
        match self {
            Self::SmallAffine(AffineVariant::Affine) => "small_affine".into(),
            Self::SmallAffine(v) => format!("small_affine:{}", v.name()),
            Self::AffineColor => "affine_color".into(),
        }
    }

    /// Layer widths of the reference: noise, hidden 1, hidden 2, outputs (one per
    /// transformation parameter).
    fn widths(self) -> [i64; 4] {
        match self {
            Self::SmallAffine(v) => [6, 6, 60, v.outputs()],
            Self::AffineColor => [10, 10, 100, 10],
        }
    }

    /// The transformation parameters the network outputs, in order.
    fn outputs(self) -> &'static [TransformParam] {
        use TransformParam::{Tx, Ty, A11, A12, A21, A22};
        match self {
            Self::SmallAffine(AffineVariant::Affine) => TransformParam::AFFINE,
            Self::SmallAffine(AffineVariant::Translation) => &[Tx, Ty],
            Self::SmallAffine(AffineVariant::Scale) => &[A11, A22],
            Self::SmallAffine(AffineVariant::Rotation) => &[A11, A12, A21, A22],
            Self::AffineColor => &TransformParam::ALL,
        }
    }

    /// Layer names, those of the reference modules (so weights load into its PyTorch code).
    fn layer_names(self) -> [&'static str; 3] {
        match self {
            Self::SmallAffine(_) => ["fc_loc.0", "fc_loc.3", "lin1"],
            Self::AffineColor => ["lin1", "lin2", "lin3"],
        }
    }
}

impl fmt::Display for AugmenterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for AugmenterKind {
    type Err = NnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        let wanted = if wanted == "small_affine:affine" {
            "small_affine".to_string()
        } else {
            wanted
        };
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                NnError::InvalidConfig(format!(
                    "unknown augmenter '{text}': expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Everything random about one augmentation of a batch.
#[derive(Debug)]
pub struct AugmentNoise {
    /// z ~ U(−1, 1), [B, noise_dim].
    pub z: Tensor,
    /// Inverted-dropout masks of the two hidden layers (0 or 1/(1−p)), or `None` with dropout
    /// off.
    pub dropout: Option<[Tensor; 2]>,
    /// The order of the colour operations for this batch (empty for `small_affine`).
    pub color_order: Vec<ColorOp>,
    /// Unit-variance noise ε ~ U(−√3, √3) [B, P] of the spread variants' reparametrized
    /// sample (`None` for the reference).
    pub spread: Option<Tensor>,
    /// Logistic noise log u − log(1 − u), u ~ U(0, 1), [B, 1], of the relaxed apply gate of
    /// the variants that have one (`None` otherwise).
    pub gate: Option<Tensor>,
}

/// An augmented batch.
#[derive(Debug)]
pub struct Augmented {
    /// Standardized augmented images, [B, C, H, W], in the autograd graph of θ.
    pub images: Tensor,
    /// The transformation applied to each sample, detached, [B, T]: the six affine matrix
    /// entries (a11, a12, tx, a21, a22, ty), then for `affine_color` c0..c3.
    pub transform: Tensor,
    /// Under the spread variants, the moments the parameters were sampled from (in the graph
    /// of θ: the objective's regularisers use them); `None` for the reference.
    pub moments: Option<SpreadMoments>,
}

/// An augmenter: its kind and variant, the image normalization it undoes and redoes, and an
/// optional bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Augmenter {
    kind: AugmenterKind,
    variant: AugmenterVariant,
    channels: i64,
    mean: Vec<f64>,
    std: Vec<f64>,
    bound: Option<f64>,
}

impl Augmenter {
    /// An augmenter for images with `mean`/`std` per channel (in [0, 1] pixel units). `bound`
    /// softly limits the affine matrix to within that distance of the identity (off in the
    /// method).
    pub fn new(
        kind: AugmenterKind,
        mean: Vec<f64>,
        std: Vec<f64>,
        bound: Option<f64>,
    ) -> NnResult<Self> {
        let channels = mean.len() as i64;
        let invalid = |why: String| Err(NnError::InvalidConfig(format!("{kind}: {why}")));
        if channels == 0 || mean.len() != std.len() {
            return invalid(format!(
                "{} mean values and {} std values; one of each per channel is needed",
                mean.len(),
                std.len()
            ));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return invalid(format!("std {s} is not a positive number"));
        }
        if kind == AugmenterKind::AffineColor && channels != 1 && channels != 3 {
            return invalid(format!(
                "colour operations need 1 or 3 channels, the images have {channels}"
            ));
        }
        if let Some(b) = bound.filter(|b| !(b.is_finite() && *b > 0.0)) {
            return invalid(format!("bound {b} is not a positive number"));
        }
        Ok(Self {
            kind,
            variant: AugmenterVariant::Reference,
            channels,
            mean,
            std,
            bound,
        })
    }

    /// The same augmenter with the network of `variant` (a new one is the `reference`).
    pub fn with_variant(mut self, variant: AugmenterVariant) -> Self {
        self.variant = variant;
        self
    }

    /// The kind.
    pub fn kind(&self) -> AugmenterKind {
        self.kind
    }

    /// The variant.
    pub fn variant(&self) -> AugmenterVariant {
        self.variant
    }

    /// The network's output width: one value per transformation parameter, two (mean and
    /// spread) under the spread variants.
    fn output_width(&self) -> i64 {
        let outputs = self.kind.widths()[3];
        match self.variant.spread_shift() {
            None => outputs,
            Some(_) => 2 * outputs,
        }
    }

    /// Image channels.
    pub fn channels(&self) -> i64 {
        self.channels
    }

    /// Dimension of the noise z.
    pub fn noise_dim(&self) -> i64 {
        self.kind.widths()[0]
    }

    /// The columns of [`Augmented::transform`]: the affine matrix entries, then (for
    /// `affine_color`) the colour parameters.
    pub fn transform_params(&self) -> &'static [TransformParam] {
        match self.kind {
            AugmenterKind::AffineColor => &TransformParam::ALL,
            AugmenterKind::SmallAffine(_) => TransformParam::AFFINE,
        }
    }

    /// Names of the columns of [`Augmented::transform`].
    pub fn transform_names(&self) -> Vec<&'static str> {
        self.transform_params().iter().map(|p| p.name()).collect()
    }

    /// Fresh weights θ drawn from `seed`: PyTorch's default initialisation, except the
    /// spread variants' output layer (small weights, zero bias: identity-centred means, spreads
    /// in the middle of their range under `spread`, near their floor under `narrow`).
    pub fn init(&self, seed: u64, kind: Kind, device: Device) -> NnResult<ParamSet> {
        let mut net = NetBuilder::new(seed, kind, device);
        let w = self.kind.widths();
        let [l1, l2, l3] = self.kind.layer_names();
        net.linear(l1, w[0], w[1])?;
        net.linear(l2, w[1], w[2])?;
        match self.variant.spread_shift() {
            None => net.linear(l3, w[2], w[3])?,
            Some(_) => net.linear_head(l3, w[2], self.output_width(), SPREAD_HEAD_INIT_SCALE)?,
        }
        if self.variant.has_gate() {
            let p0 = PRIOR_APPLY_PROB;
            net.constant_param(GATE_LOGIT, &[1], (p0 / (1.0 - p0)).ln())?;
        }
        Ok(net.finish().0)
    }

    /// The weights of the prior q₀ itself: [`Self::init`] with the output layer zeroed, so that
    /// every image's means are the identity and its spreads σ₀ whatever the noise (the `broad`
    /// variant only: the others have no prior).
    pub fn prior_weights(&self, seed: u64, kind: Kind, device: Device) -> NnResult<ParamSet> {
        if !self.variant.has_gate() {
            return Err(NnError::InvalidConfig(format!(
                "the {} variant has no prior to sample; only broad has one",
                self.variant
            )));
        }
        let theta = self.init(seed, kind, device)?;
        let [_, _, l3] = self.kind.layer_names();
        let _no_grad = tch::no_grad_guard();
        for suffix in ["weight", "bias"] {
            let _ = theta
                .get(&format!("{l3}.{suffix}"))?
                .shallow_clone()
                .f_zero_()?;
        }
        Ok(theta)
    }

    /// Draws the randomness for a batch of `n`: noise, dropout masks when `dropout`, and the
    /// colour order. Training uses dropout; so does serving by default (see ALGORITHM.md).
    pub fn sample_noise(
        &self,
        n: i64,
        rng: &mut StdRng,
        dropout: bool,
        (kind, device): (Kind, Device),
    ) -> NnResult<AugmentNoise> {
        let w = self.kind.widths();
        let mut draw = |cols: i64, f: &mut dyn FnMut(&mut StdRng) -> f64| -> NnResult<Tensor> {
            let values: Vec<f64> = (0..n * cols).map(|_| f(rng)).collect();
            Ok(Tensor::from_slice(&values)
                .f_view([n, cols])?
                .f_to_kind(kind)?
                .f_to_device(device)?)
        };
        let z = draw(w[0], &mut |r| r.random_range(-1.0..1.0))?;
        let keep = 1.0 - DROPOUT;
        let mut mask = |r: &mut StdRng| if r.random_bool(keep) { 1.0 / keep } else { 0.0 };
        let dropout = if dropout {
            Some([draw(w[1], &mut mask)?, draw(w[2], &mut mask)?])
        } else {
            None
        };
        let root3 = 3f64.sqrt();
        let spread = match self.variant.spread_shift() {
            None => None,
            Some(_) => Some(draw(w[3], &mut |r| r.random_range(-root3..root3))?),
        };
        let gate = if self.variant.has_gate() {
            Some(draw(1, &mut |r| {
                let u: f64 = r.random_range(f64::EPSILON..1.0);
                u.ln() - (1.0 - u).ln()
            })?)
        } else {
            None
        };
        let mut color_order = Vec::new();
        if self.kind == AugmenterKind::AffineColor {
            color_order = ColorOp::applicable(self.channels).to_vec();
            color_order.shuffle(rng);
        }
        Ok(AugmentNoise {
            z,
            dropout,
            color_order,
            spread,
            gate,
        })
    }

    /// The network's raw output for the noise.
    fn network(&self, theta: &ParamSet, noise: &AugmentNoise) -> NnResult<Tensor> {
        let [l1, l2, l3] = self.kind.layer_names();
        let linear = |x: &Tensor, name: &str| -> NnResult<Tensor> {
            let weight = theta.get(&format!("{name}.weight"))?;
            let bias = theta.get(&format!("{name}.bias"))?;
            Ok(x.f_linear(weight, Some(bias))?)
        };
        let masked = |x: Tensor, i: usize| -> NnResult<Tensor> {
            Ok(match &noise.dropout {
                Some(masks) => x.f_mul(&masks[i])?,
                None => x,
            })
        };
        let activate = |x: Tensor| -> NnResult<Tensor> {
            Ok(match self.variant.spread_shift() {
                None => x.f_relu()?,
                Some(_) => x.f_maximum(&x.f_mul_scalar(LEAKY_SLOPE)?)?,
            })
        };
        let h = masked(activate(linear(&noise.z, l1)?)?, 0)?;
        let h = masked(activate(linear(&h, l2)?)?, 1)?;
        linear(&h, l3)
    }

    /// Under the spread variants, the mean and spread [B, P] of every parameter for the noise,
    /// with the apply probability of the variants that have a gate (1 otherwise).
    fn moments(&self, theta: &ParamSet, noise: &AugmentNoise) -> NnResult<SpreadMoments> {
        let Some(shift) = self.variant.spread_shift() else {
            return Err(NnError::InvalidConfig(
                "the reference variant outputs no mean and spread".into(),
            ));
        };
        let params = self.kind.outputs();
        let ranges: Vec<_> = params
            .iter()
            .filter_map(|p| self.variant.range(*p))
            .collect();
        let out = self.network(theta, noise)?;
        let (mean, std) = spread_moments(&out, &ranges, shift)?;
        let apply_prob = if self.variant.has_gate() {
            theta.get(GATE_LOGIT)?.f_sigmoid()?.f_sum(out.kind())?
        } else {
            Tensor::f_ones([], (out.kind(), out.device()))?
        };
        Ok(SpreadMoments {
            mean,
            std,
            apply_prob,
            prior_std: params.iter().map(|p| prior_std(*p)).collect(),
        })
    }

    /// Transformation parameters [B, P] for the noise, with the moments they were sampled
    /// from under the spread variants.
    fn parameters(
        &self,
        theta: &ParamSet,
        noise: &AugmentNoise,
    ) -> NnResult<(Tensor, Option<SpreadMoments>)> {
        if self.variant.spread_shift().is_none() {
            let out = self.network(theta, noise)?;
            let params = match self.kind {
                AugmenterKind::AffineColor => out.f_tanh()?,
                AugmenterKind::SmallAffine(_) => out,
            };
            return Ok((params, None));
        }
        let missing = |what: &str| {
            NnError::InvalidConfig(format!(
                "the {} variant needs the {what} noise of its own sample_noise",
                self.variant
            ))
        };
        let eps = noise.spread.as_ref().ok_or_else(|| missing("spread"))?;
        let moments = self.moments(theta, noise)?;
        let params = moments.mean.f_add(&moments.std.f_mul(eps)?)?;
        if !self.variant.has_gate() {
            return Ok((params, Some(moments)));
        }
        // A relaxed Bernoulli(p) per image: the offsets from the identity shrink toward zero
        // (the image left as it is) as the gate closes, and the gradient reaches p's logit.
        let logistic = noise.gate.as_ref().ok_or_else(|| missing("gate"))?;
        let gate = theta
            .get(GATE_LOGIT)?
            .f_add(logistic)?
            .f_div_scalar(GATE_TEMPERATURE)?
            .f_sigmoid()?;
        Ok((params.f_mul(&gate)?, Some(moments)))
    }

    fn channel_view(&self, values: &[f64], like: &Tensor) -> NnResult<Tensor> {
        Ok(Tensor::from_slice(values)
            .f_view([1, self.channels, 1, 1])?
            .f_to_kind(like.kind())?
            .f_to_device(like.device())?)
    }

    /// Augments a standardized batch `x` [B, C, H, W] with weights θ and the given noise.
    pub fn forward(
        &self,
        theta: &ParamSet,
        x: &Tensor,
        noise: &AugmentNoise,
    ) -> NnResult<Augmented> {
        let shape = x.size();
        let batch = noise.z.size()[0];
        if shape.len() != 4 || shape[1] != self.channels || shape[0] != batch {
            return Err(NnError::BadInput {
                network: "augmenter",
                shape,
                expected: format!("[{batch}, {}, height, width]", self.channels),
            });
        }
        let (params, moments) = self.parameters(theta, noise)?;
        let (matrix, color) = match (self.kind, self.variant.spread_shift()) {
            (AugmenterKind::SmallAffine(v), None) => (variant_matrix(v, &params)?, None),
            (AugmenterKind::SmallAffine(v), Some(_)) => (spread_matrix(v, &params)?, None),
            (AugmenterKind::AffineColor, _) => (
                offset_matrix(&params.f_narrow(1, 0, 6)?.f_view([batch, 2, 3])?)?,
                Some(params.f_narrow(1, 6, 4)?),
            ),
        };
        let padding = match self.variant.spread_shift() {
            None => Padding::Zeros,
            Some(_) => Padding::Border,
        };
        let matrix = match self.bound {
            Some(b) => bound_matrix(&matrix, b)?,
            None => matrix,
        };
        let mean = self.channel_view(&self.mean, x)?;
        let std = self.channel_view(&self.std, x)?;
        // Multiplying by std makes 0 the mean colour, so zero padding fills with the mean.
        let warped = warp(&x.f_mul(&std)?, &matrix, padding)?;
        let images = match &color {
            None => warped.f_div(&std)?,
            Some(c) => {
                let mut img = warped.f_add(&mean)?;
                for op in &noise.color_order {
                    img = op.apply(&img, &c.f_select(1, op.param_index())?)?;
                }
                img.f_sub(&mean)?.f_div(&std)?
            }
        };
        let flat = matrix.f_detach()?.f_view([batch, 6])?;
        let transform = match color {
            None => flat,
            Some(c) => Tensor::f_cat(&[flat, c.f_detach()?], 1)?,
        };
        Ok(Augmented {
            images,
            transform,
            moments,
        })
    }
}

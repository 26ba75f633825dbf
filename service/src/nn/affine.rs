//! The affine part of the augmenters: from the network's raw outputs to 2×3 matrices (per
//! variant, as the reference builds them), the optional bound, and the differentiable warp
//! (affine grid + bilinear sampling, align_corners = true, zero or border padding).
use tch::{Device, Kind, Tensor};

use super::error::NnResult;

/// Which transformation a `small_affine` augmenter learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffineVariant {
    /// 2 outputs, tanh, written into the translation column of the identity.
    Translation,
    /// 2 outputs written on the diagonal (the reference writes them, it does not add them).
    Scale,
    /// 4 outputs written into the 2×2 linear block.
    Rotation,
    /// 6 outputs, reshaped 2×3 and added to the identity.
    Affine,
}

impl AffineVariant {
    /// Number of network outputs the variant needs.
    pub fn outputs(self) -> i64 {
        match self {
            Self::Translation | Self::Scale => 2,
            Self::Rotation => 4,
            Self::Affine => 6,
        }
    }

    /// The variant's name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Translation => "translation",
            Self::Scale => "scale",
            Self::Rotation => "rotation",
            Self::Affine => "affine",
        }
    }
}

/// The identity [[1,0,0],[0,1,0]] repeated for a batch of `n`.
fn identity(n: i64, kind: Kind, device: Device) -> NnResult<Tensor> {
    let eye = Tensor::f_eye_m(2, 3, (kind, device))?;
    Ok(eye.f_unsqueeze(0)?.f_expand([n, 2, 3], false)?)
}

/// Matrices [B, 2, 3] from raw outputs [B, P] of a `small_affine` network.
pub fn variant_matrix(variant: AffineVariant, raw: &Tensor) -> NnResult<Tensor> {
    let n = raw.size()[0];
    let zeros_col = Tensor::f_zeros([n, 2, 1], (raw.kind(), raw.device()))?;
    Ok(match variant {
        AffineVariant::Affine => offset_matrix(&raw.f_view([n, 2, 3])?)?,
        AffineVariant::Translation => {
            let linear = Tensor::f_eye(2, (raw.kind(), raw.device()))?
                .f_unsqueeze(0)?
                .f_expand([n, 2, 2], false)?;
            Tensor::f_cat(&[linear, raw.f_tanh()?.f_unsqueeze(-1)?], 2)?
        }
        AffineVariant::Scale => Tensor::f_cat(&[raw.f_diag_embed(0, -2, -1)?, zeros_col], 2)?,
        AffineVariant::Rotation => Tensor::f_cat(&[raw.f_view([n, 2, 2])?, zeros_col], 2)?,
    })
}

/// Identity + offsets [B, 2, 3].
pub fn offset_matrix(offsets: &Tensor) -> NnResult<Tensor> {
    let n = offsets.size()[0];
    Ok(offsets.f_add(&identity(n, offsets.kind(), offsets.device())?)?)
}

/// Softly limits each matrix entry to within `bound` of the identity: I + b·tanh((A − I)/b).
/// Smooth, so gradients still flow; off by default, as in the method.
pub fn bound_matrix(matrix: &Tensor, bound: f64) -> NnResult<Tensor> {
    let n = matrix.size()[0];
    let eye = identity(n, matrix.kind(), matrix.device())?;
    let deviation = matrix.f_sub(&eye)?.f_div_scalar(bound)?.f_tanh()?;
    Ok(eye.f_add(&deviation.f_mul_scalar(bound)?)?)
}

/// What a warp samples outside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// 0 (the reference; the augmenters warp mean-centred images, so 0 is the mean colour).
    Zeros,
    /// The nearest border pixel (the `spread` variant).
    Border,
}

/// Warps `x` [B, C, H, W] by `matrix` [B, 2, 3] (output pixel p samples input at A·p in
/// normalized coordinates), filling outside the image as `padding` says.
pub fn warp(x: &Tensor, matrix: &Tensor, padding: Padding) -> NnResult<Tensor> {
    let grid = Tensor::f_affine_grid_generator(matrix, x.size(), true)?;
    // grid_sampler: interpolation 0 = bilinear; padding 0 = zeros, 1 = border.
    let mode = match padding {
        Padding::Zeros => 0,
        Padding::Border => 1,
    };
    Ok(x.f_grid_sampler(&grid, 0, mode, true)?)
}

/// Matrices [B, 2, 3] from the `spread` variant's parameters [B, P] of a `small_affine`
/// network, every one an offset from the identity: the translation column, the diagonal, the
/// 2×2 block or the whole matrix.
pub fn spread_matrix(variant: AffineVariant, offsets: &Tensor) -> NnResult<Tensor> {
    let n = offsets.size()[0];
    let zeros = |cols: i64| Tensor::f_zeros([n, cols], (offsets.kind(), offsets.device()));
    let full = match variant {
        AffineVariant::Affine => offsets.shallow_clone(),
        AffineVariant::Translation => {
            let z = zeros(1)?;
            Tensor::f_cat(
                &[
                    &z,
                    &z,
                    &offsets.f_narrow(1, 0, 1)?,
                    &z,
                    &z,
                    &offsets.f_narrow(1, 1, 1)?,
                ],
                1,
            )?
        }
        AffineVariant::Scale => {
            let z = zeros(1)?;
            Tensor::f_cat(
                &[
                    &offsets.f_narrow(1, 0, 1)?,
                    &z,
                    &z,
                    &z,
                    &offsets.f_narrow(1, 1, 1)?,
                    &z,
                ],
                1,
            )?
        }
        AffineVariant::Rotation => {
            let z = zeros(1)?;
            Tensor::f_cat(
                &[
                    &offsets.f_narrow(1, 0, 2)?,
                    &z,
                    &offsets.f_narrow(1, 2, 2)?,
                    &z,
                ],
                1,
            )?
        }
    };
    offset_matrix(&full.f_view([n, 2, 3])?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
    }

    #[test]
    fn variants_build_the_reference_matrices() {
        let raw = Tensor::from_slice(&[0.5f64, -0.25]).view([1, 2]);
        let t = values(&variant_matrix(AffineVariant::Translation, &raw).unwrap());
        // libtorch's vectorized tanh may differ from the C library's in the last place.
        let expected = [1.0, 0.0, 0.5f64.tanh(), 0.0, 1.0, (-0.25f64).tanh()];
        assert!(
            t.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15),
            "{t:?} vs {expected:?}"
        );
        let s = values(&variant_matrix(AffineVariant::Scale, &raw).unwrap());
        assert_eq!(s, vec![0.5, 0.0, 0.0, 0.0, -0.25, 0.0]);
        let raw4 = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]).view([1, 4]);
        let r = values(&variant_matrix(AffineVariant::Rotation, &raw4).unwrap());
        assert_eq!(r, vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0]);
        let raw6 = Tensor::from_slice(&[0.1f64, 0.2, 0.3, 0.4, 0.5, 0.6]).view([1, 6]);
        let a = values(&variant_matrix(AffineVariant::Affine, &raw6).unwrap());
        assert_eq!(a, vec![1.1, 0.2, 0.3, 0.4, 1.5, 0.6]);
    }

    #[test]
    fn bound_limits_deviation_smoothly() {
        let m = offset_matrix(
            &Tensor::from_slice(&[5.0f64, 0.0, -5.0, 0.01, 0.0, 0.0]).view([1, 2, 3]),
        )
        .unwrap();
        let b = values(&bound_matrix(&m, 0.5).unwrap());
        assert!(b[0] < 1.5 && b[0] > 1.49, "{b:?}");
        assert!(b[2] > -0.5 && b[2] < -0.49, "{b:?}");
        assert!(
            (b[3] - 0.01).abs() < 1e-5,
            "small offsets pass nearly unchanged: {b:?}"
        );
    }

    #[test]
    fn spread_matrices_offset_the_identity() {
        let two = Tensor::from_slice(&[0.1f64, -0.2]).view([1, 2]);
        let t = values(&spread_matrix(AffineVariant::Translation, &two).unwrap());
        assert_eq!(t, vec![1.0, 0.0, 0.1, 0.0, 1.0, -0.2]);
        let s = values(&spread_matrix(AffineVariant::Scale, &two).unwrap());
        assert_eq!(s, vec![1.1, 0.0, 0.0, 0.0, 0.8, 0.0]);
        let four = Tensor::from_slice(&[0.1f64, 0.2, 0.3, 0.4]).view([1, 4]);
        let r = values(&spread_matrix(AffineVariant::Rotation, &four).unwrap());
        assert_eq!(r, vec![1.1, 0.2, 0.0, 0.3, 1.4, 0.0]);
        let six = Tensor::from_slice(&[0.1f64, 0.2, 0.3, 0.4, 0.5, 0.6]).view([1, 6]);
        let a = values(&spread_matrix(AffineVariant::Affine, &six).unwrap());
        assert_eq!(a, vec![1.1, 0.2, 0.3, 0.4, 1.5, 0.6]);
    }

    #[test]
    fn border_padding_repeats_the_edge() {
        let x = Tensor::arange(16, (Kind::Double, Device::Cpu)).view([1, 1, 4, 4]);
        // One pixel to the right: the last column repeats the edge instead of 0.
        let m = Tensor::from_slice(&[1.0f64, 0.0, 2.0 / 3.0, 0.0, 1.0, 0.0]).view([1, 2, 3]);
        let shifted = values(&warp(&x, &m, Padding::Border).unwrap());
        assert!((shifted[2] - 3.0).abs() < 1e-9, "{shifted:?}");
        assert!((shifted[3] - 3.0).abs() < 1e-9, "{shifted:?}");
    }

    #[test]
    fn warp_identity_and_translation() {
        let x = Tensor::arange(16, (Kind::Double, Device::Cpu)).view([1, 1, 4, 4]);
        let same = warp(
            &x,
            &identity(1, Kind::Double, Device::Cpu).unwrap(),
            Padding::Zeros,
        )
        .unwrap();
        assert!((same - &x).abs().max().double_value(&[]) < 1e-12);
        // With align_corners, a shift of 2/3 in normalized x is one pixel on a 4-wide image:
        // output column j samples input column j+1, and the last column falls outside (0).
        let m = Tensor::from_slice(&[1.0f64, 0.0, 2.0 / 3.0, 0.0, 1.0, 0.0]).view([1, 2, 3]);
        let shifted = values(&warp(&x, &m, Padding::Zeros).unwrap());
        assert!((shifted[0] - 1.0).abs() < 1e-9 && (shifted[2] - 3.0).abs() < 1e-9);
        assert!(shifted[3].abs() < 1e-9, "{shifted:?}");
    }
}

//! Differentiable colour operations of the `affine_color` augmenter, on images in [0, 1]:
//! brightness, additive shift, saturation and hue (the last two through HSV). Each result is
//! clamped to [0, 1], as in the reference.
//!
//! The HSV conversion follows kornia's formulas that the reference vendored, with one
//! deliberate difference: the reference's `hsv_to_rgb` fills its output sector by sector in
//! place, so a channel value of exactly 1.0 written for sector 0 is overwritten by sector 1's
//! formula. Here each sector is selected with a gather, which gives the textbook conversion.
use tch::Tensor;

use super::error::NnResult;

/// Guards the divisions of the RGB→HSV conversion (the reference's value).
const EPS: f64 = 1e-7;

/// One colour operation; the augmenter applies them in a random order drawn per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorOp {
    /// `img·(1 + c0)`.
    Brightness,
    /// `img + c1` (the reference calls it "contrast").
    Shift,
    /// `S·(1 + c2)` in HSV.
    Saturation,
    /// `H·(1 + 0.5·c3)` in HSV.
    Hue,
}

impl ColorOp {
    /// The operations that apply to an image with `channels` channels, in canonical order.
    pub fn applicable(channels: i64) -> &'static [ColorOp] {
        if channels == 3 {
            &[Self::Brightness, Self::Shift, Self::Saturation, Self::Hue]
        } else {
            &[Self::Brightness, Self::Shift]
        }
    }

    /// Index of this operation's parameter among c0..c3.
    pub fn param_index(self) -> i64 {
        match self {
            Self::Brightness => 0,
            Self::Shift => 1,
            Self::Saturation => 2,
            Self::Hue => 3,
        }
    }

    /// Applies the operation with per-sample parameter `c` [B] to `img` [B, C, H, W].
    pub fn apply(self, img: &Tensor, c: &Tensor) -> NnResult<Tensor> {
        let c = c.f_view([-1, 1, 1, 1])?;
        Ok(match self {
            Self::Brightness => img.f_mul(&(c.f_add_scalar(1.0)?))?.f_clamp(0.0, 1.0)?,
            Self::Shift => img.f_add(&c)?.f_clamp(0.0, 1.0)?,
            Self::Saturation => {
                let hsv = rgb_to_hsv(img)?;
                let s = hsv.f_narrow(1, 1, 1)?;
                let s = s.f_mul(&c.f_add_scalar(1.0)?)?.f_clamp(0.0, 1.0)?;
                let hsv = Tensor::f_cat(&[hsv.f_narrow(1, 0, 1)?, s, hsv.f_narrow(1, 2, 1)?], 1)?;
                hsv_to_rgb(&hsv)?
            }
            Self::Hue => {
                let hsv = rgb_to_hsv(img)?;
                let h = hsv.f_narrow(1, 0, 1)?;
                let h = h.f_mul(&c.f_mul_scalar(0.5)?.f_add_scalar(1.0)?)?;
                let h = h.f_clamp(0.0, 1.0)?;
                let hsv = Tensor::f_cat(&[h, hsv.f_narrow(1, 1, 2)?], 1)?;
                hsv_to_rgb(&hsv)?
            }
        })
    }
}

/// RGB [B, 3, H, W] in [0, 1] → HSV with every component in [0, 1].
pub fn rgb_to_hsv(img: &Tensor) -> NnResult<Tensor> {
    let r = img.f_select(1, 0)?;
    let g = img.f_select(1, 1)?;
    let b = img.f_select(1, 2)?;
    // `max(dim)` routes the gradient to one arg-max channel, as torch.max(dim) does.
    let (maxc, _) = img.f_max_dim(1, false)?;
    let (minc, _) = img.f_min_dim(1, false)?;
    let delta = maxc.f_sub(&minc)?;
    let s = delta.f_div(&maxc.f_add_scalar(EPS)?)?;
    let denom = delta.f_add_scalar(EPS)?;
    let rc = maxc.f_sub(&r)?.f_div(&denom)?;
    let gc = maxc.f_sub(&g)?.f_div(&denom)?;
    let bc = maxc.f_sub(&b)?.f_div(&denom)?;
    let h = gc.f_sub(&rc)?.f_add_scalar(4.0)?;
    let h = rc
        .f_sub(&bc)?
        .f_add_scalar(2.0)?
        .f_where_self(&g.f_eq_tensor(&maxc)?, &h)?;
    let h = bc.f_sub(&gc)?.f_where_self(&r.f_eq_tensor(&maxc)?, &h)?;
    let h = h
        .f_zeros_like()?
        .f_where_self(&minc.f_eq_tensor(&maxc)?, &h)?;
    let h = h.f_div_scalar(6.0)?.f_remainder(1.0)?;
    Ok(Tensor::f_stack(&[h, s, maxc], 1)?)
}

/// HSV [B, 3, H, W] (components in [0, 1]) → RGB in [0, 1].
pub fn hsv_to_rgb(hsv: &Tensor) -> NnResult<Tensor> {
    let h = hsv.f_select(1, 0)?;
    let s = hsv.f_select(1, 1)?;
    let v = hsv.f_select(1, 2)?;
    let h6 = h.f_mul_scalar(6.0)?;
    let hi = h6.f_floor()?;
    let f = h6.f_sub(&hi)?;
    let one = |t: &Tensor| t.f_neg().and_then(|n| n.f_add_scalar(1.0));
    let p = v.f_mul(&one(&s)?)?;
    let q = v.f_mul(&one(&f.f_mul(&s)?)?)?;
    let t = v.f_mul(&one(&one(&f)?.f_mul(&s)?)?)?;
    let sector = hi
        .f_remainder(6.0)?
        .f_to_kind(tch::Kind::Int64)?
        .f_unsqueeze(0)?;
    let pick = |candidates: [&Tensor; 6]| -> NnResult<Tensor> {
        let stacked = Tensor::f_stack(&candidates, 0)?;
        Ok(stacked.f_gather(0, &sector, false)?.f_squeeze_dim(0)?)
    };
    let red = pick([&v, &q, &p, &p, &t, &v])?;
    let green = pick([&t, &v, &v, &q, &p, &p])?;
    let blue = pick([&p, &p, &t, &v, &v, &q])?;
    Ok(Tensor::f_stack(&[red, green, blue], 1)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tch::{Device, Kind};

    fn pixel(rgb: [f64; 3]) -> Tensor {
        Tensor::from_slice(&rgb).view([1, 3, 1, 1])
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.flatten(0, -1)).unwrap()
    }

    #[test]
    fn hsv_of_known_colours() {
        let cases = [
            ([1.0, 0.0, 0.0], [0.0, 1.0, 1.0]),
            ([0.0, 1.0, 0.0], [1.0 / 3.0, 1.0, 1.0]),
            ([0.0, 0.0, 0.5], [2.0 / 3.0, 1.0, 0.5]),
            ([0.5, 0.5, 0.5], [0.0, 0.0, 0.5]),
            ([1.0, 0.5, 0.0], [1.0 / 12.0, 1.0, 1.0]),
        ];
        for (rgb, hsv) in cases {
            let got = values(&rgb_to_hsv(&pixel(rgb)).unwrap());
            for (g, w) in got.iter().zip(hsv) {
                assert!((g - w).abs() < 1e-6, "{rgb:?}: {got:?} vs {hsv:?}");
            }
        }
    }

    #[test]
    fn hsv_round_trip_including_saturated_channels() {
        let img = Tensor::rand([4, 3, 5, 5], (Kind::Double, Device::Cpu));
        // Pure maxima (1.0) in sector 0 are where the reference's in-place version goes wrong.
        let img = img
            .clamp(0.0, 1.0)
            .index_fill(1, &Tensor::from_slice(&[0i64]), 1.0);
        let back = hsv_to_rgb(&rgb_to_hsv(&img).unwrap()).unwrap();
        let err = (back - &img).abs().max().double_value(&[]);
        assert!(err < 1e-5, "round-trip error {err}");
    }

    #[test]
    fn operations_match_their_formulas_and_clamp() {
        let img = pixel([0.2, 0.4, 0.8]);
        let c = Tensor::from_slice(&[0.5f64]);
        let bright = values(&ColorOp::Brightness.apply(&img, &c).unwrap());
        assert_eq!(bright, vec![0.30000000000000004, 0.6000000000000001, 1.0]);
        let shifted = values(&ColorOp::Shift.apply(&img, &c).unwrap());
        assert_eq!(shifted, vec![0.7, 0.9, 1.0]);
        // Saturation 0.75 → 1.0 (clamped) keeps hue and value: min channel goes to 0.
        let sat = values(&ColorOp::Saturation.apply(&img, &c).unwrap());
        assert!(
            (sat[0]).abs() < 1e-6 && (sat[2] - 0.8).abs() < 1e-6,
            "{sat:?}"
        );
        // Hue 0.6111 → ×1.25 = 0.7639: a violet with the same S and V.
        let hue = rgb_to_hsv(&ColorOp::Hue.apply(&img, &c).unwrap()).unwrap();
        let hue = values(&hue);
        assert!((hue[0] - 0.611_111_1 * 1.25).abs() < 1e-5, "{hue:?}");
        assert!((hue[1] - 0.75).abs() < 1e-5 && (hue[2] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn gradients_flow_through_hsv() {
        let img = Tensor::rand([2, 3, 4, 4], (Kind::Double, Device::Cpu));
        let c = Tensor::from_slice(&[0.3f64, -0.2]).set_requires_grad(true);
        let out = ColorOp::Saturation.apply(&img, &c).unwrap();
        let grads = Tensor::run_backward(&[out.sum(Kind::Double)], &[&c], false, false);
        assert!(grads[0].abs().sum(Kind::Double).double_value(&[]) > 0.0);
    }
}

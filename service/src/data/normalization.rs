//! Per-channel standardization statistics: the published constants of the common data-sets and
//! the exact statistics of any image set.
use super::dataset::ImageSet;
use super::error::DataError;

/// Per-channel mean and standard deviation in [0, 1] pixel units; a batch is standardized as
/// `(pixel/255 − mean) / std`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Mean of each channel.
    pub mean: Vec<f64>,
    /// Standard deviation of each channel.
    pub std: Vec<f64>,
}

impl Normalization {
    /// CIFAR-10's statistics as the reference code base uses them.
    pub fn cifar10() -> Self {
        Self::from_pixel_units(&[125.3, 123.0, 113.9], &[63.0, 62.1, 66.7])
    }

    /// CIFAR-100's statistics.
    pub fn cifar100() -> Self {
        Self::from_pixel_units(&[129.3, 124.1, 112.4], &[68.2, 65.4, 70.4])
    }

    /// MNIST's statistics.
    pub fn mnist() -> Self {
        Self {
            mean: vec![0.1307],
            std: vec![0.3081],
        }
    }

    /// Fashion-MNIST's statistics.
    pub fn fashion_mnist() -> Self {
        Self {
            mean: vec![0.2860],
            std: vec![0.3530],
        }
    }

    /// Mean 0 and std 1 on every channel: pixels are only scaled to [0, 1].
    pub fn identity(channels: usize) -> Self {
        Self {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// Number of channels described.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    fn broadcast(values: &[f64], like: &tch::Tensor) -> Result<tch::Tensor, tch::TchError> {
        tch::Tensor::from_slice(values)
            .f_view([1, values.len() as i64, 1, 1])?
            .f_to_kind(like.kind())?
            .f_to_device(like.device())
    }

    /// Standardizes images in [0, 1], [N, C, H, W]: `(x − mean) / std`.
    pub fn standardize(&self, unit: &tch::Tensor) -> Result<tch::Tensor, DataError> {
        let mean = Self::broadcast(&self.mean, unit).map_err(DataError::tensor("standardizing"))?;
        let std = Self::broadcast(&self.std, unit).map_err(DataError::tensor("standardizing"))?;
        unit.f_sub(&mean)
            .and_then(|x| x.f_div(&std))
            .map_err(DataError::tensor("standardizing"))
    }

    /// Back to [0, 1] pixel units (not clamped): `x·std + mean`, [N, C, H, W].
    pub fn unstandardize(&self, standardized: &tch::Tensor) -> Result<tch::Tensor, DataError> {
        let context = "unstandardizing";
        let mean = Self::broadcast(&self.mean, standardized).map_err(DataError::tensor(context))?;
        let std = Self::broadcast(&self.std, standardized).map_err(DataError::tensor(context))?;
        standardized
            .f_mul(&std)
            .and_then(|x| x.f_add(&mean))
            .map_err(DataError::tensor(context))
    }

    /// Checks that this describes `channels` channels with finite means and positive, finite
    /// standard deviations, so that standardizing cannot produce infinities.
    pub fn check(&self, channels: usize) -> Result<(), DataError> {
        const WHAT: &str = "normalization";
        if self.mean.len() != channels || self.std.len() != channels {
            return Err(DataError::invalid(
                WHAT,
                format!(
                    "{} means and {} standard deviations for images of {channels} channels",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if let Some(c) = self.mean.iter().position(|m| !m.is_finite()) {
            return Err(DataError::invalid(
                WHAT,
                format!("mean of channel {c} is {}", self.mean[c]),
            ));
        }
        if let Some(c) = self.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(DataError::invalid(
                WHAT,
                format!(
                    "standard deviation of channel {c} is {}, not positive",
                    self.std[c]
                ),
            ));
        }
        Ok(())
    }

    fn from_pixel_units(mean: &[f64], std: &[f64]) -> Self {
        Self {
            mean: mean.iter().map(|m| m / 255.0).collect(),
            std: std.iter().map(|s| s / 255.0).collect(),
        }
    }
}

impl ImageSet {
    /// The exact mean and population standard deviation of each channel over every pixel of the
    /// set, in [0, 1] units. Fails on an empty set, whose statistics do not exist.
    pub fn channel_stats(&self) -> Result<Normalization, DataError> {
        if self.is_empty() {
            return Err(DataError::invalid(
                "image set",
                "channel statistics of an empty set",
            ));
        }
        let shape = self.shape();
        let plane = shape.height * shape.width;
        // Integer sums are exact; u128 leaves room for any set that fits in memory.
        let mut sums = vec![0u128; shape.channels];
        let mut squares = vec![0u128; shape.channels];
        for image in self.pixels().chunks_exact(shape.numel()) {
            for (c, channel) in image.chunks_exact(plane).enumerate() {
                // One plane's sums fit a u64 (even 2048x1536x255² does), which is cheaper.
                let (sum, square) = channel.iter().fold((0u64, 0u64), |(s, q), &p| {
                    let p = u64::from(p);
                    (s + p, q + p * p)
                });
                sums[c] += u128::from(sum);
                squares[c] += u128::from(square);
            }
        }
        let n = (self.len() * plane) as u128;
        let mut mean = Vec::with_capacity(shape.channels);
        let mut std = Vec::with_capacity(shape.channels);
        for (sum, square) in sums.into_iter().zip(squares) {
            // n²·variance = n·Σp² − (Σp)², exact in integers and never negative.
            let scaled_var = n * square - sum * sum;
            mean.push(sum as f64 / n as f64 / 255.0);
            std.push((scaled_var as f64).sqrt() / n as f64 / 255.0);
        }
        Ok(Normalization { mean, std })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::data::dataset::{numbered_class_names, ImageShape};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn channel_stats_match_a_hand_computation() {
        // Two 2-channel 1x2 images. Channel 0 holds 0, 255, 51, 102; channel 1 is constant 10,
        // so its mean is 10/255 and its std 0.
        let set = ImageSet::new(
            vec![0, 255, 10, 10, 51, 102, 10, 10],
            vec![0, 0],
            ImageShape::new(2, 1, 2),
            1,
            numbered_class_names(1),
        )
        .unwrap();
        let stats = set.channel_stats().unwrap();
        // Values in [0,1]: 0, 1, 0.2, 0.4. Mean 0.4. Squares: 0, 1, 0.04, 0.16 -> mean 0.3.
        // Variance 0.3 − 0.16 = 0.14.
        assert!(close(stats.mean[0], 0.4), "{stats:?}");
        assert!(close(stats.std[0], 0.14f64.sqrt()), "{stats:?}");
        assert!(close(stats.mean[1], 10.0 / 255.0), "{stats:?}");
        assert_eq!(stats.std[1], 0.0);
    }

    #[test]
    fn constants_are_the_published_ones() {
        let c10 = Normalization::cifar10();
        assert!(close(c10.mean[0], 125.3 / 255.0) && close(c10.std[2], 66.7 / 255.0));
        let c100 = Normalization::cifar100();
        assert!(close(c100.mean[1], 124.1 / 255.0) && close(c100.std[0], 68.2 / 255.0));
        assert_eq!(Normalization::mnist().mean, vec![0.1307]);
        assert_eq!(Normalization::fashion_mnist().std, vec![0.3530]);
        assert_eq!(c10.channels(), 3);
    }

    #[test]
    fn check_rejects_wrong_channel_count_and_zero_std() {
        let err = Normalization::mnist().check(3).unwrap_err();
        assert!(
            err.to_string()
                .contains("1 means and 1 standard deviations for images of 3"),
            "{err}"
        );
        let zero = Normalization {
            mean: vec![0.5],
            std: vec![0.0],
        };
        let err = zero.check(1).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Invalid {
                    what: "normalization",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("channel 0 is 0"), "{err}");
        assert!(Normalization::identity(3).check(3).is_ok());
    }

    #[test]
    fn stats_of_an_empty_set_are_an_error() {
        let empty = ImageSet::new(
            vec![],
            vec![],
            ImageShape::new(1, 2, 2),
            1,
            numbered_class_names(1),
        )
        .unwrap();
        let err = empty.channel_stats().unwrap_err();
        assert!(err.to_string().contains("empty set"), "{err}");
    }

    #[test]
    fn standardize_and_back() {
        let norm = Normalization {
            mean: vec![0.5, 0.25],
            std: vec![0.25, 0.5],
        };
        let unit = tch::Tensor::from_slice(&[1.0f32, 0.5]).view([1, 2, 1, 1]);
        let standardized = norm.standardize(&unit).unwrap();
        let values = Vec::<f32>::try_from(standardized.flatten(0, -1)).unwrap();
        assert_eq!(values, vec![2.0, 0.5]);
        let back = norm.unstandardize(&standardized).unwrap();
        assert!(back.equal(&unit));
    }
}

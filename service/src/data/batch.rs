//! Turning images of a set into a training batch: gather, scale to [0, 1], optionally augment
//! with a baseline, standardize, erase (when the baseline has erasing), and hand over as CPU
//! tensors.
use rand::rngs::StdRng;

use super::dataset::{ImageSet, ImageShape};
use super::error::DataError;
use super::handcrafted::Baseline;
use super::normalization::Normalization;

/// A batch ready for a network: standardized images and their labels, on the CPU.
#[derive(Debug)]
pub struct Batch {
    /// `f32 [B, C, H, W]`, each channel standardized as `(pixel/255 − mean) / std`.
    pub images: tch::Tensor,
    /// `i64 [B]`, the class of each image.
    pub labels: tch::Tensor,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.size().first().map_or(0, |&n| n as usize)
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same batch on `device` (a no-op move on the device it is on).
    pub fn to_device(&self, device: tch::Device) -> Result<Batch, DataError> {
        let moving = DataError::tensor("moving a batch to its device");
        let images = self.images.f_to_device(device);
        let labels = self.labels.f_to_device(device);
        match (images, labels) {
            (Ok(images), Ok(labels)) => Ok(Batch { images, labels }),
            (Err(e), _) | (_, Err(e)) => Err(moving(e)),
        }
    }
}

/// The augmentation a batch receives before standardization.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Augment {
    pub baseline: Baseline,
    pub color_jitter: bool,
    pub crop_padding: usize,
}

impl ImageSet {
    /// The images at `indices` as one batch, without augmentation.
    pub fn to_batch(
        &self,
        indices: &[usize],
        normalization: &Normalization,
    ) -> Result<Batch, DataError> {
        normalization.check(self.shape().channels)?;
        self.check_indices(indices)?;
        build(self, indices, normalization, Augment::default(), None)
    }
}

/// The loader's pipeline on `images`, a batch of `shape` images in [0, 1] pixels, in place:
/// `augment`'s level, colour jitter and policy with parameters from `rng` (nothing without
/// one), standardization with `normalization`, then its erasing.
pub(crate) fn augment_and_standardize(
    images: &mut [f32],
    shape: ImageShape,
    normalization: &Normalization,
    augment: Augment,
    rng: Option<&mut StdRng>,
) -> Result<(), DataError> {
    let mut rng = rng;
    if let Some(rng) = rng.as_deref_mut() {
        augment.baseline.apply(
            (augment.color_jitter, augment.crop_padding),
            images,
            shape,
            rng,
        )?;
    }
    let plane = shape.height * shape.width;
    for image in images.chunks_exact_mut(shape.numel()) {
        for (c, channel) in image.chunks_exact_mut(plane).enumerate() {
            let (mean, std) = (normalization.mean[c] as f32, normalization.std[c] as f32);
            channel.iter_mut().for_each(|v| *v = (*v - mean) / std);
        }
    }
    if let Some(rng) = rng {
        augment.baseline.apply_standardized(images, shape, rng);
    }
    Ok(())
}

/// The batch of `indices`, augmented with parameters from `rng` (none needed when `augment`
/// does nothing). Indices and normalization must have been checked.
pub(crate) fn build(
    set: &ImageSet,
    indices: &[usize],
    normalization: &Normalization,
    augment: Augment,
    rng: Option<&mut StdRng>,
) -> Result<Batch, DataError> {
    if indices.is_empty() {
        return Err(DataError::invalid("batch", "no image indices"));
    }
    let shape = set.shape();
    let mut images: Vec<f32> = Vec::with_capacity(indices.len() * shape.numel());
    for &i in indices {
        images.extend(set.image(i).iter().map(|&p| f32::from(p) / 255.0));
    }
    augment_and_standardize(&mut images, shape, normalization, augment, rng)?;
    let labels: Vec<i64> = indices.iter().map(|&i| set.labels()[i]).collect();
    let dims = [
        indices.len() as i64,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    ];
    let ctx = "creating batch tensors";
    Ok(Batch {
        images: tch::Tensor::f_from_slice(&images)
            .and_then(|t| t.f_view(dims))
            .map_err(DataError::tensor(ctx))?,
        labels: tch::Tensor::f_from_slice(&labels).map_err(DataError::tensor(ctx))?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::data::dataset::{numbered_class_names, ImageShape};

    #[test]
    fn to_batch_standardizes_each_channel() {
        // Two 2-channel 1x2 images.
        let set = ImageSet::new(
            vec![51, 102, 0, 255, 255, 0, 153, 204],
            vec![1, 0],
            ImageShape::new(2, 1, 2),
            2,
            numbered_class_names(2),
        )
        .unwrap();
        let norm = Normalization {
            mean: vec![0.1, 0.5],
            std: vec![0.5, 0.25],
        };
        let batch = set.to_batch(&[1, 0], &norm).unwrap();
        assert_eq!(batch.images.size(), vec![2, 2, 1, 2]);
        assert_eq!(batch.images.kind(), tch::Kind::Float);
        assert_eq!(batch.labels.kind(), tch::Kind::Int64);
        assert_eq!(batch.len(), 2);
        let values = Vec::<f32>::try_from(&batch.images.flatten(0, -1)).unwrap();
        // Image 1 first: channel 0 (1.0, 0.0) -> (1.8, -0.2); channel 1 (0.6, 0.8) -> (0.4, 1.2).
        // Then image 0: channel 0 (0.2, 0.4) -> (0.2, 0.6); channel 1 (0, 1) -> (-2, 2).
        let expected = [1.8, -0.2, 0.4, 1.2, 0.2, 0.6, -2.0, 2.0];
        for (v, e) in values.iter().zip(expected) {
            assert!((v - e).abs() < 1e-6, "{values:?}");
        }
        assert_eq!(Vec::<i64>::try_from(&batch.labels).unwrap(), vec![0, 1]);
    }

    #[test]
    fn to_batch_rejects_bad_indices_and_normalization() {
        let set = ImageSet::new(
            vec![0; 4],
            vec![0, 0],
            ImageShape::new(1, 1, 2),
            1,
            numbered_class_names(1),
        )
        .unwrap();
        let err = set.to_batch(&[0, 2], &Normalization::mnist()).unwrap_err();
        assert!(
            err.to_string()
                .contains("2 is past the end of a set of 2 images"),
            "{err}"
        );
        let err = set.to_batch(&[0], &Normalization::cifar10()).unwrap_err();
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
        let err = set.to_batch(&[], &Normalization::mnist()).unwrap_err();
        assert!(err.to_string().contains("no image indices"), "{err}");
    }
}

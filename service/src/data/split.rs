//! Seeded, class-aware selections of an image set: balanced subsets and the stratified
//! train/validation split that the bilevel step needs.
//!
//! The reference code base splits with an unstratified shuffle; augmentd stratifies so that a
//! small validation split still holds every class (a documented deviation).
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::dataset::ImageSet;
use super::error::DataError;

/// The share of the training images held out for validation unless told otherwise (the
/// reference configurations hold out 20 %).
pub const DEFAULT_VAL_RATIO: f64 = 0.2;

impl ImageSet {
    /// `n_per_class` images of every class, chosen by a shuffle seeded with `seed`, in set
    /// order. Fails naming the first class that has fewer than `n_per_class` images.
    pub fn balanced_subset(&self, n_per_class: usize, seed: u64) -> Result<Self, DataError> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut chosen = Vec::with_capacity(n_per_class * self.num_classes());
        for (class, mut members) in self.indices_by_class().into_iter().enumerate() {
            if members.len() < n_per_class {
                return Err(DataError::TooFewImages {
                    class: self.class_names()[class].clone(),
                    available: members.len(),
                    requested: n_per_class,
                });
            }
            members.shuffle(&mut rng);
            chosen.extend_from_slice(&members[..n_per_class]);
        }
        chosen.sort_unstable();
        self.subset(&chosen)
    }

    /// The indices of a stratified split, `(train, validation)`, each in set order: per class, a
    /// shuffle seeded with `seed` and `round(val_ratio · count)` images to validation, at least
    /// one when the class has two images or more and `val_ratio > 0`, and never the class's
    /// last image, so that training sees every class it can.
    pub fn stratified_split_indices(
        &self,
        val_ratio: f64,
        seed: u64,
    ) -> Result<(Vec<usize>, Vec<usize>), DataError> {
        if !(0.0..1.0).contains(&val_ratio) {
            return Err(DataError::invalid(
                "validation ratio",
                format!("{val_ratio} is outside [0, 1)"),
            ));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut train = Vec::with_capacity(self.len());
        let mut val = Vec::new();
        for mut members in self.indices_by_class() {
            members.shuffle(&mut rng);
            let count = members.len();
            // The ratio lies in [0, 1), so the product is a small non-negative number.
            let mut n_val = (val_ratio * count as f64).round() as usize;
            if val_ratio > 0.0 && count >= 2 {
                n_val = n_val.max(1);
            }
            n_val = n_val.min(count.saturating_sub(1));
            val.extend_from_slice(&members[..n_val]);
            train.extend_from_slice(&members[n_val..]);
        }
        train.sort_unstable();
        val.sort_unstable();
        Ok((train, val))
    }

    /// A stratified `(train, validation)` split; see [`ImageSet::stratified_split_indices`].
    pub fn stratified_split(&self, val_ratio: f64, seed: u64) -> Result<(Self, Self), DataError> {
        let (train, val) = self.stratified_split_indices(val_ratio, seed)?;
        Ok((self.subset(&train)?, self.subset(&val)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::data::dataset::ImageShape;

    /// A set whose single pixel per image is the image's index, with class sizes `counts`.
    fn set_with_counts(counts: &[usize]) -> ImageSet {
        let labels: Vec<i64> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c as i64, n))
            .collect();
        let pixels = (0..labels.len()).map(|i| i as u8).collect();
        let names = ["cat", "dog", "owl", "eel"][..counts.len()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        ImageSet::new(
            pixels,
            labels,
            ImageShape::new(1, 1, 1),
            counts.len(),
            names,
        )
        .unwrap()
    }

    #[test]
    fn balanced_subset_takes_n_of_each_class_reproducibly() {
        let set = set_with_counts(&[10, 7, 12]);
        let a = set.balanced_subset(5, 1).unwrap();
        assert_eq!(a.class_counts(), vec![5, 5, 5]);
        // Every chosen image is a distinct original whose label matches its pixel's class.
        let mut seen: Vec<u8> = a.pixels().to_vec();
        seen.dedup();
        assert_eq!(seen.len(), 15);
        for (i, &p) in a.pixels().iter().enumerate() {
            assert_eq!(a.labels()[i], set.labels()[p as usize]);
        }
        assert_eq!(a, set.balanced_subset(5, 1).unwrap());
        assert_ne!(a.pixels(), set.balanced_subset(5, 2).unwrap().pixels());
    }

    #[test]
    fn balanced_subset_names_the_short_class() {
        let err = set_with_counts(&[10, 3, 12])
            .balanced_subset(4, 0)
            .unwrap_err();
        assert!(
            matches!(&err, DataError::TooFewImages { class, available: 3, requested: 4 } if class == "dog"),
            "{err}"
        );
        assert!(err.to_string().contains("'dog' has 3 images"), "{err}");
    }

    #[test]
    fn stratified_split_is_exact_disjoint_and_seeded() {
        let set = set_with_counts(&[10, 5, 2, 1]);
        let (train, val) = set.stratified_split_indices(0.2, 7).unwrap();
        let val_set = set.subset(&val).unwrap();
        let train_set = set.subset(&train).unwrap();
        // round(0.2·10)=2, round(0.2·5)=1, 2 images -> at least 1, 1 image -> stays in train.
        assert_eq!(val_set.class_counts(), vec![2, 1, 1, 0]);
        assert_eq!(train_set.class_counts(), vec![8, 4, 1, 1]);
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..set.len()).collect::<Vec<_>>());
        assert_eq!(
            (train.clone(), val.clone()),
            set.stratified_split_indices(0.2, 7).unwrap()
        );
        let others: Vec<_> = (0..5)
            .map(|s| set.stratified_split_indices(0.2, 100 + s).unwrap().1)
            .collect();
        assert!(
            others.iter().any(|o| *o != val),
            "five other seeds all gave {val:?}"
        );
        let (t, v) = set.stratified_split(0.2, 7).unwrap();
        assert_eq!((t, v), (train_set, val_set));
    }

    #[test]
    fn zero_ratio_keeps_everything_for_training() {
        let set = set_with_counts(&[4, 4]);
        let (train, val) = set.stratified_split_indices(0.0, 0).unwrap();
        assert_eq!(train.len(), 8);
        assert!(val.is_empty());
    }

    #[test]
    fn ratio_outside_zero_one_is_rejected() {
        let set = set_with_counts(&[4, 4]);
        for ratio in [1.0, -0.1, f64::NAN, 2.0] {
            let err = set.stratified_split(ratio, 0).unwrap_err();
            assert!(
                matches!(
                    err,
                    DataError::Invalid {
                        what: "validation ratio",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("outside [0, 1)"), "{err}");
        }
    }
}

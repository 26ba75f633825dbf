//! The in-memory labelled image set that every reader produces and every loader consumes.
//!
//! Pixels stay `u8` (a quarter of the memory of `f32`); conversion, augmentation and
//! standardization happen per batch in the loader.
use super::error::DataError;

/// The size of one image: channels, height and width (the C, H, W of NCHW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// Colour channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// A shape from its three sizes.
    pub fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Number of bytes of one image (C·H·W).
    pub fn numel(&self) -> usize {
        self.channels * self.height * self.width
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// Which half of a data-set's published split to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Train => "train",
            Self::Test => "test",
        })
    }
}

/// Labelled images held in memory: `u8` pixels in NCHW order, one `i64` label per image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pixels: Vec<u8>,
    labels: Vec<i64>,
    shape: ImageShape,
    num_classes: usize,
    class_names: Vec<String>,
}

impl ImageSet {
    /// An image set, checked: `pixels.len()` must be `labels.len()·C·H·W`, every label must lie
    /// in `0..num_classes`, and there must be one name per class.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<i64>,
        shape: ImageShape,
        num_classes: usize,
        class_names: Vec<String>,
    ) -> Result<Self, DataError> {
        const WHAT: &str = "image set";
        if shape.numel() == 0 {
            return Err(DataError::invalid(
                WHAT,
                format!("image shape {shape} is empty"),
            ));
        }
        let expected = labels.len() * shape.numel();
        if pixels.len() != expected {
            return Err(DataError::invalid(
                WHAT,
                format!(
                    "{} pixel bytes for {} images of shape {shape}, expected {expected}",
                    pixels.len(),
                    labels.len()
                ),
            ));
        }
        if num_classes == 0 {
            return Err(DataError::invalid(WHAT, "zero classes"));
        }
        if class_names.len() != num_classes {
            return Err(DataError::invalid(
                WHAT,
                format!(
                    "{} class names for {num_classes} classes",
                    class_names.len()
                ),
            ));
        }
        if let Some((index, label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| !label_in_range(l, num_classes))
        {
            return Err(DataError::invalid(
                WHAT,
                format!("image {index} has label {label}, outside 0..{num_classes}"),
            ));
        }
        Ok(Self {
            pixels,
            labels,
            shape,
            num_classes,
            class_names,
        })
    }

    /// The same set with other class names, one per class.
    pub fn with_class_names(mut self, class_names: Vec<String>) -> Result<Self, DataError> {
        if class_names.len() != self.num_classes {
            return Err(DataError::invalid(
                "image set",
                format!(
                    "{} class names for {} classes",
                    class_names.len(),
                    self.num_classes
                ),
            ));
        }
        self.class_names = class_names;
        Ok(self)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The size of every image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of classes (labels lie in `0..num_classes`).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The label of every image, in order.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The name of every class, indexed by label.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// All pixels, NCHW contiguous.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixels of image `index` (CHW), or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let n = self.shape.numel();
        self.pixels.get(index * n..(index + 1) * n)
    }

    /// The pixels of image `index` (CHW).
    ///
    /// # Panics
    /// When `index >= len()`, like slice indexing; use [`ImageSet::get`] for a checked read.
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.shape.numel();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// The images at `indices`, in that order (an index may repeat).
    pub fn subset(&self, indices: &[usize]) -> Result<Self, DataError> {
        self.check_indices(indices)?;
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.numel());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Ok(Self {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
        })
    }

    /// How many images each class has, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &label in &self.labels {
            // Labels were checked on construction, so the index is in range.
            counts[label as usize] += 1;
        }
        counts
    }

    /// The indices of the images of each class, in set order, indexed by label.
    pub fn indices_by_class(&self) -> Vec<Vec<usize>> {
        let mut by_class = vec![Vec::new(); self.num_classes];
        for (i, &label) in self.labels.iter().enumerate() {
            by_class[label as usize].push(i);
        }
        by_class
    }

    /// An error naming the first index that is not an image of this set.
    pub(crate) fn check_indices(&self, indices: &[usize]) -> Result<(), DataError> {
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(i) => Err(DataError::invalid(
                "image index",
                format!("{i} is past the end of a set of {} images", self.len()),
            )),
            None => Ok(()),
        }
    }
}

/// Whether `label` is a class index of a set of `num_classes` classes.
pub(crate) fn label_in_range(label: i64, num_classes: usize) -> bool {
    usize::try_from(label).is_ok_and(|l| l < num_classes)
}

/// Class names "0", "1", … for data-sets whose files carry no names.
pub fn numbered_class_names(num_classes: usize) -> Vec<String> {
    (0..num_classes).map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tiny() -> ImageSet {
        // Four 1x1x2 images whose pixels encode their index.
        ImageSet::new(
            vec![0, 1, 10, 11, 20, 21, 30, 31],
            vec![0, 1, 1, 2],
            ImageShape::new(1, 1, 2),
            3,
            numbered_class_names(3),
        )
        .unwrap()
    }

    #[test]
    fn accessors_report_what_was_given() {
        let set = tiny();
        assert_eq!(set.len(), 4);
        assert!(!set.is_empty());
        assert_eq!(set.shape(), ImageShape::new(1, 1, 2));
        assert_eq!(set.num_classes(), 3);
        assert_eq!(set.labels(), &[0, 1, 1, 2]);
        assert_eq!(set.image(2), &[20, 21]);
        assert_eq!(set.get(3), Some(&[30u8, 31][..]));
        assert_eq!(set.get(4), None);
        assert_eq!(set.class_names(), &["0", "1", "2"]);
        assert_eq!(set.class_counts(), vec![1, 2, 1]);
        assert_eq!(set.indices_by_class(), vec![vec![0], vec![1, 2], vec![3]]);
        let named = set
            .with_class_names(vec!["a".into(), "b".into(), "c".into()])
            .unwrap();
        assert_eq!(named.class_names(), &["a", "b", "c"]);
        let err = named.with_class_names(vec![]).unwrap_err();
        assert!(
            err.to_string().contains("0 class names for 3 classes"),
            "{err}"
        );
    }

    #[test]
    fn subset_copies_images_and_labels_in_order() {
        let sub = tiny().subset(&[3, 0, 3]).unwrap();
        assert_eq!(sub.pixels(), &[30, 31, 0, 1, 30, 31]);
        assert_eq!(sub.labels(), &[2, 0, 2]);
        assert_eq!(sub.class_counts(), vec![1, 0, 2]);
        let err = tiny().subset(&[1, 4]).unwrap_err();
        assert!(matches!(err, DataError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("4 is past the end"), "{err}");
    }

    #[test]
    fn construction_rejects_inconsistent_parts() {
        let shape = ImageShape::new(1, 1, 2);
        let names = numbered_class_names(3);
        let cases = [
            (
                vec![0; 5],
                vec![0, 1],
                shape,
                3,
                names.clone(),
                "5 pixel bytes",
            ),
            (vec![0; 4], vec![0, 3], shape, 3, names.clone(), "label 3"),
            (vec![0; 4], vec![0, -1], shape, 3, names.clone(), "label -1"),
            (
                vec![0; 4],
                vec![0, 1],
                shape,
                2,
                names.clone(),
                "3 class names",
            ),
            (vec![0; 4], vec![0, 1], shape, 0, vec![], "zero classes"),
            (
                vec![],
                vec![],
                ImageShape::new(0, 1, 1),
                3,
                names,
                "is empty",
            ),
        ];
        for (pixels, labels, shape, classes, names, needle) in cases {
            let err = ImageSet::new(pixels, labels, shape, classes, names).unwrap_err();
            assert!(matches!(err, DataError::Invalid { .. }), "{err}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }
}

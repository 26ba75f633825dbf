//! The data layer: readers for CIFAR binary batches, IDX (MNIST-style) files, image-folder trees
//! and a synthetic generator, all producing an in-memory [`ImageSet`]; seeded subsets and
//! stratified splits; and the [`BatchLoader`], which augments with the hand-crafted
//! [`Baseline`]s (levels, torchvision's automatic policies, random erasing) and standardizes
//! batches on its own thread.
mod baseline;
mod batch;
mod cifar;
mod dataset;
mod erasing;
mod error;
mod folder;
mod handcrafted;
mod idx;
mod loader;
mod normalization;
pub mod policy;
mod split;
mod synthetic;

pub use baseline::{Level, CROP_PADDING, JITTER_STRENGTH, MAX_ROTATION_DEGREES, SCALE_RANGE};
pub use batch::Batch;
pub(crate) use batch::{augment_and_standardize, Augment};
pub use cifar::{
    read_cifar10, read_cifar100, read_cifar100_file, read_cifar10_file, CIFAR100_CLASSES,
    CIFAR10_CLASSES, CIFAR_SHAPE,
};
pub use dataset::{numbered_class_names, ImageSet, ImageShape, Split};
pub use erasing::{ERASING_PROBABILITY, ERASING_RATIO, ERASING_SCALE};
pub use error::DataError;
pub use folder::{read_image_folder, FolderOptions, IMAGE_EXTENSIONS};
pub use handcrafted::Baseline;
pub use idx::{read_idx, read_idx_dir, IDX_DEFAULT_CLASSES};
pub use loader::{BatchLoader, EpochBatches, LoaderConfig, DEFAULT_PREFETCH, LOADER_THREAD_NAME};
pub use normalization::Normalization;
pub use policy::Policy;
pub use split::DEFAULT_VAL_RATIO;
pub use synthetic::SyntheticSpec;

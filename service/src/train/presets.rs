//! The named run configurations: the method's two published configurations (ALGORITHM.md), a
//! CPU-sized Fashion-MNIST run, and a seconds-long smoke run on generated images (the run of the
//! tests and of demos without data). Each is a complete TOML document that a config file and
//! `--set key=value` flags refine.

/// Names of the presets, for listings and error messages.
pub const PRESET_NAMES: [&str; 4] = [
    "cifar10-paper",
    "bach-paper",
    "fmnist-small",
    "synthetic-smoke",
];

/// The TOML text of a preset.
pub fn preset_toml(name: &str) -> Option<&'static str> {
    match name {
        "cifar10-paper" => Some(CIFAR10_PAPER),
        "bach-paper" => Some(BACH_PAPER),
        "fmnist-small" => Some(FMNIST_SMALL),
        "synthetic-smoke" => Some(SYNTHETIC_SMOKE),
        _ => None,
    }
}

/// CIFAR-10, ResNet-18 (CIFAR stem), batch 128, 201 epochs, SGD 0.1 ×0.2 at 60/120/160,
/// horizontal flip kept under the learned `small_affine`.
const CIFAR10_PAPER: &str = r#"
seed = 6442
device = "auto"
epochs = 201
batch_size = 128

[data]
source = "cifar10"
path = "data/cifar-10-batches-bin"
val_ratio = 0.2
normalization = "cifar10"

[classifier]
arch = "resnet18-cifar"
lr = 0.1
momentum = 0.9
weight_decay = 5e-4
schedule = { kind = "step", milestones = [60, 120, 160], factor = 0.2 }

[augment]
mode = "small_affine"
baseline = "flip"
lr = 0.2
momentum = 0.9
"#;

/// BACH (4 classes): 512×512 patches of 2048×1536 TIFFs, ResNet-18 (ImageNet stem; the paper
/// started from ImageNet weights: set `classifier.initial_weights`), batch 16, 40 epochs, SGD
/// 0.1 ×0.1 at 6/10/20, no hand-crafted transform kept.
const BACH_PAPER: &str = r#"
seed = 6442
device = "auto"
epochs = 40
batch_size = 16

[data]
source = "folder"
path = "data/bach/train"
val_ratio = 0.2
normalization = "computed"
patch = 512

[classifier]
arch = "resnet18-imagenet"
lr = 0.1
momentum = 0.9
weight_decay = 5e-4
schedule = { kind = "step", milestones = [6, 10, 20], factor = 0.1 }

[augment]
mode = "small_affine"
baseline = "none"
lr = 0.2
momentum = 0.9
"#;

/// Fashion-MNIST in the low-data regime on the CPU: small-cnn on 200 images per class.
const FMNIST_SMALL: &str = r#"
seed = 6442
device = "cpu"
epochs = 12
batch_size = 64

[data]
source = "idx"
path = "/usr/share/datasets/fashion-mnist"
per_class = 200
val_ratio = 0.2
normalization = "fashion-mnist"

[classifier]
arch = "small-cnn"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4
schedule = { kind = "step", milestones = [8, 11], factor = 0.2 }

[augment]
mode = "small_affine"
baseline = "none"
lr = 0.2
momentum = 0.9
"#;

/// Generated gratings (4 classes × 24 images, 1 × 16 × 16), small-cnn, batch 16, 4 epochs on the
/// CPU, the learned `small_affine`, no grid: a whole run in seconds, without data.
const SYNTHETIC_SMOKE: &str = r#"
seed = 6442
device = "cpu"
epochs = 4
batch_size = 16

[data]
source = "synthetic"
val_ratio = 0.25
synthetic = { classes = 4, per_class = 24, channels = 1, side = 16 }

[classifier]
arch = "small-cnn"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4

[augment]
mode = "small_affine"
baseline = "none"
lr = 0.05
momentum = 0.9

[output]
grid_images = 0
"#;

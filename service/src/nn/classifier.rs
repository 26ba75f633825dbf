//! The hosted classifiers in functional form: `forward(weights, x) -> logits`, where the weights
//! are an explicit parameter set so the bilevel step can substitute virtual weights.
use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind, Tensor};

use super::error::{NnError, NnResult};
use super::init::NetBuilder;
use super::layers::Weights;
use super::params::ParamSet;
use super::resnet::{self, Stem};
use super::small_cnn;

/// The classifier architectures augmentd can host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassifierArch {
    /// ResNet-18 with the CIFAR stem (3×3, no max-pool): the reference's CIFAR-10 classifier.
    ResNet18Cifar,
    /// ResNet-18 with the ImageNet stem (7×7/2 + max-pool): for large images (BACH patches).
    ResNet18ImageNet,
    /// Three conv–BN–ReLU blocks, global pooling, linear: for CPU-sized work.
    SmallCnn,
}

impl ClassifierArch {
    /// Every architecture, for listings and error messages.
    pub const ALL: [Self; 3] = [Self::ResNet18Cifar, Self::ResNet18ImageNet, Self::SmallCnn];

    /// The name used in configuration and files.
    pub fn name(self) -> &'static str {
        match self {
            Self::ResNet18Cifar => "resnet18-cifar",
            Self::ResNet18ImageNet => "resnet18-imagenet",
            Self::SmallCnn => "small-cnn",
        }
    }

    /// Smallest image side the architecture accepts (below it a feature map would vanish).
    fn min_side(self) -> i64 {
        match self {
            Self::ResNet18Cifar => 8,
            Self::ResNet18ImageNet => 32,
            Self::SmallCnn => 4,
        }
    }
}

impl fmt::Display for ClassifierArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClassifierArch {
    type Err = NnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|arch| arch.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
                NnError::InvalidConfig(format!(
                    "unknown classifier '{text}': expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// A classifier's architecture and the shape of its problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classifier {
    /// The architecture.
    pub arch: ClassifierArch,
    /// Image channels (1 for greyscale, 3 for RGB, any other count works too).
    pub in_channels: i64,
    /// Number of classes.
    pub num_classes: i64,
}

impl Classifier {
    /// A classifier description; channel and class counts must be positive (two classes at
    /// least, or there is nothing to classify).
    pub fn new(arch: ClassifierArch, in_channels: i64, num_classes: i64) -> NnResult<Self> {
        if in_channels < 1 {
            return Err(NnError::InvalidConfig(format!(
                "{arch}: {in_channels} input channels"
            )));
        }
        if num_classes < 2 {
            return Err(NnError::InvalidConfig(format!(
                "{arch}: {num_classes} classes, at least 2 are needed"
            )));
        }
        Ok(Self {
            arch,
            in_channels,
            num_classes,
        })
    }

    /// Fresh `(parameters, buffers)` with PyTorch's default initialisation, drawn from `seed`.
    pub fn init(&self, seed: u64, kind: Kind, device: Device) -> NnResult<(ParamSet, ParamSet)> {
        let mut net = NetBuilder::new(seed, kind, device);
        match self.arch {
            ClassifierArch::ResNet18Cifar => {
                resnet::build(&mut net, Stem::Cifar, self.in_channels, self.num_classes)?
            }
            ClassifierArch::ResNet18ImageNet => {
                resnet::build(&mut net, Stem::ImageNet, self.in_channels, self.num_classes)?
            }
            ClassifierArch::SmallCnn => {
                small_cnn::build(&mut net, self.in_channels, self.num_classes)?
            }
        }
        Ok(net.finish())
    }

    /// Logits [B, classes] of a standardized batch [B, C, H, W].
    pub fn forward(&self, weights: Weights, x: &Tensor) -> NnResult<Tensor> {
        self.check_input(x)?;
        match self.arch {
            ClassifierArch::ResNet18Cifar => resnet::forward(weights, Stem::Cifar, x),
            ClassifierArch::ResNet18ImageNet => resnet::forward(weights, Stem::ImageNet, x),
            ClassifierArch::SmallCnn => small_cnn::forward(weights, x),
        }
    }

    fn check_input(&self, x: &Tensor) -> NnResult<()> {
        let shape = x.size();
        let min = self.arch.min_side();
        let fits = shape.len() == 4
            && shape[0] > 0
            && shape[1] == self.in_channels
            && shape[2] >= min
            && shape[3] >= min;
        if fits {
            Ok(())
        } else {
            Err(NnError::BadInput {
                network: self.arch.name(),
                shape,
                expected: format!(
                    "[batch, {}, height ≥ {min}, width ≥ {min}]",
                    self.in_channels
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(
        arch: ClassifierArch,
        channels: i64,
        side: i64,
        classes: i64,
    ) -> (Vec<i64>, usize, usize) {
        let net = Classifier::new(arch, channels, classes).unwrap();
        let (params, buffers) = net.init(1, Kind::Float, Device::Cpu).unwrap();
        let x = Tensor::randn([2, channels, side, side], (Kind::Float, Device::Cpu));
        let w = Weights {
            params: &params,
            buffers: &buffers,
            train: true,
        };
        (
            net.forward(w, &x).unwrap().size(),
            params.numel(),
            buffers.len(),
        )
    }

    #[test]
    fn every_architecture_gives_logits_for_any_channel_count() {
        let (shape, count, _) = run(ClassifierArch::SmallCnn, 1, 28, 7);
        assert_eq!(shape, [2, 7]);
        assert_eq!(
            count,
            288 + 18_432 + 73_728 + 2 * (32 + 64 + 128) + 128 * 7 + 7
        );
        // The well-known sizes: 11 173 962 for CIFAR ResNet-18 (3 channels, 10 classes) and
        // torchvision's 11 689 512 for the ImageNet variant with 1000 classes.
        let (shape, count, buffers) = run(ClassifierArch::ResNet18Cifar, 3, 8, 10);
        assert_eq!((shape, count, buffers), (vec![2, 10], 11_173_962, 2 * 20));
        let (shape, count, _) = run(ClassifierArch::ResNet18ImageNet, 3, 32, 1000);
        assert_eq!((shape, count), (vec![2, 1000], 11_689_512));
        let (shape, _, _) = run(ClassifierArch::ResNet18Cifar, 4, 8, 7);
        assert_eq!(shape, [2, 7]);
    }

    #[test]
    fn init_is_reproducible_and_seed_dependent() {
        let net = Classifier::new(ClassifierArch::SmallCnn, 3, 10).unwrap();
        let (a, _) = net.init(5, Kind::Float, Device::Cpu).unwrap();
        let (b, _) = net.init(5, Kind::Float, Device::Cpu).unwrap();
        let (c, _) = net.init(6, Kind::Float, Device::Cpu).unwrap();
        let first = |s: &ParamSet| s.tensors()[0].shallow_clone();
        assert!(first(&a).equal(&first(&b)));
        assert!(!first(&a).equal(&first(&c)));
    }

    #[test]
    fn bad_shapes_and_names_are_reported() {
        let net = Classifier::new(ClassifierArch::SmallCnn, 3, 10).unwrap();
        let (params, buffers) = net.init(0, Kind::Float, Device::Cpu).unwrap();
        let w = Weights {
            params: &params,
            buffers: &buffers,
            train: false,
        };
        let x = Tensor::zeros([2, 1, 28, 28], (Kind::Float, Device::Cpu));
        let err = net.forward(w, &x).unwrap_err().to_string();
        assert!(
            err.contains("[2, 1, 28, 28]") && err.contains("small-cnn"),
            "{err}"
        );
        assert_eq!(
            "ResNet18_CIFAR".parse::<ClassifierArch>().unwrap(),
            ClassifierArch::ResNet18Cifar
        );
        let err = "vgg".parse::<ClassifierArch>().unwrap_err().to_string();
        assert!(err.contains("vgg") && err.contains("small-cnn"), "{err}");
        assert!(Classifier::new(ClassifierArch::SmallCnn, 3, 1).is_err());
    }
}

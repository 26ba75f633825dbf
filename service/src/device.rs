//! Device selection: the `cpu`, `cuda`, `cuda:N` and `auto` spellings accepted everywhere.
use std::fmt;
use std::str::FromStr;

/// Where tensors of a run live, as the user spelled it (resolved with [`DeviceSpec::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The CPU.
    Cpu,
    /// CUDA device 0.
    Cuda,
    /// A given CUDA device.
    CudaIndex(usize),
    /// CUDA device 0 when one is usable, otherwise the CPU.
    Auto,
}

/// A device spelling that is not one of `cpu`, `cuda`, `cuda:N`, `auto`, or a CUDA device that
/// this machine does not have.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    /// The text is not a device name.
    #[error("unknown device '{0}': expected cpu, cuda, cuda:N or auto")]
    Unknown(String),
    /// CUDA was asked for but is not there.
    #[error(
        "device '{asked}' is not available: this machine has {available} usable CUDA device(s)"
    )]
    Unavailable {
        /// What was asked for.
        asked: String,
        /// How many CUDA devices libtorch sees.
        available: usize,
    },
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "auto" => Ok(Self::Auto),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(Self::CudaIndex)
                .ok_or_else(|| DeviceError::Unknown(text.to_string())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda => write!(f, "cuda"),
            Self::CudaIndex(n) => write!(f, "cuda:{n}"),
            Self::Auto => write!(f, "auto"),
        }
    }
}

impl DeviceSpec {
    /// The concrete device, checking that a CUDA device asked for exists.
    pub fn resolve(self) -> Result<tch::Device, DeviceError> {
        let available = if tch::Cuda::is_available() {
            usize::try_from(tch::Cuda::device_count()).unwrap_or(0)
        } else {
            0
        };
        let index = match self {
            Self::Cpu => return Ok(tch::Device::Cpu),
            Self::Auto if available == 0 => return Ok(tch::Device::Cpu),
            Self::Auto | Self::Cuda => 0,
            Self::CudaIndex(n) => n,
        };
        if index < available {
            Ok(tch::Device::Cuda(index))
        } else {
            Err(DeviceError::Unavailable {
                asked: self.to_string(),
                available,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_every_spelling() {
        assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
        assert_eq!("CUDA".parse(), Ok(DeviceSpec::Cuda));
        assert_eq!("cuda:3".parse(), Ok(DeviceSpec::CudaIndex(3)));
        assert_eq!("auto".parse(), Ok(DeviceSpec::Auto));
        assert_eq!(
            "tpu".parse::<DeviceSpec>(),
            Err(DeviceError::Unknown("tpu".into()))
        );
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn cpu_and_auto_always_resolve() {
        assert_eq!(DeviceSpec::Cpu.resolve(), Ok(tch::Device::Cpu));
        assert!(DeviceSpec::Auto.resolve().is_ok());
    }

    #[test]
    fn a_missing_cuda_device_is_named() {
        let err = DeviceSpec::CudaIndex(4096).resolve().unwrap_err();
        assert!(err.to_string().contains("cuda:4096"), "{err}");
    }
}

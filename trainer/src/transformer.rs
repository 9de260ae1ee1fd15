//! The image transformation networks, defined once: every module has its `forward`
//! (tch) and its `export` (ONNX) side by side. Two families:
//!
//! - **`johnson2016`** (the "full" variant, for quality): Johnson, Alahi & Fei-Fei
//!   (2016). 9x9 conv in, two stride-2 3x3 convs down, residual blocks, two
//!   nearest-neighbour 2x upsamplings each followed by a 3x3 conv (no transposed
//!   convolutions, so no checkerboard), 9x9 conv out; instance normalisation and ReLU
//!   after every conv but the last (or, with [`Norm::Frn`], filter response
//!   normalisation and a thresholded linear unit; with [`Norm::BelowFull`], none on the
//!   two full-resolution layers); reflection padding everywhere.
//! - **`nst_fast`** (the "fast" variant, for real time on a CPU): every conv but the last
//!   runs at half resolution or less. A 5x5 stride-2 conv in, one more stride-2 conv to
//!   1/4 (`downsamplings` 2; 3 goes to 1/8), residual blocks there, depth-to-space
//!   (sub-pixel) steps back up to 1/2, each followed by a conv, then a nearest-neighbour
//!   resize and one 3x3 conv to RGB at full size. Zero padding inside the convs (no Pad
//!   copies); normalisation per [`Norm`]. Measured (benches/fast_variants.sh and short
//!   training runs): a bottleneck at 1/8 with 64 channels is no faster on 2 cores than
//!   one at 1/4 with 32 and loses the photo (content loss barely falls; the output
//!   becomes a periodic texture); without instance norm on the half-resolution layers the
//!   style loss is unstable and the output noisy.
//!
//! Output: `127.5 * (y + 1)`, clamped to 0-255 at inference ([`Output::Clamp`]; training
//! sees the unclamped value so that the gradient never vanishes) or, for models made
//! before format 2, `127.5 * (tanh(y) + 1)` ([`Output::Tanh`]), whose gradient vanishes
//! once a region saturates and leaves flat white patches. Any input size works: the input
//! is padded (reflection) to the family's size multiple and the output cropped back.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::onnx::{Attr, GraphBuilder};

/// The network families; their names are the `nst.architecture` metadata values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Johnson et al. 2016: the full network.
    #[default]
    #[serde(rename = "johnson2016")]
    #[value(name = "full", alias = "johnson2016")]
    Johnson2016,
    /// Half resolution and below, depth-to-space upsampling: the fast network.
    #[serde(rename = "nst_fast")]
    #[value(name = "fast", alias = "nst_fast")]
    Fast,
}

impl Family {
    pub fn architecture(self) -> &'static str {
        match self {
            Family::Johnson2016 => nst_runtime::contract::ARCH_JOHNSON2016,
            Family::Fast => nst_runtime::contract::ARCH_FAST,
        }
    }

    /// The runtime's variant of this family.
    pub fn variant(self) -> nst_runtime::contract::Variant {
        match self {
            Family::Johnson2016 => nst_runtime::contract::Variant::Full,
            Family::Fast => nst_runtime::contract::Variant::Fast,
        }
    }
}

/// How the last conv's values become pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// `127.5 * (tanh(y) + 1)`: the format-1 models (saturates, blows out highlights).
    Tanh,
    /// `clamp(127.5 * (y + 1), 0, 255)`, unclamped while training.
    Clamp,
}

/// Normalisation after the convs (all but the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// Instance normalisation after every conv.
    #[default]
    Instance,
    /// Instance normalisation only at 1/4 resolution and below (where its tensors are
    /// small); none on the half-resolution layers.
    Deep,
    /// No normalisation.
    None,
    /// Filter response normalisation and a thresholded linear unit (Singh & Krishnan
    /// 2019) after every conv: each channel divided by its root mean square over the
    /// picture (no mean subtracted), a learned scale and shift, then `max(y, tau)` with a
    /// learned `tau` in place of ReLU. Instance norm lets a network plant one strong spot
    /// that sets a channel's statistics (the flat "droplet" blotches StyleGAN2 traced to
    /// it; ReCoNet reports them gone with FRN).
    Frn,
    /// Instance normalisation on every layer below full resolution, none on the full
    /// network's two full-resolution layers (its 9x9 conv in and its last upsampling
    /// conv): the fast network has no normalised layer at full resolution and no droplets,
    /// the full one with instance norm there paints them. The full network only.
    BelowFull,
}

impl Norm {
    /// The normalisation each layer gets: `deep` for the layers at 1/4 resolution and
    /// below, `shallow` for the layers at half resolution (the fast network's choice).
    fn layers(self) -> (Option<Norm>, Option<Norm>) {
        match self {
            Norm::Instance => (Some(Norm::Instance), Some(Norm::Instance)),
            Norm::Deep => (Some(Norm::Instance), None),
            Norm::None => (None, None),
            Norm::Frn => (Some(Norm::Frn), Some(Norm::Frn)),
            // The fast network has no normalised layer at full resolution.
            Norm::BelowFull => (Some(Norm::Instance), Some(Norm::Instance)),
        }
    }
}

/// Hyperparameters of the architecture (saved in checkpoints and ONNX metadata).
/// Fields added after format 1 default to what format-1 models were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformerConfig {
    #[serde(default)]
    pub family: Family,
    /// Channels after the first conv; doubled by each downsampling (32 -> 64 -> 128).
    pub base_channels: i64,
    /// Number of residual blocks at the bottleneck.
    pub residual_blocks: usize,
    #[serde(default = "legacy_output")]
    pub output: Output,
    #[serde(default)]
    pub norm: Norm,
    /// The fast network's stride-2 convs: 3 puts its bottleneck at 1/8 resolution, 2 at
    /// 1/4 (the full network always has 2 after its full-resolution conv).
    #[serde(default = "default_downsamplings")]
    pub downsamplings: u8,
}

fn default_downsamplings() -> u8 {
    3
}

fn legacy_output() -> Output {
    Output::Tanh
}

impl Default for TransformerConfig {
    fn default() -> Self {
        Self::full()
    }
}

impl TransformerConfig {
    /// The full network (Johnson et al. with the clamped linear output).
    pub fn full() -> Self {
        Self { family: Family::Johnson2016, base_channels: 32, residual_blocks: 5, output: Output::Clamp, norm: Norm::Instance, downsamplings: 2 }
    }

    /// The fast network's defaults (chosen by `benches/fast_variants.sh` and short
    /// training runs, see the module documentation).
    pub fn fast() -> Self {
        Self { family: Family::Fast, base_channels: 16, residual_blocks: 3, output: Output::Clamp, norm: Norm::Instance, downsamplings: 2 }
    }

    /// Height and width must be multiples of this inside the network.
    pub fn size_multiple(&self) -> i64 {
        match self.family {
            Family::Johnson2016 => 4,
            Family::Fast => 1 << self.downsamplings.clamp(2, 4),
        }
    }

    /// Whether a network of `other` has exactly the weights of one of `self` (the output
    /// function has none; the full network has no `downsamplings` choice, and its `norm`
    /// is instance norm unless it says FRN).
    pub fn same_weights_as(&self, other: &TransformerConfig) -> bool {
        let key = |c: &TransformerConfig| match c.family {
            Family::Johnson2016 => (c.family, c.base_channels, c.residual_blocks, c.full_norm(), 2),
            Family::Fast => (c.family, c.base_channels, c.residual_blocks, c.norm, c.downsamplings),
        };
        key(self) == key(other)
    }

    /// The normalisation of the full network: FRN or instance norm below full resolution
    /// when the configuration says so, instance norm otherwise (format-1 files say
    /// nothing, or `instance`).
    fn full_norm(&self) -> Norm {
        match self.norm {
            Norm::Frn | Norm::BelowFull => self.norm,
            _ => Norm::Instance,
        }
    }

    /// Whether a run of `self` can start from the weights of a network of `other`: the same
    /// weights, or (a full network with no normalisation at full resolution) a subset of
    /// them, the full-resolution layers' instance-norm weights left behind.
    pub fn can_start_from(&self, other: &TransformerConfig) -> bool {
        self.same_weights_as(other)
            || (self.family == Family::Johnson2016
                && self.full_norm() == Norm::BelowFull
                && other.same_weights_as(&TransformerConfig { norm: Norm::Instance, ..*self }))
    }

    /// The defaults of a family.
    pub fn of(family: Family) -> Self {
        match family {
            Family::Johnson2016 => Self::full(),
            Family::Fast => Self::fast(),
        }
    }
}

/// Smallest input side: reflection padding by 4 (9x9 conv) needs more than 4 pixels, and
/// the bottleneck (side / 4) at least 2; the fast network's bottleneck is side / 8.
pub fn min_side(family: Family) -> u32 {
    match family {
        Family::Johnson2016 => 8,
        Family::Fast => 16,
    }
}
const IN_EPS: f64 = 1e-5;
const FRN_EPS: f64 = 1e-6;

/// How a conv pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pad {
    /// An explicit reflection Pad before the conv (the full network).
    Reflect,
    /// Zeros, inside the Conv itself (no extra tensor copy; the fast network).
    Zero,
}

/// Optional nearest-neighbour upsampling, padding + convolution, optional depth-to-space.
#[derive(Debug)]
struct ConvLayer {
    conv: nn::Conv2D,
    kernel: i64,
    stride: i64,
    pad: Pad,
    /// Nearest-neighbour upsampling factor applied before the conv (1 = none).
    upsample: i64,
    /// Depth-to-space (pixel shuffle) factor applied after the conv (1 = none).
    shuffle: i64,
}

impl ConvLayer {
    fn new(vs: nn::Path, cin: i64, cout: i64, kernel: i64, stride: i64, pad: Pad) -> Self {
        let padding = if pad == Pad::Zero { kernel / 2 } else { 0 };
        let cfg = nn::ConvConfig { stride, padding, ..Default::default() };
        Self { conv: nn::conv2d(vs / "conv", cin, cout, kernel, cfg), kernel, stride, pad, upsample: 1, shuffle: 1 }
    }

    fn upsampled(mut self, factor: i64) -> Self {
        self.upsample = factor;
        self
    }

    /// Depth-to-space after the conv, with the conv initialised "ICNR" (Aitken et al.
    /// 2017): the factor² sub-pixel filters of each output channel start equal, so the
    /// layer starts as a nearest-neighbour upsampling and not as a checkerboard.
    fn shuffled(mut self, factor: i64) -> Self {
        self.shuffle = factor;
        let ws = self.conv.ws.size();
        let (cout, rest) = (ws[0], &ws[1..]);
        let r2 = factor * factor;
        tch::no_grad(|| {
            let base = self.conv.ws.view([cout / r2, r2, rest[0], rest[1], rest[2]]).narrow(1, 0, 1);
            let icnr = base.expand([cout / r2, r2, rest[0], rest[1], rest[2]], false).contiguous().view([cout, rest[0], rest[1], rest[2]]);
            self.conv.ws.copy_(&icnr);
            if let Some(b) = self.conv.bs.as_mut() {
                let base = b.view([cout / r2, r2]).narrow(1, 0, 1);
                let same = base.expand([cout / r2, r2], false).contiguous().view([cout]);
                b.copy_(&same);
            }
        });
        self
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = if self.upsample > 1 {
            let (h, w) = (x.size()[2], x.size()[3]);
            let s = self.upsample as f64;
            x.upsample_nearest2d([h * self.upsample, w * self.upsample], Some(s), Some(s))
        } else {
            x.shallow_clone()
        };
        let x = match self.pad {
            Pad::Reflect => {
                let p = self.kernel / 2;
                x.reflection_pad2d([p, p, p, p])
            }
            Pad::Zero => x,
        };
        let y = x.apply(&self.conv);
        if self.shuffle > 1 { y.pixel_shuffle(self.shuffle) } else { y }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, name: &str) -> String {
        let mut x = x.to_string();
        if self.upsample > 1 {
            let s = self.upsample as f32;
            let scales = g.const_f32_vec(&format!("{name}_scales"), &[1.0, 1.0, s, s]);
            x = g.node(
                "Resize",
                &[&x, "", &scales],
                vec![
                    ("mode", Attr::Str("nearest")),
                    ("coordinate_transformation_mode", Attr::Str("asymmetric")),
                    ("nearest_mode", Attr::Str("floor")),
                ],
            );
        }
        let p = self.kernel / 2;
        let conv_pads = match self.pad {
            Pad::Reflect => {
                let pads = g.const_i64(&format!("{name}_pads"), &[0, 0, p, p, 0, 0, p, p]);
                x = g.node("Pad", &[&x, &pads], vec![("mode", Attr::Str("reflect"))]);
                vec![0, 0, 0, 0]
            }
            Pad::Zero => vec![p, p, p, p],
        };
        let w = g.weight(&format!("{name}.conv.weight"), &self.conv.ws);
        let b = g.weight(&format!("{name}.conv.bias"), self.conv.bs.as_ref().expect("convs have a bias"));
        let y = g.node(
            "Conv",
            &[&x, &w, &b],
            vec![
                ("kernel_shape", Attr::Ints(vec![self.kernel, self.kernel])),
                ("strides", Attr::Ints(vec![self.stride, self.stride])),
                ("pads", Attr::Ints(conv_pads)),
            ],
        );
        if self.shuffle > 1 {
            // CRD is PyTorch's pixel_shuffle channel order.
            g.node("DepthToSpace", &[&y], vec![("blocksize", Attr::Int(self.shuffle)), ("mode", Attr::Str("CRD"))])
        } else {
            y
        }
    }
}

/// Instance normalisation with a learned scale and shift.
#[derive(Debug)]
struct InstanceNorm {
    weight: Tensor,
    bias: Tensor,
}

impl InstanceNorm {
    fn new(vs: nn::Path, channels: i64) -> Self {
        Self { weight: vs.var("weight", &[channels], nn::Init::Const(1.0)), bias: vs.var("bias", &[channels], nn::Init::Const(0.0)) }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.instance_norm(Some(&self.weight), Some(&self.bias), None::<&Tensor>, None::<&Tensor>, true, 0.1, IN_EPS, false)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, name: &str) -> String {
        let s = g.weight(&format!("{name}.weight"), &self.weight);
        let b = g.weight(&format!("{name}.bias"), &self.bias);
        g.node("InstanceNormalization", &[x, &s, &b], vec![("epsilon", Attr::Float(IN_EPS as f32))])
    }
}

/// Filter response normalisation, and the thresholded linear unit where an activation
/// follows ([`Norm::Frn`]).
#[derive(Debug)]
struct FilterResponseNorm {
    weight: Tensor,
    bias: Tensor,
    /// The TLU's threshold (`max(y, tau)`), when this layer ends in an activation.
    tau: Option<Tensor>,
}

impl FilterResponseNorm {
    fn new(vs: nn::Path, channels: i64, tlu: bool) -> Self {
        Self {
            weight: vs.var("weight", &[channels], nn::Init::Const(1.0)),
            bias: vs.var("bias", &[channels], nn::Init::Const(0.0)),
            tau: tlu.then(|| vs.var("tau", &[channels], nn::Init::Const(0.0))),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let per_channel = |t: &Tensor| t.view([1, -1, 1, 1]);
        let nu2 = x.square().mean_dim(&[2i64, 3][..], true, None::<tch::Kind>);
        let y = x * (nu2 + FRN_EPS).rsqrt() * per_channel(&self.weight) + per_channel(&self.bias);
        match &self.tau {
            Some(tau) => y.maximum(&per_channel(tau)),
            None => y,
        }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, name: &str) -> String {
        let per_channel = |t: &Tensor| t.view([-1, 1, 1]);
        let square = g.node("Mul", &[x, x], vec![]);
        let nu2 = g.node("ReduceMean", &[&square], vec![("axes", Attr::Ints(vec![2, 3])), ("keepdims", Attr::Int(1))]);
        let eps = g.const_f32(&format!("{name}_eps"), FRN_EPS as f32);
        let nu2 = g.node("Add", &[&nu2, &eps], vec![]);
        let rms = g.node("Sqrt", &[&nu2], vec![]);
        let y = g.node("Div", &[x, &rms], vec![]);
        let s = g.weight(&format!("{name}.weight"), &per_channel(&self.weight));
        let b = g.weight(&format!("{name}.bias"), &per_channel(&self.bias));
        let y = g.node("Mul", &[&y, &s], vec![]);
        let y = g.node("Add", &[&y, &b], vec![]);
        match &self.tau {
            Some(tau) => {
                let t = g.weight(&format!("{name}.tau"), &per_channel(tau));
                g.node("Max", &[&y, &t], vec![])
            }
            None => y,
        }
    }
}

/// The normalisation after one conv.
#[derive(Debug)]
enum NormLayer {
    Instance(InstanceNorm),
    /// FRN, ending in the TLU where the layer has an activation (it replaces the ReLU).
    Frn(FilterResponseNorm),
}

/// Conv -> optional normalisation -> optional activation (ReLU, or FRN's TLU).
#[derive(Debug)]
struct ConvNormAct {
    conv: ConvLayer,
    norm: Option<NormLayer>,
    relu: bool,
}

impl ConvNormAct {
    /// `norm`: [`Norm::Instance`], [`Norm::Frn`] or `None` (the per-layer choice of
    /// [`Norm::layers`]).
    fn new(vs: &nn::Path, name: &str, conv: impl FnOnce(nn::Path) -> ConvLayer, cout: i64, norm: Option<Norm>, relu: bool) -> Self {
        let vs = vs / name;
        let norm = match norm {
            Some(Norm::Frn) => Some(NormLayer::Frn(FilterResponseNorm::new(&vs / "norm", cout, relu))),
            Some(_) => Some(NormLayer::Instance(InstanceNorm::new(&vs / "norm", cout))),
            None => None,
        };
        // The TLU is the activation of an FRN layer.
        let relu = relu && !matches!(norm, Some(NormLayer::Frn(_)));
        Self { conv: conv(&vs / "c"), norm, relu }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let y = self.conv.forward(x);
        let y = match &self.norm {
            Some(NormLayer::Instance(n)) => n.forward(&y),
            Some(NormLayer::Frn(n)) => n.forward(&y),
            None => y,
        };
        if self.relu { y.relu() } else { y }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, name: &str) -> String {
        let y = self.conv.export(g, x, &format!("{name}.c"));
        let y = match &self.norm {
            Some(NormLayer::Instance(n)) => n.export(g, &y, &format!("{name}.norm")),
            Some(NormLayer::Frn(n)) => n.export(g, &y, &format!("{name}.norm")),
            None => y,
        };
        if self.relu { g.node("Relu", &[&y], vec![]) } else { y }
    }
}

/// `x + norm(conv(relu(norm(conv(x)))))`.
#[derive(Debug)]
struct ResidualBlock {
    a: ConvNormAct,
    b: ConvNormAct,
}

impl ResidualBlock {
    fn new(vs: &nn::Path, name: &str, channels: i64, pad: Pad, norm: Option<Norm>) -> Self {
        let vs = vs / name;
        let conv = |p: nn::Path| ConvLayer::new(p, channels, channels, 3, 1, pad);
        Self { a: ConvNormAct::new(&vs, "a", conv, channels, norm, true), b: ConvNormAct::new(&vs, "b", conv, channels, norm, false) }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x + self.b.forward(&self.a.forward(x))
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, name: &str) -> String {
        let y = self.a.export(g, x, &format!("{name}.a"));
        let y = self.b.export(g, &y, &format!("{name}.b"));
        g.node("Add", &[x, &y], vec![])
    }
}

/// The transformation network. Input and output: `[N, 3, H, W]`, RGB, 0-255.
#[derive(Debug)]
pub struct TransformerNet {
    config: TransformerConfig,
    down: Vec<ConvNormAct>,
    residual: Vec<ResidualBlock>,
    up: Vec<ConvNormAct>,
    /// The output convs (no norm, no ReLU), in order.
    out: Vec<(ConvLayer, &'static str)>,
}

impl TransformerNet {
    pub fn new(vs: &nn::Path, config: TransformerConfig) -> Self {
        let c = config.base_channels;
        let r = config.residual_blocks;
        match config.family {
            Family::Johnson2016 => {
                // Instance norm everywhere (format 1), or FRN everywhere, or instance norm
                // everywhere but at full resolution (`top`).
                let (n, top) = match config.full_norm() {
                    Norm::BelowFull => (Some(Norm::Instance), None),
                    norm => (Some(norm), Some(norm)),
                };
                let p = Pad::Reflect;
                let conv = |cin, cout, k, s| move |vs: nn::Path| ConvLayer::new(vs, cin, cout, k, s, p);
                let up = |cin, cout| move |vs: nn::Path| ConvLayer::new(vs, cin, cout, 3, 1, p).upsampled(2);
                let down = vec![
                    ConvNormAct::new(vs, "down1", conv(3, c, 9, 1), c, top, true),
                    ConvNormAct::new(vs, "down2", conv(c, 2 * c, 3, 2), 2 * c, n, true),
                    ConvNormAct::new(vs, "down3", conv(2 * c, 4 * c, 3, 2), 4 * c, n, true),
                ];
                let residual = (0..r).map(|i| ResidualBlock::new(vs, &format!("res{}", i + 1), 4 * c, p, n)).collect();
                let up = vec![ConvNormAct::new(vs, "up1", up(4 * c, 2 * c), 2 * c, n, true), ConvNormAct::new(vs, "up2", up(2 * c, c), c, top, true)];
                let out = vec![(ConvLayer::new(vs / "out", c, 3, 9, 1, p), "out")];
                Self { config, down, residual, up, out }
            }
            Family::Fast => {
                let p = Pad::Zero;
                // Which layers normalise: `shallow` ones run at half resolution.
                let (deep, shallow) = config.norm.layers();
                let conv = |cin, cout, k, s| move |vs: nn::Path| ConvLayer::new(vs, cin, cout, k, s, p);
                let up = |cin, cout| move |vs: nn::Path| ConvLayer::new(vs, cin, cout * 4, 3, 1, p).shuffled(2);
                // `downsamplings` stride-2 convs (2: bottleneck at 1/4, 3: at 1/8), each
                // doubling the channels; residual blocks at the bottleneck; as many
                // depth-to-space steps back up to 1/2.
                let n = config.downsamplings.clamp(2, 4) as usize;
                let width = |level: usize| c << (level - 1); // channels at 1/2^level
                let mut down = vec![ConvNormAct::new(vs, "down1", conv(3, c, 5, 2), c, shallow, true)];
                for level in 2..=n {
                    down.push(ConvNormAct::new(vs, &format!("down{level}"), conv(width(level - 1), width(level), 3, 2), width(level), deep, true));
                }
                let bottleneck = width(n);
                let residual = (0..r).map(|i| ResidualBlock::new(vs, &format!("res{}", i + 1), bottleneck, p, deep)).collect();
                // Depth-to-space, each followed by a conv that mixes neighbouring 2x2
                // blocks; then to full resolution by a nearest-neighbour resize and one
                // 3x3 conv to RGB (a depth-to-space as the last layer paints every 2x2
                // block alike: a visible grid, measured).
                let up = (1..n)
                    .rev()
                    .enumerate()
                    .map(|(i, level)| {
                        let norm = if level == 1 { shallow } else { deep };
                        ConvNormAct::new(vs, &format!("up{}", i + 1), up(width(level + 1), width(level)), width(level), norm, true)
                    })
                    .collect();
                let out = vec![(ConvLayer::new(vs / "out", c, 3, 3, 1, p).upsampled(2), "out")];
                Self { config, down, residual, up, out }
            }
        }
    }

    pub fn config(&self) -> TransformerConfig {
        self.config
    }

    /// The network before the output function, padded and cropped to the input's size.
    fn body(&self, x: &Tensor) -> Tensor {
        let m = self.config.size_multiple();
        let (h, w) = (x.size()[2], x.size()[3]);
        let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
        let mut y = if ph > 0 || pw > 0 { x.reflection_pad2d([0, pw, 0, ph]) } else { x.shallow_clone() };
        for layer in &self.down {
            y = layer.forward(&y);
        }
        for block in &self.residual {
            y = block.forward(&y);
        }
        for layer in &self.up {
            y = layer.forward(&y);
        }
        let y = self.out.iter().fold(y, |y, (layer, _)| layer.forward(&y));
        if ph > 0 || pw > 0 { y.narrow(2, 0, h).narrow(3, 0, w) } else { y }
    }

    /// The output the losses see while training: with [`Output::Clamp`] not clamped,
    /// so that a region pushed past white still gets a gradient back.
    pub fn forward_train(&self, x: &Tensor) -> Tensor {
        let y = self.body(x);
        match self.config.output {
            Output::Tanh => (y.tanh() + 1.0) * 127.5,
            Output::Clamp => (y + 1.0) * 127.5,
        }
    }

    /// Exports the network as an ONNX model with the given metadata.
    pub fn to_onnx(&self, metadata: Vec<(String, String)>) -> Vec<u8> {
        use nst_runtime::contract::{INPUT_NAME, OUTPUT_NAME};
        let mut g = GraphBuilder::new();
        // Reflection-pad H and W up to the size multiple m: pads = [0,0,0,0, 0,0,(m-h%m)%m,(m-w%m)%m].
        let shape = g.node("Shape", &[INPUT_NAME], vec![]);
        let (start, end) = (g.const_i64("hw_start", &[2]), g.const_i64("hw_end", &[4]));
        let hw = g.node("Slice", &[&shape, &start, &end], vec![]);
        let m = g.const_i64("multiple", &[self.config.size_multiple()]);
        let rem = g.node("Mod", &[&hw, &m], vec![]);
        let short = g.node("Sub", &[&m, &rem], vec![]);
        let extra = g.node("Mod", &[&short, &m], vec![]);
        let zeros = g.const_i64("zeros", &[0, 0, 0, 0, 0, 0]);
        let pads = g.node("Concat", &[&zeros, &extra], vec![("axis", Attr::Int(0))]);
        let mut x = g.node("Pad", &[INPUT_NAME, &pads], vec![("mode", Attr::Str("reflect"))]);
        for (i, layer) in self.down.iter().enumerate() {
            x = layer.export(&mut g, &x, &format!("down{}", i + 1));
        }
        for (i, block) in self.residual.iter().enumerate() {
            x = block.export(&mut g, &x, &format!("res{}", i + 1));
        }
        for (i, layer) in self.up.iter().enumerate() {
            x = layer.export(&mut g, &x, &format!("up{}", i + 1));
        }
        for (layer, name) in &self.out {
            x = layer.export(&mut g, &x, &format!("{name}.c"));
        }
        // Crop back to the input size, then the output function.
        let axes = g.const_i64("crop_axes", &[2, 3]);
        let starts = g.const_i64("crop_starts", &[0, 0]);
        x = g.node("Slice", &[&x, &starts, &hw, &axes], vec![]);
        let half = g.const_f32("half_range", 127.5);
        match self.config.output {
            Output::Tanh => {
                let one = g.const_f32("one", 1.0);
                let t = g.node("Tanh", &[&x], vec![]);
                let t = g.node("Add", &[&t, &one], vec![]);
                g.node_into("Mul", &[&t, &half], vec![], OUTPUT_NAME);
            }
            Output::Clamp => {
                // 127.5 * (y + 1) = 127.5 * y + 127.5, then clamp.
                let t = g.node("Mul", &[&x, &half], vec![]);
                let t = g.node("Add", &[&t, &half], vec![]);
                let (lo, hi) = (g.const_f32("clip_min", 0.0), g.const_f32("clip_max", 255.0));
                g.node_into("Clip", &[&t, &lo, &hi], vec![], OUTPUT_NAME);
            }
        }
        let doc = match self.config.family {
            Family::Johnson2016 => "nst style transfer network (Johnson et al. 2016), RGB 0-255 in and out",
            Family::Fast => "nst fast style transfer network (half resolution and below, depth-to-space), RGB 0-255 in and out",
        };
        g.finish(INPUT_NAME, OUTPUT_NAME, metadata, doc)
    }
}

impl Module for TransformerNet {
    /// The inference output, exactly what the ONNX export computes.
    fn forward(&self, x: &Tensor) -> Tensor {
        let y = self.forward_train(x);
        match self.config.output {
            Output::Tanh => y,
            Output::Clamp => y.clamp(0.0, 255.0),
        }
    }
}

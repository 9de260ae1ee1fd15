//! The image transformation network of Johnson, Alahi & Fei-Fei (2016), defined once:
//! every module has its `forward` (tch) and its `export` (ONNX) side by side.
//!
//! Layout: 9x9 conv in, two stride-2 3x3 convs down, residual blocks, two
//! nearest-neighbour 2x upsamplings each followed by a 3x3 conv (no transposed
//! convolutions, so no checkerboard), 9x9 conv out. Instance normalisation and ReLU
//! after every conv but the last; reflection padding everywhere; output `127.5 *
//! (tanh(y) + 1)`, so pixels stay in 0-255. Any input size works: the input is
//! reflection-padded to a multiple of 4 and the output cropped back.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::onnx::{Attr, GraphBuilder};

/// Hyperparameters of the architecture (saved in checkpoints and ONNX metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformerConfig {
    /// Channels after the first conv; doubled by each downsampling (32 -> 64 -> 128).
    pub base_channels: i64,
    /// Number of residual blocks at the bottleneck.
    pub residual_blocks: usize,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        Self { base_channels: 32, residual_blocks: 5 }
    }
}

/// Height and width must be multiples of this inside the network (two stride-2 convs).
pub const SIZE_MULTIPLE: i64 = 4;
/// Smallest input side: reflection padding by 4 (9x9 conv) needs more than 4 pixels, and
/// the bottleneck (side / 4) at least 2.
pub const MIN_SIDE: u32 = 8;
const IN_EPS: f64 = 1e-5;

/// Reflection padding + convolution.
#[derive(Debug)]
struct ConvLayer {
    conv: nn::Conv2D,
    kernel: i64,
    stride: i64,
    /// Nearest-neighbour upsampling factor applied before the conv (1 = none).
    upsample: i64,
}

impl ConvLayer {
    fn new(vs: nn::Path, cin: i64, cout: i64, kernel: i64, stride: i64, upsample: i64) -> Self {
        let cfg = nn::ConvConfig { stride, padding: 0, ..Default::default() };
        Self { conv: nn::conv2d(vs / "conv", cin, cout, kernel, cfg), kernel, stride, upsample }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = if self.upsample > 1 {
            let (h, w) = (x.size()[2], x.size()[3]);
            let s = self.upsample as f64;
            x.upsample_nearest2d([h * self.upsample, w * self.upsample], Some(s), Some(s))
        } else {
            x.shallow_clone()
        };
        let p = self.kernel / 2;
        x.reflection_pad2d([p, p, p, p]).apply(&self.conv)
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
        let pads = g.const_i64(&format!("{name}_pads"), &[0, 0, p, p, 0, 0, p, p]);
        let padded = g.node("Pad", &[&x, &pads], vec![("mode", Attr::Str("reflect"))]);
        let w = g.weight(&format!("{name}.conv.weight"), &self.conv.ws);
        let b = g.weight(&format!("{name}.conv.bias"), self.conv.bs.as_ref().expect("convs have a bias"));
        g.node(
            "Conv",
            &[&padded, &w, &b],
            vec![
                ("kernel_shape", Attr::Ints(vec![self.kernel, self.kernel])),
                ("strides", Attr::Ints(vec![self.stride, self.stride])),
                ("pads", Attr::Ints(vec![0, 0, 0, 0])),
            ],
        )
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

/// Conv -> instance norm -> optional ReLU.
#[derive(Debug)]
struct ConvNormAct {
    conv: ConvLayer,
    norm: InstanceNorm,
    relu: bool,
}

impl ConvNormAct {
    fn new(vs: &nn::Path, name: &str, cin: i64, cout: i64, kernel: i64, stride: i64, upsample: i64, relu: bool) -> Self {
        let vs = vs / name;
        Self { conv: ConvLayer::new(&vs / "c", cin, cout, kernel, stride, upsample), norm: InstanceNorm::new(&vs / "norm", cout), relu }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let y = self.norm.forward(&self.conv.forward(x));
        if self.relu {
            y.relu()
        } else {
            y
        }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, name: &str) -> String {
        let y = self.conv.export(g, x, &format!("{name}.c"));
        let y = self.norm.export(g, &y, &format!("{name}.norm"));
        if self.relu {
            g.node("Relu", &[&y], vec![])
        } else {
            y
        }
    }
}

/// `x + norm(conv(relu(norm(conv(x)))))`.
#[derive(Debug)]
struct ResidualBlock {
    a: ConvNormAct,
    b: ConvNormAct,
}

impl ResidualBlock {
    fn new(vs: &nn::Path, name: &str, channels: i64) -> Self {
        let vs = vs / name;
        Self {
            a: ConvNormAct::new(&vs, "a", channels, channels, 3, 1, 1, true),
            b: ConvNormAct::new(&vs, "b", channels, channels, 3, 1, 1, false),
        }
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
    out: ConvLayer,
}

impl TransformerNet {
    pub fn new(vs: &nn::Path, config: TransformerConfig) -> Self {
        let c = config.base_channels;
        let down = vec![
            ConvNormAct::new(vs, "down1", 3, c, 9, 1, 1, true),
            ConvNormAct::new(vs, "down2", c, 2 * c, 3, 2, 1, true),
            ConvNormAct::new(vs, "down3", 2 * c, 4 * c, 3, 2, 1, true),
        ];
        let residual = (0..config.residual_blocks).map(|i| ResidualBlock::new(vs, &format!("res{}", i + 1), 4 * c)).collect();
        let up = vec![ConvNormAct::new(vs, "up1", 4 * c, 2 * c, 3, 1, 2, true), ConvNormAct::new(vs, "up2", 2 * c, c, 3, 1, 2, true)];
        let out = ConvLayer::new(vs / "out", c, 3, 9, 1, 1);
        Self { config, down, residual, up, out }
    }

    pub fn config(&self) -> TransformerConfig {
        self.config
    }

    /// Exports the network as an ONNX model with the given metadata.
    pub fn to_onnx(&self, metadata: Vec<(String, String)>) -> Vec<u8> {
        use nst_runtime::contract::{INPUT_NAME, OUTPUT_NAME};
        let mut g = GraphBuilder::new();
        // Reflection-pad H and W up to a multiple of 4: pads = [0,0,0,0, 0,0,(4-h%4)%4,(4-w%4)%4].
        let shape = g.node("Shape", &[INPUT_NAME], vec![]);
        let (start, end) = (g.const_i64("hw_start", &[2]), g.const_i64("hw_end", &[4]));
        let hw = g.node("Slice", &[&shape, &start, &end], vec![]);
        let m = g.const_i64("multiple", &[SIZE_MULTIPLE]);
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
        x = self.out.export(&mut g, &x, "out.c");
        // Crop back to the input size, then 127.5 * (tanh + 1).
        let axes = g.const_i64("crop_axes", &[2, 3]);
        let starts = g.const_i64("crop_starts", &[0, 0]);
        x = g.node("Slice", &[&x, &starts, &hw, &axes], vec![]);
        let t = g.node("Tanh", &[&x], vec![]);
        let one = g.const_f32("one", 1.0);
        let half = g.const_f32("half_range", 127.5);
        let t = g.node("Add", &[&t, &one], vec![]);
        g.node_into("Mul", &[&t, &half], vec![], OUTPUT_NAME);
        g.finish(INPUT_NAME, OUTPUT_NAME, metadata, "nst style transfer network (Johnson et al. 2016), RGB 0-255 in and out")
    }
}

impl Module for TransformerNet {
    fn forward(&self, x: &Tensor) -> Tensor {
        let (h, w) = (x.size()[2], x.size()[3]);
        let (ph, pw) = ((SIZE_MULTIPLE - h % SIZE_MULTIPLE) % SIZE_MULTIPLE, (SIZE_MULTIPLE - w % SIZE_MULTIPLE) % SIZE_MULTIPLE);
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
        let y = self.out.forward(&y);
        let y = if ph > 0 || pw > 0 { y.narrow(2, 0, h).narrow(3, 0, w) } else { y };
        (y.tanh() + 1.0) * 127.5
    }
}

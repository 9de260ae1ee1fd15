//! Instance normalisation with statistics from outside the tile.
//!
//! An instance-norm layer normalises each channel by the mean and variance of the whole
//! picture it is given. Run over tiles, each tile would be normalised by its own
//! statistics: tiles would differ in brightness and contrast, and the seams would show.
//! So a model is rewritten into two graphs:
//!
//! - the **statistics graph**: the model as it is, answering the mean and variance that
//!   each `InstanceNormalization` node computes (run once on the whole picture, or on a
//!   smaller copy of it);
//! - the **tile graph**: each `InstanceNormalization(x, scale, bias)` replaced by
//!   `x * a + b`, with `a = scale / sqrt(var + eps)` and `b = bias - mean * a` as inputs
//!   (`[1, C, 1, 1]`), computed from those statistics.
//!
//! With the same statistics every tile computes the same function as the whole picture,
//! so overlapping tiles agree and the picture has no seams. Only models whose bytes read
//! back exactly through [`super::proto`] are rewritten (nst-train's own), so nothing in
//! the file is lost on the way.

use prost::Message;

use super::proto::*;

/// One instance-norm layer of a model, in graph order.
#[derive(Debug, Clone, PartialEq)]
pub struct NormLayer {
    pub channels: usize,
    pub scale: Vec<f32>,
    pub bias: Vec<f32>,
    pub epsilon: f32,
    /// Outputs of the statistics graph.
    pub mean_output: String,
    pub var_output: String,
    /// Inputs of the tile graph.
    pub a_input: String,
    pub b_input: String,
}

impl NormLayer {
    /// The tile graph's two inputs for this layer from its statistics: `(a, b)`.
    pub fn affine(&self, mean: &[f32], var: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let a: Vec<f32> = (0..self.channels).map(|c| self.scale[c] / (var[c] + self.epsilon).sqrt()).collect();
        let b = (0..self.channels).map(|c| self.bias[c] - mean[c] * a[c]).collect();
        (a, b)
    }
}

/// A model split for tiling.
#[derive(Debug)]
pub struct SharedNorm {
    /// The statistics graph (ONNX bytes): input `input`, outputs each layer's mean and
    /// variance.
    pub stats_graph: Vec<u8>,
    /// The tile graph (ONNX bytes): input `input` plus each layer's `a` and `b`, output
    /// `output`.
    pub tile_graph: Vec<u8>,
    pub layers: Vec<NormLayer>,
}

/// Splits a model (ONNX bytes) for tiling; the error says why it cannot be.
pub fn split(bytes: &[u8]) -> Result<SharedNorm, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model ({e})"))?;
    if model.encode_to_vec() != bytes {
        return Err("the model holds ONNX fields nst does not read (it was not written by nst-train); it runs untiled".into());
    }
    let graph = model.graph.clone().ok_or("the model has no graph")?;
    let initializer = |name: &str| graph.initializer.iter().find(|t| t.name == name);
    let floats = |name: &str| -> Result<Vec<f32>, String> {
        let t = initializer(name).ok_or_else(|| format!("the norm parameter '{name}' is not a constant"))?;
        if t.data_type != data_type::FLOAT || t.raw_data.len() % 4 != 0 {
            return Err(format!("the norm parameter '{name}' is not float32 data"));
        }
        Ok(t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    };
    let stat_type = |channels: usize| {
        let dim = |v: i64| Dimension { dim_value: Some(v), dim_param: None };
        Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim: vec![dim(1), dim(channels as i64), dim(1), dim(1)] }),
            }),
        })
    };
    let reduce = |input: &str, output: &str| NodeProto {
        input: vec![input.into()],
        output: vec![output.into()],
        name: output.into(),
        op_type: "ReduceMean".into(),
        attribute: vec![
            AttributeProto { name: "axes".into(), ints: vec![2, 3], r#type: attribute_type::INTS, ..Default::default() },
            AttributeProto { name: "keepdims".into(), i: 1, r#type: attribute_type::INT, ..Default::default() },
        ],
        domain: String::new(),
    };
    let op = |op_type: &str, inputs: [&str; 2], output: &str| NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op_type.into(),
        attribute: vec![],
        domain: String::new(),
    };

    let mut layers = Vec::new();
    let mut stats_nodes = graph.node.clone();
    let mut stats_outputs = Vec::new();
    let mut tile_nodes = Vec::new();
    let mut tile_inputs = graph.input.clone();
    for node in &graph.node {
        if node.op_type != "InstanceNormalization" || !node.domain.is_empty() {
            tile_nodes.push(node.clone());
            continue;
        }
        let k = layers.len();
        let [x, scale, bias] = node.input.as_slice() else { return Err(format!("InstanceNormalization '{}' does not have 3 inputs", node.name)) };
        let [y] = node.output.as_slice() else { return Err(format!("InstanceNormalization '{}' does not have 1 output", node.name)) };
        let (scale, bias) = (floats(scale)?, floats(bias)?);
        if scale.len() != bias.len() || scale.is_empty() {
            return Err(format!("InstanceNormalization '{}': scale and bias differ in length", node.name));
        }
        let epsilon = node.attribute.iter().find(|a| a.name == "epsilon").map_or(1e-5, |a| a.f);
        let layer = NormLayer {
            channels: scale.len(),
            scale,
            bias,
            epsilon,
            mean_output: format!("nst_norm{k}_mean"),
            var_output: format!("nst_norm{k}_var"),
            a_input: format!("nst_norm{k}_a"),
            b_input: format!("nst_norm{k}_b"),
        };
        // Statistics: mean, then the mean of the squared deviation (as the layer does).
        let dev = format!("nst_norm{k}_dev");
        let sq = format!("nst_norm{k}_sq");
        stats_nodes.push(reduce(x, &layer.mean_output));
        stats_nodes.push(op("Sub", [x, &layer.mean_output], &dev));
        stats_nodes.push(op("Mul", [&dev, &dev], &sq));
        stats_nodes.push(reduce(&sq, &layer.var_output));
        for name in [&layer.mean_output, &layer.var_output] {
            stats_outputs.push(ValueInfoProto { name: name.clone(), r#type: stat_type(layer.channels), doc_string: String::new() });
        }
        // Tiles: x * a + b.
        let scaled = format!("nst_norm{k}_scaled");
        tile_nodes.push(op("Mul", [x, &layer.a_input], &scaled));
        tile_nodes.push(op("Add", [&scaled, &layer.b_input], y));
        for name in [&layer.a_input, &layer.b_input] {
            tile_inputs.push(ValueInfoProto { name: name.clone(), r#type: stat_type(layer.channels), doc_string: String::new() });
        }
        layers.push(layer);
    }
    if layers.is_empty() {
        return Err("the model has no instance normalisation: its tiles need no shared statistics".into());
    }
    let with_graph = |g: GraphProto| ModelProto { graph: Some(g), ..model.clone() }.encode_to_vec();
    let stats_graph = with_graph(GraphProto { node: stats_nodes, output: stats_outputs, ..graph.clone() });
    let tile_graph = with_graph(GraphProto { node: tile_nodes, input: tile_inputs, ..graph });
    Ok(SharedNorm { stats_graph, tile_graph, layers })
}

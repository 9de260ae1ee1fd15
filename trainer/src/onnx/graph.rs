//! A small builder for ONNX graphs: named values, initializers from tch tensors, and
//! nodes with attributes. The network's modules emit themselves through it.

use prost::Message;
use tch::{Kind, Tensor};

use super::proto::*;

/// ONNX opset the exporter targets.
pub const OPSET: i64 = 17;
/// IR version matching opset 17 (ONNX 1.12).
pub const IR_VERSION: i64 = 8;

/// An attribute value.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
}

#[derive(Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    counter: usize,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh value name with a readable prefix.
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }

    /// Adds a float32 initializer holding a copy of `t` and returns its name.
    pub fn weight(&mut self, name: &str, t: &Tensor) -> String {
        let t = t.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
        let values: Vec<f32> = Vec::<f32>::try_from(t.flatten(0, -1)).expect("float tensor converts to Vec<f32>");
        self.initializers.push(TensorProto {
            dims: t.size(),
            data_type: data_type::FLOAT,
            name: name.to_string(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name.to_string()
    }

    /// Adds an int64 constant initializer and returns its name.
    pub fn const_i64(&mut self, prefix: &str, values: &[i64]) -> String {
        let name = self.fresh(prefix);
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: data_type::INT64,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// Adds a float32 scalar constant and returns its name.
    pub fn const_f32(&mut self, prefix: &str, value: f32) -> String {
        let name = self.fresh(prefix);
        self.initializers.push(TensorProto {
            dims: vec![],
            data_type: data_type::FLOAT,
            name: name.clone(),
            raw_data: value.to_le_bytes().to_vec(),
        });
        name
    }

    /// Adds a float32 vector constant and returns its name.
    pub fn const_f32_vec(&mut self, prefix: &str, values: &[f32]) -> String {
        let name = self.fresh(prefix);
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: data_type::FLOAT,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// Adds a node with one output and returns the output's name. An empty input name
    /// stands for an omitted optional input.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.node_into(op, inputs, attrs, &out);
        out
    }

    /// Adds a node writing to a chosen output name.
    pub fn node_into(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>, output: &str) {
        let attribute = attrs
            .into_iter()
            .map(|(name, value)| {
                let mut a = AttributeProto { name: name.to_string(), ..Default::default() };
                match value {
                    Attr::Int(i) => (a.i, a.r#type) = (i, attribute_type::INT),
                    Attr::Ints(v) => (a.ints, a.r#type) = (v, attribute_type::INTS),
                    Attr::Float(f) => (a.f, a.r#type) = (f, attribute_type::FLOAT),
                    Attr::Str(s) => (a.s, a.r#type) = (s.as_bytes().to_vec(), attribute_type::STRING),
                }
                a
            })
            .collect();
        let name = format!("{op}_{}", self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name,
            op_type: op.to_string(),
            attribute,
            domain: String::new(),
        });
    }

    /// Serialises the graph as a model. `input` and `output` are float32 `[1, 3, H, W]`
    /// with symbolic H and W.
    pub fn finish(self, input: &str, output: &str, metadata: Vec<(String, String)>, doc: &str) -> Vec<u8> {
        let image_type = || {
            let dim = |v: Option<i64>, p: Option<&str>| Dimension { dim_value: v, dim_param: p.map(str::to_string) };
            Some(TypeProto {
                tensor_type: Some(TypeProtoTensor {
                    elem_type: data_type::FLOAT,
                    shape: Some(TensorShapeProto {
                        dim: vec![dim(Some(1), None), dim(Some(3), None), dim(None, Some("height")), dim(None, Some("width"))],
                    }),
                }),
            })
        };
        let model = ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "nst-train".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            domain: String::new(),
            model_version: 1,
            doc_string: doc.to_string(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: "nst".into(),
                initializer: self.initializers,
                doc_string: String::new(),
                input: vec![ValueInfoProto { name: input.into(), r#type: image_type(), doc_string: "RGB, 0-255".into() }],
                output: vec![ValueInfoProto { name: output.into(), r#type: image_type(), doc_string: "RGB, 0-255".into() }],
            }),
            metadata_props: metadata.into_iter().map(|(key, value)| StringStringEntryProto { key, value }).collect(),
        };
        model.encode_to_vec()
    }
}

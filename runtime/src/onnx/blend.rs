//! Blending models in weight space: one network whose weights are the weighted mean of
//! several models' weights, so a mix of styles costs what one style costs.
//!
//! This gives a real mix only for models of one lineage: the same graph (architecture,
//! hyperparameters, every node) fine-tuned from one shared start, as the bundled styles
//! of each variant are. Models that differ in any node or weight shape cannot be mixed
//! this way ([`weight_blend`] says why) and are blended by their outputs instead (see
//! [`crate::blend`]). Only files whose bytes read back exactly through
//! [`super::proto`] are mixed (nst-train's own), so nothing in them is lost.

use prost::Message;

use super::proto::*;

/// Why two models cannot be mixed in weight space (then their outputs are mixed).
#[derive(Debug, Clone, PartialEq)]
pub struct Incompatible(pub String);

impl std::fmt::Display for Incompatible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The weighted mean of the models' float weights (`parts`: ONNX bytes and weight; the
/// weights are used as given: they should sum to 1), as ONNX bytes. The graph and
/// metadata are the first model's, with `metadata` entries replacing or adding keys
/// (`None` removes the key).
pub fn weight_blend(parts: &[(&[u8], f32)], metadata: &[(&str, Option<String>)]) -> Result<Vec<u8>, Incompatible> {
    let no = |s: String| Incompatible(s);
    let (first, rest) = parts.split_first().ok_or_else(|| no("nothing to blend".into()))?;
    let decode = |bytes: &[u8], i: usize| -> Result<ModelProto, Incompatible> {
        let model = ModelProto::decode(bytes).map_err(|e| no(format!("model {} is not an ONNX model ({e})", i + 1)))?;
        if model.encode_to_vec() != bytes {
            return Err(no(format!("model {} holds ONNX fields nst does not read (it was not written by nst-train)", i + 1)));
        }
        Ok(model)
    };
    let mut out = decode(first.0, 0)?;
    let base_graph = out.graph.as_ref().ok_or_else(|| no("model 1 has no graph".into()))?;
    let shape_of = |g: &GraphProto| -> Vec<(String, Vec<i64>, i32)> { g.initializer.iter().map(|t| (t.name.clone(), t.dims.clone(), t.data_type)).collect() };
    let base_shapes = shape_of(base_graph);
    for (name, _, ty) in &base_shapes {
        let t = base_graph.initializer.iter().find(|t| &t.name == name).expect("listed from the graph");
        if *ty == data_type::FLOAT && t.raw_data.len() % 4 != 0 {
            return Err(no(format!("weight '{name}' of model 1 is not float32 data")));
        }
    }
    // Weighted sum in f64 over the float initializers; others (shapes, indices) must be equal.
    let mut sums: Vec<Option<Vec<f64>>> = base_graph
        .initializer
        .iter()
        .map(|t| (t.data_type == data_type::FLOAT).then(|| floats(&t.raw_data).map(|v| v as f64 * first.1 as f64).collect()))
        .collect();
    let base_floats = kernels(base_graph);
    for (i, (bytes, weight)) in rest.iter().enumerate() {
        let i = i + 1;
        let model = decode(bytes, i)?;
        let graph = model.graph.as_ref().ok_or_else(|| no(format!("model {} has no graph", i + 1)))?;
        if graph.node != base_graph.node || graph.input != base_graph.input || graph.output != base_graph.output {
            return Err(no(format!("model {} is a different network (its layers differ from model 1's)", i + 1)));
        }
        if shape_of(graph) != base_shapes {
            return Err(no(format!("model {} has weights of other shapes than model 1's", i + 1)));
        }
        let other = kernels(graph);
        let kinship = cosine(&base_floats, &other);
        tracing::debug!("model {} and model 1: weights' cosine {kinship:.3}", i + 1);
        if kinship < MIN_KINSHIP {
            return Err(no(format!(
                "model {} and model 1 do not share a start (their weights are unrelated: cosine {kinship:.2}, below {MIN_KINSHIP})",
                i + 1
            )));
        }
        for ((t, base), sum) in graph.initializer.iter().zip(&base_graph.initializer).zip(sums.iter_mut()) {
            match sum {
                Some(sum) => {
                    if t.raw_data.len() != base.raw_data.len() {
                        return Err(no(format!("weight '{}' of model {} has another size", t.name, i + 1)));
                    }
                    for (s, v) in sum.iter_mut().zip(floats(&t.raw_data)) {
                        *s += v as f64 * *weight as f64;
                    }
                }
                None if t.raw_data != base.raw_data => {
                    return Err(no(format!("constant '{}' of model {} differs from model 1's", t.name, i + 1)));
                }
                None => {}
            }
        }
    }
    let graph = out.graph.as_mut().expect("checked above");
    for (t, sum) in graph.initializer.iter_mut().zip(sums) {
        if let Some(sum) = sum {
            t.raw_data = sum.into_iter().flat_map(|v| (v as f32).to_le_bytes()).collect();
        }
    }
    for (key, value) in metadata {
        out.metadata_props.retain(|p| p.key != *key);
        if let Some(value) = value {
            out.metadata_props.push(StringStringEntryProto { key: key.to_string(), value: value.clone() });
        }
    }
    Ok(out.encode_to_vec())
}

/// The cosine of two models' kernels (see [`kernels`]): near 1 for models fine-tuned
/// from one start, near 0 for networks trained from different random weights, whose
/// mean is no mix of either.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        ab += *x as f64 * *y as f64;
        aa += *x as f64 * *x as f64;
        bb += *y as f64 * *y as f64;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (ab / (aa.sqrt() * bb.sqrt())) as f32
}

/// Below this [`cosine`] two networks are taken as unrelated (measured: see README,
/// "Blending styles").
pub const MIN_KINSHIP: f32 = 0.5;

/// A graph's float weights of two dimensions or more (the convolution kernels), as one
/// vector: the norms' scales (all near 1) and biases would make any two networks look
/// alike.
fn kernels(graph: &GraphProto) -> Vec<f32> {
    graph.initializer.iter().filter(|t| t.data_type == data_type::FLOAT && t.dims.len() >= 2).flat_map(|t| floats(&t.raw_data)).collect()
}

fn floats(raw: &[u8]) -> impl Iterator<Item = f32> + '_ {
    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(weights: &[f32], op: &str) -> Vec<u8> {
        let t = TensorProto {
            dims: vec![1, weights.len() as i64],
            data_type: data_type::FLOAT,
            name: "w".into(),
            raw_data: weights.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        let node = NodeProto { input: vec!["input".into(), "w".into()], output: vec!["output".into()], name: "n".into(), op_type: op.into(), ..Default::default() };
        let graph = GraphProto { node: vec![node], initializer: vec![t], ..Default::default() };
        ModelProto {
            graph: Some(graph),
            metadata_props: vec![StringStringEntryProto { key: "nst.style_name".into(), value: "a".into() }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn weights_are_mixed_and_metadata_replaced() {
        let (a, b) = (model(&[0.0, 10.0], "Mul"), model(&[4.0, 20.0], "Mul"));
        let out = weight_blend(&[(&a, 0.75), (&b, 0.25)], &[("nst.style_name", Some("mix".into())), ("nst.blend", Some("[]".into())), ("nst.painting", None)]).unwrap();
        let m = ModelProto::decode(out.as_slice()).unwrap();
        let w: Vec<f32> = floats(&m.graph.unwrap().initializer[0].raw_data).collect();
        assert_eq!(w, vec![1.0, 12.5]);
        let props: Vec<(&str, &str)> = m.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        assert_eq!(props, vec![("nst.style_name", "mix"), ("nst.blend", "[]")]);
    }

    #[test]
    fn different_networks_are_refused() {
        let (a, b) = (model(&[0.0, 1.0], "Mul"), model(&[0.0, 1.0], "Add"));
        assert!(weight_blend(&[(&a, 0.5), (&b, 0.5)], &[]).unwrap_err().0.contains("different network"));
        let c = model(&[0.0, 1.0, 2.0], "Mul");
        assert!(weight_blend(&[(&a, 0.5), (&c, 0.5)], &[]).unwrap_err().0.contains("other shapes"));
        assert!(weight_blend(&[(&a, 0.5), (b"not onnx", 0.5)], &[]).is_err());
    }

    #[test]
    fn networks_from_different_starts_are_refused() {
        let (a, b) = (model(&[1.0, 0.0, 1.0, 0.0], "Mul"), model(&[0.0, 1.0, 0.0, -1.0], "Mul"));
        let why = weight_blend(&[(&a, 0.5), (&b, 0.5)], &[]).unwrap_err().0;
        assert!(why.contains("do not share a start") && why.contains("cosine 0.00"), "{why}");
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
    }
}

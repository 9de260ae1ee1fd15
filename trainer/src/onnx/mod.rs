//! ONNX export without Python: protobuf messages ([`proto`]) and a graph builder
//! ([`graph`]). The network's modules describe themselves through the builder (see
//! `crate::transformer`), next to their `forward`, so the two cannot drift apart.

pub mod graph;
/// The protobuf messages live in the runtime, which rewrites models for tiling.
pub use nst_runtime::onnx::proto;

pub use graph::{Attr, GraphBuilder};

//! ONNX export without Python: protobuf messages ([`proto`]) and a graph builder
//! ([`graph`]). The network's modules describe themselves through the builder (see
//! `crate::transformer`), next to their `forward`, so the two cannot drift apart.

pub mod graph;
pub mod proto;

pub use graph::{Attr, GraphBuilder};

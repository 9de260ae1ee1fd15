//! ONNX files as data: the protobuf messages ([`proto`], shared with the trainer's
//! exporter) and the rewrite that lets a network run over tiles with shared
//! instance-norm statistics ([`shared_norm`]).

pub mod blend;
pub mod proto;
pub mod shared_norm;

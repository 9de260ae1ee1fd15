//! nst trainer: the style network ([`transformer`]), its ONNX export ([`onnx`],
//! [`export`]), and training with VGG-19 perceptual losses.

pub mod checkpoint;
pub mod classic;
pub mod data;
pub mod device;
pub mod eval;
pub mod export;
pub mod lbfgs;
pub mod losses;
pub mod onnx;
pub mod optim;
pub mod train;
pub mod transformer;
pub mod vgg;

pub use transformer::{TransformerConfig, TransformerNet};

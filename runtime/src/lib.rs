//! nst runtime: applies trained style-transfer networks (ONNX files written by `nst-train`)
//! to images through ONNX Runtime.
//!
//! - [`contract`]: what an nst model file must look like (tensor names, metadata keys).
//! - [`imageio`]: image decoding with limits and EXIF orientation, atomic saving, and
//!   pixel <-> tensor conversion (shared with the trainer).
//! - [`fsio`]: atomic file writing (temporary file + rename), used for every output.
//! - [`color`]: strength blending and colour preservation.
//! - [`ortlib`]: finding and loading libonnxruntime.
//! - [`ep`]: hardware (execution provider) selection.
//! - [`model`]: loading and validating a model, running it on an image.
//! - [`bundled`]: the bundled style models in `weights/`.
//! - [`blend`]: blends of styles (`a:0.6,b:0.4`), in weight space or by their outputs.
//! - [`batch`]: `nst stylize` over many files, with a report of what failed.
//! - [`draw`]: boxes and bitmap-font text on a framebuffer (live overlay, sheets).
//! - [`sheet`]: `nst sheet`: one photo in every bundled style, as a labelled contact sheet.
//! - [`live`]: `nst live`: camera, video file or test pattern -> style network -> window.
//! - [`serve`]: `nst serve`: the HTTP API (axum), its workers, jobs and metrics.
//! - [`signals`]: stopping cleanly on SIGINT, SIGTERM and SIGHUP (exit status 128 + signal).
//! - [`ffmpeg`]: ffmpeg and ffprobe as tools (names, checks, messages, containers).
//! - [`video`]: `nst video`: video files through ffmpeg, with flicker reduction.

pub mod batch;
pub mod blend;
pub mod bundled;
pub mod color;
pub mod contract;
pub mod draw;
pub mod ep;
pub mod error;
pub mod ffmpeg;
pub mod fsio;
pub mod imageio;
pub mod live;
pub mod logging;
pub mod model;
pub mod onnx;
pub mod ortlib;
pub mod plan;
pub mod serve;
pub mod sheet;
pub mod signals;
pub mod stroke;
pub mod tiling;
pub mod video;

pub use error::{Error, Result};

//! Benchmarks for nst: `cargo bench -p nst-benches` runs the criterion benchmarks in
//! `benches/pipeline.rs`; `benches/compare_python.sh` compares `nst stylize` with a plain
//! Python + onnxruntime loop. `make bench` runs both.

//! The exported ONNX model computes what the tch network computes: a randomly
//! initialised network is exported and run through ONNX Runtime (via the runtime
//! library) and libtorch on the same pixels, at square, odd and non-square sizes.

use nst_runtime::model::{SessionConfig, StyleModel};
use nst_runtime::ep::Provider;
use nst_trainer::{export, TransformerConfig, TransformerNet};
use tch::nn::Module;
use tch::{Device, Kind, Tensor};

fn random_image(w: u32, h: u32, seed: u32) -> Vec<f32> {
    // Smooth structure plus noise, in 0-255, deterministic.
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut out = Vec::with_capacity((3 * w * h) as usize);
    for c in 0..3u32 {
        for y in 0..h {
            for x in 0..w {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (state % 64) as f32;
                let smooth = 96.0 + 80.0 * ((x as f32 * 0.07 + c as f32).sin() * (y as f32 * 0.05).cos());
                out.push((smooth + noise - 32.0).clamp(0.0, 255.0));
            }
        }
    }
    out
}

#[test]
fn onnx_matches_libtorch_at_odd_and_non_square_sizes() {
    tch::manual_seed(7);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    // Non-default width and depth: the exporter must follow the configuration.
    let config = TransformerConfig { base_channels: 16, residual_blocks: 3 };
    let net = TransformerNet::new(&vs.root(), config);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.onnx");
    export::write_onnx(&path, &net, &export::model_info(config, "random", None, None, None)).unwrap();

    let mut model = StyleModel::load(&path, &SessionConfig { provider: Provider::Cpu, threads: Some(1) }).unwrap();
    assert!(!model.info().trained);
    assert_eq!(model.info().hyperparameters["base_channels"], 16);

    for (i, &(w, h)) in [(64u32, 64u32), (257, 319), (319, 257), (90, 33), (8, 8)].iter().enumerate() {
        let pixels = random_image(w, h, i as u32 + 1);
        let onnx = model.run_chw(pixels.clone(), w, h).unwrap();
        let torch = tch::no_grad(|| {
            let x = Tensor::from_slice(&pixels).reshape([1, 3, h as i64, w as i64]);
            net.forward(&x)
        });
        assert_eq!(torch.size(), vec![1, 3, h as i64, w as i64], "libtorch keeps the size");
        let torch: Vec<f32> = Vec::try_from(torch.to_kind(Kind::Float).flatten(0, -1)).unwrap();
        assert_eq!(onnx.len(), torch.len());
        let max_diff = onnx.iter().zip(&torch).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(max_diff <= 1e-2, "{w}x{h}: ONNX Runtime and libtorch differ by up to {max_diff}");
        // The comparison means something only if the output is not flat.
        let (min, max) = torch.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(max - min > 20.0, "{w}x{h}: output range {min}..{max} is too flat to compare");
        assert!(min >= 0.0 && max <= 255.0, "output must stay in 0-255");
    }
}

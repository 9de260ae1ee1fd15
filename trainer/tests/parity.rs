//! The exported ONNX model computes what the tch network computes: a randomly
//! initialised network is exported and run through ONNX Runtime (via the runtime
//! library) and libtorch on the same pixels, at square, odd and non-square sizes.

use nst_runtime::model::{SessionConfig, StyleModel};
use nst_runtime::ep::Provider;
use nst_trainer::transformer::{Family, Norm, Output};
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

/// Exports a randomly initialised network of `config` and checks ONNX Runtime against
/// libtorch at square, odd and non-square sizes.
fn check_parity(config: TransformerConfig, seed: i64, sizes: &[(u32, u32)]) {
    tch::manual_seed(seed);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let net = TransformerNet::new(&vs.root(), config);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.onnx");
    export::write_onnx(&path, &net, &export::model_info(config, "random", None, None, None)).unwrap();

    let mut model = StyleModel::load(&path, &SessionConfig { provider: Provider::Cpu, threads: Some(1), tiling: None }).unwrap();
    let info = model.info().clone();
    assert!(!info.trained);
    assert_eq!(info.format_version, nst_runtime::contract::FORMAT_VERSION);
    assert_eq!(info.architecture, config.family.architecture());
    assert_eq!(info.hyperparameters["base_channels"], config.base_channels);
    assert_eq!(serde_json::from_value::<TransformerConfig>(info.hyperparameters.clone()).unwrap(), config, "the metadata describes the network");

    for (i, &(w, h)) in sizes.iter().enumerate() {
        let pixels = random_image(w, h, i as u32 + 1);
        let onnx = model.run_chw(pixels.clone(), w, h).unwrap();
        let torch = tch::no_grad(|| {
            let x = Tensor::from_slice(&pixels).reshape([1, 3, h as i64, w as i64]);
            net.forward(&x)
        });
        assert_eq!(torch.size(), vec![1, 3, h as i64, w as i64], "{config:?}: libtorch keeps the size");
        let torch: Vec<f32> = Vec::try_from(torch.to_kind(Kind::Float).flatten(0, -1)).unwrap();
        assert_eq!(onnx.len(), torch.len());
        let max_diff = onnx.iter().zip(&torch).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        // Without normalisation a random network's activations grow into the thousands, and
        // float rounding with them (and with the convolution algorithm libtorch picks for the
        // threads it has); a wiring mistake would still differ by tens of levels.
        let tolerance = match (config.family, config.norm) {
            (Family::Fast, Norm::None) => 0.5,
            (_, Norm::BelowFull) => 0.1,
            _ => 1e-2,
        };
        assert!(max_diff <= tolerance, "{config:?} {w}x{h}: ONNX Runtime and libtorch differ by up to {max_diff}");
        // The comparison means something only if the output is not flat.
        let (min, max) = torch.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(max - min > 20.0, "{config:?} {w}x{h}: output range {min}..{max} is too flat to compare");
        assert!(min >= 0.0 && max <= 255.0, "output must stay in 0-255");
    }
}

#[test]
fn full_network_onnx_matches_libtorch_at_odd_and_non_square_sizes() {
    // Non-default width and depth: the exporter must follow the configuration.
    let config = TransformerConfig { base_channels: 16, residual_blocks: 3, ..TransformerConfig::full() };
    check_parity(config, 7, &[(64, 64), (257, 319), (319, 257), (90, 33), (8, 8)]);
}

#[test]
fn networks_with_filter_response_norm_match_libtorch() {
    let full = TransformerConfig { base_channels: 8, residual_blocks: 2, norm: Norm::Frn, ..TransformerConfig::full() };
    check_parity(full, 17, &[(64, 64), (57, 41), (8, 8)]);
    let fast = TransformerConfig { norm: Norm::Frn, ..TransformerConfig::fast() };
    check_parity(fast, 19, &[(64, 48), (17, 23)]);
}

#[test]
fn an_frn_network_has_the_tlu_thresholds_and_no_instance_norm() {
    // A full network with FRN is a different network: its weights cannot start from an
    // instance-norm one, and the export holds no InstanceNormalization.
    let frn = TransformerConfig { norm: Norm::Frn, ..TransformerConfig::full() };
    assert!(!frn.same_weights_as(&TransformerConfig::full()));
    assert!(TransformerConfig::full().same_weights_as(&TransformerConfig { norm: Norm::Instance, ..TransformerConfig::full() }));
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let net = TransformerNet::new(&vs.root(), TransformerConfig { base_channels: 4, residual_blocks: 1, ..frn });
    let names: Vec<String> = vs.variables().into_keys().collect();
    // down1-3, up1-2 and the residual block's first conv end in a TLU; its second has none.
    assert_eq!(names.iter().filter(|n| n.ends_with(".tau")).count(), 6, "{names:?}");
    let onnx = String::from_utf8_lossy(&net.to_onnx(vec![])).into_owned();
    assert!(!onnx.contains("InstanceNormalization") && onnx.contains("ReduceMean"));
}

#[test]
fn a_full_network_without_norm_at_full_resolution_matches_libtorch_and_starts_from_an_instance_norm_one() {
    let below = TransformerConfig { base_channels: 8, residual_blocks: 2, norm: Norm::BelowFull, ..TransformerConfig::full() };
    check_parity(below, 23, &[(64, 64), (57, 41), (8, 8)]);
    // Its weights are the instance-norm network's minus the norms of down1 and up2.
    let names = |config| {
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let _net = TransformerNet::new(&vs.root(), config);
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        names
    };
    let instance = TransformerConfig { norm: Norm::Instance, ..below };
    let (mine, theirs) = (names(below), names(instance));
    let dropped: Vec<&String> = theirs.iter().filter(|n| !mine.contains(n)).collect();
    assert!(mine.iter().all(|n| theirs.contains(n)), "{mine:?}");
    assert_eq!(dropped.len(), 4, "the affine weights of two instance norms: {dropped:?}");
    assert!(dropped.iter().all(|n| n.starts_with("down1.norm") || n.starts_with("up2.norm")), "{dropped:?}");
    assert!(below.can_start_from(&instance) && !instance.can_start_from(&below));
    assert!(!below.same_weights_as(&instance));
    assert!(!below.can_start_from(&TransformerConfig { residual_blocks: 3, ..instance }));
}

#[test]
fn format_1_tanh_output_still_exports_and_matches() {
    let config = TransformerConfig { base_channels: 8, residual_blocks: 1, output: Output::Tanh, ..TransformerConfig::full() };
    check_parity(config, 3, &[(64, 48), (33, 41)]);
}

#[test]
fn fast_network_onnx_matches_libtorch_at_odd_and_non_square_sizes() {
    for norm in [Norm::Deep, Norm::Instance, Norm::None] {
        let config = TransformerConfig { norm, ..TransformerConfig::fast() };
        check_parity(config, 11, &[(64, 64), (257, 319), (319, 257), (90, 33), (16, 16), (17, 23)]);
    }
    let shallow = TransformerConfig { downsamplings: 2, ..TransformerConfig::fast() };
    check_parity(shallow, 13, &[(64, 64), (90, 33), (16, 16)]);
}

#[test]
fn clamped_output_is_linear_inside_the_range_and_clamped_outside() {
    // The training output is unclamped; inference (and the export) clamp it.
    tch::manual_seed(5);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let net = TransformerNet::new(&vs.root(), TransformerConfig { base_channels: 8, residual_blocks: 1, ..TransformerConfig::fast() });
    // Push the output far outside 0-255 by scaling the last conv.
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            if name.starts_with("out") {
                let scaled = &t * 400.0;
                t.copy_(&scaled);
            }
        }
    });
    let x = Tensor::from_slice(&random_image(32, 32, 9)).reshape([1, 3, 32, 32]);
    let train = tch::no_grad(|| net.forward_train(&x));
    let infer = tch::no_grad(|| net.forward(&x));
    let (lo, hi) = (train.min().double_value(&[]), train.max().double_value(&[]));
    assert!(lo < -10.0 && hi > 265.0, "training output should leave 0-255 here: {lo}..{hi}");
    let expected = train.clamp(0.0, 255.0);
    assert!((infer - expected).abs().max().double_value(&[]) < 1e-4);
}

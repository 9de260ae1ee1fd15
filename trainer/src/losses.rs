//! Perceptual losses over VGG-19 features: content (feature MSE), style (Gram-matrix
//! MSE) and total variation.

use tch::{Reduction, Tensor};

/// Gram matrices of feature maps `[N, C, H, W]`, normalised by the number of positions:
/// `F Fᵀ / (H W)`, shape `[N, C, C]`.
pub fn gram(features: &Tensor) -> Tensor {
    let size = features.size();
    let (n, c, hw) = (size[0], size[1], size[2] * size[3]);
    let f = features.view([n, c, hw]);
    f.bmm(&f.transpose(1, 2)) / (hw as f64)
}

/// Mean squared error between feature maps.
pub fn content_loss(features: &Tensor, target: &Tensor) -> Tensor {
    features.mse_loss(target, Reduction::Mean)
}

/// [`content_loss`] where a mask is white: `mean(m (F - T)²)` over every position, with
/// the masks `[N, 1, H, W]` (0-1, at image resolution) averaged down to the features'
/// size. Zero masks give zero; all-white masks give [`content_loss`].
pub fn masked_content_loss(features: &Tensor, target: &Tensor, masks: &Tensor) -> Tensor {
    let size = features.size();
    let m = masks.adaptive_avg_pool2d([size[2], size[3]]).to_kind(features.kind());
    (m * (features - target).square()).mean(None)
}

/// Style loss of one layer: MSE between Gram matrices, divided by C² so every layer
/// weighs about the same whatever its width. `target_gram` is `[1, C, C]` (broadcast
/// over the batch) or `[N, C, C]`.
pub fn style_loss(features: &Tensor, target_gram: &Tensor) -> Tensor {
    gram_loss(&gram(features), target_gram)
}

/// [`style_loss`] of Gram matrices already computed (`[N, C, C]` against `[1, C, C]` or
/// `[N, C, C]`).
pub fn gram_loss(g: &Tensor, target_gram: &Tensor) -> Tensor {
    let c = g.size()[1] as f64;
    let target = target_gram.expand_as(g);
    g.mse_loss(&target, Reduction::Mean) / (c * c)
}

/// Total variation: mean absolute difference between neighbouring pixels, vertical
/// plus horizontal, of images `[N, 3, H, W]`.
pub fn tv_loss(images: &Tensor) -> Tensor {
    let size = images.size();
    let (h, w) = (size[2], size[3]);
    let dy = images.narrow(2, 1, h - 1) - images.narrow(2, 0, h - 1);
    let dx = images.narrow(3, 1, w - 1) - images.narrow(3, 0, w - 1);
    dy.abs().mean(None) + dx.abs().mean(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn gram_is_normalised_and_symmetric() {
        let f = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 0.0, 1.0, 0.0, 1.0]).view([1, 2, 2, 2]);
        let g = gram(&f);
        let v: Vec<f32> = Vec::try_from(g.flatten(0, -1)).unwrap();
        // Row 1 · row 1 = 1+4+9+16 = 30, / 4 positions.
        assert!((v[0] - 7.5).abs() < 1e-6);
        // Row 1 · row 2 = 2 + 4 = 6, / 4.
        assert!((v[1] - 1.5).abs() < 1e-6 && (v[2] - 1.5).abs() < 1e-6);
        assert!((v[3] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn losses_are_zero_at_target_and_positive_elsewhere() {
        let a = Tensor::rand([2, 4, 5, 6], (Kind::Float, tch::Device::Cpu));
        let b = &a + 0.5;
        assert_eq!(content_loss(&a, &a).double_value(&[]), 0.0);
        assert!(content_loss(&a, &b).double_value(&[]) > 0.2);
        assert!(style_loss(&a, &gram(&a)).double_value(&[]) < 1e-12);
        assert!(style_loss(&a, &gram(&b).narrow(0, 0, 1)).double_value(&[]) > 0.0);
        let flat = Tensor::ones([1, 3, 8, 8], (Kind::Float, tch::Device::Cpu));
        assert_eq!(tv_loss(&flat).double_value(&[]), 0.0);
        // A vertical step of 10 in one of 7 row-pairs: mean |dy| = 10/7, dx = 0.
        let step = Tensor::cat(&[Tensor::zeros([1, 3, 4, 8], (Kind::Float, tch::Device::Cpu)), Tensor::full([1, 3, 4, 8], 10.0, (Kind::Float, tch::Device::Cpu))], 2);
        assert!((tv_loss(&step).double_value(&[]) - 10.0 / 7.0).abs() < 1e-5);
    }

    #[test]
    fn masked_content_loss_counts_only_where_the_mask_is_white() {
        let cpu = (Kind::Float, tch::Device::Cpu);
        let a = Tensor::rand([2, 4, 4, 6], cpu);
        let b = Tensor::rand([2, 4, 4, 6], cpu);
        // Masks at twice the features' resolution, averaged down.
        let white = Tensor::ones([2, 1, 8, 12], cpu);
        let full = content_loss(&a, &b).double_value(&[]);
        assert!((masked_content_loss(&a, &b, &white).double_value(&[]) - full).abs() < 1e-6);
        assert_eq!(masked_content_loss(&a, &b, &white.zeros_like()).double_value(&[]), 0.0);
        // Left half white: only the left half's differences count.
        let left = Tensor::cat(&[Tensor::ones([2, 1, 8, 6], cpu), Tensor::zeros([2, 1, 8, 6], cpu)], 3);
        let b_right_changed = Tensor::cat(&[a.narrow(3, 0, 3), b.narrow(3, 3, 3)], 3);
        assert!(masked_content_loss(&a, &b_right_changed, &left).double_value(&[]).abs() < 1e-9);
        let b_left_changed = Tensor::cat(&[b.narrow(3, 0, 3), a.narrow(3, 3, 3)], 3);
        let expected = (&a - &b).narrow(3, 0, 3).square().sum(None).double_value(&[]) / (2.0 * 4.0 * 4.0 * 6.0);
        assert!((masked_content_loss(&a, &b_left_changed, &left).double_value(&[]) - expected).abs() < 1e-6);
    }
}

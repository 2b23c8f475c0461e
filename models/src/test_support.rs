//! Helpers the CPU kernels' unit tests share.

use burn::tensor::Tensor;

/// A tensor's values as f32, row-major.
pub fn floats<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Ours within 1e-5 of burn's, relative to burn's largest magnitude.
pub fn assert_within_1e5(case: &str, ours: &[f32], burns: &[f32]) {
    assert_eq!(ours.len(), burns.len(), "{case}");
    let scale = burns.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours.iter().zip(burns).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 1e-5 * scale, "{case}: off by {worst} of {scale}");
}

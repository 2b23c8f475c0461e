//! A glimpse of the picture while it is being made, straight from the latents: each pixel is a
//! fixed linear mix of the four latent channels (A1111's "Approx cheap" live preview for SD 1.x).
//! No VAE runs, so it costs nothing next to a denoising step; it is blurry and 1/8 of the size.

use burn::tensor::{DType, Tensor};
use image::RgbImage;

/// How much each latent channel adds to red, green and blue.
const MIX: [[f32; 3]; 4] = [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]];

/// The preview of the first picture in `latents` ([N, 4, h, w]).
pub fn approximate(latents: &Tensor<4>) -> RgbImage {
    let [_, c, h, w] = latents.dims();
    let values: Vec<f32> = latents.clone().cast(DType::F32).into_data().try_to_vec::<f32>().expect("f32 after cast");
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let mut rgb = [0.0f32; 3];
        for (channel, mix) in MIX.iter().enumerate().take(c) {
            let v = values[channel * h * w + y as usize * w + x as usize];
            for k in 0..3 {
                rgb[k] += v * mix[k];
            }
        }
        image::Rgb(rgb.map(|v| ((v + 1.0) / 2.0 * 255.0).clamp(0.0, 255.0) as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn the_preview_mixes_the_latent_channels() {
        // Pixel (0,0): channel 0 = 1, others 0 -> (0.298, 0.207, 0.208) -> 165, 153, 154.
        // Pixel (1,0): channel 3 = 1 -> (-0.184, -0.271, -0.473) -> 104, 92, 67.
        let mut v = vec![0.0f32; 4 * 2];
        v[0] = 1.0;
        v[3 * 2 + 1] = 1.0;
        let latents = Tensor::<4>::from_data(TensorData::new(v, [1, 4, 1, 2]), &Device::flex());
        let image = approximate(&latents);
        assert_eq!(image.dimensions(), (2, 1));
        assert_eq!(image.get_pixel(0, 0).0, [165, 153, 154]);
        assert_eq!(image.get_pixel(1, 0).0, [104, 92, 67]);
    }
}

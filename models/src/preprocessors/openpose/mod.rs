//! The `openpose` preprocessor: the body network on the photo, people assembled from its maps,
//! drawn as OpenPose skeletons (body only, as A1111's `openpose` module).
//!
//! Around the network the reference rescales with OpenCV (area down, Lanczos-4 up); here the
//! photo is scaled with a triangle filter and the maps with Lanczos-3, so a real photo's maps are
//! close to, not bit-identical with, A1111's. Everything after the maps (peaks, limbs, people,
//! drawing) is the reference's arithmetic and is tested as such.

pub mod body;
pub mod body_model;
pub mod draw;

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use image::{imageops, ImageBuffer, Luma, RgbImage};

use self::body::{assemble, find_peaks, Candidate, Maps, Person};
use self::body_model::BodyPoseModel;
use crate::checkpoint::{Checkpoint, CheckpointError};

/// The public weight file's name (lllyasviel/Annotators).
pub const WEIGHTS: &str = "body_pose_model.pth";

/// The reference's single scale: the picture's height scaled to half of 368.
const BOX_SIZE: f64 = 368.0;
const SCALE: f64 = 0.5;
const STRIDE: usize = 8;
const PAD_VALUE: f32 = 128.0;

pub struct OpenposeDetector {
    model: BodyPoseModel,
    device: Device,
}

/// Maps for every channel of `t` [1, C, h, w] resized to `size`, channel last.
fn resized_maps(t: Tensor<4>, crop: (usize, usize), size: (usize, usize)) -> Maps {
    let [_, c, h, w] = t.dims();
    let values: Vec<f32> = t.into_data().convert::<f32>().try_to_vec().expect("f32 maps");
    let (up_w, up_h) = (w * STRIDE, h * STRIDE);
    let mut out = vec![0f64; size.0 * size.1 * c];
    for ch in 0..c {
        let plane = ImageBuffer::<Luma<f32>, Vec<f32>>::from_raw(w as u32, h as u32, values[ch * h * w..(ch + 1) * h * w].to_vec())
            .expect("plane fits");
        let up = imageops::resize(&plane, up_w as u32, up_h as u32, imageops::FilterType::Lanczos3);
        let cropped = imageops::crop_imm(&up, 0, 0, crop.0 as u32, crop.1 as u32).to_image();
        let full = imageops::resize(&cropped, size.0 as u32, size.1 as u32, imageops::FilterType::Lanczos3);
        for (i, p) in full.pixels().enumerate() {
            out[i * c + ch] = p[0] as f64;
        }
    }
    Maps { width: size.0, height: size.1, channels: c, values: out }
}

impl OpenposeDetector {
    /// Loads `body_pose_model.pth` from `dir` (an annotator folder).
    pub fn load(dir: &Path, device: &Device) -> Result<Self, CheckpointError> {
        let file = Checkpoint::open(&dir.join(WEIGHTS))?;
        Ok(Self { model: BodyPoseModel::load(&file, device)?, device: device.clone() })
    }

    /// Part candidates and people in `photo` (RGB), positions in its pixels.
    pub fn detect(&self, photo: &RgbImage) -> (Vec<Candidate>, Vec<Person>) {
        let (w, h) = (photo.width() as usize, photo.height() as usize);
        let scale = SCALE * BOX_SIZE / h as f64;
        let (sw, sh) = (((w as f64 * scale) as u32).max(1), ((h as f64 * scale) as u32).max(1));
        let small = imageops::resize(photo, sw, sh, imageops::FilterType::Triangle);
        let (sw, sh) = (sw as usize, sh as usize);
        let (pw, ph) = (sw.div_ceil(STRIDE) * STRIDE, sh.div_ceil(STRIDE) * STRIDE);
        // BGR / 256 - 0.5, padded right and down with 128 (the reference's input).
        let mut input = vec![0f32; 3 * ph * pw];
        for y in 0..ph {
            for x in 0..pw {
                for c in 0..3 {
                    let v = if x < sw && y < sh { small.get_pixel(x as u32, y as u32)[2 - c] as f32 } else { PAD_VALUE };
                    input[(c * ph + y) * pw + x] = v / 256.0 - 0.5;
                }
            }
        }
        let x = Tensor::<4>::from_data(TensorData::new(input, [1, 3, ph, pw]), &self.device);
        let (paf, heat) = self.model.forward(x);
        let heatmaps = resized_maps(heat, (sw, sh), (w, h));
        let pafs = resized_maps(paf, (sw, sh), (w, h));
        let peaks = find_peaks(&heatmaps);
        assemble(&peaks, &pafs, h)
    }

    /// The control image for `photo` (already at detection size): skeletons on black.
    pub fn control_image(&self, photo: &RgbImage) -> RgbImage {
        let (candidates, people) = self.detect(photo);
        draw_people(&candidates, &people, photo.width(), photo.height(), photo.width(), photo.height())
    }
}

/// People found in a `width` x `height` picture drawn on a `canvas_w` x `canvas_h` canvas.
pub fn draw_people(candidates: &[Candidate], people: &[Person], width: u32, height: u32, canvas_w: u32, canvas_h: u32) -> RgbImage {
    let mut canvas = RgbImage::new(canvas_w, canvas_h);
    for person in people {
        let keypoints: [Option<(f64, f64)>; 18] =
            std::array::from_fn(|p| person.parts[p].map(|c| (candidates[c].x / width as f64, candidates[c].y / height as f64)));
        draw::draw_body(&mut canvas, &keypoints);
    }
    canvas
}

//! The ControlNet preprocessors against controlnet_aux (tests/reference/make_preprocessor_fixtures.py).

use crate::common;

use common::fixtures;
use keepsake_models::preprocessors::canny::canny;

fn fixture(name: &str) -> image::DynamicImage {
    image::open(fixtures().join("preprocessors").join(name)).unwrap()
}

/// A tensor of a fixture safetensors file (`preprocessors/<path>`), as f32.
fn f32_tensor(path: &str, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(fixtures().join("preprocessors").join(path)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor(name).unwrap();
    (view.shape().to_vec(), view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
}

/// Runs `forward` on the fixture's `input` of `file` and compares with its `output`: within
/// `tolerance` of the largest reference value (at least 1), which must not be all but zero.
fn network_matches(
    file: &str,
    device: &burn::tensor::Device,
    forward: impl Fn(burn::tensor::Tensor<4>) -> burn::tensor::TensorData,
    tolerance: f32,
) {
    network_output_matches(file, "input", "output", device, forward, tolerance)
}

/// [`network_matches`] with the fixture's input and output tensors named.
fn network_output_matches(
    file: &str,
    input: &str,
    output: &str,
    device: &burn::tensor::Device,
    forward: impl Fn(burn::tensor::Tensor<4>) -> burn::tensor::TensorData,
    tolerance: f32,
) {
    use burn::tensor::{Tensor, TensorData};
    let (shape, x) = f32_tensor(file, input);
    let out = forward(Tensor::<4>::from_data(TensorData::new(x, [shape[0], shape[1], shape[2], shape[3]]), device));
    let (shape, theirs) = f32_tensor(file, output);
    assert_eq!(out.shape().to_vec(), shape, "{file}: {output}");
    let ours: Vec<f32> = out.convert::<f32>().try_to_vec().unwrap();
    let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = ours.iter().zip(&theirs).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(scale > 0.01, "{file}: the reference is all but zero ({scale})");
    assert!(diff <= tolerance * scale.max(1.0), "{file}: {diff} from controlnet_aux (largest value {scale})");
}

#[test]
fn canny_matches_opencv_pixel_for_pixel() {
    let photo = fixture("photo.png").to_rgb8();
    for (low, high) in [(100, 200), (50, 150)] {
        let ours = canny(&photo, low, high);
        let theirs = fixture(&format!("canny-{low}-{high}.png")).to_rgb8();
        assert_eq!(ours.dimensions(), theirs.dimensions());
        let edges = theirs.pixels().filter(|p| p[0] == 255).count();
        let differ: Vec<(u32, u32)> =
            ours.enumerate_pixels().filter(|(x, y, p)| p[0] != theirs.get_pixel(*x, *y)[0]).map(|(x, y, _)| (x, y)).take(20).collect();
        assert!(edges > 1000, "the reference has {edges} edge pixels");
        assert!(differ.is_empty(), "canny {low}/{high}: pixels differ from cv2.Canny, e.g. {differ:?} ({edges} edge pixels)");
    }
}

mod openpose {
    use super::*;
    use burn::tensor::{Device, Tensor, TensorData};
    use keepsake_models::checkpoint::Checkpoint;
    use keepsake_models::preprocessors::openpose::body::{assemble, find_peaks, Maps};
    use keepsake_models::preprocessors::openpose::body_model::BodyPoseModel;
    use keepsake_models::preprocessors::openpose::{draw_people, OpenposeDetector};
    use safetensors::SafeTensors;

    fn dir() -> std::path::PathBuf {
        fixtures().join("preprocessors/openpose")
    }

    /// (shape, values) of a tensor in one of the fixture's safetensors files, as f64.
    fn tensor(file: &str, name: &str) -> (Vec<usize>, Vec<f64>) {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let view = st.tensor(name).unwrap();
        let values = match view.dtype() {
            safetensors::Dtype::F32 => view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            safetensors::Dtype::F16 => view.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
            other => panic!("{other:?}"),
        };
        (view.shape().to_vec(), values)
    }

    #[test]
    fn the_body_network_matches_controlnet_aux() {
        let device = Device::flex();
        let model = BodyPoseModel::load(&Checkpoint::open(&dir().join("body_pose_model.pth")).unwrap(), &device).unwrap();
        let (shape, x) = tensor("network.safetensors", "input");
        let x: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let (paf, heat) = model.forward(Tensor::<4>::from_data(TensorData::new(x, [shape[0], shape[1], shape[2], shape[3]]), &device));
        for (ours, name) in [(paf, "paf"), (heat, "heatmap")] {
            let (shape, theirs) = tensor("network.safetensors", name);
            assert_eq!(ours.dims().to_vec(), shape);
            let ours: Vec<f32> = ours.into_data().convert::<f32>().try_to_vec().unwrap();
            let scale = theirs.iter().fold(0f64, |m, v| m.max(v.abs()));
            let diff = ours.iter().zip(&theirs).fold(0f64, |m, (a, b)| m.max((*a as f64 - b).abs()));
            assert!(scale > 1e-2, "{name}: the reference is all but zero ({scale})");
            assert!(diff <= 1e-5 * scale.max(1.0), "{name}: {diff} from controlnet_aux (largest value {scale})");
        }
    }

    fn maps(name: &str) -> Maps {
        let (shape, values) = tensor("maps.safetensors", name);
        Maps { height: shape[0], width: shape[1], channels: shape[2], values }
    }

    #[test]
    fn peaks_limbs_and_people_match_controlnet_aux() {
        let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir().join("body.json")).unwrap()).unwrap();
        let (heat, paf) = (maps("heatmap"), maps("paf"));
        let (candidates, people) = assemble(&find_peaks(&heat), &paf, heat.height);
        let theirs = reference["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), theirs.len());
        for (c, t) in candidates.iter().zip(theirs) {
            let t: Vec<f64> = t.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!((c.x, c.y, c.id as f64), (t[0], t[1], t[3]));
            assert!((c.score - t[2]).abs() < 1e-12, "{c:?} vs {t:?}");
        }
        let theirs = reference["people"].as_array().unwrap();
        assert_eq!(people.len(), theirs.len());
        assert_eq!(people.len(), 2);
        for (p, t) in people.iter().zip(theirs) {
            let t: Vec<f64> = t.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let parts: Vec<f64> = p.parts.iter().map(|c| c.map(|c| c as f64).unwrap_or(-1.0)).collect();
            assert_eq!(parts, t[..18].to_vec());
            assert_eq!(p.count, t[19]);
            assert!((p.score - t[18]).abs() < 1e-9, "score {} vs {}", p.score, t[18]);
        }
    }

    #[test]
    fn skeletons_are_drawn_as_opencv_draws_them() {
        let (heat, paf) = (maps("heatmap"), maps("paf"));
        let (candidates, people) = assemble(&find_peaks(&heat), &paf, heat.height);
        let ours = draw_people(&candidates, &people, heat.width as u32, heat.height as u32, 512, 384);
        let theirs = image::open(dir().join("pose.png")).unwrap().to_rgb8();
        let differ: Vec<(u32, u32)> =
            ours.enumerate_pixels().filter(|(x, y, p)| *p != theirs.get_pixel(*x, *y)).map(|(x, y, _)| (x, y)).collect();
        let drawn = theirs.pixels().filter(|p| p.0 != [0, 0, 0]).count();
        assert!(drawn > 2000, "{drawn}");
        assert!(differ.is_empty(), "{} of {drawn} drawn pixels differ, e.g. {:?}", differ.len(), &differ[..differ.len().min(10)]);
    }

    #[test]
    fn a_file_for_another_network_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixtures().join("lora/kohya.safetensors"), dir.path().join("body_pose_model.pth")).unwrap();
        let err = OpenposeDetector::load(dir.path(), &Device::flex()).err().unwrap().to_string();
        assert!(err.contains("not the weights of the OpenPose body model") && err.contains("conv1_1.weight"), "{err}");
        std::fs::write(dir.path().join("body_pose_model.pth"), b"not a checkpoint").unwrap();
        let err = OpenposeDetector::load(dir.path(), &Device::flex()).err().unwrap().to_string();
        assert!(err.contains("cannot read the weights"), "{err}");
    }
}

mod mlsd {
    use super::*;
    use burn::tensor::Device;
    use keepsake_models::checkpoint::Checkpoint;
    use keepsake_models::preprocessors::mlsd::{decode_lines, draw_lines, MlsdDetector, MlsdModel};

    fn dir() -> std::path::PathBuf {
        fixtures().join("preprocessors/mlsd")
    }

    fn check_network(device: &Device) {
        let model = MlsdModel::load(&Checkpoint::open(&dir().join("mlsd_large_512_fp32.pth")).unwrap(), device).unwrap();
        network_matches("mlsd/network.safetensors", device, |x| model.forward(x).into_data(), 1e-4);
    }

    #[test]
    fn the_network_matches_controlnet_aux() {
        check_network(&Device::flex());
    }

    /// On a GPU box the booth runs the annotators on wgpu (here mesa's lavapipe).
    #[test]
    fn the_network_matches_controlnet_aux_on_wgpu() {
        if let Some(device) = common::wgpu_device() {
            check_network(&device);
        }
    }

    #[test]
    fn lines_are_decoded_and_drawn_as_controlnet_aux_does() {
        let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir().join("lines.json")).unwrap()).unwrap();
        let (shape, map) = f32_tensor("mlsd/tpmap.safetensors", "tpmap");
        let (h, w) = (reference["height"].as_u64().unwrap() as usize, reference["width"].as_u64().unwrap() as usize);
        let lines = decode_lines(&map, shape[2], shape[3], w, h, 0.1, 0.1);
        let theirs: Vec<Vec<f64>> = reference["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
            .collect();
        assert_eq!(lines.len(), theirs.len());
        assert_eq!(lines.len(), 4);
        for (ours, theirs) in lines.iter().zip(&theirs) {
            for (a, b) in ours.iter().zip(theirs) {
                assert!((a - b).abs() < 1e-9, "{ours:?} vs {theirs:?}");
            }
        }
        let ours = draw_lines(&lines, w as u32, h as u32);
        let theirs = image::open(dir().join("lines.png")).unwrap().to_rgb8();
        let drawn = theirs.pixels().filter(|p| p[0] == 255).count();
        assert!(drawn > 200, "{drawn}");
        assert!(ours == theirs, "the drawn lines differ from controlnet_aux's");
    }

    #[test]
    fn a_file_for_another_network_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixtures().join("preprocessors/openpose/body_pose_model.pth"), dir.path().join("mlsd_large_512_fp32.pth")).unwrap();
        let err = MlsdDetector::load(dir.path(), &Device::flex()).err().unwrap().to_string();
        assert!(err.contains("not the weights of M-LSD") && err.contains("backbone.features.0.0.weight"), "{err}");
    }
}

mod leres {
    use super::*;
    use burn::tensor::Device;
    use keepsake_models::checkpoint::Checkpoint;
    use keepsake_models::preprocessors::leres::{depth_picture, LeresDetector, LeresModel};

    fn check_network(device: &Device) {
        let file = Checkpoint::open(&fixtures().join("preprocessors/leres/res101.pth")).unwrap();
        let model = LeresModel::load(&file, device).unwrap();
        network_matches("leres/network.safetensors", device, |x| model.forward(x).into_data(), 1e-4);
    }

    #[test]
    fn the_depth_network_matches_controlnet_aux() {
        check_network(&Device::flex());
    }

    #[test]
    fn the_depth_network_matches_controlnet_aux_on_wgpu() {
        if let Some(device) = common::wgpu_device() {
            check_network(&device);
        }
    }

    #[test]
    fn the_depth_picture_is_controlnet_auxs() {
        let (shape, depth) = f32_tensor("leres/depth.safetensors", "depth");
        let (h, w) = (shape[0] as u32, shape[1] as u32);
        for (near, background) in [(0u32, 0u32), (10, 20)] {
            let ours = image::DynamicImage::ImageLuma8(depth_picture(&depth, w, h, near as f64, background as f64)).to_rgb8();
            let theirs = fixture(&format!("leres/depth-{near}-{background}.png")).to_rgb8();
            let differ = ours.pixels().zip(theirs.pixels()).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "thresholds {near}/{background}: {differ} pixels differ");
            assert!(theirs.pixels().any(|p| p[0] == 255) && theirs.pixels().any(|p| p[0] == 0));
        }
    }

    #[test]
    fn a_file_for_another_network_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixtures().join("preprocessors/mlsd/mlsd_large_512_fp32.pth"), dir.path().join("res101.pth")).unwrap();
        let err = LeresDetector::load(dir.path(), &Device::flex()).err().unwrap().to_string();
        assert!(err.contains("not the weights of LeReS depth") && err.contains("encoder_modules"), "{err}");
    }
}

mod depth_anything {
    use super::*;
    use burn::tensor::Device;
    use keepsake_models::preprocessors::depth_anything::{DepthAnythingDetector, DepthAnythingModel};

    fn dir() -> std::path::PathBuf {
        fixtures().join("preprocessors/depth_anything")
    }

    /// transformers' DepthAnythingForDepthEstimation: a square input (trained position grid)
    /// and a wider one (position embeddings interpolated bicubically).
    #[test]
    fn the_network_matches_transformers() {
        let device = Device::flex();
        let model = DepthAnythingModel::load(&dir(), &device).unwrap();
        for case in ["square", "wide"] {
            let (input, output) = (format!("{case}_input"), format!("{case}_output"));
            network_output_matches("depth_anything/network.safetensors", &input, &output, &device, |x| model.forward(x).into_data(), 1e-4);
        }
    }

    #[test]
    fn a_missing_or_foreign_folder_is_named() {
        let err = DepthAnythingDetector::load(std::path::Path::new("/nonexistent"), &Device::flex()).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/depth_anything_v2_small/config.json"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("depth_anything_v2_small");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("config.json"), r#"{"model_type": "clip"}"#).unwrap();
        let err = DepthAnythingDetector::load(tmp.path(), &Device::flex()).err().unwrap().to_string();
        assert!(err.contains("not a Depth Anything config"), "{err}");
    }
}

//! Preprocessors ("annotators") that turn the visitor's photo into ControlNet control images, in
//! the conventions of A1111's sd-webui-controlnet and the controlnet_aux package: the photo is
//! scaled so its short side is the processor resolution (each side rounded to a multiple of 64),
//! the detector runs there, and the control image comes back at that size (the ControlNet unit
//! then fits it to the picture with its resize mode).

pub mod canny;
pub mod control_image;
pub mod depth_anything;
mod layers;
pub mod leres;
pub mod mlsd;
pub mod opencv_draw;
pub mod openpose;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use burn::tensor::Device;
use image::{imageops, RgbImage};

use crate::checkpoint::CheckpointError;

/// A1111's default processor resolution.
pub const DEFAULT_RESOLUTION: u32 = 512;

/// Which preprocessor a ControlNet unit runs on the photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Module {
    /// The unit's image is the control image as it is.
    None,
    /// Canny edges with low/high hysteresis thresholds (A1111's threshold_a/threshold_b).
    Canny { low: u32, high: u32 },
    /// OpenPose body skeleton (18 keypoints).
    Openpose,
    /// Depth (LeReS, as the thesis used: `depth_leres`).
    Depth,
    /// Depth by Depth Anything V2 Small (`depth_anything_v2`).
    DepthAnything,
    /// M-LSD straight lines.
    Mlsd,
}

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("module=none takes the control image as it is: give the unit an image (image=FILE)")]
    NothingToDo,
    #[error("module={module} needs the annotator weights ({file}): {source}")]
    Weights { module: Module, file: &'static str, source: CheckpointError },
}

/// Where the annotators' weight files are (lllyasviel/Annotators' names: body_pose_model.pth,
/// ...) and the device their networks run on.
#[derive(Debug, Clone)]
pub struct Annotators {
    pub dir: PathBuf,
    pub device: Device,
}

impl Annotators {
    /// `$KEEPSAKE_ANNOTATORS`, else /var/lib/keepsake/annotators; on the CPU.
    pub fn from_env() -> Self {
        let dir =
            std::env::var_os("KEEPSAKE_ANNOTATORS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/keepsake/annotators"));
        Self { dir, device: Device::flex() }
    }
}

impl FromStr for Module {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "none" => Self::None,
            "canny" => Self::Canny { low: canny::DEFAULT_LOW, high: canny::DEFAULT_HIGH },
            "openpose" => Self::Openpose,
            "depth" | "depth_leres" => Self::Depth,
            "mlsd" => Self::Mlsd,
            "depth_anything_v2" | "depth_anything" => Self::DepthAnything,
            other => return Err(format!("unknown module {other:?} (use none, canny, openpose, depth, depth_anything_v2 or mlsd)")),
        })
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Canny { .. } => "canny",
            Self::Openpose => "openpose",
            Self::Depth => "depth",
            Self::Mlsd => "mlsd",
            Self::DepthAnything => "depth_anything_v2",
        })
    }
}

/// The size controlnet_aux's `resize_image` gives a `w` x `h` picture for `resolution`: the short
/// side scaled to `resolution`, each side then rounded to a multiple of 64.
pub fn detection_size(w: u32, h: u32, resolution: u32) -> (u32, u32) {
    let k = resolution as f64 / w.min(h) as f64;
    let round64 = |v: u32| (((v as f64 * k) / 64.0).round() as u32 * 64).max(64);
    (round64(w), round64(h))
}

/// `photo` at its detection size (Lanczos up, triangle down; OpenCV's Lanczos4/area in
/// controlnet_aux, so a photo that needs scaling is close to, not identical with, theirs).
pub fn resize_for_detection(photo: &RgbImage, resolution: u32) -> RgbImage {
    let (w, h) = detection_size(photo.width(), photo.height(), resolution);
    if (w, h) == photo.dimensions() {
        return photo.clone();
    }
    let filter = if w > photo.width() { imageops::FilterType::Lanczos3 } else { imageops::FilterType::Triangle };
    imageops::resize(photo, w, h, filter)
}

/// A module ready to run: its network loaded once, for every photo after.
pub enum Preprocessor {
    Canny { low: u32, high: u32 },
    Openpose(openpose::OpenposeDetector),
    Mlsd(mlsd::MlsdDetector),
    Depth(leres::LeresDetector),
    DepthAnything(depth_anything::DepthAnythingDetector),
}

impl Preprocessor {
    /// Loads `module`'s network from `annotators` (none for canny).
    pub fn load(module: Module, annotators: &Annotators) -> Result<Self, PreprocessError> {
        let weights = |file: &'static str| move |source| PreprocessError::Weights { module, file, source };
        match module {
            Module::None => Err(PreprocessError::NothingToDo),
            Module::Canny { low, high } => Ok(Self::Canny { low, high }),
            Module::Openpose => Ok(Self::Openpose(
                openpose::OpenposeDetector::load(&annotators.dir, &annotators.device).map_err(weights(openpose::WEIGHTS))?,
            )),
            Module::Mlsd => Ok(Self::Mlsd(mlsd::MlsdDetector::load(&annotators.dir, &annotators.device).map_err(weights(mlsd::WEIGHTS))?)),
            Module::Depth => {
                Ok(Self::Depth(leres::LeresDetector::load(&annotators.dir, &annotators.device).map_err(weights(leres::WEIGHTS))?))
            }
            Module::DepthAnything => Ok(Self::DepthAnything(
                depth_anything::DepthAnythingDetector::load(&annotators.dir, &annotators.device)
                    .map_err(weights(depth_anything::WEIGHTS))?,
            )),
        }
    }

    pub fn module(&self) -> Module {
        match self {
            Self::Canny { low, high } => Module::Canny { low: *low, high: *high },
            Self::Openpose(_) => Module::Openpose,
            Self::Mlsd(_) => Module::Mlsd,
            Self::Depth(_) => Module::Depth,
            Self::DepthAnything(_) => Module::DepthAnything,
        }
    }

    /// The control image for `photo` at processor resolution `resolution`.
    pub fn run(&self, photo: &RgbImage, resolution: u32) -> RgbImage {
        let input = resize_for_detection(photo, resolution);
        match self {
            Self::Canny { low, high } => image::DynamicImage::ImageLuma8(canny::canny(&input, *low, *high)).to_rgb8(),
            Self::Openpose(detector) => detector.control_image(&input),
            Self::Mlsd(detector) => detector.control_image(&input, mlsd::DEFAULT_SCORE, mlsd::DEFAULT_DISTANCE),
            // A1111's defaults: nothing removed near or far.
            Self::Depth(detector) => detector.control_image(&input, 0.0, 0.0),
            Self::DepthAnything(detector) => detector.control_image(&input),
        }
    }
}

impl Module {
    /// The control image for `photo` at processor resolution `resolution`, networks' weights
    /// from `annotators` (loaded for this one picture; keep a [`Preprocessor`] for more).
    pub fn run(&self, photo: &RgbImage, resolution: u32, annotators: &Annotators) -> Result<RgbImage, PreprocessError> {
        Ok(Preprocessor::load(*self, annotators)?.run(photo, resolution))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_sizes_follow_controlnet_aux() {
        assert_eq!(detection_size(512, 384, 384), (512, 384));
        assert_eq!(detection_size(640, 480, 512), (704, 512)); // 682.7 -> 704
        assert_eq!(detection_size(1920, 1080, 512), (896, 512)); // 910.2 -> 896
        assert_eq!(detection_size(300, 300, 512), (512, 512));
    }

    #[test]
    fn modules_are_named_as_a1111_and_the_cli_spell_them() {
        assert_eq!("canny".parse::<Module>().unwrap(), Module::Canny { low: 100, high: 200 });
        assert_eq!("depth_leres".parse::<Module>().unwrap(), Module::Depth);
        assert!("hed".parse::<Module>().unwrap_err().contains("use none, canny"));
        assert_eq!("depth_anything_v2".parse::<Module>().unwrap(), Module::DepthAnything);
        let photo = RgbImage::from_pixel(100, 80, image::Rgb([10, 20, 30]));
        let none = Annotators { dir: "/nonexistent".into(), device: Device::flex() };
        let edges = Module::Canny { low: 100, high: 200 }.run(&photo, 128, &none).unwrap();
        assert_eq!(edges.dimensions(), (192, 128)); // 160 -> 192 (rounded to 64), 128
        assert!(matches!(Module::None.run(&photo, 512, &none), Err(PreprocessError::NothingToDo)));
        let missing = Module::Openpose.run(&photo, 128, &none).unwrap_err().to_string();
        assert!(missing.contains("body_pose_model.pth") && missing.contains("/nonexistent"), "{missing}");
    }
}

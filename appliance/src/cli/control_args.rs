//! `--controlnet model=DIR,module=canny|none,image=FILE,weight=W,start=S,end=E,resize=crop`: one
//! ControlNet unit on the command line, and fitting its control image to the picture as A1111's
//! resize modes do. `module=none` takes `image` as the control image; any other module makes it
//! from `image` if given, else from the input photo.

use std::path::PathBuf;

use image::RgbImage;
use keepsake_models::components::controlnet::{ControlMode, ControlSettings};
pub use keepsake_models::preprocessors::control_image::{fit, ResizeMode};
use keepsake_models::preprocessors::{Annotators, Module, DEFAULT_RESOLUTION};

use crate::error::Error;

#[derive(Debug, Clone, PartialEq)]
pub struct ControlSpec {
    pub model: PathBuf,
    /// The control image (`module=none`), or the picture to preprocess instead of the photo.
    pub image: Option<PathBuf>,
    pub module: Module,
    /// The processor resolution (A1111's processor_res).
    pub resolution: u32,
    pub resize: ResizeMode,
    pub settings: ControlSettings,
}

/// Parses one `--controlnet` value.
pub fn parse_controlnet(s: &str) -> Result<ControlSpec, Error> {
    let mut model = None;
    let mut image = None;
    let mut module = Module::None;
    let (mut low, mut high) = (None, None);
    let mut resolution = DEFAULT_RESOLUTION;
    let (mut weight, mut start, mut end, mut resize) = (1.0f32, 0.0f64, 1.0f64, ResizeMode::CropAndResize);
    let mut mode = ControlMode::Balanced;
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            Error::new(format!("{part:?}"), "not key=value", "write the unit as --help shows: model=DIR,image=FILE,module=depth,weight=0.8")
        })?;
        let number = |v: &str| v.parse::<f64>().map_err(|_| Error::new(format!("{key}={v}"), "not a number", "write a number such as 0.8"));
        let named = |e: String| {
            Error::new(format!("{key}={value}"), e, "write the unit as --help shows: model=DIR,image=FILE,module=depth,weight=0.8")
        };
        match key {
            "model" => model = Some(PathBuf::from(value)),
            "image" => image = Some(PathBuf::from(value)),
            "module" => module = value.parse().map_err(named)?,
            "low" | "threshold_a" => low = Some(number(value)? as u32),
            "high" | "threshold_b" => high = Some(number(value)? as u32),
            "res" | "processor_res" => {
                resolution = number(value)? as u32;
                if !(64..=2048).contains(&resolution) {
                    return Err(Error::new(
                        format!("{key}={value}"),
                        "out of range",
                        "use a processor resolution from 64 to 2048 (512 is usual)",
                    ));
                }
            }
            "weight" => weight = number(value)? as f32,
            "start" => start = number(value)?,
            "end" => end = number(value)?,
            "resize" => {
                resize = match value {
                    "just" | "just-resize" => ResizeMode::JustResize,
                    "crop" | "crop-and-resize" => ResizeMode::CropAndResize,
                    "fill" | "resize-and-fill" => ResizeMode::ResizeAndFill,
                    other => return Err(Error::new(format!("resize={other}"), "not a resize mode", "use just, crop or fill")),
                }
            }
            "mode" => mode = value.parse().map_err(named)?,
            other => {
                return Err(Error::new(
                    format!("{other}={value}"),
                    "unknown key",
                    "use model, image, module, weight, start, end, resize, mode, res, low, high",
                ))
            }
        }
    }
    match (&mut module, low, high) {
        (Module::Canny { low: l, high: h }, a, b) => {
            *l = a.unwrap_or(*l);
            *h = b.unwrap_or(*h);
        }
        (_, None, None) => {}
        (other, _, _) => {
            return Err(Error::new(format!("module={other}"), "takes no low/high (they are canny's thresholds)", "leave low and high out"))
        }
    }
    if !ControlSettings::is_window(start, end) {
        return Err(Error::new(
            format!("start={start},end={end}"),
            "not a guidance window",
            "use fractions of the steps with 0 <= start < end <= 1",
        ));
    }
    let model = model
        .ok_or_else(|| Error::new(s, "model=DIR is missing", "name the ControlNet: a diffusers folder or a single .safetensors file"))?;
    if module == Module::None && image.is_none() {
        return Err(Error::new(
            s,
            "image=FILE is missing (module=none uses the control image as it is)",
            "give image=FILE, or name a module to make the control image from the photo",
        ));
    }
    Ok(ControlSpec { model, image, module, resolution, resize, settings: ControlSettings { weight, start, end, mode } })
}

impl ControlSpec {
    /// The unit's control image at the picture's size: its file, or `photo` (or its file)
    /// through its module, fitted as its resize mode says.
    pub fn control_image(&self, photo: &RgbImage, width: u32, height: u32, annotators: &Annotators) -> Result<RgbImage, Error> {
        let read = |path: &PathBuf| -> Result<RgbImage, Error> {
            Ok(image::open(path)
                .map_err(|e| Error::file(path, format!("cannot read the control image: {e}"), "use a PNG or JPEG"))?
                .to_rgb8())
        };
        let control = match (&self.module, &self.image) {
            (Module::None, Some(path)) => read(path)?,
            (module, source) => {
                let source = match source {
                    Some(path) => read(path)?,
                    None => photo.clone(),
                };
                module.run(&source, self.resolution, annotators)?
            }
        };
        Ok(fit(&control, width, height, self.resize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_spec_is_read_with_defaults_and_checked() {
        let s = parse_controlnet("model=/m/cn,image=pose.png,weight=0.7,start=0.1,end=0.9,resize=fill").unwrap();
        assert_eq!(
            s,
            ControlSpec {
                model: "/m/cn".into(),
                image: Some("pose.png".into()),
                module: Module::None,
                resolution: 512,
                resize: ResizeMode::ResizeAndFill,
                settings: ControlSettings { weight: 0.7, start: 0.1, end: 0.9, mode: ControlMode::Balanced },
            }
        );
        let d = parse_controlnet("model=cn,image=p.png").unwrap();
        assert_eq!((d.settings, d.resize), (ControlSettings::default(), ResizeMode::CropAndResize));
        let c = parse_controlnet("model=cn,module=canny,low=50,res=384").unwrap();
        assert_eq!((c.module, c.resolution, c.image), (Module::Canny { low: 50, high: 200 }, 384, None));
        assert!(parse_controlnet("model=cn,module=depth,low=5").unwrap_err().to_string().contains("canny's thresholds"));
        assert!(parse_controlnet("model=cn").unwrap_err().to_string().contains("image=FILE is missing"));
        assert!(parse_controlnet("model=cn,module=hed").unwrap_err().to_string().contains("unknown module"));
        assert!(parse_controlnet("model=cn,image=p.png,start=0.8,end=0.2").unwrap_err().to_string().contains("start < end"));
        assert!(parse_controlnet("image=p.png").unwrap_err().to_string().contains("model=DIR"));
        assert!(parse_controlnet("model=cn,image=p.png,colour=red").unwrap_err().to_string().contains("unknown key"));
        assert_eq!(parse_controlnet("model=cn,image=p.png,mode=prompt").unwrap().settings.mode, ControlMode::Prompt);
        assert_eq!(parse_controlnet("model=cn,image=p.png,mode=controlnet").unwrap().settings.mode, ControlMode::Control);
        assert!(parse_controlnet("model=cn,image=p.png,mode=loud").unwrap_err().to_string().contains("balanced, prompt or controlnet"));
    }
}

//! `keepsake preprocess --module canny IN OUT`: the control image a ControlNet unit would get
//! from a photo, written to a file (to look at, or to pass on with `module=none`).

use std::path::PathBuf;

use keepsake_models::preprocessors::{Annotators, Module, DEFAULT_RESOLUTION};

use crate::error::Error;

#[derive(clap::Args, Debug)]
pub struct PreprocessArgs {
    /// none, canny, openpose, depth (LeReS), depth_anything_v2 or mlsd (A1111's names).
    #[arg(long)]
    pub module: Module,
    /// Processor resolution: the short side the detector sees (A1111's processor_res).
    #[arg(long, default_value_t = DEFAULT_RESOLUTION)]
    pub res: u32,
    /// Canny's low threshold.
    #[arg(long)]
    pub low: Option<u32>,
    /// Canny's high threshold.
    #[arg(long)]
    pub high: Option<u32>,
    /// The annotator weights folder (body_pose_model.pth, ...); default $KEEPSAKE_ANNOTATORS or
    /// /var/lib/keepsake/annotators.
    #[arg(long, value_name = "DIR")]
    pub annotators: Option<PathBuf>,
    pub input: PathBuf,
    pub output: PathBuf,
}

pub fn run(args: &PreprocessArgs) -> Result<String, Error> {
    let mut module = args.module;
    match &mut module {
        Module::Canny { low, high } => {
            *low = args.low.unwrap_or(*low);
            *high = args.high.unwrap_or(*high);
        }
        other if args.low.is_some() || args.high.is_some() => {
            return Err(Error::new(
                format!("--module {other}"),
                "takes no --low/--high (they are canny's thresholds)",
                "leave --low and --high out",
            ));
        }
        _ => {}
    }
    if !(64..=2048).contains(&args.res) {
        return Err(Error::new(format!("--res {}", args.res), "out of range", "use a processor resolution from 64 to 2048 (512 is usual)"));
    }
    let photo = image::open(&args.input)
        .map_err(|e| Error::file(&args.input, format!("cannot read the photo: {e}"), "use a JPEG or PNG photo"))?
        .to_rgb8();
    let mut annotators = Annotators::from_env();
    if let Some(dir) = &args.annotators {
        annotators.dir = dir.clone();
    }
    let control = module.run(&photo, args.res, &annotators)?;
    let made_with = match module {
        Module::Canny { low, high } => format!("Module: canny, Processor res: {}, Threshold A: {low}, Threshold B: {high}", args.res),
        other => format!("Module: {other}, Processor res: {}", args.res),
    };
    crate::api::infotext::write_png_with_parameters(&control, &made_with, &args.output)
        .map_err(|e| Error::file(&args.output, format!("cannot write: {e}"), "check the folder exists and is writable"))?;
    Ok(format!("{}: {module} control image, {}x{}", args.output.display(), control.width(), control.height()))
}

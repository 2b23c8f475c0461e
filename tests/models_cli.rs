//! `keepsake models bake|inspect` with the real binary: a baked file (LoRA merged) makes the same
//! picture as diffusers with that LoRA; inspect says what a file holds; bad input is named.

use std::path::Path;
use std::process::{Command, Output};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"))
}

fn keepsake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keepsake")).args(args).env("KEEPSAKE_LOG", "warn").output().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_baked_file_with_a_lora_paints_what_diffusers_paints() {
    let dir = tempfile::tempdir().unwrap();
    let booth = dir.path().join("booth.safetensors");
    let kohya = format!("{}:0.8", path(&fixtures().join("lora/kohya.safetensors")));
    let out = keepsake(&[
        "models",
        "bake",
        "--model",
        path(&fixtures().join("sd-tiny")),
        "--lora",
        &kohya,
        "--quantize",
        "f32",
        "--out",
        path(&booth),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let lora: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("lora_outputs.json")).unwrap()).unwrap();
    let run = &lora["runs"][0];
    assert_eq!(run["loras"][0][0], "kohya");
    let input = photo(dir.path());
    let output = dir.path().join("out.png");
    let out = generate_like_the_reference(&["--model", path(&booth), "--input", path(&input), "--output", path(&output)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let max = max_level_difference(&output, &run["image"]);
    assert!(max <= 1.0, "max difference {max} levels");
}

#[test]
fn inspect_says_what_a_booth_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let booth = dir.path().join("booth.safetensors");
    let out = keepsake(&[
        "models",
        "bake",
        "--model",
        path(&fixtures().join("sd-tiny")),
        "--lcm-lora",
        path(&fixtures().join("lora/peft.safetensors")),
        "--taesd",
        path(&fixtures().join("sd-tiny/vae_tiny")),
        "--out",
        path(&booth),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("int8 booth file"));
    let out = keepsake(&["models", "inspect", path(&booth)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "keepsake-booth/1",
        "int8 (blocks of 64)",
        "peft.safetensors:1",
        "LCM (LCM-LoRA merged)",
        "TAESD",
        "unet",
        "text_encoder",
        "% int8",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }

    let int4 = dir.path().join("booth-int4.safetensors");
    let out = keepsake(&["models", "bake", "--model", path(&fixtures().join("sd-tiny")), "--quantize", "int4", "--out", path(&int4)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&int4).unwrap().len() < std::fs::metadata(&booth).unwrap().len());
    let text = String::from_utf8_lossy(&keepsake(&["models", "inspect", path(&int4)]).stdout).into_owned();
    assert!(text.contains("int4 (blocks of 32)") && text.contains("% int4"), "{text}");
}

#[test]
fn bad_bake_input_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let booth = dir.path().join("booth.safetensors");
    let tiny = fixtures().join("sd-tiny");
    let out = keepsake(&["models", "bake", "--model", path(&tiny), "--lora", "/nonexistent/style.safetensors:0.7", "--out", path(&booth)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/style.safetensors") && err.contains("cannot read the LoRA"), "{err}");
    assert!(!booth.exists());

    let out = keepsake(&["models", "bake", "--model", path(&tiny), "--quantize", "int3", "--out", path(&booth)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use int8, int4, f16 or f32"));

    // A checkpoint is not a booth file.
    let out = keepsake(&["models", "inspect", path(&fixtures().join("sd-tiny-single/sd-tiny.safetensors"))]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Keepsake booth file"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The photo all reference runs start from, as a PNG.
fn photo(dir: &Path) -> std::path::PathBuf {
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("pipeline_outputs.json")).unwrap()).unwrap();
    let bytes: Vec<u8> = r["input_u8"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    let input = dir.join("photo.png");
    image::RgbImage::from_raw(64, 48, bytes).unwrap().save(&input).unwrap();
    input
}

/// The reference runs' settings (prompt, Euler a 9 steps at 0.6, cfg 7, seed 4242) after `args`.
fn generate_like_the_reference(args: &[&str]) -> Output {
    let mut all = vec!["generate"];
    all.extend_from_slice(args);
    all.extend(["--negative-prompt", "blurry, lowres", "--strength", "0.6", "--steps", "9", "--scheduler", "euler-a", "--cfg", "7"]);
    all.extend(["--seed", "4242", "--noise-kernel", "scalar"]);
    if !args.contains(&"--prompt") {
        all.extend(["--prompt", "portrait of an elderly woman, warm hand-painted animation style"]);
    }
    keepsake(&all)
}

fn max_level_difference(png: &Path, reference: &serde_json::Value) -> f32 {
    let ours = image::open(png).unwrap().to_rgb8();
    let theirs: Vec<f32> = reference.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    ours.as_raw().iter().zip(&theirs).map(|(a, b)| (*a as f32 - (b * 255.0).round()).abs()).fold(0.0, f32::max)
}

#[test]
fn generate_takes_loras_and_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path());
    let tiny = fixtures().join("sd-tiny");

    let ti: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("textual_inversion_outputs.json")).unwrap()).unwrap();
    let out = dir.path().join("ti.png");
    let embedding = fixtures().join("embeddings/keepsake-style.safetensors");
    let o = generate_like_the_reference(&[
        "--model",
        path(&tiny),
        "--input",
        path(&input),
        "--embedding",
        path(&embedding),
        "--prompt",
        ti["prompt"].as_str().unwrap(),
        "--output",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = max_level_difference(&out, &ti["image"]);
    assert!(d <= 1.0, "embedding: {d} levels from diffusers");

    let lora: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("lora_outputs.json")).unwrap()).unwrap();
    let out = dir.path().join("lora.png");
    let kohya = format!("{}:0.8", path(&fixtures().join("lora/kohya.safetensors")));
    let o = generate_like_the_reference(&["--model", path(&tiny), "--input", path(&input), "--lora", &kohya, "--output", path(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = max_level_difference(&out, &lora["runs"][0]["image"]);
    assert!(d <= 1.0, "LoRA: {d} levels from diffusers");

    // The same LoRA asked for in the prompt, A1111's way.
    let out = dir.path().join("tag.png");
    let lora_dir = fixtures().join("lora");
    let prompt = "portrait of an elderly woman, warm hand-painted animation style<lora:kohya:0.8>";
    let o = generate_like_the_reference(&[
        "--model",
        path(&tiny),
        "--input",
        path(&input),
        "--lora-dir",
        path(&lora_dir),
        "--prompt",
        prompt,
        "--output",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = max_level_difference(&out, &lora["runs"][0]["image"]);
    assert!(d <= 1.0, "<lora:kohya:0.8>: {d} levels from diffusers");
    let o = generate_like_the_reference(&[
        "--model",
        path(&tiny),
        "--input",
        path(&input),
        "--lora-dir",
        path(&lora_dir),
        "--prompt",
        "a portrait <lora:missing:1>",
        "--output",
        path(&out),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.safetensors"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn generate_takes_several_controlnets() {
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path());
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("controlnet_outputs.json")).unwrap()).unwrap();
    let run = &r["runs"][1];
    let cn = fixtures().join("controlnet");
    let specs: Vec<String> = run["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "model={},image={},weight={},start={},end={}",
                path(&cn.join(u["net"].as_str().unwrap())),
                path(&cn.join(u["image"].as_str().unwrap())),
                u["weight"],
                u["start"],
                u["end"]
            )
        })
        .collect();
    assert_eq!(specs.len(), 3);
    let out = dir.path().join("cn.png");
    let tiny = fixtures().join("sd-tiny");
    let mut args = vec!["--model", path(&tiny), "--input", path(&input), "--output", path(&out)];
    for s in &specs {
        args.extend(["--controlnet", s.as_str()]);
    }
    let o = generate_like_the_reference(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = max_level_difference(&out, &run["image"]);
    assert!(d <= 1.0, "three ControlNets: {d} levels from diffusers");

    // A preprocessor whose weights are not in the annotator folder is named with its file.
    let o = keepsake(&[
        "generate",
        "--model",
        "m",
        "--input",
        path(&input),
        "--output",
        "o",
        "--prompt",
        "p",
        "--annotators",
        "/nonexistent",
        "--controlnet",
        "model=cn,module=depth",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/res101.pth"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn preprocess_writes_the_control_image_opencv_would() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixtures().join("preprocessors/photo.png");
    let out = dir.path().join("edges.png");
    // The fixture photo is 512x384: at processor resolution 384 it is used as it is.
    let o = keepsake(&["preprocess", "--module", "canny", "--res", "384", "--low", "50", "--high", "150", path(&photo), path(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = image::open(&out).unwrap().to_rgb8();
    let theirs = image::open(fixtures().join("preprocessors/canny-50-150.png")).unwrap().to_rgb8();
    assert!(ours == theirs, "the canny control image differs from controlnet_aux's");

    // OpenPose from an annotator folder (the fixture's narrowed network: random weights, so the
    // picture may hold no skeleton, but it comes at the detection size).
    let pose = dir.path().join("pose.png");
    let annotators = fixtures().join("preprocessors/openpose");
    let o = keepsake(&["preprocess", "--module", "openpose", "--res", "384", "--annotators", path(&annotators), path(&photo), path(&pose)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&pose).unwrap().to_rgb8().dimensions(), (512, 384));
    let lines = dir.path().join("lines.png");
    let annotators = fixtures().join("preprocessors/mlsd");
    let o = keepsake(&["preprocess", "--module", "mlsd", "--res", "384", "--annotators", path(&annotators), path(&photo), path(&lines)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&lines).unwrap().to_rgb8().dimensions(), (512, 384));
    let depth = dir.path().join("depth.png");
    let annotators = fixtures().join("preprocessors/leres");
    let o = keepsake(&["preprocess", "--module", "depth", "--res", "384", "--annotators", path(&annotators), path(&photo), path(&depth)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&depth).unwrap().to_rgb8().dimensions(), (512, 384));
    // Depth Anything V2 from its transformers folder under the annotators' folder.
    let annotators = dir.path().join("annotators");
    let folder = annotators.join("depth_anything_v2_small");
    std::fs::create_dir_all(&folder).unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures().join("preprocessors/depth_anything").join(file), folder.join(file)).unwrap();
    }
    let o = keepsake(&[
        "preprocess",
        "--module",
        "depth_anything_v2",
        "--res",
        "384",
        "--annotators",
        path(&annotators),
        path(&photo),
        path(&depth),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let picture = image::open(&depth).unwrap().to_rgb8();
    assert_eq!(picture.dimensions(), (512, 384));
    assert!(picture.pixels().any(|p| p[0] == 255) && picture.pixels().any(|p| p[0] == 0), "stretched to 0-255");
    let o = keepsake(&["preprocess", "--module", "openpose", "--annotators", "/nonexistent", path(&photo), path(&pose)]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/body_pose_model.pth"), "{}", String::from_utf8_lossy(&o.stderr));

    let o = keepsake(&["preprocess", "--module", "hed", path(&photo), path(&out)]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("use none, canny, openpose, depth, depth_anything_v2 or mlsd"));
    let o = keepsake(&["preprocess", "--module", "depth", "--low", "3", path(&photo), path(&out)]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("canny's thresholds"));
    let o = keepsake(&["preprocess", "--module", "canny", "/nonexistent.png", path(&out)]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.png: cannot read the photo"));
}

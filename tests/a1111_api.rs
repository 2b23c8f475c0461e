//! The A1111-compatible API end to end, with real processes: `keepsake serve` on the tiny
//! fixture model; the same requests give diffusers' pictures (tests/reference/make_api_fixtures.py);
//! the unmodified `webuiapi` client and schemathesis (both from PyPI, in .venv-tests) drive it;
//! bad requests get 422 naming the field; the token guards it; and beside a running booth the
//! visitors' keepsakes and remote requests share one model.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use keepsake_models::formats;
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures")).to_path_buf()
}

fn repo() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

const TOKEN: &str = "test-token-0123456789";

/// The annotator folder the three modules read (their fixture weights, random-initialised).
fn annotators() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (module, file) in [("openpose", "body_pose_model.pth"), ("leres", "res101.pth"), ("mlsd", "mlsd_large_512_fp32.pth")] {
        std::os::unix::fs::symlink(fixtures().join("preprocessors").join(module).join(file), dir.path().join(file)).unwrap();
    }
    dir
}

struct Serve {
    child: Child,
    url: String,
    _annotators: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Serve {
    let annotators = annotators();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keepsake"))
        .args(["serve", "--listen", "127.0.0.1:0", "--noise-kernel", "scalar", "--model"])
        .arg(fixtures().join("sd-tiny"))
        .arg("--lora-dir")
        .arg(fixtures().join("lora"))
        .arg("--controlnet-dir")
        .arg(fixtures().join("controlnet"))
        .arg("--annotators")
        .arg(annotators.path())
        .args(extra)
        .env("KEEPSAKE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("serve said {line:?}")).to_string();
    Serve { child, url, _annotators: annotators }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(300))).build().into()
}

/// POST `body` (JSON text) to `path`: (status, JSON answer).
fn post(s: &Serve, path: &str, body: &str, auth: Option<&str>) -> (u16, Value) {
    let mut req = agent().post(&format!("{}{path}", s.url)).header("content-type", "application/json");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn decode(b64: &Value) -> image::RgbImage {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap()).unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

#[test]
fn the_same_request_gives_the_same_picture_as_diffusers() {
    let s = serve(&[]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("api_outputs.json")).unwrap()).unwrap();
    for run in r["runs"].as_array().unwrap() {
        let endpoint = run["endpoint"].as_str().unwrap();
        let (status, answer) = post(&s, &format!("/sdapi/v1/{endpoint}"), &run["request"].to_string(), None);
        assert_eq!(status, 200, "{endpoint}: {answer}");
        let ours = decode(&answer["images"][0]);
        assert_eq!(ours.dimensions(), (run["width"].as_u64().unwrap() as u32, run["height"].as_u64().unwrap() as u32));
        let theirs: Vec<u8> = run["image_u8"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        let max = ours.as_raw().iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(max <= 1, "{endpoint}: max difference {max} levels from diffusers");
        let info: Value = serde_json::from_str(answer["info"].as_str().unwrap()).unwrap();
        assert_eq!(info["seed"], run["request"]["seed"], "{info}");
        // The same request again: the same picture, bit for bit (LoRAs merged once, not twice).
        let (_, again) = post(&s, &format!("/sdapi/v1/{endpoint}"), &run["request"].to_string(), None);
        assert_eq!(decode(&again["images"][0]), ours, "{endpoint} again");
    }
    // img2img with its LoRA, then txt2img without: the LoRA was taken out again in between.
    let txt = &r["runs"][1];
    let (_, plain) = post(&s, "/sdapi/v1/txt2img", &txt["request"].to_string(), None);
    let mut with_lora = txt["request"].clone();
    with_lora["prompt"] = json!(format!("{} <lora:kohya:0.8>", txt["request"]["prompt"].as_str().unwrap()));
    let (_, changed) = post(&s, "/sdapi/v1/txt2img", &with_lora.to_string(), None);
    assert_ne!(decode(&changed["images"][0]), decode(&plain["images"][0]), "the LoRA changes the picture");
    let (_, back) = post(&s, "/sdapi/v1/txt2img", &txt["request"].to_string(), None);
    assert_eq!(decode(&back["images"][0]), decode(&plain["images"][0]), "and is gone for the next request");
}

#[test]
fn bad_requests_are_answered_422_naming_the_field() {
    let s = serve(&["--max-side", "256", "--max-steps", "20"]);
    let photo = base64::engine::general_purpose::STANDARD.encode(std::fs::read(fixtures().join("controlnet/control1.png")).unwrap());
    let cases: Vec<(Value, Vec<Value>, &str)> = vec![
        (json!({"steps": "twenty"}), vec![json!("body"), json!("steps")], "invalid type"),
        (json!({"steps": 21}), vec![json!("body"), json!("steps")], "1 to 20"),
        (json!({"width": 4096}), vec![json!("body"), json!("width")], "8 to 256"),
        (json!({"sampler_name": "DPM fast"}), vec![json!("body"), json!("sampler_name")], "not available"),
        (json!({"sampler_name": "DDIM", "scheduler": "karras"}), vec![json!("body"), json!("scheduler")], "automatic"),
        (json!({"sampler_name": "Euler", "scheduler": "align_your_steps"}), vec![json!("body"), json!("scheduler")], "not available"),
        (json!({"prompt": "x <lora:nobody:0.5>"}), vec![json!("body"), json!("prompt")], "/sdapi/v1/loras"),
        (json!({"init_images": []}), vec![json!("body"), json!("init_images")], "needs a picture"),
        (json!({"init_images": ["data:image/png;base64,AAAA"]}), vec![json!("body"), json!("init_images"), json!(0)], "not a picture"),
        (json!({"init_images": [photo], "denoising_strength": 1.5}), vec![json!("body"), json!("denoising_strength")], "0 to 1"),
        (
            json!({"init_images": [photo], "alwayson_scripts": {"ControlNet": {"args": [{"model": "control_v11p_sd15_openpose [cab727d4]"}]}}}),
            vec![json!("body"), json!("alwayson_scripts"), json!("ControlNet"), json!("args"), json!(0), json!("model")],
            "cn1",
        ),
        (
            json!({"init_images": [photo], "alwayson_scripts": {"controlnet": {"args": [{"model": "cn1", "module": "depth_anything_v2"}]}}}),
            vec![json!("body"), json!("alwayson_scripts"), json!("controlnet"), json!("args"), json!(0), json!("module")],
            "module_list",
        ),
        (json!({"script_name": "x/y/z plot"}), vec![json!("body"), json!("script_name")], "not available"),
        (
            json!({"override_settings": {"sd_model_checkpoint": "v1-5-pruned"}}),
            vec![json!("body"), json!("override_settings"), json!("sd_model_checkpoint")],
            "sd-tiny",
        ),
    ];
    for (body, loc, says) in cases {
        let (status, answer) = post(&s, "/sdapi/v1/img2img", &body.to_string(), None);
        assert_eq!(status, 422, "{body} -> {answer}");
        let problem = &answer["detail"][0];
        assert_eq!(problem["loc"].as_array().unwrap(), &loc, "{body} -> {answer}");
        assert!(problem["msg"].as_str().unwrap().contains(says), "{body} -> {answer}");
    }
    let (status, answer) = post(&s, "/sdapi/v1/txt2img", "{not json", None);
    assert_eq!((status, answer["detail"][0]["type"].as_str()), (422, Some("json_invalid")));
    let (status, answer) = post(&s, "/sdapi/v1/options", r#"{"sd_model_checkpoint": "other"}"#, None);
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = post(&s, "/controlnet/detect", r#"{"controlnet_module": "hed", "controlnet_input_images": ["x"]}"#, None);
    assert_eq!((status, answer["detail"][0]["loc"][1].as_str()), (422, Some("controlnet_module")), "{answer}");
    // Unknown fields are ignored; a good request still works after all that.
    let (status, answer) =
        post(&s, "/sdapi/v1/txt2img", r#"{"steps": 2, "width": 64, "height": 64, "made_up": {"x": 1}, "hr_scale": 2}"#, None);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn the_token_guards_every_route() {
    let s = serve(&["--token", TOKEN]);
    for (path, body) in
        [("/sdapi/v1/txt2img", Some("{}")), ("/sdapi/v1/options", None), ("/openapi.json", None), ("/controlnet/model_list", None)]
    {
        let url = format!("{}{path}", s.url);
        for auth in [
            None,
            Some("Bearer wrong-token-0123456789".to_string()),
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("booth:wrong"))),
        ] {
            let resp = match (body, &auth) {
                (Some(b), Some(a)) => agent().post(&url).header("authorization", a).send(b),
                (Some(b), None) => agent().post(&url).send(b),
                (None, Some(a)) => agent().get(&url).header("authorization", a).call(),
                (None, None) => agent().get(&url).call(),
            }
            .unwrap();
            assert_eq!(resp.status().as_u16(), 401, "{path} with {auth:?}");
            assert!(resp.headers().get("www-authenticate").is_some());
        }
    }
    // Listening beyond this machine without a token is refused before anything loads.
    let mut open = Command::new(env!("CARGO_BIN_EXE_keepsake"))
        .args(["serve", "--listen", "0.0.0.0:0", "--model"])
        .arg(fixtures().join("sd-tiny"))
        .env_remove("KEEPSAKE_API_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while open.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = open.kill();
            panic!("serve on 0.0.0.0 without a token kept running");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = open.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("--listen 0.0.0.0:0") && text.contains("--token"), "{text}");
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("booth:{TOKEN}")));
    for auth in [bearer(), basic] {
        let (status, answer) = post(&s, "/sdapi/v1/txt2img", r#"{"steps": 1, "width": 64, "height": 64}"#, Some(&auth));
        assert_eq!(status, 200, "{answer}");
    }
}

/// The Python tools of .venv-tests, or None (the test then skips, or fails under
/// KEEPSAKE_STRICT_TESTS=1).
fn venv_tool(name: &str) -> Option<PathBuf> {
    let p = repo().join(".venv-tests/bin").join(name);
    if p.exists() {
        return Some(p);
    }
    assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "{name} is missing from .venv-tests (run scripts/test-venv.sh)");
    eprintln!("skipped: {name} is missing from .venv-tests (run scripts/test-venv.sh)");
    None
}

#[test]
fn the_unmodified_webuiapi_client_drives_the_booth() {
    let Some(python) = venv_tool("python") else { return };
    let single = fixtures().join("sd-tiny-single");
    let s = serve(&["--token", TOKEN, "--max-steps", "1000", "--models-dir", single.to_str().unwrap()]);
    let port = s.url.rsplit(':').next().unwrap().to_string();
    let out = Command::new(python).arg(repo().join("tests/a1111_webuiapi.py")).arg(&port).arg(fixtures()).arg(TOKEN).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("webuiapi: all ok"), "{text}");
    eprintln!("{text}");
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let Some(schemathesis) = venv_tool("schemathesis") else { return };
    // Small limits keep each generated request quick on the CPU.
    let s = serve(&["--max-side", "64", "--max-steps", "2", "--max-images", "1"]);
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(schemathesis)
        .current_dir(work.path())
        .args(["run", &format!("{}/openapi.json", s.url), "--workers", "1", "--max-examples", "15", "--seed", "1"])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
}

/// Beside a running booth: visitors' keepsakes and remote requests (with a LoRA) share the one
/// model, and each gets its picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_beside_a_running_booth_shares_its_model() {
    use keepsake::archive::Archive;
    use keepsake::booth::{Booth, StopWhen};
    use keepsake::config::Language;
    use keepsake::devices::Devices;
    let out = tempfile::tempdir().unwrap();
    let mut config = keepsake::cli::demo::demo_config(out.path(), Language::En);
    config.devices.camera = keepsake::devices::CameraConfig::Synthetic { width: 64, height: 80 };
    config.devices.display = keepsake::devices::DisplayConfig::Png { record: None };
    config.style.model = Some(fixtures().join("sd-tiny"));
    config.api.enabled = true;
    config.api.lora_dir = Some(fixtures().join("lora"));
    let (stylizer, model) = keepsake::stylizers::with_model(&config, keepsake::backend::Backend::Cpu).unwrap();
    let engine = keepsake::api::beside_the_booth(&config, model).expect("api.enabled with a model");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, keepsake::api::router(keepsake::api::AppState { engine, token: None })).await.unwrap();
    });
    let remote = tokio::task::spawn_blocking(move || {
        let mut pictures = Vec::new();
        for i in 0..3 {
            let body = json!({"prompt": format!("a garden <lora:kohya:{}>", 0.5 + i as f64 * 0.2), "steps": 4, "width": 64, "height": 64, "seed": i});
            let mut resp =
                agent().post(&format!("{url}/sdapi/v1/txt2img")).header("content-type", "application/json").send(body.to_string()).unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            let answer: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
            pictures.push(decode(&answer["images"][0]));
        }
        pictures
    });
    let layout = keepsake::booth::screens::Layout { w: config.screen.0, h: config.screen.1 };
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    let script = keepsake::cli::demo::visitors(2, &layout);
    devices.input = Box::new(keepsake_drivers::input::ScriptedInput::new(script));
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let report = booth.run(StopWhen { sessions: Some(2), within: Some(Duration::from_secs(300)) }).await.unwrap();
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    assert_eq!(report.keepsakes.len(), 2);
    for k in &report.keepsakes {
        assert!(k.meta.made_by.contains("Stable Diffusion") && !k.meta.made_by.contains("LoRA"), "{}", k.meta.made_by);
    }
    let pictures = remote.await.unwrap();
    assert_eq!(pictures.len(), 3);
    assert!(pictures.iter().all(|p| p.dimensions() == (64, 64)));
}

/// An engine on the tiny model, as `keepsake serve` makes it, in this process.
fn tiny_engine() -> (Arc<keepsake::api::Engine>, Arc<keepsake_models::stylize::shared_pipeline::SharedPipeline>) {
    use keepsake::api::{Engine, EngineSettings, Limits};
    let device = burn::tensor::Device::flex();
    let sd = formats::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let shared = Arc::new(keepsake_models::stylize::shared_pipeline::SharedPipeline::new(sd));
    let settings = EngineSettings {
        model_path: fixtures().join("sd-tiny"),
        models_dir: None,
        switchable: true,
        lora_dir: None,
        controlnet_dir: None,
        annotators: keepsake_models::preprocessors::Annotators { dir: "/nonexistent".into(), device },
        limits: Limits { max_steps: 40, ..Limits::default() },
        noise_kernel: keepsake_models::torch_rng::NormalKernel::Scalar,
        randn_source: keepsake::api::options::RandnSource::Cpu,
    };
    (Arc::new(Engine::new(shared.clone(), settings)), shared)
}

fn long_request(seed: i64) -> keepsake::api::request::GenerationRequest {
    keepsake::api::request::GenerationRequest {
        prompt: Some("a long walk".into()),
        steps: Some(40),
        width: Some(32),
        height: Some(32),
        seed: Some(seed),
        ..Default::default()
    }
}

fn sampling_step(e: &keepsake::api::Engine) -> u64 {
    e.progress(false)["state"]["sampling_step"].as_u64().unwrap()
}

/// A visitor who arrives while a remote request is generating gets the model at once; the remote
/// request starts again afterwards and its picture is exactly what it would have been.
#[test]
fn a_visitor_takes_the_model_from_a_remote_request_which_then_starts_again() {
    use keepsake_models::stylize::shared_pipeline::Priority;
    let (engine, shared) = tiny_engine();
    let undisturbed = engine.generate(long_request(3), false).unwrap();
    let worker = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.generate(long_request(3), false))
    };
    while sampling_step(&engine) < 2 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let turn = shared.turn(Priority::Visitor);
    let at = sampling_step(&engine);
    assert!(at < 40, "the visitor got the model while the request was at step {at} of 40, not after it");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sampling_step(&engine), at, "the request waits while the visitor's turn lasts");
    drop(turn);
    let answer = worker.join().unwrap().unwrap();
    let info: Value = serde_json::from_str(&answer.info).unwrap();
    assert_eq!(info["interrupted"], false);
    assert_eq!(decode(&json!(answer.images[0])), decode(&json!(undisturbed.images[0])), "started again, the same picture");
}

/// /interrupt stops the request running when it is sent, not the one waiting behind it.
#[test]
fn an_interrupt_stops_only_the_running_request() {
    let (engine, _) = tiny_engine();
    let spawn = |seed| {
        let engine = engine.clone();
        std::thread::spawn(move || engine.generate(long_request(seed), false).unwrap())
    };
    let running = spawn(1);
    while sampling_step(&engine) < 2 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let waiting = spawn(2);
    while engine.progress(false)["state"]["job_count"] != 2 {
        std::thread::sleep(Duration::from_millis(2));
    }
    engine.interrupt();
    let first: Value = serde_json::from_str(&running.join().unwrap().info).unwrap();
    let second: Value = serde_json::from_str(&waiting.join().unwrap().info).unwrap();
    assert_eq!((first["interrupted"].as_bool(), second["interrupted"].as_bool()), (Some(true), Some(false)));
}

/// The listing routes clients call at start answer as A1111 without the models does, and a route
/// the booth does not have gets FastAPI's own 404 (`{"detail": "Not Found"}`), which clients parse.
#[test]
fn the_listings_clients_read_at_start_answer_as_a1111_does() {
    let s = serve(&["--token", TOKEN]);
    let get = |path: &str| {
        let mut r = agent().get(&format!("{}{path}", s.url)).header("authorization", &bearer()).call().unwrap();
        (r.status().as_u16(), serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap()).unwrap())
    };
    let (status, flags) = get("/sdapi/v1/cmd-flags");
    assert_eq!((status, &flags["api"], &flags["api_auth"]), (200, &Value::Bool(true), &Value::Bool(true)), "{flags}");
    let (_, upscalers) = get("/sdapi/v1/upscalers");
    let names: Vec<&str> = upscalers.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["None", "Lanczos", "Nearest"]);
    for path in ["/sdapi/v1/hypernetworks", "/sdapi/v1/face-restorers", "/sdapi/v1/realesrgan-models", "/sdapi/v1/prompt-styles"] {
        assert_eq!(get(path), (200, Value::Array(vec![])), "{path}");
    }
    assert_eq!(get("/sdapi/v1/no-such-route"), (404, serde_json::json!({"detail": "Not Found"})));
}

/// A1111's samplers and schedule types as it lists them, each name taken, and the schedule a
/// picture was made with written into its infotext and info.
#[test]
fn every_sampler_and_schedule_a1111_lists_is_taken() {
    let s = serve(&[]);
    let get = |path: &str| {
        let mut r = agent().get(&format!("{}{path}", s.url)).call().unwrap();
        serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    let samplers = get("/sdapi/v1/samplers");
    let names: Vec<&str> = samplers.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for name in [
        "Euler a",
        "Euler",
        "LMS",
        "Heun",
        "DPM2",
        "DPM2 a",
        "DPM++ 2S a",
        "DPM++ SDE",
        "DPM++ 2M",
        "DPM++ 2M SDE",
        "DDIM",
        "PLMS",
        "UniPC",
        "LCM",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let sde = samplers.as_array().unwrap().iter().find(|s| s["name"] == "DPM++ 2M SDE").unwrap();
    assert_eq!((&sde["aliases"], &sde["options"]), (&json!(["k_dpmpp_2m_sde"]), &json!({"scheduler": "exponential"})));
    let schedules = get("/sdapi/v1/schedulers");
    let labels: Vec<Value> = schedules.as_array().unwrap().iter().map(|s| s["label"].clone()).collect();
    assert_eq!(labels, [json!("Automatic"), json!("Uniform"), json!("Karras"), json!("Exponential"), json!("SGM Uniform")]);
    assert_eq!((&schedules[4]["aliases"], &schedules[4]["need_inner_model"]), (&json!(["SGMUniform"]), &json!(true)));

    let run = |sampler: &str, scheduler: &str| {
        let body = json!({"steps": 2, "width": 64, "height": 48, "seed": 3, "sampler_name": sampler, "scheduler": scheduler});
        let (status, answer) = post(&s, "/sdapi/v1/txt2img", &body.to_string(), None);
        assert_eq!(status, 200, "{sampler} {scheduler}: {answer}");
        let info: Value = serde_json::from_str(answer["info"].as_str().unwrap()).unwrap();
        (decode(&answer["images"][0]), info)
    };
    let (heun, info) = run("Heun", "Karras");
    assert_eq!((&info["sampler_name"], &info["scheduler"]), (&json!("Heun"), &json!("karras")), "{info}");
    assert!(info["infotexts"][0].as_str().unwrap().contains("Sampler: Heun, Schedule type: Karras"), "{info}");
    let (heun_uniform, info) = run("k_heun", "");
    assert!(!info["infotexts"][0].as_str().unwrap().contains("Schedule type"), "{info}");
    assert_ne!(heun, heun_uniform, "the schedule changes the picture");
    for (sampler, scheduler) in [("UniPC", "automatic"), ("PLMS", ""), ("DPM++ SDE", ""), ("DPM2 a", "SGMUniform"), ("LMS", "exponential")]
    {
        let (picture, info) = run(sampler, scheduler);
        assert_eq!(info["sampler_name"], json!(sampler), "{info}");
        assert_ne!(picture, heun, "{sampler}");
    }
}

/// The ControlNet extension's routes as its API version 3 answers them, its detected maps, the
/// settings A1111 clients read and send, an unknown sampler, and the picture tools that need no
/// diffusion model (extra-single-image against PIL as A1111 resizes, png-info, interrogate).
#[test]
fn the_extension_routes_settings_and_picture_tools_answer_as_a1111_does() {
    let s = serve(&[]);
    let get = |path: &str| {
        let mut r = agent().get(&format!("{}{path}", s.url)).call().unwrap();
        (r.status().as_u16(), serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap()).unwrap())
    };
    assert_eq!(get("/controlnet/version"), (200, json!({"version": 3})));
    assert_eq!(get("/controlnet/settings").1["control_net_unit_count"], json!(3));
    let (_, modules) = get("/controlnet/module_list?alias_names=true");
    assert_eq!(modules["module_list"], json!(["none", "canny", "depth_leres", "mlsd", "openpose"]), "{modules}");
    let canny = &modules["module_detail"]["canny"];
    assert_eq!(canny["model_free"], json!(false), "canny needs a ControlNet model: {canny}");
    let sliders: Vec<&str> = canny["sliders"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(sliders, ["Resolution", "Low Threshold", "High Threshold"]);
    assert_eq!(modules["module_detail"]["none"]["sliders"], json!([]));
    let (_, types) = get("/controlnet/control_types");
    let types = &types["control_types"];
    let names: Vec<&String> = types.as_object().unwrap().keys().collect();
    assert_eq!(names, ["All", "Canny", "Depth", "MLSD", "OpenPose"]);
    assert_eq!(types["OpenPose"]["module_list"], json!(["none", "openpose"]));
    assert_eq!((&types["OpenPose"]["default_option"], &types["All"]["default_model"]), (&json!("openpose"), &json!("None")));
    // No model here is named for a kind: every model is offered, none preselected.
    assert_eq!((&types["Depth"]["model_list"], &types["Depth"]["default_model"]), (&json!(["None", "cn1", "cn2", "cn3"]), &json!("None")));

    // Settings: A1111's keys; an unknown one ignored, a client-side one kept, one that would
    // change the picture in a way this booth does not refused naming the key.
    let (_, options) = get("/sdapi/v1/options");
    assert_eq!(
        (&options["send_seed"], &options["randn_source"], &options["eta_noise_seed_delta"]),
        (&json!(true), &json!("CPU"), &json!(0))
    );
    let (status, _) = post(&s, "/sdapi/v1/options", r#"{"send_seed": false, "made_up_setting": [1, 2]}"#, None);
    assert_eq!(status, 200);
    let (_, options) = get("/sdapi/v1/options");
    assert_eq!((&options["send_seed"], options.get("made_up_setting")), (&json!(false), None));
    let (status, answer) = post(&s, "/sdapi/v1/options", r#"{"randn_source": "TPU", "send_size": false}"#, None);
    assert_eq!((status, &answer["detail"][0]["loc"]), (422, &json!(["body", "randn_source"])), "{answer}");
    assert_eq!(get("/sdapi/v1/options").1["send_size"], json!(true), "a refused request changes nothing");
    // (Small pictures: a check that let these through would still answer in seconds.)
    let (status, answer) = post(
        &s,
        "/sdapi/v1/txt2img",
        r#"{"steps": 1, "width": 64, "height": 64, "override_settings": {"eta_noise_seed_delta": 31337}}"#,
        None,
    );
    assert_eq!((status, &answer["detail"][0]["loc"]), (422, &json!(["body", "override_settings", "eta_noise_seed_delta"])), "{answer}");
    let (status, answer) = post(&s, "/sdapi/v1/txt2img", r#"{"steps": 1, "width": 64, "height": 64, "sampler_name": "Euler z"}"#, None);
    assert_eq!(status, 404, "{answer}");
    assert!(answer["detail"].as_str().unwrap().starts_with("Sampler not found"), "{answer}");

    // One ControlNet unit: the picture, then the unit's detected map; none with save_detected_map false.
    let control = std::fs::read(fixtures().join("controlnet/control1.png")).unwrap();
    let unit = |save: bool| {
        json!({"steps": 1, "width": 64, "height": 48, "seed": 3, "alwayson_scripts": {"controlnet": {"args": [
            {"model": "cn1", "module": "none", "image": base64::engine::general_purpose::STANDARD.encode(&control), "save_detected_map": save}]}}})
    };
    let (status, answer) = post(&s, "/sdapi/v1/txt2img", &unit(true).to_string(), None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["images"].as_array().unwrap().len(), 2);
    assert_eq!(decode(&answer["images"][1]), image::load_from_memory(&control).unwrap().to_rgb8(), "the detected map is the control image");
    let (_, without) = post(&s, "/sdapi/v1/txt2img", &unit(false).to_string(), None);
    assert_eq!(without["images"].as_array().unwrap().len(), 1);
    assert_eq!(without["images"][0], answer["images"][0]);

    // The noise source: the GPU's (A1111's "GPU" and "NV" alike) is not the CPU generator's, and
    // the infotext says which drew it.
    let with_rng = |rng: &str| {
        let body = json!({"steps": 2, "width": 64, "height": 48, "seed": 3, "override_settings": {"randn_source": rng}});
        let (status, answer) = post(&s, "/sdapi/v1/txt2img", &body.to_string(), None);
        assert_eq!(status, 200, "{answer}");
        (decode(&answer["images"][0]), serde_json::from_str::<Value>(answer["info"].as_str().unwrap()).unwrap()["infotexts"][0].clone())
    };
    let ((gpu, gpu_text), (nv, _), (cpu, cpu_text)) = (with_rng("GPU"), with_rng("NV"), with_rng("CPU"));
    assert_eq!(gpu, nv);
    assert_ne!(gpu, cpu);
    assert!(gpu_text.as_str().unwrap().ends_with("RNG: NV") && cpu_text.as_str().unwrap().ends_with("RNG: CPU"), "{gpu_text} {cpu_text}");

    // png-info reads the picture's own settings back.
    let (status, info) = post(&s, "/sdapi/v1/png-info", &json!({"image": answer["images"][0]}).to_string(), None);
    assert_eq!(status, 200, "{info}");
    let p = &info["parameters"];
    assert_eq!(
        (&p["Seed"], &p["Steps"], &p["Size-1"], &p["Size-2"], &p["RNG"]),
        (&json!("3"), &json!("1"), &json!("64"), &json!("48"), &json!("CPU"))
    );
    assert!(info["info"].as_str().unwrap().contains("Sampler: Euler a"), "{info}");
    let (_, none) = post(&s, "/sdapi/v1/png-info", &json!({"image": answer["images"][1]}).to_string(), None);
    assert_eq!((&none["info"], &none["parameters"]), (&json!(""), &json!({})));

    // extra-single-image: PIL's results as A1111 makes them (within 2 levels: PIL rounds its
    // Lanczos weights to fixed point; measured max 2, mean 0.12-0.40; Catmull-Rom in place of
    // Lanczos is 12 levels off); "None" leaves the picture as it is.
    let dir = fixtures().join("extras");
    let source = std::fs::read(dir.join("source.png")).unwrap();
    let source_b64 = base64::engine::general_purpose::STANDARD.encode(&source);
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    for case in cases["cases"].as_array().unwrap() {
        let mut request = case["request"].clone();
        request["image"] = json!(source_b64);
        let (status, answer) = post(&s, "/sdapi/v1/extra-single-image", &request.to_string(), None);
        assert_eq!(status, 200, "{case}: {answer}");
        let ours = decode(&answer["image"]);
        let theirs = image::open(dir.join(format!("{}.png", case["name"].as_str().unwrap()))).unwrap().to_rgb8();
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{case}");
        let diffs: Vec<u8> = ours.as_raw().iter().zip(theirs.as_raw()).map(|(a, b)| a.abs_diff(*b)).collect();
        let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
        let max = *diffs.iter().max().unwrap();
        eprintln!("{}: mean {mean:.3}, max {max} levels from PIL", case["name"]);
        assert!(mean < 0.45 && max <= 3, "{}: mean {mean:.3}, max {max} levels from PIL", case["name"]);
    }
    let (_, same) = post(&s, "/sdapi/v1/extra-single-image", &json!({"image": source_b64, "upscaler_1": "None"}).to_string(), None);
    assert_eq!(decode(&same["image"]), image::load_from_memory(&source).unwrap().to_rgb8());
    for (request, field) in [
        (json!({"image": source_b64, "upscaler_1": "R-ESRGAN 4x+"}), "upscaler_1"),
        (json!({"image": source_b64, "upscaler_1": "Lanczos", "upscaling_resize": 60}), "upscaling_resize"),
        (json!({"image": source_b64, "gfpgan_visibility": 0.5}), "gfpgan_visibility"),
        (json!({"image": "AAAA"}), "image"),
    ] {
        let (status, answer) = post(&s, "/sdapi/v1/extra-single-image", &request.to_string(), None);
        assert_eq!((status, &answer["detail"][0]["loc"][1]), (422, &json!(field)), "{answer}");
    }
    let (status, answer) = post(&s, "/sdapi/v1/interrogate", &json!({"image": source_b64, "model": "clip"}).to_string(), None);
    assert_eq!((status, &answer["detail"][0]["loc"][1]), (422, &json!("model")), "{answer}");
    assert!(answer["detail"][0]["msg"].as_str().unwrap().contains("no interrogator"), "{answer}");
}

/// SIGTERM stops `keepsake serve` within 2 s even while a long generation runs (the stop does not
/// wait for the generation's thread).
#[test]
fn sigterm_stops_serve_at_once_during_a_generation() {
    let mut s = serve(&["--max-steps", "1000"]);
    let url = s.url.clone();
    std::thread::spawn(move || {
        let _ = agent().post(&format!("{url}/sdapi/v1/txt2img")).send(r#"{"steps": 1000, "width": 64, "height": 64}"#);
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let mut r = agent().get(&format!("{}/sdapi/v1/progress?skip_current_image=true", s.url)).call().unwrap();
        let progress: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        if progress["state"]["sampling_step"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the generation did not start: {progress}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().unwrap().success());
    let sent = std::time::Instant::now();
    while s.child.try_wait().unwrap().is_none() {
        assert!(sent.elapsed() < Duration::from_secs(2), "serve still runs {:?} after SIGTERM", sent.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
}

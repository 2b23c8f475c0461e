//! The schedulers against diffusers: same timesteps and sigmas, and the same img2img trajectory
//! (add_noise, scale_model_input, step with ancestral noise from the ported torch generator)
//! around a synthetic noise predictor. Fixtures: tests/reference/make_scheduler_fixtures.py.
//! The k-diffusion samplers against k-diffusion the same way, as A1111 runs them
//! (tests/reference/make_k_sampler_fixtures.py).

use keepsake_models::noise::NoiseSource;
use keepsake_models::schedulers::k_diffusion::brownian::{BrownianTree, SeedSequence};
use keepsake_models::schedulers::k_diffusion::KDiffusionScheduler;
use keepsake_models::schedulers::{Schedule, Scheduler, SchedulerConfig, SchedulerKind};
use keepsake_models::torch_rng::{NormalKernel, TorchGenerator};

const N: usize = 256;

fn model(x: &[f32], t: f32) -> Vec<f32> {
    let t = t as f64;
    let c = (0.3 * (t / 300.0).cos()) as f32;
    x.iter().enumerate().map(|(i, v)| v * c + (0.05 * (i as f64 * 0.01 + t / 100.0).sin()) as f32).collect()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| f32::from_bits(x.as_u64().unwrap() as u32)).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn trajectories_match_diffusers() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/schedulers.json")).unwrap();
    let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut report: Vec<(String, bool)> = Vec::new();
    for case in fixtures["cases"].as_array().unwrap() {
        let kind: SchedulerKind = case["kind"].as_str().unwrap().parse().unwrap();
        let steps = case["steps"].as_u64().unwrap() as usize;
        let strength = case["strength"].as_f64().unwrap();
        // SD 1.5's config, or a model's own with more keys set (diffusers' from_config).
        let config = match &case["config"] {
            serde_json::Value::Null => SchedulerConfig::sd15(),
            keys => SchedulerConfig::from_json(&keys.to_string(), "fixture").unwrap(),
        };
        let label = format!(
            "{kind} {steps} steps strength {strength} {}",
            if case["config"].is_null() { String::new() } else { config.to_json().chars().take(120).collect() }
        );
        let mut sched = kind.build::<Vec<f32>>(&config, Schedule::Automatic, steps).unwrap();

        let expected_t: Vec<f32> = case["timesteps"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap() as f32).collect();
        assert_eq!(sched.timesteps(), &expected_t[..], "{label}: timesteps");
        let sigma = case["init_noise_sigma"].as_f64().unwrap() as f32;
        assert!(
            (sched.init_noise_sigma() - sigma).abs() <= 1e-6 * sigma.max(1.0),
            "{label}: init_noise_sigma {} not {sigma}",
            sched.init_noise_sigma()
        );
        let start = sched.img2img_start(strength);
        assert_eq!(start as u64, case["t_start"].as_u64().unwrap(), "{label}: start step");

        let mut g = TorchGenerator::manual_seed(case["seed"].as_u64().unwrap());
        let init: Vec<f32> = (0..N).map(|i| ((i as f64 * 0.05).cos() * 0.8) as f32).collect();
        let noise = g.randn(N, NormalKernel::Scalar);
        let mut latents = sched.add_noise(&init, &noise, start);
        let mut first = None;
        let timesteps = sched.timesteps().to_vec();
        for (index, t) in timesteps.iter().enumerate().skip(start) {
            let input = sched.scale_model_input(&latents, index);
            let eps = model(&input, *t);
            latents = sched.step(&eps, index, &latents, &mut || g.randn(N, NormalKernel::Scalar));
            first.get_or_insert_with(|| latents.clone());
        }
        // Relative to the largest value: at strength 1 latents start near sigma_max (~14.6).
        let rel = |ours: &[f32], theirs: &[f32]| max_diff(ours, theirs) / theirs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let d_first = rel(first.as_ref().unwrap(), &floats(&case["after_first_step"]));
        let d_final = rel(&latents, &floats(&case["final"]));
        report.push((format!("{label}: first step {d_first:.2e}, final {d_final:.2e}"), d_first <= 2e-6 && d_final <= 2e-5));
    }
    let text: Vec<String> = report.iter().map(|(l, ok)| format!("{} {l}", if *ok { "ok  " } else { "FAIL" })).collect();
    eprintln!("{}", text.join("\n"));
    assert!(report.iter().all(|(_, ok)| *ok), "{}", text.join("\n"));
}

#[test]
fn k_diffusion_samplers_match_k_diffusion_as_a1111_runs_them() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/k_samplers.json")).unwrap();
    let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut report: Vec<(String, bool)> = Vec::new();
    for case in fixtures["cases"].as_array().unwrap() {
        let kind: SchedulerKind = case["kind"].as_str().unwrap().parse().unwrap();
        let schedule = Schedule::parse(case["schedule"].as_str().unwrap()).unwrap();
        let steps = case["steps"].as_u64().unwrap() as usize;
        let strength = case["strength"].as_f64();
        let config = match &case["config"] {
            serde_json::Value::Null => SchedulerConfig::sd15(),
            keys => SchedulerConfig::from_json(&keys.to_string(), "fixture").unwrap(),
        };
        let label = format!("{kind} {schedule:?} {steps} steps strength {strength:?} {} {} noise", case["prediction"], case["noise"]);
        // The k-diffusion loop itself (DPM++ 2M with Karras runs as diffusers' class by default).
        let k = kind.k_sampler().unwrap();
        let mut sched = KDiffusionScheduler::<Vec<f32>>::new(k, schedule, &config.resolve(kind).unwrap(), steps);
        // A1111's Brownian-tree noise for the SDE samplers, from the picture's seed.
        let brownian = case["noise"] == "brownian";
        if brownian {
            sched.seed_noise(case["seed"].as_u64().unwrap(), NoiseSource::Cpu(NormalKernel::Scalar));
        }

        let close = |a: f32, b: f32, tol: f32| (a - b).abs() <= tol * b.abs().max(1.0);
        let sigmas: Vec<f32> = case["sigmas"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let sigmas_ok = sched.sigmas.len() == sigmas.len() && sched.sigmas.iter().zip(&sigmas).all(|(a, b)| close(*a, *b, 2e-6));
        let first = strength.map_or(0, |s| sched.img2img_start(s));
        let called: Vec<f32> = case["model_timesteps"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let ours = sched.timesteps()[first..].to_vec();
        let timesteps_ok = ours.len() == called.len() && ours.iter().zip(&called).all(|(a, b)| (a - b).abs() <= 2e-3);

        let mut g = TorchGenerator::manual_seed(case["seed"].as_u64().unwrap());
        let init: Vec<f32> = (0..N).map(|i| ((i as f64 * 0.05).cos() * 0.8) as f32).collect();
        let noise = g.randn(N, NormalKernel::Scalar);
        let mut latents = match strength {
            None => noise.iter().map(|v| v * sched.init_noise_sigma()).collect(),
            Some(_) => sched.add_noise(&init, &noise, first),
        };
        let timesteps = sched.timesteps().to_vec();
        for (index, t) in timesteps.iter().enumerate().skip(first) {
            let input = sched.scale_model_input(&latents, index);
            let eps = model(&input, *t);
            latents = sched.step(&eps, index, &latents, &mut || g.randn(N, NormalKernel::Scalar));
        }
        let theirs = floats(&case["final"]);
        let rel = max_diff(&latents, &theirs) / theirs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let ok = sigmas_ok && timesteps_ok && rel <= 2e-5;
        report.push((format!("{label}: sigmas {sigmas_ok}, model timesteps {timesteps_ok} ({} calls), final {rel:.2e}", ours.len()), ok));
    }
    let text: Vec<String> = report.iter().map(|(l, ok)| format!("{} {l}", if *ok { "ok  " } else { "FAIL" })).collect();
    eprintln!("{}", text.join("\n"));
    assert!(report.iter().all(|(_, ok)| *ok), "{}", text.join("\n"));
}

/// The pieces of A1111's Brownian noise against numpy and torchsde: SeedSequence's states for
/// entropy with and without spawn keys (words past 32 bits too), and a BrownianTree's increments
/// over intervals inside one dyadic cell, across many, and the whole span.
#[test]
fn the_brownian_tree_draws_what_torchsde_draws() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/k_samplers.json")).unwrap();
    let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
    for case in fixtures["seed_sequences"].as_array().unwrap() {
        let key: Vec<u128> = case["spawn_key"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u128).collect();
        let state = SeedSequence::new(case["entropy"].as_u64().unwrap() as u128, &key, 24).generate_state(4);
        let expected: Vec<u32> = case["state"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(state, expected, "{case}");
    }
    let t = &fixtures["brownian_tree"];
    let f32_of = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
    let mut tree = BrownianTree::new(
        f32_of(&t["t0"]) as f64,
        f32_of(&t["t1"]) as f64,
        t["entropy"].as_u64().unwrap(),
        t["size"].as_u64().unwrap() as usize,
        NoiseSource::Cpu(NormalKernel::Scalar),
    );
    for q in t["increments"].as_array().unwrap() {
        let ours = tree.increment_between(f32_of(&q["from"]) as f64, f32_of(&q["to"]) as f64);
        let theirs: Vec<f32> = q["w"].as_array().unwrap().iter().map(f32_of).collect();
        assert!(max_diff(&ours, &theirs) <= 1e-5, "{q}: ours {ours:?}");
    }
}

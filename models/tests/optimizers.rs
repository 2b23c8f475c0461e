//! The LoRA trainer's optimizers against their references (tests/reference/make_optimizer_fixtures.py):
//! AdamW against torch.optim.AdamW (within a rounding), AdamW8bit bit for bit against a float32
//! emulation of bitsandbytes' CUDA kernel (itself within bitsandbytes' tolerances of bitsandbytes'
//! CPU optimizer), with blocks of 256 and 2048, tensors under, at and over the 8-bit threshold,
//! and an all-zero block.

use base64::Engine;
use keepsake_models::training::adamw8bit::State;
use keepsake_models::training::dynamic_map::dynamic_map;
use keepsake_models::training::{AdamW, AdamW8bit, AdamWConfig};

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/optimizers.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    bytes(v).chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn list(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

/// The largest difference relative to the largest value, over every tensor.
fn rel_diff(ours: &[Vec<f32>], theirs: &[Vec<f32>]) -> f32 {
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| {
            let scale = b.iter().fold(1e-12f32, |m, x| m.max(x.abs()));
            a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / scale
        })
        .fold(0.0, f32::max)
}

/// The reference's parameters after this step (it keeps the first and the last of `steps`).
fn recorded(expected: &[Vec<Vec<f32>>], step: usize, steps: usize) -> Option<&Vec<Vec<f32>>> {
    match step {
        0 => Some(&expected[0]),
        s if s == steps - 1 => Some(&expected[1]),
        _ => None,
    }
}

fn config(f: &serde_json::Value) -> AdamWConfig {
    let betas = f["betas"].as_array().unwrap();
    AdamWConfig {
        betas: (betas[0].as_f64().unwrap(), betas[1].as_f64().unwrap()),
        eps: f["eps"].as_f64().unwrap(),
        weight_decay: f["weight_decay"].as_f64().unwrap(),
    }
}

#[test]
fn adamw_steps_as_torch_does() {
    let f = fixture();
    let sizes: Vec<usize> = f["sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let grads: Vec<Vec<Vec<f32>>> = f["grads"].as_array().unwrap().iter().map(list).collect();
    let mut params = list(&f["params"]);
    let mut opt = AdamW::new(config(&f), &sizes);
    let expected: Vec<Vec<Vec<f32>>> = f["adamw_params_after_first_and_last_step"].as_array().unwrap().iter().map(list).collect();
    for (step, g) in grads.iter().enumerate() {
        opt.step(&mut params, g, f["lr"].as_f64().unwrap());
        if let Some(theirs) = recorded(&expected, step, grads.len()) {
            let d = rel_diff(&params, theirs);
            // Within a float32 rounding of torch (decay after the step instead is 1e-7 off).
            assert!(d <= 1e-8, "step {}: {d:e}", step + 1);
        }
    }
}

#[test]
fn adamw8bit_steps_as_the_bitsandbytes_kernel_does() {
    let f = fixture();
    assert_eq!(dynamic_map(true).to_vec(), floats(&f["qmap1"]), "the signed map");
    assert_eq!(dynamic_map(false).to_vec(), floats(&f["qmap2"]), "the unsigned map");
    let sizes: Vec<usize> = f["sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let grads: Vec<Vec<Vec<f32>>> = f["grads"].as_array().unwrap().iter().map(list).collect();
    for run in f["adamw8bit"].as_array().unwrap() {
        let blocksize = run["blocksize"].as_u64().unwrap() as usize;
        let mut params = list(&f["params"]);
        let mut opt = AdamW8bit::new(config(&f), blocksize, &sizes);
        let expected: Vec<Vec<Vec<f32>>> = run["params_after_first_and_last_step"].as_array().unwrap().iter().map(list).collect();
        for (step, g) in grads.iter().enumerate() {
            opt.step(&mut params, g, f["lr"].as_f64().unwrap() as f32);
            if let Some(theirs) = recorded(&expected, step, grads.len()) {
                let d = rel_diff(&params, theirs);
                assert_eq!(d, 0.0, "blocks of {blocksize}, step {}", step + 1);
            }
        }
        // The kept state: float32 moments below 4096 values, else every code and block maximum
        // (codes only where the block holds something: an all-zero block's codes are arbitrary).
        for (i, (ours, theirs)) in opt.states.iter().zip(run["state"].as_array().unwrap()).enumerate() {
            match ours {
                State::Full { m, v } => {
                    assert_eq!((m.clone(), v.clone()), (floats(&theirs["m"]), floats(&theirs["v"])), "tensor {i}");
                }
                State::Quantized { m_codes, v_codes, m_absmax, v_absmax } => {
                    let (a1, a2) = (floats(&theirs["absmax1"]), floats(&theirs["absmax2"]));
                    assert_eq!((m_absmax, v_absmax), (&a1, &a2), "tensor {i}");
                    let (q1, q2) = (bytes(&theirs["q1"]), bytes(&theirs["q2"]));
                    let mut differing = 0;
                    for j in 0..m_codes.len() {
                        let b = j / blocksize;
                        if a1[b] > 0.0 && m_codes[j] != q1[j] || a2[b] > 0.0 && v_codes[j] != q2[j] {
                            differing += 1;
                        }
                    }
                    assert_eq!(differing, 0, "tensor {i}, blocks of {blocksize}: codes differ");
                }
            }
        }
    }
}

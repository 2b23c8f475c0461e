//! The port of PyTorch's CPU generator against torch.randn itself (fixtures from
//! tests/reference/make_rng_fixtures.py), for both Box-Muller kernels PyTorch dispatches to.

use keepsake_models::torch_rng::{NormalKernel, TorchGenerator};

#[test]
fn randn_is_bit_identical_to_torch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/torch_rng.json")).unwrap();
    let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (name, kernel) in [("scalar", NormalKernel::Scalar), ("avx2", NormalKernel::Avx2)] {
        let set = &fixtures[name];
        for case in set["cases"].as_array().unwrap() {
            let seed: u64 = case["seed"].as_str().unwrap().parse().unwrap();
            let mut g = TorchGenerator::manual_seed(seed);
            for (call, expected) in case["calls"].as_array().unwrap().iter().enumerate() {
                let expected: Vec<u32> = expected.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
                let ours: Vec<u32> = g.randn(expected.len(), kernel).iter().map(|v| v.to_bits()).collect();
                let differing = ours.iter().zip(&expected).filter(|(a, b)| a != b).count();
                assert_eq!(
                    differing,
                    0,
                    "{name} kernel, seed {seed}, call {call} ({} values): {differing} differ; first: {:?}",
                    expected.len(),
                    ours.iter().zip(&expected).position(|(a, b)| a != b).map(|i| (i, f32::from_bits(ours[i]), f32::from_bits(expected[i])))
                );
            }
        }
    }
}

/// A1111's "NV" source against its own file (modules/rng_philox.py, fixtures from
/// tests/reference/make_nv_rng_fixtures.py): every value of every call, bit for bit.
#[test]
fn nv_randn_is_bit_identical_to_a1111s_rng_philox() {
    use keepsake_models::nv_rng::PhiloxGenerator;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/nv_rng.json")).unwrap();
    let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
    for case in fixtures["cases"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap();
        let mut g = PhiloxGenerator::new(seed);
        for (call, expected) in case["calls"].as_array().unwrap().iter().enumerate() {
            let expected: Vec<u32> = expected["bits"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            let ours: Vec<u32> = g.randn(expected.len()).iter().map(|v| v.to_bits()).collect();
            let first = ours.iter().zip(&expected).position(|(a, b)| a != b);
            assert_eq!(first, None, "seed {seed}, call {call}: value {first:?} differs ({} values)", expected.len());
        }
    }
}

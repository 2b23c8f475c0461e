//! The noise A1111 gives DPM++ SDE and DPM++ 2M SDE: k-diffusion's `BrownianTreeNoiseSampler`
//! over torchsde's `BrownianTree` (a `BrownianInterval` with `halfway_tree`, tolerance 1e-6, an
//! entropy pool of 24 words), seeded with the picture's seed. A query for the increment between
//! two noise levels walks a dyadic tree from [sigma_min, sigma_max] down to those levels; every
//! node's split draws its Brownian-bridge noise from a fresh generator seeded by numpy's
//! `SeedSequence(entropy=seed, spawn_key=(path, depth))`, so the noise depends on the seed alone,
//! not on the order of the queries. The generator is the picture's noise source (A1111 draws on
//! the latent's device: torch's CPU generator, or CUDA's, which the NV source reproduces; here it
//! follows the picture's noise source, so A1111 on a GPU with randn_source "CPU" differs).

use std::collections::{HashMap, VecDeque};

use crate::noise::{NoiseGenerator, NoiseSource};

/// torchsde's BrownianTree defaults.
const POOL_SIZE: usize = 24;
const TOLERANCE_DIGITS: i32 = 6;
/// Increments kept besides the root's (torchsde keeps 45): each is a whole latent, and a query
/// walks ~25 levels, so keeping them all would hold hundreds of MB at 1024 px. A dropped one is
/// recomputed from its ancestors to the same values.
const CACHE_SIZE: usize = 64;

/// numpy's `SeedSequence` (`numpy/random/bit_generator.pyx`): entropy and a spawn key hashed into
/// a pool of 32-bit words, from which `generate_state` draws.
pub struct SeedSequence {
    pool: Vec<u32>,
}

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

/// A whole number as numpy coerces it: its 32-bit words, least significant first (0 is one word).
fn words(mut n: u128) -> Vec<u32> {
    let mut out = vec![n as u32];
    n >>= 32;
    while n > 0 {
        out.push(n as u32);
        n >>= 32;
    }
    out
}

impl SeedSequence {
    pub fn new(entropy: u128, spawn_key: &[u128], pool_size: usize) -> Self {
        let mut run: Vec<u32> = words(entropy);
        let spawn: Vec<u32> = spawn_key.iter().flat_map(|k| words(*k)).collect();
        if !spawn.is_empty() && run.len() < pool_size {
            run.resize(pool_size, 0);
        }
        let entropy: Vec<u32> = run.into_iter().chain(spawn).collect();

        let mut hash_const = INIT_A;
        let mut hashmix = |value: u32| {
            let mut v = value ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_A);
            v = v.wrapping_mul(hash_const);
            v ^ (v >> XSHIFT)
        };
        let mix = |x: u32, y: u32| {
            let r = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
            r ^ (r >> XSHIFT)
        };
        let mut pool: Vec<u32> = (0..pool_size).map(|i| hashmix(entropy.get(i).copied().unwrap_or(0))).collect();
        for src in 0..pool_size {
            for dst in 0..pool_size {
                if src != dst {
                    let h = hashmix(pool[src]);
                    pool[dst] = mix(pool[dst], h);
                }
            }
        }
        for value in entropy.iter().skip(pool_size) {
            for dst in 0..pool_size {
                let h = hashmix(*value);
                pool[dst] = mix(pool[dst], h);
            }
        }
        Self { pool }
    }

    /// `generate_state(n)` as 32-bit words.
    pub fn generate_state(&self, n: usize) -> Vec<u32> {
        let mut hash_const = INIT_B;
        (0..n)
            .map(|i| {
                let mut v = self.pool[i % self.pool.len()] ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                v = v.wrapping_mul(hash_const);
                v ^ (v >> XSHIFT)
            })
            .collect()
    }
}

/// Python's `round(x, 6)`: the nearest double to x's decimal rounding.
fn round_digits(x: f64) -> f64 {
    format!("{:.*}", TOLERANCE_DIGITS as usize, x).parse().unwrap_or(x)
}

/// One interval of the tree.
struct Node {
    start: f64,
    end: f64,
    parent: Option<usize>,
    is_left: bool,
    /// Set once split: the midpoint, the children, and the seed of the bridge noise.
    split: Option<Split>,
}

struct Split {
    midway: f64,
    left: usize,
    right: usize,
    w_seed: u32,
    spawn_key: u128,
    depth: u32,
}

/// A Brownian motion on [t0, t1] of `size` values, fixed by its seed.
pub struct BrownianTree {
    entropy: u64,
    size: usize,
    source: NoiseSource,
    nodes: Vec<Node>,
    /// The increments computed lately, by node (the root's, drawn at the start, always).
    increments: HashMap<usize, Vec<f32>>,
    /// Cached nodes other than the root, oldest first.
    cached: VecDeque<usize>,
}

impl BrownianTree {
    pub fn new(t0: f64, t1: f64, entropy: u64, size: usize, source: NoiseSource) -> Self {
        let seeds = SeedSequence::new(entropy as u128, &[], POOL_SIZE).generate_state(3);
        let scale = (t1 - t0).sqrt() as f32;
        let w: Vec<f32> = NoiseGenerator::new(source, seeds[0] as u64).randn(size).into_iter().map(|v| v * scale).collect();
        let root = Node { start: round_digits(t0), end: round_digits(t1), parent: None, is_left: false, split: None };
        Self { entropy, size, source, nodes: vec![root], increments: HashMap::from([(0, w)]), cached: VecDeque::new() }
    }

    /// Split node `i` at its midpoint (torchsde's `_split_exact`), drawing its seeds.
    fn split_halfway(&mut self, i: usize) {
        let (start, end) = (self.nodes[i].start, self.nodes[i].end);
        let midway_raw = 0.5 * (end + start);
        let (spawn_key, depth) = match self.nodes[i].parent {
            None => (0, 0),
            Some(p) => {
                let s = self.nodes[p].split.as_ref().expect("a parent is split");
                (2 * s.spawn_key + if self.nodes[i].is_left { 0 } else { 1 }, s.depth + 1)
            }
        };
        let seeds = SeedSequence::new(self.entropy as u128, &[spawn_key, depth as u128], POOL_SIZE).generate_state(4);
        let left = self.nodes.len();
        let midway = round_digits(midway_raw);
        self.nodes.push(Node { start, end: midway, parent: Some(i), is_left: true, split: None });
        self.nodes.push(Node { start: midway, end, parent: Some(i), is_left: false, split: None });
        self.nodes[i].split = Some(Split { midway, left, right: left + 1, w_seed: seeds[0], spawn_key, depth });
    }

    /// torchsde's `_split` with `halfway_tree`: halve until `target` is a midpoint.
    fn split_towards(&mut self, mut i: usize, target: f64) {
        loop {
            self.split_halfway(i);
            let s = self.nodes[i].split.as_ref().expect("just split");
            if target > s.midway {
                i = s.right;
            } else if target < s.midway {
                i = s.left;
            } else {
                return;
            }
        }
    }

    /// The nodes whose intervals make up [ta, tb] (torchsde's `_loc`), left to right.
    fn locate(&mut self, ta: f64, tb: f64) -> Vec<usize> {
        let mut out = Vec::new();
        let mut pending = vec![(0usize, ta, tb)];
        while let Some((i, ta, tb)) = pending.pop() {
            let (start, end) = (self.nodes[i].start, self.nodes[i].end);
            if ta == start && tb == end {
                out.push(i);
                continue;
            }
            if self.nodes[i].split.is_none() {
                self.split_towards(i, if ta == start { tb } else { ta });
            }
            let s = self.nodes[i].split.as_ref().expect("split above");
            let (midway, left, right) = (s.midway, s.left, s.right);
            if tb <= midway {
                pending.push((left, ta, tb));
            } else if ta >= midway {
                pending.push((right, ta, tb));
            } else {
                // Right pushed first: the left half is taken first.
                pending.push((right, midway, tb));
                pending.push((left, ta, midway));
            }
        }
        out
    }

    /// The increment over node `i`: its parent's split by the Brownian bridge.
    fn increment(&mut self, i: usize) -> Vec<f32> {
        if let Some(w) = self.increments.get(&i) {
            return w.clone();
        }
        let p = self.nodes[i].parent.expect("only the root has no parent, and its increment is drawn");
        let parent_w = self.increment(p);
        let (start, end) = (self.nodes[p].start, self.nodes[p].end);
        let s = self.nodes[p].split.as_ref().expect("a parent is split");
        let (left_diff, right_diff) = (s.midway - start, end - s.midway);
        let h_reciprocal = 1.0 / (end - start);
        let noise = NoiseGenerator::new(self.source, s.w_seed as u64).randn(self.size);
        let std = (left_diff * right_diff * h_reciprocal).sqrt() as f32;
        let (left_diff, h_reciprocal) = (left_diff as f32, h_reciprocal as f32);
        let left_w: Vec<f32> = parent_w.iter().zip(&noise).map(|(w, n)| left_diff * w * h_reciprocal + std * n).collect();
        let w = if self.nodes[i].is_left { left_w } else { parent_w.iter().zip(&left_w).map(|(w, l)| w - l).collect() };
        if self.cached.len() == CACHE_SIZE {
            if let Some(oldest) = self.cached.pop_front() {
                self.increments.remove(&oldest);
            }
        }
        self.increments.insert(i, w.clone());
        self.cached.push_back(i);
        w
    }

    /// W(tb) - W(ta), for t0 <= ta <= tb <= t1 (outside values are clamped, as torchsde does).
    pub fn increment_between(&mut self, ta: f64, tb: f64) -> Vec<f32> {
        let (t0, t1) = (self.nodes[0].start, self.nodes[0].end);
        let (ta, tb) = (ta.clamp(t0, t1), tb.clamp(t0, t1));
        if ta == tb {
            return vec![0.0; self.size];
        }
        let intervals = self.locate(round_digits(ta), round_digits(tb));
        let mut w = self.increment(intervals[0]);
        for i in &intervals[1..] {
            for (a, b) in w.iter_mut().zip(self.increment(*i)) {
                *a += b;
            }
        }
        w
    }
}

/// k-diffusion's `BrownianTreeNoiseSampler` as A1111 creates it: a tree over the schedule's
/// smallest non-zero and largest sigma, seeded with the picture's seed; each draw is the
/// increment between two noise levels scaled to unit variance.
pub struct BrownianNoise {
    tree: BrownianTree,
}

impl BrownianNoise {
    pub fn new(sigmas: &[f32], seed: u64, size: usize, source: NoiseSource) -> Self {
        let sigma_min = sigmas.iter().copied().filter(|s| *s > 0.0).fold(f32::INFINITY, f32::min);
        let sigma_max = sigmas.iter().copied().fold(0.0, f32::max);
        Self { tree: BrownianTree::new(sigma_min as f64, sigma_max as f64, seed, size, source) }
    }

    /// The noise for the step from `sigma` to `next` (`next` < `sigma`).
    pub fn draw(&mut self, sigma: f32, next: f32) -> Vec<f32> {
        let (lo, hi, sign) = if sigma < next { (sigma, next, 1.0) } else { (next, sigma, -1.0) };
        let scale = (next - sigma).abs().sqrt();
        self.tree.increment_between(lo as f64, hi as f64).into_iter().map(|w| w * sign / scale).collect()
    }
}

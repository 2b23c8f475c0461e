//! From the body network's maps to people: OpenPose's peak finding and greedy limb assembly as
//! controlnet_aux's `Body` does it (single scale), step for step so the same maps give the same
//! skeletons: Gaussian-smoothed heatmap peaks (scipy's `gaussian_filter`, sigma 3, reflected
//! borders), limb candidates scored along ten samples of the part affinity field with a
//! distance prior, best-first matching per limb, and people grown limb by limb.

/// A heatmap or PAF stack at picture resolution: `values[(y * width + x) * channels + c]`.
pub struct Maps {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub values: Vec<f64>,
}

impl Maps {
    fn at(&self, x: usize, y: usize, c: usize) -> f64 {
        self.values[(y * self.width + x) * self.channels + c]
    }
}

/// One detected body part: position in pixels, heatmap score, its number among all parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub x: f64,
    pub y: f64,
    pub score: f64,
    pub id: usize,
}

/// One person: the candidate of each of the 18 parts (or none), total score, parts found.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub parts: [Option<usize>; 18],
    pub score: f64,
    pub count: f64,
}

/// Parts joined by each limb (1-based OpenPose body part numbers).
pub const LIMBS: [[usize; 2]; 19] = [
    [2, 3],
    [2, 6],
    [3, 4],
    [4, 5],
    [6, 7],
    [7, 8],
    [2, 9],
    [9, 10],
    [10, 11],
    [2, 12],
    [12, 13],
    [13, 14],
    [2, 1],
    [1, 15],
    [15, 17],
    [1, 16],
    [16, 18],
    [3, 17],
    [6, 18],
];

/// The PAF channels (x, y) of each limb, numbered after the 19 heatmap channels as OpenPose does.
const PAF_CHANNELS: [[usize; 2]; 19] = [
    [31, 32],
    [39, 40],
    [33, 34],
    [35, 36],
    [41, 42],
    [43, 44],
    [19, 20],
    [21, 22],
    [23, 24],
    [25, 26],
    [27, 28],
    [29, 30],
    [47, 48],
    [49, 50],
    [53, 54],
    [51, 52],
    [55, 56],
    [37, 38],
    [45, 46],
];

const PEAK_THRESHOLD: f64 = 0.1;
const PAF_THRESHOLD: f64 = 0.05;
const SAMPLES: usize = 10;

/// scipy.ndimage.gaussian_filter1d's weights for `sigma` (truncated at 4 sigma).
fn gaussian_weights(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let c = -0.5 / (sigma * sigma);
    let phi: Vec<f64> = (-radius..=radius).map(|x| (c * (x * x) as f64).exp()).collect();
    let sum: f64 = phi.iter().sum();
    phi.iter().map(|p| p / sum).collect()
}

/// scipy's 'reflect' border: ... c b a | a b c ... (the edge sample repeated).
fn reflect(i: i64, n: i64) -> usize {
    let period = 2 * n;
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - 1 - i;
    }
    i as usize
}

/// One axis of the filter, summed as scipy sums a symmetric kernel: the centre, then pairs of
/// taps from the outermost in.
fn correlate_axis(input: &[f64], w: usize, h: usize, weights: &[f64], along_rows: bool) -> Vec<f64> {
    let r = (weights.len() / 2) as i64;
    let mut out = vec![0.0; input.len()];
    for y in 0..h {
        for x in 0..w {
            let (n, pos) = if along_rows { (h as i64, y as i64) } else { (w as i64, x as i64) };
            let sample = |p: i64| {
                let q = reflect(p, n);
                if along_rows {
                    input[q * w + x]
                } else {
                    input[y * w + q]
                }
            };
            let mut acc = sample(pos) * weights[r as usize];
            for j in (1..=r).rev() {
                acc += (sample(pos - j) + sample(pos + j)) * weights[(r - j) as usize];
            }
            out[y * w + x] = acc;
        }
    }
    out
}

/// scipy.ndimage.gaussian_filter of a `w` x `h` map: axis 0 (rows), then axis 1.
pub fn gaussian_filter(map: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let weights = gaussian_weights(sigma);
    let down = correlate_axis(map, w, h, &weights, true);
    correlate_axis(&down, w, h, &weights, false)
}

/// The local maxima above 0.1 of each of the 18 part heatmaps, in row-major order per part,
/// numbered across all parts.
pub fn find_peaks(heatmaps: &Maps) -> Vec<Vec<Candidate>> {
    let (w, h) = (heatmaps.width, heatmaps.height);
    let mut next_id = 0;
    let mut all = Vec::with_capacity(18);
    for part in 0..18 {
        let original: Vec<f64> = (0..w * h).map(|i| heatmaps.at(i % w, i / w, part)).collect();
        let smooth = gaussian_filter(&original, w, h, 3.0);
        let at = |x: i64, y: i64| if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 { 0.0 } else { smooth[y as usize * w + x as usize] };
        let mut peaks = Vec::new();
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let v = at(x, y);
                if v >= at(x, y - 1) && v >= at(x, y + 1) && v >= at(x - 1, y) && v >= at(x + 1, y) && v > PEAK_THRESHOLD {
                    peaks.push(Candidate { x: x as f64, y: y as f64, score: original[y as usize * w + x as usize], id: next_id });
                    next_id += 1;
                }
            }
        }
        all.push(peaks);
    }
    all
}

/// numpy.linspace(a, b, n) (the last sample set to `b` exactly).
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let step = (b - a) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| if step == 0.0 { a } else { i as f64 * step + a }).collect();
    v[n - 1] = b;
    v
}

/// A limb found between two candidates: their ids, its score, their positions in their lists.
#[derive(Debug, Clone, Copy)]
struct Connection {
    a: usize,
    b: usize,
    score: f64,
    i: usize,
    j: usize,
}

/// The limbs of type `k` between the candidates of its two parts, best first, each candidate used
/// at most once.
fn connect(k: usize, peaks: &[Vec<Candidate>], pafs: &Maps, image_height: usize) -> Option<Vec<Connection>> {
    let cand_a = &peaks[LIMBS[k][0] - 1];
    let cand_b = &peaks[LIMBS[k][1] - 1];
    if cand_a.is_empty() || cand_b.is_empty() {
        return None;
    }
    let [cx, cy] = PAF_CHANNELS[k].map(|c| c - 19);
    let mut scored = Vec::new();
    for (i, a) in cand_a.iter().enumerate() {
        for (j, b) in cand_b.iter().enumerate() {
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let norm = (dx * dx + dy * dy).sqrt().max(0.001);
            let (ux, uy) = (dx / norm, dy / norm);
            let xs = linspace(a.x, b.x, SAMPLES);
            let ys = linspace(a.y, b.y, SAMPLES);
            let along: Vec<f64> = xs
                .iter()
                .zip(&ys)
                .map(|(x, y)| {
                    let (px, py) = (x.round_ties_even() as usize, y.round_ties_even() as usize);
                    pafs.at(px, py, cx) * ux + pafs.at(px, py, cy) * uy
                })
                .collect();
            let mean = along.iter().fold(0.0, |s, v| s + v) / SAMPLES as f64;
            let score = mean + (0.5 * image_height as f64 / norm - 1.0).min(0.0);
            let supported = along.iter().filter(|v| **v > PAF_THRESHOLD).count() as f64 > 0.8 * SAMPLES as f64;
            if supported && score > 0.0 {
                scored.push((i, j, score));
            }
        }
    }
    // Stable, so equal scores keep their order, as Python's sorted does.
    scored.sort_by(|x, y| y.2.partial_cmp(&x.2).unwrap_or(std::cmp::Ordering::Equal));
    let mut chosen: Vec<Connection> = Vec::new();
    for (i, j, score) in scored {
        if chosen.iter().all(|c| c.i != i && c.j != j) {
            chosen.push(Connection { a: cand_a[i].id, b: cand_b[j].id, score, i, j });
            if chosen.len() >= cand_a.len().min(cand_b.len()) {
                break;
            }
        }
    }
    Some(chosen)
}

/// People from part candidates and PAFs, as `Body.__call__` assembles them.
pub fn assemble(peaks: &[Vec<Candidate>], pafs: &Maps, image_height: usize) -> (Vec<Candidate>, Vec<Person>) {
    let candidates: Vec<Candidate> = peaks.iter().flatten().copied().collect();
    // A row as the reference keeps it: 18 candidate ids (-1: none), score, part count.
    let mut rows: Vec<[f64; 20]> = Vec::new();
    for k in 0..LIMBS.len() {
        let Some(connections) = connect(k, peaks, pafs, image_height) else { continue };
        let (ia, ib) = (LIMBS[k][0] - 1, LIMBS[k][1] - 1);
        for c in &connections {
            let (part_a, part_b) = (c.a as f64, c.b as f64);
            let found: Vec<usize> = (0..rows.len()).filter(|&j| rows[j][ia] == part_a || rows[j][ib] == part_b).take(2).collect();
            match found[..] {
                [j] => {
                    if rows[j][ib] != part_b {
                        rows[j][ib] = part_b;
                        rows[j][19] += 1.0;
                        rows[j][18] += candidates[c.b].score + c.score;
                    }
                }
                [j1, j2] => {
                    let overlap = (0..18).any(|p| rows[j1][p] >= 0.0 && rows[j2][p] >= 0.0);
                    if !overlap {
                        let other = rows[j2];
                        for p in 0..18 {
                            rows[j1][p] += other[p] + 1.0;
                        }
                        rows[j1][18] += other[18];
                        rows[j1][19] += other[19];
                        rows[j1][18] += c.score;
                        rows.remove(j2);
                    } else {
                        rows[j1][ib] = part_b;
                        rows[j1][19] += 1.0;
                        rows[j1][18] += candidates[c.b].score + c.score;
                    }
                }
                _ if k < 17 => {
                    let mut row = [-1.0; 20];
                    row[ia] = part_a;
                    row[ib] = part_b;
                    row[19] = 2.0;
                    row[18] = 0.0 + candidates[c.a].score + candidates[c.b].score + c.score;
                    rows.push(row);
                }
                _ => {}
            }
        }
    }
    rows.retain(|r| !(r[19] < 4.0 || r[18] / r[19] < 0.4));
    let people = rows
        .iter()
        .map(|r| Person {
            parts: std::array::from_fn(|p| if r[p] >= 0.0 { Some(r[p] as usize) } else { None }),
            score: r[18],
            count: r[19],
        })
        .collect();
    (candidates, people)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_weights_are_scipys() {
        let w = gaussian_weights(3.0);
        assert_eq!(w.len(), 25);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // 1 / (3 sqrt(2 pi)), a little more for the mass cut off beyond 4 sigma.
        assert!((w[12] - 0.13298076).abs() < 1e-4, "{}", w[12]);
    }

    #[test]
    fn borders_reflect_with_the_edge_repeated() {
        assert_eq!((reflect(-1, 5), reflect(-2, 5), reflect(5, 5), reflect(6, 5)), (0, 1, 4, 3));
    }

    #[test]
    fn linspace_ends_exactly() {
        let v = linspace(3.0, 7.0, 10);
        assert_eq!((v[0], v[9]), (3.0, 7.0));
        assert_eq!(linspace(2.0, 2.0, 10), vec![2.0; 10]);
    }
}

//! diffusers' `PNDMScheduler` with `skip_prk_steps` ("PLMS", SD 1.5's own scheduler): linear
//! multistep on the noise predictions, fourth order once four are known; the second timestep is
//! run twice (a second-order start, as CompVis' PLMS). Timesteps spaced as the config says
//! (leading, with steps_offset, by default); epsilon or v prediction.

use super::config::{Prediction, Resolved};
use super::ddim::spaced_timesteps;
use super::{alpha_add_noise, img2img_start, Sample, Scheduler};

pub struct PndmScheduler<S> {
    pub timesteps: Vec<f32>,
    steps: Vec<usize>,
    num_inference_steps: usize,
    alphas_cumprod: Vec<f32>,
    step_ratio: usize,
    final_alpha_cumprod: f32,
    prediction: Prediction,
    /// The last four noise predictions, newest last (diffusers' `ets`).
    ets: Vec<S>,
    /// The steps taken (diffusers' `counter`).
    counter: usize,
    /// The sample the repeated second timestep starts from.
    cur_sample: Option<S>,
}

impl<S: Sample> PndmScheduler<S> {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        let n = num_inference_steps;
        // The spaced timesteps with the next-to-last repeated, largest first.
        let mut steps = spaced_timesteps(config, n);
        if n >= 2 {
            steps.insert(1, steps[1]);
        }
        let alphas_cumprod = config.alphas_cumprod();
        let final_alpha_cumprod = if config.set_alpha_to_one { 1.0 } else { alphas_cumprod[0] };
        Self {
            timesteps: steps.iter().map(|t| *t as f32).collect(),
            steps,
            num_inference_steps: n,
            alphas_cumprod,
            step_ratio: config.num_train_timesteps / n,
            final_alpha_cumprod,
            prediction: config.prediction,
            ets: Vec::new(),
            counter: 0,
            cur_sample: None,
        }
    }

    /// PNDM's formula (9): the sample at `prev` from the one at `t` and the combined prediction.
    fn prev_sample(&self, sample: &S, t: usize, prev: Option<usize>, model_output: &S) -> S {
        let alpha_t = self.alphas_cumprod[t];
        let alpha_prev = prev.map_or(self.final_alpha_cumprod, |p| self.alphas_cumprod[p]);
        let (beta_t, beta_prev) = (1.0 - alpha_t, 1.0 - alpha_prev);
        let model_output = match self.prediction {
            Prediction::Epsilon => model_output.clone(),
            Prediction::VPrediction => model_output.mul_scalar(alpha_t.sqrt()).add(&sample.mul_scalar(beta_t.sqrt())),
        };
        let sample_coeff = (alpha_prev / alpha_t).sqrt();
        let denom = alpha_t * beta_prev.sqrt() + (alpha_t * beta_t * alpha_prev).sqrt();
        sample.mul_scalar(sample_coeff).sub(&model_output.mul_scalar(alpha_prev - alpha_t).div_scalar(denom))
    }
}

impl<S: Sample> Scheduler<S> for PndmScheduler<S> {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, _noise: &mut dyn FnMut() -> S) -> S {
        let mut t = self.steps[index];
        let mut prev = t.checked_sub(self.step_ratio);
        if self.counter != 1 {
            if self.ets.len() > 3 {
                self.ets.remove(0);
            }
            self.ets.push(model_output.clone());
        } else {
            // The repeated timestep: the step from t + ratio to t, again.
            prev = Some(t);
            t += self.step_ratio;
        }
        let e = &self.ets;
        let k = e.len();
        let (combined, from) = match (k, self.counter) {
            (1, 0) => {
                self.cur_sample = Some(sample.clone());
                (model_output.clone(), sample.clone())
            }
            (1, 1) => {
                let from = self.cur_sample.take().expect("the first step keeps its sample");
                (model_output.add(&e[0]).div_scalar(2.0), from)
            }
            (2, _) => (e[1].mul_scalar(3.0).sub(&e[0]).div_scalar(2.0), sample.clone()),
            (3, _) => (e[2].mul_scalar(23.0).sub(&e[1].mul_scalar(16.0)).add(&e[0].mul_scalar(5.0)).div_scalar(12.0), sample.clone()),
            _ => (
                e[k - 1]
                    .mul_scalar(55.0)
                    .sub(&e[k - 2].mul_scalar(59.0))
                    .add(&e[k - 3].mul_scalar(37.0))
                    .sub(&e[k - 4].mul_scalar(9.0))
                    .mul_scalar(1.0 / 24.0),
                sample.clone(),
            ),
        };
        let out = self.prev_sample(&from, t, prev, &combined);
        self.counter += 1;
        out
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        alpha_add_noise(original, noise, self.alphas_cumprod[self.steps[index]])
    }

    /// diffusers' img2img: `t_start` of the N inference steps skipped on the N + 1 timesteps.
    fn img2img_start(&self, strength: f64) -> usize {
        img2img_start(self.num_inference_steps, strength)
    }
}

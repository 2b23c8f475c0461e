//! diffusers' `UniPCMultistepScheduler` with its defaults ("UniPC"): predictor-corrector on the
//! data prediction, the B(h) = e^h - 1 variant ("bh2"), order 2 with a first-order start and end,
//! the corrector after every step but the first. Timesteps spaced as the config says (linspace by
//! default), sigmas interpolated from the training ones, final sigma 0; epsilon or v prediction.

use super::config::{np_arange, round_half_even, Prediction, Resolved, Spacing};
use super::{interp, np_linspace, train_sigmas, Sample, Scheduler};

const SOLVER_ORDER: usize = 2;

pub struct UniPcMultistepScheduler<S> {
    pub timesteps: Vec<f32>,
    pub sigmas: Vec<f32>,
    prediction: Prediction,
    /// The last data predictions, newest last, with the index of their step.
    model_outputs: Vec<(usize, S)>,
    /// The sample the last predictor started from (for the corrector).
    last_sample: Option<S>,
    /// The order of the last predictor step.
    this_order: usize,
    lower_order_nums: usize,
}

/// VP alpha and sigma of a sigma (`_sigma_to_alpha_sigma_t`).
fn alpha_sigma(sigma: f32) -> (f32, f32) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

fn lambda(sigma: f32) -> f32 {
    let (a, s) = alpha_sigma(sigma);
    a.ln() - s.ln()
}

impl<S: Sample> UniPcMultistepScheduler<S> {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        let (train, n) = (config.num_train_timesteps, num_inference_steps);
        let steps: Vec<f64> = match config.spacing {
            Spacing::Linspace => {
                let mut t: Vec<f64> = np_linspace(0.0, (train - 1) as f64, n + 1).into_iter().map(round_half_even).rev().collect();
                t.pop();
                t
            }
            Spacing::Leading => {
                let ratio = train / (n + 1);
                (1..=n).rev().map(|i| (i * ratio + config.steps_offset) as f64).collect()
            }
            Spacing::Trailing => {
                np_arange(train as f64, 0.0, -(train as f64 / n as f64)).into_iter().map(|t| round_half_even(t) - 1.0).collect()
            }
        };
        let sigmas_train = train_sigmas(&config.alphas_cumprod_finite());
        let mut sigmas: Vec<f32> = steps.iter().map(|t| interp(*t, &sigmas_train) as f32).collect();
        sigmas.push(0.0);
        Self {
            timesteps: steps.iter().map(|t| *t as f32).collect(),
            sigmas,
            prediction: config.prediction,
            model_outputs: Vec::new(),
            last_sample: None,
            this_order: 1,
            lower_order_nums: 0,
        }
    }

    /// `convert_model_output` with `predict_x0`: the data prediction.
    fn data_prediction(&self, model_output: &S, sample: &S, index: usize) -> S {
        let (alpha_t, sigma_t) = alpha_sigma(self.sigmas[index]);
        match self.prediction {
            Prediction::Epsilon => sample.sub(&model_output.mul_scalar(sigma_t)).div_scalar(alpha_t),
            Prediction::VPrediction => sample.mul_scalar(alpha_t).sub(&model_output.mul_scalar(sigma_t)),
        }
    }

    /// `h`, `h phi_1(h)` and `B(h)` of the step from sigma index `from` to `to` (hh = -h).
    fn coefficients(&self, from: usize, to: usize) -> (f32, f32, f32) {
        let h = lambda(self.sigmas[to]) - lambda(self.sigmas[from]);
        let hh = -h;
        let h_phi_1 = hh.exp_m1();
        (h, h_phi_1, hh.exp_m1())
    }

    /// `multistep_uni_p_bh_update`: the predictor from step `index` to `index + 1`.
    fn predictor(&self, sample: &S, index: usize, order: usize) -> S {
        let (_, m0) = self.model_outputs.last().expect("the current step's output is kept");
        let (alpha_t, sigma_t) = alpha_sigma(self.sigmas[index + 1]);
        let (_, sigma_s0) = alpha_sigma(self.sigmas[index]);
        let (h, h_phi_1, b_h) = self.coefficients(index, index + 1);
        let x_t = sample.mul_scalar(sigma_t / sigma_s0).sub(&m0.mul_scalar(alpha_t * h_phi_1));
        if order < 2 {
            return x_t;
        }
        let (_, m1) = &self.model_outputs[self.model_outputs.len() - 2];
        let rk = (lambda(self.sigmas[index - 1]) - lambda(self.sigmas[index])) / h;
        let d1 = m1.sub(m0).div_scalar(rk);
        x_t.sub(&d1.mul_scalar(0.5).mul_scalar(alpha_t * b_h))
    }

    /// `multistep_uni_c_bh_update`: the step into `index` redone from `last_sample` with this
    /// step's data prediction `model_t` (the kept outputs are still those of the steps before).
    fn corrector(&self, model_t: &S, last_sample: &S, index: usize, order: usize) -> S {
        let (_, m0) = self.model_outputs.last().expect("the last step's output is kept");
        let (alpha_t, sigma_t) = alpha_sigma(self.sigmas[index]);
        let (_, sigma_s0) = alpha_sigma(self.sigmas[index - 1]);
        let (h, h_phi_1, b_h) = self.coefficients(index - 1, index);
        let hh = -h;
        let x_t_ = last_sample.mul_scalar(sigma_t / sigma_s0).sub(&m0.mul_scalar(alpha_t * h_phi_1));
        let d1_t = model_t.sub(m0);
        let correction = if order == 1 {
            d1_t.mul_scalar(0.5)
        } else {
            // rhos from R rhos = b, R = [[1, 1], [rk, 1]], b_i = h phi_(i+1)(h) i! / B(h).
            let (_, m1) = &self.model_outputs[self.model_outputs.len() - 2];
            let rk = (lambda(self.sigmas[index - 2]) - lambda(self.sigmas[index - 1])) / h;
            let d1 = m1.sub(m0).div_scalar(rk);
            let phi_2 = h_phi_1 / hh - 1.0;
            let b0 = phi_2 / b_h;
            let phi_3 = phi_2 / hh - 0.5;
            let b1 = phi_3 * 2.0 / b_h;
            let (r, b0, b1) = (rk as f64, b0 as f64, b1 as f64);
            let rho_1 = (b1 - r * b0) / (1.0 - r);
            let rho_0 = b0 - rho_1;
            d1.mul_scalar(rho_0 as f32).add(&d1_t.mul_scalar(rho_1 as f32))
        };
        x_t_.sub(&correction.mul_scalar(alpha_t * b_h))
    }
}

impl<S: Sample> Scheduler<S> for UniPcMultistepScheduler<S> {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, _noise: &mut dyn FnMut() -> S) -> S {
        let converted = self.data_prediction(model_output, sample, index);
        let sample = match self.last_sample.take() {
            Some(last) if index > 0 => self.corrector(&converted, &last, index, self.this_order),
            _ => sample.clone(),
        };
        if self.model_outputs.len() == SOLVER_ORDER {
            self.model_outputs.remove(0);
        }
        self.model_outputs.push((index, converted));
        // Lower order at the end, and while there are not yet enough outputs.
        let order = SOLVER_ORDER.min(self.timesteps.len() - index).min(self.lower_order_nums + 1);
        self.this_order = order;
        let prev = self.predictor(&sample, index, order);
        self.last_sample = Some(sample);
        self.lower_order_nums = (self.lower_order_nums + 1).min(SOLVER_ORDER);
        prev
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        let (alpha, sigma) = alpha_sigma(self.sigmas[index]);
        original.mul_scalar(alpha).add(&noise.mul_scalar(sigma))
    }
}

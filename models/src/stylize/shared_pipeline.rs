//! The one loaded model that the booth's visitors and remote API clients take turns on.
//!
//! A Jetson holds one SD 1.5 in memory, so the booth and the A1111-compatible API share it. One
//! generation runs at a time; whoever waits next is served visitors first (a visitor is standing
//! at the screen, an API client is a script that can wait). LoRAs asked for by a request are
//! merged into a copy of the layers they touch (burn's tensors are shared handles, so the copy
//! costs only those layers), and the untouched model is put back before anyone else's turn that
//! asks for different LoRAs: a remote request never changes the booth's look.

use parking_lot::{Condvar, Mutex, MutexGuard};
use std::path::PathBuf;

use burn::tensor::Device;

use crate::components::unet_2d_condition::UNet2DConditionModel;
use crate::edits::lora::{Lora, LoraError};
use crate::pipeline::text_encoder_slot::TextEncoderSlot;
use crate::pipeline::{Origin, StableDiffusion};

/// Who is asking for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A visitor at the booth: served before any waiting remote request.
    Visitor,
    /// A remote API request.
    Remote,
}

#[derive(Default)]
struct Queue {
    busy: bool,
    visitors_waiting: usize,
    remote_waiting: usize,
}

/// The model and the LoRAs merged into it now.
pub struct Loaded {
    pub sd: StableDiffusion,
    /// The LoRA files and weights merged for the latest request (none: the model as loaded).
    merged: Vec<(PathBuf, f32)>,
    /// The model as loaded, while LoRAs are merged.
    pristine: Option<(UNet2DConditionModel, TextEncoderSlot, Origin)>,
}

impl Loaded {
    /// Makes the model the loaded one plus `loras` (file, weight), in order; nothing is merged
    /// again when they are the ones merged already. A LoRA that does not fit leaves the model as
    /// loaded and says which.
    pub fn use_loras(&mut self, loras: &[(PathBuf, f32)]) -> Result<(), LoraError> {
        if self.merged == loras {
            return Ok(());
        }
        self.restore();
        if loras.is_empty() {
            return Ok(());
        }
        let sd = &mut self.sd;
        let encoder = sd.text_encoder.get(&sd.text_encoder_config, &sd.device)?.into_owned();
        let slot = std::mem::replace(&mut sd.text_encoder, TextEncoderSlot::resident(encoder));
        self.pristine = Some((sd.unet.clone(), slot, sd.origin.clone()));
        for (path, weight) in loras {
            if let Err(e) = Lora::read(path, &self.sd).and_then(|lora| lora.merge_into(&mut self.sd, *weight)) {
                self.restore();
                return Err(e);
            }
        }
        self.merged = loras.to_vec();
        Ok(())
    }

    /// Puts another model in place of this one (a checkpoint switch).
    pub fn replace_model(&mut self, sd: StableDiffusion) {
        self.restore();
        self.sd = sd;
    }

    /// The LoRAs merged for the latest request.
    pub fn merged(&self) -> &[(PathBuf, f32)] {
        &self.merged
    }

    fn restore(&mut self) {
        if let Some((unet, slot, origin)) = self.pristine.take() {
            self.sd.unet = unet;
            self.sd.text_encoder = slot;
            self.sd.origin = origin;
        }
        self.merged.clear();
    }
}

pub struct SharedPipeline {
    queue: Mutex<Queue>,
    turn_over: Condvar,
    loaded: Mutex<Loaded>,
    /// Where the model computes (a model switched in later is loaded onto the same device).
    device: Device,
}

/// A turn on the model; the next one starts when it is dropped.
pub struct Turn<'a> {
    shared: &'a SharedPipeline,
    loaded: Option<MutexGuard<'a, Loaded>>,
}

impl std::ops::Deref for Turn<'_> {
    type Target = Loaded;
    fn deref(&self) -> &Loaded {
        self.loaded.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for Turn<'_> {
    fn deref_mut(&mut self) -> &mut Loaded {
        self.loaded.as_mut().expect("held until drop")
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.loaded = None;
        let mut queue = self.shared.queue.lock();
        queue.busy = false;
        drop(queue);
        self.shared.turn_over.notify_all();
    }
}

impl SharedPipeline {
    pub fn new(sd: StableDiffusion) -> Self {
        let device = sd.device.clone();
        Self {
            queue: Mutex::default(),
            turn_over: Condvar::new(),
            loaded: Mutex::new(Loaded { sd, merged: Vec::new(), pristine: None }),
            device,
        }
    }

    /// The device the model computes on, without waiting for a turn.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Waits for a turn: the model is free and no visitor waits ahead of a remote request.
    pub fn turn(&self, priority: Priority) -> Turn<'_> {
        let mut queue = self.queue.lock();
        fn count(q: &mut Queue, priority: Priority) -> &mut usize {
            match priority {
                Priority::Visitor => &mut q.visitors_waiting,
                Priority::Remote => &mut q.remote_waiting,
            }
        }
        *count(&mut queue, priority) += 1;
        while queue.busy || (priority == Priority::Remote && queue.visitors_waiting > 0) {
            self.turn_over.wait(&mut queue);
        }
        *count(&mut queue, priority) -= 1;
        queue.busy = true;
        drop(queue);
        // A panic inside an earlier turn leaves the model itself intact: take it anyway.
        let loaded = self.loaded.lock();
        Turn { shared: self, loaded: Some(loaded) }
    }

    /// Whether a visitor waits: a remote generation gives its turn up at once (and starts again
    /// later) rather than keep a person at the screen waiting.
    pub fn visitor_waiting(&self) -> bool {
        self.queue.lock().visitors_waiting > 0
    }

    /// Generations waiting for a turn, and whether one runs.
    pub fn waiting(&self) -> (usize, bool) {
        let queue = self.queue.lock();
        (queue.visitors_waiting + queue.remote_waiting, queue.busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn tiny() -> StableDiffusion {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sd-tiny");
        crate::formats::load(&dir, &burn::tensor::Device::flex()).unwrap()
    }

    #[test]
    fn a_waiting_visitor_goes_before_remote_requests_that_waited_longer() {
        let shared = Arc::new(SharedPipeline::new(tiny()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = shared.turn(Priority::Remote);
        let mut threads = Vec::new();
        for (name, priority) in [("remote-1", Priority::Remote), ("remote-2", Priority::Remote), ("visitor", Priority::Visitor)] {
            let (mine, order) = (shared.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let _turn = mine.turn(priority);
                order.lock().push(name);
            }));
            // Each is waiting before the next one asks.
            while shared.waiting().0 < threads.len() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert_eq!(shared.waiting(), (3, true));
        drop(first);
        for t in threads {
            t.join().unwrap();
        }
        let order = order.lock();
        assert_eq!(order[0], "visitor", "{order:?}");
        assert_eq!(order.len(), 3);
        assert_eq!(shared.waiting(), (0, false));
    }

    #[test]
    fn a_request_lora_is_taken_out_again_before_a_request_without_it() {
        let lora = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lora/kohya.safetensors");
        let shared = SharedPipeline::new(tiny());
        let conv_in = |t: &Turn| t.sd.unet.conv_in.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let mut turn = shared.turn(Priority::Remote);
        let before = conv_in(&turn);
        let probe = |t: &Turn| {
            let w = &t.sd.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q.weight;
            w.val().into_data().try_to_vec::<f32>().unwrap()
        };
        let plain = probe(&turn);
        turn.use_loras(&[(lora.clone(), 0.8)]).unwrap();
        let merged = probe(&turn);
        assert_ne!(plain, merged, "the LoRA changes the attention weights");
        assert_eq!(turn.sd.origin.loras, ["kohya.safetensors:0.8"]);
        turn.use_loras(&[(lora.clone(), 0.8)]).unwrap();
        assert_eq!(probe(&turn), merged, "the same LoRAs are not merged twice");
        turn.use_loras(&[]).unwrap();
        assert_eq!(probe(&turn), plain, "the model as loaded is back, bit for bit");
        assert!(turn.sd.origin.loras.is_empty());
        assert_eq!(conv_in(&turn), before);
        let wrong = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sd-tiny/unet/config.json");
        assert!(turn.use_loras(&[(wrong, 1.0)]).is_err());
        assert_eq!(probe(&turn), plain);
        assert!(turn.merged().is_empty());
    }
}

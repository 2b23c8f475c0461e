//! The model tests, each module against its reference (tests/reference scripts, fixed seeds).
//! One test binary for all of them: each binary links burn and wgpu again (~150 MB and a long
//! link apiece), so one per file made a cold build several GB larger and minutes slower.
//! wgpu_f16 keeps a binary of its own (burn fixes a device's float type once per process).

mod common;

mod booth_file;
mod clip;
mod controlnet;
mod lora;
mod optimizers;
mod pipeline;
mod preprocessors;
mod schedulers;
mod single_file;
mod taesd;
mod textual_inversion;
mod tokenizer;
mod toon;
mod torch_rng;
mod unet;
mod vae;

//! What changes a loaded model: LoRA/LyCORIS merges, textual-inversion words, `<lora:...>` and
//! embedding names in a prompt, and quantising its weights to int8/int4.

pub mod extra_networks;
pub mod lora;
pub mod quantize;
pub mod textual_inversion;

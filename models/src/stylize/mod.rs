//! The booth's stylizers: the interface the booth calls, the diffusion stylizer over one shared
//! pipeline, and the instant illustration filter (toon) that is the preview and the fallback.

pub mod diffusion_stylizer;
pub mod shared_pipeline;
pub mod stylizer;
pub mod toon;

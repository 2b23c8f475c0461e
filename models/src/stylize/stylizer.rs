use image::RgbImage;

/// Progress of one stylization, reported after each step.
#[derive(Debug, Clone)]
pub struct Progress {
    /// 1-based step just finished.
    pub step: u32,
    pub total: u32,
    /// A look at the picture so far, when the method has one.
    pub preview: Option<RgbImage>,
}

#[derive(Debug, thiserror::Error)]
pub enum StylizeError {
    #[error("the photo is empty (0 pixels); the camera returned no picture")]
    EmptyPhoto,
    #[error("GPU failure in {stage}: {message}")]
    Gpu { stage: &'static str, message: String },
    #[error("the diffusion model failed: {0}")]
    Model(String),
    #[error("stylization was cancelled")]
    Cancelled,
}

/// Turns a photo into an illustration.
pub trait Stylizer: Send + Sync {
    /// What this is and where it runs, for logs and `keepsake doctor`.
    fn name(&self) -> String;
    /// Number of progress steps `stylize` reports.
    fn steps(&self) -> u32;
    /// Stylizes `photo`, calling `progress` after every step.
    fn stylize(&self, photo: &RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<RgbImage, StylizeError>;
    /// Stops the stylizations in progress: they return [`StylizeError::Cancelled`] after their
    /// current step. Later ones are not affected. For work of seconds (the filter) it is a no-op.
    fn cancel(&self) {}
}

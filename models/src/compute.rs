//! Where the pipeline computes, chosen once at start and reported: the CPU (burn's flex backend,
//! f32), or a wgpu adapter in f16 where it has shader-f16 (half the memory traffic and weight
//! memory of f32 on GPUs built for it), f32 otherwise.

use burn::tensor::{DType, Device, FloatDType};

pub struct Compute {
    pub device: Device,
    /// The float type weights and activations are held in.
    pub float: DType,
}

impl Compute {
    pub fn cpu() -> Self {
        Self { device: Device::flex(), float: DType::F32 }
    }

    /// The default wgpu adapter, in f16 when `prefer_f16` and the adapter supports it. Decided
    /// before any tensor exists on the device (burn fixes a device's float type at its first one);
    /// a device already in use keeps the type it has.
    pub fn wgpu(prefer_f16: bool) -> Self {
        let mut device = Device::wgpu(Default::default());
        if prefer_f16 && device.supports_dtype(DType::F16) {
            if let Err(e) = device.configure(FloatDType::F16) {
                tracing::debug!(?e, "wgpu device already configured");
            }
        }
        let float = float_dtype(&device);
        Self { device, float }
    }

    pub fn describe(&self) -> String {
        let place = if self.device == Device::flex() { "CPU" } else { "GPU (wgpu)" };
        format!("{place}, {}", if self.float == DType::F16 { "f16" } else { "f32" })
    }
}

/// The float type tensors made on `device` get.
pub fn float_dtype(device: &Device) -> DType {
    device.settings().float_dtype.into()
}

//! Where the pipeline computes, chosen once at start and reported: the CPU (burn's flex backend,
//! f32), or a GPU through cubecl's wgpu runtime — SPIR-V with tensor cores where the Vulkan
//! driver offers them, WGSL elsewhere — in f16 where the adapter has shader-f16 (half the memory
//! traffic and weight memory of f32 on GPUs built for it), f32 otherwise.

pub mod gpu_adapter;
pub mod gpu_cache;

use std::sync::OnceLock;

use burn::tensor::{DType, Device, DeviceKind, FloatDType};

use crate::compute::gpu_adapter::{adapter_reports, AdapterReport};

pub struct Compute {
    pub device: Device,
    /// The float type weights and activations are held in.
    pub float: DType,
    /// The GPU adapter behind `device`; None on the CPU.
    pub gpu: Option<AdapterReport>,
}

impl Compute {
    pub fn cpu() -> Self {
        Self { device: Device::flex(), float: DType::F32, gpu: None }
    }

    /// The best hardware GPU (discrete, then integrated, then virtual), never a software
    /// rasterizer (lavapipe runs GPU code on the CPU, slower than the CPU path); None without one.
    pub fn best_gpu(prefer_f16: bool) -> Option<Self> {
        let reports = adapter_reports();
        let best = reports.iter().find(|r| !r.is_software())?;
        Some(Self::on(&reports, best, prefer_f16))
    }

    /// The GPU asked for by name (`--backend wgpu`): the best hardware adapter, else mesa's
    /// software rasterizer through OpenGL (the tests' WGSL path); an error saying how to get one
    /// when there is none.
    pub fn gpu(prefer_f16: bool) -> Result<Self, String> {
        let reports = adapter_reports();
        if let Some(hardware) = reports.iter().find(|r| !r.is_software()) {
            return Ok(Self::on(&reports, hardware, prefer_f16));
        }
        let software = reports.iter().find(|r| r.backend == wgpu::Backend::Gl).ok_or_else(|| {
            "no GPU adapter (wgpu found none, nor mesa's software OpenGL): install the GPU's Vulkan driver, or on a CPU-only machine `sudo apt-get install mesa-vulkan-drivers libvulkan1 libgl1-mesa-dri libegl1`, or use --backend cpu".to_string()
        })?;
        let device = software_device()?;
        let float = float_dtype(&device);
        Ok(Self { device, float, gpu: Some(software.clone()) })
    }

    /// [`Compute::gpu`], falling back to the CPU (said on the log) where there is no adapter.
    pub fn wgpu(prefer_f16: bool) -> Self {
        Self::gpu(prefer_f16).unwrap_or_else(|e| {
            tracing::warn!(%e, "no GPU: computing on the CPU");
            Self::cpu()
        })
    }

    /// Opens `chosen` (one of `reports`, in their order). The float type is decided before any
    /// tensor exists on the device (burn fixes a device's float type at its first one); a device
    /// already in use keeps the type it has.
    fn on(reports: &[AdapterReport], chosen: &AdapterReport, prefer_f16: bool) -> Self {
        let mut device = Device::wgpu(device_kind(reports, chosen));
        if prefer_f16 && chosen.shader_f16 && device.supports_dtype(DType::F16) {
            if let Err(e) = device.configure(FloatDType::F16) {
                tracing::debug!(?e, "wgpu device already configured");
            }
        }
        let float = float_dtype(&device);
        Self { device, float, gpu: Some(chosen.clone()) }
    }

    pub fn describe(&self) -> String {
        let float = if self.float == DType::F16 { "f16" } else { "f32" };
        match &self.gpu {
            None => format!("CPU, {float}"),
            Some(a) => format!("GPU {}, {float}", a.describe()),
        }
    }
}

/// mesa's software rasterizer for the GPU code path, through its OpenGL driver (llvmpipe), where
/// cubecl compiles WGSL. Not through its Vulkan driver (lavapipe): cubecl picks SPIR-V there (it
/// has the Vulkan memory model), and lavapipe crashes compiling cubecl's SPIR-V matmul (a segfault
/// in vkCreateComputePipelines, mesa 22.3.6 and 25.0.7 alike). Made once: cubecl registers a
/// runtime per device and refuses a second.
fn software_device() -> Result<Device, String> {
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options()
                .device_kind(DeviceKind::Cpu)
                .graphics_api(burn::tensor::wgpu::WgpuBackend::Gl)
                .init()
                .map_err(|e| format!("mesa's software OpenGL cannot run the model: {e} (fix: `sudo apt-get install libgl1-mesa-dri libegl1`, or use --backend cpu)"))
        })
        .clone()
}

/// How cubecl names `chosen`: the nth adapter of its type on its graphics API.
fn device_kind(reports: &[AdapterReport], chosen: &AdapterReport) -> DeviceKind {
    let index = reports
        .iter()
        .take_while(|r| !std::ptr::eq(*r, chosen))
        .filter(|r| r.device_type == chosen.device_type && r.backend == chosen.backend)
        .count();
    match chosen.device_type {
        wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(index),
        wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(index),
        wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(index),
        wgpu::DeviceType::Cpu => DeviceKind::Cpu,
        wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
    }
}

/// The float type tensors made on `device` get.
pub fn float_dtype(device: &Device) -> DType {
    device.settings().float_dtype.into()
}

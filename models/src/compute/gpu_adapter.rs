//! What each GPU adapter can do for the diffusion model, read from wgpu and (on Vulkan) from the
//! driver itself: the shader compiler cubecl will use on it, f16 arithmetic, tensor cores
//! (cooperative matrix) and memory. `keepsake doctor` prints it, the booth logs it, and
//! [`crate::compute`] decides from it where the model runs.

use std::ffi::CStr;

/// The kernel language cubecl compiles burn's operations to on an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiler {
    /// SPIR-V straight to Vulkan: cooperative-matrix (tensor core) matmuls and implicit-GEMM
    /// convolutions where the driver offers them.
    SpirV,
    /// WGSL through naga: portable, no tensor cores (convolutions run direct).
    Wgsl,
}

impl std::fmt::Display for Compiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compiler::SpirV => "SPIR-V",
            Compiler::Wgsl => "WGSL",
        })
    }
}

#[derive(Debug, Clone)]
pub struct AdapterReport {
    pub name: String,
    pub driver: String,
    pub driver_info: String,
    pub backend: wgpu::Backend,
    pub device_type: wgpu::DeviceType,
    /// What cubecl compiles for it (the same check cubecl-wgpu makes: Vulkan with the memory
    /// model, buffer device addresses and SPIR-V 1.3).
    pub compiler: Compiler,
    pub shader_f16: bool,
    /// VK_KHR_cooperative_matrix: the tensor-core path of cubecl's SPIR-V matmul and conv.
    pub cooperative_matrix: bool,
    /// The largest device-local memory heap (on an integrated GPU: the share of system memory
    /// the driver gives it); None where the API does not say.
    pub memory_bytes: Option<u64>,
    /// The largest single buffer (one tensor) the adapter accepts.
    pub max_buffer_bytes: u64,
}

impl AdapterReport {
    /// A software rasterizer (mesa's lavapipe/llvmpipe): it runs the GPU code on the CPU, slower
    /// than the CPU path itself, so the booth never picks it on its own.
    pub fn is_software(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }

    /// One line for the doctor and the log.
    pub fn describe(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let memory = match self.memory_bytes {
            Some(b) => format!("{} MiB", b >> 20),
            None => "unknown".into(),
        };
        format!(
            "{} ({:?}, {:?}, driver {} {}); compiler {}; shader-f16 {}; cooperative matrix {}; memory {memory}; largest buffer {} MiB",
            self.name,
            self.backend,
            self.device_type,
            self.driver,
            self.driver_info,
            self.compiler,
            yes_no(self.shader_f16),
            yes_no(self.cooperative_matrix),
            self.max_buffer_bytes >> 20
        )
    }
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle())
}

/// Every adapter this machine offers, best first (discrete, integrated, virtual, then software;
/// Vulkan before OpenGL).
pub fn adapter_reports() -> Vec<AdapterReport> {
    let mut reports: Vec<AdapterReport> =
        pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all())).iter().map(report).collect();
    // The same GPU through Vulkan before OpenGL: only Vulkan compiles SPIR-V (tensor cores).
    reports.sort_by_key(|r| (rank(r.device_type), r.backend != wgpu::Backend::Vulkan));
    reports
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let vulkan = match info.backend {
        wgpu::Backend::Vulkan => vulkan_facts(adapter),
        wgpu::Backend::Noop | wgpu::Backend::Metal | wgpu::Backend::Dx12 | wgpu::Backend::Gl | wgpu::Backend::BrowserWebGpu => None,
    };
    AdapterReport {
        name: info.name.clone(),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        backend: info.backend,
        device_type: info.device_type,
        compiler: if vulkan.as_ref().is_some_and(|v| v.spirv_ready) { Compiler::SpirV } else { Compiler::Wgsl },
        shader_f16: adapter.features().contains(wgpu::Features::SHADER_F16),
        cooperative_matrix: vulkan.as_ref().is_some_and(|v| v.cooperative_matrix),
        memory_bytes: vulkan.as_ref().and_then(|v| v.largest_heap),
        max_buffer_bytes: adapter.limits().max_buffer_size,
    }
}

struct VulkanFacts {
    spirv_ready: bool,
    cooperative_matrix: bool,
    largest_heap: Option<u64>,
}

const COOPERATIVE_MATRIX: &CStr = c"VK_KHR_cooperative_matrix";
const MEMORY_MODEL: &CStr = c"VK_KHR_vulkan_memory_model";
const DEVICE_ADDRESS: &CStr = c"VK_KHR_buffer_device_address";

/// Asks the Vulkan driver what cubecl asks it before choosing SPIR-V.
fn vulkan_facts(adapter: &wgpu::Adapter) -> Option<VulkanFacts> {
    use ash::vk;
    // SAFETY: the hal adapter is only read, while `adapter` (which owns it) is alive.
    let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
    let caps = hal.physical_device_capabilities();
    let api = caps.properties().api_version;
    let raw = hal.shared_instance().raw_instance();
    let physical = hal.raw_physical_device();

    let mut memory_model = vk::PhysicalDeviceVulkanMemoryModelFeatures::default();
    let mut device_address = vk::PhysicalDeviceBufferDeviceAddressFeatures::default();
    let core_1_2 = api >= vk::API_VERSION_1_2;
    let chain_memory_model = core_1_2 || caps.supports_extension(MEMORY_MODEL);
    let chain_device_address = core_1_2 || caps.supports_extension(DEVICE_ADDRESS);
    {
        let mut features = vk::PhysicalDeviceFeatures2::default();
        if chain_memory_model {
            features = features.push_next(&mut memory_model);
        }
        if chain_device_address {
            features = features.push_next(&mut device_address);
        }
        // SAFETY: a valid physical device of this instance, and a well-formed feature chain.
        unsafe { raw.get_physical_device_features2(physical, &mut features) };
    }
    let spirv_ready = api >= vk::API_VERSION_1_1
        && memory_model.vulkan_memory_model == vk::TRUE
        && memory_model.vulkan_memory_model_device_scope == vk::TRUE
        && device_address.buffer_device_address == vk::TRUE;

    // SAFETY: as above.
    let memory = unsafe { raw.get_physical_device_memory_properties(physical) };
    let largest_heap = memory.memory_heaps[..memory.memory_heap_count as usize]
        .iter()
        .filter(|h| h.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
        .map(|h| h.size)
        .max();

    Some(VulkanFacts { spirv_ready, cooperative_matrix: caps.supports_extension(COOPERATIVE_MATRIX), largest_heap })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_adapters_are_ranked_last_and_named_as_such() {
        assert!(rank(wgpu::DeviceType::DiscreteGpu) < rank(wgpu::DeviceType::IntegratedGpu));
        assert!(rank(wgpu::DeviceType::Other) < rank(wgpu::DeviceType::Cpu));
        let r = AdapterReport {
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            driver: "llvmpipe".into(),
            driver_info: "Mesa 22.3.6".into(),
            backend: wgpu::Backend::Vulkan,
            device_type: wgpu::DeviceType::Cpu,
            compiler: Compiler::Wgsl,
            shader_f16: false,
            cooperative_matrix: false,
            memory_bytes: Some(2 << 30),
            max_buffer_bytes: 128 << 20,
        };
        assert!(r.is_software());
        let line = r.describe();
        for part in ["compiler WGSL", "shader-f16 no", "cooperative matrix no", "memory 2048 MiB", "largest buffer 128 MiB"] {
            assert!(line.contains(part), "{line}");
        }
    }
}

//! The GPU path: `shaders/toon.wgsl` through wgpu.

use wgpu::util::DeviceExt;

use super::{ToonParams, WorkImage, SHADER};
use crate::stylize::stylizer::StylizeError;

pub struct GpuToon {
    device: wgpu::Device,
    queue: wgpu::Queue,
    bilateral: wgpu::ComputePipeline,
    stylize: wgpu::ComputePipeline,
    adapter: wgpu::AdapterInfo,
}

const WORKGROUP: u32 = 8;

fn gpu_err(stage: &'static str) -> impl Fn(&dyn std::fmt::Display) -> StylizeError {
    move |e| StylizeError::Gpu { stage, message: e.to_string() }
}

/// Every wgpu adapter this machine offers (for `keepsake doctor` and the startup log).
pub fn adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all())).iter().map(|a| a.get_info()).collect()
}

impl GpuToon {
    /// Opens the best adapter and compiles the filter. Errors say why there is no GPU path.
    pub fn new() -> Result<Self, String> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        }))
        .map_err(|e| format!("no wgpu adapter ({e}); install a Vulkan driver (on a CPU-only machine: `sudo apt-get install mesa-vulkan-drivers libvulkan1`)"))?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("keepsake-toon"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| format!("adapter {} refused a device: {e}", info.name))?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("toon.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let bilateral = pipeline("bilateral");
        let stylize = pipeline("stylize");
        Ok(Self { device, queue, bilateral, stylize, adapter: info })
    }

    pub fn adapter_name(&self) -> String {
        format!("{} via {:?}", self.adapter.name, self.adapter.backend)
    }

    fn bind(&self, pipeline: &wgpu::ComputePipeline, params: &wgpu::Buffer, src: &wgpu::Buffer, dst: &wgpu::Buffer) -> wgpu::BindGroup {
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: src.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: dst.as_entire_binding() },
            ],
        })
    }

    fn dispatch(&self, pipeline: &wgpu::ComputePipeline, bind: &wgpu::BindGroup, p: &ToonParams) {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(p.width.div_ceil(WORKGROUP), p.height.div_ceil(WORKGROUP), 1);
        }
        self.queue.submit([encoder.finish()]);
    }

    fn read(&self, buffer: &wgpu::Buffer, staging: &wgpu::Buffer, img: &mut WorkImage) -> Result<(), StylizeError> {
        let size = buffer.size();
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| gpu_err("wait")(&e))?;
        rx.recv().map_err(|e| gpu_err("map")(&e))?.map_err(|e| gpu_err("map")(&e))?;
        {
            let view = staging.get_mapped_range(..).map_err(|e| gpu_err("map")(&e))?;
            img.pixels.copy_from_slice(bytemuck::cast_slice(&view));
        }
        staging.unmap();
        Ok(())
    }

    pub fn run(
        &self,
        p: &ToonParams,
        iterations: u32,
        mut img: WorkImage,
        report: &mut dyn FnMut(u32, &WorkImage),
    ) -> Result<WorkImage, StylizeError> {
        let bytes = (img.pixels.len() * std::mem::size_of::<[f32; 4]>()) as u64;
        let max = self.device.limits().max_storage_buffer_binding_size as u64;
        if bytes > max {
            return Err(StylizeError::Gpu {
                stage: "upload",
                message: format!("image needs {bytes} bytes, the adapter allows {max} per buffer"),
            });
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let params = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::bytes_of(p),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let a = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("ping"),
            contents: bytemuck::cast_slice(&img.pixels),
            usage,
        });
        let b = self.device.create_buffer(&wgpu::BufferDescriptor { label: Some("pong"), size: bytes, usage, mapped_at_creation: false });
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let (mut src, mut dst) = (&a, &b);
        for i in 0..iterations {
            self.dispatch(&self.bilateral, &self.bind(&self.bilateral, &params, src, dst), p);
            std::mem::swap(&mut src, &mut dst);
            self.read(src, &staging, &mut img)?;
            report(i + 1, &img);
        }
        self.dispatch(&self.stylize, &self.bind(&self.stylize, &params, src, dst), p);
        self.read(dst, &staging, &mut img)?;
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(StylizeError::Gpu { stage: "validation", message: e.to_string() });
        }
        report(iterations + 1, &img);
        Ok(img)
    }
}

//! Device memory for the kernels: every buffer hpnum creates comes from here, checked
//! against the device's limits (and the host's memory where the device shares it) before
//! it is asked for, and a refusal is a typed error naming the bytes.

use wgpu::util::DeviceExt;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::contract::WgslStruct;
use crate::backends::gpu::errors;
use crate::backends::gpu::options::TransferPath;
use crate::error::Result;

impl Context {
    /// A buffer of `bytes` bytes (at least 4) with `usage`, as a typed error if the device
    /// cannot have it.
    pub(crate) fn buffer(
        &self,
        what: &'static str,
        bytes: u64,
        usage: wgpu::BufferUsages,
        mapped_at_creation: bool,
    ) -> Result<wgpu::Buffer> {
        self.alive()?;
        let size = bytes.max(4).next_multiple_of(4);
        self.check_device_bytes(what, u128::from(size), true)?;
        errors::capture(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(what),
                size,
                usage,
                mapped_at_creation,
            })
        })
        .map_err(|failure| failure.into_error(what, size))
    }

    /// A storage buffer that kernels write and transfers copy.
    pub(crate) fn storage(&self, what: &'static str, bytes: u64) -> Result<wgpu::Buffer> {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        self.buffer(what, bytes, usage, false)
    }

    /// A buffer of resident data (a grid band, a vector piece): a storage buffer, also
    /// mappable on the [`TransferPath::MappedBuffers`] path.
    pub(crate) fn data_buffer(
        &self,
        what: &'static str,
        bytes: u64,
        mapped_at_creation: bool,
    ) -> Result<wgpu::Buffer> {
        let mut usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        if self.summary.transfer_path == TransferPath::MappedBuffers {
            usage |= wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE;
        }
        self.buffer(what, bytes, usage, mapped_at_creation)
    }

    /// A staging buffer of `bytes`: for uploads (mapped, ready to write) or read-backs.
    pub(crate) fn staging_buffer(&self, bytes: u64, upload: bool) -> Result<wgpu::Buffer> {
        let usage = if upload {
            wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC
        } else {
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST
        };
        self.buffer("staging", bytes, usage, upload)
    }

    /// A storage buffer holding `data`, which kernels read and `queue.write_buffer` updates.
    pub(crate) fn storage_with<T: bytemuck::Pod>(
        &self,
        what: &'static str,
        data: &[T],
    ) -> Result<wgpu::Buffer> {
        self.buffer_with(
            what,
            bytemuck::cast_slice(data),
            // COPY_SRC: a probe reads its results back from the same small buffer.
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        )
    }

    /// A uniform buffer holding `value`, which `queue.write_buffer` updates.
    pub(crate) fn uniform<S: WgslStruct>(
        &self,
        what: &'static str,
        value: &S,
    ) -> Result<wgpu::Buffer> {
        self.buffer_with(
            what,
            bytemuck::bytes_of(value),
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )
    }

    fn buffer_with(
        &self,
        what: &'static str,
        contents: &[u8],
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        self.alive()?;
        let bytes = contents.len() as u64;
        self.check_device_bytes(what, u128::from(bytes), true)?;
        errors::capture(|| {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(what),
                    contents,
                    usage,
                })
        })
        .map_err(|failure| failure.into_error(what, bytes))
    }

    /// A bind group for `pipeline`'s group 0 with each buffer at its binding number (an
    /// entry point's automatic layout holds only the bindings it uses).
    pub(crate) fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> Result<wgpu::BindGroup> {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        self.capture(|| {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        })
    }
}

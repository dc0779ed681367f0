//! Which memory the host reads when it maps a buffer: the reason a download can run at
//! the bus's rate or at a tenth of it. A CPU reads host-cached memory at its own memory's
//! speed; uncached host-visible memory (write-combined, as a discrete GPU's BAR window is)
//! streams writes well but serves every read uncached, at a few GB/s.
//!
//! wgpu does not say which memory it chose. On Vulkan, wgpu-hal 30 asks gpu-allocator 0.28
//! for `GpuToCpu` memory for a buffer mapped for reading only (hpnum's read-back staging
//! buffers, `MAP_READ | COPY_DST`) and `CpuToGpu` memory for one mapped both ways (the
//! mapped-buffers path's data buffers), and takes the first memory type that has the
//! preferred properties, else the first that is host-visible and coherent. This module
//! asks the Vulkan driver for its memory types and applies the same rule.

/// Whether the memory a mapped buffer lives in is cached for the host's reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostMemory {
    /// Host-cached: the CPU reads it at its own memory's speed.
    Cached,
    /// Host-visible but not cached: writes stream, reads run at a few GB/s.
    Uncached,
}

/// The memory of hpnum's two kinds of mapped buffer on one adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MappedMemory {
    /// A read-back staging buffer (mapped for reading only).
    pub(crate) read_back: HostMemory,
    /// A data buffer mapped for reading and writing.
    pub(crate) mapped_both_ways: HostMemory,
}

/// The memory wgpu gives each kind of mapped buffer on `adapter`, where the API says
/// (Vulkan); `None` elsewhere.
#[cfg(not(any(target_vendor = "apple", target_arch = "wasm32")))]
pub(crate) fn of(adapter: &wgpu::Adapter) -> Option<MappedMemory> {
    use ash::vk::MemoryPropertyFlags as Flags;

    // SAFETY: `as_hal` hands out a guard over wgpu's own Vulkan adapter, which is alive as
    // long as `adapter` is (borrowed for this whole function); the guard is used only to
    // read the instance and physical-device handles and dropped before returning, and
    // nothing is created or destroyed through it, as wgpu's safety contract requires.
    // `get_physical_device_memory_properties` is a query of that instance on one of its
    // own physical devices, with no other precondition. Tested on every Vulkan adapter by
    // `mapped_memory_is_reported_where_vulkan_says` (tests/gpu.rs).
    let properties = unsafe {
        let hal = adapter.as_hal::<wgpu::hal::api::Vulkan>()?;
        hal.shared_instance()
            .raw_instance()
            .get_physical_device_memory_properties(hal.raw_physical_device())
    };
    let count = (properties.memory_type_count as usize).min(properties.memory_types.len());
    let types: Vec<Flags> = properties.memory_types[..count]
        .iter()
        .map(|t| t.property_flags)
        .collect();
    Some(MappedMemory {
        read_back: classify(choose(
            &types,
            Flags::HOST_VISIBLE | Flags::HOST_COHERENT | Flags::HOST_CACHED,
        )?),
        mapped_both_ways: classify(choose(
            &types,
            Flags::HOST_VISIBLE | Flags::HOST_COHERENT | Flags::DEVICE_LOCAL,
        )?),
    })
}

/// Without Vulkan there is nothing to ask.
#[cfg(any(target_vendor = "apple", target_arch = "wasm32"))]
pub(crate) fn of(_adapter: &wgpu::Adapter) -> Option<MappedMemory> {
    None
}

/// gpu-allocator's rule: the first memory type with every `preferred` property, else the
/// first host-visible coherent one; lazily allocated and protected memory never (wgpu-hal
/// 30, `vulkan/device.rs`; gpu-allocator 0.28, `find_memorytype_index`).
#[cfg(not(any(target_vendor = "apple", target_arch = "wasm32")))]
fn choose(
    types: &[ash::vk::MemoryPropertyFlags],
    preferred: ash::vk::MemoryPropertyFlags,
) -> Option<ash::vk::MemoryPropertyFlags> {
    use ash::vk::MemoryPropertyFlags as Flags;
    let usable = |flags: &&Flags| !flags.intersects(Flags::LAZILY_ALLOCATED | Flags::PROTECTED);
    let required = Flags::HOST_VISIBLE | Flags::HOST_COHERENT;
    types
        .iter()
        .filter(usable)
        .find(|flags| flags.contains(preferred))
        .or_else(|| {
            types
                .iter()
                .filter(usable)
                .find(|flags| flags.contains(required))
        })
        .copied()
}

#[cfg(not(any(target_vendor = "apple", target_arch = "wasm32")))]
fn classify(flags: ash::vk::MemoryPropertyFlags) -> HostMemory {
    if flags.contains(ash::vk::MemoryPropertyFlags::HOST_CACHED) {
        HostMemory::Cached
    } else {
        HostMemory::Uncached
    }
}

#[cfg(all(test, not(any(target_vendor = "apple", target_arch = "wasm32"))))]
mod tests {
    use crate::backends::gpu::host_memory::*;
    use ash::vk::MemoryPropertyFlags as Flags;

    const HOST: Flags =
        Flags::from_raw(Flags::HOST_VISIBLE.as_raw() | Flags::HOST_COHERENT.as_raw());

    /// An NVIDIA-like list: device memory, uncached host memory, cached host memory, and
    /// the BAR window (device-local and host-visible, uncached).
    fn discrete() -> Vec<Flags> {
        vec![
            Flags::DEVICE_LOCAL,
            HOST,
            HOST | Flags::HOST_CACHED,
            Flags::DEVICE_LOCAL | HOST,
        ]
    }

    #[test]
    fn a_read_back_buffer_gets_cached_memory_where_there_is_some() {
        let types = discrete();
        let read_back = Flags::HOST_VISIBLE | Flags::HOST_COHERENT | Flags::HOST_CACHED;
        assert_eq!(choose(&types, read_back), Some(HOST | Flags::HOST_CACHED));
        assert_eq!(classify(HOST | Flags::HOST_CACHED), HostMemory::Cached);
    }

    #[test]
    fn a_buffer_mapped_both_ways_gets_the_uncached_bar_window() {
        let both = Flags::HOST_VISIBLE | Flags::HOST_COHERENT | Flags::DEVICE_LOCAL;
        let chosen = choose(&discrete(), both);
        assert_eq!(chosen, Some(Flags::DEVICE_LOCAL | HOST));
        assert_eq!(chosen.map(classify), Some(HostMemory::Uncached));
    }

    #[test]
    fn without_the_preferred_type_the_first_host_visible_one_is_taken() {
        let types = vec![Flags::DEVICE_LOCAL, Flags::LAZILY_ALLOCATED | HOST, HOST];
        let read_back = Flags::HOST_VISIBLE | Flags::HOST_COHERENT | Flags::HOST_CACHED;
        assert_eq!(choose(&types, read_back), Some(HOST));
        assert_eq!(choose(&[Flags::DEVICE_LOCAL], read_back), None);
    }
}

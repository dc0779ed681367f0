//! Host memory that is asked for, never assumed: every array hpnum allocates on behalf of a
//! caller (kernel outputs, initial grids, test vectors, contiguous copies) goes through
//! here, so that a size beyond the machine is an [`Error::OutOfMemory`] naming the bytes,
//! not an abort in the allocator or a process killed by the operating system.
//!
//! Two checks come before the allocation itself: the byte count must fit the address space,
//! and large requests must fit the memory the machine has available now (Linux:
//! `MemAvailable`, and the cgroup's limit when the process runs in one). The second matters
//! because Linux overcommits: an allocation far beyond RAM can succeed and the process be
//! killed later, when the pages are touched.

use ndarray::{Array1, Array2};

use crate::error::{Error, Result};

/// Below this many bytes an allocation is not checked against available memory: reading
/// `/proc` costs microseconds, and small requests that fail abort anyway.
const CHECKED_FROM_BYTES: u128 = 64 << 20;

/// `len` elements of `T` in bytes, exactly.
pub(crate) fn bytes_of<T>(len: usize) -> u128 {
    len as u128 * size_of::<T>() as u128
}

/// `rows × cols` elements, or the error that names the bytes when the product overflows.
pub(crate) fn elements<T>(rows: usize, cols: usize, what: &'static str) -> Result<usize> {
    rows.checked_mul(cols).ok_or_else(|| Error::OutOfMemory {
        what,
        bytes: rows as u128 * cols as u128 * size_of::<T>() as u128,
        reason: format!("{rows} × {cols} elements exceed the address space"),
    })
}

/// Checks that `bytes` of host memory could be allocated for `what` now: what hpnum checks
/// before its own allocations, for callers that allocate for it (a Python wrapper copying a
/// chunk, a Dask task): beyond the address space always, beyond the memory available
/// (Linux: `MemAvailable` and the cgroup's limit) from 64 MiB on.
///
/// # Errors
/// [`Error::OutOfMemory`] if they exceed the address space or the memory available.
pub fn check_host(bytes: u128, what: &'static str) -> Result<()> {
    if bytes > isize::MAX as u128 {
        return Err(Error::OutOfMemory {
            what,
            bytes,
            reason: "exceeds the address space".into(),
        });
    }
    if bytes >= CHECKED_FROM_BYTES
        && let Some(available) = available_host_bytes()
        && bytes > u128::from(available)
    {
        return Err(Error::OutOfMemory {
            what,
            bytes,
            reason: format!("only {available} bytes of host memory are available"),
        });
    }
    Ok(())
}

/// `len` zeros (of any type whose all-zero bytes are a value), allocated fallibly. Zeroed
/// pages come from the operating system untouched, so this costs no pass over the memory.
///
/// # Errors
/// [`Error::OutOfMemory`] as [`check_host`], or if the allocator refuses.
pub(crate) fn zeroed_vec<T: bytemuck::Zeroable>(len: usize, what: &'static str) -> Result<Vec<T>> {
    let bytes = bytes_of::<T>(len);
    check_host(bytes, what)?;
    bytemuck::allocation::try_zeroed_vec(len).map_err(|()| Error::OutOfMemory {
        what,
        bytes,
        reason: "the allocator refused".into(),
    })
}

/// A `rows × cols` array of zeros, allocated fallibly.
///
/// # Errors
/// As [`zeroed_vec`], and if `rows × cols` overflows.
pub(crate) fn zeroed_array2<T: bytemuck::Zeroable>(
    rows: usize,
    cols: usize,
    what: &'static str,
) -> Result<Array2<T>> {
    let len = elements::<T>(rows, cols, what)?;
    let data = zeroed_vec(len, what)?;
    // Cannot fail: the length is rows × cols by construction.
    Array2::from_shape_vec((rows, cols), data).map_err(|_| Error::ShapeMismatch {
        what,
        expected: vec![rows, cols],
        found: vec![len],
    })
}

/// An empty vector with room for `len` elements, reserved fallibly.
///
/// # Errors
/// As [`zeroed_vec`].
pub(crate) fn with_capacity<T>(len: usize, what: &'static str) -> Result<Vec<T>> {
    let bytes = bytes_of::<T>(len);
    check_host(bytes, what)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|e| Error::OutOfMemory {
        what,
        bytes,
        reason: e.to_string(),
    })?;
    Ok(v)
}

/// The `len` items of `items` collected into a vector reserved fallibly first.
///
/// # Errors
/// As [`with_capacity`].
pub(crate) fn collect_vec<T>(
    len: usize,
    items: impl IntoIterator<Item = T>,
    what: &'static str,
) -> Result<Vec<T>> {
    let mut v = with_capacity(len, what)?;
    v.extend(items.into_iter().take(len));
    Ok(v)
}

/// As [`collect_vec`], as a one-dimensional array.
///
/// # Errors
/// As [`with_capacity`].
pub(crate) fn collect_array1<T>(
    len: usize,
    items: impl IntoIterator<Item = T>,
    what: &'static str,
) -> Result<Array1<T>> {
    collect_vec(len, items, what).map(Array1::from_vec)
}

/// Bytes of host memory the process could still allocate, where the platform says:
/// Linux's `MemAvailable`, lowered to the cgroup's remaining allowance in a container.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn available_host_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo.lines().find_map(|line| {
        let kib = line
            .strip_prefix("MemAvailable:")?
            .trim()
            .strip_suffix("kB")?;
        kib.trim().parse::<u64>().ok()?.checked_mul(1024)
    })?;
    Some(match cgroup_remaining_bytes() {
        Some(remaining) => available.min(remaining),
        None => available,
    })
}

/// What a WebAssembly module can still allocate: its linear memory grows to 4 GiB at most
/// (wasm32), whatever the machine has, and what it holds now is taken. A browser has no
/// `/proc` to read, and a WASI host's `/proc` describes the host, not this module.
#[cfg(target_arch = "wasm32")]
pub(crate) fn available_host_bytes() -> Option<u64> {
    const PAGE: u64 = 64 << 10;
    let pages = core::arch::wasm32::memory_size(0) as u64;
    Some((1u64 << 32).saturating_sub(pages * PAGE))
}

/// The cgroup v2 memory limit less what the cgroup uses, if a limit is set.
#[cfg(not(target_arch = "wasm32"))]
fn cgroup_remaining_bytes() -> Option<u64> {
    let read = |name: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok();
    let max = read("memory.max")?.trim().parse::<u64>().ok()?; // "max" when unlimited
    let current = read("memory.current")?.trim().parse::<u64>().ok()?;
    Some(max.saturating_sub(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_arrays_are_zero_and_sized() -> Result<()> {
        for (rows, cols) in [(0, 0), (0, 5), (1, 1), (3, 7), (1000, 1001)] {
            let a = zeroed_array2::<f64>(rows, cols, "test")?;
            assert_eq!(a.dim(), (rows, cols));
            assert!(a.iter().all(|&x| x.to_bits() == 0));
        }
        Ok(())
    }

    #[test]
    fn impossible_sizes_are_errors_naming_the_bytes() {
        let result = zeroed_array2::<f64>(usize::MAX / 2, 4, "grid");
        assert!(
            matches!(result, Err(Error::OutOfMemory { what: "grid", bytes, .. })
                if bytes == (usize::MAX / 2) as u128 * 4 * 8),
            "{result:?}"
        );
        assert!(matches!(
            zeroed_vec::<u32>(usize::MAX / 2, "counts"),
            Err(Error::OutOfMemory { .. })
        ));
        assert!(matches!(
            with_capacity::<f32>(usize::MAX / 4 + 1, "copy"),
            Err(Error::OutOfMemory { .. })
        ));
    }

    #[test]
    fn more_than_the_machine_has_is_refused_up_front() {
        let Some(available) = available_host_bytes() else {
            return; // not Linux: only the address-space check applies
        };
        // Beyond what is available by an eighth (gigabytes on a machine of gigabytes): no
        // change of the free memory meanwhile makes it fit.
        let margin = available / 64 + (1 << 20);
        let too_many = usize::try_from(available / 8 + margin).unwrap_or(usize::MAX);
        let result = zeroed_vec::<f64>(too_many, "big").map(|v| v.len());
        // On wasm32 a single allocation is also bounded by the 2 GiB address space, which
        // may be the check that speaks first.
        let fits_address_space = (too_many as u128) * 8 <= isize::MAX as u128;
        assert!(
            matches!(&result, Err(Error::OutOfMemory { reason, .. })
                if reason.contains("available") || !fits_address_space),
            "{result:?}"
        );
    }
}

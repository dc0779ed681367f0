//! Device objects kept for reuse across calls, so that a call builds nothing it built
//! before: staging buffers and timestamp query sets ([`Pool`]), and the device buffers of
//! recent one-shot calls, by what they hold, precision and shape ([`Cache`]). A call takes
//! an item out (no two calls share one) and puts it back when done.

use std::any::Any;
use std::sync::{Mutex, PoisonError};

use crate::real::Precision;

/// Items of type `V`, each filed under a key `K`, at most `capacity` of them.
pub(crate) struct Pool<K, V> {
    items: Mutex<Vec<(K, V)>>,
    capacity: usize,
}

impl<K: PartialEq, V> Pool<K, V> {
    /// An empty pool that keeps at most `capacity` items.
    pub(crate) fn new(capacity: usize) -> Self {
        Pool {
            items: Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// Takes the most recently returned item filed under `key`, if any.
    pub(crate) fn take(&self, key: &K) -> Option<V> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let at = items.iter().rposition(|(k, _)| k == key)?;
        Some(items.remove(at).1)
    }

    /// Drops every item.
    pub(crate) fn clear(&self) {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The sum of `size` over the items kept.
    pub(crate) fn total(&self, size: impl Fn(&V) -> u64) -> u64 {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.iter().map(|(_, v)| size(v)).sum()
    }

    /// Returns an item; the oldest one is dropped when the pool is full.
    pub(crate) fn put(&self, key: K, value: V) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        if items.len() >= self.capacity {
            if self.capacity == 0 {
                return;
            }
            items.remove(0);
        }
        items.push((key, value));
    }
}

/// The staging buffers of one device, by size class, and how transfers use them.
pub(crate) struct StagingPool {
    /// Bytes per chunk of a long transfer (a multiple of 16).
    pub chunk_bytes: u64,
    /// Chunks in flight per transfer.
    pub depth: usize,
    /// Whether long host copies are split over the rayon pool's threads.
    pub parallel: bool,
    /// `MAP_WRITE | COPY_SRC` buffers, each mapped and ready to be written.
    pub uploads: Pool<u64, wgpu::Buffer>,
    /// `MAP_READ | COPY_DST` buffers, unmapped and idle.
    pub readbacks: Pool<u64, wgpu::Buffer>,
}

impl StagingPool {
    /// Chunks of `chunk_bytes`, `depth` of them in flight per transfer, host copies over
    /// several threads if `parallel`.
    pub(crate) fn new(chunk_bytes: u64, depth: usize, parallel: bool) -> Self {
        StagingPool {
            chunk_bytes,
            depth: depth.max(1),
            parallel,
            uploads: Pool::new(2 * depth.max(1)),
            readbacks: Pool::new(4 * depth.max(1)),
        }
    }

    /// Drops every pooled staging buffer.
    pub(crate) fn clear(&self) {
        self.uploads.clear();
        self.readbacks.clear();
    }

    /// Bytes of the pooled staging buffers.
    pub(crate) fn bytes(&self) -> u64 {
        self.uploads.total(wgpu::Buffer::size) + self.readbacks.total(wgpu::Buffer::size)
    }

    /// Elements of `T` per chunk.
    pub(crate) fn chunk_elements<T>(&self) -> usize {
        (self.chunk_bytes as usize / size_of::<T>()).max(1)
    }
}

/// What a [`Cache`] entry holds: what kind of thing (`grid`, `vector`, a kernel's buffers),
/// in which precision, of which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub what: &'static str,
    pub precision: Precision,
    pub shape: [usize; 2],
}

struct Cached {
    key: CacheKey,
    bytes: u64,
    value: Box<dyn Any + Send>,
}

/// The device buffers of recent one-shot calls, kept for the next call of the same key:
/// refilling them costs a copy, allocating new ones also the allocation (and, on a software
/// driver, a page fault per page). Bounded three ways: at most `per_kind` entries of each
/// `what`, none larger than `item_bytes`, and `total_bytes` in all (the oldest go first).
pub(crate) struct Cache {
    items: Mutex<Vec<Cached>>,
    per_kind: usize,
    item_bytes: u64,
    total_bytes: u64,
}

impl Cache {
    pub(crate) fn new(per_kind: usize, item_bytes: u64, total_bytes: u64) -> Self {
        Cache {
            items: Mutex::new(Vec::new()),
            per_kind,
            item_bytes,
            total_bytes,
        }
    }

    /// Takes the most recently kept value filed under `key`, if it has type `V`.
    pub(crate) fn take<V: Any + Send>(&self, key: &CacheKey) -> Option<V> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let at = items
            .iter()
            .rposition(|c| c.key == *key && c.value.is::<V>())?;
        items.remove(at).value.downcast::<V>().ok().map(|v| *v)
    }

    /// Keeps `value`, which holds `bytes` of device memory, unless it is larger than one
    /// entry may be; the oldest entries make room.
    pub(crate) fn put<V: Any + Send>(&self, key: CacheKey, bytes: u64, value: V) {
        if bytes > self.item_bytes || self.per_kind == 0 {
            return;
        }
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        if items.iter().filter(|c| c.key.what == key.what).count() >= self.per_kind
            && let Some(oldest) = items.iter().position(|c| c.key.what == key.what)
        {
            items.remove(oldest);
        }
        while !items.is_empty()
            && items.iter().map(|c| c.bytes).sum::<u64>() + bytes > self.total_bytes
        {
            items.remove(0);
        }
        items.push(Cached {
            key,
            bytes,
            value: Box::new(value),
        });
    }

    /// Bytes of device memory the cache holds.
    pub(crate) fn bytes(&self) -> u64 {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.iter().map(|c| c.bytes).sum()
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{Cache, Pool};
    use crate::backends::gpu::pool::CacheKey;
    use crate::real::Precision;

    fn key(what: &'static str, n: usize) -> CacheKey {
        CacheKey {
            what,
            precision: Precision::F32,
            shape: [n, n],
        }
    }

    #[test]
    fn the_cache_keeps_recent_entries_within_its_bounds() {
        let cache = Cache::new(2, 100, 240);
        cache.put(key("grid", 1), 50, 1u32);
        cache.put(key("grid", 2), 50, 2u32);
        cache.put(key("grid", 3), 50, 3u32); // the third grid evicts the first
        assert_eq!(cache.take::<u32>(&key("grid", 1)), None);
        assert_eq!(cache.take::<u64>(&key("grid", 2)), None, "typed");
        assert_eq!(cache.take::<u32>(&key("grid", 2)), Some(2));
        cache.put(key("vector", 1), 101, 9u32); // too large for one entry
        assert_eq!(cache.take::<u32>(&key("vector", 1)), None);
        cache.put(key("vector", 1), 100, 4u32);
        cache.put(key("vector", 2), 100, 5u32); // 250 would exceed 240: the grid goes
        assert_eq!(cache.bytes(), 200);
        assert_eq!(cache.take::<u32>(&key("grid", 3)), None);
        assert_eq!(cache.take::<u32>(&key("vector", 2)), Some(5));
        cache.clear();
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn takes_by_key_newest_first_and_drops_the_oldest_when_full() {
        let pool = Pool::new(2);
        pool.put("a", 1);
        pool.put("b", 2);
        pool.put("a", 3); // drops ("a", 1)
        assert_eq!(pool.take(&"a"), Some(3));
        assert_eq!(pool.take(&"a"), None);
        assert_eq!(pool.take(&"b"), Some(2));
        let none: Pool<u8, u8> = Pool::new(0);
        none.put(1, 1);
        assert_eq!(none.take(&1), None);
    }
}

//! Device objects kept for reuse across calls, so that a call builds nothing it built
//! before: staging buffers, timestamp query sets, a kernel's buffers for a shape. A call
//! takes an item out (no two calls share one) and puts it back when done.

use std::sync::{Mutex, PoisonError};

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

#[cfg(test)]
mod tests {
    use super::Pool;

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

//! The tile cache: tiles and node tables of committed trees, kept by
//! exact tile id (immutable once committed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use provenant_tlog::TileId;

use super::TransparencyLog;

/// A tile cache keyed by exact tile id (a `.p/W` tile of a consistent log
/// never changes, so every entry is immutable). Two generations approximate
/// LRU: hits in the old generation move to the new one; when the new one is
/// full the old one is dropped.
pub(super) struct TileCache<V = Arc<[u8]>> {
    inner: Mutex<CacheGen<V>>,
    cap: usize,
}

struct CacheGen<V> {
    hot: HashMap<TileId, V>,
    cold: HashMap<TileId, V>,
    hot_bytes: usize,
}

impl<V> Default for CacheGen<V> {
    fn default() -> Self {
        Self {
            hot: HashMap::new(),
            cold: HashMap::new(),
            hot_bytes: 0,
        }
    }
}

/// Bytes a cached value holds.
pub(super) trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for Arc<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl<V: Clone + Weight> TileCache<V> {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::default(),
            cap,
        }
    }

    pub(super) fn get(&self, id: &TileId) -> Option<V> {
        let mut g = self.inner.lock().ok()?;
        if let Some(t) = g.hot.get(id) {
            return Some(t.clone());
        }
        let t = g.cold.remove(id)?;
        Self::insert_locked(&mut g, self.cap, *id, t.clone());
        Some(t)
    }

    pub(super) fn insert(&self, id: TileId, data: V) {
        if let Ok(mut g) = self.inner.lock() {
            Self::insert_locked(&mut g, self.cap, id, data);
        }
    }

    fn insert_locked(g: &mut CacheGen<V>, cap: usize, id: TileId, data: V) {
        g.hot_bytes += data.weight();
        if let Some(old) = g.hot.insert(id, data) {
            g.hot_bytes -= old.weight();
        }
        if g.hot_bytes > cap / 2 {
            g.cold = std::mem::take(&mut g.hot);
            g.hot_bytes = 0;
        }
    }

    pub(super) fn remove(&self, id: &TileId) {
        if let Ok(mut g) = self.inner.lock() {
            if let Some(old) = g.hot.remove(id) {
                g.hot_bytes -= old.weight();
            }
            g.cold.remove(id);
        }
    }
}

impl TransparencyLog {
    /// Forget a cached tile (tests that tamper with storage).
    pub fn forget_tile(&self, id: &TileId) {
        self.inner.cache.remove(id);
        self.inner.nodes.remove(id);
    }
}

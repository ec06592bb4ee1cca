//! Events as read, kept by `seq`, so a page of events read before costs one
//! statement (its keys, from an index) instead of five, and no decoding.
//!
//! Why it can never serve a changed or deleted event, on any instance:
//! - an event is never changed in place: a replaced event is deleted and stored
//!   again under a new `seq`, so a page's keys name only what is stored now;
//! - on PostgreSQL and MySQL a `seq` is never used twice (sequences and
//!   InnoDB's persistent auto-increment), so an entry another instance made
//!   stale by deleting its event is simply never asked for again;
//! - on SQLite (one process's file, see README) a deleted highest rowid can be
//!   reused, so the store's own deletes forget their `seq`s after the commit, and
//!   a read that fetched an event while a delete ran does not keep it (the
//!   generation below).

use std::collections::{HashMap, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use crate::domain::AuditEvent;
use crate::domain::graph::Rendered;

/// A stored event as read, with its renderings.
#[derive(Debug)]
pub struct CachedEvent {
    pub seq: i64,
    pub event: AuditEvent,
    pub rendered: Rendered,
}

impl Deref for CachedEvent {
    type Target = AuditEvent;

    fn deref(&self) -> &AuditEvent {
        &self.event
    }
}

/// Events by `seq`, at most `capacity` of them; the oldest entry goes first.
pub(super) struct EventCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl std::fmt::Debug for EventCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    events: HashMap<i64, Arc<CachedEvent>>,
    /// Insertion order; may name entries forgotten since (skipped on eviction).
    order: VecDeque<i64>,
    /// Moves on every forget: a fill that began before one is dropped.
    generation: u64,
}

impl EventCache {
    pub fn new(capacity: usize) -> EventCache {
        EventCache { inner: Mutex::default(), capacity }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("event cache poisoned")
    }

    /// The cached events among `seqs`, in their order, and the generation a
    /// fill of the missing ones must present.
    pub fn lookup(&self, seqs: &[i64]) -> (Vec<Option<Arc<CachedEvent>>>, u64) {
        let inner = self.lock();
        (seqs.iter().map(|s| inner.events.get(s).cloned()).collect(), inner.generation)
    }

    /// Keeps events read since `generation` was handed out, unless something
    /// was forgotten meanwhile (they may then be older than the delete).
    pub fn fill(&self, generation: u64, events: &[Arc<CachedEvent>]) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        for event in events {
            if inner.events.insert(event.seq, event.clone()).is_none() {
                inner.order.push_back(event.seq);
            }
        }
        while inner.events.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else { break };
            inner.events.remove(&oldest);
        }
        // Forgotten entries leave their keys behind; keep the queue bounded too.
        if inner.order.len() > 2 * self.capacity.max(1) {
            let Inner { events, order, .. } = &mut *inner;
            order.retain(|seq| events.contains_key(seq));
        }
    }

    /// Forgets `seqs` (deleted events), and any fill in flight.
    pub fn forget(&self, seqs: &[i64]) {
        let mut inner = self.lock();
        inner.generation += 1;
        for seq in seqs {
            inner.events.remove(seq);
        }
    }

    /// Forgets everything (every event deleted).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.events.clear();
        inner.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, id: &str) -> Arc<CachedEvent> {
        let event = AuditEvent {
            id: id.into(),
            display_name: None,
            component_name: None,
            actor: None,
            activity: None,
            activity_date_time: chrono::DateTime::UNIX_EPOCH,
            activity_type: None,
            activity_operation_type: None,
            activity_result: None,
            correlation_id: uuid::Uuid::nil(),
            category: None,
            resources: Vec::new(),
        };
        Arc::new(CachedEvent { seq, event, rendered: Rendered::default() })
    }

    fn ids(cache: &EventCache, seqs: &[i64]) -> Vec<Option<String>> {
        cache.lookup(seqs).0.into_iter().map(|e| e.map(|e| e.id.clone())).collect()
    }

    #[test]
    fn keeps_at_most_its_capacity_oldest_out_first() {
        let cache = EventCache::new(2);
        let (_, generation) = cache.lookup(&[]);
        cache.fill(generation, &[event(1, "a"), event(2, "b"), event(3, "c")]);
        assert_eq!(ids(&cache, &[1, 2, 3]), [None, Some("b".into()), Some("c".into())]);
    }

    #[test]
    fn a_fill_that_raced_a_delete_is_dropped() {
        let cache = EventCache::new(10);
        let (_, generation) = cache.lookup(&[7]);
        // The event is deleted (and on SQLite its seq may be reused) while the
        // reader still holds what it fetched before.
        cache.forget(&[7]);
        cache.fill(generation, &[event(7, "old")]);
        assert_eq!(ids(&cache, &[7]), [None]);
        let (_, generation) = cache.lookup(&[7]);
        cache.fill(generation, &[event(7, "new")]);
        assert_eq!(ids(&cache, &[7]), [Some("new".into())]);
    }

    #[test]
    fn forgotten_keys_do_not_pile_up() {
        let cache = EventCache::new(4);
        for seq in 0..1_000 {
            let (_, generation) = cache.lookup(&[]);
            cache.fill(generation, &[event(seq, "e")]);
            cache.forget(&[seq]);
        }
        assert!(cache.lock().order.len() <= 8);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = EventCache::new(0);
        cache.fill(0, &[event(1, "a")]);
        assert_eq!(ids(&cache, &[1]), [None]);
    }
}

//! Events as read, kept by `seq`, so a page of events read before costs one
//! statement (its keys, from an index) instead of five, and no decoding.
//!
//! It can never serve a changed or deleted event, on any instance, because a
//! `seq` names one event forever: an event is never changed in place (a replaced
//! event is deleted and stored again under a new `seq`), and no backend hands out
//! a `seq` twice (SQLite's `AUTOINCREMENT`, PostgreSQL's sequences, InnoDB's
//! persistent auto-increment), deletes and resets included. So a page's keys name
//! only what is stored now, and an entry whose event is gone is never asked for
//! again; it leaves with the oldest.

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
    /// Insertion order.
    order: VecDeque<i64>,
}

impl EventCache {
    pub fn new(capacity: usize) -> EventCache {
        EventCache { inner: Mutex::default(), capacity }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("event cache poisoned")
    }

    /// The cached events among `seqs`, in their order.
    pub fn lookup(&self, seqs: &[i64]) -> Vec<Option<Arc<CachedEvent>>> {
        let inner = self.lock();
        seqs.iter().map(|s| inner.events.get(s).cloned()).collect()
    }

    /// Keeps events just read.
    pub fn fill(&self, events: &[Arc<CachedEvent>]) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        for event in events {
            if inner.events.insert(event.seq, event.clone()).is_none() {
                inner.order.push_back(event.seq);
            }
        }
        while inner.events.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else { break };
            inner.events.remove(&oldest);
        }
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
        cache.lookup(seqs).into_iter().map(|e| e.map(|e| e.id.clone())).collect()
    }

    #[test]
    fn keeps_at_most_its_capacity_oldest_out_first() {
        let cache = EventCache::new(2);
        cache.fill(&[event(1, "a"), event(2, "b"), event(3, "c")]);
        assert_eq!(ids(&cache, &[1, 2, 3]), [None, Some("b".into()), Some("c".into())]);
        // Kept again, an event keeps its place.
        cache.fill(&[event(2, "b")]);
        cache.fill(&[event(4, "d")]);
        assert_eq!(ids(&cache, &[2, 3, 4]), [None, Some("c".into()), Some("d".into())]);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = EventCache::new(0);
        cache.fill(&[event(1, "a")]);
        assert_eq!(ids(&cache, &[1]), [None]);
    }
}

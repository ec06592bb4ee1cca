//! The event stream: turns a seed into a tenant's audit history, one event at a time.
//!
//! Each event draws, in a fixed order from one ChaCha8 stream: its time (from the
//! [`Schedule`]), whether it continues the previous actor's session, its category,
//! activity and actor, success or failure, its resources and their changes, and finally
//! its id and correlation id. Nothing else feeds it, so the same arguments replay the same
//! bytes everywhere.
//!
//! Resources have a life. Each kind has a *population* that existed before the window
//! (patched and assigned, never deleted), plus resources created inside it, tracked in a
//! small list of live ones per kind: later events patch, assign and act on them (recent
//! ones most), and a Delete removes one for good. A deleted resource is never referenced
//! again; a Delete that finds nothing live deletes a resource from before the window that
//! was never seen. Since event times ascend, a resource's Create precedes everything else
//! about it. A resource's variant, name and id are pure functions of (seed, kind, serial),
//! so nothing per resource is stored beyond the bounded live lists: memory stays constant
//! however many events are drawn.

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, Ticks};

use super::catalogue::{
    Activity, ActorKind, Catalogue, Changes, Lifecycle, PatchMode, Property, Variant, catalogue,
};
use super::rhythm::Schedule;
use super::template::{Context, Draw, Side, SplitMix, mix};

/// How many created-in-window resources per kind stay eligible for later events. Older
/// ones simply stop being touched, as real configuration goes quiet.
const LIVE_CAP: usize = 48;
/// Serial numbers from here on name resources deleted without having been seen before.
const UNSEEN: u64 = 1 << 48;
/// The most resources one event may target (bulk device actions and the like).
pub(super) const MAX_TARGETS: usize = 16;
const HOUR: i64 = 3_600 * 10_000_000;
const DAY: i64 = 24 * HOUR;

/// Streams `count` audit events with times in `[from, to)`, reproducibly from `seed`.
///
/// The same arguments always yield byte-identical events. Times have 100 ns precision and
/// never decrease from one event to the next. Nothing is yielded when `from >= to`.
pub fn generate(seed: u64, count: u64, from: DateTime<Utc>, to: DateTime<Utc>) -> Generator {
    Generator::new(seed, count, from, to)
}

/// The iterator behind [`generate`]. Its memory does not grow with `count`.
pub struct Generator {
    catalogue: &'static Catalogue,
    seed: u64,
    rng: ChaCha8Rng,
    schedule: Option<Schedule>,
    next: u64,
    count: u64,
    kinds: Vec<KindState>,
    session: Option<Session>,
}

/// What the generator remembers about one resource kind.
#[derive(Default)]
struct KindState {
    /// Resources created in the window and not deleted, oldest first, at most `LIVE_CAP`.
    live: Vec<Live>,
    created: u64,
    deleted_unseen: u64,
}

#[derive(Clone, Copy)]
struct Live {
    serial: u64,
    created_at: i64,
}

/// One resource, as an event refers to it.
#[derive(Clone, Copy)]
struct Target {
    kind: usize,
    serial: u64,
    /// When it was created, if inside the window.
    created_at: Option<i64>,
}

/// The previous event, which the next may continue: same admin, same area, often the
/// same object (create a policy, then assign it).
#[derive(Clone, Copy)]
struct Session {
    category: usize,
    actor: usize,
    target: Option<Target>,
}

impl Generator {
    pub fn new(seed: u64, count: u64, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let catalogue = catalogue();
        let schedule = Schedule::new(&catalogue.rhythm, ceil_ticks(from), ceil_ticks(to), count);
        // The ChaCha key is spelled out from the seed (rather than `seed_from_u64`) so
        // the stream cannot change under a rand_core upgrade.
        let mut key = [0u8; 32];
        let mut expand = SplitMix(seed);
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&expand.next_u64().to_le_bytes());
        }
        Generator {
            catalogue,
            seed,
            rng: ChaCha8Rng::from_seed(key),
            count: if schedule.is_some() { count } else { 0 },
            schedule,
            next: 0,
            kinds: catalogue.kinds.iter().map(|_| KindState::default()).collect(),
            session: None,
        }
    }

    /// Events still to come.
    pub fn remaining(&self) -> u64 {
        self.count - self.next
    }

    fn event(&mut self, now: i64) -> AuditEvent {
        let cat = self.catalogue;
        let continuing = self.session.filter(|_| self.rng.chance(cat.session_continue_per_mille));
        let category_index = match continuing {
            Some(s) => s.category,
            None => cat.category_pick.pick(&mut self.rng),
        };
        let category = &cat.categories[category_index];
        let activity = &category.activities[category.activity_pick.pick(&mut self.rng)];
        let actor_index = match continuing {
            Some(s) => s.actor,
            None => category.pick_actor(&mut self.rng),
        };
        let failed = self.rng.chance(cat.failure_per_mille);
        let follow = continuing
            .and_then(|s| s.target)
            .filter(|t| Some(t.kind) == activity.kind)
            .filter(|_| self.rng.chance(cat.same_resource_per_mille));

        let (resources, target) = self.resources(activity, now, failed, follow);
        let actor = self.actor(actor_index);
        let id = self.rng.uuid();
        let correlation_id = self.rng.uuid();
        self.session = Some(Session { category: category_index, actor: actor_index, target });

        AuditEvent {
            id: guid_string(id),
            display_name: Some(activity.display_name.clone()),
            component_name: Some(activity.component.clone()),
            actor: Some(actor),
            activity: None,
            activity_date_time: Ticks(now).to_datetime(),
            activity_type: Some(activity.activity_type.clone()),
            activity_operation_type: Some(activity.operation.clone()),
            activity_result: Some(if failed { "Failure" } else { "Success" }.to_owned()),
            correlation_id,
            category: Some(category.name.clone()),
            resources,
        }
    }

    fn actor(&mut self, index: usize) -> AuditActor {
        let cat = self.catalogue;
        let template = &cat.actors[index];
        let mut actor = template.base.clone();
        let client = match template.kind {
            ActorKind::ItPro => Some(&cat.clients[cat.client_pick.pick(&mut self.rng)]),
            // Partners work through the portal (the first client).
            ActorKind::Partner => Some(&cat.clients[0]),
            ActorKind::Application => None,
        };
        if let Some(client) = client {
            actor.application_id = Some(client.application_id.clone());
            actor.application_display_name = Some(client.display_name.clone());
        }
        if self.rng.chance(cat.ip_address_per_mille) {
            let ips = &cat.ip_addresses;
            actor.ip_address = Some(ips[self.rng.below(ips.len() as u64) as usize].clone());
        }
        actor
    }

    /// The event's resources, and the one a continuing session may come back to.
    fn resources(
        &mut self,
        activity: &Activity,
        now: i64,
        failed: bool,
        follow: Option<Target>,
    ) -> (Vec<AuditResource>, Option<Target>) {
        let Some(kind) = activity.kind else {
            return (Vec::new(), None);
        };
        let (lo, hi) = activity.count;
        let n = lo as usize + self.rng.below(u64::from(hi - lo) + 1) as usize;
        let mut chosen = [0u64; MAX_TARGETS];
        let mut resources = Vec::with_capacity(n);
        let mut first = None;
        for j in 0..n {
            let follow = if j == 0 { follow } else { None };
            let target = match activity.lifecycle {
                Lifecycle::Create => self.create(kind, now, failed),
                Lifecycle::Delete => self.delete(kind, failed, follow, &chosen[..j]),
                Lifecycle::Touch => self.touch(kind, follow, &chosen[..j]),
            };
            chosen[j] = target.serial;
            // A deleted resource, or one whose creation failed, has no future.
            if j == 0 && !failed && activity.lifecycle != Lifecycle::Delete {
                first = Some(target);
            }
            resources.push(self.resource(activity, target, now, failed));
        }
        (resources, first)
    }

    fn create(&mut self, kind: usize, now: i64, failed: bool) -> Target {
        let population = self.catalogue.kinds[kind].population;
        let state = &mut self.kinds[kind];
        let serial = population + state.created;
        state.created += 1;
        if !failed {
            if state.live.len() == LIVE_CAP {
                state.live.remove(0);
            }
            state.live.push(Live { serial, created_at: now });
        }
        Target { kind, serial, created_at: Some(now) }
    }

    fn delete(&mut self, kind: usize, failed: bool, follow: Option<Target>, chosen: &[u64]) -> Target {
        let state = &mut self.kinds[kind];
        let position =
            follow.and_then(|t| state.live.iter().position(|l| l.serial == t.serial)).or_else(|| {
                // A failed delete leaves its target live, so avoid naming it twice.
                let candidates = state.live.len() as u64;
                (0..4)
                    .map(|_| (candidates > 0).then(|| self.rng.below(candidates) as usize))
                    .find(|p| p.is_none_or(|p| !chosen.contains(&state.live[p].serial)))
                    .flatten()
            });
        match position {
            Some(p) => {
                let live = if failed { state.live[p] } else { state.live.remove(p) };
                Target { kind, serial: live.serial, created_at: Some(live.created_at) }
            }
            None => {
                let serial = UNSEEN + state.deleted_unseen;
                state.deleted_unseen += 1;
                Target { kind, serial, created_at: None }
            }
        }
    }

    fn touch(&mut self, kind: usize, follow: Option<Target>, chosen: &[u64]) -> Target {
        if let Some(target) = follow {
            return target;
        }
        let population = self.catalogue.kinds[kind].population;
        let mut pick = || {
            let live = &self.kinds[kind].live;
            if !live.is_empty() && self.rng.chance(600) {
                // What was created recently is what gets tuned and assigned next.
                let len = live.len() as u64;
                let index = if self.rng.chance(500) {
                    len - 1 - self.rng.below(len.min(4))
                } else {
                    self.rng.below(len)
                };
                let l = live[index as usize];
                Target { kind, serial: l.serial, created_at: Some(l.created_at) }
            } else {
                Target { kind, serial: self.rng.below(population), created_at: None }
            }
        };
        // Bulk actions name distinct resources; a few retries suffice.
        let mut target = pick();
        for _ in 0..4 {
            if !chosen.contains(&target.serial) {
                break;
            }
            target = pick();
        }
        target
    }

    fn resource(&mut self, activity: &Activity, target: Target, now: i64, failed: bool) -> AuditResource {
        let cat = self.catalogue;
        let kind = &cat.kinds[target.kind];
        // Identity-derived attributes come from their own generator, seeded by the
        // resource, so every event shows the same variant, id and name.
        let mut own = SplitMix(mix(mix(self.seed, kind.salt), target.serial));
        let variant = &kind.variants[kind.variant_pick.pick(&mut own)];
        let id = if kind.int_ids { (target.serial + 1).to_string() } else { guid_string(own.uuid()) };
        let name_template = &variant.names[own.below(variant.names.len() as u64) as usize];
        let mut cx = Context {
            words: &cat.words,
            id: &id,
            name: "",
            tag: &variant.tag,
            now,
            earlier: now,
            version: 1,
        };
        let name = name_template.render(&cx, Side::New, &mut own);

        let modified_properties = if failed {
            // A rejected request changed nothing.
            Vec::new()
        } else {
            cx.name = &name;
            if activity.lifecycle != Lifecycle::Create {
                cx.version = 2 + self.rng.below(29) as u32;
                cx.earlier = match target.created_at {
                    Some(created) if created < now => created + self.rng.below((now - created) as u64) as i64,
                    _ => now - HOUR - self.rng.below(90 * DAY as u64) as i64,
                };
            }
            self.changes(activity, variant, &cx)
        };
        AuditResource {
            display_name: Some(name),
            resource_type: Some(variant.resource_type.clone()),
            resource_id: Some(id),
            modified_properties,
        }
    }

    fn changes(&mut self, activity: &Activity, variant: &Variant, cx: &Context<'_>) -> Vec<AuditProperty> {
        let rng = &mut self.rng;
        match activity.changes {
            Changes::None => Vec::new(),
            Changes::Full => variant.properties.iter().map(|p| created(p, cx, rng)).collect(),
            Changes::ActivityNew => activity.properties.iter().map(|p| created(p, cx, rng)).collect(),
            Changes::ActivityPatch => activity.properties.iter().map(|p| patched(p, cx, rng)).collect(),
            Changes::PatchSome => {
                // One to three of the editable properties, plus those every save touches
                // (LastModifiedDateTime, Version), in declaration order.
                let props = &variant.properties;
                let editable = props.iter().filter(|p| p.patch == PatchMode::Maybe).count() as u64;
                let mut selected = 0u64; // bit i: the i-th editable property
                if editable > 0 {
                    for _ in 0..1 + rng.below(editable.min(3)) {
                        let mut pick = rng.below(editable);
                        while selected & (1 << pick) != 0 {
                            pick = (pick + 1) % editable;
                        }
                        selected |= 1 << pick;
                    }
                }
                let mut editable_index = 0;
                let mut out = Vec::with_capacity(props.len().min(8));
                for p in props {
                    let include = match p.patch {
                        PatchMode::Always => true,
                        PatchMode::Never => false,
                        PatchMode::Maybe => {
                            editable_index += 1;
                            selected & (1 << (editable_index - 1)) != 0
                        }
                    };
                    if include {
                        out.push(patched(p, cx, rng));
                    }
                }
                out
            }
        }
    }
}

/// A property as a Create reports it: no old value.
fn created(p: &Property, cx: &Context<'_>, rng: &mut impl Draw) -> AuditProperty {
    let value = &p.values[rng.below(p.values.len() as u64) as usize];
    AuditProperty {
        display_name: Some(p.name.clone()),
        old_value: None,
        new_value: Some(value.render(cx, Side::New, rng)),
    }
}

/// A property as a change reports it: old → new, two different entries when it has a
/// list of values to choose from.
fn patched(p: &Property, cx: &Context<'_>, rng: &mut impl Draw) -> AuditProperty {
    let len = p.values.len() as u64;
    let (old, new) = match &p.from {
        Some(from) => {
            let new = &p.values[rng.below(len) as usize];
            (from.as_ref().map(|t| t.render(cx, Side::Old, rng)), new)
        }
        None if len > 1 => {
            let i = rng.below(len);
            let j = (i + 1 + rng.below(len - 1)) % len;
            (Some(p.values[i as usize].render(cx, Side::Old, rng)), &p.values[j as usize])
        }
        None => (Some(p.values[0].render(cx, Side::Old, rng)), &p.values[0]),
    };
    let mut new_value = new.render(cx, Side::New, rng);
    // A change that changes nothing looks like a bug in the log; redraw a couple of times.
    for _ in 0..2 {
        if old.as_ref() != Some(&new_value) || !new.is_variable() {
            break;
        }
        new_value = new.render(cx, Side::New, rng);
    }
    AuditProperty { display_name: Some(p.name.clone()), old_value: old, new_value: Some(new_value) }
}

/// A GUID's lower-case hyphenated text in one exact allocation (`to_string` would grow
/// the buffer several times, and this runs for every event and resource).
fn guid_string(id: uuid::Uuid) -> String {
    id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned()
}

/// The first tick at or after `at` (the model keeps 100 ns; a finer bound rounds inward
/// so that every generated time still lies in `[from, to)`).
fn ceil_ticks(at: DateTime<Utc>) -> i64 {
    let floor = Ticks::from_datetime(at).0;
    if at.timestamp_subsec_nanos().is_multiple_of(100) { floor } else { floor + 1 }
}

impl Iterator for Generator {
    type Item = AuditEvent;

    fn next(&mut self) -> Option<AuditEvent> {
        if self.next >= self.count {
            return None;
        }
        let now = self.schedule.as_ref()?.time(self.next, &mut self.rng);
        self.next += 1;
        Some(self.event(now))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        (remaining, usize::try_from(self.remaining()).ok())
    }
}

impl std::iter::FusedIterator for Generator {}

//! The catalogue: everything the generator knows about the tenant, read from
//! `catalogue.json` and compiled once into lookup-ready form.
//!
//! The JSON is the single place where categories, activities, resource kinds, actors and
//! vocabularies live (see its `_comment` for the template syntax). Loading checks every
//! cross-reference (role, kind, property set, word list, category) and parses every
//! template, so a broken edit fails the catalogue's test rather than producing odd events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer};

use crate::domain::{AuditActor, RoleScopeTagInfo};

use super::generator::MAX_TARGETS;
use super::rhythm::Rhythm;
use super::template::{Draw, Template};

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::from_json(include_str!("catalogue.json"))
        .unwrap_or_else(|e| panic!("src/seed/catalogue.json is invalid: {e}"))
});

/// The built-in catalogue, parsed on first use.
pub fn catalogue() -> &'static Catalogue {
    &CATALOGUE
}

/// `getAuditActivityTypes(category)` as far as the catalogue knows: the distinct activity
/// types of `category` (matched case-insensitively), sorted. Empty for an unknown category.
pub fn activity_types(category: &str) -> Vec<String> {
    catalogue().activity_types(category)
}

/// The compiled catalogue. Obtain it with [`catalogue`].
#[derive(Debug)]
pub struct Catalogue {
    pub(super) categories: Vec<Category>,
    pub(super) category_pick: Weighted,
    pub(super) kinds: Vec<Kind>,
    pub(super) words: Vec<Vec<Template>>,
    pub(super) actors: Vec<Actor>,
    /// Applications an ItPro acts through; the first is the portal, which partners use.
    pub(super) clients: Vec<Client>,
    pub(super) client_pick: Weighted,
    pub(super) ip_addresses: Vec<String>,
    pub(super) rhythm: Rhythm,
    pub(super) failure_per_mille: u32,
    pub(super) ip_address_per_mille: u32,
    pub(super) session_continue_per_mille: u32,
    pub(super) same_resource_per_mille: u32,
}

impl Catalogue {
    /// The category names, in catalogue (Intune enum) order.
    #[cfg(test)]
    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.categories.iter().map(|c| c.name.as_str())
    }

    /// See [`activity_types`].
    pub fn activity_types(&self, category: &str) -> Vec<String> {
        self.categories
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(category))
            .map(|c| c.activity_types.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(super) struct Category {
    pub name: String,
    pub activities: Vec<Activity>,
    pub activity_pick: Weighted,
    /// Sorted, deduplicated `activityType`s, for `getAuditActivityTypes`.
    pub activity_types: Vec<String>,
    /// Actor types that may act here, weighted by the tenant's actor-type mix…
    pub actor_type_pick: Weighted,
    /// …and, per such type, the eligible actors (indices into `Catalogue::actors`).
    pub actors_by_type: Vec<(Vec<usize>, Weighted)>,
}

impl Category {
    pub fn pick_actor(&self, rng: &mut impl Draw) -> usize {
        let (actors, pick) = &self.actors_by_type[self.actor_type_pick.pick(rng)];
        actors[pick.pick(rng)]
    }
}

#[derive(Debug)]
pub(super) struct Activity {
    pub activity_type: String,
    pub display_name: String,
    pub component: String,
    pub operation: String,
    pub lifecycle: Lifecycle,
    /// The resource kind targeted; `None` for activities without resources (searches).
    pub kind: Option<usize>,
    /// How many resources one event targets, inclusive.
    pub count: (u32, u32),
    pub changes: Changes,
    /// The activity's own properties (`Changes::ActivityNew`/`ActivityPatch`).
    pub properties: Vec<Property>,
}

/// What an activity does to its targets' existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    Create,
    Delete,
    Touch,
}

/// Which modifiedProperties an event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Changes {
    None,
    /// Every property of the resource, old values null (a Create).
    Full,
    /// A few of the resource's properties plus the always-patched ones, old → new.
    PatchSome,
    /// The activity's own properties, old values null (assignments, action parameters).
    ActivityNew,
    /// The activity's own properties, old → new (state transitions).
    ActivityPatch,
}

#[derive(Debug)]
pub(super) struct Kind {
    /// Hashed into resource ids, so reordering kinds in the file changes nothing.
    pub salt: u64,
    /// Resources that exist before the window; they are patched but never deleted.
    pub population: u64,
    pub int_ids: bool,
    pub variants: Vec<Variant>,
    pub variant_pick: Weighted,
}

#[derive(Debug)]
pub(super) struct Variant {
    pub resource_type: String,
    pub tag: String,
    pub names: Vec<Template>,
    /// The kind's property sets, the kind's own properties, then the variant's.
    pub properties: Vec<Property>,
}

#[derive(Debug)]
pub(super) struct Property {
    pub name: String,
    pub values: Vec<Template>,
    pub patch: PatchMode,
    /// The old value of a patch: `None` draws it like the new one, `Some(None)` is null.
    pub from: Option<Option<Template>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) enum PatchMode {
    Always,
    Never,
    #[default]
    Maybe,
}

#[derive(Debug)]
pub(super) struct Actor {
    pub kind: ActorKind,
    /// Everything but the per-event parts (client application for ItPro, ipAddress).
    pub base: AuditActor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ActorKind {
    ItPro,
    Application,
    Partner,
}

#[derive(Debug)]
pub(super) struct Client {
    pub display_name: String,
    pub application_id: String,
}

/// A weighted choice among `0..n`, by binary search over cumulative weights.
#[derive(Debug, Clone)]
pub(super) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Result<Self, String> {
        let mut total = 0u64;
        let cumulative: Vec<u64> = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        if total == 0 {
            return Err("a weighted choice needs a positive total weight".into());
        }
        Ok(Weighted { cumulative })
    }

    pub fn pick(&self, rng: &mut impl Draw) -> usize {
        let total = *self.cumulative.last().expect("non-empty");
        let r = rng.below(total);
        self.cumulative.partition_point(|&c| c <= r)
    }
}

// ---------------------------------------------------------------------------------------
// The file's shape. Unknown fields are rejected so that a typo is an error, not a default.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawCatalogue {
    #[serde(rename = "_comment", default)]
    _comment: Vec<String>,
    failure_per_mille: u32,
    ip_address_per_mille: u32,
    session_continue_per_mille: u32,
    same_resource_per_mille: u32,
    rhythm: RawRhythm,
    actor_types: RawActorTypes,
    delegated_clients: Vec<RawClient>,
    ip_addresses: Vec<String>,
    roles: BTreeMap<String, RawRole>,
    admins: Vec<RawAdmin>,
    applications: Vec<RawApplication>,
    partners: Vec<RawPartner>,
    words: BTreeMap<String, Vec<String>>,
    property_sets: BTreeMap<String, Vec<RawProperty>>,
    resource_kinds: Vec<RawKind>,
    categories: Vec<RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRhythm {
    days: [u32; 7],
    hours: [u32; 24],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActorTypes {
    #[serde(rename = "ItPro")]
    it_pro: u64,
    #[serde(rename = "Application")]
    application: u64,
    #[serde(rename = "Partner")]
    partner: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawClient {
    display_name: String,
    application_id: String,
    weight: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    permissions: Vec<String>,
    /// `None`: every category.
    categories: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAdmin {
    upn: String,
    user_id: String,
    role: String,
    weight: u64,
    /// `[displayName, roleScopeTagId]` pairs; `[["Default", "0"]]` when absent.
    scope_tags: Option<Vec<(String, String)>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawApplication {
    display_name: String,
    application_id: String,
    service_principal_name: String,
    weight: u64,
    permissions: Vec<String>,
    categories: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPartner {
    upn: String,
    user_id: String,
    remote_tenant_id: String,
    weight: u64,
    role: String,
    categories: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProperty {
    name: String,
    value: OneOrMany,
    #[serde(default)]
    patch: PatchMode,
    #[serde(default, deserialize_with = "present")]
    from: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum IdFormat {
    #[default]
    Guid,
    Int,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawKind {
    name: String,
    population: u64,
    #[serde(default)]
    id_format: IdFormat,
    #[serde(rename = "use", default)]
    uses: Vec<String>,
    #[serde(default)]
    properties: Vec<RawProperty>,
    variants: Vec<RawVariant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    #[serde(rename = "type")]
    resource_type: String,
    #[serde(default)]
    tag: String,
    #[serde(default = "one")]
    weight: u64,
    names: Vec<String>,
    #[serde(default)]
    properties: Vec<RawProperty>,
}

fn one() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    name: String,
    weight: u64,
    component: String,
    activities: Vec<RawActivity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawActivity {
    #[serde(rename = "type")]
    activity_type: String,
    op: String,
    resource: Option<String>,
    weight: u64,
    display_name: Option<String>,
    component: Option<String>,
    count: Option<(u32, u32)>,
    #[serde(rename = "use", default)]
    uses: Vec<String>,
    #[serde(default)]
    properties: Vec<RawProperty>,
    changes: Option<RawChanges>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum RawChanges {
    New,
    Patch,
}

/// `activityOperationType` values Intune documents (spec §4.2).
const OPERATIONS: [&str; 8] =
    ["Create", "Delete", "Patch", "Action", "SetReference", "RemoveReference", "Get", "Search"];

// ---------------------------------------------------------------------------------------
// Compilation.

impl Catalogue {
    pub(super) fn from_json(json: &str) -> Result<Self, String> {
        let raw: RawCatalogue = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Compiler { word_names: raw.words.keys().cloned().collect() }.compile(raw)
    }
}

struct Compiler {
    word_names: Vec<String>,
}

impl Compiler {
    fn template(&self, source: &str) -> Result<Template, String> {
        let index = |name: &str| self.word_names.iter().position(|w| w == name);
        Template::parse(source, &index)
    }

    fn property(&self, raw: &RawProperty) -> Result<Property, String> {
        let sources = match &raw.value {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(vs) => vs.as_slice(),
        };
        if sources.is_empty() {
            return Err(format!("property {} has no value", raw.name));
        }
        let values = sources.iter().map(|s| self.template(s)).collect::<Result<Vec<_>, _>>()?;
        let from = match &raw.from {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) => Some(Some(self.template(s)?)),
        };
        // A property that cannot render two different values is not worth patching,
        // unless the file insists that every save reports it.
        let variable = values.len() > 1 || values.iter().any(Template::is_variable) || from.is_some();
        let patch = if variable || raw.patch == PatchMode::Always { raw.patch } else { PatchMode::Never };
        Ok(Property { name: raw.name.clone(), values, patch, from })
    }

    fn properties<'a>(
        &self,
        sets: &'a BTreeMap<String, Vec<RawProperty>>,
        uses: &[String],
        own: impl IntoIterator<Item = &'a RawProperty>,
    ) -> Result<Vec<Property>, String> {
        let mut out = Vec::new();
        for name in uses {
            let set = sets.get(name).ok_or_else(|| format!("unknown property set {name:?}"))?;
            for p in set {
                out.push(self.property(p)?);
            }
        }
        for p in own {
            out.push(self.property(p)?);
        }
        if out.len() > 64 {
            return Err("more than 64 properties on one resource".into());
        }
        Ok(out)
    }

    fn compile(self, raw: RawCatalogue) -> Result<Catalogue, String> {
        let words = self.words(&raw)?;
        let kind_names: Vec<&str> = raw.resource_kinds.iter().map(|k| k.name.as_str()).collect();
        let kinds = raw
            .resource_kinds
            .iter()
            .map(|k| self.kind(k, &raw.property_sets).map_err(|e| format!("kind {}: {e}", k.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let cast = cast(&raw)?;
        let categories = raw
            .categories
            .iter()
            .map(|c| {
                self.category(c, &cast, &raw, &kind_names).map_err(|e| format!("category {}: {e}", c.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if raw.delegated_clients.is_empty() || raw.ip_addresses.is_empty() {
            return Err("delegatedClients and ipAddresses must not be empty".into());
        }
        Ok(Catalogue {
            category_pick: Weighted::new(raw.categories.iter().map(|c| c.weight))?,
            categories,
            kinds,
            words,
            actors: cast.into_iter().map(|m| m.actor).collect(),
            client_pick: Weighted::new(raw.delegated_clients.iter().map(|c| c.weight))?,
            clients: raw
                .delegated_clients
                .iter()
                .map(|c| Client {
                    display_name: c.display_name.clone(),
                    application_id: c.application_id.clone(),
                })
                .collect(),
            ip_addresses: raw.ip_addresses,
            rhythm: Rhythm::new(raw.rhythm.days, raw.rhythm.hours)?,
            failure_per_mille: raw.failure_per_mille,
            ip_address_per_mille: raw.ip_address_per_mille,
            session_continue_per_mille: raw.session_continue_per_mille,
            same_resource_per_mille: raw.same_resource_per_mille,
        })
    }

    fn category(
        &self,
        raw: &RawCategory,
        cast: &[Member],
        catalogue: &RawCatalogue,
        kind_names: &[&str],
    ) -> Result<Category, String> {
        // First the actor type by the tenant's mix, then an actor of that type who may act
        // here by weight; types with nobody eligible drop out of the mix.
        let mix = &catalogue.actor_types;
        let mut type_weights = Vec::new();
        let mut actors_by_type = Vec::new();
        for (kind, weight) in [
            (ActorKind::ItPro, mix.it_pro),
            (ActorKind::Application, mix.application),
            (ActorKind::Partner, mix.partner),
        ] {
            let eligible: Vec<usize> = (0..cast.len())
                .filter(|&i| cast[i].actor.kind == kind && cast[i].may_act_in(&raw.name))
                .collect();
            if weight > 0 && !eligible.is_empty() {
                type_weights.push(weight);
                actors_by_type
                    .push((eligible.clone(), Weighted::new(eligible.iter().map(|&i| cast[i].weight))?));
            }
        }
        // Admins are the bulk of every category's events, so each category needs one.
        if !actors_by_type.iter().any(|(a, _)| cast[a[0]].actor.kind == ActorKind::ItPro) {
            return Err("no ItPro may act in it".into());
        }
        let activities = raw
            .activities
            .iter()
            .map(|a| self.activity(a, raw, kind_names, &catalogue.property_sets))
            .collect::<Result<Vec<_>, _>>()?;
        let activity_types: BTreeSet<String> = activities.iter().map(|a| a.activity_type.clone()).collect();
        Ok(Category {
            name: raw.name.clone(),
            activity_pick: Weighted::new(raw.activities.iter().map(|a| a.weight))?,
            activities,
            activity_types: activity_types.into_iter().collect(),
            actor_type_pick: Weighted::new(type_weights)?,
            actors_by_type,
        })
    }

    /// Word lists, checked to be non-empty and free of reference cycles (a list whose
    /// entries refer back to it would render forever).
    fn words(&self, raw: &RawCatalogue) -> Result<Vec<Vec<Template>>, String> {
        let words = raw
            .words
            .values()
            .map(|entries| entries.iter().map(|e| self.template(e)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        fn visit(w: usize, words: &[Vec<Template>], path: &mut Vec<usize>) -> bool {
            if path.contains(&w) {
                return false;
            }
            path.push(w);
            let ok = words[w].iter().flat_map(Template::word_refs).all(|r| visit(r, words, path));
            path.pop();
            ok
        }
        for (i, name) in self.word_names.iter().enumerate() {
            if words[i].is_empty() {
                return Err(format!("word list {name:?} is empty"));
            }
            if !visit(i, &words, &mut Vec::new()) {
                return Err(format!("word list {name:?} refers to itself"));
            }
        }
        Ok(words)
    }

    fn kind(&self, raw: &RawKind, sets: &BTreeMap<String, Vec<RawProperty>>) -> Result<Kind, String> {
        if raw.variants.is_empty() {
            return Err("no variants".into());
        }
        if raw.population == 0 {
            // Touching activities fall back on the population when nothing live exists.
            return Err("population must be at least 1".into());
        }
        let variants = raw
            .variants
            .iter()
            .map(|v| {
                if v.names.is_empty() {
                    return Err(format!("variant {} has no names", v.resource_type));
                }
                Ok(Variant {
                    resource_type: v.resource_type.clone(),
                    tag: v.tag.clone(),
                    names: v.names.iter().map(|n| self.template(n)).collect::<Result<_, _>>()?,
                    properties: self.properties(
                        sets,
                        &raw.uses,
                        raw.properties.iter().chain(&v.properties),
                    )?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Kind {
            salt: super::template::fnv1a(&raw.name),
            population: raw.population,
            int_ids: raw.id_format == IdFormat::Int,
            variant_pick: Weighted::new(raw.variants.iter().map(|v| v.weight))?,
            variants,
        })
    }

    fn activity(
        &self,
        raw: &RawActivity,
        category: &RawCategory,
        kind_names: &[&str],
        sets: &BTreeMap<String, Vec<RawProperty>>,
    ) -> Result<Activity, String> {
        let here = |e: String| format!("activity {}: {e}", raw.activity_type);
        if !OPERATIONS.contains(&raw.op.as_str()) {
            return Err(here(format!("unknown operation {:?}", raw.op)));
        }
        let kind = match &raw.resource {
            None => None,
            Some(name) => Some(
                kind_names
                    .iter()
                    .position(|k| k == name)
                    .ok_or_else(|| here(format!("unknown resource kind {name:?}")))?,
            ),
        };
        let lifecycle = match raw.op.as_str() {
            "Create" => Lifecycle::Create,
            "Delete" => Lifecycle::Delete,
            _ => Lifecycle::Touch,
        };
        let properties = self.properties(sets, &raw.uses, &raw.properties).map_err(here)?;
        let patch_style = match raw.changes {
            Some(RawChanges::Patch) => true,
            Some(RawChanges::New) => false,
            None => raw.op == "Patch",
        };
        let changes = match (kind, properties.is_empty()) {
            (None, _) => Changes::None,
            (Some(_), false) if patch_style => Changes::ActivityPatch,
            (Some(_), false) => Changes::ActivityNew,
            (Some(_), true) if lifecycle == Lifecycle::Create => Changes::Full,
            (Some(_), true) if patch_style => Changes::PatchSome,
            (Some(_), true) => Changes::None,
        };
        let count = match (kind, raw.count) {
            (None, _) => (0, 0),
            (Some(_), None) => (1, 1),
            (Some(_), Some((lo, hi))) if 1 <= lo && lo <= hi && hi as usize <= MAX_TARGETS => (lo, hi),
            (Some(_), Some(_)) => {
                return Err(here(format!("count must be [lo, hi] with 1 <= lo <= hi <= {MAX_TARGETS}")));
            }
        };
        Ok(Activity {
            activity_type: raw.activity_type.clone(),
            display_name: raw.display_name.clone().unwrap_or_else(|| raw.activity_type.clone()),
            component: raw.component.clone().unwrap_or_else(|| category.component.clone()),
            operation: raw.op.clone(),
            lifecycle,
            kind,
            count,
            changes,
            properties,
        })
    }
}

/// One actor of the tenant with where and how much it acts.
struct Member {
    actor: Actor,
    /// `None`: every category.
    categories: Option<Vec<String>>,
    weight: u64,
}

impl Member {
    fn may_act_in(&self, category: &str) -> bool {
        self.categories.as_ref().is_none_or(|cs| cs.iter().any(|c| c == category))
    }
}

/// Admins, service principals and partners, in file order.
fn cast(raw: &RawCatalogue) -> Result<Vec<Member>, String> {
    let category_names: Vec<&str> = raw.categories.iter().map(|c| c.name.as_str()).collect();
    let checked = |categories: Option<Vec<String>>, who: &str| -> Result<Option<Vec<String>>, String> {
        match categories.iter().flatten().find(|c| !category_names.contains(&c.as_str())) {
            Some(unknown) => Err(format!("{who}: unknown category {unknown:?}")),
            None => Ok(categories),
        }
    };
    let role = |name: &str| raw.roles.get(name).ok_or_else(|| format!("unknown role {name:?}"));
    let mut cast = Vec::new();
    for a in &raw.admins {
        let r = role(&a.role)?;
        let tags = a.scope_tags.clone().unwrap_or_else(|| vec![("Default".into(), "0".into())]);
        cast.push(Member {
            actor: Actor {
                kind: ActorKind::ItPro,
                base: AuditActor {
                    actor_type: Some("ItPro".into()),
                    user_permissions: r.permissions.clone(),
                    user_principal_name: Some(a.upn.clone()),
                    user_id: Some(a.user_id.clone()),
                    user_role_scope_tags: tags
                        .into_iter()
                        .map(|(name, id)| RoleScopeTagInfo {
                            display_name: Some(name),
                            role_scope_tag_id: Some(id),
                        })
                        .collect(),
                    ..AuditActor::default()
                },
            },
            categories: checked(r.categories.clone(), &a.upn)?,
            weight: a.weight,
        });
    }
    for a in &raw.applications {
        cast.push(Member {
            actor: Actor {
                kind: ActorKind::Application,
                base: AuditActor {
                    actor_type: Some("Application".into()),
                    user_permissions: a.permissions.clone(),
                    application_id: Some(a.application_id.clone()),
                    application_display_name: Some(a.display_name.clone()),
                    service_principal_name: Some(a.service_principal_name.clone()),
                    ..AuditActor::default()
                },
            },
            categories: checked(Some(a.categories.clone()), &a.display_name)?,
            weight: a.weight,
        });
    }
    for p in &raw.partners {
        let r = role(&p.role)?;
        // GDAP: the partner's own user, recognised here through its home tenant.
        cast.push(Member {
            actor: Actor {
                kind: ActorKind::Partner,
                base: AuditActor {
                    actor_type: Some("Partner".into()),
                    user_permissions: r.permissions.clone(),
                    user_principal_name: Some(p.upn.clone()),
                    user_id: Some(p.user_id.clone()),
                    remote_tenant_id: Some(p.remote_tenant_id.clone()),
                    remote_user_id: Some(p.user_id.clone()),
                    ..AuditActor::default()
                },
            },
            categories: checked(p.categories.clone().or_else(|| r.categories.clone()), &p.upn)?,
            weight: p.weight,
        });
    }
    Ok(cast)
}

//! The small type language the workload catalogue is written in: properties,
//! their kinds and defaults, entity types and entity sets. The catalogue
//! (`catalogue.rs`) is data in this language; validation (`body.rs`), the wire
//! shape (`shape.rs`) and the audit encoding (`changes.rs`) each walk it, so a
//! property added to a type is accepted, served and audited with no code.

use crate::auth::Grant;

/// What a property holds. Graph's nullability is part of the kind: `Bool` and
/// `Int` are `Nullable="false"` (they default to `false` / `0` when a create
/// omits them), `OptBool` / `OptInt` default to null.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    OptBool,
    Int,
    OptInt,
    /// An enum: its members in Graph's camelCase. Defaults to the first member.
    Enum(&'static [&'static str]),
    /// Edm.DateTimeOffset.
    DateTime,
    /// Edm.Binary: base64 on the wire and in the audit.
    Binary,
    /// Collection(Edm.String).
    Strings,
    /// A complex value (null by default).
    Complex(&'static [Prop]),
    /// A collection of complex values.
    ComplexList(&'static [Prop]),
    /// A collection of values of a derived complex type named by `@odata.type`
    /// (OMA settings): the first type is the abstract base, the others are allowed.
    TypedList(&'static [TypedComplex]),
}

/// A derived complex type (see [`Kind::TypedList`]).
#[derive(Debug, Clone, Copy)]
pub struct TypedComplex {
    pub name: &'static str,
    pub props: &'static [Prop],
}

/// Who sets a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The client, on create and update.
    Client,
    /// The client on create only (an update leaves it as it is).
    CreateOnly,
    /// The server: a client value is ignored (`id`, timestamps, `version`, counters).
    Server,
}

#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub kind: Kind,
    /// Present on beta only; on v1.0 it is not part of the type.
    pub beta: bool,
    pub owner: Owner,
}

/// A property the client sets, on v1.0 and beta.
pub const fn p(name: &'static str, kind: Kind) -> Prop {
    Prop { name, kind, beta: false, owner: Owner::Client }
}

/// A property the client sets, on beta only.
pub const fn beta(name: &'static str, kind: Kind) -> Prop {
    Prop { name, kind, beta: true, owner: Owner::Client }
}

/// A property the server sets, on v1.0 and beta.
pub const fn server(name: &'static str, kind: Kind) -> Prop {
    Prop { name, kind, beta: false, owner: Owner::Server }
}

/// A property the server sets, on beta only.
pub const fn server_beta(name: &'static str, kind: Kind) -> Prop {
    Prop { name, kind, beta: true, owner: Owner::Server }
}

/// A concrete entity type of a set.
#[derive(Debug, Clone, Copy)]
pub struct EntityType {
    /// Graph's name, camelCase, without namespace (`windows10CompliancePolicy`).
    pub name: &'static str,
    pub beta_only: bool,
    /// Its own properties, after the set's base properties in Graph's order.
    pub props: &'static [Prop],
    /// Enrollment configurations' key suffix (`<guid>_Limit`).
    pub id_suffix: Option<&'static str>,
    /// Server-set values of this type (`deviceEnrollmentConfigurationType`).
    pub fixed: &'static [(&'static str, &'static str)],
}

/// One kind of assignment a set's objects carry (`assignments` navigation).
#[derive(Debug, Clone, Copy)]
pub struct Assignments {
    /// The assignment's type, camelCase (`deviceCompliancePolicyAssignment`).
    pub odata_type: &'static str,
    /// Its properties besides `id` and `target`.
    pub props: &'static [Prop],
    /// The `assign` action's parameter holding the new set.
    pub parameter: &'static str,
    /// Assignment ids are `<parent>_<group>` (policies) rather than new GUIDs (apps).
    pub parent_keyed: bool,
    /// `assign` answers 200 `{"value":[…]}` (its CSDL declares a return type).
    pub returns_value: bool,
    /// `POST …/{id}/assignments` adds one (compliance policies have no such route).
    pub postable: bool,
}

/// What a create does beyond storing the body (intune-workloads.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateRule {
    None,
    /// `scheduledActionsForRule` is required, with exactly one `block` action.
    ScheduledRules,
    /// The new object takes the next free `priority` after the others.
    NextPriority,
    /// `roleDefinition@odata.bind` names an existing role definition.
    BindRoleDefinition,
}

/// How the audit names this set's activities (intune-workloads.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// `Create DeviceCompliancePolicy`, `Delete MobileApp`, …
    Standard,
    /// The script family: `createDeviceManagementScript DeviceManagementScript`.
    CamelVerb,
}

/// A remote action or other bound action of a set.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    /// The action's name as Graph spells it (`wipe`, `syncDevice`).
    pub name: &'static str,
    /// The body parameters, validated like properties.
    pub parameters: &'static [Prop],
    /// Who may call it, when it differs from the set's write grant.
    pub grant: Option<Grant>,
    pub effect: Effect,
}

/// What an action does to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `assign`: replaces the assignments.
    Assign,
    /// `scheduleActionsForRules`: replaces `scheduledActionsForRule`.
    ScheduleActions,
    /// `setPriority`: moves the configuration, renumbering the others.
    SetPriority,
    /// A device action that records a pending `deviceActionResults` entry and,
    /// when given, sets `managementState`.
    DeviceAction(Option<&'static str>),
}

/// Which singleton a set hangs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    DeviceManagement,
    DeviceAppManagement,
}

impl Singleton {
    pub fn segment(self) -> &'static str {
        match self {
            Singleton::DeviceManagement => "deviceManagement",
            Singleton::DeviceAppManagement => "deviceAppManagement",
        }
    }
}

/// An emulated Intune entity set.
#[derive(Debug, Clone, Copy)]
pub struct EntitySet {
    /// URL segment, e.g. `deviceCompliancePolicies`; also the store's set name.
    pub segment: &'static str,
    pub singleton: Singleton,
    /// The declared (base) type, camelCase: `deviceCompliancePolicy`.
    pub base_type: &'static str,
    /// Creates must name a derived type.
    pub is_abstract: bool,
    pub beta_only: bool,
    /// Clients may POST to the collection (managed devices come from enrollment).
    pub creatable: bool,
    pub base_props: &'static [Prop],
    pub types: &'static [EntityType],
    pub assignments: Option<Assignments>,
    pub actions: &'static [Action],
    pub category: &'static str,
    pub component: &'static str,
    pub grammar: Grammar,
    /// Permissions for reads and for writes.
    pub read: Grant,
    pub write: Grant,
    /// The Intune service named in this set's 404 texts.
    pub service: &'static str,
    /// `$filter`: which properties, with which operators (intune-workloads.md §1.4).
    pub filters: &'static [(&'static str, &'static [&'static str])],
    /// Properties a list serves only when asked for by id with `$select`.
    pub detail_only: &'static [&'static str],
    /// Navigation values served only through `$expand` (or their own path).
    pub hidden: &'static [&'static str],
    /// Stored and audited, never served (a bound navigation's key).
    pub internal: &'static [&'static str],
    pub create_rule: CreateRule,
    /// Whether lists honour `$orderby` (Intune ignores it on managed devices).
    pub orderby: bool,
}

impl EntitySet {
    /// The declared type in PascalCase, the `<T>` of its activity types.
    pub fn declared(&self) -> String {
        pascal(self.base_type)
    }

    pub fn concrete(&self, name: &str) -> Option<&'static EntityType> {
        self.types.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    pub fn action(&self, name: &str) -> Option<&'static Action> {
        self.actions.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Every property of `ty` on `version` (beta: all), base first.
    pub fn props_of(&self, ty: &EntityType, beta: bool) -> impl Iterator<Item = &'static Prop> {
        let (base, own): (&'static [Prop], &'static [Prop]) = (self.base_props, ty.props);
        base.iter().chain(own.iter()).filter(move |p| beta || !p.beta)
    }
}

/// `windows10CompliancePolicy` → `Windows10CompliancePolicy`.
pub fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

//! The explicit schema of `microsoft.graph.auditEvent` as the query layer sees it:
//! which names resolve to which fields, complex values and collections. Nothing
//! outside these tables is addressable, so user input never reaches a column name.
//!
//! Names resolve case-insensitively (Graph does; the OData spec would not), and the
//! beta aliases `type` resolve to the same field as `auditActorType` /
//! `auditResourceType`.

use super::ast::{ActorField, Collection, EventField, Field, PropertyField, ResourceField};

pub(crate) const EVENT_TYPE: &str = "microsoft.graph.auditEvent";
pub(crate) const ACTOR_TYPE: &str = "microsoft.graph.auditActor";
pub(crate) const RESOURCE_TYPE: &str = "microsoft.graph.auditResource";
pub(crate) const PROPERTY_TYPE: &str = "microsoft.graph.auditProperty";

/// What a property name denotes on its declaring type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Member {
    Scalar(Field),
    /// The event's `actor` complex value.
    Actor,
    Collection(Collection),
}

/// A structured type that has properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Event,
    Actor,
    Resource,
    Property,
}

impl Owner {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Owner::Event => EVENT_TYPE,
            Owner::Actor => ACTOR_TYPE,
            Owner::Resource => RESOURCE_TYPE,
            Owner::Property => PROPERTY_TYPE,
        }
    }

    fn members(self) -> &'static [(&'static str, Member)] {
        match self {
            Owner::Event => EVENT_MEMBERS,
            Owner::Actor => ACTOR_MEMBERS,
            Owner::Resource => RESOURCE_MEMBERS,
            Owner::Property => PROPERTY_MEMBERS,
        }
    }
}

use Member::{Collection as Coll, Scalar};

const EVENT_MEMBERS: &[(&str, Member)] = &[
    ("id", Scalar(Field::Event(EventField::Id))),
    ("displayName", Scalar(Field::Event(EventField::DisplayName))),
    ("componentName", Scalar(Field::Event(EventField::ComponentName))),
    ("actor", Member::Actor),
    ("activity", Scalar(Field::Event(EventField::Activity))),
    ("activityDateTime", Scalar(Field::Event(EventField::ActivityDateTime))),
    ("activityType", Scalar(Field::Event(EventField::ActivityType))),
    ("activityOperationType", Scalar(Field::Event(EventField::ActivityOperationType))),
    ("activityResult", Scalar(Field::Event(EventField::ActivityResult))),
    ("correlationId", Scalar(Field::Event(EventField::CorrelationId))),
    ("category", Scalar(Field::Event(EventField::Category))),
    ("resources", Coll(Collection::Resources)),
];

const ACTOR_MEMBERS: &[(&str, Member)] = &[
    ("auditActorType", Scalar(Field::Actor(ActorField::ActorType))),
    ("type", Scalar(Field::Actor(ActorField::ActorType))),
    ("userPermissions", Coll(Collection::ActorUserPermissions)),
    ("applicationId", Scalar(Field::Actor(ActorField::ApplicationId))),
    ("applicationDisplayName", Scalar(Field::Actor(ActorField::ApplicationDisplayName))),
    ("userPrincipalName", Scalar(Field::Actor(ActorField::UserPrincipalName))),
    ("servicePrincipalName", Scalar(Field::Actor(ActorField::ServicePrincipalName))),
    ("ipAddress", Scalar(Field::Actor(ActorField::IpAddress))),
    ("userId", Scalar(Field::Actor(ActorField::UserId))),
    ("remoteTenantId", Scalar(Field::Actor(ActorField::RemoteTenantId))),
    ("remoteUserId", Scalar(Field::Actor(ActorField::RemoteUserId))),
];

const RESOURCE_MEMBERS: &[(&str, Member)] = &[
    ("displayName", Scalar(Field::Resource(ResourceField::DisplayName))),
    ("auditResourceType", Scalar(Field::Resource(ResourceField::ResourceType))),
    ("type", Scalar(Field::Resource(ResourceField::ResourceType))),
    ("resourceId", Scalar(Field::Resource(ResourceField::ResourceId))),
    ("modifiedProperties", Coll(Collection::ModifiedProperties)),
];

const PROPERTY_MEMBERS: &[(&str, Member)] = &[
    ("displayName", Scalar(Field::Property(PropertyField::DisplayName))),
    ("oldValue", Scalar(Field::Property(PropertyField::OldValue))),
    ("newValue", Scalar(Field::Property(PropertyField::NewValue))),
];

/// Resolves a property name on `owner`, ignoring ASCII case.
pub(crate) fn lookup(owner: Owner, name: &str) -> Option<Member> {
    owner
        .members()
        .iter()
        .find(|(member_name, _)| member_name.eq_ignore_ascii_case(name))
        .map(|&(_, member)| member)
}

/// The OData type name of a collection, for "not a single value" style messages.
pub(crate) fn collection_type_name(collection: Collection) -> &'static str {
    match collection {
        Collection::Resources => "Collection(microsoft.graph.auditResource)",
        Collection::ModifiedProperties => "Collection(microsoft.graph.auditProperty)",
        Collection::ActorUserPermissions => "Collection(Edm.String)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_resolves_by_its_canonical_name() {
        for &f in EventField::ALL {
            assert_eq!(lookup(Owner::Event, f.odata_name()), Some(Scalar(Field::Event(f))));
        }
        for &f in ActorField::ALL {
            assert_eq!(lookup(Owner::Actor, f.odata_name()), Some(Scalar(Field::Actor(f))));
        }
        for &f in ResourceField::ALL {
            assert_eq!(lookup(Owner::Resource, f.odata_name()), Some(Scalar(Field::Resource(f))));
        }
        for &f in PropertyField::ALL {
            assert_eq!(lookup(Owner::Property, f.odata_name()), Some(Scalar(Field::Property(f))));
        }
    }

    #[test]
    fn names_resolve_case_insensitively_with_beta_aliases() {
        assert_eq!(lookup(Owner::Event, "ACTIVITYDATETIME"), lookup(Owner::Event, "activityDateTime"));
        assert_eq!(lookup(Owner::Actor, "Type"), Some(Scalar(Field::Actor(ActorField::ActorType))));
        assert_eq!(
            lookup(Owner::Resource, "type"),
            Some(Scalar(Field::Resource(ResourceField::ResourceType)))
        );
        assert_eq!(lookup(Owner::Event, "createdDateTime"), None);
        assert_eq!(lookup(Owner::Event, "modifiedProperties"), None);
    }
}

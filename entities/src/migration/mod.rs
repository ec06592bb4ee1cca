//! Schema migrations. Applied by `auditgraph migrate` and at server start.

use sea_orm_migration::prelude::*;

use crate::{audit_actor as actor, audit_event as event, audit_resource as resource};

mod m20261126_000002_create_audit_tables;
mod m20261206_000003_create_intune_objects;
mod m20261206_000004_create_routing;
mod m20261206_000005_create_shared_secrets;
mod m20261206_000006_create_cluster_members;
mod m20261206_000007_create_event_hubs;
mod m20261206_000008_create_throttle_windows;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000002_create_audit_tables::Migration),
            Box::new(m20261206_000003_create_intune_objects::Migration),
            Box::new(m20261206_000004_create_routing::Migration),
            Box::new(m20261206_000005_create_shared_secrets::Migration),
            Box::new(m20261206_000006_create_cluster_members::Migration),
            Box::new(m20261206_000007_create_event_hubs::Migration),
            Box::new(m20261206_000008_create_throttle_windows::Migration),
        ]
    }
}

/// An index behind the filters people use (not the primary or unique keys).
pub struct SecondaryIndex {
    pub name: &'static str,
    pub statement: IndexCreateStatement,
}

/// The secondary indexes: date ranges (alone or with category, activity type or
/// component), correlation id, the actor's UPN and application, resource ids.
/// The first migration creates them; the store drops and rebuilds them around a
/// bulk load into an empty SQLite store (one sorted build beats a million
/// scattered inserts), so they are defined once, here.
pub fn secondary_indexes() -> Vec<SecondaryIndex> {
    fn index<T: IntoIden + Clone + 'static>(
        name: &'static str,
        table: T,
        columns: Vec<DynIden>,
    ) -> SecondaryIndex {
        let mut statement = Index::create();
        statement.name(name).table(table);
        for column in columns {
            statement.col(column);
        }
        SecondaryIndex { name, statement }
    }
    use actor::Column as A;
    use event::Column as E;
    use resource::Column as R;
    let by_time = |first: Option<E>| -> Vec<DynIden> {
        first.into_iter().chain([E::ActivityTicks, E::Id]).map(|c| c.into_iden()).collect()
    };
    vec![
        index("ix_events_time", event::Entity, by_time(None)),
        index("ix_events_category_time", event::Entity, by_time(Some(E::CategoryCi))),
        index("ix_events_activity_type_time", event::Entity, by_time(Some(E::ActivityTypeCi))),
        index("ix_events_component_time", event::Entity, by_time(Some(E::ComponentNameCi))),
        index("ix_events_correlation", event::Entity, vec![E::CorrelationId.into_iden()]),
        index(
            "ix_actors_upn",
            actor::Entity,
            vec![A::UserPrincipalNameCi.into_iden(), A::EventSeq.into_iden()],
        ),
        index(
            "ix_actors_application",
            actor::Entity,
            vec![A::ApplicationIdCi.into_iden(), A::EventSeq.into_iden()],
        ),
        index(
            "ix_resources_resource_id",
            resource::Entity,
            vec![R::ResourceIdCi.into_iden(), R::EventSeq.into_iden()],
        ),
    ]
}

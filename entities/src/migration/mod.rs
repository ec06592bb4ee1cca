//! Schema migrations. Applied by `auditgraph migrate` and at server start.

use sea_orm_migration::prelude::*;

mod m20261126_000001_create_audit_tables;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261126_000001_create_audit_tables::Migration)]
    }
}

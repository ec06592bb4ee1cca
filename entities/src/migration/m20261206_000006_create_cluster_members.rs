//! The instances serving a database, with heartbeats (`cluster_member`), and
//! the emulator controls they all apply (`cluster_control`).

use sea_orm_migration::prelude::*;

use super::m20261126_000002_create_audit_tables::{Columns, collation, create};
use crate::{cluster_control as control, cluster_member as member};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000006_create_cluster_members"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, collation) = (Columns::of(manager), collation(manager).await?);
        use member::Column as M;
        create(
            manager,
            collation,
            Table::create()
                .table(member::Entity)
                .col(c.varchar(M::Instance, 64).not_null().primary_key())
                .col(c.varchar(M::Address, 400).not_null())
                .col(ColumnDef::new(M::StartedTicks).big_integer().not_null())
                .col(ColumnDef::new(M::HeartbeatTicks).big_integer().not_null()),
        )
        .await?;
        use control::Column as C;
        create(
            manager,
            collation,
            Table::create()
                .table(control::Entity)
                .col(c.varchar(C::Name, 64).not_null().primary_key())
                .col(c.long_text(C::Value, false))
                .col(ColumnDef::new(C::Version).big_integer().not_null()),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(control::Entity).to_owned()).await?;
        manager.drop_table(Table::drop().table(member::Entity).to_owned()).await
    }
}

//! The Intune workloads' document table (see `intune_object`).

use sea_orm_migration::prelude::*;

use super::m20261126_000002_create_audit_tables::{Columns, collation, create};
use crate::intune_object as object;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000003_create_intune_objects"
    }
}

/// Longest entity set name.
const SET_LEN: u32 = 64;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, collation) = (Columns::of(manager), collation(manager).await?);
        use object::Column as O;
        create(
            manager,
            collation,
            Table::create()
                .table(object::Entity)
                .col(c.varchar(O::EntitySet, SET_LEN).not_null())
                .col(c.id(O::IdCi))
                .col(c.id(O::Id))
                .col(c.varchar(O::OdataType, crate::SHORT_TEXT_LEN).not_null())
                .col(c.int(O::Version))
                .col(c.long_text(O::Document, false))
                .primary_key(Index::create().col(O::EntitySet).col(O::IdCi)),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(object::Entity).to_owned()).await
    }
}

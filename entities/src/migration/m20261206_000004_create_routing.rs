//! The routing tables: diagnostic settings, their routes, and the outbox.

use sea_orm_migration::prelude::*;

use super::m20261126_000002_create_audit_tables::{Columns, collation, create};
use crate::{routing_outbox as outbox, routing_route as route, routing_setting as setting};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000004_create_routing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, collation) = (Columns::of(manager), collation(manager).await?);
        use outbox::Column as O;
        use route::Column as R;
        use setting::Column as S;
        create(
            manager,
            collation,
            Table::create()
                .table(setting::Entity)
                .col(c.varchar(S::NameCi, 260).not_null().primary_key())
                .col(c.varchar(S::Name, 260).not_null())
                .col(c.long_text(S::Properties, false)),
        )
        .await?;
        create(
            manager,
            collation,
            Table::create()
                .table(route::Entity)
                .col(ColumnDef::new(R::Id).big_integer().not_null().auto_increment().primary_key())
                .col(c.varchar(R::SettingCi, 260).not_null())
                .col(c.varchar(R::Kind, 32).not_null())
                .col(c.long_text(R::Target, false))
                .col(ColumnDef::new(R::Delivered).big_integer().not_null().default(0))
                .col(ColumnDef::new(R::LastDeliveryTicks).big_integer().not_null().default(0))
                .col(c.long_text(R::LastError, true))
                .col(c.int(R::Failures).default(0))
                .col(c.varchar(R::LeaseOwner, 64).null())
                .col(ColumnDef::new(R::LeaseUntilTicks).big_integer().not_null().default(0))
                .col(ColumnDef::new(R::Stalled).boolean().not_null().default(false)),
        )
        .await?;
        create(
            manager,
            collation,
            Table::create()
                .table(outbox::Entity)
                .col(ColumnDef::new(O::RouteId).big_integer().not_null())
                .col(ColumnDef::new(O::EventSeq).big_integer().not_null())
                .primary_key(Index::create().col(O::RouteId).col(O::EventSeq)),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["routing_outbox", "routing_routes", "routing_settings"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

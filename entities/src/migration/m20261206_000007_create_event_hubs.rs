//! The Event Hubs namespace: hubs, partition heads and the partitions' events.

use sea_orm_migration::prelude::*;

use super::m20261126_000002_create_audit_tables::{Columns, collation, create};
use crate::{eventhub_event as event, eventhub_hub as hub, eventhub_partition as partition};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000007_create_event_hubs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, collation) = (Columns::of(manager), collation(manager).await?);
        let big = |column| ColumnDef::new(column).big_integer().not_null().to_owned();
        use hub::Column as H;
        create(
            manager,
            collation,
            Table::create()
                .table(hub::Entity)
                .col(c.varchar(H::NameCi, 256).not_null().primary_key())
                .col(c.varchar(H::Name, 256).not_null())
                .col(c.int(H::Partitions))
                .col(big(H::CreatedTicks.into_iden())),
        )
        .await?;
        use partition::Column as P;
        create(
            manager,
            collation,
            Table::create()
                .table(partition::Entity)
                .col(c.varchar(P::HubCi, 256).not_null())
                .col(c.int(P::Partition))
                .col(big(P::LastSeq.into_iden()))
                .col(big(P::LastOffset.into_iden()))
                .col(big(P::NextOffset.into_iden()))
                .col(big(P::LastEnqueuedTicks.into_iden()))
                .primary_key(Index::create().col(P::HubCi).col(P::Partition)),
        )
        .await?;
        use event::Column as E;
        // Messages reach 1 MiB: MySQL's BLOB stops at 64 KiB.
        let mut message = ColumnDef::new(E::Message);
        match manager.get_database_backend() {
            sea_orm::DbBackend::MySql => message.custom(Alias::new("LONGBLOB")),
            _ => message.blob(),
        };
        create(
            manager,
            collation,
            Table::create()
                .table(event::Entity)
                .col(c.varchar(E::HubCi, 256).not_null())
                .col(c.int(E::Partition))
                .col(big(E::Seq.into_iden()))
                .col(big(E::Offset.into_iden()))
                .col(big(E::EnqueuedTicks.into_iden()))
                .col(c.varchar(E::PartitionKey, 256).null())
                .col(message.not_null())
                .primary_key(Index::create().col(E::HubCi).col(E::Partition).col(E::Seq)),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["eventhub_events", "eventhub_partitions", "eventhub_hubs"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

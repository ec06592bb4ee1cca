//! The database throttling limiter's buckets and their windows' hits.

use sea_orm_migration::prelude::*;

use super::m20261126_000002_create_audit_tables::{Columns, collation, create};
use crate::{throttle_bucket as bucket, throttle_hit as hit};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000008_create_throttle_windows"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, collation) = (Columns::of(manager), collation(manager).await?);
        use bucket::Column as B;
        create(
            manager,
            collation,
            Table::create()
                .table(bucket::Entity)
                .col(c.varchar(B::Bucket, 300).not_null().primary_key())
                .col(ColumnDef::new(B::Version).big_integer().not_null()),
        )
        .await?;
        use hit::Column as H;
        create(
            manager,
            collation,
            Table::create()
                .table(hit::Entity)
                .col(ColumnDef::new(H::Id).big_integer().not_null().auto_increment().primary_key())
                .col(c.varchar(H::Bucket, 300).not_null())
                .col(ColumnDef::new(H::AtMs).big_integer().not_null()),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_throttle_hits_bucket_at")
                    .table(hit::Entity)
                    .col(H::Bucket)
                    .col(H::AtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(hit::Entity).to_owned()).await?;
        manager.drop_table(Table::drop().table(bucket::Entity).to_owned()).await
    }
}

//! The secrets instances sharing a server database hold alike (`shared_secret`).

use sea_orm_migration::prelude::*;

use super::m20261126_000002_create_audit_tables::{Columns, collation, create};
use crate::shared_secret as secret;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000005_create_shared_secrets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, collation) = (Columns::of(manager), collation(manager).await?);
        use secret::Column as S;
        create(
            manager,
            collation,
            Table::create()
                .table(secret::Entity)
                .col(c.varchar(S::Name, 128).not_null().primary_key())
                .col(c.long_text(S::Value, false)),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(secret::Entity).to_owned()).await
    }
}

//! The five audit tables and the indexes behind the filters people use: date
//! ranges (optionally with category, activity type or component), actor UPN,
//! resource id, correlation id.
//!
//! Replaces `m20261126_000001`, whose actors had one permission row per entry
//! (eight rows an event, a third of the file); the store refuses such databases
//! with instructions (see `Store::migrate`).
//!
//! Events are keyed by `seq`, an integer assigned in insertion order; child rows
//! hang off it, keyed (seq, ordinal…). On SQLite the child tables are `WITHOUT
//! ROWID`, so each is one B-tree clustered by event: a bulk load appends to it,
//! and a page's children are read from neighbouring pages. The foreign keys
//! (children to event, cascading) are declared for every backend; SQLite leaves
//! them unenforced, as it does by default, and the store deletes children itself.
//!
//! Collation is binary on every backend (PostgreSQL `"C"`, MySQL/MariaDB a
//! no-pad binary collation, SQLite's default) so comparisons and ordering of the
//! folded `*_ci` columns agree byte for byte with the in-memory evaluator.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

use crate::{
    ID_LEN, PERMISSION_SET_LEN, SHORT_TEXT_LEN, audit_actor as actor, audit_event as event,
    audit_permission_set as permission_set, audit_property as property, audit_resource as resource,
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_create_audit_tables"
    }
}

/// Column builders for one backend.
pub(super) struct Columns {
    pub(super) backend: DbBackend,
}

impl Columns {
    pub(super) fn varchar(&self, column: impl IntoIden, len: u32) -> ColumnDef {
        let mut def = ColumnDef::new(column);
        def.string_len(len);
        if self.backend == DbBackend::Postgres {
            def.extra("COLLATE \"C\"");
        }
        def
    }

    /// The original, nullable value.
    pub(super) fn text(&self, column: impl IntoIden) -> ColumnDef {
        let mut def = self.varchar(column, SHORT_TEXT_LEN);
        def.null();
        def
    }

    /// The folded shadow of a nullable value: never NULL, '' for NULL.
    pub(super) fn folded(&self, column: impl IntoIden) -> ColumnDef {
        let mut def = self.varchar(column, SHORT_TEXT_LEN);
        def.not_null().default("");
        def
    }

    pub(super) fn long_text(&self, column: impl IntoIden, nullable: bool) -> ColumnDef {
        let mut def = ColumnDef::new(column);
        def.text();
        if self.backend == DbBackend::Postgres {
            def.extra("COLLATE \"C\"");
        }
        if nullable {
            def.null();
        } else {
            def.not_null();
        }
        def
    }

    pub(super) fn id(&self, column: impl IntoIden) -> ColumnDef {
        let mut def = self.varchar(column, ID_LEN);
        def.not_null();
        def
    }

    pub(super) fn int(&self, column: impl IntoIden) -> ColumnDef {
        let mut def = ColumnDef::new(column);
        def.integer().not_null();
        def
    }
}

impl Columns {
    pub(super) fn of(manager: &SchemaManager<'_>) -> Columns {
        Columns { backend: manager.get_database_backend() }
    }
}

/// A new table's collation: MySQL/MariaDB's binary no-pad one, none elsewhere.
pub(super) async fn collation(manager: &SchemaManager<'_>) -> Result<Option<&'static str>, DbErr> {
    Ok(match manager.get_database_backend() {
        DbBackend::MySql => Some(mysql_collation(manager).await?),
        _ => None,
    })
}

/// MySQL and MariaDB spell a binary, no-pad collation differently.
pub(super) async fn mysql_collation(manager: &SchemaManager<'_>) -> Result<&'static str, DbErr> {
    let row = manager
        .get_connection()
        .query_one_raw(Statement::from_string(DbBackend::MySql, "SELECT VERSION() AS v"))
        .await?;
    let version: String = match row {
        Some(row) => row.try_get("", "v")?,
        None => String::new(),
    };
    Ok(if version.contains("MariaDB") { "utf8mb4_nopad_bin" } else { "utf8mb4_0900_bin" })
}

pub(super) async fn create(
    manager: &SchemaManager<'_>,
    collation: Option<&str>,
    table: &mut TableCreateStatement,
) -> Result<(), DbErr> {
    if let Some(collation) = collation {
        table.character_set("utf8mb4").collate(collation);
    }
    manager.create_table(table.to_owned()).await
}

/// A child table keyed by (event, ordinal…): clustered by that key on SQLite,
/// which sea-query cannot say, hence the suffix on its SQL.
async fn create_clustered(
    manager: &SchemaManager<'_>,
    collation: Option<&str>,
    table: &mut TableCreateStatement,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return create(manager, collation, table).await;
    }
    let sql = format!("{} WITHOUT ROWID", table.to_string(SqliteQueryBuilder));
    manager.get_connection().execute_unprepared(&sql).await.map(|_| ())
}

pub(super) async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table);
    if name.starts_with("ux_") {
        statement.unique();
    }
    for column in columns {
        statement.col(column);
    }
    manager.create_index(statement.to_owned()).await
}

fn seq(column: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.big_integer().not_null();
    def
}

fn cascade_to_event(from_table: impl IntoIden + Clone, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, Alias::new("event_seq"))
        .to(event::Entity, event::Column::Seq)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let c = Columns { backend };
        let collation = match backend {
            DbBackend::MySql => Some(mysql_collation(manager).await?),
            _ => None,
        };

        use event::Column as E;
        create(
            manager,
            collation,
            Table::create()
                .table(event::Entity)
                .col(ColumnDef::new(E::Seq).big_integer().not_null().auto_increment().primary_key())
                .col(c.id(E::Id))
                .col(c.id(E::IdCi))
                .col(ColumnDef::new(E::ActivityTicks).big_integer().not_null())
                .col(c.varchar(E::CorrelationId, 36).not_null())
                .col(c.text(E::DisplayName))
                .col(c.folded(E::DisplayNameCi))
                .col(c.text(E::ComponentName))
                .col(c.folded(E::ComponentNameCi))
                .col(c.text(E::Activity))
                .col(c.folded(E::ActivityCi))
                .col(c.text(E::ActivityType))
                .col(c.folded(E::ActivityTypeCi))
                .col(c.text(E::ActivityOperationType))
                .col(c.folded(E::ActivityOperationTypeCi))
                .col(c.text(E::ActivityResult))
                .col(c.folded(E::ActivityResultCi))
                .col(c.text(E::Category))
                .col(c.folded(E::CategoryCi)),
        )
        .await?;
        index(manager, "ux_events_id_ci", event::Entity, vec![E::IdCi.into_iden()]).await?;

        use actor::Column as A;
        create(
            manager,
            collation,
            Table::create()
                .table(actor::Entity)
                .col(ColumnDef::new(A::EventSeq).big_integer().not_null().primary_key())
                .col(c.text(A::ActorType))
                .col(c.folded(A::ActorTypeCi))
                .col(c.text(A::ApplicationId))
                .col(c.folded(A::ApplicationIdCi))
                .col(c.text(A::ApplicationDisplayName))
                .col(c.folded(A::ApplicationDisplayNameCi))
                .col(c.text(A::UserPrincipalName))
                .col(c.folded(A::UserPrincipalNameCi))
                .col(c.text(A::ServicePrincipalName))
                .col(c.folded(A::ServicePrincipalNameCi))
                .col(c.text(A::IpAddress))
                .col(c.folded(A::IpAddressCi))
                .col(c.text(A::UserId))
                .col(c.folded(A::UserIdCi))
                .col(c.text(A::RemoteTenantId))
                .col(c.folded(A::RemoteTenantIdCi))
                .col(c.text(A::RemoteUserId))
                .col(c.folded(A::RemoteUserIdCi))
                .col(c.varchar(A::PermissionSet, PERMISSION_SET_LEN).null())
                .col(c.long_text(A::UserRoleScopeTags, false))
                .foreign_key(&mut cascade_to_event(actor::Entity, "fk_actors_event")),
        )
        .await?;

        use permission_set::Column as P;
        create_clustered(
            manager,
            collation,
            Table::create()
                .table(permission_set::Entity)
                .col(c.varchar(P::PermissionSet, PERMISSION_SET_LEN).not_null())
                .col(c.int(P::Ordinal))
                .col(c.varchar(P::Permission, SHORT_TEXT_LEN).not_null())
                .col(c.folded(P::PermissionCi))
                .primary_key(Index::create().col(P::PermissionSet).col(P::Ordinal)),
        )
        .await?;

        use resource::Column as R;
        create_clustered(
            manager,
            collation,
            Table::create()
                .table(resource::Entity)
                .col(seq(R::EventSeq))
                .col(c.int(R::Ordinal))
                .col(c.text(R::DisplayName))
                .col(c.folded(R::DisplayNameCi))
                .col(c.text(R::ResourceType))
                .col(c.folded(R::ResourceTypeCi))
                .col(c.text(R::ResourceId))
                .col(c.folded(R::ResourceIdCi))
                .primary_key(Index::create().col(R::EventSeq).col(R::Ordinal))
                .foreign_key(&mut cascade_to_event(resource::Entity, "fk_resources_event")),
        )
        .await?;

        use property::Column as M;
        create_clustered(
            manager,
            collation,
            Table::create()
                .table(property::Entity)
                .col(seq(M::EventSeq))
                .col(c.int(M::ResourceOrdinal))
                .col(c.int(M::Ordinal))
                .col(c.text(M::DisplayName))
                .col(c.folded(M::DisplayNameCi))
                .col(c.long_text(M::OldValue, true))
                .col(c.long_text(M::OldValueCi, false))
                .col(c.long_text(M::NewValue, true))
                .col(c.long_text(M::NewValueCi, false))
                .primary_key(Index::create().col(M::EventSeq).col(M::ResourceOrdinal).col(M::Ordinal))
                .foreign_key(&mut cascade_to_event(property::Entity, "fk_properties_event")),
        )
        .await?;
        for index in crate::migration::secondary_indexes() {
            manager.create_index(index.statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            property::Entity.into_iden(),
            resource::Entity.into_iden(),
            actor::Entity.into_iden(),
            permission_set::Entity.into_iden(),
            event::Entity.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

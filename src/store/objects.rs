//! The Intune workloads' objects: reads, and the write transaction that changes
//! objects and stores the audit events of the change together, or neither.
//!
//! A write is an [`ObjectWrite`]: it holds the process's write turn and an open
//! transaction, reads what the change depends on inside it, stages puts and
//! deletes, and commits them with their events in one go. Dropped without
//! [`ObjectWrite::commit`], it rolls back and nothing was written. Each put of an
//! existing object checks the version it read, so a writer in another process
//! that changed the object meanwhile makes this write fail rather than be lost.

use anyhow::Context;
use entities::intune_object as object;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value};

use super::Store;
use super::write::WriteError;
use crate::domain::object::IntuneObject;
use crate::domain::{AuditEvent, fold};

fn from_row(row: object::Model) -> anyhow::Result<IntuneObject> {
    let body: Map<String, Value> = serde_json::from_str(&row.document).with_context(|| {
        format!("the stored document of {} {} is not a JSON object", row.entity_set, row.id)
    })?;
    Ok(IntuneObject {
        set: row.entity_set,
        id: row.id,
        odata_type: row.odata_type,
        version: row.version,
        body,
    })
}

fn to_row(o: &IntuneObject) -> object::ActiveModel {
    object::ActiveModel {
        entity_set: Set(o.set.clone()),
        id_ci: Set(fold(&o.id)),
        id: Set(o.id.clone()),
        odata_type: Set(o.odata_type.clone()),
        version: Set(o.version),
        document: Set(Value::Object(o.body.clone()).to_string()),
    }
}

async fn read_set(db: &impl sea_orm::ConnectionTrait, set: &str) -> anyhow::Result<Vec<IntuneObject>> {
    object::Entity::find()
        .filter(object::Column::EntitySet.eq(set))
        .order_by_asc(object::Column::IdCi)
        .all(db)
        .await
        .with_context(|| format!("cannot read {set}"))?
        .into_iter()
        .map(from_row)
        .collect()
}

async fn read_one(
    db: &impl sea_orm::ConnectionTrait,
    set: &str,
    id: &str,
) -> anyhow::Result<Option<IntuneObject>> {
    object::Entity::find_by_id((set.to_string(), fold(id)))
        .one(db)
        .await
        .with_context(|| format!("cannot read {set}('{id}')"))?
        .map(from_row)
        .transpose()
}

impl Store {
    /// Every object of an entity set, by folded id.
    pub async fn objects(&self, set: &str) -> anyhow::Result<Vec<IntuneObject>> {
        read_set(&self.db, set).await
    }

    pub async fn object(&self, set: &str, id: &str) -> anyhow::Result<Option<IntuneObject>> {
        read_one(&self.db, set, id).await
    }

    /// The distinct `(auditResourceType, resourceId, displayName)` of the audited
    /// resources of these types (folded names), latest name first: what the
    /// history says exists, for the seed to make real.
    pub async fn audited_resources(&self, types: &[String]) -> anyhow::Result<Vec<(String, String, String)>> {
        use entities::audit_resource as resource;
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = resource::Entity::find()
            .select_only()
            .column(resource::Column::ResourceType)
            .column(resource::Column::ResourceId)
            .column(resource::Column::DisplayName)
            .filter(resource::Column::ResourceTypeCi.is_in(types.iter().cloned()))
            .order_by_desc(resource::Column::EventSeq)
            .into_tuple()
            .all(&self.db)
            .await
            .context("cannot read the audited resources")?;
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .into_iter()
            .filter_map(|(t, id, name)| Some((t?, id?, name.unwrap_or_default())))
            .filter(|(_, id, _)| seen.insert(fold(id)))
            .collect())
    }

    /// Whether any object is stored (one row read, whatever the store holds).
    pub async fn has_objects(&self) -> anyhow::Result<bool> {
        let any = object::Entity::find().one(&self.db).await.context("cannot read the objects")?;
        Ok(any.is_some())
    }

    /// Begins a change of objects (see [`ObjectWrite`]).
    pub async fn begin_objects(&self) -> anyhow::Result<ObjectWrite<'_>> {
        let (turn, txn) = self.begin_write().await?;
        Ok(ObjectWrite { store: self, _turn: turn, txn })
    }

    /// Deletes every object (the emulator's reset).
    pub async fn clear_objects(&self) -> anyhow::Result<u64> {
        let (_turn, txn) = self.begin_write().await?;
        let deleted = object::Entity::delete_many().exec(&txn).await?;
        txn.commit().await.context("commit failed")?;
        Ok(deleted.rows_affected)
    }
}

/// An open change of objects (see the module doc).
pub struct ObjectWrite<'a> {
    store: &'a Store,
    _turn: tokio::sync::MutexGuard<'a, ()>,
    txn: DatabaseTransaction,
}

impl ObjectWrite<'_> {
    pub async fn objects(&self, set: &str) -> anyhow::Result<Vec<IntuneObject>> {
        read_set(&self.txn, set).await
    }

    pub async fn object(&self, set: &str, id: &str) -> anyhow::Result<Option<IntuneObject>> {
        read_one(&self.txn, set, id).await
    }

    /// Stores a new object; an id already stored in its set is a conflict.
    pub async fn insert(&self, o: &IntuneObject) -> Result<(), WriteError> {
        if read_one(&self.txn, &o.set, &o.id).await?.is_some() {
            return Err(WriteError::Conflict(o.id.clone()));
        }
        object::Entity::insert(to_row(o)).exec(&self.txn).await.context("cannot insert the object")?;
        Ok(())
    }

    /// Replaces an object that was read at version `read_version`.
    pub async fn update(&self, o: &IntuneObject, read_version: i32) -> Result<(), WriteError> {
        let row = to_row(o);
        let done = object::Entity::update_many()
            .col_expr(object::Column::OdataType, Expr::value(o.odata_type.clone()))
            .col_expr(object::Column::Version, Expr::value(o.version))
            .col_expr(object::Column::Document, Expr::value(row.document.unwrap()))
            .filter(object::Column::EntitySet.eq(o.set.as_str()))
            .filter(object::Column::IdCi.eq(fold(&o.id)))
            .filter(object::Column::Version.eq(read_version))
            .exec(&self.txn)
            .await
            .context("cannot update the object")?;
        if done.rows_affected == 0 {
            return Err(WriteError::Changed(o.id.clone()));
        }
        Ok(())
    }

    pub async fn delete(&self, set: &str, id: &str) -> anyhow::Result<()> {
        object::Entity::delete_by_id((set.to_string(), fold(id))).exec(&self.txn).await?;
        Ok(())
    }

    /// Stores `events` and commits everything staged with them.
    pub async fn commit(self, events: &[AuditEvent]) -> Result<(), WriteError> {
        let sets = self.store.insert_new(&self.txn, events, super::write::Routed::Yes).await?;
        self.store.commit(self.txn, sets).await?;
        Ok(())
    }
}

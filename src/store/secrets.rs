//! Secrets shared through a server database: what instances on one PostgreSQL
//! or MySQL store hold alike (`shared_secrets`). The first to offer a secret
//! stores it; every other instance gets that one back.

use anyhow::Context;
use entities::shared_secret as secret;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DbBackend, EntityTrait};

use super::Store;

impl Store {
    /// Whether several processes may serve this store (a database server, not
    /// an embedded SQLite file): then they share their secrets through it.
    pub fn is_shared(&self) -> bool {
        self.backend() != DbBackend::Sqlite
    }

    /// The stored secret `name`, storing `offered` first when there is none:
    /// atomically, so of several instances starting at once one value wins.
    pub async fn adopt_secret(&self, name: &str, offered: &str) -> anyhow::Result<String> {
        let row = secret::ActiveModel { name: Set(name.to_string()), value: Set(offered.to_string()) };
        secret::Entity::insert(row)
            .on_conflict(
                OnConflict::column(secret::Column::Name).do_nothing_on([secret::Column::Name]).to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .with_context(|| format!("cannot store the shared secret {name}"))?;
        let stored = secret::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await
            .with_context(|| format!("cannot read the shared secret {name}"))?
            .with_context(|| format!("the shared secret {name} vanished"))?;
        Ok(stored.value)
    }
}

//! `shared_secrets`: the secrets every instance sharing a server database must
//! hold alike (the token-signing key, the paging key, the development CA), by
//! name. Written once, by whichever instance starts first; never rewritten.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shared_secrets")]
pub struct Model {
    /// Where the secret lives in a data directory, e.g. `identity/signing-key.pem`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

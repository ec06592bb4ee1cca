//! The database throttling limiter: Intune's sliding windows kept in the
//! shared database, for a cluster without Redis. One transaction per request
//! locks its buckets' rows (in one order, so two requests never deadlock),
//! forgets hits older than the window, and either counts the request in every
//! bucket or, when one is full, says how long until it has room: the same
//! arithmetic as the Redis script (`emulator::limiter`).

use anyhow::Context;
use entities::{throttle_bucket as bucket, throttle_hit as hit};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::Store;

impl Store {
    /// Counts a request in `buckets` (key, limit) at `now_ms`, or returns how
    /// many milliseconds until one of them has room (nothing counted then).
    pub async fn admit_hits(
        &self,
        buckets: &[(String, u32)],
        now_ms: i64,
        window_ms: i64,
    ) -> anyhow::Result<i64> {
        let mut keys: Vec<&str> = buckets.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        bucket::Entity::insert_many(
            keys.iter().map(|k| bucket::ActiveModel { bucket: Set(k.to_string()), version: Set(0) }),
        )
        .on_conflict(
            OnConflict::column(bucket::Column::Bucket).do_nothing_on([bucket::Column::Bucket]).to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .context("cannot create throttling buckets")?;
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        for key in &keys {
            bucket::Entity::update_many()
                .col_expr(bucket::Column::Version, Expr::col(bucket::Column::Version).add(1))
                .filter(bucket::Column::Bucket.eq(*key))
                .exec(&txn)
                .await
                .context("cannot lock a throttling bucket")?;
        }
        hit::Entity::delete_many()
            .filter(hit::Column::Bucket.is_in(keys.iter().copied()))
            .filter(hit::Column::AtMs.lte(now_ms - window_ms))
            .exec(&txn)
            .await?;
        let mut wait = 0;
        for (key, limit) in buckets {
            let limit = u64::from(Ord::max(*limit, 1));
            // The limit-th newest hit: when it leaves the window, there is room.
            let blocking: Option<i64> = hit::Entity::find()
                .select_only()
                .column(hit::Column::AtMs)
                .filter(hit::Column::Bucket.eq(key.as_str()))
                .order_by_desc(hit::Column::AtMs)
                .offset(limit - 1)
                .limit(1)
                .into_tuple()
                .one(&txn)
                .await?;
            if let Some(at) = blocking {
                wait = Ord::max(wait, at + window_ms - now_ms);
            }
        }
        if wait > 0 {
            txn.commit().await.context("commit failed")?;
            return Ok(wait);
        }
        hit::Entity::insert_many(keys.iter().map(|k| hit::ActiveModel {
            bucket: Set(k.to_string()),
            at_ms: Set(now_ms),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await
        .context("cannot count a request")?;
        txn.commit().await.context("commit failed")?;
        Ok(0)
    }
}

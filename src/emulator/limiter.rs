//! The shared throttling limiter: the same sliding windows as the in-process
//! throttle, kept where every instance of a cluster counts, so they admit
//! Intune's limits once between them. With `--redis-url`, Redis sorted sets
//! (one per bucket, scored by time) checked and counted by one Lua script,
//! atomically; else, on a shared database, the database (`store::limits`).

use anyhow::Context;
use redis::aio::MultiplexedConnection;

/// Prunes each bucket's window, refuses with the longest wait (ms) when one is
/// full, else counts the request in every bucket. KEYS: the buckets; ARGV: now
/// (ms), the window (ms), a unique member, then each bucket's limit.
const ADMIT: &str = r#"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[3 + i])
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local frees = tonumber(oldest[2]) + window - now
    if frees > wait then wait = frees end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
"#;

/// Where the cluster's windows live.
pub enum SharedLimiter {
    Redis(RedisLimiter),
    Database(crate::store::Store),
}

impl SharedLimiter {
    /// The limiter `--redis-url` names, else the database when it is shared, else none.
    pub fn configure(
        redis_url: Option<&str>,
        store: &crate::store::Store,
    ) -> anyhow::Result<Option<SharedLimiter>> {
        Ok(match redis_url {
            Some(url) => Some(SharedLimiter::Redis(RedisLimiter::new(url)?)),
            None if store.is_shared() => Some(SharedLimiter::Database(store.clone())),
            None => None,
        })
    }

    /// Counts a request in `buckets` (key, limit) at `now_ms`, or returns how
    /// many milliseconds until one of them has room.
    pub async fn admit(&self, buckets: &[(String, u32)], now_ms: i64, window_ms: i64) -> anyhow::Result<i64> {
        match self {
            SharedLimiter::Redis(redis) => redis.admit(buckets, now_ms, window_ms).await,
            // Throttling's statements are not the request's own (the statement budgets).
            SharedLimiter::Database(store) => {
                crate::store::uncounted(store.admit_hits(buckets, now_ms, window_ms)).await
            }
        }
    }
}

pub struct RedisLimiter {
    client: redis::Client,
    connection: tokio::sync::OnceCell<MultiplexedConnection>,
    script: redis::Script,
}

impl RedisLimiter {
    pub fn new(url: &str) -> anyhow::Result<RedisLimiter> {
        let client =
            redis::Client::open(url).with_context(|| format!("--redis-url {url} is not a Redis URL"))?;
        Ok(RedisLimiter {
            client,
            connection: tokio::sync::OnceCell::new(),
            script: redis::Script::new(ADMIT),
        })
    }

    /// Counts a request in `buckets` (key, limit) at `now_ms`, or returns how
    /// many milliseconds until one of them has room.
    pub async fn admit(&self, buckets: &[(String, u32)], now_ms: i64, window_ms: i64) -> anyhow::Result<i64> {
        let connection = self
            .connection
            .get_or_try_init(|| self.client.get_multiplexed_async_connection())
            .await
            .context("Redis is unreachable")?;
        let mut invocation = self.script.prepare_invoke();
        for (key, _) in buckets {
            invocation.key(key);
        }
        invocation.arg(now_ms).arg(window_ms).arg(uuid::Uuid::new_v4().to_string());
        for (_, limit) in buckets {
            invocation.arg(*limit);
        }
        let mut connection = connection.clone();
        invocation.invoke_async(&mut connection).await.context("the Redis limiter failed")
    }
}

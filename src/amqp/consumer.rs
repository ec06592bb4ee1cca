//! Consumer links (live-routing.md §2.7): the selector filter picks the
//! first event, the epoch rule decides who may read, and a pump streams the
//! partition pre-settled within the client's credit, from the store, waking
//! when the partition grows (and polling, for appends by other instances).

use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::acceptor::{LinkEndpoint, ListenerSessionHandle};
use fe2o3_amqp::types::definitions::{self, AmqpError, LinkError};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{Symbol, Value};
use fe2o3_amqp::{Sendable, Sender};

use super::Connection;
use super::address::{self, Start};
use super::links::{Refusal, acceptor, refuse};
use crate::domain::Ticks;
use crate::hubs::{ClaimGuard, EpochConflict, Namespace, message};
use crate::store::{Hub, Position};

const SELECTOR: &str = "apache.org:selector-filter:string";
const EPOCH: &str = "com.microsoft:epoch";
const RUNTIME_METRIC: &str = "com.microsoft:enable-receiver-runtime-metric";
/// Events read from the store at a time.
const PAGE: u64 = 200;
/// How often an idle pump looks for events other instances appended.
const POLL: Duration = Duration::from_millis(500);

pub(super) async fn attach(
    attach: Attach,
    session: &mut ListenerSessionHandle,
    connection: &Arc<Connection>,
    hub: Hub,
    group: String,
    partition: i32,
) -> anyhow::Result<()> {
    let start = match selector(&attach) {
        Ok(start) => start,
        Err(reason) => return refuse(attach, session, Refusal(AmqpError::InvalidField.into(), reason)).await,
    };
    let epoch = attach.properties.as_ref().and_then(|p| p.get(&Symbol::from(EPOCH))).and_then(|v| match v {
        Value::Long(n) => Some(*n),
        Value::Int(n) => Some(i64::from(*n)),
        _ => None,
    });
    let metrics = attach
        .desired_capabilities
        .as_ref()
        .is_some_and(|caps| caps.0.iter().any(|c| c.as_str() == RUNTIME_METRIC));
    let namespace = connection.namespace.clone();
    let claim = match namespace.claim(&hub, &group, partition, epoch) {
        Ok(claim) => claim,
        Err(EpochConflict(reason)) => {
            return refuse(attach, session, Refusal(LinkError::Stolen.into(), reason)).await;
        }
    };
    let first = match first_seq(&namespace, &hub, partition, start).await {
        Ok(first) => first,
        Err(e) => {
            let reason = format!("The partition could not be read: {e:#}");
            return refuse(attach, session, Refusal(AmqpError::InternalError.into(), reason)).await;
        }
    };
    let offered = metrics.then_some(RUNTIME_METRIC);
    let LinkEndpoint::Sender(sender) = acceptor(offered).accept_incoming_attach(attach, session).await?
    else {
        anyhow::bail!("a consumer link must be a receiver");
    };
    tracing::debug!(hub = %hub.name, %group, partition, first, ?epoch, "event hub reader attached");
    tokio::spawn(pump(sender, namespace, hub, partition, first, claim, metrics));
    Ok(())
}

/// The start position the link's filter asks for (none: the start of the stream).
fn selector(attach: &Attach) -> Result<Start, String> {
    let filter = attach.source.as_ref().and_then(|s| s.filter.as_ref());
    let Some(value) = filter.and_then(|f| f.get(&Symbol::from(SELECTOR))) else { return Ok(Start::Earliest) };
    // Python describes it with the symbol, JavaScript with the numeric code: either will do.
    let text = match value {
        Value::Described(described) => match &described.value {
            Value::String(s) => s.clone(),
            _ => return Err(format!("The {SELECTOR} filter must hold a string.")),
        },
        Value::String(s) => s.clone(),
        _ => return Err(format!("The {SELECTOR} filter must hold a string.")),
    };
    address::parse_selector(&text)
}

async fn first_seq(namespace: &Namespace, hub: &Hub, partition: i32, start: Start) -> anyhow::Result<i64> {
    Ok(match start {
        Start::Earliest => 0,
        Start::Latest => namespace.head(hub, partition).await?.map_or(0, |h| h.last_seq + 1),
        Start::Sequence { seq, inclusive } => (if inclusive { seq } else { seq + 1 }).max(0),
        Start::Offset { offset, inclusive } => {
            namespace.start(hub, partition, Position::Offset(offset), inclusive).await?
        }
        Start::EnqueuedTime { unix_ms, inclusive } => {
            let at = chrono::DateTime::from_timestamp_millis(unix_ms).unwrap_or_default();
            namespace
                .start(hub, partition, Position::EnqueuedTicks(Ticks::from_datetime(at).0), inclusive)
                .await?
        }
    })
}

async fn pump(
    mut sender: Sender,
    namespace: Arc<Namespace>,
    hub: Hub,
    partition: i32,
    mut next: i64,
    claim: ClaimGuard,
    metrics: bool,
) {
    let mut grown = namespace.watch(&hub, partition);
    loop {
        let events = match namespace.read(&hub, partition, next, PAGE).await {
            Ok(events) => events,
            Err(e) => return close(sender, AmqpError::InternalError.into(), format!("{e:#}")).await,
        };
        if events.is_empty() {
            tokio::select! {
                _ = grown.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = claim.stolen() => return stolen(sender, &claim).await,
                _ = sender.on_detach() => return,
            }
            continue;
        }
        let head = if metrics { namespace.head(&hub, partition).await.ok().flatten() } else { None };
        let now = Ticks::from_datetime(chrono::Utc::now()).0;
        for event in events {
            let message = match message::delivered(&event, head.as_ref().map(|h| (h, now))) {
                Ok(message) => message,
                Err(e) => return close(sender, AmqpError::InternalError.into(), format!("{e:#}")).await,
            };
            let sendable = Sendable::builder().message(message).settled(true).build();
            // `send` waits for credit; a steal ends the wait.
            tokio::select! {
                sent = sender.send(sendable) => if sent.is_err() { return },
                _ = claim.stolen() => return stolen(sender, &claim).await,
            }
            next = event.seq + 1;
        }
    }
}

async fn stolen(sender: Sender, claim: &ClaimGuard) {
    let reason = format!(
        "New receiver with a higher epoch is created hence current receiver{} is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.",
        claim.epoch().map(|e| format!(" with epoch '{e}'")).unwrap_or_default()
    );
    close(sender, LinkError::Stolen.into(), reason).await
}

async fn close(sender: Sender, condition: definitions::ErrorCondition, reason: String) {
    let _ = sender.close_with_error(definitions::Error::new(condition, Some(reason), None)).await;
}

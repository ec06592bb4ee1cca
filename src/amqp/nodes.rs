//! The request/response nodes (live-routing.md §2.4–2.6): `$cbs` put-token
//! (a SAS token signed with the namespace key authorises its audience on
//! the connection; any other is a 401) and `$management` READ of a hub and
//! of a partition, with the exact keys and AMQP types the SDKs read.
//!
//! A client opens a sender and a receiver to the node on one session. The
//! reply goes on the receiver whose name or target is the request's
//! `reply-to` (JavaScript), else on the session's receiver from that node
//! (Python sets no `reply-to`); either may attach first, so a request waits
//! briefly for its reply link.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::Sendable;
use fe2o3_amqp::acceptor::{LinkEndpoint, ListenerSessionHandle};
use fe2o3_amqp::types::messaging::{AmqpValue, ApplicationProperties, Body, Message, Properties};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{Array, OrderedMap, SimpleValue, Value};
use tokio::sync::mpsc;

use super::address::{self, Node};
use super::links::acceptor;
use super::{Connection, sas};
use crate::hubs::KEY_NAME;
use crate::hubs::message::timestamp;

type Request = Message<Body<Value>>;

/// How long a request waits for its reply link to attach.
const REPLY_LINK_WAIT: Duration = Duration::from_secs(5);

struct ReplyLink {
    id: u64,
    name: String,
    target: Option<String>,
    node: Node,
    tx: mpsc::Sender<Request>,
}

/// The reply links of one session.
#[derive(Default)]
pub(super) struct Replies {
    links: Mutex<Vec<ReplyLink>>,
    next: std::sync::atomic::AtomicU64,
}

impl Replies {
    fn route(&self, reply_to: Option<&str>, node: &Node) -> Option<mpsc::Sender<Request>> {
        let links = self.links.lock().expect("replies");
        let named = reply_to.and_then(|to| {
            links.iter().rev().find(|l| l.name == to || l.target.as_deref() == Some(to)).map(|l| l.tx.clone())
        });
        named.or_else(|| links.iter().rev().find(|l| l.node == *node).map(|l| l.tx.clone()))
    }
}

/// A client's receiver from a node: replies are sent on it, pre-settled.
pub(super) async fn reply_link(
    attach: Attach,
    session: &mut ListenerSessionHandle,
    replies: &Arc<Replies>,
) -> anyhow::Result<()> {
    let name = attach.name.clone();
    let target = match attach.target.as_deref() {
        Some(fe2o3_amqp::types::messaging::TargetArchetype::Target(t)) => t.address.clone(),
        _ => None,
    };
    let node = attach.source.as_ref().and_then(|s| s.address.as_deref()).and_then(address::parse);
    let Some(node) = node else { anyhow::bail!("a reply link without a node") };
    let LinkEndpoint::Sender(mut sender) = acceptor(None).accept_incoming_attach(attach, session).await?
    else {
        anyhow::bail!("a reply link must be a receiver");
    };
    let (tx, mut rx) = mpsc::channel::<Request>(16);
    let id = replies.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    replies.links.lock().expect("replies").push(ReplyLink { id, name, target, node, tx });
    let replies = replies.clone();
    tokio::spawn(async move {
        loop {
            let reply = tokio::select! {
                reply = rx.recv() => reply,
                _ = sender.on_detach() => None,
            };
            let Some(reply) = reply else { break };
            if sender.send(Sendable::builder().message(reply).settled(true).build()).await.is_err() {
                break;
            }
        }
        replies.links.lock().expect("replies").retain(|l| l.id != id);
        let _ = sender.close().await;
    });
    Ok(())
}

/// A client's sender to a node: each request is answered on its reply link.
pub(super) async fn requests(
    attach: Attach,
    session: &mut ListenerSessionHandle,
    node: Node,
    connection: Arc<Connection>,
    replies: Arc<Replies>,
) -> anyhow::Result<()> {
    let LinkEndpoint::Receiver(mut receiver) = acceptor(None).accept_incoming_attach(attach, session).await?
    else {
        anyhow::bail!("a request link must be a sender");
    };
    tokio::spawn(async move {
        while let Ok(delivery) = receiver.recv::<Body<Value>>().await {
            let _ = receiver.accept(&delivery).await;
            let request = delivery.into_message();
            let reply = match node {
                Node::Cbs => put_token(&connection, &request),
                _ => read(&connection, &request).await,
            };
            let reply_to = request.properties.as_ref().and_then(|p| p.reply_to.clone());
            let deadline = tokio::time::Instant::now() + REPLY_LINK_WAIT;
            let route = loop {
                match replies.route(reply_to.as_deref(), &node) {
                    Some(tx) => break Some(tx),
                    None if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                    None => break None,
                }
            };
            match route {
                Some(tx) => {
                    let _ = tx.send(reply).await;
                }
                None => tracing::debug!(?node, "a node request had no reply link to answer on"),
            }
        }
        let _ = receiver.close().await;
    });
    Ok(())
}

fn text<'m>(request: &'m Request, key: &str) -> Option<&'m str> {
    match request.application_properties.as_ref()?.0.get(key)? {
        SimpleValue::String(s) => Some(s),
        SimpleValue::Symbol(s) => Some(s.as_str()),
        _ => None,
    }
}

fn reply(request: &Request, status: i32, description: &str, body: Value) -> Request {
    let mut properties = OrderedMap::new();
    properties.insert("status-code".to_string(), SimpleValue::Int(status));
    properties.insert("status-description".to_string(), SimpleValue::String(description.to_string()));
    // Python's SDK reads the description under this name (an SDK quirk, see the spike).
    properties.insert("statusDescription".to_string(), SimpleValue::String(description.to_string()));
    Message {
        header: None,
        delivery_annotations: None,
        message_annotations: None,
        properties: Some(Properties {
            // Echoed with its AMQP type: Python compares UUIDs, JavaScript strings.
            correlation_id: request.properties.as_ref().and_then(|p| p.message_id.clone()),
            ..Default::default()
        }),
        application_properties: Some(ApplicationProperties(properties)),
        body: Body::Value(AmqpValue(body)),
        footer: None,
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `put-token`: a SAS token for an audience, checked against the namespace key.
fn put_token(connection: &Connection, request: &Request) -> Request {
    if text(request, "operation") != Some("put-token") {
        return reply(request, 400, "$cbs supports the operation 'put-token' only.", Value::Null);
    }
    if text(request, "type") != Some("servicebus.windows.net:sastoken") {
        return reply(
            request,
            401,
            "auditgraph's Event Hubs endpoint accepts SAS tokens only: use a connection string with SharedAccessKeyName and SharedAccessKey.",
            Value::Null,
        );
    }
    let Body::Value(AmqpValue(Value::String(token))) = &request.body else {
        return reply(request, 400, "The put-token body must be the token, as a string.", Value::Null);
    };
    match sas::verify(token, KEY_NAME, &connection.namespace.config().key, unix_now()) {
        Ok(audience) => {
            connection.authorise(address::normalize(&audience));
            reply(request, 202, "Accepted", Value::Null)
        }
        Err(reason) => reply(
            request,
            401,
            &format!(
                "InvalidSignature: {reason} The token must be signed with the key of '{KEY_NAME}' (the SharedAccessKey auditgraph's banner prints)."
            ),
            Value::Null,
        ),
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (Value::String(k.to_string()), v)).collect())
}

/// `READ` of `com.microsoft:eventhub` and `com.microsoft:partition`.
async fn read(connection: &Connection, request: &Request) -> Request {
    if text(request, "operation") != Some("READ") {
        return reply(request, 400, "$management supports the operation 'READ' only.", Value::Null);
    }
    let Some(name) = text(request, "name") else {
        return reply(request, 400, "A READ needs the application property 'name' (the hub).", Value::Null);
    };
    let path = format!("{name}/$management");
    let token_ok = text(request, "security_token")
        .is_some_and(|t| sas::verify(t, KEY_NAME, &connection.namespace.config().key, unix_now()).is_ok());
    if !connection.authorised(&path) && !token_ok {
        return reply(
            request,
            401,
            &format!("Unauthorized access to '{name}': put a SAS token for it on $cbs first."),
            Value::Null,
        );
    }
    let hub = match connection.namespace.hub(name).await {
        Ok(Some(hub)) => hub,
        Ok(None) => {
            return reply(
                request,
                404,
                &format!("The messaging entity 'sb://localhost/{name}' could not be found."),
                Value::Null,
            );
        }
        Err(e) => return reply(request, 500, &format!("The hub could not be read: {e:#}"), Value::Null),
    };
    match text(request, "type") {
        Some("com.microsoft:eventhub") => {
            let ids = (0..hub.partitions).map(|p| Value::String(p.to_string())).collect::<Vec<_>>();
            let body = map(vec![
                ("name", Value::String(hub.name.clone())),
                ("type", Value::String("com.microsoft:eventhub".into())),
                ("created_at", timestamp(hub.created_ticks)),
                ("partition_count", Value::Int(hub.partitions)),
                ("partition_ids", Value::Array(Array::from(ids))),
            ]);
            reply(request, 200, "OK", body)
        }
        Some("com.microsoft:partition") => {
            let partition = text(request, "partition").and_then(|p| p.parse::<i32>().ok());
            let head = match partition.filter(|p| (0..hub.partitions).contains(p)) {
                Some(p) => connection.namespace.head(&hub, p).await.map(|h| h.map(|h| (p, h))),
                None => Ok(None),
            };
            match head {
                Ok(Some((p, head))) => {
                    let body = map(vec![
                        ("name", Value::String(hub.name.clone())),
                        ("type", Value::String("com.microsoft:partition".into())),
                        ("partition", Value::String(p.to_string())),
                        ("begin_sequence_number", Value::Long(head.begin_seq)),
                        ("last_enqueued_sequence_number", Value::Long(head.last_seq)),
                        ("last_enqueued_offset", Value::String(head.last_offset.to_string())),
                        ("last_enqueued_time_utc", timestamp(head.last_enqueued_ticks)),
                        ("is_partition_empty", Value::Bool(head.empty)),
                    ]);
                    reply(request, 200, "OK", body)
                }
                Ok(None) => reply(
                    request,
                    404,
                    &format!(
                        "The partition '{}' of '{}' does not exist: it should be between 0 and {}.",
                        text(request, "partition").unwrap_or(""),
                        hub.name,
                        hub.partitions - 1
                    ),
                    Value::Null,
                ),
                Err(e) => {
                    reply(request, 500, &format!("The partition could not be read: {e:#}"), Value::Null)
                }
            }
        }
        other => reply(
            request,
            400,
            &format!(
                "Unknown READ type '{}': com.microsoft:eventhub or com.microsoft:partition.",
                other.unwrap_or("")
            ),
            Value::Null,
        ),
    }
}

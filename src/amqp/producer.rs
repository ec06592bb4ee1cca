//! Producer links (live-routing.md §2.8): single events and batches
//! (message format `0x80013700`: data sections that are whole encoded
//! messages) go to the link's partition, the partition their key hashes to,
//! or round robin; a batch stays together on one partition, as the service
//! keeps it. Each delivery is accepted once it is stored, or rejected with
//! the reason.

use std::sync::Arc;

use fe2o3_amqp::acceptor::{LinkEndpoint, ListenerSessionHandle};
use fe2o3_amqp::types::definitions::{self, AmqpError};
use fe2o3_amqp::types::messaging::{Body, Data, Message};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::Value;

use super::Connection;
use super::links::acceptor;
use crate::hubs::{Placement, message};
use crate::store::{Hub, NewHubEvent};

/// The message format of a batch of events.
const BATCH_FORMAT: u32 = 0x8001_3700;

pub(super) async fn attach(
    attach: Attach,
    session: &mut ListenerSessionHandle,
    connection: &Arc<Connection>,
    hub: Hub,
    partition: Option<i32>,
) -> anyhow::Result<()> {
    let LinkEndpoint::Receiver(mut receiver) = acceptor(None).accept_incoming_attach(attach, session).await?
    else {
        anyhow::bail!("a producer link must be a sender");
    };
    let namespace = connection.namespace.clone();
    tokio::spawn(async move {
        while let Ok(delivery) = receiver.recv::<Body<Value>>().await {
            let batch = *delivery.message_format() == Some(BATCH_FORMAT);
            let (info, message) = delivery.into_parts();
            let stored = match unpack(message, batch) {
                Ok(events) => {
                    let placement = match (partition, events.first()) {
                        (Some(p), _) => Placement::Partition(p),
                        (None, Some((Some(key), _))) => Placement::Key(key.clone()),
                        _ => Placement::Any,
                    };
                    namespace.publish(&hub, &placement, &events).await.map_err(|e| {
                        (AmqpError::InternalError, format!("The events could not be stored: {e:#}"))
                    })
                }
                Err(reason) => Err((AmqpError::DecodeError, reason)),
            };
            let disposed = match stored {
                Ok(_) => receiver.accept(info).await,
                Err((condition, reason)) => {
                    tracing::debug!(hub = %hub.name, %reason, "an event hub delivery was rejected");
                    receiver.reject(info, definitions::Error::new(condition, Some(reason), None)).await
                }
            };
            if disposed.is_err() {
                break;
            }
        }
        let _ = receiver.close().await;
    });
    Ok(())
}

/// The events a delivery carries, with their partition keys, encoded for storage.
fn unpack(message: Message<Body<Value>>, batch: bool) -> Result<Vec<NewHubEvent>, String> {
    if !batch {
        let key = message::partition_key(&message);
        let bytes = message::encode(&message).map_err(|e| format!("{e:#}"))?;
        return Ok(vec![(key, bytes)]);
    }
    let Body::Data(sections) = message.body else {
        return Err(
            "A batch (message format 0x80013700) must hold data sections, one encoded message each.".into()
        );
    };
    sections
        .into_iter()
        .map(|Data(bytes)| {
            let bytes = bytes.into_vec();
            let inner = message::decode(&bytes).map_err(|_| {
                "A section of a batch (message format 0x80013700) is not an encoded AMQP message.".to_string()
            })?;
            Ok((message::partition_key(&inner), bytes))
        })
        .collect()
}

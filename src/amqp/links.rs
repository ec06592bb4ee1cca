//! What an incoming attach asks for, and the answer: the `$cbs` and
//! `$management` nodes, consumer links on
//! `<hub>/ConsumerGroups/<group>/Partitions/<id>`, producer links on `<hub>`
//! or `<hub>/Partitions/<id>`; anything else, or a link its token does not
//! cover, is attached and at once detached with the service's condition
//! and text (an AMQP refusal is a detach, not a failed attach).

use std::sync::Arc;

use fe2o3_amqp::acceptor::{LinkAcceptor, LinkEndpoint, ListenerSessionHandle};
use fe2o3_amqp::acceptor::{SupportedReceiverSettleModes, SupportedSenderSettleModes};
use fe2o3_amqp::types::definitions::{
    self, AmqpError, ErrorCondition, ReceiverSettleMode, Role, SenderSettleMode,
};
use fe2o3_amqp::types::messaging::{Source, Target, TargetArchetype};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::Symbol;

use super::address::{self, Node};
use super::{Connection, consumer, nodes, producer};
use crate::hubs::MAX_MESSAGE_BYTES;
use crate::store::Hub;

/// fe2o3's acceptor with its default terminus hooks.
pub(super) type Acceptor = LinkAcceptor<fn(Source) -> Option<Source>, fn(Target) -> Option<Target>>;

/// A refusal: the detach condition and its description.
pub(super) struct Refusal(pub ErrorCondition, pub String);

impl Refusal {
    fn not_found(what: String) -> Refusal {
        Refusal(AmqpError::NotFound.into(), what)
    }
}

/// The acceptor every link gets: event links are sent pre-settled whatever
/// the client asks (Python asks `unsettled` and never settles; spike P4),
/// and deliveries from clients settle at once (`first`; Python's producer
/// ignores unsettled dispositions, spike P3).
pub(super) fn acceptor(offered: Option<&str>) -> Acceptor {
    let mut builder = LinkAcceptor::builder()
        .supported_sender_settle_modes(SupportedSenderSettleModes::Settled)
        .fallback_sender_settle_mode(SenderSettleMode::Settled)
        .supported_receiver_settle_modes(SupportedReceiverSettleModes::First)
        .fallback_receiver_settle_mode(ReceiverSettleMode::First)
        .initial_delivery_count(0)
        .max_message_size(MAX_MESSAGE_BYTES);
    if let Some(capability) = offered {
        builder = builder.add_offered_capabilities(Symbol::from(capability));
    }
    builder.build()
}

pub(super) async fn attach(
    attach: Attach,
    session: &mut ListenerSessionHandle,
    connection: &Arc<Connection>,
    replies: &Arc<nodes::Replies>,
) -> anyhow::Result<()> {
    let client_receives = attach.role == Role::Receiver;
    let address = if client_receives {
        attach.source.as_ref().and_then(|s| s.address.clone())
    } else {
        match attach.target.as_deref() {
            Some(TargetArchetype::Target(target)) => target.address.clone(),
            _ => None,
        }
    };
    let node = address.as_deref().and_then(address::parse);
    let outcome = match (node, client_receives) {
        (Some(node @ (Node::Cbs | Node::Management)), false) => {
            return nodes::requests(attach, session, node, connection.clone(), replies.clone()).await;
        }
        (Some(Node::Cbs | Node::Management), true) => {
            return nodes::reply_link(attach, session, replies).await;
        }
        (Some(Node::Consumer { hub, group, partition }), true) => {
            let path = address::normalize(address.as_deref().unwrap_or_default()).to_string();
            match entity(connection, &path, &hub, Some(&partition), "Listen").await {
                Ok((hub, Some(partition))) => {
                    return consumer::attach(attach, session, connection, hub, group, partition).await;
                }
                Ok((_, None)) => Err(Refusal::not_found(format!("'{path}' names no partition."))),
                Err(refusal) => Err(refusal),
            }
        }
        (Some(Node::Hub { hub, partition }), false) => {
            let path = address::normalize(address.as_deref().unwrap_or_default()).to_string();
            match entity(connection, &path, &hub, partition.as_deref(), "Send").await {
                Ok((hub, partition)) => {
                    return producer::attach(attach, session, connection, hub, partition).await;
                }
                Err(refusal) => Err(refusal),
            }
        }
        (_, receives) => Err(Refusal::not_found(format!(
            "The messaging entity '{}' could not be found: {} links attach to {}.",
            address.as_deref().unwrap_or("(no address)"),
            if receives { "receiver" } else { "sender" },
            if receives {
                "'<hub>/ConsumerGroups/<group>/Partitions/<id>', '$cbs' or '$management'"
            } else {
                "'<hub>', '<hub>/Partitions/<id>', '$cbs' or '$management'"
            }
        ))),
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(refusal) => refuse(attach, session, refusal).await,
    }
}

/// The hub and partition a link names, if the connection may use them.
async fn entity(
    connection: &Connection,
    path: &str,
    hub: &str,
    partition: Option<&str>,
    claim: &str,
) -> Result<(Hub, Option<i32>), Refusal> {
    if !connection.authorised(path) {
        return Err(Refusal(
            AmqpError::UnauthorizedAccess.into(),
            format!(
                "Unauthorized access. '{claim}' claim(s) are required to perform this operation on '{path}': put a SAS token for it on $cbs first (the SDKs do), signed with the namespace key."
            ),
        ));
    }
    let found = connection.namespace.hub(hub).await.map_err(|e| {
        Refusal(AmqpError::InternalError.into(), format!("The event hub could not be read: {e:#}"))
    })?;
    let Some(found) = found else {
        return Err(Refusal::not_found(format!(
            "The messaging entity 'sb://localhost/{hub}' could not be found. auditgraph creates a hub when a diagnostic setting names it, or at start with --eventhub {hub}."
        )));
    };
    let Some(partition) = partition else { return Ok((found, None)) };
    match partition.parse::<i32>() {
        Ok(p) if (0..found.partitions).contains(&p) => Ok((found, Some(p))),
        _ => Err(Refusal(
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-out-of-range")),
            format!(
                "The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and {}.",
                found.partitions - 1
            ),
        )),
    }
}

/// Attaches the link and detaches it at once with the refusal's condition.
pub(super) async fn refuse(
    attach: Attach,
    session: &mut ListenerSessionHandle,
    Refusal(condition, description): Refusal,
) -> anyhow::Result<()> {
    tracing::debug!(link = %attach.name, reason = %description, "AMQP link refused");
    let error = definitions::Error::new(condition, Some(description), None);
    match acceptor(None).accept_incoming_attach(attach, session).await? {
        LinkEndpoint::Sender(sender) => sender.close_with_error(error).await?,
        LinkEndpoint::Receiver(receiver) => receiver.close_with_error(error).await?,
    }
    Ok(())
}

//! The Event Hubs door: an AMQP 1.0 endpoint that the unmodified Event Hubs
//! SDKs (`azure-eventhub`, `@azure/event-hubs`) use with the development
//! emulator's connection string (live-routing.md §2), over the namespace in
//! `hubs`. Built on fe2o3-amqp's acceptor (docs/spikes/event-hubs-amqp.md).
//!
//! - `sasl`: the mechanisms the SDKs pick; `sas`: SAS token checks for CBS.
//! - `pad`: pads outgoing performatives to full length for pyamqp.
//! - `address`: link addresses and selector filters, pure.
//! - `links`: what an attach asks for, authorisation, refusals in the
//!   service's terms; `nodes`: `$cbs` and `$management`; `consumer` and
//!   `producer`: the two kinds of event link.

mod address;
mod consumer;
mod links;
mod nodes;
mod pad;
mod producer;
mod sas;
mod sasl;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use fe2o3_amqp::acceptor::{ConnectionAcceptor, ListenerSessionHandle, SessionAcceptor};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::hubs::{KEY_NAME, Namespace};

/// Connections served at once; more are closed at once (a door has limits).
const MAX_CONNECTIONS: usize = 256;
/// Frames up to 64 KiB (pyamqp proposes 1 MiB; fe2o3 splits larger transfers).
const MAX_FRAME_SIZE: u32 = 65_536;
/// pyamqp copies the peer's `handle-max` and compares with it: it must be sent,
/// and fe2o3 leaves the default (u32::MAX) out (spike pitfall P2).
const HANDLE_MAX: u32 = 65_535;

/// The connection string to paste into an SDK (the official emulator's form),
/// naming the hub a diagnostic setting without `eventHubName` fills.
pub fn connection_string(addr: SocketAddr, key: &str) -> String {
    let host = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        addr.ip().to_string()
    };
    format!(
        "Endpoint=sb://{host}:{};SharedAccessKeyName={KEY_NAME};SharedAccessKey={key};UseDevelopmentEmulator=true;EntityPath={}",
        addr.port(),
        crate::hubs::category_hub(crate::routing::settings::AUDIT_LOGS)
    )
}

/// Serves AMQP connections until the task is dropped.
pub async fn serve(listener: TcpListener, namespace: Arc<Namespace>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "the Event Hubs endpoint could not accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "refused an AMQP connection: {MAX_CONNECTIONS} are open");
            continue;
        };
        let namespace = namespace.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection(stream, namespace).await {
                tracing::debug!(%peer, error = %e, "AMQP connection ended");
            }
        });
    }
}

/// One client connection: what it may do, shared by its sessions.
pub(crate) struct Connection {
    namespace: Arc<Namespace>,
    /// Authenticated with `PLAIN` and the namespace key: may use every entity.
    plain: Arc<AtomicBool>,
    /// Entity paths (folded, without a trailing `/`) that CBS tokens authorised.
    audiences: Mutex<Vec<String>>,
}

impl Connection {
    /// Whether a token (or `PLAIN`) covers an entity path such as
    /// `hub/ConsumerGroups/$Default/Partitions/0`.
    fn authorised(&self, path: &str) -> bool {
        let path = path.to_ascii_lowercase();
        self.plain.load(Ordering::SeqCst)
            || self.audiences.lock().expect("audiences").iter().any(|a| {
                a.is_empty()
                    || path == *a
                    || path.strip_prefix(a.as_str()).is_some_and(|rest| rest.starts_with('/'))
            })
    }

    fn authorise(&self, path: &str) {
        let path = path.trim_matches('/').to_ascii_lowercase();
        let mut audiences = self.audiences.lock().expect("audiences");
        if !audiences.contains(&path) {
            audiences.push(path);
        }
    }
}

async fn connection(stream: TcpStream, namespace: Arc<Namespace>) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let sasl = sasl::Sasl::new(namespace.config().key.as_str().into());
    let connection =
        Arc::new(Connection { namespace, plain: sasl.plain.clone(), audiences: Mutex::default() });
    let acceptor = ConnectionAcceptor::builder()
        .container_id("auditgraph")
        .max_frame_size(MAX_FRAME_SIZE)
        .sasl_acceptor(sasl)
        .build();
    let mut handle = acceptor.accept(pad::Padded::new(stream)).await?;
    let sessions = SessionAcceptor::builder().handle_max(HANDLE_MAX).build();
    while let Ok(session) = sessions.accept(&mut handle).await {
        tokio::spawn(serve_session(session, connection.clone()));
    }
    let _ = handle.close().await;
    Ok(())
}

async fn serve_session(mut session: ListenerSessionHandle, connection: Arc<Connection>) {
    let replies = Arc::new(nodes::Replies::default());
    while let Some(attach) = session.next_incoming_attach().await {
        let name = attach.name.clone();
        if let Err(e) = links::attach(attach, &mut session, &connection, &replies).await {
            tracing::debug!(link = %name, error = %format!("{e:#}"), "AMQP link not attached");
        }
    }
    let _ = session.end().await;
}

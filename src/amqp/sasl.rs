//! SASL as the Event Hubs SDKs negotiate it (live-routing.md §2.2): `MSSBCBS`
//! (.NET) and `ANONYMOUS` (Python, JavaScript) succeed and leave
//! authorisation to CBS tokens; `PLAIN` (the fe2o3 example client) succeeds
//! only with the namespace's key name and key, and then authorises the whole
//! connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fe2o3_amqp::acceptor::SaslAcceptor;
use fe2o3_amqp::acceptor::sasl_acceptor::SaslServerFrame;
use fe2o3_amqp::types::primitives::{Array, Symbol};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};

use crate::hubs::KEY_NAME;

const MECHANISMS: [&str; 3] = ["MSSBCBS", "ANONYMOUS", "PLAIN"];

/// One connection's SASL exchange; `plain` records a successful `PLAIN`.
#[derive(Debug, Clone)]
pub(super) struct Sasl {
    key: Arc<str>,
    pub(super) plain: Arc<AtomicBool>,
}

impl Sasl {
    pub(super) fn new(key: Arc<str>) -> Sasl {
        Sasl { key, plain: Arc::default() }
    }

    fn outcome(code: SaslCode) -> SaslServerFrame {
        SaslServerFrame::Outcome(SaslOutcome { code, additional_data: None })
    }
}

impl SaslAcceptor for Sasl {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(MECHANISMS.iter().map(|m| Symbol::from(*m)).collect::<Vec<_>>())
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        match init.mechanism.0.as_str() {
            "MSSBCBS" | "ANONYMOUS" => Self::outcome(SaslCode::Ok),
            "PLAIN" => {
                let response = init.initial_response.map(|r| r.into_vec()).unwrap_or_default();
                let mut parts = response.split(|b| *b == 0);
                let (_authzid, name, key) = (parts.next(), parts.next(), parts.next());
                if name == Some(KEY_NAME.as_bytes()) && key == Some(self.key.as_bytes()) {
                    self.plain.store(true, Ordering::SeqCst);
                    Self::outcome(SaslCode::Ok)
                } else {
                    Self::outcome(SaslCode::Auth)
                }
            }
            _ => Self::outcome(SaslCode::Auth),
        }
    }

    fn on_response(&mut self, _response: SaslResponse) -> SaslServerFrame {
        // None of the three mechanisms has a second round.
        Self::outcome(SaslCode::Sys)
    }
}

//! The request edge every HTTP door shares (Graph REST, GraphQL, the admin page,
//! the identity platform's resource endpoint): who is calling ([`Caller`]), how
//! much body a request may send ([`read_body`]), the request ids every
//! response carries ([`graph_headers`]), CORS for browser apps ([`cors`]), and the
//! envelope of what the HTTP layer refuses before any of them runs ([`install_refusals`]).
//! Each is written once, here.

mod body;
mod caller;
mod cors;
mod forwarded;
mod refusal;
mod request_ids;

pub use body::{BodyError, read_body};
pub use caller::Caller;
pub use cors::{CorsPolicy, cors};
pub use forwarded::ProxyRange;
pub use refusal::install_refusals;
pub use request_ids::{RequestIds, graph_headers};

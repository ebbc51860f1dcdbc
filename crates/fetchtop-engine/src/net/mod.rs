//! How requests reach a server beyond the URL itself: proxies, the
//! certificates to trust and to show, and connect-address overrides. Each
//! is parsed and checked here, once, before a run; the transports only
//! apply them.

pub mod connect_to;
pub mod proxy;
pub mod tls_files;

pub use connect_to::{ConnectRules, Destination};
pub use proxy::{ProxyKind, ProxySettings};
pub use tls_files::TlsFiles;

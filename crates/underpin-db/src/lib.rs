//! Shared database plumbing for underpin: database URLs and secret redaction, connections,
//! the SQL lexer that splits scripts into statements, and scratch databases that are removed
//! after use.

pub mod connect;
pub mod scratch;
pub mod sql;
pub mod url;

pub use connect::{
    ConnectError, connect_postgres, connect_sqlite, connect_sqlite_with, quote_ident, quote_literal,
};
pub use scratch::{ScratchDatabase, ScratchError, ScratchSource};
pub use url::{Backend, DatabaseUrl, Redactor, UrlError, redact_url};

//! The schema model of a database and the code that reads it from PostgreSQL and SQLite
//! catalogs. Renderers (`underpin-docs`) and the code generator work from [`Schema`] alone.

pub mod model;
pub mod postgres;
pub mod sqlite;

pub use model::*;

//! Prints the canonical JSON of a database's schema model, and the number of catalog queries
//! on standard error.
//!
//!     cargo run -p underpin-schema --example dump -- URL [--schema NAME]... [--exclude TABLE]...
//!
//! URL is `postgres://…` or `sqlite:path`. `--exclude` takes `name` or `schema.name`, for
//! example `--exclude underpin_migrations`.

use std::process::ExitCode;

use underpin_db::DatabaseUrl;
use underpin_schema::{IntrospectOptions, introspect_url};

const USAGE: &str = "usage: dump URL [--schema NAME]... [--exclude TABLE]...";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut options = IntrospectOptions::default();
    while let Some(arg) = args.next() {
        let list = match arg.as_str() {
            "--schema" => &mut options.schemas,
            "--exclude" => &mut options.exclude_tables,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if url.is_none() => {
                url = Some(arg);
                continue;
            }
            _ => {
                eprintln!("unexpected argument `{arg}`\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        match args.next() {
            Some(value) => list.push(value),
            None => {
                eprintln!("{arg} needs a value\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }

    let Some(url) = url else {
        eprintln!("the database URL is missing\n{USAGE}");
        return ExitCode::from(2);
    };
    let url = match DatabaseUrl::parse(&url) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };

    match introspect_url(&url, &options).await {
        Ok(introspection) => {
            print!("{}", introspection.schema.to_canonical_json());
            eprintln!("{} catalog queries", introspection.queries);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

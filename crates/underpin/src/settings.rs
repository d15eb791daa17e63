//! Settings every command shares: the config file, `.env`, the environment and the
//! database URL, resolved from flags, `underpin.toml` and the process environment.

use std::path::PathBuf;

use underpin_db::{Backend, DatabaseUrl, Redactor};
use underpin_migrate::HistoryTable;

use crate::cli::GlobalArgs;
use crate::config::{Config, interpolate};
use crate::render::CliError;

pub struct Settings {
    pub config: Config,
    pub env_name: Option<String>,
    /// The environment is marked `protected = true`.
    pub protected: bool,
    /// The environment's own migrations folder, if it names one.
    pub env_dir: Option<String>,
    pub url: Option<DatabaseUrl>,
    /// The reason there is no URL, reported only by commands that need one.
    pub url_error: Option<CliError>,
}

impl Settings {
    /// Returns the migrations folder: --dir, else the environment's `dir`, else `[migrate]
    /// dir`, else `migrations` beside the config file.
    pub fn migrations_dir(&self, global: &GlobalArgs) -> PathBuf {
        let config = &self.config;
        match (
            &global.dir,
            self.env_dir.as_deref(),
            config.migrate.dir.as_deref(),
        ) {
            (Some(dir), _, _) => dir.clone(),
            (None, Some(dir), _) | (None, None, Some(dir)) => config.resolve(dir),
            (None, None, None) => config.resolve("migrations"),
        }
    }

    /// Returns the history table: the given flags, else `[migrate] table` and `schema`, else
    /// the defaults.
    pub fn history_table(&self, table: Option<&str>, schema: Option<&str>) -> HistoryTable {
        let mut history = HistoryTable::default();
        if let Some(name) = table.or(self.config.migrate.table.as_deref()) {
            history.table = name.to_string();
        }
        if let Some(name) = schema.or(self.config.migrate.schema.as_deref()) {
            history.schema = name.to_string();
        }
        history
    }

    /// Loads the config and `.env`, picks the environment and parses its URL. Registers the
    /// URL's password with the log redactor before anything can log it.
    pub fn resolve(global: &GlobalArgs) -> Result<Settings, CliError> {
        let config = Config::load(global.config.as_deref())?;
        let dotenv = config.base_dir.join(".env");
        if dotenv.is_file()
            && let Err(error) = dotenvy::from_path(&dotenv)
        {
            return Err(CliError::Usage(format!(
                "{}: cannot read: {error}",
                dotenv.display()
            )));
        }

        let env_name = global.env.clone().or_else(|| {
            if global.database_url.is_some() || std::env::var_os("DATABASE_URL").is_some() {
                None
            } else {
                config.default_env.clone().or_else(|| match config.env.len() {
                    1 => config.env.keys().next().cloned(),
                    _ => None,
                })
            }
        });
        let env = match &env_name {
            Some(name) => Some(config.env.get(name).ok_or_else(|| {
                let known: Vec<&str> = config.env.keys().map(String::as_str).collect();
                CliError::Usage(format!(
                    "environment `{name}` is not defined; add [env.{name}] to {} (defined: {})",
                    global
                        .config
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "underpin.toml".to_string()),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })?),
            None => None,
        };

        let raw_url = if let Some(url) = &global.database_url {
            Some(url.clone())
        } else if let Some(env) = env {
            match &env.url {
                Some(url) => Some(interpolate(
                    url,
                    &format!("env.{}.url", env_name.as_deref().unwrap_or("")),
                )?),
                None => None,
            }
        } else {
            std::env::var("DATABASE_URL").ok()
        };

        let from_config = global.database_url.is_none() && env.is_some();
        let mut redactor = Redactor::new();
        let (url, url_error) = match raw_url.as_deref().map(DatabaseUrl::parse) {
            Some(Ok(url)) => {
                redactor.add_url(&url);
                (Some(if from_config { sqlite_relative_to(url, &config) } else { url }), None)
            }
            Some(Err(error)) => (None, Some(CliError::Usage(error.to_string()))),
            None => (
                None,
                Some(CliError::Usage(
                    "no database URL: pass --database-url, set DATABASE_URL, or define [env.NAME] with a url in underpin.toml and pick it with --env".to_string(),
                )),
            ),
        };
        crate::logging::set_redactor(redactor);

        Ok(Settings {
            protected: env.is_some_and(|e| e.protected),
            env_dir: env.and_then(|e| e.dir.clone()),
            config,
            env_name,
            url,
            url_error,
        })
    }
}

/// Resolves a relative SQLite path in a config file against that file's folder, so a project works
/// from any working directory.
fn sqlite_relative_to(url: DatabaseUrl, config: &Config) -> DatabaseUrl {
    if url.backend() != Backend::Sqlite || config.base_dir == std::path::Path::new(".") {
        return url;
    }
    let raw = url.expose();
    let path = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
        .unwrap_or(raw);
    let (file, query) = path
        .split_once('?')
        .map(|(f, q)| (f, Some(q)))
        .unwrap_or((path, None));
    if file.starts_with(':') || file.starts_with('/') || file.is_empty() {
        return url;
    }
    let joined = config.base_dir.join(file);
    let rebuilt = match query {
        Some(query) => format!("sqlite:{}?{query}", joined.display()),
        None => format!("sqlite:{}", joined.display()),
    };
    DatabaseUrl::parse(&rebuilt).unwrap_or(url)
}

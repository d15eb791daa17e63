//! `underpin.toml`: migration settings and named environments, with `${VAR}` interpolation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default config file name, looked up in the current directory.
pub const DEFAULT_CONFIG: &str = "underpin.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The environment used when neither --env nor a URL is given.
    pub default_env: Option<String>,
    #[serde(default)]
    pub migrate: MigrateConfig,
    #[serde(default)]
    pub docs: DocsConfig,
    #[serde(default)]
    pub env: BTreeMap<String, EnvConfig>,
    /// The folder holding the file; relative paths in it resolve against this folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateConfig {
    pub dir: Option<String>,
    pub table: Option<String>,
    pub schema: Option<String>,
    /// Seconds to wait for another runner's lock.
    pub lock_timeout: Option<u64>,
    pub allow_out_of_order: Option<bool>,
    pub require_down: Option<bool>,
}

/// `[docs]`: defaults for `underpin docs`; flags override each key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsConfig {
    /// Output folder, relative to the config file.
    pub out: Option<String>,
    /// Format names, as for --format.
    pub formats: Option<Vec<String>>,
    pub title: Option<String>,
    pub schemas: Option<Vec<String>>,
    pub exclude_tables: Option<Vec<String>>,
    /// Markdown template folder, relative to the config file.
    pub templates: Option<String>,
    /// The maximum number of tables one diagram draws before a schema is split.
    pub max_diagram_tables: Option<usize>,
    /// Document the migrations applied to a scratch database instead of the database.
    pub from_migrations: Option<bool>,
    /// The server for scratch databases; `${VAR}` is expanded.
    pub scratch_url: Option<String>,
    pub pg_bindir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub url: Option<String>,
    /// `down` and `redo` need --allow-protected here.
    #[serde(default)]
    pub protected: bool,
    /// Overrides [migrate] dir for this environment.
    pub dir: Option<String>,
}

/// A config file that cannot be used. The message names the file, line and value.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}\n  fix: {fix}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
    pub fix: String,
}

impl Config {
    /// Reads the config file. A missing default file is an empty config; a missing file
    /// named with --config is an error.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = explicit
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                return Ok(Config {
                    base_dir: PathBuf::from("."),
                    ..Config::default()
                });
            }
            Err(e) => {
                return Err(ConfigError {
                    path: path.display().to_string(),
                    line: None,
                    message: format!("cannot read the config file: {e}"),
                    fix: "check the path given to --config".to_string(),
                });
            }
        };
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError {
            path: path.display().to_string(),
            line: e.span().map(|span| text[..span.start].matches('\n').count() + 1),
            message: e.message().to_string(),
            fix: "see the `underpin.toml` section of the README for the keys".to_string(),
        })?;
        config.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.check_literal_secrets(&path, &text);
        Ok(config)
    }

    /// Warns about passwords written into the file instead of referenced as `${VAR}`.
    fn check_literal_secrets(&self, path: &Path, text: &str) {
        for (name, env) in &self.env {
            let Some(url) = env.url.as_deref() else { continue };
            if url.contains("${") {
                continue;
            }
            if let Ok(parsed) = url::Url::parse(url)
                && parsed.password().is_some()
            {
                let line = text
                    .lines()
                    .position(|l| l.contains(url))
                    .map(|i| i + 1)
                    .unwrap_or(0);
                tracing::warn!(
                    "{}:{line}: env.{name}.url contains a literal password; reference it as ${{VAR}} and keep the value in the environment or .env",
                    path.display()
                );
            }
        }
    }

    /// Resolves a path from the config against the config file's folder.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        let path = Path::new(relative);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// Replaces `${VAR}` with the variable's value. A missing variable is an error naming it;
/// `$${` writes a literal `${`.
pub fn interpolate(text: &str, context: &str) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                return Err(interpolation_error(
                    context,
                    "an unterminated `${`",
                    "close it with `}`",
                ));
            };
            let name = &body[..end];
            let (name, default) = match name.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (name, None),
            };
            match (std::env::var(name), default) {
                (Ok(value), _) => out.push_str(&value),
                (Err(_), Some(default)) => out.push_str(default),
                (Err(_), None) => {
                    return Err(interpolation_error(
                        context,
                        &format!("environment variable `{name}` is not set"),
                        &format!("export {name}, add it to .env, or write `${{{name}:-default}}`"),
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn interpolation_error(context: &str, message: &str, fix: &str) -> ConfigError {
    ConfigError {
        path: context.to_string(),
        line: None,
        message: message.to_string(),
        fix: fix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_replaces_and_defaults() {
        // SAFETY: this test is the only one that touches this variable.
        unsafe { std::env::set_var("UNDERPIN_CONFIG_TEST_PW", "pw") };
        let out = interpolate(
            "postgres://u:${UNDERPIN_CONFIG_TEST_PW}@h/${UNDERPIN_MISSING_DB:-app}",
            "env.dev.url",
        )
        .unwrap();
        assert_eq!(out, "postgres://u:pw@h/app");
        assert_eq!(interpolate("a$${b}c$d", "x").unwrap(), "a${b}c$d");
    }

    #[test]
    fn missing_variable_is_named() {
        let err = interpolate("${UNDERPIN_SURELY_UNSET_VAR}", "env.prod.url").unwrap_err();
        assert!(err.to_string().contains("UNDERPIN_SURELY_UNSET_VAR"));
        assert!(err.to_string().contains("env.prod.url"));
    }

    #[test]
    fn bad_key_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("underpin.toml");
        std::fs::write(&path, "[migrate]\ndir = \"m\"\nlock_timout = 5\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("lock_timout"), "{err}");
    }
}

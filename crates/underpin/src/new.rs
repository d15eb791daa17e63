//! `underpin migrate new NAME`: a new migration in the folder's own format.

use std::path::{Path, PathBuf};

use underpin_migrate::source::read_dir;
use underpin_migrate::{Format, LoadOptions, Migration, load_files};

use crate::render::CliError;

/// Creates the file(s) of a new migration and returns their paths.
pub fn create(dir: &Path, name: &str, no_transaction: bool) -> Result<Vec<PathBuf>, CliError> {
    let name = slug(name)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", dir.display())))?;

    let files = read_dir(dir).map_err(|e| CliError::Io(e.to_string()))?;
    // The folder's format and version style decide the new name; a broken folder still
    // gets a native file, and the problems show on the next command that loads it.
    let existing = load_files(files, LoadOptions::default()).ok();
    let format = existing
        .as_ref()
        .and_then(|set| set.format)
        .unwrap_or(Format::Native);
    let versions: Vec<String> = existing
        .map(|set| set.migrations.iter().map(written_version).collect())
        .unwrap_or_default();
    let version = next_version(&versions);

    let marker = if no_transaction { " transaction:false" } else { "" };
    let outputs: Vec<(PathBuf, String)> = match format {
        Format::Native => vec![(
            dir.join(format!("{version}_{name}.sql")),
            format!("-- migrate:up{marker}\n\n\n-- migrate:down{marker}\n\n"),
        )],
        Format::Pairs => {
            let header = if no_transaction { "-- no-transaction\n" } else { "" };
            vec![
                (dir.join(format!("{version}_{name}.up.sql")), header.to_string()),
                (dir.join(format!("{version}_{name}.down.sql")), header.to_string()),
            ]
        }
        Format::Diesel => {
            let folder = dir.join(format!("{version}_{name}"));
            let mut files = vec![
                (folder.join("up.sql"), String::new()),
                (folder.join("down.sql"), String::new()),
            ];
            if no_transaction {
                files.push((
                    folder.join("metadata.toml"),
                    "run_in_transaction = false\n".to_string(),
                ));
            }
            files
        }
        Format::Flyway => {
            let mut files = vec![(dir.join(format!("V{version}__{name}.sql")), String::new())];
            if no_transaction {
                files.push((
                    dir.join(format!("V{version}__{name}.sql.conf")),
                    "executeInTransaction=false\n".to_string(),
                ));
            }
            files
        }
    };

    for (path, contents) in &outputs {
        if path.exists() {
            return Err(CliError::Io(format!(
                "{} already exists; pick another name",
                path.display()
            )));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::Io(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(path, contents)
            .map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(outputs.into_iter().map(|(path, _)| path).collect())
}

/// Returns the version as the file or folder name writes it (`0002`, `1.1`), which keeps the
/// zero padding that the parsed version drops.
fn written_version(migration: &Migration) -> String {
    let named = match migration.format {
        Format::Diesel => migration.up.path.parent(),
        _ => Some(migration.up.path.as_path()),
    };
    let name = named
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match migration.format {
        Format::Flyway => name.strip_prefix(['V', 'v']).unwrap_or(&name),
        _ => name.as_str(),
    };
    // Dashes belong to diesel's timestamps (`2024-07-30-140000`), which are no sequence.
    let written: String = name
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    match written.trim_end_matches(['.', '-']) {
        "" => migration.version.to_string(),
        text => text.to_string(),
    }
}

/// Returns a UTC timestamp `YYYYMMDDHHMMSS`, unless the folder numbers its migrations 1, 2, 3…
/// (Flyway's `1.1` counts as 1): then the number after the largest, padded with zeros to the
/// width that the largest is written with.
fn next_version(existing: &[String]) -> String {
    let timestamp = jiff::Timestamp::now().strftime("%Y%m%d%H%M%S").to_string();
    let sequence: Vec<(u128, usize)> = existing
        .iter()
        .filter_map(|v| {
            let first = v.split('.').next().unwrap_or(v);
            let small = first.len() < 10 && first.bytes().all(|b| b.is_ascii_digit());
            small
                .then(|| first.parse().ok().map(|n| (n, first.len())))
                .flatten()
        })
        .collect();
    if existing.is_empty() || sequence.len() != existing.len() {
        // Two `new` calls within one second would collide; bump past the newest.
        let newest = existing
            .iter()
            .filter_map(|v| v.parse::<u128>().ok())
            .max()
            .unwrap_or(0);
        let now: u128 = timestamp.parse().unwrap_or(0);
        return now.max(newest + 1).to_string();
    }
    let (largest, width) = sequence.iter().max().copied().unwrap_or((0, 1));
    format!("{:0width$}", largest + 1)
}

/// Lower-case words joined by `_`; rejects names that would leave nothing.
fn slug(name: &str) -> Result<String, CliError> {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() {
        return Err(CliError::Usage(format!(
            "`{name}` is not a usable migration name; use words such as add_orders"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_normalises() {
        assert_eq!(slug("Add Orders table").unwrap(), "add_orders_table");
        assert_eq!(slug("add-orders!").unwrap(), "add_orders");
        assert!(slug("--").is_err());
    }

    #[test]
    fn sequence_folders_continue_numbering() {
        let next =
            |versions: &[&str]| next_version(&versions.iter().map(|v| v.to_string()).collect::<Vec<_>>());
        assert_eq!(next(&["1", "2"]), "3");
        assert_eq!(next(&["0001", "0002"]), "0003");
        assert_eq!(next(&["1", "1.1", "2"]), "3");
        assert_eq!(next(&["0009"]), "0010");
        assert_eq!(next(&[]).len(), 14);
        assert_eq!(next(&["20991231235959"]), "20991231235960");
        // diesel's dashed timestamps continue as timestamps, not as the sequence 2024, 2025.
        assert_eq!(next(&["2024-07-30-140000"]).len(), 14);
    }
}

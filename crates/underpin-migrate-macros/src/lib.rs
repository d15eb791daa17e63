//! The `embed_migrations!` macro. Use it through its re-export,
//! `underpin_migrate::embed_migrations!`, whose crate documentation shows the whole start-up flow.

use std::path::{Path, PathBuf};

use proc_macro::{Delimiter, Group, Span, TokenStream, TokenTree};

/// Embeds a migrations folder in the binary at compile time.
///
/// `embed_migrations!("migrations")` lists the folder `migrations` beside the calling crate's
/// `Cargo.toml` (an absolute path is used as it is). Like `underpin migrate`, it takes the
/// files at the top of the folder and in its direct subfolders (diesel keeps one migration per
/// folder), and skips hidden entries, whose names start with `.`. The macro expands to an
/// `underpin_migrate::embed::EmbeddedMigrations` that can initialise a `static`, and each file
/// comes in through `include_bytes!`.
///
/// Cargo rebuilds the crate when an embedded file changes or is deleted, but not when a new
/// file appears in the folder. The `underpin_migrate` crate documentation shows the one-line
/// build script that fixes this.
///
/// The path is a string literal without escape sequences. Write `/` between folders, which
/// works on every platform. The expansion names the library `::underpin_migrate`, so the
/// dependency cannot be renamed in `Cargo.toml`.
///
/// # Compile errors
///
/// A missing folder, a file that cannot be opened, and a file name that is not UTF-8 stop the
/// build with the absolute path and the fix. The contents are checked at run time, by
/// `EmbeddedMigrations::load` or `run`. A unit test that calls `load` moves that check into
/// `cargo test`.
///
/// # Example
///
/// ```
/// use underpin_migrate::embed::EmbeddedMigrations;
///
/// // The underpin repository's quickstart example. A crate of your own usually passes
/// // "migrations".
/// static MIGRATIONS: EmbeddedMigrations =
///     underpin_migrate::embed_migrations!("../../examples/quickstart/migrations");
///
/// let names: Vec<&str> = MIGRATIONS.files().iter().map(|(name, _)| *name).collect();
/// assert_eq!(
///     names,
///     [
///         "20261201090000_create_users.sql",
///         "20261201090100_create_notes.sql",
///         "20261201090200_index_notes_by_user.sql",
///         "20261201090300_add_notes_pinned.sql",
///     ]
/// );
/// ```
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let (argument, span) = match parse_argument(input) {
        Ok(parsed) => parsed,
        Err((message, span)) => return compile_error(&message, span),
    };

    // Cargo sets CARGO_MANIFEST_DIR for every rustc process, and a proc macro runs inside
    // the rustc process that compiles the calling crate, so this is the caller's folder.
    let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return compile_error(
            "embed_migrations!: CARGO_MANIFEST_DIR is not set, so the path cannot be resolved; build with cargo",
            span,
        );
    };

    match expand(Path::new(&manifest_dir), &argument) {
        Ok(code) => code.parse().unwrap_or_else(|error| {
            compile_error(&format!("embed_migrations!: internal error: {error}"), span)
        }),
        Err(message) => compile_error(&message, span),
    }
}

/// Reads the one string literal of the invocation and returns its value and span.
fn parse_argument(input: TokenStream) -> Result<(String, Span), (String, Span)> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let usage = "embed_migrations! expects one string literal, the migrations folder relative to the crate's Cargo.toml, for example embed_migrations!(\"migrations\")";
    match tokens.as_slice() {
        // A literal forwarded by a `macro_rules!` macro arrives wrapped in an invisible group.
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::None => parse_argument(group.stream()),
        [TokenTree::Literal(literal)] => match string_literal_value(&literal.to_string()) {
            Ok(value) => Ok((value, literal.span())),
            Err(reason) => Err((format!("embed_migrations!: {reason}"), literal.span())),
        },
        [] => Err((usage.to_string(), Span::call_site())),
        [first, ..] => Err((usage.to_string(), first.span())),
    }
}

/// Returns the value of a string literal written as `"…"` or `r#"…"#`.
///
/// Escape sequences are rejected instead of decoded, which keeps this parser short. A path
/// never needs one, because `/` separates folders on every platform.
fn string_literal_value(source: &str) -> Result<String, String> {
    let expected = || format!("expected a string literal such as \"migrations\", found `{source}`");

    if let Some(raw) = source.strip_prefix('r') {
        let hashes = &raw[..raw.len() - raw.trim_start_matches('#').len()];
        return raw
            .strip_prefix(hashes)
            .and_then(|rest| rest.strip_prefix('"'))
            .and_then(|rest| rest.strip_suffix(hashes))
            .and_then(|rest| rest.strip_suffix('"'))
            .map(str::to_string)
            .ok_or_else(expected);
    }

    let value = source
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or_else(expected)?;
    if value.contains('\\') {
        return Err(format!(
            "the path {source} contains an escape sequence, which this macro does not decode; write the path with `/` between folders, or as a raw string r\"…\""
        ));
    }
    Ok(value.to_string())
}

/// Builds the expansion for the folder `argument`, resolved against `manifest_dir`, as Rust
/// source text. Errors are complete compile-error messages.
fn expand(manifest_dir: &Path, argument: &str) -> Result<String, String> {
    if argument.is_empty() {
        return Err(
            "embed_migrations!: the path is empty; pass the migrations folder relative to the crate's Cargo.toml, for example \"migrations\""
                .to_string(),
        );
    }
    let folder = manifest_dir.join(argument);
    if !folder.is_dir() {
        let problem = if folder.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(format!(
            "embed_migrations!: the migrations folder {} {problem}. The path \"{argument}\" is resolved against {}, the folder of the crate's Cargo.toml; fix the path or create the folder",
            folder.display(),
            manifest_dir.display()
        ));
    }

    let mut entries = String::new();
    for (relative, absolute) in list_files(&folder)? {
        let absolute = absolute.to_str().ok_or_else(|| {
            format!(
                "embed_migrations!: the path {} is not valid UTF-8, so include_bytes! cannot name it; move the crate to a folder whose path is UTF-8",
                absolute.display()
            )
        })?;
        // `{:?}` writes a str as a Rust string literal, escaping `"` and `\`.
        entries.push_str(&format!(
            "({relative:?}, ::core::include_bytes!({absolute:?})),\n"
        ));
    }

    Ok(format!(
        "{{
            const EMBEDDED_FILES: &[(&str, &[u8])] = &[\n{entries}];
            ::underpin_migrate::embed::EmbeddedMigrations::new({argument:?}, EMBEDDED_FILES)
        }}"
    ))
}

/// Lists the files of `folder` and of its direct subfolders, sorted by relative path, the
/// same selection `underpin_migrate::source::read_dir` makes. Each file is opened once here,
/// so that an unreadable one fails with a message that names the fix.
fn list_files(folder: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut files = Vec::new();
    for (name, path) in visible_entries(folder)? {
        if path.is_dir() {
            for (inner_name, inner_path) in visible_entries(&path)? {
                if !inner_path.is_dir() {
                    files.push((format!("{name}/{inner_name}"), inner_path));
                }
            }
        } else {
            files.push((name, path));
        }
    }

    for (_, path) in &files {
        if let Err(error) = std::fs::File::open(path) {
            return Err(format!(
                "embed_migrations!: cannot read {}: {error}; make the file readable by the user running cargo (or fix the symlink that leads to it), or move it out of the migrations folder",
                path.display()
            ));
        }
    }
    // Directory listing order differs between filesystems, and the binary must not.
    files.sort();
    Ok(files)
}

/// Returns the names and paths of the entries of `folder` whose names do not start with `.`.
fn visible_entries(folder: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let cannot_list = |error: std::io::Error| {
        format!(
            "embed_migrations!: cannot list the folder {}: {error}; make it readable by the user running cargo",
            folder.display()
        )
    };

    let mut entries = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(cannot_list)? {
        let entry = entry.map_err(cannot_list)?;
        let name = entry.file_name().into_string().map_err(|_| {
            format!(
                "embed_migrations!: the name of {} is not valid UTF-8, so it cannot be embedded; rename it",
                entry.path().display()
            )
        })?;
        if !name.starts_with('.') {
            entries.push((name, entry.path()));
        }
    }
    Ok(entries)
}

/// Returns `compile_error!(message)` with every token at `span`, so the error points at the
/// macro's argument.
fn compile_error(message: &str, span: Span) -> TokenStream {
    let code: TokenStream = format!("::core::compile_error!({message:?})")
        .parse()
        .expect("a compile_error! invocation with a string literal is valid Rust");
    respan(code, span)
}

fn respan(stream: TokenStream, span: Span) -> TokenStream {
    stream
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                TokenTree::Group(respanned)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_string_literal() {
        assert_eq!(
            string_literal_value("\"migrations\""),
            Ok("migrations".to_string())
        );
    }

    #[test]
    fn raw_string_literals() {
        assert_eq!(
            string_literal_value("r\"db/migrations\""),
            Ok("db/migrations".to_string())
        );
        assert_eq!(
            string_literal_value("r#\"say \"hi\"\"#"),
            Ok("say \"hi\"".to_string())
        );
        assert_eq!(string_literal_value("r##\"a\"#b\"##"), Ok("a\"#b".to_string()));
    }

    #[test]
    fn escape_sequence_rejected() {
        let error = string_literal_value("\"db\\\\migrations\"").unwrap_err();
        assert!(error.contains("escape sequence"), "{error}");
        assert!(error.contains("raw string"), "{error}");
    }

    #[test]
    fn other_literals_rejected() {
        for source in [
            "42",
            "b\"migrations\"",
            "'m'",
            "c\"migrations\"",
            "r#\"unbalanced\"",
        ] {
            let error = string_literal_value(source).unwrap_err();
            assert!(error.contains("expected a string literal"), "{source}: {error}");
            assert!(error.contains(source), "{source}: {error}");
        }
    }

    #[test]
    fn missing_folder_names_path_and_fix() {
        let crate_dir = tempfile::tempdir().unwrap();
        let error = expand(crate_dir.path(), "migrations").unwrap_err();
        let absolute = crate_dir.path().join("migrations");
        assert!(error.contains(&absolute.display().to_string()), "{error}");
        assert!(error.contains("does not exist"), "{error}");
        assert!(error.contains("fix the path or create the folder"), "{error}");
    }

    #[test]
    fn file_instead_of_folder_rejected() {
        let crate_dir = tempfile::tempdir().unwrap();
        std::fs::write(crate_dir.path().join("migrations"), "").unwrap();
        let error = expand(crate_dir.path(), "migrations").unwrap_err();
        assert!(error.contains("is not a folder"), "{error}");
    }

    #[test]
    fn empty_path_rejected() {
        let crate_dir = tempfile::tempdir().unwrap();
        let error = expand(crate_dir.path(), "").unwrap_err();
        assert!(error.contains("the path is empty"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_file_names_path_and_fix() {
        // A dangling symlink cannot be opened even by root, unlike a file with mode 000.
        let crate_dir = tempfile::tempdir().unwrap();
        let folder = crate_dir.path().join("migrations");
        std::fs::create_dir(&folder).unwrap();
        let link = folder.join("20250101000000_gone.sql");
        std::os::unix::fs::symlink(crate_dir.path().join("nowhere.sql"), &link).unwrap();

        let error = expand(crate_dir.path(), "migrations").unwrap_err();
        assert!(
            error.contains(&format!("cannot read {}", link.display())),
            "{error}"
        );
        assert!(error.contains("make the file readable"), "{error}");
    }

    #[test]
    fn listing_skips_hidden_and_deep_entries() {
        let crate_dir = tempfile::tempdir().unwrap();
        let folder = crate_dir.path().join("migrations");
        for dir in ["2_diesel", "2_diesel/deeper", ".git", "2_diesel/.hidden_dir"] {
            std::fs::create_dir_all(folder.join(dir)).unwrap();
        }
        for file in [
            "3_b.sql",
            "1_a.sql",
            ".hidden.sql",
            "2_diesel/up.sql",
            "2_diesel/.swp",
            "2_diesel/deeper/too_deep.sql",
            ".git/config",
        ] {
            std::fs::write(folder.join(file), file).unwrap();
        }

        let relative: Vec<String> = list_files(&folder).unwrap().into_iter().map(|(r, _)| r).collect();
        assert_eq!(relative, ["1_a.sql", "2_diesel/up.sql", "3_b.sql"]);
    }

    #[test]
    fn expansion_includes_files_by_absolute_path() {
        let crate_dir = tempfile::tempdir().unwrap();
        let folder = crate_dir.path().join("db").join("migrations");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("1_a.sql"), "").unwrap();

        let code = expand(crate_dir.path(), "db/migrations").unwrap();
        let absolute = format!("{:?}", folder.join("1_a.sql").to_str().unwrap());
        assert!(
            code.contains(&format!("(\"1_a.sql\", ::core::include_bytes!({absolute}))")),
            "{code}"
        );
        assert!(
            code.contains("EmbeddedMigrations::new(\"db/migrations\", EMBEDDED_FILES)"),
            "{code}"
        );
    }
}

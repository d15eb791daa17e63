//! Reading a migrations folder (or an embedded copy of one) into [`Migration`]s, with every
//! problem found before any connection is opened.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use underpin_db::sql::{Dialect, split_statements};

use crate::checksum::{canonicalize, checksum};
use crate::migration::{Format, Migration, Script};
use crate::validate_sql::{check_script, long_identifier_warnings};
use crate::version::Version;

/// One file of a migrations folder: its path relative to the folder, and its bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the migrations folder, with `/` separators.
    pub relative: String,
    /// The path shown in messages.
    pub display: PathBuf,
    /// The file's bytes, or why they could not be read.
    pub contents: Result<Vec<u8>, String>,
}

/// A problem that stops loading. Each names the file and, where it helps, the line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub path: String,
    pub line: Option<u32>,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path, self.message)?,
            None => write!(f, "{}: {}", self.path, self.message)?,
        }
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Every problem found while loading; nothing was run.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
pub struct LoadError {
    pub problems: Vec<Problem>,
    /// Findings that alone would not stop a run, reported with the problems so that fixing
    /// those does not reveal new ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(
            f,
            "{count} problem{} in the migrations; nothing was run:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "- {problem}")?;
        }
        Ok(())
    }
}

/// A finding that does not stop a run, such as an identifier PostgreSQL will truncate.
pub type Warning = Problem;

/// The loaded, sorted migrations of one folder.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub migrations: Vec<Migration>,
    pub warnings: Vec<Warning>,
    pub format: Option<Format>,
}

/// Options for loading.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub dialect: Dialect,
    /// Reject a migration without a down script.
    pub require_down: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            dialect: Dialect::Postgres,
            require_down: false,
        }
    }
}

/// Reads every file of a migrations folder and one level of subfolders (diesel keeps each
/// migration in a folder). Hidden entries are skipped.
pub fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, LoadError> {
    let folder_problem = |message: String, fix: &str| LoadError {
        problems: vec![Problem {
            path: dir.display().to_string(),
            line: None,
            message,
            fix: fix.to_string(),
        }],
        warnings: Vec::new(),
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        let fix = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "create it (`underpin migrate new NAME` does), or pass the migrations folder with --dir or `dir` under [migrate] in underpin.toml"
            }
            std::io::ErrorKind::NotADirectory => "--dir (or `dir` under [migrate]) must name a folder, not a file",
            std::io::ErrorKind::PermissionDenied => "make the folder readable and searchable by this user",
            _ => "pass the migrations folder with --dir or set `dir` under [migrate] in underpin.toml",
        };
        folder_problem(format!("cannot read the migrations folder: {e}"), fix)
    })?;

    let mut listed: Vec<(PathBuf, String, EntryKind)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            folder_problem(
                format!("cannot list the folder: {e}"),
                "check that the folder is readable and its file system healthy",
            )
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        match EntryKind::of(&entry) {
            EntryKind::Folder => {
                let inner = std::fs::read_dir(&path).map_err(|e| {
                    folder_problem(
                        format!("cannot read {}: {e}", path.display()),
                        "make the subfolder readable and searchable by this user, or move it out of the migrations folder",
                    )
                })?;
                for inner_entry in inner.flatten() {
                    let inner_name = inner_entry.file_name().to_string_lossy().into_owned();
                    let kind = EntryKind::of(&inner_entry);
                    if inner_name.starts_with('.') || kind == EntryKind::Folder {
                        continue;
                    }
                    listed.push((inner_entry.path(), format!("{name}/{inner_name}"), kind));
                }
            }
            kind => listed.push((path, name, kind)),
        }
    }

    let opener = Opener::new(dir);
    let mut files = map_chunks(&listed, |chunk| {
        // One buffer per worker: zeroing a fresh one per file costs more than the reads.
        let mut buffer = vec![0u8; 16 * 1024];
        chunk
            .iter()
            .map(|(path, relative, kind)| SourceFile {
                relative: relative.clone(),
                display: path.clone(),
                // A FIFO would block the read and a device such as /dev/zero never ends.
                contents: match kind {
                    EntryKind::Special => Err("not a regular file (a FIFO, socket or device)".to_string()),
                    _ => opener
                        .open(path, relative)
                        .and_then(|file| read_small_file(file, &mut buffer))
                        .map_err(|e| e.to_string()),
                },
            })
            .collect()
    });
    // Directory listing order differs between filesystems; the result must not.
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(files)
}

/// The kind of a folder entry, taken from the directory listing (a `stat` call only for
/// symbolic links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Folder,
    /// A regular file, or an entry whose target cannot be inspected (a dangling link), which
    /// reading then reports.
    File,
    /// A FIFO, socket or device, which is never read.
    Special,
}

impl EntryKind {
    fn of(entry: &std::fs::DirEntry) -> EntryKind {
        let from_type = |kind: std::fs::FileType| {
            if kind.is_dir() {
                EntryKind::Folder
            } else if kind.is_file() {
                EntryKind::File
            } else {
                EntryKind::Special
            }
        };
        match entry.file_type() {
            Ok(kind) if kind.is_symlink() => std::fs::metadata(entry.path())
                .map(|target| from_type(target.file_type()))
                .unwrap_or(EntryKind::File),
            Ok(kind) => from_type(kind),
            Err(_) => EntryKind::File,
        }
    }
}

/// Below this many files per worker, the calling thread reads them all, because a new
/// thread and its allocator arena cost more than they save on a few dozen small files.
const MIN_ITEMS_PER_WORKER: usize = 128;

/// The maximum number of threads that read a folder, whatever the machine has.
const MAX_WORKERS: usize = 4;

/// Maps `items` in contiguous chunks, one per worker thread, and returns the results in the
/// items' order. Reading a large folder is mostly system calls per file, which partly spread
/// over cores. When a thread cannot be started, its chunk runs on the calling thread.
fn map_chunks<T: Sync, R: Send>(items: &[T], work: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores
        .min(MAX_WORKERS)
        .min(items.len() / MIN_ITEMS_PER_WORKER)
        .max(1);
    if workers == 1 {
        return work(items);
    }
    let chunk_len = items.len().div_ceil(workers);
    let work = &work;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(chunk_len);
        let first = chunks.next().unwrap_or_default();
        let started: Vec<_> = chunks
            .map(|chunk| {
                let handle = std::thread::Builder::new()
                    .name("underpin-load".to_string())
                    .spawn_scoped(scope, move || work(chunk));
                (chunk, handle)
            })
            .collect();
        let mut results = work(first);
        for (chunk, handle) in started {
            match handle {
                Ok(handle) => match handle.join() {
                    Ok(part) => results.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(_) => results.extend(work(chunk)),
            }
        }
        results
    })
}

/// Opens the files of one folder. On Unix each file is opened relative to the folder's
/// descriptor, so the kernel resolves the folder's own path once instead of once per file.
/// On Linux files are opened without updating their access time, which saves the kernel's
/// check per file, until a file turns out not to be the user's own (only the owner may ask).
struct Opener {
    #[cfg(unix)]
    dir: Option<rustix::fd::OwnedFd>,
    #[cfg(target_os = "linux")]
    skip_access_time: std::sync::atomic::AtomicBool,
}

impl Opener {
    fn new(dir: &Path) -> Opener {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            Opener {
                dir: rustix::fs::open(dir, flags, Mode::empty()).ok(),
                #[cfg(target_os = "linux")]
                skip_access_time: std::sync::atomic::AtomicBool::new(true),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Opener {}
        }
    }

    /// Opens `path`, which is `relative` (with `/` separators) inside the folder.
    fn open(&self, path: &Path, relative: &str) -> std::io::Result<std::fs::File> {
        #[cfg(unix)]
        if let Some(dir) = &self.dir {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            #[cfg(target_os = "linux")]
            if self.skip_access_time.load(std::sync::atomic::Ordering::Relaxed) {
                match rustix::fs::openat(dir, relative, flags | OFlags::NOATIME, Mode::empty()) {
                    Err(rustix::io::Errno::PERM) => {
                        self.skip_access_time
                            .store(false, std::sync::atomic::Ordering::Relaxed);
                    }
                    opened => return Ok(std::fs::File::from(opened?)),
                }
            }
            let file = rustix::fs::openat(dir, relative, flags, Mode::empty())?;
            return Ok(std::fs::File::from(file));
        }
        let _ = relative;
        std::fs::File::open(path)
    }
}

/// Reads a whole file with plain `read` calls. `std::fs::read` first requests the size
/// and position (two more system calls per file), which for a folder of thousands of small
/// migrations costs more than the reading.
fn read_small_file(mut file: std::fs::File, buffer: &mut [u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;

    let mut bytes = Vec::new();
    loop {
        match file.read(buffer) {
            Ok(0) => return Ok(bytes),
            Ok(count) => bytes.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Loads the migrations of a folder.
pub fn load_dir(dir: &Path, options: LoadOptions) -> Result<MigrationSet, LoadError> {
    load_files(read_dir(dir)?, options)
}

/// Loads migrations from files already in memory (a folder's or an embedded copy).
pub fn load_files(mut files: Vec<SourceFile>, options: LoadOptions) -> Result<MigrationSet, LoadError> {
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    let mut loader = Loader {
        options,
        problems: Vec::new(),
        warnings: Vec::new(),
        migrations: Vec::new(),
    };

    loader.warn_upper_case_extensions(&files);
    let format = detect_format(&files);
    let files = match format {
        Some(Format::Diesel) | None => files,
        Some(_) => loader.top_level_only(files),
    };
    match format {
        Some(Format::Diesel) => loader.load_diesel(&files),
        Some(Format::Pairs) => loader.load_pairs(&files),
        Some(Format::Flyway) => loader.load_flyway(&files),
        Some(Format::Native) => loader.load_native(&files),
        None => {}
    }
    loader.finish(format)
}

/// Picks the folder's format from the names it contains.
fn detect_format(files: &[SourceFile]) -> Option<Format> {
    let sql_files = || files.iter().filter(|f| f.relative.ends_with(".sql"));
    if files.iter().any(|f| f.relative.ends_with("/up.sql")) {
        return Some(Format::Diesel);
    }
    if sql_files().any(|f| f.relative.ends_with(".up.sql") || f.relative.ends_with(".down.sql")) {
        return Some(Format::Pairs);
    }
    if sql_files().any(|f| is_flyway_name(&f.relative)) {
        return Some(Format::Flyway);
    }
    sql_files().next().map(|_| Format::Native)
}

fn is_flyway_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(['V', 'U', 'R']) else {
        return false;
    };
    !name.contains('/') && rest.contains("__")
}

struct Loader {
    options: LoadOptions,
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    migrations: Vec<Migration>,
}

/// The up and down text of one migration before checks, with where each starts.
struct RawMigration {
    version: Version,
    name: String,
    format: Format,
    up: Script,
    down: Option<Script>,
}

impl Loader {
    fn problem(&mut self, path: &Path, line: Option<u32>, message: String, fix: &str) {
        self.problems.push(Problem {
            path: path.display().to_string(),
            line,
            message,
            fix: fix.to_string(),
        });
    }

    /// Returns the file's canonical text, or records why it cannot be used.
    fn text(&mut self, file: &SourceFile) -> Option<String> {
        match &file.contents {
            Err(error) => {
                self.problem(
                    &file.display,
                    None,
                    format!("cannot read the file: {error}"),
                    "make it a regular file that you can read (check its permissions, and that a symbolic link points at an existing file), or move it out of the folder",
                );
                None
            }
            Ok(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Some(canonicalize(text)),
                Err(error) => {
                    let valid = &bytes[..error.valid_up_to()];
                    let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
                    self.problem(
                        &file.display,
                        Some(line),
                        format!(
                            "the file is not valid UTF-8 (invalid byte 0x{:02X} at byte offset {})",
                            bytes[error.valid_up_to()],
                            error.valid_up_to()
                        ),
                        "save the file as UTF-8 (for example `iconv -f LATIN1 -t UTF-8`)",
                    );
                    None
                }
            },
        }
    }

    /// Warns about files named like SQL with another case (`.SQL`, `.Sql`), which no layout
    /// reads, so they would otherwise be skipped without a word.
    fn warn_upper_case_extensions(&mut self, files: &[SourceFile]) {
        for file in files {
            let name = file.relative.as_str();
            let split = name.len().saturating_sub(4);
            let extension = name.get(split..).unwrap_or("");
            if extension.eq_ignore_ascii_case(".sql") && extension != ".sql" {
                self.warnings.push(Problem {
                    path: file.display.display().to_string(),
                    line: None,
                    message: format!("not read: only files ending in `.sql` are migrations, and this one ends in `{extension}`"),
                    fix: "rename it to end in `.sql`, or move it out of the folder".to_string(),
                });
            }
        }
    }

    /// Drops files in subfolders, which only the diesel layout reads, with one warning per
    /// subfolder that contains `.sql` files.
    fn top_level_only(&mut self, files: Vec<SourceFile>) -> Vec<SourceFile> {
        let mut warned: Vec<String> = Vec::new();
        let mut kept = Vec::new();
        for file in files {
            let Some((folder, _)) = file.relative.split_once('/') else {
                kept.push(file);
                continue;
            };
            if file.relative.ends_with(".sql") && !warned.iter().any(|w| w == folder) {
                warned.push(folder.to_string());
                let path = file
                    .display
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                self.warnings.push(Problem {
                    path,
                    line: None,
                    message: format!("the subfolder `{folder}` is not read: in this layout migrations sit at the top level of the folder"),
                    fix: "move the subfolder out of the migrations folder, or its files up to the top level".to_string(),
                });
            }
        }
        kept
    }

    fn load_native(&mut self, files: &[SourceFile]) {
        for file in files {
            if !file.relative.ends_with(".sql") {
                continue;
            }
            let Some((version, name)) = self.parse_name(file, &file.relative, ".sql") else {
                continue;
            };
            let Some(text) = self.text(file) else { continue };
            if let Some((up, down)) = self.split_sections(file, &text) {
                self.accept(RawMigration {
                    version,
                    name,
                    format: Format::Native,
                    up,
                    down,
                });
            }
        }
    }

    /// Splits a native file into its `-- migrate:up` and `-- migrate:down` sections. A file
    /// without markers is all up, which keeps plain sqlx-style `<version>_<name>.sql` working.
    fn split_sections(&mut self, file: &SourceFile, text: &str) -> Option<(Script, Option<Script>)> {
        let mut up: Option<Marker> = None;
        let mut down: Option<Marker> = None;
        let mut offset = 0;
        let mut ok = true;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            let line_number = index as u32 + 1;
            if let Some((direction, options)) = parse_marker(line) {
                match self.parse_marker_options(file, line_number, options) {
                    Some(transaction) => {
                        let marker = Marker {
                            line: line_number,
                            body_start: offset + line.len(),
                            start: offset,
                            transaction,
                        };
                        let slot = if direction == "up" { &mut up } else { &mut down };
                        if let Some(previous) = slot {
                            self.problem(
                                &file.display,
                                Some(line_number),
                                format!(
                                    "a second `-- migrate:{direction}` marker (the first is on line {})",
                                    previous.line
                                ),
                                "keep one up and at most one down section per file",
                            );
                            ok = false;
                        } else {
                            *slot = Some(marker);
                        }
                    }
                    None => ok = false,
                }
            }
            offset += line.len();
        }
        if !ok {
            return None;
        }

        let section = |marker: &Marker, other: Option<&Marker>| {
            let end = match other {
                Some(other) if other.start > marker.start => other.start,
                _ => text.len(),
            };
            Script {
                sql: text[marker.body_start..end].to_string(),
                transaction: marker.transaction,
                path: file.display.clone(),
                first_line: marker.line + 1,
            }
        };
        match (&up, &down) {
            (None, None) => Some((
                Script {
                    sql: text.to_string(),
                    transaction: true,
                    path: file.display.clone(),
                    first_line: 1,
                },
                None,
            )),
            (None, Some(marker)) => {
                self.problem(
                    &file.display,
                    Some(marker.line),
                    "the file has a `-- migrate:down` section but no `-- migrate:up` section".to_string(),
                    "add a `-- migrate:up` line above the up statements",
                );
                None
            }
            (Some(up), down) => Some((
                section(up, down.as_ref()),
                down.as_ref().map(|d| section(d, Some(up))),
            )),
        }
    }

    /// Reads `transaction:false` style options; returns whether the section is transactional.
    fn parse_marker_options(&mut self, file: &SourceFile, line: u32, options: &str) -> Option<bool> {
        let mut transaction = true;
        for option in options.split_whitespace() {
            match option {
                "transaction:false" => transaction = false,
                "transaction:true" => transaction = true,
                other => {
                    self.problem(
                        &file.display,
                        Some(line),
                        format!("unknown marker option `{other}`"),
                        "the only option is `transaction:false` (or `transaction:true`)",
                    );
                    return None;
                }
            }
        }
        Some(transaction)
    }

    fn load_pairs(&mut self, files: &[SourceFile]) {
        let mut pairs: BTreeMap<(String, String), [Option<&SourceFile>; 2]> = BTreeMap::new();
        for file in files {
            let relative = file.relative.as_str();
            let (stem, slot) = if let Some(stem) = relative.strip_suffix(".up.sql") {
                (stem, 0)
            } else if let Some(stem) = relative.strip_suffix(".down.sql") {
                (stem, 1)
            } else {
                if relative.ends_with(".sql") {
                    self.problem(
                        &file.display,
                        None,
                        "a plain `.sql` file in a folder of `.up.sql`/`.down.sql` pairs".to_string(),
                        "rename it to `<version>_<name>.up.sql` (and add a `.down.sql`), or move it out of the folder",
                    );
                }
                continue;
            };
            let Some((version, name)) = self.parse_name(file, stem, "") else {
                continue;
            };
            pairs.entry((version.as_str().to_string(), name)).or_default()[slot] = Some(file);
        }

        for ((_, name), [up_file, down_file]) in pairs {
            let Some(up_file) = up_file else {
                let down_file = down_file.expect("a pair has at least one file");
                self.problem(
                    &down_file.display,
                    None,
                    "a down file without its up file".to_string(),
                    "add the matching `.up.sql` file or delete this one",
                );
                continue;
            };
            let stem = up_file.relative.trim_end_matches(".up.sql");
            let Some((version, _)) = self.parse_name(up_file, stem, "") else {
                continue;
            };
            let Some(up) = self.pair_script(up_file) else {
                continue;
            };
            let down = match down_file {
                Some(file) => match self.pair_script(file) {
                    Some(script) => Some(script),
                    None => continue,
                },
                None => None,
            };
            self.accept(RawMigration {
                version,
                name,
                format: Format::Pairs,
                up,
                down,
            });
        }
    }

    /// Reads one file of a pair; `-- no-transaction` on its first line (sqlx) turns the
    /// transaction off.
    fn pair_script(&mut self, file: &SourceFile) -> Option<Script> {
        let text = self.text(file)?;
        let first_line = text.lines().next().unwrap_or("").trim();
        Some(Script {
            transaction: !first_line.eq_ignore_ascii_case("-- no-transaction"),
            sql: text,
            path: file.display.clone(),
            first_line: 1,
        })
    }

    fn load_diesel(&mut self, files: &[SourceFile]) {
        let mut folders: BTreeMap<&str, Vec<&SourceFile>> = BTreeMap::new();
        for file in files {
            // diesel reads only folders, so loose files (READMEs, data scripts) are not
            // migrations; a loose file named like one means two layouts are mixed.
            match file.relative.split_once('/') {
                Some((folder, _)) => folders.entry(folder).or_default().push(file),
                None if file.relative.ends_with(".sql") && starts_with_version(&file.relative) => self.problem(
                    &file.display,
                    None,
                    "a migration file beside diesel migration folders: this folder mixes two layouts, and underpin reads one layout per folder".to_string(),
                    "move the file into a `<version>_<name>/up.sql` folder, or move the folders' migrations out to plain files",
                ),
                None => {}
            }
        }

        for (folder, folder_files) in folders {
            let find = |name: &str| {
                folder_files
                    .iter()
                    .find(|f| f.relative == format!("{folder}/{name}"))
                    .copied()
            };
            let Some(up_file) = find("up.sql") else {
                if folder_files.iter().any(|f| f.relative.ends_with(".sql")) {
                    self.problem(
                        &folder_files[0].display,
                        None,
                        format!("the migration folder `{folder}` has no up.sql"),
                        "add up.sql to the folder",
                    );
                }
                continue;
            };
            let Some((version, name)) = self.parse_diesel_folder(up_file, folder) else {
                continue;
            };
            let transaction = match find("metadata.toml") {
                Some(meta) => match self.diesel_metadata(meta) {
                    Some(transaction) => transaction,
                    None => continue,
                },
                None => true,
            };
            let Some(up_text) = self.text(up_file) else {
                continue;
            };
            let down = match find("down.sql") {
                Some(file) => match self.text(file) {
                    Some(sql) => Some(Script {
                        sql,
                        transaction,
                        path: file.display.clone(),
                        first_line: 1,
                    }),
                    None => continue,
                },
                None => None,
            };
            let up = Script {
                sql: up_text,
                transaction,
                path: up_file.display.clone(),
                first_line: 1,
            };
            self.accept(RawMigration {
                version,
                name,
                format: Format::Diesel,
                up,
                down,
            });
        }
    }

    fn parse_diesel_folder(&mut self, file: &SourceFile, folder: &str) -> Option<(Version, String)> {
        let (version_text, name) = folder.split_once('_').unwrap_or((folder, ""));
        match Version::parse_diesel(version_text) {
            Some(version) if !name.is_empty() => Some((version, name.to_string())),
            _ => {
                self.problem(
                    &file.display,
                    None,
                    format!("the folder name `{folder}` does not start with a version and a name"),
                    "name the folder `YYYY-MM-DD-HHMMSS_<name>` (diesel) or `<digits>_<name>`",
                );
                None
            }
        }
    }

    fn diesel_metadata(&mut self, file: &SourceFile) -> Option<bool> {
        let text = self.text(file)?;
        match toml::from_str::<toml::Table>(&text) {
            Ok(table) => match table.get("run_in_transaction") {
                None => Some(true),
                Some(toml::Value::Boolean(value)) => Some(*value),
                Some(other) => {
                    self.problem(
                        &file.display,
                        None,
                        format!("`run_in_transaction` must be true or false, found `{other}`"),
                        "write `run_in_transaction = false`",
                    );
                    None
                }
            },
            Err(error) => {
                let line = error
                    .span()
                    .map(|span| text[..span.start].lines().count().max(1) as u32);
                self.problem(
                    &file.display,
                    line,
                    format!("invalid TOML: {}", error.message()),
                    "fix the TOML syntax",
                );
                None
            }
        }
    }

    fn load_flyway(&mut self, files: &[SourceFile]) {
        let mut undo: BTreeMap<String, &SourceFile> = BTreeMap::new();
        let mut versioned = Vec::new();
        for file in files {
            let name = file.relative.as_str();
            if name.ends_with(".sql.conf") || !name.ends_with(".sql") {
                continue;
            }
            let flyway_name = name.strip_suffix(".sql").unwrap_or(name);
            let parsed = flyway_name.split_once("__").and_then(|(prefix, description)| {
                let (kind, version) = prefix.split_at_checked(1)?;
                Some((kind, Version::parse(version), description))
            });
            match parsed {
                Some(("V", Some(version), description)) => {
                    versioned.push((version, description.to_string(), file));
                }
                Some(("U", Some(version), _)) => {
                    undo.insert(version.as_str().to_string(), file);
                }
                Some(("R", _, _)) => self.problem(
                    &file.display,
                    None,
                    "repeatable (`R__`) migrations are not supported".to_string(),
                    "turn it into a versioned `V<version>__<description>.sql` migration",
                ),
                _ => self.problem(
                    &file.display,
                    None,
                    format!("the file name `{name}` is not a Flyway migration name"),
                    "name it `V<version>__<description>.sql`, for example `V3__add_orders.sql`",
                ),
            }
        }

        for (version, name, file) in versioned {
            let transaction = match files
                .iter()
                .find(|f| f.relative == format!("{}.conf", file.relative))
            {
                Some(conf) => match self.text(conf) {
                    Some(text) => !flyway_conf_disables_transaction(&text),
                    None => continue,
                },
                None => true,
            };
            let Some(sql) = self.text(file) else { continue };
            let up = Script {
                sql,
                transaction,
                path: file.display.clone(),
                first_line: 1,
            };
            let down = match undo.remove(version.as_str()) {
                Some(undo_file) => match self.text(undo_file) {
                    Some(sql) => Some(Script {
                        sql,
                        transaction,
                        path: undo_file.display.clone(),
                        first_line: 1,
                    }),
                    None => continue,
                },
                None => None,
            };
            self.accept(RawMigration {
                version,
                name,
                format: Format::Flyway,
                up,
                down,
            });
        }
        for (_, file) in undo {
            self.problem(
                &file.display,
                None,
                "an undo file without a versioned migration of the same version".to_string(),
                "add the matching `V<version>__….sql` file or delete this one",
            );
        }
    }

    /// Parses `<version>_<name><suffix>`; records a problem and returns `None` when malformed.
    fn parse_name(
        &mut self,
        file: &SourceFile,
        stem_with_suffix: &str,
        suffix: &str,
    ) -> Option<(Version, String)> {
        let stem = stem_with_suffix.strip_suffix(suffix).unwrap_or(stem_with_suffix);
        let (version_text, name) = match stem.split_once('_') {
            Some((version, name)) => (version, name),
            None => (stem, ""),
        };
        match Version::parse(version_text) {
            Some(version) if version_text.bytes().all(|b| b.is_ascii_digit()) => {
                Some((version, name.to_string()))
            }
            _ => {
                self.problem(
                    &file.display,
                    None,
                    format!("the file name `{}` does not start with a version", file.relative),
                    &format!(
                        "name it `<version>_{}` with a numeric version such as a UTC timestamp YYYYMMDDHHMMSS (`underpin migrate new <name>` does this)",
                        file.relative
                    ),
                );
                None
            }
        }
    }

    /// Runs the SQL checks on a parsed migration and keeps it.
    fn accept(&mut self, raw: RawMigration) {
        let dialect = self.options.dialect;
        // A down script without statements (such as `-- Not reversible`) would delete the
        // history row and leave the schema as it is, so it counts as no down script.
        let mut raw = raw;
        if raw
            .down
            .as_ref()
            .is_some_and(|down| split_statements(&down.sql, dialect).is_empty())
        {
            raw.down = None;
        }
        self.problems.extend(check_script(&raw.up, raw.format, dialect));
        self.warnings.extend(long_identifier_warnings(&raw.up, dialect));
        // A broken down script must not block `up` or `status` of the whole folder: it
        // shows as a warning and stops only a rollback of this migration.
        let mut down_problems = Vec::new();
        if let Some(down) = &raw.down {
            down_problems = check_script(down, raw.format, dialect);
            self.warnings.extend(down_problems.iter().cloned());
            self.warnings.extend(long_identifier_warnings(down, dialect));
        }
        if self.options.require_down && raw.down.is_none() {
            self.problem(
                &raw.up.path,
                None,
                format!("migration {} has no down script", raw.version),
                "write the down script that reverses it (required by `require_down` in underpin.toml)",
            );
        }
        self.migrations.push(Migration {
            checksum: checksum(&raw.up.sql),
            version: raw.version,
            name: raw.name,
            format: raw.format,
            up: raw.up,
            down: raw.down,
            down_problems,
        });
    }

    fn finish(mut self, format: Option<Format>) -> Result<MigrationSet, LoadError> {
        self.migrations
            .sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.up.path.cmp(&b.up.path)));
        for pair in self.migrations.windows(2) {
            if pair[0].version == pair[1].version {
                self.problems.push(Problem {
                    path: pair[1].up.path.display().to_string(),
                    line: None,
                    message: format!(
                        "duplicate version {}: both {} and {} use it",
                        pair[0].version,
                        pair[0].up.path.display(),
                        pair[1].up.path.display()
                    ),
                    fix: "give one of them a new version (for example the current UTC timestamp)".to_string(),
                });
            }
        }

        if self.problems.is_empty() {
            Ok(MigrationSet {
                migrations: self.migrations,
                warnings: self.warnings,
                format,
            })
        } else {
            self.problems
                .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
            Err(LoadError {
                problems: self.problems,
                warnings: self.warnings,
            })
        }
    }
}

struct Marker {
    line: u32,
    start: usize,
    body_start: usize,
    transaction: bool,
}

/// Returns whether a file name starts with digits and `_`, as every migration layout's names do.
fn starts_with_version(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name[digits..].starts_with(['_', '.'])
}

/// Recognises `-- migrate:up [options]` and `-- migrate:down [options]` lines.
fn parse_marker(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.trim_start().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("migrate:")?;
    for direction in ["up", "down"] {
        if let Some(options) = rest.strip_prefix(direction)
            && (options.is_empty() || options.starts_with(char::is_whitespace))
        {
            return Some((direction, options.trim()));
        }
    }
    None
}

/// Reads a Flyway script configuration file (`key=value` lines).
fn flyway_conf_disables_transaction(text: &str) -> bool {
    text.lines().any(|line| {
        line.split_once('=').is_some_and(|(key, value)| {
            key.trim() == "executeInTransaction" && value.trim().eq_ignore_ascii_case("false")
        })
    })
}

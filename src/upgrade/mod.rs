//! Taking over from the original Pushgateway: its persistence file (`--persistence.file`, a Go
//! gob stream read by [`crate::import`]) converted into this gateway's SQLite database, at
//! start-up or by the `import` command.
//!
//! # At start-up
//! Before the store is opened, [`prepare_persistence_file`] looks at the first bytes of the
//! file `--persistence.file` names:
//! * missing, empty (0 bytes) or SQLite: nothing to do; the store opens it (an empty file
//!   becomes a new database, as a missing one does);
//! * the original's file: imported in place (below), then served from the same path, so the
//!   user's flags keep working and the next start finds SQLite and imports nothing;
//! * anything else: start-up stops, before binding, saying what was found.
//!
//! # Importing in place
//! 1. Read the whole file, decode it, convert and check every group ([`convert`]; each group
//!    is converted as soon as it is decoded, so the decoded families are never all held). A file
//!    that is not well-formed, any group this gateway could not serve (every such group is
//!    named, with the request that deletes it from the original), or more series than
//!    `--push.max-series-total` allows stops the import here with a message saying so;
//!    nothing has been written. Refusing the whole file rather than importing the rest means
//!    no group is ever left behind unnoticed.
//! 2. Keep the original: hard-link it as `<file>.original` (a copy where the file system has
//!    no hard links), then fsync the directory. An existing `<file>.original` is never
//!    replaced: one holding the same bytes (left by an earlier attempt) is reused, otherwise
//!    the next free `<file>.original.1`, `.2`, ... is taken.
//! 3. Build the new database at `<file>.importing`, first removing one (with its journal) that
//!    a crashed attempt left: the schema, then every group with its families and times and one
//!    `IMPORT` history record per group, in one transaction, with a rollback journal so that
//!    nothing remains beside the file once it is closed; give it the original's permissions;
//!    fsync it.
//! 4. Remove `<file>-wal`, `-shm` and `-journal` if they exist (left by a database that was at
//!    this path before the original replaced it with its file: SQLite would replay such a WAL
//!    into the new database), rename `<file>.importing` over `<file>`, fsync the directory.
//!
//! # Crash points
//! `<file>` is never removed, truncated or written in place, so at every moment it is either
//! the original's complete file or the complete new database: no start ever finds it missing
//! (and creates an empty database) or half-written. A crash
//! * in 1: nothing was written;
//! * in 2: `<file>` is untouched. A link appears whole or not at all. A copy cut short leaves a
//!   partial `<file>.original`; it differs from `<file>`, so the next attempt keeps the
//!   original as `<file>.original.1` (the partial copy stays, unused);
//! * in 3, or between 3 and 4: `<file>` is untouched; the next start imports again, removes
//!   the leftover `<file>.importing` and its journal, and reuses the kept file of step 2;
//! * in 4, before the rename: `<file>` is untouched and imported again next time; the
//!   journals removed belonged to no file;
//! * in 4, at the rename: the rename is atomic, so `<file>` is either the original's file
//!   (the next start imports again, as above) or the new database (served;
//!   `<file>.importing` went with the rename). The fsyncs order it on disk too: the new
//!   database's bytes (3) and the kept name (2) are durable before the rename, so after a
//!   power loss `<file>` is never a database whose pages are missing, nor the database
//!   without the kept original beside it.
//!
//! # The `import` command
//! `pushgateway import FILE` runs the same steps on FILE. With `--persistence.file=DB` naming
//! another path, FILE is only read, and DB must not exist or be empty (0 bytes): a database
//! that holds anything is never replaced or merged into. Steps 3 and 4 then build
//! `DB.importing` and rename it to DB.

mod convert;

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cli::{Cli, ImportArgs};
use crate::history::samples::SampleJson;
use crate::history::Request;
use crate::import::{for_each_group, sniff, FileKind, SNIFF_LEN};
use crate::store::history::{insert_record, PushRecord};
use crate::store::{self, StoreError};
use convert::{Conversion, Converter};

/// Appended to the file's name to keep the original's file once it is converted in place.
pub const KEPT_SUFFIX: &str = ".original";
/// Appended to the database's name while it is being built.
pub const BUILDING_SUFFIX: &str = ".importing";
/// The history's `method` of a group's import record.
pub const IMPORT_METHOD: &str = "IMPORT";

/// The most `<file>.original.N` names tried before giving up.
const MAX_KEPT_NAMES: usize = 1000;

/// What the server's flags ask of an import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Write each group's values into its history record (`--history.max-rows` above 0).
    pub record_values: bool,
    /// `--push.max-series-total`: an import is a way groups are created, so it holds here too.
    pub max_series_total: Option<usize>,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The original's file as it was named.
    pub source: PathBuf,
    /// The database written.
    pub database: PathBuf,
    /// Where the original's file is kept, when it was converted in place.
    pub kept: Option<PathBuf>,
    pub groups: usize,
    /// Pushed families and their series (each group's two timestamp families not counted).
    pub families: usize,
    pub series: usize,
    /// Where a group's timestamp family is served differently from the original.
    pub differences: Vec<String>,
    pub elapsed: Duration,
}

impl Report {
    /// One line saying what was imported, and where the original's file is.
    pub fn summary(&self) -> String {
        let afterwards = match &self.kept {
            Some(kept) => format!("the original file is kept as {}", kept.display()),
            None => format!("{} is left as it is", self.source.display()),
        };
        format!(
            "imported {} groups with {} metric families and {} series from {}, the original \
             Pushgateway's persistence file, into the database {} in {:?}; {afterwards}",
            self.groups,
            self.families,
            self.series,
            self.source.display(),
            self.database.display(),
            self.elapsed,
        )
    }
}

/// Why a file could not be imported, or why start-up cannot use it.
#[derive(Debug)]
pub enum UpgradeError {
    /// Neither a SQLite database nor the original's file, and not empty.
    Unknown { path: PathBuf, found: String },
    /// The `import` command was given a file with nothing to import.
    NothingToImport { path: PathBuf, what: &'static str },
    /// The `import` command's database already holds something.
    TargetNotEmpty { path: PathBuf },
    /// The original's file is not well-formed.
    Malformed { path: PathBuf, error: String },
    /// Groups this gateway cannot serve; nothing was imported.
    Refused { path: PathBuf, groups: Vec<String> },
    /// More series (timestamp series included) than `--push.max-series-total` allows; nothing
    /// was imported.
    OverLimit {
        path: PathBuf,
        series: usize,
        max: usize,
    },
    /// A file operation failed.
    Io {
        doing: String,
        path: PathBuf,
        error: io::Error,
    },
    /// Writing the new database failed.
    Store { path: PathBuf, error: StoreError },
}

impl std::fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpgradeError::Unknown { path, found } => write!(
                f,
                "{} is neither a SQLite database nor the original Pushgateway's persistence \
                 file: found {found}; it is left as it is (point --persistence.file at another \
                 file, or move this one away)",
                path.display()
            ),
            UpgradeError::NothingToImport { path, what } => {
                write!(f, "{} is {what}: nothing to import", path.display())
            }
            UpgradeError::TargetNotEmpty { path } => write!(
                f,
                "{} already exists and is not empty: the import only creates a new database \
                 (choose another --persistence.file, or convert the file in place without it)",
                path.display()
            ),
            UpgradeError::Malformed { path, error } => write!(
                f,
                "cannot import {}, which starts like the original Pushgateway's persistence \
                 file: {error}; it is left as it is",
                path.display()
            ),
            UpgradeError::Refused { path, groups } => {
                write!(
                    f,
                    "cannot import {}, the original Pushgateway's persistence file: this gateway \
                     cannot serve {} of its groups, so nothing was imported and the file is left \
                     as it is:",
                    path.display(),
                    groups.len()
                )?;
                for group in groups {
                    write!(f, "\n  {}", group.replace('\n', "\n    "))?;
                }
                write!(
                    f,
                    "\nDelete these groups with the original Pushgateway running on this file \
                     (it writes the file when it stops), then start again."
                )
            }
            UpgradeError::OverLimit { path, series, max } => write!(
                f,
                "cannot import {}, the original Pushgateway's persistence file: its groups \
                 would hold {series} series (each group's two timestamp series included), more \
                 than the limit of {max} set by --push.max-series-total, so nothing was imported \
                 and the file is left as it is (raise the limit, or set it to 0 for none, to \
                 import it)",
                path.display()
            ),
            UpgradeError::Io { doing, path, error } => {
                write!(f, "importing: {doing} {}: {error}", path.display())
            }
            UpgradeError::Store { path, error } => {
                write!(f, "importing into {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for UpgradeError {}

fn io_error(doing: &str, path: &Path) -> impl FnOnce(io::Error) -> UpgradeError {
    let (doing, path) = (doing.to_string(), path.to_path_buf());
    move |error| UpgradeError::Io { doing, path, error }
}

/// Makes `--persistence.file` ready for [`store::open`]: imports the original's file in
/// place (logging what was imported), leaves a missing, empty or SQLite file alone, and refuses
/// anything else.
pub fn prepare_persistence_file(path: &Path, options: ImportOptions) -> Result<(), UpgradeError> {
    match kind_of(path)? {
        None | Some(FileKind::Sqlite) => Ok(()),
        Some(FileKind::Empty) => {
            log::info!("{} is empty: it becomes a new database", path.display());
            Ok(())
        }
        Some(FileKind::Unknown(found)) => Err(UpgradeError::Unknown {
            path: path.to_path_buf(),
            found,
        }),
        Some(FileKind::UpstreamSnapshot) => {
            log::info!(
                "{} is the original Pushgateway's persistence file: importing it",
                path.display()
            );
            let report = import(path, path, options)?;
            for difference in &report.differences {
                log::warn!("imported with a difference: {difference}");
            }
            log::info!("{}", report.summary());
            Ok(())
        }
    }
}

/// Runs `pushgateway import FILE`: prints what was imported, or why not (exit status 1).
pub fn main(cli: &Cli, args: &ImportArgs) -> ExitCode {
    match run_command(cli, args) {
        Ok(report) => {
            for difference in &report.differences {
                eprintln!("pushgateway import: imported with a difference: {difference}");
            }
            println!("{}", report.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pushgateway import: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_command(cli: &Cli, args: &ImportArgs) -> Result<Report, UpgradeError> {
    let source = &args.file;
    match kind_of(source)? {
        Some(FileKind::UpstreamSnapshot) => {}
        None => {
            return Err(io_error("reading", source)(io::Error::from(
                io::ErrorKind::NotFound,
            )))
        }
        Some(FileKind::Sqlite) => {
            return Err(UpgradeError::NothingToImport {
                path: source.clone(),
                what: "already a SQLite database",
            })
        }
        Some(FileKind::Empty) => {
            return Err(UpgradeError::NothingToImport {
                path: source.clone(),
                what: "empty",
            })
        }
        Some(FileKind::Unknown(found)) => {
            return Err(UpgradeError::Unknown {
                path: source.clone(),
                found,
            })
        }
    }
    let options = ImportOptions {
        record_values: cli.history_max_rows > 0,
        max_series_total: (cli.max_series_total > 0).then_some(cli.max_series_total),
    };
    if cli.persistence_file.is_empty() {
        return import(source, source, options);
    }
    let database = PathBuf::from(&cli.persistence_file);
    if same_file(source, &database) {
        return import(source, source, options);
    }
    if !is_missing_or_empty(&database)? {
        return Err(UpgradeError::TargetNotEmpty { path: database });
    }
    import(source, &database, options)
}

/// What a file holds, from its first bytes; `None` when it does not exist.
fn kind_of(path: &Path) -> Result<Option<FileKind>, UpgradeError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("reading", path)(e)),
    };
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    file.take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(io_error("reading", path))?;
    Ok(Some(sniff(&prefix)))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (fs::canonicalize(a), fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// Whether `path` holds no database yet: missing, or an empty file without a journal beside it.
fn is_missing_or_empty(path: &Path) -> Result<bool, UpgradeError> {
    for (file, must_exist_empty) in [
        (path.to_path_buf(), true),
        (with_suffix(path, "-wal"), false),
        (with_suffix(path, "-journal"), false),
    ] {
        match fs::metadata(&file) {
            Ok(meta) if meta.is_file() && meta.len() == 0 && must_exist_empty => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("looking at", &file)(e)),
        }
    }
    Ok(true)
}

/// Imports the original's file `source` into a new database at `database`, which is `source`
/// itself when converting in place (see the module doc for the steps and their crash points).
fn import(source: &Path, database: &Path, options: ImportOptions) -> Result<Report, UpgradeError> {
    let started = Instant::now();
    let bytes = fs::read(source).map_err(io_error("reading", source))?;
    let mut converter = Converter::new(options.record_values);
    for_each_group(&bytes, |group| converter.add(group)).map_err(|e| UpgradeError::Malformed {
        path: source.to_path_buf(),
        error: e.to_string(),
    })?;
    let conversion = converter
        .finish()
        .map_err(|refused| UpgradeError::Refused {
            path: source.to_path_buf(),
            groups: refused.iter().map(ToString::to_string).collect(),
        })?;
    let stored = conversion.stored_series();
    if let Some(max) = options.max_series_total.filter(|&max| stored > max) {
        return Err(UpgradeError::OverLimit {
            path: source.to_path_buf(),
            series: stored,
            max,
        });
    }

    let in_place = source == database;
    let kept = if in_place {
        Some(keep_original(source, &bytes)?)
    } else {
        None
    };
    drop(bytes);
    let building = with_suffix(database, BUILDING_SUFFIX);
    remove_database(&building)?;
    let origin = kept.as_deref().unwrap_or(source);
    if let Err(e) = build_database(&building, &conversion, origin, in_place.then_some(source)) {
        // Best effort: the next attempt removes it anyway.
        let _ = remove_database(&building);
        return Err(e);
    }
    // A gob file has no journal: one beside it is left from a database that was at this path
    // before, and SQLite would replay it into the new one.
    remove_files(database, &JOURNALS)?;
    fs::rename(&building, database).map_err(io_error(
        &format!("renaming {} to", building.display()),
        database,
    ))?;
    sync_directory(database)?;

    Ok(Report {
        source: source.to_path_buf(),
        database: database.to_path_buf(),
        kept,
        groups: conversion.groups.len(),
        families: conversion.groups.iter().map(|g| g.families.len()).sum(),
        series: conversion.series(),
        differences: conversion.differences,
        elapsed: started.elapsed(),
    })
}

/// Step 2: a name beside `source` that holds its bytes, made durable; never replaces a file.
fn keep_original(source: &Path, bytes: &[u8]) -> Result<PathBuf, UpgradeError> {
    for n in 0..MAX_KEPT_NAMES {
        let candidate = match n {
            0 => with_suffix(source, KEPT_SUFFIX),
            n => with_suffix(source, &format!("{KEPT_SUFFIX}.{n}")),
        };
        match fs::symlink_metadata(&candidate) {
            Ok(meta) => {
                if meta.is_file()
                    && meta.len() == bytes.len() as u64
                    && fs::read(&candidate).map_err(io_error("reading", &candidate))? == bytes
                {
                    // An earlier attempt kept it; make sure its name is on disk.
                    sync_directory(&candidate)?;
                    return Ok(candidate);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("looking at", &candidate)(e)),
        }
        let kept = match fs::hard_link(source, &candidate) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            // No hard links here (some network and FUSE file systems): copy.
            Err(_) => copy_new(&candidate, bytes, source)?,
        };
        if kept {
            sync_directory(&candidate)?;
            return Ok(candidate);
        }
    }
    Err(io_error("keeping the original file beside", source)(
        io::Error::other(format!(
            "{MAX_KEPT_NAMES} names {}{KEPT_SUFFIX}[.N] are taken",
            source.display()
        )),
    ))
}

/// Writes `bytes` to a new file (false when the name is taken), with `like`'s permissions,
/// and fsyncs it.
fn copy_new(path: &Path, bytes: &[u8], like: &Path) -> Result<bool, UpgradeError> {
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io_error("creating", path)(e)),
    };
    file.write_all(bytes)
        .and_then(|()| {
            let permissions = fs::metadata(like)?.permissions();
            file.set_permissions(permissions)
        })
        .and_then(|()| file.sync_all())
        .map_err(io_error("writing", path))?;
    Ok(true)
}

/// What SQLite keeps beside a database file.
const JOURNALS: [&str; 3] = ["-journal", "-wal", "-shm"];

/// Removes a database file a crashed attempt left, with its journal: a journal left behind
/// would be rolled back into the next file of that name.
fn remove_database(path: &Path) -> Result<(), UpgradeError> {
    remove_files(path, &JOURNALS)?;
    remove_files(path, &[""])
}

/// Removes `path` with each of `suffixes` appended, where they exist.
fn remove_files(path: &Path, suffixes: &[&str]) -> Result<(), UpgradeError> {
    for suffix in suffixes {
        let file = with_suffix(path, suffix);
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("removing the leftover", &file)(e)),
        }
    }
    Ok(())
}

/// Step 3: the new database at `path`, complete, closed and durable. Its history records name
/// `origin` as where each group came from; with `like`, it gets that file's permissions.
fn build_database(
    path: &Path,
    conversion: &Conversion,
    origin: &Path,
    like: Option<&Path>,
) -> Result<(), UpgradeError> {
    let store_error = |error: StoreError| UpgradeError::Store {
        path: path.to_path_buf(),
        error,
    };
    let sqlite_error = |e: rusqlite::Error| store_error(StoreError::Sqlite(e));
    let mut conn = store::create_file(path).map_err(store_error)?;
    let now_ns = crate::clock::now_ns();
    let request = Request {
        method: IMPORT_METHOD.to_string(),
        path: origin.display().to_string(),
        ..Request::default()
    };
    let tx = conn.transaction().map_err(sqlite_error)?;
    for group in &conversion.groups {
        let columns = store::KeyColumns::of(&group.key);
        let id = store::insert_group(
            &tx,
            &columns,
            group.last_push_ns,
            group.last_failure_ns,
            group.created_ns,
            // The original kept groups until deleted: imported groups never expire.
            0,
        )
        .map_err(sqlite_error)?;
        let record = PushRecord {
            time_ns: now_ns,
            request: &request,
            key: Some(&columns),
            status: 200,
            error: None,
            families: Some(group.families.len()),
            series: Some(group.series()),
            samples: group.samples.as_ref().map(|(json, n)| (json.as_str(), *n)),
            selector: None,
            held: None,
        };
        let record_id = insert_record(&tx, &record).map_err(sqlite_error)?;
        for family in &group.families {
            // Where current_samples finds the family's values: the import's record, or
            // (values not recorded) the family row itself.
            let own = group.samples.is_none().then(|| {
                let mut json = SampleJson::new();
                json.add_family(&family.decode(), &group.key);
                json.finish()
            });
            let values = match &own {
                Some(json) => store::FamilyValues::Own(json),
                None => store::FamilyValues::Record(record_id),
            };
            let blob = family.to_blob();
            let row = store::FamilyRow::of(id, family, &blob, values);
            store::upsert_family(&tx, &row).map_err(sqlite_error)?;
        }
    }
    tx.commit().map_err(sqlite_error)?;
    conn.close().map_err(|(_, e)| sqlite_error(e))?;
    if let Some(like) = like {
        let permissions = fs::metadata(like)
            .map_err(io_error("looking at", like))?
            .permissions();
        fs::set_permissions(path, permissions).map_err(io_error("setting permissions of", path))?;
    }
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io_error("syncing", path))
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes the directory entries of `path`'s directory durable (a new name, a rename).
fn sync_directory(path: &Path) -> Result<(), UpgradeError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing the directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &[u8] = include_bytes!("../../tests/fixtures/upstream-1.5.1/groups.bak");
    const EMPTY: &[u8] = include_bytes!("../../tests/fixtures/upstream-1.5.1/empty.bak");
    const VALUES: ImportOptions = ImportOptions {
        record_values: true,
        max_series_total: None,
    };

    fn group_count(path: &Path) -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("SELECT count(*) FROM metric_groups", [], |r| r.get(0))
            .unwrap()
    }

    fn import_records(path: &Path) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT method, path FROM push_history ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn converting_in_place_keeps_the_original_beside_the_new_database() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, GROUPS).unwrap();
        prepare_persistence_file(&file, VALUES).unwrap();
        assert!(fs::read(&file).unwrap().starts_with(b"SQLite format 3\0"));
        let kept = dir.path().join("metrics.bak.original");
        assert_eq!(fs::read(&kept).unwrap(), GROUPS);
        assert_eq!(group_count(&file), 7);
        let origin = kept.display().to_string();
        assert_eq!(
            import_records(&file),
            vec![("IMPORT".to_string(), origin); 7]
        );
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["metrics.bak", "metrics.bak.original"]);

        // Converted: the next start leaves it alone.
        let before = fs::read(&file).unwrap();
        prepare_persistence_file(&file, VALUES).unwrap();
        assert_eq!(fs::read(&file).unwrap(), before);
        assert!(!dir.path().join("metrics.bak.original.1").exists());
    }

    #[test]
    fn the_original_keeps_its_permissions_on_the_new_database() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, EMPTY).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        prepare_persistence_file(&file, VALUES).unwrap();
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(group_count(&file), 0);
    }

    #[test]
    fn an_existing_kept_name_is_reused_only_when_it_holds_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, GROUPS).unwrap();
        let first = dir.path().join("metrics.bak.original");
        fs::write(&first, b"someone else's file").unwrap();
        let second = dir.path().join("metrics.bak.original.1");
        fs::write(&second, GROUPS).unwrap();
        assert_eq!(keep_original(&file, GROUPS).unwrap(), second);
        assert_eq!(fs::read(&first).unwrap(), b"someone else's file");
        fs::write(&second, b"changed").unwrap();
        assert_eq!(
            keep_original(&file, GROUPS).unwrap(),
            dir.path().join("metrics.bak.original.2")
        );
        assert_eq!(fs::read(&second).unwrap(), b"changed");
    }

    #[test]
    fn a_leftover_database_and_hot_journal_of_a_crashed_attempt_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, GROUPS).unwrap();
        // A crashed attempt: a database half-written, with its journal still hot.
        let building = dir.path().join("metrics.bak.importing");
        {
            let conn = rusqlite::Connection::open(&building).unwrap();
            conn.execute_batch("CREATE TABLE stray (x); INSERT INTO stray VALUES (1);")
                .unwrap();
        }
        fs::write(
            dir.path().join("metrics.bak.importing-journal"),
            b"\xd9\xd5\x05\xf9 hot",
        )
        .unwrap();
        prepare_persistence_file(&file, ImportOptions::default()).unwrap();
        assert_eq!(group_count(&file), 7);
        assert!(!building.exists());
        assert!(!dir.path().join("metrics.bak.importing-journal").exists());
        let conn = rusqlite::Connection::open(&file).unwrap();
        let stray: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'stray'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stray, 0);
    }

    #[test]
    fn a_stale_wal_beside_the_original_file_is_not_replayed_into_the_new_database() {
        // Our database once was at this path and was killed with its WAL not checkpointed;
        // then the original replaced the file with its own (by rename, leaving the WAL).
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        let wal = dir.path().join("metrics.bak-wal");
        {
            let conn = rusqlite::Connection::open(&file).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch(
                "PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE stray (x); INSERT INTO stray VALUES (1);",
            )
            .unwrap();
            fs::copy(&wal, dir.path().join("saved-wal")).unwrap();
        }
        fs::write(&file, GROUPS).unwrap();
        fs::rename(dir.path().join("saved-wal"), &wal).unwrap();

        prepare_persistence_file(&file, VALUES).unwrap();
        let pool = store::open(Some(&file)).unwrap();
        let conn = pool.get().unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(tables, ["metric_families", "metric_groups", "push_history"]);
        let groups: i64 = conn
            .query_row("SELECT count(*) FROM metric_groups", [], |r| r.get(0))
            .unwrap();
        assert_eq!(groups, 7);
        drop(conn);
        drop(pool);
        assert!(!wal.exists());
    }

    #[test]
    fn a_file_that_is_neither_is_refused_with_what_was_found_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, "hello: world\n").unwrap();
        let err = prepare_persistence_file(&file, VALUES)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(r#"neither a SQLite database nor the original Pushgateway's persistence file: found text starting with "hello: world\n""#),
            "{err}"
        );
        assert_eq!(fs::read(&file).unwrap(), b"hello: world\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_import_over_the_series_limit_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, GROUPS).unwrap();
        let report = import(&file, &file, VALUES).unwrap();
        assert_eq!(report.groups, 7);
        let series = report.series + 2 * report.groups;

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, GROUPS).unwrap();
        let limited = |max| ImportOptions {
            max_series_total: Some(max),
            ..VALUES
        };
        let err = prepare_persistence_file(&file, limited(series - 1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "its groups would hold {series} series (each group's two timestamp series \
                 included), more than the limit of {} set by --push.max-series-total, so nothing was imported and the file is left as it is",
                series - 1
            )),
            "{err}"
        );
        assert_eq!(fs::read(&file).unwrap(), GROUPS);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        prepare_persistence_file(&file, limited(series)).unwrap();
        assert_eq!(group_count(&file), 7);
    }

    #[test]
    fn a_truncated_original_file_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.bak");
        fs::write(&file, &GROUPS[..GROUPS.len() - 10]).unwrap();
        let err = prepare_persistence_file(&file, VALUES)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "cannot import {}, which starts like",
                file.display()
            )),
            "{err}"
        );
        assert!(err.ends_with("it is left as it is"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_and_empty_files_are_left_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("new.db");
        prepare_persistence_file(&file, VALUES).unwrap();
        assert!(!file.exists());
        fs::write(&file, b"").unwrap();
        prepare_persistence_file(&file, VALUES).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"");
    }
}

//! Reading the original Pushgateway's persistence file (`--persistence.file`), so that its
//! groups can be imported into our store.
//!
//! The original writes one Go `encoding/gob` value (spec §6 "Persistence"):
//!
//! ```text
//! map[string]MetricGroup                 key: the grouping key (label names sorted, 0xff-separated)
//! MetricGroup{Labels map[string]string; Metrics map[string]TimestampedMetricFamily}
//! TimestampedMetricFamily{Timestamp time.Time; GobbableMetricFamily *GobbableMetricFamily}
//!   time.Time             GobEncoder: MarshalBinary, version 1 (15 bytes) or 2 (16 bytes)
//!   GobbableMetricFamily  GobEncoder: proto.Marshal of io.prometheus.client.MetricFamily
//! ```
//!
//! [`gob`] reads the wire format; this module checks that the stream's types have that shape
//! (fields are matched by name, as gob does; fields it does not know are skipped) and decodes
//! the groups. Every family is kept as stored, the `push_time_seconds` and
//! `push_failure_time_seconds` families the original keeps per group included: what to make of
//! them is the caller's business. [`sniff`] tells such a file from our SQLite database.
//!
//! No gob crate is used: the only one on crates.io, `gob` 0.1.0 (2018, its single release),
//! knows just four of `wireType`'s seven kinds (no GobEncoderT, so not `time.Time`), and
//! depends on crates abandoned since (bytes 0.4, owning_ref, serde_schema 0.0.1).

mod gob;

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use prost::Message as _;

use crate::proto::MetricFamily;
use gob::{escape, FieldNumbers, GobError, Reader, Stream, TypeId, Types, WireType};

/// How many leading bytes of a file [`sniff`] wants to see.
pub(crate) const SNIFF_LEN: usize = 32;

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// What a file holding the gateway's state turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A SQLite database (ours, presumably).
    Sqlite,
    /// Zero bytes.
    Empty,
    /// Looks like the original Pushgateway's gob persistence file.
    UpstreamSnapshot,
    /// Neither; what was found, for an error message ("text starting with …").
    Unknown(String),
}

/// Tells the kind of a file from its first [`SNIFF_LEN`] bytes (or all of it, if shorter).
pub(crate) fn sniff(prefix: &[u8]) -> FileKind {
    if prefix.is_empty() {
        FileKind::Empty
    } else if prefix.starts_with(SQLITE_MAGIC) {
        FileKind::Sqlite
    } else if looks_like_gob(prefix) {
        FileKind::UpstreamSnapshot
    } else {
        FileKind::Unknown(describe_prefix(prefix))
    }
}

/// The original's file starts with a type definition (the value is a map, and gob defines a
/// type before its first value): a message length, a negative type id of a user type, and the
/// field delta of one of `wireType`'s seven kinds.
fn looks_like_gob(prefix: &[u8]) -> bool {
    fn first_definition(r: &mut Reader<'_>) -> Result<bool, GobError> {
        let len = r.uint("a message length")?;
        let id = r.int("a type id")?;
        let kind = r.uint("a kind of type")?;
        Ok(len > 0 && id <= -gob::FIRST_USER_ID && (1..=7).contains(&kind))
    }
    first_definition(&mut Reader::new(prefix)).unwrap_or(false)
}

fn describe_prefix(prefix: &[u8]) -> String {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        return "gzip-compressed data".to_owned();
    }
    // A prefix may end inside a UTF-8 sequence.
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&prefix[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let printable = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
    match text {
        Some(text) if !text.is_empty() && text.chars().all(printable) => {
            let shown: String = text.chars().take(24).collect();
            format!("text starting with {shown:?}")
        }
        _ => {
            let hex: Vec<String> = prefix.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("binary data starting with {}", hex.join(" "))
        }
    }
}

/// One group of the original's store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UpstreamGroup {
    /// The grouping labels (`job` and the rest of the push URL).
    pub labels: BTreeMap<String, String>,
    /// Every family as stored, sorted by name, each with the time of the request that stored
    /// it in Unix nanoseconds (0 for Go's zero time, which the original never stores).
    pub families: Vec<(MetricFamily, i64)>,
}

/// One group of the file, as [`for_each_group`] hands it over.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded {
    Group(UpstreamGroup),
    /// A group whose grouping labels are not all UTF-8, which no exposition format can carry:
    /// the original creates one from a push to a URL such as `/metrics/job/%FF` (refusing the
    /// push, and failing every scrape from then on). Its labels as bytes, sorted by name; its
    /// families are read past, not decoded (they carry the same labels).
    NotUtf8 {
        labels: Vec<(Vec<u8>, Vec<u8>)>,
    },
}

/// Why a persistence file cannot be read.
#[derive(Debug)]
pub(crate) enum ImportError {
    /// Not the gob stream, or not the types, the original writes.
    Gob(GobError),
    /// A family's bytes are not a protobuf `MetricFamily`.
    Family {
        offset: usize,
        name: String,
        error: prost::DecodeError,
    },
}

impl From<GobError> for ImportError {
    fn from(e: GobError) -> Self {
        ImportError::Gob(e)
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Gob(e) => e.fmt(f),
            ImportError::Family {
                offset,
                name,
                error,
            } => write!(
                f,
                "at byte {offset}: the metric family {name:?} is not a protobuf MetricFamily: {error}"
            ),
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImportError::Gob(e) => Some(e),
            ImportError::Family { error, .. } => Some(error),
        }
    }
}

const SNAPSHOT_TYPE: &str = "a value of type map[string]MetricGroup";

/// Decodes a whole persistence file ([`for_each_group`]); groups come out sorted by labels,
/// those whose labels are not UTF-8 left out.
#[cfg(test)]
pub(crate) fn read_snapshot(bytes: &[u8]) -> Result<Vec<UpstreamGroup>, ImportError> {
    let mut groups = Vec::new();
    for_each_group(bytes, |decoded| {
        if let Decoded::Group(group) = decoded {
            groups.push(group);
        }
    })?;
    groups.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(groups)
}

/// Decodes a whole persistence file, handing each group to `each` as soon as it is decoded,
/// in the file's order: a caller that turns groups into something smaller never holds every
/// decoded family at once (a decoded `Metric` takes about 1 KiB). An error can come after
/// some groups were handed over; only `Ok` means the file was whole.
///
/// Strict: the stream must hold exactly one value of the original's shape, each map key must
/// be the grouping key of its group's labels (and the name of its family), and every family
/// must decode. A group whose grouping labels are not UTF-8 is handed over as
/// [`Decoded::NotUtf8`], so that the caller can name it (Go writes a group's labels before
/// its families; in a stream written the other way round, its families fail to decode
/// first). Linear in the file's size.
pub(crate) fn for_each_group(
    bytes: &[u8],
    mut each: impl FnMut(Decoded),
) -> Result<(), ImportError> {
    let mut stream = Stream::new(bytes);
    let Some(mut message) = stream.next_value()? else {
        return Err(GobError::new(bytes.len(), SNAPSHOT_TYPE, "the end of the file").into());
    };
    {
        let types = stream.types();
        let layout = Layout::of(types, message.id, message.offset)?;
        let r = &mut message.body;
        r.singleton()?;
        let mut keys = HashSet::new();
        for _ in 0..r.count("a number of groups")? {
            let key_at = r.offset();
            let key = r.bytes("a grouping key")?;
            if !keys.insert(key) {
                return Err(GobError::new(key_at, "a new grouping key", escape(key)).into());
            }
            let group = read_group(r, types, &layout)?;
            let wanted = match &group {
                Decoded::Group(group) => grouping_key(
                    group
                        .labels
                        .iter()
                        .map(|(n, v)| (n.as_bytes(), v.as_bytes())),
                ),
                Decoded::NotUtf8 { labels } => {
                    grouping_key(labels.iter().map(|(n, v)| (&n[..], &v[..])))
                }
            };
            if key != wanted {
                return Err(GobError::new(
                    key_at,
                    format!(
                        "the grouping key of the labels that follow, {}",
                        escape(&wanted)
                    ),
                    escape(key),
                )
                .into());
            }
            each(group);
        }
        r.finish()?;
    }
    if let Some(extra) = stream.next_value()? {
        return Err(GobError::new(extra.offset, "the end of the file", "a second value").into());
    }
    Ok(())
}

/// Upstream's `groupingKeyFor`: `name 0xff value 0xff name 0xff value`, for labels sorted by
/// name.
fn grouping_key<'a>(labels: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut key = Vec::new();
    for (i, (name, value)) in labels.enumerate() {
        if i > 0 {
            key.push(0xff);
        }
        key.extend_from_slice(name);
        key.push(0xff);
        key.extend_from_slice(value);
    }
    key
}

/// What each field of the stream's two struct types holds, by field number.
struct Layout {
    group: Vec<GroupField>,
    family: Vec<FamilyField>,
}

#[derive(Clone, Copy)]
enum GroupField {
    Labels,
    Metrics,
    Other(TypeId),
}

#[derive(Clone, Copy)]
enum FamilyField {
    Timestamp,
    Family,
    Other(TypeId),
}

impl Layout {
    /// Checks that type `top` is `map[string]MetricGroup` as the original defines it: field
    /// names and kinds must match, field order and further fields do not matter (as in gob).
    fn of(types: &Types, top: TypeId, value_at: usize) -> Result<Layout, GobError> {
        const GROUP: &str = "MetricGroup, a struct with Labels and Metrics";
        const FAMILY: &str =
            "TimestampedMetricFamily, a struct with Timestamp and GobbableMetricFamily";
        let wrong = |at: usize, expected: &'static str, id: TypeId| {
            GobError::new(at, expected, format!("type {}", types.describe(id)))
        };
        let Some((gob::STRING, group_id)) = map_of(types, top) else {
            return Err(GobError::new(
                value_at,
                SNAPSHOT_TYPE,
                format!("a value of type {}", types.describe(top)),
            ));
        };

        let (at, fields) =
            struct_of(types, group_id).ok_or_else(|| wrong(value_at, GROUP, group_id))?;
        let (mut labels, mut family_id) = (false, None);
        let mut group = Vec::with_capacity(fields.len());
        for field in fields {
            group.push(match (field.name.as_str(), map_of(types, field.id)) {
                ("Labels", Some((gob::STRING, gob::STRING))) => {
                    labels = true;
                    GroupField::Labels
                }
                ("Metrics", Some((gob::STRING, elem))) => {
                    family_id = Some(elem);
                    GroupField::Metrics
                }
                ("Labels", _) => {
                    return Err(wrong(at, "Labels of type map[string]string", field.id))
                }
                ("Metrics", _) => {
                    return Err(wrong(
                        at,
                        "Metrics of type map[string]TimestampedMetricFamily",
                        field.id,
                    ))
                }
                _ => GroupField::Other(field.id),
            });
        }
        let (true, Some(family_id)) = (labels, family_id) else {
            return Err(wrong(at, GROUP, group_id));
        };

        let (at, fields) =
            struct_of(types, family_id).ok_or_else(|| wrong(at, FAMILY, family_id))?;
        let encoded = |id| {
            matches!(
                types.get(id).map(|d| &d.wire),
                Some(WireType::GobEncoder | WireType::BinaryMarshaler)
            )
        };
        let mut family = Vec::with_capacity(fields.len());
        for field in fields {
            family.push(match field.name.as_str() {
                "Timestamp" if encoded(field.id) => FamilyField::Timestamp,
                "GobbableMetricFamily" if encoded(field.id) => FamilyField::Family,
                "Timestamp" | "GobbableMetricFamily" => {
                    return Err(wrong(
                        at,
                        "Timestamp and GobbableMetricFamily of GobEncoder types",
                        field.id,
                    ))
                }
                _ => FamilyField::Other(field.id),
            });
        }
        if !family.iter().any(|f| matches!(f, FamilyField::Family)) {
            return Err(wrong(at, FAMILY, family_id));
        }
        Ok(Layout { group, family })
    }
}

fn map_of(types: &Types, id: TypeId) -> Option<(TypeId, TypeId)> {
    match types.get(id)?.wire {
        WireType::Map { key, elem } => Some((key, elem)),
        _ => None,
    }
}

/// A struct type's fields, and where it was defined.
fn struct_of(types: &Types, id: TypeId) -> Option<(usize, &[gob::Field])> {
    let def = types.get(id)?;
    match &def.wire {
        WireType::Struct { fields } => Some((def.offset, fields)),
        _ => None,
    }
}

/// A `MetricGroup` value.
fn read_group(r: &mut Reader<'_>, types: &Types, layout: &Layout) -> Result<Decoded, ImportError> {
    let mut labels = BTreeMap::new();
    let mut utf8 = true;
    let mut families = Vec::new();
    let mut names = HashSet::new();
    let mut numbers = FieldNumbers::new(layout.group.len());
    while let Some(i) = numbers.next(r)? {
        match layout.group[i] {
            GroupField::Labels => {
                for _ in 0..r.count("a number of labels")? {
                    let at = r.offset();
                    let name = r.bytes("a label name")?;
                    let value = r.bytes("a label value")?;
                    utf8 &= std::str::from_utf8(name).is_ok() && std::str::from_utf8(value).is_ok();
                    if labels.insert(name, value).is_some() {
                        return Err(GobError::new(
                            at,
                            "a new label name",
                            format!("{} again", escape(name)),
                        )
                        .into());
                    }
                }
            }
            GroupField::Metrics => {
                for _ in 0..r.count("a number of metric families")? {
                    let at = r.offset();
                    let name = r.bytes("a metric family name")?;
                    if !names.insert(name) {
                        return Err(GobError::new(at, "a new family name", escape(name)).into());
                    }
                    if let Some(family) = read_family(r, types, layout, name, utf8)? {
                        families.push(family);
                    }
                }
            }
            GroupField::Other(id) => r.skip(types, id)?,
        }
    }
    if !utf8 {
        return Ok(Decoded::NotUtf8 {
            labels: labels
                .into_iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
        });
    }
    let labels = labels
        .into_iter()
        .map(|(n, v)| (bytes_to_string(n), bytes_to_string(v)))
        .collect();
    families.sort_by(|(a, _), (b, _)| a.name().cmp(b.name()));
    Ok(Decoded::Group(UpstreamGroup { labels, families }))
}

/// Bytes already checked to be UTF-8.
fn bytes_to_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `TimestampedMetricFamily` value, stored under `key`; read past without decoding the
/// family when `decode` is false (then `None`).
fn read_family(
    r: &mut Reader<'_>,
    types: &Types,
    layout: &Layout,
    key: &[u8],
    decode: bool,
) -> Result<Option<(MetricFamily, i64)>, ImportError> {
    let mut seen = false;
    let start = r.offset();
    let mut timestamp = 0;
    let mut family = None;
    let mut numbers = FieldNumbers::new(layout.family.len());
    while let Some(i) = numbers.next(r)? {
        let at = r.offset();
        match layout.family[i] {
            FamilyField::Timestamp => {
                let bytes = r.bytes("a time.Time")?;
                timestamp = go_time_unix_nanos(bytes).map_err(|found| {
                    GobError::new(
                        at,
                        "a time.Time in MarshalBinary format 1 or 2, from the years 1678 to 2262",
                        found,
                    )
                })?;
            }
            FamilyField::Family => {
                let bytes = r.bytes("a GobbableMetricFamily")?;
                seen = true;
                if !decode {
                    continue;
                }
                let decoded = MetricFamily::decode(bytes).map_err(|error| ImportError::Family {
                    offset: at,
                    name: String::from_utf8_lossy(key).into_owned(),
                    error,
                })?;
                if decoded.name().as_bytes() != key {
                    return Err(GobError::new(
                        at,
                        format!("the metric family named by its key, {}", escape(key)),
                        format!("one named {:?}", decoded.name()),
                    )
                    .into());
                }
                family = Some(decoded);
            }
            FamilyField::Other(id) => r.skip(types, id)?,
        }
    }
    match family {
        Some(family) => Ok(Some((family, timestamp))),
        None if seen && !decode => Ok(None),
        None => Err(GobError::new(start, "a GobbableMetricFamily", "none").into()),
    }
}

/// Seconds from 0001-01-01 to 1970-01-01 (UTC), Go's `unixToInternal`.
const GO_SECONDS_BEFORE_UNIX_EPOCH: i64 = 62_135_596_800;

/// A `time.Time` as `MarshalBinary` writes it, in Unix nanoseconds: version byte, seconds
/// since year 1 (8 bytes, big-endian, UTC), nanoseconds (4), zone offset in minutes (2, -1 for
/// UTC) and, in version 2, the offset's seconds (1). The zone does not change the instant.
/// Go's zero time (year 1) becomes 0.
fn go_time_unix_nanos(bytes: &[u8]) -> Result<i64, String> {
    let wanted = match bytes.first() {
        Some(1) => 15,
        Some(2) => 16,
        Some(v) => return Err(format!("format version {v}")),
        None => return Err("no bytes".to_owned()),
    };
    if bytes.len() != wanted {
        return Err(format!(
            "{} bytes of format version {}",
            bytes.len(),
            bytes[0]
        ));
    }
    let big_endian = |b: &[u8]| b.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
    let seconds = big_endian(&bytes[1..9]) as i64;
    let nanos = big_endian(&bytes[9..13]) as u32 as i32;
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!("{nanos} nanoseconds"));
    }
    if seconds == 0 && nanos == 0 {
        return Ok(0);
    }
    seconds
        .checked_sub(GO_SECONDS_BEFORE_UNIX_EPOCH)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|ns| ns.checked_add(i64::from(nanos)))
        .ok_or_else(|| format!("{seconds} seconds since year 1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Metric, MetricType};

    /// A store that never saw a push, as the original 1.5.1 writes it.
    const EMPTY: &[u8] = include_bytes!("../../tests/fixtures/upstream-1.5.1/empty.bak");
    /// The store after the pushes of `scripts/make-upstream-snapshot.sh`.
    const GROUPS: &[u8] = include_bytes!("../../tests/fixtures/upstream-1.5.1/groups.bak");
    /// What the original answered on `GET /api/v1/metrics` just before writing `GROUPS`.
    const API: &str = include_str!("../../tests/fixtures/upstream-1.5.1/api-v1-metrics.json");
    /// What it answered on `GET /metrics` at the same moment.
    const METRICS: &str = include_str!("../../tests/fixtures/upstream-1.5.1/metrics.txt");

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn metric_labels(m: &Metric) -> BTreeMap<String, String> {
        m.label
            .iter()
            .map(|p| (p.name().to_owned(), p.value().to_owned()))
            .collect()
    }

    fn group<'g>(groups: &'g [UpstreamGroup], job: &str) -> &'g UpstreamGroup {
        groups
            .iter()
            .find(|g| g.labels.get("job").map(String::as_str) == Some(job))
            .unwrap_or_else(|| panic!("no group with job {job:?}"))
    }

    fn family<'g>(group: &'g UpstreamGroup, name: &str) -> &'g (MetricFamily, i64) {
        group
            .families
            .iter()
            .find(|(f, _)| f.name() == name)
            .unwrap_or_else(|| panic!("no family {name:?} in {:?}", group.labels))
    }

    /// The value of a one-metric gauge (the gateway's timestamp families).
    fn gauge(group: &UpstreamGroup, name: &str) -> f64 {
        let (f, _) = family(group, name);
        assert_eq!(f.metric.len(), 1);
        f.metric[0].gauge.as_ref().unwrap().value()
    }

    fn same(a: f64, b: f64) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    /// 2020-01-01 and 2100-01-01 in Unix nanoseconds.
    const PLAUSIBLE: std::ops::Range<i64> = 1_577_836_800_000_000_000..4_102_444_800_000_000_000;

    #[test]
    fn sniff_tells_sqlite_an_original_snapshot_empty_and_other_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let header = std::fs::read(&db).unwrap();
        assert_eq!(sniff(&header[..SNIFF_LEN]), FileKind::Sqlite);
        assert_eq!(sniff(b""), FileKind::Empty);
        assert_eq!(sniff(&EMPTY[..SNIFF_LEN]), FileKind::UpstreamSnapshot);
        assert_eq!(sniff(&GROUPS[..SNIFF_LEN]), FileKind::UpstreamSnapshot);
        assert_eq!(sniff(&GROUPS[..4]), FileKind::UpstreamSnapshot);
        assert_eq!(
            sniff(b"# HELP x An x.\n# TYPE x counter\nx 1\n"),
            FileKind::Unknown(r##"text starting with "# HELP x An x.\n# TYPE x ""##.to_owned())
        );
        // A prefix may cut a UTF-8 sequence.
        assert_eq!(
            sniff(&"zürich".as_bytes()[..2]),
            FileKind::Unknown(r#"text starting with "z""#.to_owned())
        );
        assert_eq!(
            sniff(&[0x1f, 0x8b, 8, 0, 0, 0]),
            FileKind::Unknown("gzip-compressed data".to_owned())
        );
        assert_eq!(
            sniff(&[0, 1, 2, 0xfe, 0xff, 5, 6, 7, 8, 9]),
            FileKind::Unknown("binary data starting with 00 01 02 fe ff 05 06 07".to_owned())
        );
        // A gob stream whose first message is a value, not a type definition: not the original's.
        assert!(matches!(
            sniff(&[4, 0xff, 0x82, 0, 0]),
            FileKind::Unknown(_)
        ));
    }

    #[test]
    fn the_empty_stores_file_has_no_groups() {
        assert!((2000..2300).contains(&EMPTY.len()), "{}", EMPTY.len());
        assert_eq!(read_snapshot(EMPTY).unwrap(), vec![]);
    }

    #[test]
    fn every_group_is_decoded_with_its_labels_sorted() {
        let groups = read_snapshot(GROUPS).unwrap();
        let all: Vec<&BTreeMap<String, String>> = groups.iter().map(|g| &g.labels).collect();
        assert_eq!(
            all,
            [
                &labels(&[
                    ("dc", "eu-west"),
                    ("instance", "i2"),
                    ("job", "multi"),
                    ("rack", "zürich ö/7")
                ]),
                &labels(&[("empty", ""), ("job", "b64/job"), ("path", "/var/tmp")]),
                &labels(&[("instance", "i1"), ("job", "all_types")]),
                &labels(&[("job", "empty_body")]),
                &labels(&[("job", "failed_new")]),
                &labels(&[("job", "failing")]),
                &labels(&[("job", "merge")]),
            ]
        );
        for g in &groups {
            let names: Vec<&str> = g.families.iter().map(|(f, _)| f.name()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
            assert!(
                names.contains(&"push_time_seconds")
                    && names.contains(&"push_failure_time_seconds")
            );
            for (f, at) in &g.families {
                assert!(PLAUSIBLE.contains(at), "{}: {at}", f.name());
            }
        }
        let names = |job| -> Vec<String> {
            group(&groups, job)
                .families
                .iter()
                .map(|(f, _)| f.name().to_owned())
                .collect()
        };
        let with_timestamps = |extra: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            v.extend([
                "push_failure_time_seconds".into(),
                "push_time_seconds".into(),
            ]);
            v.sort();
            v
        };
        assert_eq!(
            names("all_types"),
            with_timestamps(&["c_total", "g", "h", "s", "u"])
        );
        assert_eq!(names("b64/job"), with_timestamps(&["b64_metric"]));
        assert_eq!(names("multi"), with_timestamps(&["m"]));
        assert_eq!(names("merge"), with_timestamps(&["a", "b", "c"]));
        assert_eq!(names("failing"), with_timestamps(&["f"]));
        assert_eq!(names("failed_new"), with_timestamps(&[]));
        assert_eq!(names("empty_body"), with_timestamps(&[]));
    }

    #[test]
    fn every_metric_type_help_text_and_awkward_label_value_survives() {
        let groups = read_snapshot(GROUPS).unwrap();
        let g = group(&groups, "all_types");
        let common = [("instance", "i1"), ("job", "all_types")];
        let with = |extra: &[(&str, &str)]| {
            let mut l = labels(&common);
            l.extend(labels(extra));
            l
        };

        let (c, _) = family(g, "c_total");
        assert_eq!(c.r#type(), MetricType::Counter);
        assert_eq!(
            c.help(),
            "A counter: \"quoted\", a backslash \\ and a newline \n here. Ünïcödé."
        );
        let counters: Vec<_> = c
            .metric
            .iter()
            .map(|m| (metric_labels(m), m.counter.as_ref().unwrap().value()))
            .collect();
        assert_eq!(
            counters,
            [
                (
                    with(&[
                        ("nl", "line1\nline2"),
                        ("path", "C:\\dir\\file"),
                        ("quote", "say \"hi\""),
                        ("utf8", "zürich 東京 🚀"),
                    ]),
                    42.0
                ),
                (with(&[("path", "plain")]), 1e21),
            ]
        );

        let (gauges, _) = family(g, "g");
        assert_eq!(
            (gauges.r#type(), gauges.help()),
            (MetricType::Gauge, "A gauge.")
        );
        assert_eq!(metric_labels(&gauges.metric[0]), with(&[]));
        assert_eq!(gauges.metric[0].gauge.as_ref().unwrap().value(), -3.5);
        assert_eq!(metric_labels(&gauges.metric[1]), with(&[("x", "nan")]));
        assert!(gauges.metric[1].gauge.as_ref().unwrap().value().is_nan());

        let (u, _) = family(g, "u");
        assert_eq!((u.r#type(), u.help.as_deref()), (MetricType::Untyped, None));
        let untyped: Vec<_> = u
            .metric
            .iter()
            .map(|m| (metric_labels(m), m.untyped.as_ref().unwrap().value()))
            .collect();
        assert_eq!(
            untyped,
            [
                (with(&[("a", "1")]), f64::INFINITY),
                (with(&[("a", "2")]), f64::NEG_INFINITY)
            ]
        );

        let (s, _) = family(g, "s");
        assert_eq!((s.r#type(), s.help()), (MetricType::Summary, "A summary."));
        let summary = s.metric[0].summary.as_ref().unwrap();
        let quantiles: Vec<(f64, f64)> = summary
            .quantile
            .iter()
            .map(|q| (q.quantile(), q.value()))
            .collect();
        assert_eq!(quantiles, [(0.5, 1.5), (0.9, 2.0), (0.99, 2.75)]);
        assert_eq!((summary.sample_count(), summary.sample_sum()), (5, 10.0));

        let (h, _) = family(g, "h");
        assert_eq!(
            (h.r#type(), h.help()),
            (MetricType::Histogram, "A histogram.")
        );
        let histogram = h.metric[0].histogram.as_ref().unwrap();
        let buckets: Vec<(f64, u64)> = histogram
            .bucket
            .iter()
            .map(|b| (b.upper_bound(), b.cumulative_count()))
            .collect();
        assert_eq!(buckets, [(0.5, 1), (1.0, 3), (f64::INFINITY, 4)]);
        assert_eq!((histogram.sample_count(), histogram.sample_sum()), (4, 2.5));

        // One request stored the whole group: every family carries its time.
        let pushed = family(g, "push_time_seconds").1;
        assert!(g.families.iter().all(|(_, at)| *at == pushed));
        assert_eq!(gauge(g, "push_time_seconds"), pushed as f64 / 1e9);
        assert_eq!(gauge(g, "push_failure_time_seconds"), 0.0);
        for (f, _) in &g.families {
            for m in &f.metric {
                assert_eq!(
                    (
                        m.timestamp_ms,
                        metric_labels(m).get("job").map(String::as_str)
                    ),
                    (None, Some("all_types"))
                );
            }
        }
    }

    #[test]
    fn base64_keys_and_several_grouping_labels_become_labels_as_pushed() {
        let groups = read_snapshot(GROUPS).unwrap();
        let g = group(&groups, "b64/job");
        let (f, _) = family(g, "b64_metric");
        assert_eq!(
            metric_labels(&f.metric[0]),
            labels(&[
                ("empty", ""),
                ("instance", ""),
                ("job", "b64/job"),
                ("path", "/var/tmp")
            ])
        );
        let g = group(&groups, "multi");
        let (m, _) = family(g, "m");
        assert_eq!(
            metric_labels(&m.metric[0]),
            labels(&[
                ("dc", "eu-west"),
                ("extra", "body label"),
                ("instance", "i2"),
                ("job", "multi"),
                ("rack", "zürich ö/7"),
            ])
        );
        assert_eq!(m.metric[0].gauge.as_ref().unwrap().value(), 7.0);
    }

    #[test]
    fn a_post_keeps_the_older_families_and_their_times() {
        let groups = read_snapshot(GROUPS).unwrap();
        let g = group(&groups, "merge");
        let value = |name| {
            family(g, name).0.metric[0]
                .untyped
                .as_ref()
                .unwrap()
                .value()
        };
        assert_eq!((value("a"), value("b"), value("c")), (1.0, 2.0, 3.0));
        let at = |name| family(g, name).1;
        assert!(at("a") < at("b"), "the PUT came 0.2 s before the POST");
        assert_eq!(at("b"), at("c"));
        assert_eq!(at("push_time_seconds"), at("b"));
        // The failure family is written once, by the first push, and kept since.
        assert_eq!(at("push_failure_time_seconds"), at("a"));
        assert_eq!(gauge(g, "push_time_seconds"), at("b") as f64 / 1e9);
        assert_eq!(gauge(g, "push_failure_time_seconds"), 0.0);
    }

    #[test]
    fn a_rejected_push_is_stored_as_a_failure_time() {
        let groups = read_snapshot(GROUPS).unwrap();
        // Into an existing group: its metrics and push time stay.
        let g = group(&groups, "failing");
        assert_eq!(
            family(g, "f").0.metric[0].untyped.as_ref().unwrap().value(),
            1.0
        );
        let (pushed, failed) = (
            family(g, "push_time_seconds").1,
            family(g, "push_failure_time_seconds").1,
        );
        assert_eq!(family(g, "f").1, pushed);
        assert!(pushed < failed);
        assert_eq!(gauge(g, "push_time_seconds"), pushed as f64 / 1e9);
        assert_eq!(gauge(g, "push_failure_time_seconds"), failed as f64 / 1e9);
        // To a new grouping key: the group exists, never pushed successfully.
        let g = group(&groups, "failed_new");
        let failed = family(g, "push_failure_time_seconds").1;
        assert_eq!(family(g, "push_time_seconds").1, failed);
        assert_eq!(gauge(g, "push_time_seconds"), 0.0);
        assert_eq!(gauge(g, "push_failure_time_seconds"), failed as f64 / 1e9);
        // An empty PUT leaves only the gateway's families.
        let g = group(&groups, "empty_body");
        assert!(gauge(g, "push_time_seconds") > 0.0);
        assert_eq!(gauge(g, "push_failure_time_seconds"), 0.0);
    }

    /// Everything the original's JSON API said about its store, compared with what was decoded
    /// from the file it wrote right after: the same groups, families, types, HELP, times to the
    /// nanosecond and sample values.
    fn assert_agrees_with_api(groups: &[UpstreamGroup], api: &str) {
        let doc: serde_json::Value = serde_json::from_str(api).unwrap();
        assert_eq!(doc["status"], "success");
        let data = doc["data"].as_array().unwrap();
        assert_eq!(data.len(), groups.len());
        let number = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
        let float_map = |v: &serde_json::Value| -> Vec<(f64, f64)> {
            let mut pairs: Vec<(f64, f64)> = v
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), number(v)))
                .collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            pairs
        };
        for entry in data {
            let entry = entry.as_object().unwrap();
            let labels: BTreeMap<String, String> =
                serde_json::from_value(entry["labels"].clone()).unwrap();
            let group = groups
                .iter()
                .find(|g| g.labels == labels)
                .unwrap_or_else(|| panic!("group {labels:?} not decoded"));
            let families: Vec<_> = entry
                .iter()
                .filter(|(k, _)| *k != "labels" && *k != "last_push_successful")
                .collect();
            assert_eq!(families.len(), group.families.len(), "{labels:?}");
            for (name, api_family) in families {
                let (f, at) = family(group, name);
                let time: jiff::Timestamp =
                    api_family["time_stamp"].as_str().unwrap().parse().unwrap();
                assert_eq!(time.as_nanosecond(), i128::from(*at), "{name}");
                assert_eq!(api_family["type"], f.r#type().upstream_name(), "{name}");
                assert_eq!(
                    api_family.get("help").map_or("", |h| h.as_str().unwrap()),
                    f.help(),
                    "{name}"
                );
                let metrics = api_family["metrics"].as_array().unwrap();
                assert_eq!(metrics.len(), f.metric.len(), "{name}");
                for (api_metric, m) in metrics.iter().zip(&f.metric) {
                    let api_labels: BTreeMap<String, String> =
                        serde_json::from_value(api_metric["labels"].clone()).unwrap();
                    assert_eq!(api_labels, metric_labels(m), "{name}");
                    let simple = match f.r#type() {
                        MetricType::Counter => m.counter.as_ref().map(|c| c.value()),
                        MetricType::Gauge => m.gauge.as_ref().map(|g| g.value()),
                        MetricType::Untyped => m.untyped.as_ref().map(|u| u.value()),
                        MetricType::Summary => {
                            let s = m.summary.as_ref().unwrap();
                            assert_eq!(api_metric["count"], s.sample_count().to_string());
                            assert!(same(number(&api_metric["sum"]), s.sample_sum()));
                            let quantiles: Vec<(f64, f64)> = s
                                .quantile
                                .iter()
                                .map(|q| (q.quantile(), q.value()))
                                .collect();
                            assert_eq!(float_map(&api_metric["quantiles"]), quantiles);
                            None
                        }
                        MetricType::Histogram | MetricType::GaugeHistogram => {
                            let h = m.histogram.as_ref().unwrap();
                            assert_eq!(api_metric["count"], h.sample_count().to_string());
                            assert!(same(number(&api_metric["sum"]), h.sample_sum()));
                            let buckets: Vec<(f64, f64)> = h
                                .bucket
                                .iter()
                                .map(|b| (b.upper_bound(), b.cumulative_count() as f64))
                                .collect();
                            assert_eq!(float_map(&api_metric["buckets"]), buckets);
                            None
                        }
                    };
                    if let Some(value) = simple {
                        assert!(
                            same(number(&api_metric["value"]), value),
                            "{name}: {api_metric}"
                        );
                    }
                }
            }
            // The API's verdict follows from the two timestamp families.
            let successful =
                gauge(group, "push_failure_time_seconds") <= gauge(group, "push_time_seconds");
            assert_eq!(entry["last_push_successful"], successful, "{labels:?}");
        }
    }

    #[test]
    fn the_fixture_agrees_with_the_originals_json_api() {
        assert_agrees_with_api(&read_snapshot(GROUPS).unwrap(), API);
    }

    /// A sample as the text exposition shows it: labels (empty values dropped) and numbers.
    fn sample(kind: MetricType, m: &Metric) -> (BTreeMap<String, String>, Vec<u64>) {
        let mut labels = metric_labels(m);
        labels.retain(|_, v| !v.is_empty());
        let bits = |v: f64| {
            if v.is_nan() {
                f64::NAN.to_bits()
            } else {
                v.to_bits()
            }
        };
        let numbers = match kind {
            MetricType::Counter => vec![m.counter.as_ref().unwrap().value()],
            MetricType::Gauge => vec![m.gauge.as_ref().unwrap().value()],
            MetricType::Untyped => vec![m.untyped.as_ref().unwrap().value()],
            MetricType::Summary => {
                let s = m.summary.as_ref().unwrap();
                let mut v = vec![s.sample_count() as f64, s.sample_sum()];
                v.extend(s.quantile.iter().flat_map(|q| [q.quantile(), q.value()]));
                v
            }
            MetricType::Histogram | MetricType::GaugeHistogram => {
                let h = m.histogram.as_ref().unwrap();
                let mut v = vec![h.sample_count() as f64, h.sample_sum()];
                v.extend(
                    h.bucket
                        .iter()
                        .flat_map(|b| [b.upper_bound(), b.cumulative_count() as f64]),
                );
                v
            }
        };
        (labels, numbers.into_iter().map(bits).collect())
    }

    #[test]
    fn the_fixture_agrees_with_the_originals_metrics_text() {
        let groups = read_snapshot(GROUPS).unwrap();
        let exposed =
            crate::parse::text::parse(METRICS.as_bytes(), crate::names::NameValidation::Legacy)
                .unwrap();
        let mut decoded: BTreeMap<&str, (MetricType, Vec<&Metric>)> = BTreeMap::new();
        for (f, _) in groups.iter().flat_map(|g| &g.families) {
            let entry = decoded.entry(f.name()).or_insert((f.r#type(), Vec::new()));
            assert_eq!(entry.0, f.r#type());
            entry.1.extend(&f.metric);
        }
        for (name, (kind, metrics)) in decoded {
            let shown = exposed
                .iter()
                .find(|f| f.name() == name)
                .unwrap_or_else(|| panic!("{name} not exposed"));
            assert_eq!(shown.r#type(), kind, "{name}");
            let mut want: Vec<_> = metrics.iter().map(|m| sample(kind, m)).collect();
            let mut got: Vec<_> = shown.metric.iter().map(|m| sample(kind, m)).collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{name}");
        }
    }

    /// Runs the installed original through the fixture script into a temporary directory and
    /// checks that what it wrote decodes to what its API said (`scripts/install-test-deps.sh`
    /// installs the original; without it this fails).
    #[test]
    fn a_fresh_snapshot_of_the_installed_original_agrees_with_its_api() {
        assert!(
            std::path::Path::new("/usr/bin/prometheus-pushgateway").exists(),
            "/usr/bin/prometheus-pushgateway is missing: run scripts/install-test-deps.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/make-upstream-snapshot.sh"
        );
        let out = std::process::Command::new(script)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |name| std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(read_snapshot(&read("empty.bak")).unwrap(), vec![]);
        let groups = read_snapshot(&read("groups.bak")).unwrap();
        assert_eq!(groups.len(), 7);
        assert_agrees_with_api(
            &groups,
            &String::from_utf8(read("api-v1-metrics.json")).unwrap(),
        );
    }

    #[test]
    fn a_zero_length_file_is_an_error_at_byte_0() {
        let err = read_snapshot(b"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "at byte 0: expected a value of type map[string]MetricGroup, found the end of the file"
        );
    }

    #[test]
    fn a_truncated_file_is_an_error_at_every_length() {
        for bytes in [EMPTY, GROUPS] {
            for len in 0..bytes.len() {
                match read_snapshot(&bytes[..len]) {
                    Err(ImportError::Gob(e)) => assert!(e.offset <= len, "{len}: {e}"),
                    Err(e) => panic!("{len}: {e}"),
                    Ok(_) => panic!("{len} bytes read as a whole snapshot"),
                }
            }
        }
        let err = read_snapshot(&GROUPS[..GROUPS.len() - 100]).unwrap_err();
        let ImportError::Gob(err) = err else {
            panic!("{err}")
        };
        let value = Stream::new(GROUPS).next_value().unwrap().unwrap();
        assert_eq!(
            err.offset, value.offset,
            "the value message is the last one"
        );
        assert!(err.expected.starts_with("a message of "), "{err}");
    }

    #[test]
    fn corrupted_bytes_give_errors_not_panics() {
        let mut bytes = GROUPS.to_vec();
        for i in 0..bytes.len() {
            let original = bytes[i];
            for replacement in [0x00, 0xff, original ^ 0x01] {
                bytes[i] = replacement;
                let _ = read_snapshot(&bytes);
            }
            bytes[i] = original;
        }
        assert_eq!(bytes, GROUPS);
    }

    #[test]
    fn garbage_and_other_files_are_refused() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(read_snapshot(&noise).is_err());
        let err = read_snapshot(b"SQLite format 3\0\x10\x00\x01\x01").unwrap_err();
        assert!(err.to_string().starts_with("at byte 0: expected "), "{err}");
        assert!(read_snapshot(b"# TYPE x counter\nx 1\n").is_err());
        assert!(read_snapshot(&[0xff; 64]).is_err());
    }

    #[test]
    fn a_stream_of_another_type_is_refused_by_name() {
        // type 65 = map[uint]string, then an empty value of it.
        let bytes = [
            11, 0xff, 0x81, 4, 1, 0, 1, 6, 1, 12, 0, 0, //
            4, 0xff, 0x82, 0, 0,
        ];
        let err = read_snapshot(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "at byte 12: expected a value of type map[string]MetricGroup, found a value of type map[uint]string"
        );
    }

    #[test]
    fn a_key_that_is_not_the_groups_grouping_key_is_refused() {
        let mut bytes = GROUPS.to_vec();
        let at = find(&bytes, b"job\xffmerge");
        bytes[at + 8] = b'a';
        let err = read_snapshot(&bytes).unwrap_err();
        assert!(
            err.to_string().contains(r#"expected the grouping key of the labels that follow, "job\xffmerge", found "job\xffmerga""#),
            "{err}"
        );
    }

    #[test]
    fn a_family_stored_under_another_name_is_refused() {
        let mut bytes = GROUPS.to_vec();
        let at = find(&bytes, b"\x07c_total");
        bytes[at + 7] = b'm';
        let err = read_snapshot(&bytes).unwrap_err();
        assert!(
            err.to_string().contains(r#"expected the metric family named by its key, "c_totam", found one named "c_total""#),
            "{err}"
        );
    }

    #[test]
    fn a_family_that_is_not_protobuf_is_an_error_naming_it() {
        let mut bytes = GROUPS.to_vec();
        // The first family's protobuf starts with field 1 (name): make it an invalid wire type.
        let at = find(&bytes, b"\x0a\x07c_total");
        bytes[at] = 0x0f;
        let err = read_snapshot(&bytes).unwrap_err();
        assert!(
            matches!(&err, ImportError::Family { name, .. } if name == "c_total"),
            "{err}"
        );
    }

    /// The types of a snapshot built by hand, laid out as the original never does: the
    /// group's fields in another order plus one the reader does not know (`Note`), the family
    /// before the time, the time a BinaryMarshaler. `group_fields` replaces MetricGroup's.
    fn handmade_types(group_fields: &[(&[u8], i64)]) -> Vec<u8> {
        use gob::testing::*;
        [
            map_def(65, b"GroupingKeyToMetricGroup", gob::STRING, 66),
            struct_def(66, b"", group_fields),
            map_def(67, b"map[string]string", gob::STRING, gob::STRING),
            map_def(68, b"NameToTimestampedMetricFamilyMap", gob::STRING, 69),
            struct_def(
                69,
                b"",
                &[(b"GobbableMetricFamily", 70), (b"Timestamp", 71)],
            ),
            encoder_def(70, b"", 5),
            encoder_def(71, b"Time", 6),
        ]
        .concat()
    }

    const HANDMADE_FIELDS: &[(&[u8], i64)] =
        &[(b"Metrics", 68), (b"Note", gob::STRING), (b"Labels", 67)];

    /// A family of a handmade snapshot: name, protobuf bytes, time bytes.
    type HandmadeFamily<'a> = (&'a str, Option<Vec<u8>>, Option<&'a [u8]>);

    /// The `Metrics` map's value: each family's name, protobuf and time, as gob writes them.
    fn metrics_field(families: &[HandmadeFamily<'_>]) -> Vec<u8> {
        use gob::testing::*;
        let mut value = uint(families.len() as u64);
        for (name, family, time) in families {
            value.extend(string(name.as_bytes()));
            if let Some(family) = family {
                value.push(1);
                value.extend(string(family));
            }
            if let Some(time) = time {
                value.push(if family.is_some() { 1 } else { 2 });
                value.extend(string(time));
            }
            value.push(0);
        }
        value
    }

    /// The `Labels` map's value.
    fn labels_field(labels: &[(&[u8], &[u8])]) -> Vec<u8> {
        use gob::testing::*;
        let mut value = uint(labels.len() as u64);
        for (name, v) in labels {
            value.extend(string(name));
            value.extend(string(v));
        }
        value
    }

    /// A handmade snapshot of one group `{job="x"}` holding `families` (name, protobuf,
    /// time), with a `Note` and the labels given.
    fn handmade(labels: &[(&str, &str)], families: &[HandmadeFamily<'_>]) -> Vec<u8> {
        use gob::testing::*;
        let mut value = int(65);
        value.extend([0, 1]); // singleton, one group
        value.extend(string(b"job\xffx"));
        value.push(1); // Metrics
        value.extend(metrics_field(families));
        value.push(1); // Note
        value.extend(string(b"skipped"));
        value.push(1); // Labels
        let labels: Vec<(&[u8], &[u8])> = labels
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        value.extend(labels_field(&labels));
        value.push(0);
        [handmade_types(HANDMADE_FIELDS), message(&[&value])].concat()
    }

    /// One group in Go's field order (labels, then families) with labels given as bytes and
    /// the map key given as is.
    fn go_ordered(
        key: &[u8],
        labels: &[(&[u8], &[u8])],
        families: &[HandmadeFamily<'_>],
    ) -> Vec<u8> {
        use gob::testing::*;
        let mut value = int(65);
        value.extend([0, 1]); // singleton, one group
        value.extend(string(key));
        value.push(1); // Labels
        value.extend(labels_field(labels));
        value.push(1); // Metrics
        value.extend(metrics_field(families));
        value.push(0);
        [
            handmade_types(&[(b"Labels", 67), (b"Metrics", 68)]),
            message(&[&value]),
        ]
        .concat()
    }

    #[test]
    fn a_group_whose_labels_are_not_utf8_is_handed_over_as_bytes_without_its_families() {
        // As the original stores PUT /metrics/job/%FF: the family carries job="\xff" too,
        // which protobuf cannot decode as a string.
        let mut family = up().encode_to_vec();
        let at = find(&family, b"\x0a\x03job\x12\x01x");
        family[at + 8] = 0xff;
        assert!(MetricFamily::decode(&family[..]).is_err());
        let up = ("up", Some(family), Some(&TIME_V1[..]));
        let bytes = go_ordered(
            b"job\xff\xff",
            &[(b"job", b"\xff")],
            std::slice::from_ref(&up),
        );
        let mut decoded = Vec::new();
        for_each_group(&bytes, |d| decoded.push(d)).unwrap();
        assert_eq!(
            decoded,
            [Decoded::NotUtf8 {
                labels: vec![(b"job".to_vec(), vec![0xff])]
            }]
        );
        assert_eq!(read_snapshot(&bytes).unwrap(), []);
        // Its key is still checked.
        let bytes = go_ordered(b"job\xff\xfe", &[(b"job", b"\xff")], &[up]);
        let err = for_each_group(&bytes, |_| {}).unwrap_err().to_string();
        assert!(
            err.contains(r#"expected the grouping key of the labels that follow, "job\xff\xff""#),
            "{err}"
        );
    }

    fn up() -> MetricFamily {
        MetricFamily {
            name: Some("up".to_owned()),
            r#type: Some(MetricType::Gauge as i32),
            metric: vec![Metric {
                label: vec![crate::proto::LabelPair::new("job", "x")],
                gauge: Some(crate::proto::Gauge { value: Some(1.0) }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        }
    }

    #[test]
    fn fields_are_matched_by_name_and_unknown_ones_skipped() {
        let bytes = handmade(
            &[("job", "x")],
            &[("up", Some(up().encode_to_vec()), Some(&TIME_V1))],
        );
        let at: jiff::Timestamp = "2026-11-23T03:02:27.873682561Z".parse().unwrap();
        assert_eq!(
            read_snapshot(&bytes).unwrap(),
            [UpstreamGroup {
                labels: labels(&[("job", "x")]),
                families: vec![(up(), at.as_nanosecond() as i64)],
            }]
        );
    }

    #[test]
    fn a_family_without_a_time_has_time_0() {
        let bytes = handmade(&[("job", "x")], &[("up", Some(up().encode_to_vec()), None)]);
        assert_eq!(read_snapshot(&bytes).unwrap()[0].families, [(up(), 0)]);
    }

    #[test]
    fn a_family_without_its_protobuf_is_refused() {
        let bytes = handmade(&[("job", "x")], &[("up", None, Some(&TIME_V1))]);
        let err = read_snapshot(&bytes).unwrap_err().to_string();
        assert!(
            err.ends_with("expected a GobbableMetricFamily, found none"),
            "{err}"
        );
    }

    #[test]
    fn a_label_or_family_given_twice_is_refused() {
        let bytes = handmade(&[("job", "x"), ("job", "x")], &[]);
        let err = read_snapshot(&bytes).unwrap_err().to_string();
        assert!(
            err.ends_with(r#"expected a new label name, found "job" again"#),
            "{err}"
        );
        let up = || ("up", Some(up().encode_to_vec()), None);
        let bytes = handmade(&[("job", "x")], &[up(), up()]);
        let err = read_snapshot(&bytes).unwrap_err().to_string();
        assert!(
            err.ends_with(r#"expected a new family name, found "up""#),
            "{err}"
        );
    }

    #[test]
    fn a_second_value_is_refused() {
        let mut bytes = handmade(&[("job", "x")], &[]);
        bytes.extend(gob::testing::message(&[&gob::testing::int(65), &[0, 0]]));
        let err = read_snapshot(&bytes).unwrap_err().to_string();
        assert!(
            err.ends_with("expected the end of the file, found a second value"),
            "{err}"
        );
    }

    #[test]
    fn a_group_type_without_labels_is_refused() {
        let mut bytes = handmade_types(&[(b"Metrics", 68)]);
        bytes.extend(gob::testing::message(&[&gob::testing::int(65), &[0, 0]]));
        let err = read_snapshot(&bytes).unwrap_err().to_string();
        assert!(
            err.ends_with("expected MetricGroup, a struct with Labels and Metrics, found type struct {Metrics}"),
            "{err}"
        );
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    }

    /// The timestamp of the spec's annotated dump (§6), version 1, zone offset 0.
    const TIME_V1: [u8; 15] = [
        1, 0, 0, 0, 0x0e, 0xe2, 0x95, 0xa3, 0xc3, 0x34, 0x13, 0x56, 0x81, 0, 0,
    ];

    #[test]
    fn both_time_formats_give_the_same_instant() {
        let instant: jiff::Timestamp = "2026-11-23T03:02:27.873682561Z".parse().unwrap();
        let want = instant.as_nanosecond() as i64;
        assert_eq!(go_time_unix_nanos(&TIME_V1), Ok(want));
        // Version 2 adds the zone offset's seconds (here +00:19:32, Amsterdam's LMT); the
        // instant is the same.
        let mut v2 = TIME_V1.to_vec();
        v2[0] = 2;
        v2[13..15].copy_from_slice(&19i16.to_be_bytes());
        v2.push(32);
        assert_eq!(go_time_unix_nanos(&v2), Ok(want));
    }

    #[test]
    fn odd_times_are_refused_and_the_zero_time_is_0() {
        let mut zero = [0u8; 15];
        zero[0] = 1;
        assert_eq!(go_time_unix_nanos(&zero), Ok(0));
        assert_eq!(go_time_unix_nanos(&[]), Err("no bytes".to_owned()));
        assert_eq!(
            go_time_unix_nanos(&TIME_V1[..14]),
            Err("14 bytes of format version 1".to_owned())
        );
        let mut v3 = TIME_V1;
        v3[0] = 3;
        assert_eq!(go_time_unix_nanos(&v3), Err("format version 3".to_owned()));
        let mut nanos = TIME_V1;
        nanos[9..13].copy_from_slice(&1_000_000_000u32.to_be_bytes());
        assert!(go_time_unix_nanos(&nanos).is_err());
        // Year 3000: beyond what i64 nanoseconds hold.
        let mut far = TIME_V1;
        far[1..9].copy_from_slice(&94_670_000_000i64.to_be_bytes());
        assert!(go_time_unix_nanos(&far).is_err());
    }
}

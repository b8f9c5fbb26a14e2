//! gzip for `/metrics`, compressed in segments that are kept from scrape to scrape.
//!
//! Compressing a whole large exposition at gzip's default level takes far longer than
//! serving it, and a faster level costs a third more bytes. So the exposition's
//! [`Piece`]s are cut into segments of about [`TARGET`] bytes, each compressed on its own as
//! raw deflate ending in a sync flush (so that segments can follow one another in one
//! stream), and kept with the identity of its pieces. A scrape compresses only the segments
//! whose pieces changed, and the gateway's own metrics, and joins everything into one gzip
//! member whose CRC is combined from the segments' CRCs.
//!
//! Where a segment starts depends only on its first piece: a piece starts one when the
//! fingerprint of its place, scaled by its size, falls under a threshold, so a push moves no
//! cut but the ones at its own pieces, and large pieces start a segment of their own. A
//! segment restarts deflate's 32 KiB window; at [`TARGET`] bytes that costs about 2%.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex, Weak};

use flate2::{Compress, Compression, Crc, FlushCompress};

use super::{Content, Encoding, Piece};
use crate::family::FamilyData;
use crate::names::Escaping;

/// The size a segment aims at.
pub const TARGET: usize = 512 << 10;
/// Below this many bytes to compress, one thread does it all.
const PARALLEL_FROM: usize = 1 << 20;

/// The gzip segments of every format and escaping that scrapers asked for.
#[derive(Debug, Default)]
pub struct GzipCache {
    variants: Mutex<HashMap<(Encoding, Escaping), Variant>>,
}

impl GzipCache {
    /// An empty cache.
    pub fn new() -> GzipCache {
        GzipCache::default()
    }

    /// `pieces` (laid out for `encoding` and `esc`) as one gzip member. Scrapes of the same
    /// format wait for one another here, so a changed segment is compressed once.
    pub fn compress(
        &self,
        encoding: Encoding,
        esc: Escaping,
        pieces: &[Piece],
    ) -> io::Result<Vec<u8>> {
        let variant = self
            .variants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((encoding, esc))
            .or_default()
            .clone();
        let mut segments = variant.lock().unwrap_or_else(|e| e.into_inner());
        segments.compress(pieces)
    }
}

/// One format's segments, locked while a scrape compresses.
type Variant = Arc<Mutex<Segments>>;

/// A compressed segment and the CRC of its bytes.
type Deflated = io::Result<(Vec<u8>, Crc)>;

/// The kept segments of one format, by the place of their first piece.
#[derive(Debug)]
struct Segments {
    kept: HashMap<u64, Segment>,
    /// The size segments aim at ([`TARGET`]; smaller in tests).
    target: usize,
    /// How many segments the last call compressed (the own metrics' included).
    compressed: usize,
}

impl Default for Segments {
    fn default() -> Segments {
        Segments {
            kept: HashMap::new(),
            target: TARGET,
            compressed: 0,
        }
    }
}

/// One compressed segment and what it was compressed from.
#[derive(Debug)]
struct Segment {
    tokens: Vec<Token>,
    deflated: Vec<u8>,
    crc: Crc,
}

/// The identity of a piece: its family (a weak reference keeps the address from being
/// reused while the segment is kept), or a header's bytes.
#[derive(Debug)]
enum Token {
    Family(Weak<FamilyData>),
    Header(Box<[u8]>),
}

impl Token {
    fn of(piece: &Piece) -> Option<Token> {
        match &piece.content {
            Content::Fresh(_) => None,
            Content::Header(b) => Some(Token::Header(b.clone().into_boxed_slice())),
            Content::Text(f) | Content::Rendered(f, _) => Some(Token::Family(Arc::downgrade(f))),
        }
    }

    fn matches(&self, piece: &Piece) -> bool {
        match (self, &piece.content) {
            (Token::Header(a), Content::Header(b)) => a[..] == b[..],
            (Token::Family(a), Content::Text(f) | Content::Rendered(f, _)) => {
                std::ptr::eq(a.as_ptr(), Arc::as_ptr(f))
            }
            _ => false,
        }
    }
}

impl Segments {
    fn compress(&mut self, pieces: &[Piece]) -> io::Result<Vec<u8>> {
        let cuts = cut(pieces, self.target);
        let mut kept = std::mem::take(&mut self.kept);
        // Each segment either found kept (same pieces) or to compress now.
        let mut found: Vec<Option<Segment>> = cuts
            .iter()
            .map(|range| {
                let first = &pieces[range.start];
                if first.is_fresh() {
                    return None;
                }
                let segment = kept.remove(&first.place)?;
                let same = segment.tokens.len() == range.len()
                    && segment
                        .tokens
                        .iter()
                        .zip(&pieces[range.clone()])
                        .all(|(t, p)| t.matches(p));
                same.then_some(segment)
            })
            .collect();
        drop(kept);
        let missing: Vec<usize> = (0..cuts.len()).filter(|&i| found[i].is_none()).collect();
        self.compressed = missing.len();
        let compressed = deflate_all(pieces, &cuts, &missing)?;
        for (i, (deflated, crc)) in missing.into_iter().zip(compressed) {
            let range = cuts[i].clone();
            let tokens = pieces[range].iter().filter_map(Token::of).collect();
            found[i] = Some(Segment {
                tokens,
                deflated,
                crc,
            });
        }

        let mut out = Vec::with_capacity(
            found
                .iter()
                .flatten()
                .map(|s| s.deflated.len())
                .sum::<usize>()
                + 32,
        );
        // The gzip header: deflate, no flags, no time, unknown OS.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut crc = Crc::new();
        for segment in found.iter().flatten() {
            out.extend_from_slice(&segment.deflated);
            crc.combine(&segment.crc);
        }
        // A final, empty block with fixed codes ends the deflate stream.
        out.extend_from_slice(&[0x03, 0x00]);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&crc.amount().to_le_bytes());

        for (range, segment) in cuts.iter().zip(found) {
            let first = &pieces[range.start];
            if let Some(segment) = segment.filter(|_| !first.is_fresh()) {
                self.kept.insert(first.place, segment);
            }
        }
        Ok(out)
    }
}

/// Whether `piece` starts a segment of its own: with a probability that grows with its size,
/// decided by its place's fingerprint (so the same piece decides the same way each time).
fn starts_segment(piece: &Piece, target: usize) -> bool {
    let odds = (piece.bytes().len() as u128 * u64::MAX as u128) / target as u128;
    (piece.place as u128) < odds
}

/// The segments: runs of the gateway's own (fresh) bytes alone, the rest cut where
/// [`starts_segment`] says or where a segment grew past four times `target`.
fn cut(pieces: &[Piece], target: usize) -> Vec<Range<usize>> {
    let mut cuts = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, piece) in pieces.iter().enumerate() {
        let boundary = i > 0
            && (piece.is_fresh()
                || pieces[i - 1].is_fresh()
                || starts_segment(piece, target)
                || size >= 4 * target);
        if boundary {
            cuts.push(start..i);
            start = i;
            size = 0;
        }
        size += piece.bytes().len();
    }
    if start < pieces.len() {
        cuts.push(start..pieces.len());
    }
    cuts
}

/// Compresses the segments `which` of `cuts`, on all cores when there is enough to do.
fn deflate_all(
    pieces: &[Piece],
    cuts: &[Range<usize>],
    which: &[usize],
) -> io::Result<Vec<(Vec<u8>, Crc)>> {
    let size = |i: &usize| -> usize {
        pieces[cuts[*i].clone()]
            .iter()
            .map(|p| p.bytes().len())
            .sum()
    };
    let total: usize = which.iter().map(size).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || total < PARALLEL_FROM || which.len() < 2 {
        return which
            .iter()
            .map(|&i| deflate(&pieces[cuts[i].clone()]))
            .collect();
    }
    // Deal the segments out to the threads, each taking the next one free.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Deflated)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = which.get(k) else { break };
                        done.push((k, deflate(&pieces[cuts[i].clone()])));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut ordered: Vec<Option<Deflated>> = which.iter().map(|_| None).collect();
    for (k, result) in results.into_iter().flatten() {
        ordered[k] = Some(result);
    }
    ordered
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("a compressing thread panicked"))))
        .collect()
}

/// One segment as raw deflate at the default level, ending in a sync flush (byte-aligned,
/// not final), and the CRC of its bytes.
fn deflate(pieces: &[Piece]) -> Deflated {
    let size: usize = pieces.iter().map(|p| p.bytes().len()).sum();
    let mut compress = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(size / 8 + 64);
    let mut crc = Crc::new();
    for piece in pieces {
        crc.update(piece.bytes());
        feed(&mut compress, piece.bytes(), &mut out, FlushCompress::None)?;
    }
    feed(&mut compress, &[], &mut out, FlushCompress::Sync)?;
    Ok((out, crc))
}

/// Feeds `input` to the compressor, growing `out` as needed; with a flush, until all its
/// output is written.
fn feed(
    compress: &mut Compress,
    input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> io::Result<()> {
    let mut consumed = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let before = compress.total_in();
        compress
            .compress_vec(&input[consumed..], out, flush)
            .map_err(io::Error::other)?;
        consumed += (compress.total_in() - before) as usize;
        // Done when all input is taken and the compressor stopped short of a full buffer.
        if consumed == input.len() && out.capacity() - out.len() >= 64 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;
    use crate::cache::{Cache, Group};
    use crate::exposition::{pieces, render, Snapshot};
    use crate::family::{sanitize, timestamp_family, PUSH_TIME};
    use crate::grouping_key::GroupingKey;
    use crate::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

    fn family(name: &str, help: Option<&str>, series: usize, value: f64) -> MetricFamily {
        MetricFamily {
            name: Some(name.to_string()),
            help: help.map(str::to_string),
            r#type: Some(MetricType::Gauge as i32),
            metric: (0..series)
                .map(|s| Metric {
                    label: vec![LabelPair::new("s", format!("series {s}"))],
                    gauge: Some(Gauge {
                        value: Some(value + s as f64),
                    }),
                    ..Default::default()
                })
                .collect(),
            unit: None,
        }
    }

    /// A group `job` with the families `pushed` (sanitised here) and its push time.
    fn group(id: i64, job: &str, pushed: Vec<MetricFamily>) -> Group {
        let key = GroupingKey::from_labels([("job".to_string(), job.to_string())]).unwrap();
        let mut families = BTreeMap::new();
        for mut f in pushed {
            sanitize(&mut f, &key);
            families.insert(f.name().to_string(), Arc::new(FamilyData::new(&f, id)));
        }
        let ts = timestamp_family(PUSH_TIME, id * 1_000_000_000, &key, id);
        families.insert(PUSH_TIME.to_string(), Arc::new(ts));
        Group {
            id,
            key_bytes: key.upstream_key().into(),
            key,
            families,
            last_push_ns: id,
            last_failure_ns: 0,
            created_ns: id,
            expires_ns: 0,
        }
    }

    fn key_bytes(job: &str) -> Vec<u8> {
        GroupingKey::from_labels([("job".to_string(), job.to_string())])
            .unwrap()
            .upstream_key()
    }

    /// The gateway's own families, different at every call as at every scrape.
    fn own(scrape: usize) -> Vec<MetricFamily> {
        let mut f = family("process_open_fds", None, 1, scrape as f64);
        f.metric[0].label.clear();
        vec![f]
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A single-member reader: more than one member would show as missing bytes.
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    const VARIANTS: [(Encoding, Escaping); 5] = [
        (Encoding::Text, Escaping::Underscores),
        (Encoding::Text, Escaping::AllowUtf8),
        (Encoding::Text, Escaping::Values),
        (Encoding::Protobuf, Escaping::Dots),
        (Encoding::OpenMetrics, Escaping::Underscores),
    ];

    /// Compresses the cache's exposition with `segments` and checks it against a fresh render.
    fn check(segments: &mut Segments, cache: &Cache, scrape: usize, variant: (Encoding, Escaping)) {
        let own = own(scrape);
        let snapshot = Snapshot::take(cache);
        let laid = pieces(&snapshot, &own, variant.0, variant.1);
        let gz = segments.compress(&laid).unwrap();
        let fresh = render(cache, &own, variant.0, variant.1);
        assert_eq!(gunzip(&gz), fresh, "{variant:?}, scrape {scrape}");
    }

    #[test]
    fn kept_segments_give_what_a_fresh_render_gives_after_every_kind_of_change() {
        for variant in VARIANTS {
            let mut segments = Segments {
                target: 512,
                ..Segments::default()
            };
            let mut cache = Cache::new();
            for i in 0..40 {
                let job = format!("job{i:02}");
                cache.put_group(group(i, &job, vec![family("m", Some("Help."), 5, 1.0)]));
            }
            let mut scrape = 0;
            let mut step = |cache: &Cache| {
                scrape += 1;
                check(&mut segments, cache, scrape, variant);
            };
            step(&cache);
            step(&cache);
            // A group's family replaced (PUT), with new values.
            cache.put_group(group(50, "job07", vec![family("m", Some("Help."), 5, 9.0)]));
            step(&cache);
            // A family added to a group (POST), a name of its own, with a UTF-8 name.
            cache.put_group(group(
                51,
                "job07",
                vec![
                    family("m", Some("Help."), 5, 9.0),
                    family("n.utf8", None, 2, 3.0),
                ],
            ));
            step(&cache);
            // A new group, first in order, whose HELP becomes the name's.
            cache.put_group(group(
                52,
                "a-first",
                vec![family("m", Some("Other."), 3, 2.0)],
            ));
            step(&cache);
            // A group removed; a pushed family merged with an own family.
            cache.remove_group(&key_bytes("job12"));
            cache.put_group(group(
                53,
                "job13",
                vec![family("process_open_fds", None, 1, 4.0)],
            ));
            step(&cache);
            // Everything gone.
            for i in 0..60 {
                cache.remove_group(&key_bytes(&format!("job{i:02}")));
            }
            cache.remove_group(&key_bytes("a-first"));
            step(&cache);
        }
    }

    #[test]
    fn a_change_to_one_group_compresses_only_its_segments_again() {
        let mut segments = Segments {
            target: 2048,
            ..Segments::default()
        };
        let mut cache = Cache::new();
        for i in 0..300 {
            let job = format!("job{i:03}");
            cache.put_group(group(i, &job, vec![family("m", None, 10, 1.0)]));
        }
        let variant = (Encoding::Text, Escaping::Underscores);
        check(&mut segments, &cache, 1, variant);
        let all = segments.compressed;
        assert!(all > 20, "{all} segments");
        check(&mut segments, &cache, 2, variant);
        // Only the own metrics.
        assert_eq!(segments.compressed, 1);
        cache.put_group(group(400, "job123", vec![family("m", None, 10, 5.0)]));
        check(&mut segments, &cache, 3, variant);
        // Own metrics, and the segments of the group's `m` and `push_time_seconds`.
        assert!(segments.compressed <= 3, "{} of {all}", segments.compressed);
    }

    #[test]
    fn segments_aim_at_the_target_size() {
        let mut cache = Cache::new();
        for i in 0..2000 {
            let job = format!("job{i:04}");
            cache.put_group(group(i, &job, vec![family("m", None, 4, 1.0)]));
        }
        let snapshot = Snapshot::take(&cache);
        let laid = pieces(&snapshot, &[], Encoding::Text, Escaping::Underscores);
        let total: usize = laid.iter().map(|p| p.bytes().len()).sum();
        let target = 16 * 1024;
        let cuts = cut(&laid, target);
        let mean = total / cuts.len();
        assert!(
            (target / 3..target * 3).contains(&mean),
            "{} segments of {mean} bytes on average",
            cuts.len()
        );
    }
}

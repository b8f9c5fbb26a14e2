//! Strict parser for the Prometheus text exposition format 0.0.4, used for push bodies.
//!
//! Upstream Pushgateway 1.11.3 parses every non-protobuf push with prometheus/common
//! v0.69.0 `expfmt.TextParser`, and clients see its verdicts and error texts on the wire.
//! The obvious crate, prometheus-parse, silently drops valid samples and accepts much of
//! what Prometheus rejects (checked against the original on 56 inputs when the project started), so this module is our own byte-level
//! parser that accepts and rejects exactly what upstream does, with the same messages and
//! line numbers (`text format parsing error in line N: ...`).
//!
//! The output is the crate's protobuf model, so text and protobuf pushes share one path.
//! The parser only parses: it does not sort labels, reject timestamps or `__`-prefixed
//! label names, or detect duplicate series; the push validation does that afterwards.
//!
//! Known, deliberate differences from upstream, all in lines that start with `{`:
//! * A line whose braces hold no metric name (`{a="b"} 1`) is always `invalid metric name`.
//!   Upstream says so only on the first sample line; later it appends the labels to the
//!   previous line's metric object, or crashes on a nil one.
//! * A summary/histogram line named inside braces (`{"h_bucket",le="1"} 2`) is grouped by
//!   its own labels. Upstream resets its per-line bookkeeping only when the *previous*
//!   line's family is a summary/histogram, so after another family's line it reuses stale
//!   labels and `le`/`quantile` values, or crashes on a nil map.
//!
//! Labels written before the name inside braces (`{a="b","name"}`) are checked against
//! the family of the previous line, as upstream does; that decides error messages and
//! whether `le`/`quantile` are consumed. Upstream's own `invalid label value` and
//! `invalid metric name` checks reject invalid UTF-8 in label values and names; our one
//! addition is `invalid UTF-8 in HELP text`, since HELP must become a Rust string.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::go_strconv::{quote, quote_bytes};
use crate::names::NameValidation;
use crate::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Untyped,
};

/// A rejected body: the 1-based line upstream would report, and upstream's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextParseError {
    /// Line number as upstream counts it (the line being read when parsing stopped).
    pub line: usize,
    /// Upstream's message text, without the `text format parsing error` prefix.
    pub message: String,
}

impl fmt::Display for TextParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "text format parsing error in line {}: {}",
            self.line, self.message
        )
    }
}

impl std::error::Error for TextParseError {}

/// Parses a whole text-format body into metric families.
///
/// Families come out in order of first appearance (HELP, TYPE or sample line); families
/// without samples are dropped; every family has its `type` set. Label pairs keep their
/// input order. `names` selects legacy or UTF-8 name validation, as upstream's
/// `--push.enable-utf8-names` does.
pub fn parse(input: &[u8], names: NameValidation) -> Result<Vec<MetricFamily>, TextParseError> {
    parse_limited(input, names, None).map_err(|refusal| match refusal {
        TextRefusal::Invalid(e) => e,
        // No limit was given; kept total rather than assumed away.
        TextRefusal::TooManySeries(max) => TextParseError {
            line: 0,
            message: format!("more than {max} series"),
        },
    })
}

/// Why [`parse_limited`] refused a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextRefusal {
    /// Not valid text format, as [`parse`] says.
    Invalid(TextParseError),
    /// The body holds more series than the limit; parsing stopped there, so a huge body
    /// never becomes a huge set of metrics in memory.
    TooManySeries(usize),
}

/// [`parse`], stopping as soon as the body has more than `max_series` series (metrics, as
/// `/metrics` would count them) when a limit is given.
pub fn parse_limited(
    input: &[u8],
    names: NameValidation,
    max_series: Option<usize>,
) -> Result<Vec<MetricFamily>, TextRefusal> {
    let mut parser = Parser::new(input, names);
    parser.max_series = max_series.unwrap_or(usize::MAX);
    let invalid = |line, message| TextRefusal::Invalid(TextParseError { line, message });
    match parser.run() {
        Ok(()) => Ok(parser.finish()),
        Err(Fail::TooManySeries) => Err(TextRefusal::TooManySeries(parser.max_series)),
        Err(Fail::Eof) => Err(invalid(
            parser.line,
            "unexpected end of input stream".to_owned(),
        )),
        Err(Fail::Msg(message)) => Err(invalid(parser.line, message)),
    }
}

/// Why parsing stopped. The line number is added by [`parse`] from the parser's position.
#[derive(Debug)]
enum Fail {
    /// Input ended in the middle of a line (every line must end with `\n`).
    Eof,
    /// A syntax or validation error with upstream's message.
    Msg(String),
    /// More series than the caller's limit.
    TooManySeries,
}

type Step<T = ()> = Result<T, Fail>;

fn fail<T>(message: String) -> Step<T> {
    Err(Fail::Msg(message))
}

/// What a sample line's name means for its family, decided when the name is resolved.
/// `s_count` under `# TYPE s summary` is the count of `s`, not a family of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    SummaryCount,
    SummarySum,
    HistogramCount,
    HistogramSum,
}

/// Which token rules a name follows: label names may not contain `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Metric,
    Label,
}

impl NameKind {
    /// Bytes that may start a name. `"` opens a quoted segment (UTF-8 names), which may
    /// also appear later in an otherwise unquoted name.
    fn is_start(self, b: u8) -> bool {
        b.is_ascii_alphabetic() || b == b'_' || b == b'"' || (self == NameKind::Metric && b == b':')
    }

    /// Bytes that continue an unquoted name. Inside quotes every byte continues it.
    fn is_continuation(self, b: u8) -> bool {
        self.is_start(b) || b.is_ascii_digit()
    }

    fn word(self) -> &'static str {
        match self {
            NameKind::Metric => "metric",
            NameKind::Label => "label",
        }
    }
}

/// A family being built, plus the index of its summary/histogram series by label set
/// (upstream groups `_bucket`/`_sum`/`_count`/quantile lines by their other labels).
struct FamilyState {
    family: MetricFamily,
    kind: Option<MetricType>,
    series: HashMap<Vec<(String, String)>, usize>,
}

/// Per-line state of a sample line.
struct SampleLine {
    /// Resolved family index and what the name means in it; `None` until the name is read
    /// (possible only for names written inside the braces).
    family: Option<(usize, Role)>,
    /// Labels stored on the metric: every label except a summary's `quantile` and a
    /// histogram's `le`.
    pairs: Vec<LabelPair>,
    /// The names in `pairs`, once there are more than a few: a line of 100,000 labels must
    /// not compare each name with every earlier one.
    names: Option<HashSet<String>>,
    /// The summary's `quantile` value; NaN means absent (so `quantile="NaN"` adds no
    /// quantile, as upstream).
    quantile: f64,
    /// The histogram's `le` value; NaN means absent, as for `quantile`.
    bucket: f64,
}

impl SampleLine {
    /// Below this many labels a scan is cheaper than a set.
    const SCAN_LIMIT: usize = 16;

    /// Notes a label name about to be pushed to `pairs`; false if the line already has it.
    fn add_name(&mut self, name: &str) -> bool {
        if let Some(names) = &mut self.names {
            return names.insert(name.to_owned());
        }
        if self
            .pairs
            .iter()
            .any(|pair| pair.name.as_deref() == Some(name))
        {
            return false;
        }
        if self.pairs.len() >= SampleLine::SCAN_LIMIT {
            let mut names: HashSet<String> =
                self.pairs.iter().filter_map(|p| p.name.clone()).collect();
            names.insert(name.to_owned());
            self.names = Some(names);
        }
        true
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// The most recently read byte; upstream's state machine is driven by it.
    cur: u8,
    line: usize,
    names: NameValidation,
    families: Vec<FamilyState>,
    by_name: HashMap<String, usize>,
    /// The family most recently named by any line. Labels read before a sample line has
    /// named its family (`{a="b","name"}`) are interpreted against it, as upstream does.
    current: Option<usize>,
    /// Series (metrics) read so far, and the most allowed.
    series: usize,
    max_series: usize,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8], names: NameValidation) -> Self {
        Parser {
            input,
            pos: 0,
            cur: 0,
            line: 0,
            names,
            families: Vec::new(),
            by_name: HashMap::new(),
            current: None,
            series: 0,
            max_series: usize::MAX,
        }
    }

    /// Reads the next byte into `cur`.
    fn advance(&mut self) -> Step {
        match self.input.get(self.pos) {
            Some(&b) => {
                self.cur = b;
                self.pos += 1;
                Ok(())
            }
            None => Err(Fail::Eof),
        }
    }

    /// Reads until `cur` is neither a space nor a tab.
    fn skip_blanks(&mut self) -> Step {
        loop {
            self.advance()?;
            if !is_blank(self.cur) {
                return Ok(());
            }
        }
    }

    fn skip_blanks_if_on_blank(&mut self) -> Step {
        if is_blank(self.cur) {
            self.skip_blanks()?;
        }
        Ok(())
    }

    /// Collects bytes from `cur` up to (not including) the next blank or newline.
    fn token_until_blank(&mut self) -> Step<Vec<u8>> {
        let mut token = Vec::new();
        while !is_blank(self.cur) && self.cur != b'\n' {
            token.push(self.cur);
            self.advance()?;
        }
        Ok(token)
    }

    /// Collects bytes from `cur` up to the newline. With `escapes` (HELP text) `\\`, `\n`
    /// and `\"` are decoded and other escapes are errors; without, a backslash is dropped,
    /// which is what upstream does to TYPE values and text after a timestamp.
    fn token_until_newline(&mut self, escapes: bool) -> Step<Vec<u8>> {
        let mut token = Vec::new();
        let mut escaped = false;
        loop {
            if escapes && escaped {
                match self.cur {
                    b'\\' | b'"' => token.push(self.cur),
                    b'n' => token.push(b'\n'),
                    other => return fail(invalid_escape(other)),
                }
                escaped = false;
            } else {
                match self.cur {
                    b'\n' => return Ok(token),
                    b'\\' => escaped = true,
                    other => token.push(other),
                }
            }
            self.advance()?;
        }
    }

    /// Reads a metric or label name starting at `cur`. Quoted segments may hold any byte
    /// (with `\\`, `\n`, `\"` escapes) and may appear anywhere in the name, as upstream's
    /// lexer allows. Returns an empty token when `cur` cannot start a name.
    fn read_name(&mut self, kind: NameKind) -> Step<Vec<u8>> {
        let mut token = Vec::new();
        if !kind.is_start(self.cur) {
            return Ok(token);
        }
        let mut quoted = false;
        let mut escaped = false;
        loop {
            if escaped {
                match self.cur {
                    b'\\' | b'"' => token.push(self.cur),
                    b'n' => token.push(b'\n'),
                    other => return fail(invalid_escape(other)),
                }
                escaped = false;
            } else {
                match self.cur {
                    b'"' => {
                        quoted = !quoted;
                        if !quoted {
                            self.advance()?;
                            return Ok(token);
                        }
                    }
                    b'\n' => {
                        return fail(format!(
                            "{} name {} contains unescaped new-line",
                            kind.word(),
                            quote_bytes(&token)
                        ));
                    }
                    b'\\' => escaped = true,
                    other => token.push(other),
                }
            }
            self.advance()?;
            if !quoted && !kind.is_continuation(self.cur) {
                return Ok(token);
            }
        }
    }

    /// Reads a label value after its opening quote; `cur` ends on the closing quote.
    fn read_label_value(&mut self) -> Step<Vec<u8>> {
        let mut token = Vec::new();
        let mut escaped = false;
        loop {
            self.advance()?;
            if escaped {
                match self.cur {
                    b'\\' | b'"' => token.push(self.cur),
                    b'n' => token.push(b'\n'),
                    other => return fail(invalid_escape(other)),
                }
                escaped = false;
                continue;
            }
            match self.cur {
                b'"' => return Ok(token),
                b'\n' => {
                    return fail(format!(
                        "label value {} contains unescaped new-line",
                        quote_bytes(&token)
                    ));
                }
                b'\\' => escaped = true,
                other => token.push(other),
            }
        }
    }

    /// Runs the line loop until the input ends cleanly (at the start of a line).
    fn run(&mut self) -> Step {
        loop {
            self.line += 1;
            match self.skip_blanks() {
                Ok(()) => {}
                // Running out of input between lines (even after blanks) is the normal end.
                Err(Fail::Eof) => return Ok(()),
                Err(other) => return Err(other),
            }
            match self.cur {
                b'\n' => {}
                b'#' => self.comment_line()?,
                b'{' => self.sample_line(true)?,
                _ => self.sample_line(false)?,
            }
        }
    }

    /// `# HELP name text`, `# TYPE name type`, or any other comment. `cur` is the `#`.
    fn comment_line(&mut self) -> Step {
        self.skip_blanks()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        let keyword = self.token_until_blank()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        let is_help = match keyword.as_slice() {
            b"HELP" => true,
            b"TYPE" => false,
            _ => {
                while self.cur != b'\n' {
                    self.advance()?;
                }
                return Ok(());
            }
        };
        self.skip_blanks()?;
        let name = self.read_name(NameKind::Metric)?;
        // `# HELP name` and `# TYPE name` without anything after them are ignored.
        if self.cur == b'\n' {
            return Ok(());
        }
        if !is_blank(self.cur) {
            return fail("invalid metric name in comment".to_owned());
        }
        let (index, _) = self.resolve_family(&name)?;
        self.skip_blanks()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        if is_help {
            self.help_text(index)
        } else {
            self.type_hint(index)
        }
    }

    fn help_text(&mut self, index: usize) -> Step {
        let state = self.family(index)?;
        if state.family.help.is_some() {
            return fail(format!(
                "second HELP line for metric name {}",
                quote(family_name(state))
            ));
        }
        let text = self.token_until_newline(true)?;
        let text =
            String::from_utf8(text).or_else(|_| fail("invalid UTF-8 in HELP text".to_owned()))?;
        self.family(index)?.family.help = Some(text);
        Ok(())
    }

    fn type_hint(&mut self, index: usize) -> Step {
        let state = self.family(index)?;
        if state.kind.is_some() {
            return fail(format!(
                "second TYPE line for metric name {}, or TYPE reported after samples",
                quote(family_name(state))
            ));
        }
        let token = self.token_until_newline(false)?;
        let Some(kind) = metric_type_from_hint(&token) else {
            return fail(format!("unknown metric type {}", quote_bytes(&token)));
        };
        self.family(index)?.kind = Some(kind);
        Ok(())
    }

    fn family(&mut self, index: usize) -> Step<&mut FamilyState> {
        // Indices come from `resolve_family`, so this cannot fail; report rather than panic.
        self.families
            .get_mut(index)
            .ok_or_else(|| Fail::Msg("internal error: unknown metric family".to_owned()))
    }

    /// Finds or creates the family a metric name belongs to, validating the name.
    ///
    /// `x_count`/`x_sum` attach to an existing summary `x`, and `x_bucket`/`x_count`/`x_sum`
    /// to an existing (gauge) histogram `x`, unless a family named exactly `x_count` etc.
    /// already exists. Like upstream, HELP and TYPE lines resolve names the same way.
    fn resolve_family(&mut self, name: &[u8]) -> Step<(usize, Role)> {
        let (index, role) = self.find_or_create_family(name)?;
        self.current = Some(index);
        Ok((index, role))
    }

    fn find_or_create_family(&mut self, name: &[u8]) -> Step<(usize, Role)> {
        let name = match std::str::from_utf8(name) {
            Ok(name) if self.names.is_valid_metric_name(name) => name,
            _ => return fail(format!("invalid metric name {}", quote_bytes(name))),
        };
        if let Some(&index) = self.by_name.get(name) {
            return Ok((index, Role::Plain));
        }
        if let Some((base, suffix)) = split_series_suffix(name) {
            if let Some(&index) = self.by_name.get(base) {
                let role = match (self.kind_of(index), suffix) {
                    (Some(MetricType::Summary), Suffix::Count) => Some(Role::SummaryCount),
                    (Some(MetricType::Summary), Suffix::Sum) => Some(Role::SummarySum),
                    (Some(MetricType::Histogram | MetricType::GaugeHistogram), suffix) => {
                        Some(match suffix {
                            Suffix::Count => Role::HistogramCount,
                            Suffix::Sum => Role::HistogramSum,
                            Suffix::Bucket => Role::Plain,
                        })
                    }
                    _ => None,
                };
                if let Some(role) = role {
                    return Ok((index, role));
                }
            }
        }
        let index = self.families.len();
        self.families.push(FamilyState {
            family: MetricFamily {
                name: Some(name.to_owned()),
                ..MetricFamily::default()
            },
            kind: None,
            series: HashMap::new(),
        });
        self.by_name.insert(name.to_owned(), index);
        Ok((index, Role::Plain))
    }

    /// Resolves a sample's metric name; a family gets its (untyped) type at its first
    /// sample, which is why a later TYPE line for it is rejected.
    fn resolve_sample_family(&mut self, name: &[u8]) -> Step<(usize, Role)> {
        let (index, role) = self.resolve_family(name)?;
        let state = self.family(index)?;
        state.kind.get_or_insert(MetricType::Untyped);
        Ok((index, role))
    }

    fn kind_of(&self, index: usize) -> Option<MetricType> {
        self.families.get(index).and_then(|state| state.kind)
    }

    /// The name upstream puts in label errors: the current family's, or `""` before any.
    fn current_name(&self) -> String {
        self.current
            .and_then(|index| self.families.get(index))
            .map(|state| family_name(state).to_owned())
            .unwrap_or_default()
    }

    /// A sample line; `cur` is its first byte. With `in_braces` the line starts with `{`
    /// and the metric name is one of the unlabelled entries inside the braces.
    fn sample_line(&mut self, in_braces: bool) -> Step {
        let mut line = SampleLine {
            family: None,
            pairs: Vec::new(),
            names: None,
            quantile: f64::NAN,
            bucket: f64::NAN,
        };
        if in_braces {
            self.label_set(&mut line, true)?;
        } else {
            let name = self.read_name(NameKind::Metric)?;
            if name.is_empty() {
                return fail("invalid metric name".to_owned());
            }
            line.family = Some(self.resolve_sample_family(&name)?);
            self.skip_blanks_if_on_blank()?;
            if self.cur == b'{' {
                self.label_set(&mut line, false)?;
            }
        }
        self.value_and_timestamp(line)
    }

    /// Reads `{...}`; `cur` is the `{` and ends on the first byte after the braces and
    /// any blanks.
    fn label_set(&mut self, line: &mut SampleLine, in_braces: bool) -> Step {
        let mut name_seen = false;
        loop {
            self.skip_blanks()?;
            if self.cur == b'}' {
                return self.close_label_set(line);
            }
            let token = self.read_name(NameKind::Label)?;
            if token.is_empty() {
                return fail(format!(
                    "invalid label name for metric {}",
                    quote(&self.current_name())
                ));
            }
            self.skip_blanks_if_on_blank()?;
            if self.cur != b'=' {
                if !in_braces {
                    return fail(format!(
                        "expected '=' after label name, found {}",
                        quote_byte(self.cur)
                    ));
                }
                if name_seen {
                    return fail(format!(
                        "multiple metric names for metric {}",
                        quote(&self.current_name())
                    ));
                }
                match self.cur {
                    b',' | b'}' => {
                        let family = self.resolve_sample_family(&token)?;
                        line.family = Some(family);
                        name_seen = true;
                        if self.cur == b'}' {
                            return self.close_label_set(line);
                        }
                        continue;
                    }
                    other => {
                        return fail(format!(
                            "unexpected end of metric name {}",
                            quote_byte(other)
                        ));
                    }
                }
            }
            let value = self.label_pair(line, &token)?;
            self.skip_blanks()?;
            match self.cur {
                b',' => {}
                b'}' => return self.close_label_set(line),
                _ => return fail(format!("unexpected end of label value {}", quote(&value))),
            }
        }
    }

    fn close_label_set(&mut self, line: &SampleLine) -> Step {
        if line.family.is_none() {
            return fail("invalid metric name".to_owned());
        }
        self.skip_blanks()
    }

    /// One `name="value"` entry; `cur` is the `=` and ends on the closing quote. Returns
    /// the value, which upstream quotes if the entry is not properly terminated.
    fn label_pair(&mut self, line: &mut SampleLine, name: &[u8]) -> Step<String> {
        if name == b"__name__" {
            return fail("label name \"__name__\" is reserved".to_owned());
        }
        let name = match std::str::from_utf8(name) {
            Ok(name) if self.names.is_valid_label_name(name) => name.to_owned(),
            _ => return fail(format!("invalid label name {}", quote_bytes(name))),
        };
        let kind = self.current.and_then(|index| self.kind_of(index));
        let special = special_label(kind, &name);
        if special.is_none() {
            if !line.add_name(&name) {
                return fail(format!(
                    "duplicate label names for metric {}",
                    quote(&self.current_name())
                ));
            }
            line.pairs.push(LabelPair {
                name: Some(name),
                value: None,
            });
        }
        self.skip_blanks()?;
        if self.cur != b'"' {
            return fail(format!(
                "expected '\"' at start of label value, found {}",
                quote_byte(self.cur)
            ));
        }
        let value = self.read_label_value()?;
        let value = match String::from_utf8(value) {
            Ok(value) => value,
            Err(err) => {
                return fail(format!(
                    "invalid label value {}",
                    quote_bytes(err.as_bytes())
                ));
            }
        };
        match special {
            Some(special) => set_special(line, special, &value)?,
            None => {
                if let Some(pair) = line.pairs.last_mut() {
                    pair.value = Some(value.clone());
                }
            }
        }
        Ok(value)
    }

    /// The value (starting at `cur`), the optional timestamp, and the end of the line.
    fn value_and_timestamp(&mut self, line: SampleLine) -> Step {
        let Some((index, role)) = line.family else {
            return fail("invalid metric name".to_owned());
        };
        let token = self.token_until_blank()?;
        let Some(value) = parse_go_float(&token) else {
            return fail(format!(
                "expected float as value, got {}",
                quote_bytes(&token)
            ));
        };
        let state = self.family(index)?;
        let kind = state.kind.unwrap_or(MetricType::Untyped);
        let before = state.family.metric.len();
        let metric_index = state.metric_index(kind, line.pairs);
        if state.family.metric.len() > before {
            self.series += 1;
            if self.series > self.max_series {
                return Err(Fail::TooManySeries);
            }
        }
        let state = self.family(index)?;
        let name = state.family.name.as_deref().unwrap_or_default();
        if let Some(metric) = state.family.metric.get_mut(metric_index) {
            let sample = Sample {
                kind,
                role,
                quantile: line.quantile,
                bucket: line.bucket,
                value,
            };
            sample.apply(metric, name)?;
        }
        if self.cur == b'\n' {
            return Ok(());
        }
        self.skip_blanks()?;
        let token = self.token_until_blank()?;
        let timestamp = std::str::from_utf8(&token)
            .ok()
            .and_then(|text| text.parse::<i64>().ok());
        let Some(timestamp) = timestamp else {
            return fail(format!(
                "expected integer as timestamp, got {}",
                quote_bytes(&token)
            ));
        };
        // A grouped summary/histogram series takes the timestamp of its latest line.
        if let Some(metric) = self.family(index)?.family.metric.get_mut(metric_index) {
            metric.timestamp_ms = Some(timestamp);
        }
        let rest = self.token_until_newline(false)?;
        if !rest.is_empty() {
            return fail(format!(
                "spurious string after timestamp: {}",
                quote_bytes(&rest)
            ));
        }
        Ok(())
    }

    /// The families in order of first appearance, without the empty ones, with float
    /// histograms normalised.
    fn finish(self) -> Vec<MetricFamily> {
        self.families
            .into_iter()
            .filter(|state| !state.family.metric.is_empty())
            .map(|state| {
                let mut family = state.family;
                family.r#type = Some(state.kind.unwrap_or(MetricType::Untyped) as i32);
                for metric in &mut family.metric {
                    if let Some(histogram) = metric.histogram.as_mut() {
                        normalize_histogram(histogram);
                    }
                }
                family
            })
            .collect()
    }
}

/// The suffixes that attach a sample to a summary or histogram family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    Count,
    Sum,
    Bucket,
}

/// Splits `x_count`, `x_sum`, `x_bucket` into `x` and the suffix (`x` must be non-empty).
fn split_series_suffix(name: &str) -> Option<(&str, Suffix)> {
    [
        ("_count", Suffix::Count),
        ("_sum", Suffix::Sum),
        ("_bucket", Suffix::Bucket),
    ]
    .into_iter()
    .find_map(|(text, suffix)| {
        name.strip_suffix(text)
            .filter(|base| !base.is_empty())
            .map(|base| (base, suffix))
    })
}

fn family_name(state: &FamilyState) -> &str {
    state.family.name.as_deref().unwrap_or_default()
}

impl FamilyState {
    /// The metric a sample line writes to: a new one, or for summaries and histograms the
    /// existing series with the same labels (compared as a set, like upstream's signature).
    fn metric_index(&mut self, kind: MetricType, pairs: Vec<LabelPair>) -> usize {
        let grouped = matches!(
            kind,
            MetricType::Summary | MetricType::Histogram | MetricType::GaugeHistogram
        );
        if !grouped {
            self.family.metric.push(Metric {
                label: pairs,
                ..Metric::default()
            });
            return self.family.metric.len() - 1;
        }
        let mut key: Vec<(String, String)> = pairs
            .iter()
            .map(|pair| {
                (
                    pair.name.clone().unwrap_or_default(),
                    pair.value.clone().unwrap_or_default(),
                )
            })
            .collect();
        key.sort();
        if let Some(&index) = self.series.get(&key) {
            return index;
        }
        let index = self.family.metric.len();
        self.family.metric.push(Metric {
            label: pairs,
            ..Metric::default()
        });
        self.series.insert(key, index);
        index
    }
}

/// The labels that summaries and histograms consume instead of storing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Quantile,
    Bucket,
}

fn special_label(kind: Option<MetricType>, name: &str) -> Option<Special> {
    match (kind, name) {
        (Some(MetricType::Summary), "quantile") => Some(Special::Quantile),
        (Some(MetricType::Histogram | MetricType::GaugeHistogram), "le") => Some(Special::Bucket),
        _ => None,
    }
}

fn set_special(line: &mut SampleLine, special: Special, value: &str) -> Step {
    let (slot, label) = match special {
        Special::Quantile => (&mut line.quantile, "quantile"),
        Special::Bucket => (&mut line.bucket, "le"),
    };
    match parse_go_float(value.as_bytes()) {
        Some(parsed) => {
            *slot = parsed;
            Ok(())
        }
        None => fail(format!(
            "expected float as value for '{label}' label, got {}",
            quote(value)
        )),
    }
}

/// One parsed sample value and what it means for its metric.
struct Sample {
    kind: MetricType,
    role: Role,
    quantile: f64,
    bucket: f64,
    value: f64,
}

impl Sample {
    fn apply(&self, metric: &mut Metric, family: &str) -> Step {
        let value = self.value;
        match self.kind {
            MetricType::Counter => {
                metric.counter = Some(Box::new(Counter {
                    value: Some(value),
                    ..Counter::default()
                }));
            }
            MetricType::Gauge => metric.gauge = Some(Gauge { value: Some(value) }),
            MetricType::Untyped => metric.untyped = Some(Untyped { value: Some(value) }),
            MetricType::Summary => {
                let summary = metric.summary.get_or_insert_with(Box::default);
                match self.role {
                    Role::SummaryCount => summary.sample_count = Some(go_f64_to_u64(value)),
                    Role::SummarySum => summary.sample_sum = Some(value),
                    _ if !self.quantile.is_nan() => summary.quantile.push(Quantile {
                        quantile: Some(self.quantile),
                        value: Some(value),
                    }),
                    _ => {}
                }
            }
            MetricType::Histogram | MetricType::GaugeHistogram => {
                let histogram = metric.histogram.get_or_insert_with(Box::default);
                match self.role {
                    Role::HistogramCount => match exact_count(value) {
                        Some(count) => histogram.sample_count = Some(count),
                        None if value < 0.0 => {
                            return fail(format!("negative count for histogram {}", quote(family)));
                        }
                        None => histogram.sample_count_float = Some(value),
                    },
                    Role::HistogramSum => histogram.sample_sum = Some(value),
                    _ if !self.bucket.is_nan() => {
                        let mut bucket = Bucket {
                            upper_bound: Some(self.bucket),
                            ..Bucket::default()
                        };
                        match exact_count(value) {
                            Some(count) => bucket.cumulative_count = Some(count),
                            None if value < 0.0 => {
                                return fail(format!(
                                    "negative bucket population for histogram {}",
                                    quote(family)
                                ));
                            }
                            None => bucket.cumulative_count_float = Some(value),
                        }
                        histogram.bucket.push(bucket);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// A histogram count as an integer when the value is one (upstream's
/// `value == float64(uint64(value))`); other values make a float histogram.
fn exact_count(value: f64) -> Option<u64> {
    let count = go_f64_to_u64(value);
    (count as f64 == value).then_some(count)
}

/// Makes a histogram all-integer or all-float: once any count is fractional, every count
/// (including an absent sample count, as 0) is stored in the float fields.
fn normalize_histogram(histogram: &mut Histogram) {
    // "Non-zero" rather than "present": upstream compares the getter with 0, so a NaN
    // count also makes the histogram a float one.
    let has_float = |v: Option<f64>| v.unwrap_or(0.0) != 0.0;
    let any_float = has_float(histogram.sample_count_float)
        || histogram
            .bucket
            .iter()
            .any(|bucket| has_float(bucket.cumulative_count_float));
    if !any_float {
        return;
    }
    if !has_float(histogram.sample_count_float) {
        histogram.sample_count_float = Some(histogram.sample_count.unwrap_or(0) as f64);
        histogram.sample_count = None;
    }
    for bucket in &mut histogram.bucket {
        if !has_float(bucket.cumulative_count_float) {
            bucket.cumulative_count_float = Some(bucket.cumulative_count.unwrap_or(0) as f64);
            bucket.cumulative_count = None;
        }
    }
}

/// Go's `uint64(f)` as the amd64 release binaries compute it: values below 2^63 go
/// through a signed truncating conversion (so `-1` becomes `u64::MAX`), values from 2^63
/// are offset first, and NaN or out-of-range values give 2^63. Rust's `as u64`
/// saturates instead, which would change summary counts and float-histogram detection.
fn go_f64_to_u64(value: f64) -> u64 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    // x86-64 CVTTSD2SQ: truncation, or i64::MIN ("integer indefinite") when out of range.
    fn truncate_signed(x: f64) -> i64 {
        if x.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    }
    if value < TWO_POW_63 {
        truncate_signed(value) as u64
    } else {
        truncate_signed(value - TWO_POW_63) as u64 | (1 << 63)
    }
}

/// Go's `strconv.ParseFloat(s, 64)` after upstream's rejection of `p`, `P` and `_`.
///
/// Differences from `f64::from_str` that matter here: a signed NaN is rejected, `inf` and
/// `infinity` are the only infinity spellings, and overflow (`1e400`) is an error rather
/// than infinity. Underflow to zero is accepted, as in Go.
fn parse_go_float(token: &[u8]) -> Option<f64> {
    if token.iter().any(|b| matches!(b, b'p' | b'P' | b'_')) {
        return None;
    }
    let text = std::str::from_utf8(token).ok()?;
    let (negative, signed, unsigned) = if let Some(rest) = text.strip_prefix('-') {
        (true, true, rest)
    } else if let Some(rest) = text.strip_prefix('+') {
        (false, true, rest)
    } else {
        (false, false, text)
    };
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned.eq_ignore_ascii_case("nan") {
        return (!signed).then_some(f64::NAN);
    }
    if !is_decimal_literal(unsigned.as_bytes()) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `digits[.digits]` or `.digits` (at least one digit), then an optional `e[+-]digits`.
fn is_decimal_literal(bytes: &[u8]) -> bool {
    let digits = |from: usize| {
        bytes
            .iter()
            .skip(from)
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_digits = digits(0);
    let mut pos = int_digits;
    let mut frac_digits = 0;
    if bytes.get(pos) == Some(&b'.') {
        frac_digits = digits(pos + 1);
        pos += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(bytes.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        let exp_digits = digits(pos);
        if exp_digits == 0 {
            return false;
        }
        pos += exp_digits;
    }
    pos == bytes.len()
}

/// Maps a TYPE value to a metric type as upstream does: upper-cased with Go's
/// per-character case mapping (so `ſummary` matches, `ß` stays `ß`), and `gaugehistogram`
/// accepted besides `gauge_histogram`.
fn metric_type_from_hint(token: &[u8]) -> Option<MetricType> {
    let upper: String = String::from_utf8_lossy(token)
        .chars()
        .map(|c| {
            let mut mapped = c.to_uppercase();
            match (mapped.next(), mapped.next()) {
                (Some(single), None) => single,
                _ => c,
            }
        })
        .collect();
    match upper.as_str() {
        "COUNTER" => Some(MetricType::Counter),
        "GAUGE" => Some(MetricType::Gauge),
        "SUMMARY" => Some(MetricType::Summary),
        "UNTYPED" => Some(MetricType::Untyped),
        "HISTOGRAM" => Some(MetricType::Histogram),
        "GAUGE_HISTOGRAM" | "GAUGEHISTOGRAM" => Some(MetricType::GaugeHistogram),
        _ => None,
    }
}

/// Upstream's message for a backslash followed by `b` (Go's `'\%c'` of the byte).
fn invalid_escape(b: u8) -> String {
    format!("invalid escape sequence '\\{}'", char::from(b))
}

/// Go's `%q` of a single byte: a rune literal such as `'}'` or `'\n'`.
fn quote_byte(b: u8) -> String {
    let inner = match b {
        b'\'' => "\\'".to_owned(),
        b'\\' => "\\\\".to_owned(),
        0x07 => "\\a".to_owned(),
        0x08 => "\\b".to_owned(),
        0x0c => "\\f".to_owned(),
        b'\n' => "\\n".to_owned(),
        b'\r' => "\\r".to_owned(),
        b'\t' => "\\t".to_owned(),
        0x0b => "\\v".to_owned(),
        0x00..=0x1f | 0x7f => format!("\\x{b:02x}"),
        // C1 controls, no-break space and soft hyphen are not printable for Go.
        0x80..=0xa0 | 0xad => format!("\\u{b:04x}"),
        _ => char::from(b).to_string(),
    };
    format!("'{inner}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_legacy(input: &str) -> Result<Vec<MetricFamily>, TextParseError> {
        parse(input.as_bytes(), NameValidation::Legacy)
    }

    fn accepted(input: &str) -> Vec<MetricFamily> {
        parse_legacy(input).unwrap_or_else(|err| panic!("{input:?} was rejected: {err}"))
    }

    fn accepted_utf8(input: &str) -> Vec<MetricFamily> {
        parse(input.as_bytes(), NameValidation::Utf8)
            .unwrap_or_else(|err| panic!("{input:?} was rejected: {err}"))
    }

    /// The full error text, as upstream would send it in a 400 body.
    fn rejected(input: &str) -> String {
        rejected_bytes(input.as_bytes(), NameValidation::Legacy)
    }

    fn rejected_utf8(input: &str) -> String {
        rejected_bytes(input.as_bytes(), NameValidation::Utf8)
    }

    fn rejected_bytes(input: &[u8], names: NameValidation) -> String {
        match parse(input, names) {
            Ok(families) => panic!("{input:?} was accepted: {families:?}"),
            Err(err) => err.to_string(),
        }
    }

    fn at(line: usize, message: &str) -> String {
        format!("text format parsing error in line {line}: {message}")
    }

    fn labels(metric: &Metric) -> Vec<(&str, &str)> {
        metric
            .label
            .iter()
            .map(|pair| {
                (
                    pair.name.as_deref().unwrap_or_default(),
                    pair.value.as_deref().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn only_family(input: &str) -> MetricFamily {
        let mut families = accepted(input);
        assert_eq!(families.len(), 1, "{families:?}");
        families.remove(0)
    }

    fn kind(family: &MetricFamily) -> MetricType {
        MetricType::try_from(family.r#type.unwrap_or(-1)).unwrap_or_else(|_| panic!("no type"))
    }

    fn untyped_value(metric: &Metric) -> f64 {
        metric
            .untyped
            .as_ref()
            .and_then(|u| u.value)
            .unwrap_or_else(|| panic!("not untyped: {metric:?}"))
    }

    // --- error type -----------------------------------------------------------------

    #[test]
    fn errors_display_like_upstream_parse_errors() {
        let err = TextParseError {
            line: 7,
            message: "invalid metric name".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            "text format parsing error in line 7: invalid metric name"
        );
        let _: &dyn std::error::Error = &err;
    }

    // --- line structure -------------------------------------------------------------

    #[test]
    fn an_empty_body_is_a_valid_push_of_nothing() {
        assert!(accepted("").is_empty());
    }

    #[test]
    fn blank_lines_and_bare_comments_are_skipped() {
        let input = "\n   \n\t\n#\n# just a comment\n# HELP\n# TYPE\n# HELP a\n# TYPE a\n# EOF\n";
        assert!(accepted(input).is_empty());
        let families = accepted("\n  \t a 1\n\n");
        assert_eq!(untyped_value(&families[0].metric[0]), 1.0);
    }

    #[test]
    fn trailing_blanks_without_a_newline_end_the_input_cleanly() {
        assert_eq!(accepted("a 1\n  \t").len(), 1);
    }

    #[test]
    fn a_last_line_without_newline_is_an_unexpected_end() {
        assert_eq!(
            rejected("a 1\nb 2"),
            at(2, "unexpected end of input stream")
        );
        assert_eq!(
            rejected("\nbla 3.14\nblubber 42"),
            at(3, "unexpected end of input stream")
        );
        assert_eq!(
            rejected("# a comment"),
            at(1, "unexpected end of input stream")
        );
        assert_eq!(rejected("#"), at(1, "unexpected end of input stream"));
        assert_eq!(rejected("a{b=\"c"), at(1, "unexpected end of input stream"));
        assert_eq!(
            rejected("# HELP a text"),
            at(1, "unexpected end of input stream")
        );
    }

    #[test]
    fn carriage_returns_are_ordinary_bytes_so_crlf_bodies_fail() {
        assert_eq!(
            rejected("a 1\r\n"),
            at(1, "expected float as value, got \"1\\r\"")
        );
        assert_eq!(
            rejected("# TYPE a gauge\r\na 1\r\n"),
            at(1, "unknown metric type \"gauge\\r\"")
        );
    }

    #[test]
    fn errors_report_the_line_they_occur_on() {
        let input = "# HELP a x\n\n  # comment\na 1\nb{c=\"d\"} 2\nc 1.2.3\nd 4\n";
        assert_eq!(
            rejected(input),
            at(6, "expected float as value, got \"1.2.3\"")
        );
        // Escaped newlines in HELP and label values do not start new lines.
        let input = "# HELP a x\\ny\na{b=\"1\\n2\"} 1\nbad-line 1\n";
        assert_eq!(
            rejected(input),
            at(3, "expected float as value, got \"-line\"")
        );
    }

    // --- HELP and TYPE ----------------------------------------------------------------

    #[test]
    fn help_text_is_unescaped_and_keeps_trailing_blanks() {
        let family = only_family("# HELP a  one \\\\ two \\n three \\\" four \na 1\n");
        assert_eq!(family.help.as_deref(), Some("one \\ two \n three \" four "));
    }

    #[test]
    fn help_rejects_other_escapes() {
        assert_eq!(
            rejected("# HELP a x \\t y\n"),
            at(1, "invalid escape sequence '\\t'")
        );
        // A backslash at the end of the line escapes the newline itself.
        assert_eq!(
            rejected("# HELP a x \\\na 1\n"),
            at(1, "invalid escape sequence '\\\n'")
        );
    }

    #[test]
    fn a_second_help_line_is_rejected() {
        assert_eq!(
            rejected("\n# HELP a one\n# HELP a two\n"),
            at(3, "second HELP line for metric name \"a\"")
        );
    }

    #[test]
    fn a_second_type_line_is_rejected() {
        assert_eq!(
            rejected("# TYPE a counter\n# TYPE a untyped\n"),
            at(
                2,
                "second TYPE line for metric name \"a\", or TYPE reported after samples"
            )
        );
    }

    #[test]
    fn a_type_line_after_samples_is_rejected() {
        assert_eq!(
            rejected("\na 4.12\n# TYPE a counter\n"),
            at(
                3,
                "second TYPE line for metric name \"a\", or TYPE reported after samples"
            )
        );
    }

    #[test]
    fn type_names_are_case_insensitive_and_include_gauge_histograms() {
        let cases = [
            ("counter", MetricType::Counter),
            ("GAUGE", MetricType::Gauge),
            ("Summary", MetricType::Summary),
            ("untyped", MetricType::Untyped),
            ("hIsToGrAm", MetricType::Histogram),
            ("gauge_histogram", MetricType::GaugeHistogram),
            ("gaugehistogram", MetricType::GaugeHistogram),
        ];
        for (hint, want) in cases {
            let family = only_family(&format!("# TYPE a {hint}\na{{x=\"1\"}} 1\n"));
            assert_eq!(kind(&family), want, "{hint}");
        }
    }

    #[test]
    fn unknown_types_are_rejected_verbatim() {
        assert_eq!(
            rejected("# TYPE a foo\n"),
            at(1, "unknown metric type \"foo\"")
        );
        assert_eq!(
            rejected("# TYPE a gauge \n"),
            at(1, "unknown metric type \"gauge \"")
        );
    }

    #[test]
    fn type_and_help_without_text_are_ignored() {
        let family = only_family("# TYPE a\n# HELP a \t\n# TYPE a gauge\na 1\n");
        assert_eq!(kind(&family), MetricType::Gauge);
        assert_eq!(family.help, None);
    }

    #[test]
    fn a_comment_without_a_blank_after_the_hash_is_still_a_type_line() {
        let family = only_family("#TYPE a gauge\na 1\n");
        assert_eq!(kind(&family), MetricType::Gauge);
    }

    #[test]
    fn an_invalid_name_in_a_comment_is_rejected() {
        assert_eq!(
            rejected("\n# TYPE met-ric\n"),
            at(2, "invalid metric name in comment")
        );
        assert_eq!(
            rejected("# HELP a.b text\n"),
            at(1, "invalid metric name in comment")
        );
    }

    #[test]
    fn other_comments_are_ignored_even_if_they_look_like_samples() {
        assert!(accepted("# HELPX a b\n# help a b\n# a{b=\"c\"} 1\n").is_empty());
    }

    #[test]
    fn families_with_only_help_or_type_are_dropped() {
        let families = accepted("# HELP a doc\n# TYPE b gauge\n# HELP c doc\nc 1\n");
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].name.as_deref(), Some("c"));
        assert_eq!(families[0].help.as_deref(), Some("doc"));
    }

    #[test]
    fn families_come_out_in_order_of_first_appearance() {
        let families = accepted("# HELP z doc\nb 1\na 1\nz 1\nb 2\n");
        let names: Vec<_> = families.iter().map(|f| f.name.as_deref()).collect();
        assert_eq!(names, [Some("z"), Some("b"), Some("a")]);
        assert_eq!(families[1].metric.len(), 2);
    }

    #[test]
    fn families_without_a_type_line_are_untyped_and_help_is_only_set_when_given() {
        let family = only_family("a 1\n");
        assert_eq!(kind(&family), MetricType::Untyped);
        assert_eq!(family.help, None);
        let family = only_family("# HELP a \n# HELP a x\na 1\n");
        assert_eq!(family.help.as_deref(), Some("x"));
    }

    #[test]
    fn counter_and_gauge_values_land_in_their_fields() {
        let families = accepted("# TYPE c counter\nc 1\n# TYPE g gauge\ng -2.5\n");
        let counter = families[0].metric[0].counter.as_ref().and_then(|c| c.value);
        let gauge = families[1].metric[0].gauge.as_ref().and_then(|g| g.value);
        assert_eq!((counter, gauge), (Some(1.0), Some(-2.5)));
        assert!(families[0].metric[0].untyped.is_none());
    }

    #[test]
    fn invalid_utf8_in_help_is_rejected() {
        assert_eq!(
            rejected_bytes(b"# HELP a \xff\na 1\n", NameValidation::Legacy),
            at(1, "invalid UTF-8 in HELP text")
        );
    }

    // --- metric names -----------------------------------------------------------------

    #[test]
    fn metric_names_may_contain_colons() {
        let families = accepted("a:b:c 1\n# TYPE x:y counter\nx:y 2\n:z 3\n");
        assert_eq!(families.len(), 3);
        assert_eq!(kind(&families[1]), MetricType::Counter);
    }

    #[test]
    fn a_line_not_starting_with_a_name_is_an_invalid_metric_name() {
        for input in [
            "1a 1\n",
            "-x 1\n",
            "@invalidmetric{label=\"bla\"} 3.14 2\n",
            "} 1\n",
        ] {
            assert_eq!(rejected(input), at(1, "invalid metric name"), "{input:?}");
        }
    }

    #[test]
    fn a_name_stops_at_the_first_byte_it_cannot_contain() {
        assert_eq!(
            rejected("a.b 1\n"),
            at(1, "expected float as value, got \".b\"")
        );
        assert_eq!(
            rejected("blablabla\n"),
            at(1, "expected float as value, got \"\"")
        );
    }

    #[test]
    fn a_name_inside_braces_is_accepted_when_valid_under_the_scheme() {
        let family = only_family("{\"a_b\"} 1\n");
        assert_eq!(family.name.as_deref(), Some("a_b"));
        let family = only_family("{\"a_b\",c=\"d\"} 1\n");
        assert_eq!(labels(&family.metric[0]), [("c", "d")]);
        // Unquoted, and after the labels, are accepted too.
        let family = only_family("{ a_b , c=\"d\" } 1\n");
        assert_eq!(family.name.as_deref(), Some("a_b"));
        let family = only_family("{c=\"d\",\"a_b\"} 1\n");
        assert_eq!(family.name.as_deref(), Some("a_b"));
        assert_eq!(labels(&family.metric[0]), [("c", "d")]);
    }

    #[test]
    fn dotted_quoted_names_need_the_utf8_scheme() {
        assert_eq!(
            rejected("{\"a.b\"} 1\n"),
            at(1, "invalid metric name \"a.b\"")
        );
        assert_eq!(
            rejected("\"a.b\" 1\n"),
            at(1, "invalid metric name \"a.b\"")
        );
        let input = "{\"another.metric\",instance=\"x\",\"dotted.label.name\"=\"v\"} 42\n";
        let families = accepted_utf8(input);
        assert_eq!(families[0].name.as_deref(), Some("another.metric"));
        assert_eq!(
            labels(&families[0].metric[0]),
            [("instance", "x"), ("dotted.label.name", "v")]
        );
        let families = accepted_utf8("\"a.b\"{\"c d\"=\"e\"} 1\n");
        assert_eq!(families[0].name.as_deref(), Some("a.b"));
        assert_eq!(labels(&families[0].metric[0]), [("c d", "e")]);
    }

    #[test]
    fn quoted_names_unescape_backslash_quote_and_newline() {
        let families = accepted_utf8("{\"a\\\"b\\\\c\\nd\"} 1\n");
        assert_eq!(families[0].name.as_deref(), Some("a\"b\\c\nd"));
        assert_eq!(
            rejected_utf8("{\"a\\xz\",label=\"bla\"} 3.14\n"),
            at(1, "invalid escape sequence '\\x'")
        );
    }

    #[test]
    fn quoted_names_work_in_help_and_type_lines() {
        let families = accepted_utf8("# HELP \"a.b\" doc\n# TYPE \"a.b\" gauge\n{\"a.b\"} 1\n");
        assert_eq!(families[0].help.as_deref(), Some("doc"));
        assert_eq!(kind(&families[0]), MetricType::Gauge);
        assert_eq!(
            rejected("# TYPE \"a.b\" gauge\n"),
            at(1, "invalid metric name \"a.b\"")
        );
        assert_eq!(
            rejected_utf8("\n# TYPE \"metric.name\\t\" counter\n"),
            at(2, "invalid escape sequence '\\t'")
        );
    }

    #[test]
    fn a_raw_newline_in_a_quoted_name_is_rejected() {
        assert_eq!(
            rejected_utf8("\n# TYPE \"metric\nname\" counter\n"),
            at(2, "metric name \"metric\" contains unescaped new-line")
        );
        assert_eq!(
            rejected_utf8("\n{\"metric.name\",\"new\nline\"=\"bla\"} 3.14\n"),
            at(2, "label name \"new\" contains unescaped new-line")
        );
        assert_eq!(
            rejected("\n{\"metric.name\",\"new\nline\"=\"bla\"} 3.14\n"),
            at(2, "invalid metric name \"metric.name\"")
        );
    }

    #[test]
    fn two_names_in_braces_are_rejected() {
        assert_eq!(
            rejected_utf8("{\"one.name\",\"another.name\"} 3.14\n"),
            at(1, "multiple metric names for metric \"one.name\"")
        );
        assert_eq!(
            rejected("{\"one.name\",\"another.name\"} 3.14\n"),
            at(1, "invalid metric name \"one.name\"")
        );
    }

    #[test]
    fn labels_before_the_name_in_braces_are_checked_against_the_previous_family() {
        assert_eq!(
            rejected("a 1\n{1a=\"x\",\"b\"} 2\n"),
            at(2, "invalid label name for metric \"a\"")
        );
        assert_eq!(
            rejected("{1a=\"x\",\"b\"} 2\n"),
            at(1, "invalid label name for metric \"\"")
        );
        assert_eq!(
            rejected("# TYPE h histogram\n{le=\"x\",\"h_bucket\"} 1\n"),
            at(2, "expected float as value for 'le' label, got \"x\"")
        );
        let family = only_family("# TYPE h histogram\n{le=\"1\",\"h_bucket\"} 1\n");
        let histogram = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert_eq!(histogram.bucket[0].upper_bound, Some(1.0));
    }

    #[test]
    fn a_name_in_braces_must_end_at_a_comma_or_brace() {
        assert_eq!(
            rejected_utf8("{\"metric.name\".label=\"bla\"} 3.14\n"),
            at(1, "unexpected end of metric name '.'")
        );
    }

    #[test]
    fn braces_without_a_metric_name_are_rejected() {
        for input in ["{} 3.14\n", "{label=\"bla\"} 3.14 2\n", "{a=\"b\",} 1\n"] {
            assert_eq!(rejected(input), at(1, "invalid metric name"), "{input:?}");
        }
        // Also after other samples (upstream would reuse the previous line's metric).
        assert_eq!(rejected("a 1\n{b=\"c\"} 2\n"), at(2, "invalid metric name"));
    }

    #[test]
    fn invalid_utf8_in_a_quoted_name_is_an_invalid_name() {
        assert_eq!(
            rejected_bytes(b"{\"a\xff\"} 1\n", NameValidation::Utf8),
            at(1, "invalid metric name \"a\\xff\"")
        );
        assert_eq!(
            rejected_bytes(b"a{\"b\xff\"=\"c\"} 1\n", NameValidation::Utf8),
            at(1, "invalid label name \"b\\xff\"")
        );
    }

    // --- labels -----------------------------------------------------------------------

    #[test]
    fn label_order_is_preserved() {
        let family = only_family("a{z=\"1\",b=\"2\",m=\"3\"} 1\n");
        assert_eq!(
            labels(&family.metric[0]),
            [("z", "1"), ("b", "2"), ("m", "3")]
        );
    }

    #[test]
    fn label_values_are_unescaped() {
        let family = only_family("a{b=\"x\\\"y\",c=\"x\\\\y\",d=\"x\\ny\"} 1\n");
        assert_eq!(
            labels(&family.metric[0]),
            [("b", "x\"y"), ("c", "x\\y"), ("d", "x\ny")]
        );
    }

    #[test]
    fn label_values_may_contain_structural_characters_and_utf8() {
        let family = only_family("a{b=\",=} {#\",c=\"Προμηθεύς\",d=\"\"} 1\n");
        assert_eq!(
            labels(&family.metric[0]),
            [("b", ",=} {#"), ("c", "Προμηθεύς"), ("d", "")]
        );
    }

    #[test]
    fn blanks_are_allowed_around_label_tokens() {
        let family = only_family("a\t{ b = \"c\" ,\td=\"e\" , }\t 1 \t 2\n");
        assert_eq!(labels(&family.metric[0]), [("b", "c"), ("d", "e")]);
        assert_eq!(family.metric[0].timestamp_ms, Some(2));
    }

    #[test]
    fn empty_braces_and_trailing_commas_are_accepted() {
        let families = accepted("a{} 1\nb{c=\"d\",} 2\n");
        assert!(families[0].metric[0].label.is_empty());
        assert_eq!(labels(&families[1].metric[0]), [("c", "d")]);
    }

    #[test]
    fn invalid_escapes_in_label_values_are_rejected() {
        assert_eq!(
            rejected("a{b=\"\\q\"} 1\n"),
            at(1, "invalid escape sequence '\\q'")
        );
        assert_eq!(
            rejected("metric{label=\"\\t\"} 3.14\n"),
            at(1, "invalid escape sequence '\\t'")
        );
    }

    #[test]
    fn a_raw_newline_in_a_label_value_is_rejected() {
        assert_eq!(
            rejected("\nmetric{label=\"new\nline\"} 3.14\n"),
            at(2, "label value \"new\" contains unescaped new-line")
        );
    }

    #[test]
    fn invalid_utf8_in_a_label_value_is_rejected() {
        assert_eq!(
            rejected_bytes(b"metric{l=\"\xbd\"} 3.14\n", NameValidation::Legacy),
            at(1, "invalid label value \"\\xbd\"")
        );
    }

    #[test]
    fn malformed_label_names_are_rejected() {
        assert_eq!(
            rejected("metric{@=\"bla\"} 3.14\n"),
            at(1, "invalid label name for metric \"metric\"")
        );
        assert_eq!(
            rejected("a{1a=\"c\"} 1\n"),
            at(1, "invalid label name for metric \"a\"")
        );
        assert_eq!(
            rejected("metric{label+=\"bla\"} 3.14\n"),
            at(1, "expected '=' after label name, found '+'")
        );
        assert_eq!(
            rejected("a{a-b=\"c\"} 1\n"),
            at(1, "expected '=' after label name, found '-'")
        );
        assert_eq!(
            rejected("a{b:c=\"d\"} 1\n"),
            at(1, "expected '=' after label name, found ':'")
        );
    }

    #[test]
    fn the_name_label_is_reserved() {
        assert_eq!(
            rejected("metric{__name__=\"bla\"} 3.14\n"),
            at(1, "label name \"__name__\" is reserved")
        );
    }

    #[test]
    fn labels_with_leading_underscores_pass_the_parser() {
        let family = only_family("a{_a=\"1\",__b=\"2\"} 1\n");
        assert_eq!(labels(&family.metric[0]), [("_a", "1"), ("__b", "2")]);
    }

    #[test]
    fn duplicate_label_names_are_rejected() {
        assert_eq!(
            rejected("metric{label=\"bla\",label=\"bla\"} 3.14\n"),
            at(1, "duplicate label names for metric \"metric\"")
        );
    }

    #[test]
    fn a_line_of_many_labels_is_checked_for_duplicates_in_linear_time() {
        let labels: Vec<String> = (0..100_000).map(|i| format!("l{i}=\"v\"")).collect();
        let line = format!("m{{{}}} 1\n", labels.join(","));
        let started = std::time::Instant::now();
        let family = only_family(&line);
        assert_eq!(family.metric[0].label.len(), 100_000);
        let duplicate = format!("m{{{},l99999=\"w\"}} 1\n", labels.join(","));
        assert_eq!(
            rejected(&duplicate),
            at(1, "duplicate label names for metric \"m\"")
        );
        // Comparing each name with every earlier one took seconds in a release build.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn a_duplicate_is_found_before_and_after_the_set_takes_over() {
        for n in [2, 15, 16, 17, 40] {
            for dup in [0, n / 2, n - 1] {
                let mut labels: Vec<String> = (0..n).map(|i| format!("l{i}=\"v\"")).collect();
                labels.push(format!("l{dup}=\"w\""));
                let line = format!("m{{{}}} 1\n", labels.join(","));
                assert_eq!(
                    rejected(&line),
                    at(1, "duplicate label names for metric \"m\""),
                    "{n} labels, duplicate of {dup}"
                );
            }
        }
    }

    #[test]
    fn unquoted_label_values_are_rejected() {
        assert_eq!(
            rejected("metric{label=bla} 3.14\n"),
            at(1, "expected '\"' at start of label value, found 'b'")
        );
    }

    #[test]
    fn garbage_after_a_label_value_is_rejected() {
        assert_eq!(
            rejected("metric{label=\"bla\"+} 3.14\n"),
            at(1, "unexpected end of label value \"bla\"")
        );
        assert_eq!(
            rejected("a{b=\"c\" 1\n"),
            at(1, "unexpected end of label value \"c\"")
        );
        // The value quoted is the one just read, even a consumed `le`.
        assert_eq!(
            rejected("# TYPE h histogram\nh_bucket{c=\"1\",le=\"2\" 3\n"),
            at(2, "unexpected end of label value \"2\"")
        );
    }

    #[test]
    fn quoted_label_names_follow_the_scheme() {
        let family = only_family("a{\"b\"=\"c\"} 1\n");
        assert_eq!(labels(&family.metric[0]), [("b", "c")]);
        assert_eq!(
            rejected("metric_name{\"foo\"=\"bar\", \"dotted.label\"=\"bla\"} 3.14\n"),
            at(1, "invalid label name \"dotted.label\"")
        );
        assert_eq!(
            rejected("a{\"b.c\"=\"d\"} 1\n"),
            at(1, "invalid label name \"b.c\"")
        );
        let families = accepted_utf8("a{\"b.c\"=\"d\"} 1\n");
        assert_eq!(labels(&families[0].metric[0]), [("b.c", "d")]);
    }

    #[test]
    fn an_unlabelled_entry_after_a_name_outside_braces_needs_an_equals_sign() {
        assert_eq!(
            rejected("a{\"b\"} 1\n"),
            at(1, "expected '=' after label name, found '}'")
        );
    }

    // --- values and timestamps ---------------------------------------------------------

    #[test]
    fn values_follow_go_parse_float() {
        let cases = [
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+2", 2.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            ("1e+3", 1000.0),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("Inf", f64::INFINITY),
            ("inf", f64::INFINITY),
            ("INF", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("+InFiNiTy", f64::INFINITY),
            ("1e-400", 0.0),
            ("1.7976931348623157e308", f64::MAX),
        ];
        for (text, want) in cases {
            let family = only_family(&format!("a {text}\n"));
            assert_eq!(untyped_value(&family.metric[0]), want, "{text}");
        }
        for text in ["NaN", "nan", "nAn"] {
            let family = only_family(&format!("a {text}\n"));
            assert!(untyped_value(&family.metric[0]).is_nan(), "{text}");
        }
    }

    #[test]
    fn values_go_rejects_are_rejected() {
        let bad = [
            "1.2.3",
            "0x1p3",
            "0x1P-3",
            "0x10",
            "0X1",
            "0b1",
            "0B1",
            "0o1",
            "0O1",
            "1_000",
            "-nan",
            "+nan",
            "-NaN",
            "1e400",
            "-1e400",
            "infin",
            "infinit",
            "in",
            "e5",
            ".",
            "1e",
            "1e+",
            "--1",
            "+-1",
            "1,5",
            "١",
            "blubb",
            "Infinityy",
            "nanx",
        ];
        for text in bad {
            assert_eq!(
                rejected(&format!("a {text}\n")),
                at(1, &format!("expected float as value, got {}", quote(text))),
                "{text}"
            );
        }
    }

    #[test]
    fn timestamps_are_stored_as_milliseconds() {
        let families = accepted("a 1 1234\nb 1 -5\nc 1 +7\nd 1\n");
        let stamps: Vec<_> = families.iter().map(|f| f.metric[0].timestamp_ms).collect();
        assert_eq!(stamps, [Some(1234), Some(-5), Some(7), None]);
    }

    #[test]
    fn non_integer_timestamps_are_rejected() {
        for text in [
            "abc",
            "1.5",
            "2.72",
            "1e3",
            "9223372036854775808",
            "1_000",
            "-",
        ] {
            assert_eq!(
                rejected(&format!("a 1 {text}\n")),
                at(
                    1,
                    &format!("expected integer as timestamp, got {}", quote(text))
                ),
                "{text}"
            );
        }
        // A blank after the value announces a timestamp, so a trailing blank fails.
        assert_eq!(
            rejected("a 1 \n"),
            at(1, "expected integer as timestamp, got \"\"")
        );
    }

    #[test]
    fn text_after_the_timestamp_is_rejected() {
        assert_eq!(
            rejected("a 1 2 x\n"),
            at(1, "spurious string after timestamp: \" x\"")
        );
        assert_eq!(
            rejected("metric{label=\"bla\"} 3.14 2 3\n"),
            at(1, "spurious string after timestamp: \" 3\"")
        );
        assert_eq!(
            rejected("a 1 2 \n"),
            at(1, "spurious string after timestamp: \" \"")
        );
    }

    #[test]
    fn a_sample_without_value_is_rejected() {
        assert_eq!(
            rejected("a{b=\"c\"}\n"),
            at(1, "expected float as value, got \"\"")
        );
        assert_eq!(
            rejected("this is garbage\n"),
            at(1, "expected float as value, got \"is\"")
        );
        assert_eq!(
            rejected("a{b=\"c\"}} 1\n"),
            at(1, "expected float as value, got \"}\"")
        );
    }

    #[test]
    fn duplicate_series_pass_the_parser() {
        let family = only_family("a{b=\"c\"} 1\na{b=\"c\"} 2\n");
        assert_eq!(family.metric.len(), 2);
    }

    #[test]
    fn suffixed_names_of_untyped_families_are_separate_families() {
        let families = accepted("# TYPE foo counter\nfoo_total 1\nx 1\nx_count 2\n");
        let names: Vec<_> = families.iter().map(|f| f.name.as_deref()).collect();
        assert_eq!(names, [Some("foo_total"), Some("x"), Some("x_count")]);
    }

    // --- summaries ----------------------------------------------------------------------

    const SUMMARY: &str = "# HELP s A summary.\n# TYPE s summary\n\
        s{a=\"1\",quantile=\"0.5\"} 10\n\
        s{a=\"2\",quantile=\"0.5\"} 20\n\
        s{quantile=\"0.9\",a=\"1\"} 11\n\
        s_sum{a=\"1\"} 100.5\n\
        s_count{a=\"1\"} 7\n\
        s_count{a=\"2\"} 8 1234\n";

    #[test]
    fn summaries_group_lines_by_their_other_labels() {
        let family = only_family(SUMMARY);
        assert_eq!(kind(&family), MetricType::Summary);
        assert_eq!(family.help.as_deref(), Some("A summary."));
        assert_eq!(family.metric.len(), 2);
        let first = &family.metric[0];
        assert_eq!(labels(first), [("a", "1")]);
        let summary = first
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!("no summary"));
        let quantiles: Vec<_> = summary
            .quantile
            .iter()
            .map(|q| (q.quantile, q.value))
            .collect();
        assert_eq!(
            quantiles,
            [(Some(0.5), Some(10.0)), (Some(0.9), Some(11.0))]
        );
        assert_eq!(summary.sample_sum, Some(100.5));
        assert_eq!(summary.sample_count, Some(7));
        let second = &family.metric[1];
        assert_eq!(labels(second), [("a", "2")]);
        assert_eq!(second.timestamp_ms, Some(1234));
        let summary = second
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!("no summary"));
        assert_eq!((summary.sample_count, summary.sample_sum), (Some(8), None));
    }

    #[test]
    fn summary_counts_are_truncated_like_go_on_amd64() {
        let family = only_family("# TYPE s summary\ns_count 7.9\ns_count{x=\"y\"} -1\n");
        let counts: Vec<_> = family
            .metric
            .iter()
            .map(|m| m.summary.as_ref().and_then(|s| s.sample_count))
            .collect();
        assert_eq!(counts, [Some(7), Some(u64::MAX)]);
    }

    #[test]
    fn a_bad_quantile_is_rejected() {
        assert_eq!(
            rejected("\n# TYPE metric summary\nmetric{quantile=\"bla\"} 3.14\n"),
            at(
                3,
                "expected float as value for 'quantile' label, got \"bla\""
            )
        );
        assert_eq!(
            rejected("# TYPE metric summary\nmetric{quantile=\"0x1p-3\"} 3.14\n"),
            at(
                2,
                "expected float as value for 'quantile' label, got \"0x1p-3\""
            )
        );
    }

    #[test]
    fn quantile_is_an_ordinary_label_outside_summaries() {
        let family = only_family("a{quantile=\"x\",le=\"y\"} 1\n");
        assert_eq!(labels(&family.metric[0]), [("quantile", "x"), ("le", "y")]);
        let family = only_family("# TYPE s summary\ns{le=\"x\",quantile=\"1\"} 1\n");
        assert_eq!(labels(&family.metric[0]), [("le", "x")]);
    }

    #[test]
    fn a_summary_line_without_quantile_creates_an_empty_summary() {
        let family = only_family("# TYPE s summary\ns 1\ns{quantile=\"NaN\"} 2\n");
        assert_eq!(family.metric.len(), 1);
        let summary = family.metric[0].summary.as_ref();
        assert_eq!(summary.map(|s| s.quantile.len()), Some(0));
    }

    #[test]
    fn a_summary_named_in_braces_groups_like_the_plain_form() {
        let input = "# TYPE s summary\n{\"s\",quantile=\"0.5\"} 1\n{\"s_count\"} 3\n{quantile=\"0.9\",\"s\"} 2\n";
        let family = only_family(input);
        assert_eq!(family.metric.len(), 1);
        let summary = family.metric[0]
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert_eq!(summary.quantile.len(), 2);
        assert_eq!(summary.sample_count, Some(3));
        assert!(family.metric[0].label.is_empty());
    }

    // --- histograms ---------------------------------------------------------------------

    const HISTOGRAM: &str = "# HELP h A histogram.\n# TYPE h histogram\n\
        h_bucket{le=\"0.1\"} 1\n\
        h_bucket{le=\"1\"} 3\n\
        h_bucket{le=\"+Inf\"} 4\n\
        h_sum 2.5\n\
        h_count 4\n\
        h_bucket{x=\"y\",le=\"+Inf\"} 0\n";

    #[test]
    fn histograms_group_buckets_sum_and_count() {
        let family = only_family(HISTOGRAM);
        assert_eq!(kind(&family), MetricType::Histogram);
        assert_eq!(family.metric.len(), 2);
        let histogram = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        let buckets: Vec<_> = histogram
            .bucket
            .iter()
            .map(|b| (b.upper_bound, b.cumulative_count, b.cumulative_count_float))
            .collect();
        assert_eq!(
            buckets,
            [
                (Some(0.1), Some(1), None),
                (Some(1.0), Some(3), None),
                (Some(f64::INFINITY), Some(4), None)
            ]
        );
        assert_eq!(histogram.sample_sum, Some(2.5));
        assert_eq!(histogram.sample_count, Some(4));
        assert_eq!(histogram.sample_count_float, None);
        assert!(family.metric[0].label.is_empty());
        assert_eq!(labels(&family.metric[1]), [("x", "y")]);
    }

    #[test]
    fn fractional_counts_make_a_float_histogram() {
        let input = "# TYPE h histogram\nh_bucket{le=\"1\"} 1.5\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n";
        let family = only_family(input);
        let histogram = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        let buckets: Vec<_> = histogram
            .bucket
            .iter()
            .map(|b| (b.cumulative_count, b.cumulative_count_float))
            .collect();
        assert_eq!(buckets, [(None, Some(1.5)), (None, Some(2.0))]);
        assert_eq!(
            (histogram.sample_count, histogram.sample_count_float),
            (None, Some(2.0))
        );
    }

    #[test]
    fn a_fractional_sample_count_converts_the_buckets() {
        let input = "# TYPE h gaugehistogram\nh_bucket{le=\"1\"} 1\nh_count 2.5\n";
        let family = only_family(input);
        assert_eq!(kind(&family), MetricType::GaugeHistogram);
        let histogram = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert_eq!(histogram.sample_count_float, Some(2.5));
        assert_eq!(histogram.sample_count, None);
        assert_eq!(histogram.bucket[0].cumulative_count_float, Some(1.0));
        assert_eq!(histogram.bucket[0].cumulative_count, None);
    }

    #[test]
    fn a_float_histogram_without_count_gets_a_zero_float_count() {
        let family = only_family("# TYPE h histogram\nh_bucket{le=\"1\"} 0.5\n");
        let histogram = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert_eq!(histogram.sample_count_float, Some(0.0));
        assert_eq!(histogram.sample_count, None);
    }

    #[test]
    fn negative_histogram_counts_are_rejected() {
        let head = "\n# HELP h The latency.\n# TYPE h histogram\nh_bucket{le=\"100\"} 123\n";
        for (tail, line, message) in [
            ("h_count -2693\n", 5, "negative count for histogram \"h\""),
            (
                "h_count -2693.123\n",
                5,
                "negative count for histogram \"h\"",
            ),
            (
                "h_bucket{le=\"120\"} -412\n",
                5,
                "negative bucket population for histogram \"h\"",
            ),
            (
                "h_bucket{le=\"120\"} -0.5\n",
                5,
                "negative bucket population for histogram \"h\"",
            ),
            (
                "h_bucket{le=\"120\"} -Inf\n",
                5,
                "negative bucket population for histogram \"h\"",
            ),
        ] {
            assert_eq!(
                rejected(&format!("{head}{tail}")),
                at(line, message),
                "{tail}"
            );
        }
    }

    #[test]
    fn infinite_and_nan_counts_make_float_histograms() {
        let family =
            only_family("# TYPE h histogram\nh_count +Inf\nh{x=\"1\"} 1\nh_count{x=\"1\"} NaN\n");
        let first = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert_eq!(first.sample_count_float, Some(f64::INFINITY));
        let second = family.metric[1]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert!(second.sample_count_float.is_some_and(f64::is_nan));
        assert_eq!(second.sample_count, None);
    }

    #[test]
    fn a_bad_le_is_rejected() {
        assert_eq!(
            rejected("\n# TYPE metric histogram\nmetric_bucket{le=\"bla\"} 3.14\n"),
            at(3, "expected float as value for 'le' label, got \"bla\"")
        );
        assert_eq!(
            rejected("# TYPE metric histogram\nmetric_bucket{le=\"0x1p-3\"} 3.14\n"),
            at(2, "expected float as value for 'le' label, got \"0x1p-3\"")
        );
    }

    #[test]
    fn a_bucket_line_without_le_adds_no_bucket() {
        let family = only_family("# TYPE h histogram\nh_bucket 1\nh{le=\"2\"} 3\n");
        assert_eq!(family.metric.len(), 1);
        let histogram = family.metric[0]
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!());
        assert_eq!(histogram.bucket.len(), 1);
        assert_eq!(histogram.bucket[0].upper_bound, Some(2.0));
    }

    #[test]
    fn bucket_suffixes_do_not_attach_to_summaries() {
        let families = accepted("# TYPE s summary\ns_bucket{le=\"1\"} 1\n");
        assert_eq!(families[0].name.as_deref(), Some("s_bucket"));
        assert_eq!(labels(&families[0].metric[0]), [("le", "1")]);
    }

    #[test]
    fn a_type_line_for_a_suffixed_name_refers_to_the_parent_family() {
        assert_eq!(
            rejected("# TYPE h histogram\n# TYPE h_count counter\n"),
            at(
                2,
                "second TYPE line for metric name \"h\", or TYPE reported after samples"
            )
        );
    }

    // --- the CRATES.md comparison table --------------------------------------------------

    /// Every input of the 56-input comparison made when the project started, with the verdict of
    /// upstream 1.11.3 (where it differs from the 1.5.1 reference: quoted names, `\"` in
    /// HELP). `None` means accepted by the parser.
    #[test]
    fn the_crates_md_comparison_inputs_get_upstream_verdicts() {
        let second_type = "second TYPE line for metric name \"a\", or TYPE reported after samples";
        let table: &[(&str, Option<(usize, &str)>)] = &[
            ("a{b=\"x\\\"y\",c=\"x\\\\y\",d=\"x\\ny\"} 1\n", None),
            ("a{b=\",=}\"} 1\n", None),
            ("# HELP a x \\\\ y \\n z\na 1\n", None),
            ("a 1 1234\n", None),
            ("a 1 -1234\n", None),
            ("a NaN\n", None),
            ("a +Inf\n", None),
            ("a -Inf\n", None),
            ("a Inf\n", None),
            ("a nan\n", None),
            ("a INF\n", None),
            (HISTOGRAM, None),
            (SUMMARY, None),
            ("# TYPE a untyped\na 1\n", None),
            ("a 1\n# TYPE a gauge\n", Some((2, second_type))),
            ("# TYPE a gauge\n# TYPE a counter\n", Some((2, second_type))),
            (
                "# HELP a x\n# HELP a y\n",
                Some((2, "second HELP line for metric name \"a\"")),
            ),
            ("a:b:c 1\n# TYPE x:y counter\nx:y 2\n", None),
            ("a{_a=\"1\",__b=\"2\"} 1\n", None),
            ("a{} 1\n", None),
            ("a{b=\"c\",} 1\n", None),
            ("a\t{ b = \"c\" ,\td=\"e\" }\t 1 \t 2\n", None),
            ("a 1", Some((1, "unexpected end of input stream"))),
            (
                "# TYPE a gauge\r\na 1\r\n",
                Some((1, "unknown metric type \"gauge\\r\"")),
            ),
            (
                "a 1\r\n",
                Some((1, "expected float as value, got \"1\\r\"")),
            ),
            (
                "this is garbage\n",
                Some((1, "expected float as value, got \"is\"")),
            ),
            (
                "a{b=\"c\" 1\n",
                Some((1, "unexpected end of label value \"c\"")),
            ),
            (
                "a{b=\"c\"}} 1\n",
                Some((1, "expected float as value, got \"}\"")),
            ),
            (
                "a 1.2.3\n",
                Some((1, "expected float as value, got \"1.2.3\"")),
            ),
            (
                "a 0x1p3\n",
                Some((1, "expected float as value, got \"0x1p3\"")),
            ),
            (
                "a 1_000\n",
                Some((1, "expected float as value, got \"1_000\"")),
            ),
            (
                "a -nan\n",
                Some((1, "expected float as value, got \"-nan\"")),
            ),
            (
                "a 1e400\n",
                Some((1, "expected float as value, got \"1e400\"")),
            ),
            ("# HELP a only help\n", None),
            ("a 1\n", None),
            (
                "a{a=\"1\",a=\"2\"} 1\n",
                Some((1, "duplicate label names for metric \"a\"")),
            ),
            (
                "a{b=\"\\q\"} 1\n",
                Some((1, "invalid escape sequence '\\q'")),
            ),
            (
                "# HELP a x \\t y\n",
                Some((1, "invalid escape sequence '\\t'")),
            ),
            ("1a 1\n", Some((1, "invalid metric name"))),
            (
                "a{a-b=\"c\"} 1\n",
                Some((1, "expected '=' after label name, found '-'")),
            ),
            (
                "a{1a=\"c\"} 1\n",
                Some((1, "invalid label name for metric \"a\"")),
            ),
            (
                "a{b=c} 1\n",
                Some((1, "expected '\"' at start of label value, found 'c'")),
            ),
            ("# TYPE a foo\n", Some((1, "unknown metric type \"foo\""))),
            (
                "# TYPE a gauge \n",
                Some((1, "unknown metric type \"gauge \"")),
            ),
            (
                "a{__name__=\"b\"} 1\n",
                Some((1, "label name \"__name__\" is reserved")),
            ),
            (
                "a{b=\"c\"}\n",
                Some((1, "expected float as value, got \"\"")),
            ),
            (
                "a 1 abc\n",
                Some((1, "expected integer as timestamp, got \"abc\"")),
            ),
            (
                "a 1 1.5\n",
                Some((1, "expected integer as timestamp, got \"1.5\"")),
            ),
            (
                "a 1 2 x\n",
                Some((1, "spurious string after timestamp: \" x\"")),
            ),
            ("#TYPE a gauge\na 1\n", None),
            (
                "# TYPE h histogram\nh_bucket{le=\"abc\"} 1\n",
                Some((2, "expected float as value for 'le' label, got \"abc\"")),
            ),
            (
                "# TYPE s summary\ns{quantile=\"x\"} 1\n",
                Some((2, "expected float as value for 'quantile' label, got \"x\"")),
            ),
            ("a{b=\"c\"} 1\na{b=\"c\"} 1\n", None),
            (
                "{\"my.metric\"} 1\n",
                Some((1, "invalid metric name \"my.metric\"")),
            ),
            ("# HELP a x \\\" y\na 1\n", None),
            (
                "a{b=\"x\ny\"} 1\n",
                Some((1, "label value \"x\" contains unescaped new-line")),
            ),
            ("", None),
            ("\n\n \t\n", None),
            ("  a 1\n", None),
            ("#\n", None),
            ("# HELP\n", None),
        ];
        for (input, verdict) in table {
            match verdict {
                None => {
                    parse_legacy(input)
                        .unwrap_or_else(|err| panic!("{input:?} was rejected: {err}"));
                }
                Some((line, message)) => assert_eq!(rejected(input), at(*line, message)),
            }
        }
    }

    #[test]
    fn accepted_comparison_inputs_parse_to_the_expected_samples() {
        let family = only_family("# HELP a x \\\\ y \\n z \\\" w\n#TYPE a gauge\na 1 -1234\n");
        assert_eq!(family.help.as_deref(), Some("x \\ y \n z \" w"));
        assert_eq!(kind(&family), MetricType::Gauge);
        assert_eq!(family.metric[0].timestamp_ms, Some(-1234));
        let family = only_family("a{b=\",=}\"} 1\n");
        assert_eq!(labels(&family.metric[0]), [("b", ",=}")]);
        let families = accepted_utf8("{\"my.metric\"} 1\n");
        assert_eq!(families[0].name.as_deref(), Some("my.metric"));
        assert_eq!(untyped_value(&families[0].metric[0]), 1.0);
    }

    // --- helpers ------------------------------------------------------------------------

    #[test]
    fn go_float_to_uint_conversion_matches_amd64() {
        assert_eq!(go_f64_to_u64(3.9), 3);
        assert_eq!(go_f64_to_u64(-0.5), 0);
        assert_eq!(go_f64_to_u64(-1.0), u64::MAX);
        assert_eq!(go_f64_to_u64(f64::NAN), 1 << 63);
        assert_eq!(go_f64_to_u64(f64::INFINITY), 1 << 63);
        assert_eq!(go_f64_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(go_f64_to_u64(1e19), 10_000_000_000_000_000_000);
        assert_eq!(go_f64_to_u64(1e30), 1 << 63);
    }

    #[test]
    fn bytes_are_quoted_like_go_rune_literals() {
        assert_eq!(quote_byte(b'}'), "'}'");
        assert_eq!(quote_byte(b'\''), "'\\''");
        assert_eq!(quote_byte(b'"'), "'\"'");
        assert_eq!(quote_byte(b'\\'), "'\\\\'");
        assert_eq!(quote_byte(b'\n'), "'\\n'");
        assert_eq!(quote_byte(0), "'\\x00'");
        assert_eq!(quote_byte(0x85), "'\\u0085'");
        assert_eq!(quote_byte(0xbd), "'½'");
    }

    // --- robustness ---------------------------------------------------------------------

    /// Small deterministic PRNG (xorshift64*), so the test needs no extra crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn corpus() -> Vec<Vec<u8>> {
        let mut inputs: Vec<Vec<u8>> = vec![
            SUMMARY.into(),
            HISTOGRAM.into(),
            "# HELP \"a.b\" x\\\"y\n# TYPE \"a.b\" gauge\n{\"a.b\",\"c.d\"=\"e\\n\"} 1 2\n".into(),
            "a{b=\"c\",d=\"e\",} -Inf 12\n{\"x\"} NaN\nx_count 3\n".into(),
            "# TYPE h gauge_histogram\nh_bucket{le=\"1\"} 0.5\nh_count 2\n".into(),
        ];
        inputs.push(b"a{b=\"\xff\xfe\"} 1\n# HELP a \xc3\x28\n".to_vec());
        inputs
    }

    #[test]
    fn no_prefix_of_a_valid_body_panics() {
        for input in corpus() {
            for end in 0..=input.len() {
                for names in [NameValidation::Legacy, NameValidation::Utf8] {
                    let _ = parse(input.get(..end).unwrap_or_default(), names);
                }
            }
        }
    }

    #[test]
    fn random_and_mutated_bytes_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet =
            b"ab_:{}\"\\=,. \t\n#HELPTYPEsumcountbucketle quantile0123456789+-eInfNa\r\xff\xc3";
        let corpus = corpus();
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let len = rng.below(64);
                (0..len)
                    .map(|_| {
                        if rng.below(8) == 0 {
                            rng.next() as u8
                        } else {
                            alphabet[rng.below(alphabet.len())]
                        }
                    })
                    .collect()
            } else {
                let mut input = corpus[rng.below(corpus.len())].clone();
                for _ in 0..=rng.below(4) {
                    let pos = rng.below(input.len() + 1);
                    match rng.below(3) {
                        0 => input.insert(pos, alphabet[rng.below(alphabet.len())]),
                        1 if pos < input.len() => {
                            input.remove(pos);
                        }
                        _ => {
                            if let Some(byte) = input.get_mut(pos) {
                                *byte = rng.next() as u8;
                            }
                        }
                    }
                }
                input
            };
            let names = if round % 3 == 0 {
                NameValidation::Utf8
            } else {
                NameValidation::Legacy
            };
            if let Err(err) = parse(&input, names) {
                assert!(err.line >= 1, "{input:?}");
            }
        }
    }
}

//! httprouter v1.3.0's decisions on a decoded path (upstream routes with two httprouter
//! routers): a matched route with its parameters, `404`, `405` with an `Allow` header, the
//! automatic `OPTIONS` answer, and the trailing-slash and case-fixing redirects.
//!
//! The router is a segment matcher over the route table, not httprouter's
//! radix tree. It reproduces the tree's answers, including three places where
//! the tree's shape leaks into them: `X/` is redirected to `X` when the tree
//! branches at `X` into a `/` node before a param (`PUT /metrics/job/` → 307
//! `/metrics/job`) or into a longer node; and the case-fixing lookup cannot
//! get from a param into a following catch-all unless the node before the
//! param starts with `/` (`PUT /METRICS/JOB@BASE64/x/a/b` is 404). Its answers
//! for upstream's route tables (with and without a route prefix) were compared
//! with Debian's pushgateway 1.5.1 binary, which uses the same httprouter,
//! over 427,204 requests without a difference.

use std::error::Error;
use std::fmt;

use super::path::{clean_elements, escape_path, join_rooted};

/// httprouter's `CleanPath`, applied before the case-insensitive lookup. It
/// differs from ServeMux's in one detail: a final `.` element leaves a
/// trailing slash (`/a/.` → `/a/`), a final `..` does not.
fn router_clean_path(p: &str) -> String {
    let ends_in_dot = p == "." || p.ends_with("/.");
    let trailing = (p.len() > 1 && p.ends_with('/')) || ends_in_dot;
    join_rooted(&clean_elements(p), trailing)
}

/// The `Location` Go's `http.Redirect` sends for a decoded path: escaped,
/// then cleaned with `path.Clean`, keeping a trailing slash.
fn redirect_location(decoded_path: &str) -> String {
    let escaped = escape_path(decoded_path);
    join_rooted(&clean_elements(&escaped), escaped.ends_with('/'))
}

/// A route pattern that httprouter v1.3.0 would reject, or that this matcher
/// does not support (a wildcard that is not a whole segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    /// The pattern as given to [`Router::add`].
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid route pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl Error for PatternError {}

/// Values of `:name` and `*name` wildcards of a matched route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value of the wildcard called `name`. A catch-all value starts with `/`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What httprouter does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution<T> {
    /// A route of the request's method matches.
    Matched {
        /// The value registered with the route.
        value: T,
        /// Its wildcard values.
        params: Params,
    },
    /// Trailing-slash or case-fixing redirect: 301 for GET, 307 otherwise.
    /// `location` is the path only; Go appends `?` and the raw query when the
    /// request target had a `?` (even an empty query). A GET redirect carries
    /// the body `<a href="LOCATION">Moved Permanently</a>.\n\n`.
    Redirect {
        /// 301 or 307.
        status: u16,
        /// Escaped, cleaned path to redirect to.
        location: String,
    },
    /// `405 Method Not Allowed` with this `Allow` header.
    MethodNotAllowed {
        /// Methods with a route for the path plus `OPTIONS`, sorted, `", "`-joined.
        allow: String,
    },
    /// Automatic answer to `OPTIONS`: `200`, empty body, this `Allow` header.
    Options {
        /// As for [`Resolution::MethodNotAllowed`].
        allow: String,
    },
    /// `404 page not found`.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(String),
    Param(String),
    CatchAll(String),
}

impl Segment {
    fn is_wildcard(&self) -> bool {
        !matches!(self, Segment::Static(_))
    }
}

#[derive(Debug, Clone)]
struct Route<T> {
    method: String,
    segments: Vec<Segment>,
    value: T,
}

/// Whether static text must match exactly (httprouter's lookup) or
/// ASCII-case-insensitively (its fixed-path lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Exact,
    Insensitive,
}

impl Case {
    fn eq(self, a: &[u8], b: &[u8]) -> bool {
        match self {
            Case::Exact => a == b,
            Case::Insensitive => a.eq_ignore_ascii_case(b),
        }
    }
}

/// A successful match: the route, its wildcard values, and the request path
/// rewritten with the route's spelling of every static segment.
struct Match<'r, T> {
    route: &'r Route<T>,
    params: Params,
    canonical: String,
}

/// How the table continues after a request prefix `X` (used to decide
/// httprouter's trailing-slash quirks for `X/`).
struct Continuation {
    /// Pattern text following `X`, wildcards written as `:name` / `*name`.
    rest: Vec<u8>,
    /// `X` ended exactly where a `:param` ended.
    after_param: bool,
    /// `X` in the route's spelling.
    canonical: String,
}

/// Which of httprouter's tree-shape quirks applies to `X/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlashQuirk {
    None,
    /// The tree has a node that is exactly `/` followed by a `:param`.
    SlashBeforeParam,
    /// The tree has a node starting with `/` and longer than it.
    LongerNode,
}

/// An httprouter v1.3.0 router with its defaults (RedirectTrailingSlash,
/// RedirectFixedPath, HandleMethodNotAllowed, HandleOPTIONS, no custom
/// handlers) over a table of `(method, pattern, value)`.
#[derive(Debug, Clone)]
pub(crate) struct Router<T> {
    routes: Vec<Route<T>>,
}

impl<T: Clone> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Router<T> {
    /// An empty table: every request is [`Resolution::NotFound`].
    pub fn new() -> Self {
        Router { routes: Vec::new() }
    }

    /// Registers a route. Patterns use httprouter syntax: static segments,
    /// `:name` (one segment), `*name` (catch-all, last segment; its value
    /// starts with `/`). Rejects what httprouter would panic on (conflicting
    /// wildcards, duplicates) and wildcards that are not whole segments.
    pub fn add(&mut self, method: &str, pattern: &str, value: T) -> Result<(), PatternError> {
        let fail = |reason| PatternError {
            pattern: pattern.to_owned(),
            reason,
        };
        let segments = parse_pattern(pattern).map_err(fail)?;
        for other in self.routes.iter().filter(|r| r.method == method) {
            if other.segments == segments {
                return Err(fail("a route with this pattern already exists"));
            }
            if wildcard_conflict(&other.segments, &segments) {
                return Err(fail("wildcard conflicts with an existing route"));
            }
        }
        self.routes.push(Route {
            method: method.to_owned(),
            segments,
            value,
        });
        Ok(())
    }

    /// httprouter's decision for `method` on `path`, the percent-decoded path
    /// (httprouter matches on `URL.Path`).
    ///
    /// Order, as in `Router.ServeHTTP`: a route of this method; then, only if
    /// the method has any route at all and the path is not `/` (and the method
    /// is not CONNECT), the trailing-slash redirect and the case-insensitive
    /// fixed-path redirect; then the automatic OPTIONS answer or 405 when
    /// another method has a route for the path; else 404.
    pub fn resolve(&self, method: &str, path: &str) -> Resolution<T> {
        let has_method = self.routes.iter().any(|r| r.method == method);
        if has_method {
            if let Some(found) = self.find(method, path, Case::Exact) {
                return Resolution::Matched {
                    value: found.route.value.clone(),
                    params: found.params,
                };
            }
            if method != "CONNECT" && path != "/" {
                let status = if method == "GET" { 301 } else { 307 };
                if self.trailing_slash_redirect(method, path) {
                    let toggled = match path.strip_suffix('/') {
                        Some(without) => without.to_owned(),
                        None => format!("{path}/"),
                    };
                    return Resolution::Redirect {
                        status,
                        location: redirect_location(&toggled),
                    };
                }
                if let Some(fixed) = self.fixed_path(method, &router_clean_path(path)) {
                    return Resolution::Redirect {
                        status,
                        location: redirect_location(&fixed),
                    };
                }
            }
        }
        let allow = self.allowed(method, path);
        match (method, allow) {
            (_, None) => Resolution::NotFound,
            ("OPTIONS", Some(allow)) => Resolution::Options { allow },
            (_, Some(allow)) => Resolution::MethodNotAllowed { allow },
        }
    }

    /// The `Allow` value: every other method (not OPTIONS) with a route for
    /// `path`, plus OPTIONS, sorted; `None` when no other method has one.
    fn allowed(&self, method: &str, path: &str) -> Option<String> {
        let mut methods: Vec<&str> = Vec::new();
        for route in &self.routes {
            let m = route.method.as_str();
            if m == method || m == "OPTIONS" || methods.contains(&m) {
                continue;
            }
            if self.find(m, path, Case::Exact).is_some() {
                methods.push(m);
            }
        }
        if methods.is_empty() {
            return None;
        }
        methods.push("OPTIONS");
        methods.sort_unstable();
        Some(methods.join(", "))
    }

    /// The first route of `method` matching `path`.
    fn find(&self, method: &str, path: &str, case: Case) -> Option<Match<'_, T>> {
        let parts = split_path(path)?;
        self.routes
            .iter()
            .filter(|r| r.method == method)
            .find_map(|route| {
                let (params, canonical) = match_segments(&route.segments, &parts, case)?;
                Some(Match {
                    route,
                    params,
                    canonical,
                })
            })
    }

    /// httprouter's trailing-slash recommendation for an unmatched path.
    ///
    /// Mostly it means "the path with the slash toggled has a route". The
    /// radix tree adds two answers of its own for `X/` when `X` ends where the
    /// tree branches (routes diverge there, or a `:param` ends there) and the
    /// branch taken by `/` is a node that is either exactly `/` followed by a
    /// `:param`, or longer than `/`. Then it recommends `X` even though `X`
    /// has no route: that is why `PUT /metrics/job/` redirects to
    /// `/metrics/job` (the table also has `/metrics/job@base64/…`), while
    /// `PUT /metrics/job@base64/` is a plain 404.
    fn trailing_slash_redirect(&self, method: &str, path: &str) -> bool {
        match path.strip_suffix('/') {
            Some(without) if !without.is_empty() => {
                self.find(method, without, Case::Exact).is_some()
                    || self.slash_quirk(method, without, Case::Exact) != SlashQuirk::None
            }
            Some(_) => false,
            None => self
                .find(method, &format!("{path}/"), Case::Exact)
                .is_some(),
        }
    }

    /// httprouter's `findCaseInsensitivePath` with trailing-slash fixing, on
    /// the cleaned path: a route matching ASCII-case-insensitively (wildcard
    /// values keep their case), else the same with the trailing slash
    /// toggled. The tree's "longer node" quirk applies here too; its
    /// "slash before param" quirk does not.
    fn fixed_path(&self, method: &str, cleaned: &str) -> Option<String> {
        if self.ci_walk_dies_before_catch_all(method, cleaned) {
            return None;
        }
        if let Some(found) = self.find(method, cleaned, Case::Insensitive) {
            return Some(found.canonical);
        }
        match cleaned.strip_suffix('/') {
            Some(without) if !without.is_empty() => {
                if let Some(found) = self.find(method, without, Case::Insensitive) {
                    return Some(found.canonical);
                }
                if self.slash_quirk(method, without, Case::Insensitive) == SlashQuirk::LongerNode {
                    return self
                        .continuations(method, without, Case::Insensitive)
                        .into_iter()
                        .next()
                        .map(|c| c.canonical);
                }
                None
            }
            Some(_) => None,
            None => self
                .find(method, &format!("{cleaned}/"), Case::Insensitive)
                .map(|found| found.canonical),
        }
    }

    /// httprouter's case-insensitive walk carries the bytes of the last rune
    /// it chose a child by. Between a `:param` and a following catch-all
    /// the tree has an empty node, where the walk reuses that stale byte: it
    /// gets through only when the byte is `/`, i.e. when the node ending just
    /// before the param was entered at a `/` (true for `/metrics/job/:job`,
    /// whose node is `/`; false for `/metrics/job@base64/:job`, whose node is
    /// `@base64/`). Otherwise the walk fails outright, trailing-slash fixing
    /// included. Says whether `cleaned` runs into such a dead end.
    fn ci_walk_dies_before_catch_all(&self, method: &str, cleaned: &str) -> bool {
        let Some(parts) = split_path(cleaned) else {
            return false;
        };
        let routes: Vec<&Route<T>> = self.routes.iter().filter(|r| r.method == method).collect();
        let texts: Vec<String> = routes.iter().map(|r| pattern_text(&r.segments)).collect();
        routes.iter().zip(&texts).any(|(route, text)| {
            let Some(i) = route
                .segments
                .windows(2)
                .position(|w| matches!(w, [Segment::Param(_), Segment::CatchAll(_)]))
            else {
                return false;
            };
            let reaches_param = parts.len() > i + 1
                && continuation(&route.segments[..=i], &parts[..=i], Case::Insensitive)
                    .is_some_and(|c| c.rest.is_empty());
            if !reaches_param {
                return false;
            }
            // Byte offset of the `:` of the param, and the last node start before it.
            let param_at = route.segments[..i]
                .iter()
                .map(|s| segment_text(s).len() + 1)
                .sum::<usize>()
                + 1;
            let text = text.as_bytes();
            let diverges_at = (1..param_at)
                .rev()
                .find(|&k| {
                    texts.iter().any(|other| {
                        let other = other.as_bytes();
                        other != text
                            && other.len() >= k
                            && other[..k] == text[..k]
                            && other.get(k) != text.get(k)
                    })
                })
                .unwrap_or(0);
            // A node also starts where an earlier param ends; its walk
            // state is inherited, which this model treats as a dead end.
            let last_param_end = route.segments[..i]
                .iter()
                .scan(0usize, |end, s| {
                    *end += segment_text(s).len() + 1;
                    Some((*end, matches!(s, Segment::Param(_))))
                })
                .filter(|&(_, is_param)| is_param)
                .map(|(end, _)| end)
                .last()
                .unwrap_or(0);
            let node_start = diverges_at.max(last_param_end);
            let after_param = last_param_end > 0 && last_param_end == node_start;
            node_start == 0 || after_param || text[node_start] != b'/'
        })
    }

    /// How routes of `method` continue after the request prefix `prefix`.
    fn continuations(&self, method: &str, prefix: &str, case: Case) -> Vec<Continuation> {
        let Some(parts) = split_path(prefix) else {
            return Vec::new();
        };
        self.routes
            .iter()
            .filter(|r| r.method == method)
            .filter_map(|r| continuation(&r.segments, &parts, case))
            .collect()
    }

    /// Decides the tree-shape quirks for `X/` (see [`Self::trailing_slash_redirect`]).
    fn slash_quirk(&self, method: &str, x: &str, case: Case) -> SlashQuirk {
        let conts = self.continuations(method, x, case);
        let mut first_bytes: Vec<Option<u8>> =
            conts.iter().map(|c| c.rest.first().copied()).collect();
        first_bytes.sort_unstable();
        first_bytes.dedup();
        let branches_here =
            conts.iter().any(|c| c.rest.is_empty() || c.after_param) || first_bytes.len() > 1;
        let slash: Vec<&[u8]> = conts
            .iter()
            .map(|c| c.rest.as_slice())
            .filter(|rest| rest.first() == Some(&b'/'))
            .collect();
        if !branches_here || slash.is_empty() || slash.iter().any(|rest| rest.get(1) == Some(&b'*'))
        {
            return SlashQuirk::None;
        }
        // The node reached through `/` holds the longest common prefix of the
        // continuations, up to the first wildcard; a catch-all's `/` belongs
        // to the catch-all, not to the node.
        let mut node_len = slash
            .iter()
            .map(|rest| common_prefix_len(slash[0], rest))
            .min()
            .unwrap_or(0);
        if let Some(pos) = slash[0][..node_len]
            .iter()
            .position(|&b| b == b':' || b == b'*')
        {
            node_len = if slash[0][pos] == b'*' {
                pos.saturating_sub(1)
            } else {
                pos
            };
        }
        if node_len > 1 {
            SlashQuirk::LongerNode
        } else if node_len == 1 && slash.iter().all(|rest| rest.get(1) == Some(&b':')) {
            SlashQuirk::SlashBeforeParam
        } else {
            SlashQuirk::None
        }
    }
}

/// A segment as written in a pattern.
fn segment_text(segment: &Segment) -> String {
    match segment {
        Segment::Static(text) => text.clone(),
        Segment::Param(name) => format!(":{name}"),
        Segment::CatchAll(name) => format!("*{name}"),
    }
}

/// A pattern as written, rebuilt from its segments.
fn pattern_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", segment_text(s)))
        .collect()
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The segments of a path after its leading `/` (`/` → `[""]`); `None` for a
/// path that does not start with `/`, which no route matches.
fn split_path(path: &str) -> Option<Vec<&str>> {
    path.strip_prefix('/').map(|rest| rest.split('/').collect())
}

fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, &'static str> {
    let parts = split_path(pattern).ok_or("pattern must begin with '/'")?;
    let count = parts.len();
    let mut segments = Vec::with_capacity(count);
    for (i, part) in parts.into_iter().enumerate() {
        let segment = if let Some(name) = part.strip_prefix(':') {
            Segment::Param(name.to_owned())
        } else if let Some(name) = part.strip_prefix('*') {
            if i + 1 != count {
                return Err("catch-all must be the last segment");
            }
            Segment::CatchAll(name.to_owned())
        } else {
            if part.contains([':', '*']) {
                return Err("a wildcard must be a whole segment");
            }
            if part.is_empty() && i + 1 != count {
                return Err("empty path segment");
            }
            Segment::Static(part.to_owned())
        };
        if let Segment::Param(name) | Segment::CatchAll(name) = &segment {
            if name.is_empty() || name.contains([':', '*']) {
                return Err("wildcard needs a plain, non-empty name");
            }
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// httprouter refuses a wildcard where another route of the same method has
/// something else at the same place after the same segments.
fn wildcard_conflict(a: &[Segment], b: &[Segment]) -> bool {
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => x.is_wildcard() || y.is_wildcard(),
        None => false,
    }
}

/// Matches request segments against a route's segments. A `:param` takes one
/// segment, which may be empty only when more of the path follows (httprouter
/// reads `/metrics/job//x` as job `""`); a catch-all takes the rest, `/` included.
fn match_segments(segments: &[Segment], parts: &[&str], case: Case) -> Option<(Params, String)> {
    let mut params = Params::default();
    let mut canonical = String::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::CatchAll(name) => {
                if i >= parts.len() {
                    return None;
                }
                let value = format!("/{}", parts[i..].join("/"));
                canonical.push_str(&value);
                params.pairs.push((name.clone(), value));
                return Some((params, canonical));
            }
            Segment::Static(text) => {
                let part = parts.get(i)?;
                if !case.eq(part.as_bytes(), text.as_bytes()) {
                    return None;
                }
                canonical.push('/');
                canonical.push_str(text);
            }
            Segment::Param(name) => {
                let part = parts.get(i)?;
                if part.is_empty() && i + 1 == segments.len() {
                    return None;
                }
                canonical.push('/');
                canonical.push_str(part);
                params.pairs.push((name.clone(), (*part).to_owned()));
            }
        }
    }
    (parts.len() == segments.len()).then_some((params, canonical))
}

/// If the request prefix `parts` is matched by a leading part of the route,
/// what of the route's text follows it.
fn continuation(segments: &[Segment], parts: &[&str], case: Case) -> Option<Continuation> {
    let last = parts.len().checked_sub(1)?;
    let mut canonical = String::new();
    let mut rest: Vec<u8> = Vec::new();
    let mut after_param = false;
    for (i, part) in parts.iter().enumerate() {
        match segments.get(i)? {
            Segment::CatchAll(_) => return None,
            Segment::Param(_) => {
                canonical.push('/');
                canonical.push_str(part);
                after_param = i == last;
            }
            Segment::Static(text) => {
                let text = text.as_bytes();
                let n = part.len();
                if i < last {
                    if !case.eq(part.as_bytes(), text) {
                        return None;
                    }
                    canonical.push('/');
                    canonical.push_str(part_spelling(text, part));
                } else {
                    if text.len() < n || !case.eq(&text[..n], part.as_bytes()) {
                        return None;
                    }
                    canonical.push('/');
                    canonical.push_str(part_spelling(&text[..n], part));
                    rest.extend_from_slice(&text[n..]);
                }
            }
        }
    }
    for segment in segments.iter().skip(parts.len()) {
        rest.push(b'/');
        match segment {
            Segment::Static(text) => rest.extend_from_slice(text.as_bytes()),
            Segment::Param(name) => {
                rest.push(b':');
                rest.extend_from_slice(name.as_bytes());
            }
            Segment::CatchAll(name) => {
                rest.push(b'*');
                rest.extend_from_slice(name.as_bytes());
            }
        }
    }
    Some(Continuation {
        rest,
        after_param,
        canonical,
    })
}

/// The route's spelling of a request segment it matched case-insensitively.
/// The bytes differ only in ASCII case, so they are valid UTF-8 whenever the
/// request segment is; fall back to the request's spelling otherwise.
fn part_spelling<'a>(route_bytes: &'a [u8], part: &'a str) -> &'a str {
    std::str::from_utf8(route_bytes).unwrap_or(part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::path::percent_decode;
    use crate::routing::servemux::clean_path;

    /// Upstream's main router (its main.go) with route prefix `prefix` (`""` by default).
    fn main_router(prefix: &str) -> Router<&'static str> {
        let mut r = Router::new();
        let mut add = |method: &str, pattern: String, name: &'static str| {
            r.add(method, &pattern, name).expect("valid upstream route");
        };
        add("GET", format!("{prefix}/-/healthy"), "healthy");
        add("GET", format!("{prefix}/-/ready"), "ready");
        add("GET", format!("{prefix}/metrics"), "metrics");
        for (suffix, push, delete) in [
            ("", "push", "delete"),
            ("@base64", "push-base64", "delete-base64"),
        ] {
            for (method, name) in [("PUT", push), ("POST", push), ("DELETE", delete)] {
                add(
                    method,
                    format!("{prefix}/metrics/job{suffix}/:job/*labels"),
                    name,
                );
                add(method, format!("{prefix}/metrics/job{suffix}/:job"), name);
            }
        }
        add("GET", format!("{prefix}/static/*filepath"), "static");
        add("GET", format!("{prefix}/status"), "status");
        add("GET", format!("{prefix}/"), "status");
        add("GET", format!("{prefix}/debug/pprof/*pprof"), "pprof");
        add("PUT", format!("{prefix}/-/quit"), "quit");
        add("POST", format!("{prefix}/-/quit"), "quit");
        add("GET", "/-/quit".to_owned(), "quit-get");
        r
    }

    /// Upstream's API router, routed on the path with `P/api/v1` stripped.
    fn api_router(admin: bool) -> Router<&'static str> {
        let mut r = Router::new();
        r.add("OPTIONS", "/*path", "api/v1/options").unwrap();
        r.add("GET", "/status", "api/v1/status").unwrap();
        r.add("GET", "/metrics", "api/v1/metrics").unwrap();
        if admin {
            r.add("PUT", "/admin/wipe", "wipe").unwrap();
        }
        r
    }

    fn matched<T: Clone>(res: Resolution<T>) -> (T, Params) {
        match res {
            Resolution::Matched { value, params } => (value, params),
            other => panic!(
                "expected a match, got {other:?}",
                other = other_kind(&other)
            ),
        }
    }

    fn other_kind<T>(res: &Resolution<T>) -> String {
        match res {
            Resolution::Matched { .. } => "Matched".into(),
            Resolution::Redirect { status, location } => format!("Redirect {status} {location}"),
            Resolution::MethodNotAllowed { allow } => format!("405 {allow}"),
            Resolution::Options { allow } => format!("Options {allow}"),
            Resolution::NotFound => "NotFound".into(),
        }
    }

    fn redirect<T>(status: u16, location: &str) -> Resolution<T> {
        Resolution::Redirect {
            status,
            location: location.to_owned(),
        }
    }

    fn not_allowed<T>(allow: &str) -> Resolution<T> {
        Resolution::MethodNotAllowed {
            allow: allow.to_owned(),
        }
    }

    fn decoded(raw: &str) -> String {
        String::from_utf8(percent_decode(raw).unwrap()).unwrap()
    }

    #[test]
    fn escaped_slashes_do_not_trigger_cleaning_but_still_split_segments() {
        // Go >= 1.22 cleans the escaped path, so `%2F%2F` reaches the router
        // as `//` inside the labels.
        assert_eq!(clean_path("/metrics/job/x/l/a%2F%2Fb"), None);
        let r = main_router("");
        let (_, params) = matched(r.resolve("PUT", &decoded("/metrics/job/x/l/a%2F%2Fb")));
        assert_eq!(params.get("labels"), Some("/l/a//b"));
    }

    // --- matching ---

    #[test]
    fn job_route_and_job_with_labels_route_coexist() {
        let r = main_router("");
        let (name, params) = matched(r.resolve("PUT", "/metrics/job/x"));
        assert_eq!(name, "push");
        assert_eq!(params.get("job"), Some("x"));
        assert_eq!(params.get("labels"), None);
        let (_, params) = matched(r.resolve("DELETE", "/metrics/job/x/a/b"));
        assert_eq!(params.get("job"), Some("x"));
        assert_eq!(params.get("labels"), Some("/a/b"));
    }

    #[test]
    fn a_trailing_slash_after_the_job_matches_the_catch_all_with_labels_slash() {
        let r = main_router("");
        let (_, params) = matched(r.resolve("POST", "/metrics/job/foo/"));
        assert_eq!(params.get("job"), Some("foo"));
        assert_eq!(params.get("labels"), Some("/"));
    }

    #[test]
    fn decoded_slash_splits_the_job_from_the_labels() {
        let r = main_router("");
        let (_, params) = matched(r.resolve("PUT", &decoded("/metrics/job/a%2Fb/c")));
        assert_eq!(params.get("job"), Some("a"));
        assert_eq!(params.get("labels"), Some("/b/c"));
        let (_, params) = matched(r.resolve("PUT", &decoded("/metrics/job/a%2Fb")));
        assert_eq!(params.get("labels"), Some("/b"));
    }

    #[test]
    fn percent_encoded_at_sign_routes_to_the_base64_job_route() {
        let r = main_router("");
        let res = r.resolve("PUT", &decoded("/metrics/job%40base64/ZG90MQ"));
        let (name, params) = matched(res);
        assert_eq!(name, "push-base64");
        assert_eq!(params.get("job"), Some("ZG90MQ"));
        let (name, params) = matched(r.resolve("DELETE", "/metrics/job@base64/ZG90MQ/a/b"));
        assert_eq!(name, "delete-base64");
        assert_eq!(params.get("labels"), Some("/a/b"));
    }

    #[test]
    fn an_empty_job_segment_followed_by_labels_matches_with_an_empty_job() {
        let r = main_router("");
        let (_, params) = matched(r.resolve("PUT", "/metrics/job//a/b"));
        assert_eq!(params.get("job"), Some(""));
        assert_eq!(params.get("labels"), Some("/a/b"));
    }

    #[test]
    fn plus_space_and_utf8_survive_into_parameters() {
        let r = main_router("");
        let (_, params) = matched(r.resolve("PUT", &decoded("/metrics/job/j/l/a+b%20c")));
        assert_eq!(params.get("labels"), Some("/l/a+b c"));
        let path = decoded(
            "/metrics/job/titan/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82",
        );
        let (_, params) = matched(r.resolve("PUT", &path));
        assert_eq!(params.get("labels"), Some("/name/Προμηθεύς"));
    }

    #[test]
    fn static_catch_all_takes_the_rest_of_the_path_with_its_slash() {
        let r = main_router("");
        let (name, params) = matched(r.resolve("GET", "/static/css/a.css"));
        assert_eq!(name, "static");
        assert_eq!(params.get("filepath"), Some("/css/a.css"));
        let (_, params) = matched(r.resolve("GET", "/static/"));
        assert_eq!(params.get("filepath"), Some("/"));
    }

    #[test]
    fn root_status_is_the_exact_path_only() {
        let r = main_router("");
        assert_eq!(matched(r.resolve("GET", "/")).0, "status");
        assert_eq!(matched(r.resolve("GET", "/status")).0, "status");
        assert_eq!(r.resolve("GET", "/index.html"), Resolution::NotFound);
    }

    #[test]
    fn pprof_catch_all_matches_any_name() {
        let r = main_router("");
        let (_, params) = matched(r.resolve("GET", "/debug/pprof/cmdline"));
        assert_eq!(params.get("pprof"), Some("/cmdline"));
        assert_eq!(
            matched(r.resolve("GET", "/debug/pprof/")).1.get("pprof"),
            Some("/")
        );
    }

    // --- 404 / 405 / OPTIONS ---

    #[test]
    fn get_on_a_push_path_is_405_listing_the_push_methods() {
        let r = main_router("");
        assert_eq!(
            r.resolve("GET", "/metrics/job/x"),
            not_allowed("DELETE, OPTIONS, POST, PUT")
        );
    }

    #[test]
    fn post_on_metrics_is_405_allowing_get() {
        let r = main_router("");
        assert_eq!(r.resolve("POST", "/metrics"), not_allowed("GET, OPTIONS"));
    }

    #[test]
    fn delete_on_quit_lists_the_unprefixed_get_and_the_quit_methods() {
        let r = main_router("");
        assert_eq!(
            r.resolve("DELETE", "/-/quit"),
            not_allowed("GET, OPTIONS, POST, PUT")
        );
    }

    #[test]
    fn head_has_no_routes_so_it_is_405_where_get_exists() {
        let r = main_router("");
        for p in ["/metrics", "/", "/static/x"] {
            assert_eq!(r.resolve("HEAD", p), not_allowed("GET, OPTIONS"), "{p}");
        }
    }

    #[test]
    fn methods_without_routes_get_no_redirects() {
        let r = main_router("");
        assert_eq!(r.resolve("HEAD", "/METRICS"), Resolution::NotFound);
        assert_eq!(r.resolve("HEAD", "/metrics/"), Resolution::NotFound);
        assert_eq!(
            r.resolve("PATCH", "/metrics/job/x"),
            not_allowed("DELETE, OPTIONS, POST, PUT")
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        let r = main_router("");
        assert_eq!(r.resolve("GET", "/nope"), Resolution::NotFound);
        assert_eq!(r.resolve("PUT", "/metrics/job"), Resolution::NotFound);
        assert_eq!(r.resolve("GET", "/-/"), Resolution::NotFound);
        assert_eq!(r.resolve("GET", "*"), Resolution::NotFound);
        // httprouter recommends `/` for an empty path; Go never routes one.
        assert_eq!(r.resolve("GET", ""), redirect(301, "/"));
    }

    #[test]
    fn options_answers_with_the_methods_that_have_a_route() {
        let r = main_router("");
        assert_eq!(
            r.resolve("OPTIONS", "/metrics/job/x"),
            Resolution::Options {
                allow: "DELETE, OPTIONS, POST, PUT".into()
            }
        );
        assert_eq!(
            r.resolve("OPTIONS", "/"),
            Resolution::Options {
                allow: "GET, OPTIONS".into()
            }
        );
    }

    #[test]
    fn options_on_a_path_without_routes_is_404_not_405() {
        let r = main_router("");
        assert_eq!(r.resolve("OPTIONS", "/nope"), Resolution::NotFound);
        assert_eq!(r.resolve("OPTIONS", "/METRICS"), Resolution::NotFound);
    }

    // --- trailing-slash redirects ---

    #[test]
    fn get_with_an_extra_trailing_slash_redirects_permanently_without_it() {
        let r = main_router("");
        assert_eq!(r.resolve("GET", "/metrics/"), redirect(301, "/metrics"));
        assert_eq!(r.resolve("GET", "/status/"), redirect(301, "/status"));
    }

    #[test]
    fn get_on_a_catch_all_root_without_slash_redirects_to_it_with_slash() {
        let r = main_router("");
        assert_eq!(r.resolve("GET", "/static"), redirect(301, "/static/"));
        assert_eq!(
            r.resolve("GET", "/debug/pprof"),
            redirect(301, "/debug/pprof/")
        );
    }

    #[test]
    fn put_on_job_with_trailing_slash_redirects_temporarily_to_a_path_that_404s() {
        let r = main_router("");
        assert_eq!(
            r.resolve("PUT", "/metrics/job/"),
            redirect(307, "/metrics/job")
        );
        assert_eq!(
            r.resolve("DELETE", "/metrics/job/"),
            redirect(307, "/metrics/job")
        );
        assert_eq!(r.resolve("PUT", "/metrics/job"), Resolution::NotFound);
    }

    #[test]
    fn the_base64_job_prefix_with_trailing_slash_is_a_plain_404() {
        // Its radix node is `@base64/`, not `/`, so httprouter recommends nothing.
        let r = main_router("");
        assert_eq!(
            r.resolve("PUT", "/metrics/job@base64/"),
            Resolution::NotFound
        );
    }

    #[test]
    fn put_on_quit_with_trailing_slash_redirects_temporarily() {
        let r = main_router("");
        assert_eq!(r.resolve("PUT", "/-/quit/"), redirect(307, "/-/quit"));
        assert_eq!(r.resolve("GET", "/-/quit/"), redirect(301, "/-/quit"));
    }

    #[test]
    fn trailing_slash_redirects_are_tried_before_405() {
        let mut r = Router::new();
        r.add("GET", "/a/", 1).unwrap();
        r.add("PUT", "/a", 2).unwrap();
        assert_eq!(
            r.resolve("GET", "/a"),
            Resolution::Redirect {
                status: 301,
                location: "/a/".into()
            }
        );
        assert_eq!(
            r.resolve("DELETE", "/a"),
            Resolution::MethodNotAllowed {
                allow: "OPTIONS, PUT".into()
            }
        );
    }

    #[test]
    fn a_redirect_recommendation_for_another_method_does_not_make_a_405() {
        // GET would redirect `/metrics/`, but 405 needs an exact route.
        let r = main_router("");
        assert_eq!(r.resolve("POST", "/metrics/"), Resolution::NotFound);
        assert_eq!(r.resolve("POST", "/-/quit/"), redirect(307, "/-/quit"));
    }

    #[test]
    fn redirect_locations_are_escaped_like_go() {
        let r = main_router("");
        assert_eq!(
            r.resolve("PUT", "/Metrics/job/a b"),
            redirect(307, "/metrics/job/a%20b")
        );
        assert_eq!(
            r.resolve("PUT", "/Metrics/job/a@b!"),
            redirect(307, "/metrics/job/a@b%21")
        );
    }

    // --- case-insensitive fixed-path redirects ---

    #[test]
    fn uppercase_get_is_redirected_to_the_route_spelling() {
        let r = main_router("");
        assert_eq!(r.resolve("GET", "/METRICS"), redirect(301, "/metrics"));
        assert_eq!(r.resolve("GET", "/Status"), redirect(301, "/status"));
        assert_eq!(r.resolve("GET", "/-/HEALTHY"), redirect(301, "/-/healthy"));
    }

    #[test]
    fn case_fixing_keeps_parameter_values_as_sent() {
        let r = main_router("");
        assert_eq!(
            r.resolve("PUT", "/Metrics/job/x"),
            redirect(307, "/metrics/job/x")
        );
        assert_eq!(
            r.resolve("POST", "/METRICS/JOB/MyJob/Inst/A"),
            redirect(307, "/metrics/job/MyJob/Inst/A")
        );
        assert_eq!(
            r.resolve("PUT", "/Metrics/job/x/"),
            redirect(307, "/metrics/job/x/")
        );
        assert_eq!(
            r.resolve("GET", "/STATIC/A.CSS"),
            redirect(301, "/static/A.CSS")
        );
        assert_eq!(
            r.resolve("PUT", "/METRICS/JOB@BASE64/ZG90MQ"),
            redirect(307, "/metrics/job@base64/ZG90MQ")
        );
    }

    #[test]
    fn case_fixing_cannot_reach_base64_labels() {
        // Verified against 1.5.1: httprouter's walk dies between `:job` and
        // `*labels` of the base64 route, and does not fall back to `:job` alone.
        let r = main_router("");
        assert_eq!(
            r.resolve("PUT", "/METRICS/JOB@BASE64/x/"),
            Resolution::NotFound
        );
        assert_eq!(
            r.resolve("PUT", "/metrics/JOB@BASE64/x/a/b"),
            Resolution::NotFound
        );
        assert_eq!(
            r.resolve("DELETE", "/Metrics/job@base64/x/a/b"),
            Resolution::NotFound
        );
        assert_eq!(
            r.resolve("PUT", "/METRICS/JOB@BASE64/x"),
            redirect(307, "/metrics/job@base64/x")
        );
        let r = main_router("/pg");
        assert_eq!(
            r.resolve("PUT", "/PG/metrics/job@base64/x/a/b"),
            Resolution::NotFound
        );
        assert_eq!(
            r.resolve("PUT", "/PG/metrics/job/x/a/b"),
            redirect(307, "/pg/metrics/job/x/a/b")
        );
    }

    #[test]
    fn case_fixing_cannot_reach_a_catch_all_after_a_param_in_the_root_node() {
        let mut r = Router::new();
        r.add("GET", "/a/:p/*rest", 1).unwrap();
        assert_eq!(r.resolve("GET", "/A/x/y"), Resolution::NotFound);
        assert_eq!(
            matched(r.resolve("GET", "/a/x/y")).1.get("rest"),
            Some("/y")
        );
    }

    #[test]
    fn case_fixing_also_fixes_the_trailing_slash() {
        let r = main_router("");
        assert_eq!(r.resolve("GET", "/METRICS/"), redirect(301, "/metrics"));
        assert_eq!(r.resolve("GET", "/STATIC"), redirect(301, "/static/"));
    }

    #[test]
    fn case_fixing_does_not_take_the_slash_before_param_shortcut() {
        let r = main_router("");
        assert_eq!(r.resolve("PUT", "/METRICS/JOB/"), Resolution::NotFound);
    }

    #[test]
    fn case_fixing_cleans_a_decoded_path_first() {
        let r = main_router("");
        assert_eq!(
            r.resolve("GET", &decoded("/METRICS%2F%2F")),
            redirect(301, "/metrics")
        );
        assert_eq!(
            r.resolve("GET", &decoded("/x/%2E%2E/Metrics")),
            redirect(301, "/metrics")
        );
        assert_eq!(
            r.resolve("GET", &decoded("/metrics%2F")),
            redirect(301, "/metrics")
        );
    }

    #[test]
    fn case_fixing_leaves_non_ascii_alone() {
        let r = main_router("");
        // U+017F folds to `s` in Unicode but httprouter's byte-wise lookup misses it.
        assert_eq!(r.resolve("GET", "/metricſ"), Resolution::NotFound);
    }

    #[test]
    fn wrong_case_for_another_method_is_not_405() {
        // 405 uses exact lookups only.
        let r = main_router("");
        assert_eq!(r.resolve("GET", "/METRICS/job/x"), Resolution::NotFound);
    }

    // --- /-/quit ---

    #[test]
    fn quit_routes_are_split_between_methods() {
        let r = main_router("");
        assert_eq!(matched(r.resolve("GET", "/-/quit")).0, "quit-get");
        assert_eq!(matched(r.resolve("PUT", "/-/quit")).0, "quit");
        assert_eq!(matched(r.resolve("POST", "/-/quit")).0, "quit");
    }

    #[test]
    fn with_a_prefix_get_on_prefixed_quit_is_the_generic_405() {
        let r = main_router("/pg");
        assert_eq!(
            r.resolve("GET", "/pg/-/quit"),
            not_allowed("OPTIONS, POST, PUT")
        );
        assert_eq!(matched(r.resolve("GET", "/-/quit")).0, "quit-get");
    }

    // --- route prefix ---

    #[test]
    fn with_a_prefix_the_unprefixed_paths_are_404() {
        let r = main_router("/pg");
        assert_eq!(r.resolve("GET", "/metrics"), Resolution::NotFound);
        assert_eq!(r.resolve("GET", "/-/healthy"), Resolution::NotFound);
        assert_eq!(r.resolve("PUT", "/metrics/job/x"), Resolution::NotFound);
        assert_eq!(r.resolve("GET", "/"), Resolution::NotFound);
        assert_eq!(matched(r.resolve("GET", "/pg/")).0, "status");
        assert_eq!(
            matched(r.resolve("PUT", "/pg/metrics/job/x")).1.get("job"),
            Some("x")
        );
    }

    #[test]
    fn with_a_prefix_the_bare_prefix_redirects_to_it_with_slash() {
        let r = main_router("/pg");
        assert_eq!(r.resolve("GET", "/pg"), redirect(301, "/pg/"));
        assert_eq!(
            r.resolve("PUT", "/pg/metrics/job/"),
            redirect(307, "/pg/metrics/job")
        );
        assert_eq!(
            r.resolve("GET", "/PG/METRICS"),
            redirect(301, "/pg/metrics")
        );
    }

    // --- API router ---

    #[test]
    fn api_options_route_takes_every_path() {
        let r = api_router(false);
        let (name, params) = matched(r.resolve("OPTIONS", "/anything/at/all"));
        assert_eq!(name, "api/v1/options");
        assert_eq!(params.get("path"), Some("/anything/at/all"));
        assert_eq!(matched(r.resolve("OPTIONS", "/")).0, "api/v1/options");
    }

    #[test]
    fn api_trailing_slash_redirect_loses_the_stripped_prefix() {
        let r = api_router(false);
        assert_eq!(r.resolve("GET", "/status/"), redirect(301, "/status"));
    }

    #[test]
    fn api_root_and_unknown_paths_are_404() {
        let r = api_router(false);
        assert_eq!(r.resolve("GET", "/"), Resolution::NotFound);
        assert_eq!(r.resolve("GET", "/nope"), Resolution::NotFound);
    }

    #[test]
    fn api_405_ignores_the_options_catch_all_but_lists_options() {
        let r = api_router(true);
        assert_eq!(r.resolve("POST", "/status"), not_allowed("GET, OPTIONS"));
        assert_eq!(
            r.resolve("POST", "/admin/wipe"),
            not_allowed("OPTIONS, PUT")
        );
        assert_eq!(r.resolve("GET", "/admin/wipe"), not_allowed("OPTIONS, PUT"));
        assert_eq!(matched(r.resolve("PUT", "/admin/wipe")).0, "wipe");
    }

    #[test]
    fn api_wipe_without_the_admin_flag_is_404() {
        let r = api_router(false);
        assert_eq!(r.resolve("PUT", "/admin/wipe"), Resolution::NotFound);
    }

    // --- Router::add ---

    #[test]
    fn conflicting_or_unsupported_patterns_are_rejected() {
        let mut r: Router<u8> = Router::new();
        r.add("GET", "/a/:x", 0).unwrap();
        assert!(r.add("GET", "/a/b", 1).is_err());
        assert!(r.add("GET", "/a/:y", 1).is_err());
        assert!(r.add("GET", "/a/:x", 1).is_err());
        assert!(r.add("PUT", "/a/b", 1).is_ok());
        assert!(r.add("GET", "/s/*rest/x", 1).is_err());
        assert!(r.add("GET", "/s/a:b", 1).is_err());
        assert!(r.add("GET", "/s/:", 1).is_err());
        assert!(r.add("GET", "no-slash", 1).is_err());
        r.add("GET", "/src/", 1).unwrap();
        assert!(r.add("GET", "/src/*filepath", 1).is_err());
    }

    // --- tree-shape quirks on other tables ---

    #[test]
    fn a_slash_after_a_branch_point_before_a_longer_node_is_redirected() {
        // Tree: `/a` → `/b` → {`c`, `d`}, `b`. A request for `/a/` finds the
        // `/b` node too long and recommends `/a` although it has no route.
        let mut r = Router::new();
        r.add("GET", "/a/bc", 1).unwrap();
        r.add("GET", "/a/bd", 2).unwrap();
        r.add("GET", "/ab", 3).unwrap();
        assert_eq!(r.resolve("GET", "/a/"), redirect(301, "/a"));
        assert_eq!(r.resolve("GET", "/A/"), redirect(301, "/a"));
        assert_eq!(r.resolve("GET", "/a"), Resolution::NotFound);
    }

    #[test]
    fn a_slash_after_a_param_before_another_param_is_redirected() {
        let mut r = Router::new();
        r.add("GET", "/a/:p/:q", 1).unwrap();
        assert_eq!(r.resolve("GET", "/a/x/"), redirect(301, "/a/x"));
        assert_eq!(r.resolve("GET", "/a/x"), Resolution::NotFound);
    }

    #[test]
    fn router_clean_path_keeps_a_slash_for_a_final_dot_only() {
        assert_eq!(router_clean_path("/abc/."), "/abc/");
        assert_eq!(router_clean_path("/abc/def/.."), "/abc");
        assert_eq!(router_clean_path("abc//def/"), "/abc/def/");
        assert_eq!(router_clean_path(""), "/");
        assert_eq!(router_clean_path("."), "/");
    }

    #[test]
    fn no_input_makes_the_router_panic() {
        let r = main_router("");
        let samples = [
            "",
            "/",
            "//",
            "*",
            "/%",
            "/é",
            "/\u{212A}",
            "/metrics/job/\u{17F}/",
            "/METRICS/JOB@",
            "/metrics/job@",
            "/static//",
            "/a/../..",
            "/-",
            "/-/",
            "/\0",
        ];
        for method in [
            "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "CONNECT", "",
        ] {
            for p in samples {
                let _ = r.resolve(method, p);
                let _ = clean_path(p);
                let _ = percent_decode(p);
            }
        }
    }
}

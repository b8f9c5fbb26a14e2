//! What Go's `net/http.ServeMux` answers before either router sees a request: a redirect to
//! the cleaned path, and the `P/api/v1/` mount with `http.StripPrefix` in front of the API
//! router (upstream's main.go).

use super::path::{clean_elements, escape_path, join_rooted, percent_decode};

/// Status of ServeMux's redirect to a cleaned path. Go 1.26 (upstream
/// 1.11.3's release toolchain) answers 307; Go ≤ 1.21 answered 301.
pub(crate) const CLEAN_PATH_REDIRECT_STATUS: u16 = 307;

/// Go ≥ 1.22 ServeMux cleaning of the *escaped* path: collapse `//`, resolve
/// `.` and `..`, keep a trailing slash, ensure a leading `/`. Returns the
/// cleaned path when it differs from the input; the server then redirects to
/// it with [`CLEAN_PATH_REDIRECT_STATUS`], appending `?` and the raw query when
/// the query is non-empty. Because the escaped path is cleaned, `%2F%2F` and
/// `%2E%2E` do not trigger it (they reach the router decoded).
pub(crate) fn clean_path(escaped_path: &str) -> Option<String> {
    let elements = clean_elements(escaped_path);
    let trailing = escaped_path.ends_with('/');
    let cleaned = join_rooted(&elements, trailing);
    (cleaned != escaped_path).then_some(cleaned)
}

/// Where a request stands relative to the `P/api/v1/` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mount {
    /// Not under the mount: the main router handles it.
    Outside,
    /// Exactly `P/api/v1`: ServeMux redirects (301) to this path with a slash.
    AddSlash(String),
    /// Under the mount, but `StripPrefix` cannot strip the prefix from the raw path.
    NotFound,
    /// Under the mount: the path the API router sees.
    Inside(String),
}

/// ServeMux's match of the mount pattern `P/api/v1/`, then `StripPrefix("P/api/v1")`.
///
/// ServeMux compares the escaped path segment by segment, unescaping each segment, so
/// `/api/v%31/status` is under the mount; `StripPrefix` then trims both the decoded path and,
/// when the raw path is not the default escaping of it, the raw path, and answers 404 when
/// either does not start with the prefix.
pub(crate) fn mount(raw_path: &str, decoded_path: &str, prefix: &str) -> Mount {
    let strip = format!("{prefix}/api/v1");
    let mount_segments: Vec<&str> = strip.split('/').skip(1).collect();
    let Some(raw_rest) = raw_path.strip_prefix('/') else {
        return Mount::Outside;
    };
    let raw_segments: Vec<&str> = raw_rest.split('/').collect();
    if raw_segments.len() < mount_segments.len() {
        return Mount::Outside;
    }
    let segments_match = mount_segments
        .iter()
        .zip(&raw_segments)
        .all(|(want, got)| percent_decode(got).is_ok_and(|d| d == want.as_bytes()));
    if !segments_match {
        return Mount::Outside;
    }
    if raw_segments.len() == mount_segments.len() {
        return Mount::AddSlash(format!("{raw_path}/"));
    }
    let raw_is_default_escaping = escape_path(decoded_path) == raw_path;
    match decoded_path.strip_prefix(&strip) {
        Some(rest) if raw_is_default_escaping || raw_path.starts_with(&strip) => {
            Mount::Inside(rest.to_string())
        }
        _ => Mount::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_path_needs_no_redirect() {
        for p in [
            "/",
            "/metrics",
            "/metrics/",
            "/metrics/job/a/b",
            "/a%2F%2Fb",
            "/%2E%2E/x",
        ] {
            assert_eq!(clean_path(p), None, "{p}");
        }
    }

    #[test]
    fn repeated_slashes_dots_and_dot_dots_are_cleaned() {
        assert_eq!(
            clean_path("/metrics/job//a/b").as_deref(),
            Some("/metrics/job/a/b")
        );
        assert_eq!(
            clean_path("/metrics/job/dot/./l/v").as_deref(),
            Some("/metrics/job/dot/l/v")
        );
        assert_eq!(
            clean_path("/metrics/job/dot/l/..").as_deref(),
            Some("/metrics/job/dot")
        );
        assert_eq!(
            clean_path("//metrics/job/dot").as_deref(),
            Some("/metrics/job/dot")
        );
    }

    #[test]
    fn cleaning_keeps_a_trailing_slash_and_stops_at_the_root() {
        assert_eq!(clean_path("/a//b/").as_deref(), Some("/a/b/"));
        assert_eq!(clean_path("/a/../").as_deref(), Some("/"));
        assert_eq!(clean_path("/../../x").as_deref(), Some("/x"));
        assert_eq!(clean_path("/a/.").as_deref(), Some("/a"));
        assert_eq!(clean_path("//").as_deref(), Some("/"));
    }

    #[test]
    fn cleaning_adds_a_missing_leading_slash() {
        assert_eq!(clean_path("").as_deref(), Some("/"));
        assert_eq!(clean_path("metrics").as_deref(), Some("/metrics"));
    }

    fn inside(p: &str) -> Mount {
        Mount::Inside(p.to_string())
    }

    #[test]
    fn paths_under_the_mount_lose_the_mount_prefix() {
        assert_eq!(
            mount("/api/v1/status", "/api/v1/status", ""),
            inside("/status")
        );
        assert_eq!(mount("/api/v1/", "/api/v1/", ""), inside("/"));
        assert_eq!(
            mount("/pg/api/v1/status/", "/pg/api/v1/status/", "/pg"),
            inside("/status/")
        );
    }

    #[test]
    fn the_bare_mount_path_is_redirected_to_it_with_a_slash() {
        assert_eq!(
            mount("/api/v1", "/api/v1", ""),
            Mount::AddSlash("/api/v1/".into())
        );
        assert_eq!(
            mount("/pg/api/v1", "/pg/api/v1", "/pg"),
            Mount::AddSlash("/pg/api/v1/".into())
        );
    }

    #[test]
    fn other_paths_are_outside_the_mount() {
        for (raw, prefix) in [
            ("/api/v2/status", ""),
            ("/api", ""),
            ("/API/v1/status", ""),
            ("/api/v1x/status", ""),
            ("/api/v1/status", "/pg"),
            ("/metrics", ""),
            ("/", ""),
        ] {
            assert_eq!(mount(raw, raw, prefix), Mount::Outside, "{raw} {prefix}");
        }
    }

    #[test]
    fn escaped_mount_segments_match_but_cannot_be_stripped() {
        assert_eq!(
            mount("/api/v%31/status", "/api/v1/status", ""),
            Mount::NotFound
        );
        // An encoded slash is part of one segment, so it does not match `api` then `v1`.
        assert_eq!(
            mount("/api%2Fv1/status", "/api/v1/status", ""),
            Mount::Outside
        );
        // Escapes after the mount are fine.
        assert_eq!(
            mount("/api/v1/st%61tus", "/api/v1/status", ""),
            inside("/status")
        );
    }
}

//! A slash written as `%2F` inside the part of a push path that names the group.
//!
//! Go decodes the path before routing, so httprouter splits the job, a label name or a label
//! value at an encoded slash, and the pairs after it shift: prom-client's
//! `encodeURIComponent("/srv/batch")` in `PUT /metrics/job/j1/path/%2Fsrv%2Fbatch` becomes the
//! labels `/path//srv/batch`, that is `{path="",srv="batch"}`. What the originals answer:
//!
//! * 1.5.1 (built with Go 1.19, whose ServeMux cleans the *decoded* path): where decoding
//!   leaves `//`, `/./` or `/../`, as above, a 301 to the cleaned path, before any handler
//!   runs. Elsewhere the router sees the split path: a 400 when the pairs no longer match up
//!   (`odd number of components …`), and a push filed under another group when they do
//!   (`job/a%2Fb/c` is stored as `{job="a",b="c"}`).
//! * 1.11.3 (Go ≥ 1.22 cleans the *escaped* path) never redirects here, so it also stores
//!   `path/%2Fsrv%2Fbatch` as `{path="",srv="batch"}`.
//!
//! Here, "as the original does" means 1.5.1's answer wherever 1.5.1 refuses the request, and
//! a refusal where any original would file the request under another group. Precisely, for
//! a request routed to a group route whose decoded path has a slash from `%2F` at or after the
//! slash that precedes the job:
//!
//! * the decoded path is not clean: [`legacy_redirect`], 1.5.1's 301 to the cleaned decoded
//!   path (query kept). The answer stores nothing; what a client does with it is the same as
//!   with 1.5.1 (Go's client turns a redirected PUT into a GET, which is 405; Python's urllib
//!   and Node's http do not follow it; a client that resends the request to the new path has
//!   that path's group changed, as with 1.5.1);
//! * otherwise: [`refusal`], a 400 that names the job, label name or label value holding the
//!   slash and says how to send it (`<name>@base64/<base64url>` for values).
//!
//! Either way nothing is stored, for PUT, POST and DELETE alike. Encoded slashes before the
//! group part (`/metrics%2Fjob/x`) do not change the group and are left alone, as upstream.

use base64::Engine as _;

use crate::go_strconv::quote;
use crate::grouping_key::escape_value_encoding;
use crate::names::NameValidation;

use super::path::escape_path;
use super::servemux::clean_path;

/// Where a group route's decoded path holds slashes that were `%2F` in the request.
#[derive(Debug)]
struct GroupPart {
    /// The decoded group part: `/` + job + the label part, as the router split it.
    decoded: String,
    /// Offsets in `decoded` of the slashes that were encoded, ascending; never empty.
    encoded: Vec<usize>,
}

/// The encoded slashes of the group part, `None` when it has none. `job` and `labels` are
/// the route's parameters, which end the decoded path.
fn group_part(raw_path: &str, job: &str, labels: &str) -> Option<GroupPart> {
    if !has_encoded_slash(raw_path) {
        return None;
    }
    let (offsets, decoded_len) = encoded_slash_offsets(raw_path);
    let decoded = format!("/{job}{labels}");
    let start = decoded_len.checked_sub(decoded.len())?;
    let encoded: Vec<usize> = offsets
        .into_iter()
        .filter_map(|offset| offset.checked_sub(start))
        .collect();
    (!encoded.is_empty()).then_some(GroupPart { decoded, encoded })
}

fn has_encoded_slash(raw_path: &str) -> bool {
    raw_path
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'F' || w[2] == b'f'))
}

/// Offsets in the decoded path of the bytes that were `%2F` (or `%2f`), and the decoded
/// path's length. The path has already been decoded without error, so every `%` starts a
/// three-byte escape.
fn encoded_slash_offsets(raw_path: &str) -> (Vec<usize>, usize) {
    let raw = raw_path.as_bytes();
    let mut offsets = Vec::new();
    let (mut i, mut decoded) = (0, 0);
    while i < raw.len() {
        if raw[i] == b'%' {
            if raw.get(i + 1) == Some(&b'2') && matches!(raw.get(i + 2), Some(b'F' | b'f')) {
                offsets.push(decoded);
            }
            i += 3;
        } else {
            i += 1;
        }
        decoded += 1;
    }
    (offsets, decoded)
}

/// 1.5.1's answer to a group route's path whose encoded slashes leave the decoded path
/// unclean: the `Location` of its 301 (the cleaned decoded path, escaped; the caller appends
/// the query). `None` when the group part has no encoded slash or the decoded path is clean.
pub(crate) fn legacy_redirect(
    raw_path: &str,
    decoded_path: &str,
    job: &str,
    labels: &str,
) -> Option<String> {
    group_part(raw_path, job, labels)?;
    clean_path(decoded_path).map(|cleaned| escape_path(&cleaned))
}

/// The 400 text for a group route's path with an encoded slash in its group part (after
/// [`legacy_redirect`] found nothing to redirect); `None` when there is none.
pub(crate) fn refusal(
    raw_path: &str,
    job: &str,
    base64_job: bool,
    labels: &str,
    names: NameValidation,
) -> Option<String> {
    let part = group_part(raw_path, job, labels)?;
    const WHY: &str =
        "contains an encoded slash (%2F), which would split the path and name another group";
    const BASE64_HINT: &str = "base64url has no \"/\" (it uses \"_\" where base64 has \"/\")";
    // The components as the client wrote them: split only at the literal slashes.
    let Some(rest) = part
        .decoded
        .strip_prefix('/')
        .filter(|_| part.encoded[0] != 0)
    else {
        return Some(
            "the slash before the job name is encoded (%2F), which would split the path and \
             name another group; write it as \"/\""
                .to_string(),
        );
    };
    let mut components: Vec<&str> = Vec::new();
    let mut holds_encoded: Vec<bool> = Vec::new();
    let mut from = 1;
    for (i, b) in rest.bytes().enumerate() {
        let offset = i + 1;
        if b == b'/' && !part.encoded.contains(&offset) {
            components.push(&part.decoded[from..offset]);
            holds_encoded.push(part.encoded.iter().any(|&e| e >= from && e < offset));
            from = offset + 1;
        }
    }
    components.push(&part.decoded[from..]);
    holds_encoded.push(part.encoded.iter().any(|&e| e >= from));
    let k = holds_encoded.iter().position(|&h| h)?;
    let value = components[k];
    Some(match k {
        0 if base64_job => format!("base64 job name {} {WHY}; {BASE64_HINT}", quote(value)),
        0 => format!(
            "job name {} {WHY}: send a job name with slashes in base64, as job@base64/{}",
            quote(value),
            base64url(value)
        ),
        k if k % 2 == 1 => {
            let fix = match names {
                NameValidation::Legacy => "a label name cannot contain \"/\"".to_string(),
                NameValidation::Utf8 => format!(
                    "write a label name with slashes escaped, as {}",
                    escape_value_encoding(value)
                ),
            };
            format!("label name {} {WHY}; {fix}", quote(value))
        }
        k => {
            let name = components[k - 1];
            match name.strip_suffix("@base64") {
                Some(name) => format!(
                    "base64 value {} of label {} {WHY}; {BASE64_HINT}",
                    quote(value),
                    quote(name)
                ),
                None => format!(
                    "value {} of label {} {WHY}: send values with slashes in base64, as {name}@base64/{}",
                    quote(value),
                    quote(name),
                    base64url(value)
                ),
            }
        }
    })
}

/// Upstream's `@base64` encoding of a value (URL alphabet, no padding; a value with a slash is
/// never empty).
fn base64url(value: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::path::percent_decode;

    /// The route parameters httprouter gives for a path under `/metrics/job/` (or
    /// `/metrics/job@base64/`): the job, then the label part.
    fn params(raw: &str) -> (String, String, String, bool) {
        let decoded = String::from_utf8(percent_decode(raw).unwrap()).unwrap();
        let (rest, base64) = match decoded.strip_prefix("/metrics/job@base64/") {
            Some(rest) => (rest, true),
            None => (decoded.strip_prefix("/metrics/job/").unwrap(), false),
        };
        let (job, labels) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        (decoded.clone(), job.to_string(), labels.to_string(), base64)
    }

    fn redirect(raw: &str) -> Option<String> {
        let (decoded, job, labels, _) = params(raw);
        legacy_redirect(raw, &decoded, &job, &labels)
    }

    fn refused(raw: &str, names: NameValidation) -> Option<String> {
        let (_, job, labels, base64) = params(raw);
        refusal(raw, &job, base64, &labels, names)
    }

    const LEGACY: NameValidation = NameValidation::Legacy;

    #[test]
    fn paths_without_encoded_slashes_in_the_group_part_are_left_alone() {
        for raw in [
            "/metrics/job/j/l/v",
            "/metrics/job/j/l/a%20b",
            "/metrics/job/j/l/%2E%2E",
            "/metrics/job/j/l/a%252Fb",
        ] {
            assert_eq!(redirect(raw), None, "{raw}");
            assert_eq!(refused(raw, LEGACY), None, "{raw}");
        }
        // Before the group part an encoded slash changes no group.
        let raw = "/metrics%2Fjob/j/l/v";
        assert_eq!(
            legacy_redirect(raw, "/metrics/job/j/l/v", "j", "/l/v"),
            None
        );
        assert_eq!(refusal(raw, "j", false, "/l/v", LEGACY), None);
    }

    #[test]
    fn where_decoding_leaves_the_path_unclean_the_answer_is_1_5_1s_redirect() {
        // Each Location is what Debian's 1.5.1 answers.
        for (raw, location) in [
            (
                "/metrics/job/j1/path/%2Fsrv%2Fbatch",
                "/metrics/job/j1/path/srv/batch",
            ),
            ("/metrics/job/%2Fa", "/metrics/job/a"),
            ("/metrics/job/a%2F/l/v", "/metrics/job/a/l/v"),
            ("/metrics/job/j/%2Fa/v", "/metrics/job/j/a/v"),
            ("/metrics/job/j/a%2F/v", "/metrics/job/j/a/v"),
            ("/metrics/job/j/l/%2Fv", "/metrics/job/j/l/v"),
            ("/metrics/job/j/l/%2Fa/b/c", "/metrics/job/j/l/a/b/c"),
            ("/metrics/job/j/l/a%2F%2Fb", "/metrics/job/j/l/a/b"),
            ("/metrics/job/j/l/a%2F..%2Fb", "/metrics/job/j/l/b"),
            ("/metrics/job/j/l/%2F", "/metrics/job/j/l/"),
            (
                "/metrics/job@base64/YQ%2F/l/v",
                "/metrics/job@base64/YQ/l/v",
            ),
            (
                "/metrics/job/j1/path/%2F%C3%A9%2Fb%20c",
                "/metrics/job/j1/path/%C3%A9/b%20c",
            ),
        ] {
            assert_eq!(redirect(raw).as_deref(), Some(location), "{raw}");
        }
    }

    #[test]
    fn a_clean_decoded_path_is_refused_naming_the_job() {
        assert_eq!(
            refused("/metrics/job/a%2Fb/c", LEGACY).unwrap(),
            "job name \"a/b\" contains an encoded slash (%2F), which would split the path and \
             name another group: send a job name with slashes in base64, as job@base64/YS9i"
        );
        assert_eq!(redirect("/metrics/job/a%2Fb/c"), None);
        assert!(refused("/metrics/job/a%2Fb", LEGACY)
            .unwrap()
            .starts_with("job name \"a/b\" "));
        assert!(refused("/metrics/job/a%2F", LEGACY)
            .unwrap()
            .ends_with("as job@base64/YS8"));
        assert!(refused("/metrics/job@base64/YQ%2F", LEGACY)
            .unwrap()
            .starts_with("base64 job name \"YQ/\" contains an encoded slash (%2F)"));
    }

    #[test]
    fn a_clean_decoded_path_is_refused_naming_the_label_name() {
        assert_eq!(
            refused("/metrics/job/j/a%2Fb/v/w", LEGACY).unwrap(),
            "label name \"a/b\" contains an encoded slash (%2F), which would split the path \
             and name another group; a label name cannot contain \"/\""
        );
        assert!(refused("/metrics/job/j/a%2Fb/v", NameValidation::Utf8)
            .unwrap()
            .ends_with("write a label name with slashes escaped, as U__a_2f_b"));
    }

    #[test]
    fn a_clean_decoded_path_is_refused_naming_the_label_value_and_its_base64_form() {
        assert_eq!(
            refused("/metrics/job/j/path/srv%2Fbatch", LEGACY).unwrap(),
            "value \"srv/batch\" of label \"path\" contains an encoded slash (%2F), which would \
             split the path and name another group: send values with slashes in base64, as \
             path@base64/c3J2L2JhdGNo"
        );
        // At the end, several in one value, lower-case escapes, and after other pairs.
        assert!(refused("/metrics/job/j/l/v%2F", LEGACY)
            .unwrap()
            .starts_with("value \"v/\" of label \"l\" "));
        assert!(refused("/metrics/job/j/l/a%2fb%2fc", LEGACY)
            .unwrap()
            .ends_with("as l@base64/YS9iL2M"));
        assert!(refused("/metrics/job/j/a/1/l/a%2Fb/m/c", LEGACY)
            .unwrap()
            .starts_with("value \"a/b\" of label \"l\" "));
        assert!(refused("/metrics/job/j/l@base64/L3%2F", LEGACY)
            .unwrap()
            .starts_with("base64 value \"L3/\" of label \"l\" "));
    }

    #[test]
    fn an_encoded_slash_before_the_job_name_is_refused() {
        let raw = "/metrics/job%2Fa";
        assert_eq!(
            refusal(raw, "a", false, "", LEGACY).unwrap(),
            "the slash before the job name is encoded (%2F), which would split the path and \
             name another group; write it as \"/\""
        );
        assert_eq!(legacy_redirect(raw, "/metrics/job/a", "a", ""), None);
        assert_eq!(
            legacy_redirect("/metrics/job%2F%2Fa", "/metrics/job//a", "", "/a").as_deref(),
            Some("/metrics/job/a")
        );
    }

    #[test]
    fn offsets_count_decoded_bytes() {
        assert_eq!(encoded_slash_offsets("/a%2Fb%20%2f"), (vec![2, 5], 6));
        assert_eq!(encoded_slash_offsets("/a"), (vec![], 2));
    }
}

//! `POST /api/v1/admin/delete_groups` (not in upstream): its parameters and its JSON answer.
//! The selection and the delete are the gateway's ([`crate::gateway::Gateway::delete_groups`]).
//!
//! Parameters come in the query string or an `application/x-www-form-urlencoded` body (both,
//! as Prometheus's admin API takes them): `match[]` (repeatable, OR-ed), `pushed_before`
//! (RFC 3339 or Unix seconds), `dry_run` and `all` (`true`/`false`, `1`/`0`). Any other
//! parameter is refused, so that a misspelt `dry_run` cannot delete for real.

use jiff::tz::TimeZone;

use super::history::{parse_time, serde_urlencoded_pairs};
use super::{rfc3339_nano, timestamp_from_ns};
use crate::gateway::{GroupQuery, GroupSummary};
use crate::selector::GroupSelector;

/// A parsed request.
#[derive(Debug)]
pub(crate) struct DeleteGroupsRequest {
    pub(crate) query: GroupQuery,
    /// Only list what would be deleted.
    pub(crate) dry_run: bool,
}

/// Parses the parameters of the query string and of the form body (empty when there is none).
pub(crate) fn parse_request(query: &str, form: &str) -> Result<DeleteGroupsRequest, String> {
    let mut selectors = Vec::new();
    let mut pushed_before_ns = None;
    let (mut dry_run, mut all) = (false, false);
    for (name, value) in serde_urlencoded_pairs(query)?
        .into_iter()
        .chain(serde_urlencoded_pairs(form)?)
    {
        match name.as_str() {
            "match[]" => selectors.push(value),
            "pushed_before" => {
                pushed_before_ns =
                    Some(parse_time(&value).map_err(|e| format!("pushed_before: {e}"))?)
            }
            "dry_run" => dry_run = parse_bool(&name, &value)?,
            "all" => all = parse_bool(&name, &value)?,
            other => {
                return Err(format!(
                    "unknown parameter {other:?} (use match[], pushed_before, dry_run, all)"
                ))
            }
        }
    }
    Ok(DeleteGroupsRequest {
        query: GroupQuery {
            selector: GroupSelector::parse(&selectors)?,
            pushed_before_ns,
            all,
        },
        dry_run,
    })
}

/// Whether the request asks for a dry run, read on its own: a request refused as a whole is
/// recorded in the history only when it was meant to delete.
pub(crate) fn asks_dry_run(query: &str, form: &str) -> bool {
    [query, form].iter().any(|params| {
        serde_urlencoded_pairs(params).is_ok_and(|pairs| {
            pairs
                .iter()
                .any(|(n, v)| n == "dry_run" && parse_bool(n, v) == Ok(true))
        })
    })
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{name} must be true or false, not {value:?}")),
    }
}

/// The answer: `{"status":"success","data":{"dry_run":…,"deleted":[…]}}`, one object per
/// group deleted (or that would be) in upstream's group order, with its `labels`, its
/// `last_push` (RFC 3339 in the gateway's zone, like the other times of the API; `null` when it
/// never had a successful push) and, for a group that expires, `expires_at`.
pub(crate) fn deleted_document(dry_run: bool, groups: &[GroupSummary], tz: &TimeZone) -> Vec<u8> {
    let time = |ns: i64| rfc3339_nano(timestamp_from_ns(ns), tz);
    let deleted: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            let labels: serde_json::Map<String, serde_json::Value> = g
                .key
                .labels()
                .iter()
                .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let mut group = serde_json::json!({
                "labels": labels,
                "last_push": (g.last_push_ns > 0).then(|| time(g.last_push_ns)),
            });
            if g.expires_ns > 0 {
                group["expires_at"] = time(g.expires_ns).into();
            }
            group
        })
        .collect();
    serde_json::json!({
        "status": "success",
        "data": {"dry_run": dry_run, "deleted": deleted},
    })
    .to_string()
    .into_bytes()
}

/// The answer to a request refused as it stands: Prometheus's API error document.
pub(crate) fn error_document(message: &str) -> Vec<u8> {
    serde_json::json!({"status": "error", "errorType": "bad_data", "error": message})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grouping_key::GroupingKey;

    #[test]
    fn parameters_come_from_the_query_and_the_form_body() {
        let r = parse_request(
            "match[]=%7Bjob%3D%22a%22%7D&dry_run=true",
            "match[]={instance=\"i\"}&pushed_before=1700000000&all=1",
        )
        .unwrap();
        assert!(r.dry_run && r.query.all);
        assert_eq!(r.query.pushed_before_ns, Some(1_700_000_000_000_000_000));
        assert_eq!(r.query.selector.text(), "{job=\"a\"} or {instance=\"i\"}");
        let r =
            parse_request("match[]={job=\"a\"}&pushed_before=2026-01-02T03:04:05Z", "").unwrap();
        assert!(!r.dry_run && !r.query.all);
        assert!(r.query.pushed_before_ns.is_some());
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        let e = |q: &str| parse_request(q, "").unwrap_err();
        assert!(e("").contains("no match[]"));
        assert!(
            e("match[]={}").contains("non-empty matcher"),
            "{}",
            e("match[]={}")
        );
        assert!(e("match[]={job=\"a\"}&dryrun=true").contains("unknown parameter \"dryrun\""));
        assert!(e("match[]={job=\"a\"}&dry_run=yes").contains("dry_run must be true or false"));
        assert!(e("match[]={job=\"a\"}&pushed_before=soon").starts_with("pushed_before: "));
        assert!(asks_dry_run("match[]={}&dry_run=true", ""));
        assert!(asks_dry_run("", "dry_run=1"));
        assert!(!asks_dry_run("match[]={}&dry_run=false", "x=%zz"));
    }

    #[test]
    fn the_answer_lists_each_group_with_its_times() {
        let key = GroupingKey::from_labels([
            ("job".to_string(), "a".to_string()),
            ("instance".to_string(), "i".to_string()),
        ])
        .unwrap();
        let groups = [
            GroupSummary {
                key: key.clone(),
                last_push_ns: 1_000_000_000,
                expires_ns: 0,
            },
            GroupSummary {
                key,
                last_push_ns: 0,
                expires_ns: 2_500_000_000,
            },
        ];
        let body = deleted_document(true, &groups, &TimeZone::UTC);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"data\":{\"deleted\":[\
             {\"labels\":{\"instance\":\"i\",\"job\":\"a\"},\"last_push\":\"1970-01-01T00:00:01Z\"},\
             {\"expires_at\":\"1970-01-01T00:00:02.5Z\",\"labels\":{\"instance\":\"i\",\"job\":\"a\"},\"last_push\":null}\
             ],\"dry_run\":true},\"status\":\"success\"}"
        );
    }
}

//! Series selectors over grouping labels: which groups `POST /api/v1/admin/delete_groups`
//! (`match[]`) names.
//!
//! Each selector is parsed by `promql-parser`, as Prometheus's own API parses `match[]`
//! (`{job=~"nightly-.*",env!="prod"}`, regexes fully anchored, `or` inside the braces), and
//! matched against a group's grouping key the way Prometheus matches a series' labels: a label
//! the key does not have has the empty value, so `{env!="prod"}` selects the groups without
//! `env` too. Several selectors are OR-ed. Only label matchers are taken: a metric name,
//! `offset`, `@`, a range or any other expression is refused, since a group is not a series.

use std::collections::HashMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr};

use crate::grouping_key::GroupingKey;

/// One or more selectors (OR-ed), each one or more sets of matchers (OR-ed) that must all
/// match.
///
/// The status page sends one selector per group it deletes, and every selector is matched
/// against every stored group, in the writer; so the sets are indexed by one of their
/// `name="value"` matchers (a non-empty value: only a group with that label value can match
/// the set), and a group is checked only against the sets its own labels lead to, and those
/// without such a matcher.
#[derive(Debug, Clone)]
pub(crate) struct GroupSelector {
    alternatives: Vec<Vec<Matcher>>,
    /// Label name → value → the sets that require it.
    by_label: HashMap<String, HashMap<String, Vec<usize>>>,
    /// The sets without an equality matcher on a non-empty value.
    unindexed: Vec<usize>,
    /// The selectors as sent, joined with ` or `, for the history.
    text: String,
}

impl GroupSelector {
    /// Parses every `match[]` value; the first that is not a label selector is the error,
    /// naming it and why (the parser's own reason when it does not parse).
    pub(crate) fn parse<S: AsRef<str>>(selectors: &[S]) -> Result<GroupSelector, String> {
        if selectors.is_empty() {
            return Err(
                "no match[] selector given: name the groups to delete with at least \
                        one series selector over grouping labels, e.g. match[]={job=\"batch\"}"
                    .to_string(),
            );
        }
        let mut alternatives = Vec::new();
        for selector in selectors {
            let selector = selector.as_ref();
            alternatives
                .extend(parse_one(selector).map_err(|e| format!("match[] {selector:?}: {e}"))?);
        }
        let text = selectors
            .iter()
            .map(|s| s.as_ref().trim())
            .collect::<Vec<_>>()
            .join(" or ");
        let mut by_label: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut unindexed = Vec::new();
        for (i, matchers) in alternatives.iter().enumerate() {
            let required = matchers
                .iter()
                .find(|m| matches!(m.op, MatchOp::Equal) && !m.value.is_empty());
            match required {
                Some(m) => by_label
                    .entry(m.name.clone())
                    .or_default()
                    .entry(m.value.clone())
                    .or_default()
                    .push(i),
                None => unindexed.push(i),
            }
        }
        Ok(GroupSelector {
            alternatives,
            by_label,
            unindexed,
            text,
        })
    }

    /// Whether the group with this grouping key is selected.
    pub(crate) fn matches(&self, key: &GroupingKey) -> bool {
        self.matches_labels(key.labels())
    }

    /// Whether a group with these grouping labels is selected.
    pub(crate) fn matches_labels(&self, labels: &[(String, String)]) -> bool {
        let value = |name: &str| {
            labels
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let all_match = |i: &usize| {
            self.alternatives[*i]
                .iter()
                .all(|m| m.is_match(value(&m.name)))
        };
        self.unindexed.iter().any(all_match)
            || labels.iter().any(|(name, v)| {
                self.by_label
                    .get(name.as_str())
                    .and_then(|values| values.get(v.as_str()))
                    .is_some_and(|sets| sets.iter().any(all_match))
            })
    }

    /// The selectors as sent, joined with ` or ` (what the history records).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// One selector's sets of matchers (more than one when it uses `or`).
fn parse_one(selector: &str) -> Result<Vec<Vec<Matcher>>, String> {
    if selector.trim().is_empty() {
        return Err("empty selector".to_string());
    }
    let expr = parser::parse(selector)?;
    let Expr::VectorSelector(vs) = expr else {
        return Err("not a series selector: use label matchers only, e.g. {job=\"batch\"}".into());
    };
    if vs.name.is_some() {
        return Err("names a metric: groups are selected by their grouping labels only".into());
    }
    if vs.offset.is_some() || vs.at.is_some() {
        return Err("offset and @ do not apply to groups".into());
    }
    let mut alternatives = vs.matchers.or_matchers;
    if !vs.matchers.matchers.is_empty() {
        alternatives.push(vs.matchers.matchers);
    }
    if alternatives.iter().flatten().any(|m| m.name == "__name__") {
        return Err("names a metric: groups are selected by their grouping labels only".into());
    }
    Ok(alternatives)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        labels.sort();
        labels
    }

    fn selects(selectors: &[&str], pairs: &[(&str, &str)]) -> bool {
        GroupSelector::parse(selectors)
            .unwrap()
            .matches_labels(&labels(pairs))
    }

    #[test]
    fn equality_regex_and_negations_match_grouping_labels() {
        let s = ["{job=~\"nightly-.*\",env!=\"prod\"}"];
        assert!(selects(&s, &[("job", "nightly-a"), ("env", "dev")]));
        assert!(!selects(&s, &[("job", "nightly-a"), ("env", "prod")]));
        // Regexes are anchored, as in Prometheus.
        assert!(!selects(&s, &[("job", "x-nightly-a"), ("env", "dev")]));
        let not_ab = ["{job=~\".+\",job!~\"a|b\"}"];
        assert!(selects(&not_ab, &[("job", "c")]));
        assert!(!selects(&not_ab, &[("job", "a")]));
    }

    #[test]
    fn indexed_and_unindexed_sets_match_alike() {
        // One set indexed by job="a", one by nothing (regex and negation only).
        let s = [
            "{job=\"a\",instance=~\"h.*\"}",
            "{job=~\"b.+\",env!=\"prod\"}",
        ];
        assert!(selects(&s, &[("job", "a"), ("instance", "h1")]));
        assert!(!selects(&s, &[("job", "a"), ("instance", "x")]));
        assert!(selects(&s, &[("job", "bb")]));
        assert!(!selects(&s, &[("job", "bb"), ("env", "prod")]));
        // An equality on the empty value is no index: it matches groups without the label.
        assert!(selects(&["{job=\"c\",env=\"\"}"], &[("job", "c")]));
        let parsed = GroupSelector::parse(&s).unwrap();
        assert_eq!(parsed.unindexed, [1]);
        assert_eq!(parsed.by_label["job"]["a"], [0]);
    }

    #[test]
    fn a_missing_label_has_the_empty_value() {
        let s = ["{job=\"a\",env!=\"prod\"}"];
        assert!(selects(&s, &[("job", "a")]));
        assert!(selects(&["{job=\"a\",env=\"\"}"], &[("job", "a")]));
        assert!(!selects(
            &["{job=\"a\",env=\"\"}"],
            &[("job", "a"), ("env", "x")]
        ));
    }

    #[test]
    fn several_selectors_and_or_inside_one_are_ored() {
        let s = ["{job=\"a\"}", "{instance=\"i\"}"];
        assert!(selects(&s, &[("job", "a")]));
        assert!(selects(&s, &[("job", "b"), ("instance", "i")]));
        assert!(!selects(&s, &[("job", "b")]));
        let or = ["{job=\"a\" or job=\"b\"}"];
        assert!(selects(&or, &[("job", "b")]));
        assert!(!selects(&or, &[("job", "c")]));
        let both = GroupSelector::parse(&s).unwrap();
        assert_eq!(both.text(), "{job=\"a\"} or {instance=\"i\"}");
    }

    #[test]
    fn what_is_not_a_label_selector_is_refused_with_the_reason() {
        let error = |s: &str| GroupSelector::parse(&[s]).unwrap_err();
        // The parser's own reason for a selector that matches everything.
        assert!(error("{}").contains("non-empty matcher"), "{}", error("{}"));
        assert!(error("{job=~\".*\"}").contains("non-empty matcher"));
        assert!(error("{job=\"a\"").starts_with("match[] \"{job=\\\"a\\\"\": "));
        assert!(error("up{job=\"a\"}").contains("names a metric"));
        assert!(error("{__name__=\"up\"}").contains("names a metric"));
        assert!(error("{job=\"a\"}[5m]").contains("not a series selector"));
        assert!(error("sum({job=\"a\"})").contains("not a series selector"));
        assert!(error("{job=\"a\"} offset 5m").contains("offset"));
        assert!(error("").contains("empty selector"));
        assert!(GroupSelector::parse::<&str>(&[])
            .unwrap_err()
            .contains("no match[]"));
    }
}

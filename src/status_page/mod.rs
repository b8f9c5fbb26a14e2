//! The browser status page: view models and askama templates (`templates/status*.html`).
//!
//! The page reads only the in-memory cache, never SQL. It is built in two parts so that it
//! stays fast with many groups:
//!
//! * `GET P/` and `GET P/status` ([`StatusPage`]): build information, start time, startup
//!   flags and one row per group (grouping labels as badges, `job` first; last successful and
//!   last failed push; a "last push failed" marker; the number of families; a delete button).
//!   No family is decoded for it. The page also embeds an index of every group's metric names
//!   ([`MetricNameIndex`], one JSON document), so that the filter box finds the groups that
//!   push a metric without opening them.
//! * `GET P/status/group/job@base64/<b64>{/<name>@base64/<b64>=}` ([`families::GroupFamilies`]):
//!   the HTML fragment with one group's families and samples, fetched by `static/status.js`
//!   when the group is opened. The group is addressed by the same path that deletes it below
//!   `P/metrics` ([`GroupingKey::to_base64_path`], parsed back with
//!   [`GroupingKey::from_path`]), so each row carries one address for both, and any label
//!   value works. A group that no longer exists answers 404, a path that names no valid
//!   group 400.
//!
//! Links: every URL in the page starts with [`link_base`], the external URL's path when one
//! is configured, else `.` so that links are relative to the route prefix (upstream's main.go, computeRoutePrefix). Both
//! `P/` and `P/status` sit directly under the prefix, so `./static/…` works from either.
//! Deletes go to `<base>/metrics` + the group's path, the wipe-all button to
//! `<base>/api/v1/admin/wipe`.
//!
//! Scale (measured by `ten_thousand_groups_render_quickly_and_compactly` below, debug build on
//! the shared 2-core development machine, groups `{job="node_batch",instance="host-NNNNN.example.org"}`):
//! the page for 10,000 groups is 5.1 MB, about 510 bytes per group (about 0.1 MB gzipped for
//! these repetitive labels; it is gzipped when the browser accepts it), and building plus
//! rendering it takes 130–350 ms. In headless chromium (by hand, debug server, machine under
//! load) that page loads in about 1.1–1.3 s, filtering it takes about 0.6 s and opening a
//! group 0.4 s. Two choices keep the browser fast: rows are `<div>`s, not `<li>`s (Chromium
//! recomputes list numbering for every hidden `<li>`, which made filtering quadratic) nor
//! `<details>` (about twice the parse cost), and rows use `content-visibility: auto`. A
//! group's fragment costs time in proportion to that group.
//!
//! The metric-name index costs little at that scale (measured by
//! `ten_thousand_groups_with_metric_names_render_quickly_and_compactly`: 10,000 groups of 100
//! jobs, three gauges each, 300 names): the page grows from 5.65 MB to 5.79 MB (158 KB to
//! 165 KB gzipped), rendering stays within 0.3–0.5 s (debug build, loaded machine), and in
//! headless chromium the page still loads in about 1.0–1.5 s; typing a metric name shows its
//! 100 groups in 0.17–0.31 s, and a name part that every group matches lists the names under
//! all 10,000 rows in 0.36–0.55 s (both including the filter's 120 ms debounce).

pub mod families;
pub mod format;

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use jiff::tz::TimeZone;

use crate::cache::{Cache, Group};
use crate::config::Config;
use crate::family::{PUSH_FAILURE_TIME, PUSH_TIME};
use crate::grouping_key::GroupingKey;
use crate::names::NameValidation;
use crate::version::{REVISION, VERSION};
use format::{time_view, TimeView};

/// How a label badge is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeKind {
    Job,
    Instance,
    /// Any other grouping label.
    Label,
    /// A sample label that repeats the group's grouping label (shown muted).
    Grouping,
    /// A sample's own label.
    Other,
}

impl BadgeKind {
    /// The CSS class suffix.
    pub fn class(self) -> &'static str {
        match self {
            BadgeKind::Job => "job",
            BadgeKind::Instance => "instance",
            BadgeKind::Label => "label",
            BadgeKind::Grouping => "grouping",
            BadgeKind::Other => "other",
        }
    }
}

/// A `name="value"` badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub name: String,
    pub value: String,
    /// [`BadgeKind::class`].
    pub kind: &'static str,
}

/// One group's row in the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Grouping labels, `job` first, then by name.
    pub labels: Vec<Badge>,
    /// [`GroupingKey::to_base64_path`]: the group's address below `<base>/metrics` (delete)
    /// and `<base>/status/group` (families).
    pub path: String,
    pub families: usize,
    pub last_push: Option<TimeView>,
    pub last_failure: Option<TimeView>,
    /// The last push failed (upstream's `!LastPushSuccess`).
    pub failed: bool,
    /// When the group expires (opt-in expiry); `None` for never.
    pub expires: Option<TimeView>,
}

/// The whole page.
#[derive(Debug, Template)]
#[template(path = "status.html", whitespace = "minimize")]
pub struct StatusPage {
    /// Prefix of every link: the external path prefix, or `.`.
    pub base: String,
    /// Cache-busting query value for the assets.
    pub asset_version: String,
    pub version: &'static str,
    pub revision: &'static str,
    pub started: Option<TimeView>,
    /// Startup flags, sorted by name.
    pub flags: Vec<(String, String)>,
    /// The exposition's URL (`<base>` + `--web.telemetry-path`).
    pub metrics_href: String,
    pub admin_api: bool,
    pub groups: Vec<GroupRow>,
    pub failing: usize,
    pub series: usize,
    /// [`MetricNameIndex::to_json`] of the groups, in row order.
    pub metric_names: String,
}

/// Which metric names each group pushes, for the page's filter: every distinct name once,
/// sorted, and per group (in row order) the positions of its names in that list. Names only,
/// deduplicated, so that 10,000 groups of a few names each add about 11 bytes per group. The
/// two timestamp families every group has are left out: they would match every group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricNameIndex {
    pub names: Vec<String>,
    pub groups: Vec<Vec<u32>>,
}

impl MetricNameIndex {
    /// The index of `groups`, in the order given.
    pub fn new(groups: &[&Group]) -> MetricNameIndex {
        fn pushed(g: &Group) -> impl Iterator<Item = &str> {
            g.families
                .keys()
                .map(String::as_str)
                .filter(|name| *name != PUSH_TIME && *name != PUSH_FAILURE_TIME)
        }
        let names: BTreeSet<&str> = groups.iter().flat_map(|g| pushed(g)).collect();
        let position: HashMap<&str, u32> = names.iter().zip(0..).map(|(n, i)| (*n, i)).collect();
        MetricNameIndex {
            // Families are kept in name order, so each group's positions come out ascending.
            groups: groups
                .iter()
                .map(|g| pushed(g).filter_map(|n| position.get(n).copied()).collect())
                .collect(),
            names: names.into_iter().map(str::to_string).collect(),
        }
    }

    /// `{"names":[...],"groups":[[...],...]}`, safe inside a `<script>` element: `<` is
    /// written as `\u003c`, so no name can close the element.
    pub fn to_json(&self) -> String {
        let doc = serde_json::json!({ "names": self.names, "groups": self.groups });
        doc.to_string().replace('<', "\\u003c")
    }
}

/// Upstream's `PathPrefix`: the external URL's path, or `.` for links relative to the page.
pub fn link_base(config: &Config) -> String {
    if config.external_path_prefix.is_empty() {
        ".".to_string()
    } else {
        config.external_path_prefix.clone()
    }
}

/// The grouping key a families-fragment path names (`/job@base64/<b64>{/<name>@base64/<b64>}`,
/// the part after `P/status/group`); `None` if it names no valid group.
pub fn parse_group_path(path: &str, names: NameValidation) -> Option<GroupingKey> {
    let rest = path.strip_prefix("/job@base64/")?;
    let (job, labels) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    GroupingKey::from_path(job, true, labels, names).ok()
}

/// The grouping labels of `key` as badges: `job` first, then the others by name.
pub fn key_badges(key: &GroupingKey) -> Vec<Badge> {
    let job = key.labels().iter().filter(|(n, _)| n == "job");
    let others = key.labels().iter().filter(|(n, _)| n != "job");
    job.chain(others)
        .map(|(name, value)| Badge {
            name: name.clone(),
            value: value.clone(),
            kind: match name.as_str() {
                "job" => BadgeKind::Job,
                "instance" => BadgeKind::Instance,
                _ => BadgeKind::Label,
            }
            .class(),
        })
        .collect()
}

/// The row of one group.
pub fn group_row(group: &Group, tz: &TimeZone) -> GroupRow {
    GroupRow {
        labels: key_badges(&group.key),
        path: group.key.to_base64_path(),
        families: group.families.len(),
        last_push: time_view(group.last_push_ns, tz),
        last_failure: time_view(group.last_failure_ns, tz),
        failed: !group.last_push_successful(),
        expires: time_view(group.expires_ns, tz),
    }
}

impl StatusPage {
    /// The page for the cache's current groups (in upstream's group order).
    pub fn new(cache: &Cache, config: &Config, start_time_seconds: f64, tz: &TimeZone) -> Self {
        let cached: Vec<&Group> = cache.groups().collect();
        let groups: Vec<GroupRow> = cached.iter().map(|g| group_row(g, tz)).collect();
        let metric_names = MetricNameIndex::new(&cached).to_json();
        let base = link_base(config);
        let telemetry = config
            .flags
            .get("web.telemetry-path")
            .map(String::as_str)
            .unwrap_or("/metrics");
        StatusPage {
            metrics_href: format!("{base}{telemetry}"),
            base,
            asset_version: format!("{VERSION}-{REVISION}"),
            version: VERSION,
            revision: REVISION,
            started: time_view((start_time_seconds * 1e9) as i64, tz),
            flags: config
                .flags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            admin_api: config.enable_admin_api,
            failing: groups.iter().filter(|g| g.failed).count(),
            series: cache.series_count(),
            groups,
            metric_names,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::Arc;
    use std::time::Instant;

    use clap::Parser;
    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;
    use crate::cli::Cli;
    use crate::family::{timestamp_family, PUSH_TIME};

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["pushgateway"];
        argv.extend_from_slice(args);
        Config::try_from(Cli::try_parse_from(argv).unwrap()).unwrap()
    }

    fn group(labels: &[(&str, &str)], push_ns: i64, failure_ns: i64) -> Group {
        let key =
            GroupingKey::from_labels(labels.iter().map(|(n, v)| (n.to_string(), v.to_string())))
                .unwrap();
        let ts = Arc::new(timestamp_family(PUSH_TIME, push_ns, &key, push_ns));
        Group {
            id: 1,
            key_bytes: key.upstream_key().into(),
            key,
            families: BTreeMap::from([(PUSH_TIME.to_string(), ts)]),
            last_push_ns: push_ns,
            last_failure_ns: failure_ns,
            created_ns: push_ns,
            expires_ns: 0,
        }
    }

    #[test]
    fn job_comes_first_then_labels_by_name() {
        let g = group(&[("zone", "eu"), ("job", "j"), ("instance", "i")], 1, 0);
        let badges: Vec<_> = key_badges(&g.key)
            .into_iter()
            .map(|b| (b.name, b.kind))
            .collect();
        assert_eq!(
            badges,
            [
                ("job".to_string(), "job"),
                ("instance".to_string(), "instance"),
                ("zone".to_string(), "label")
            ]
        );
    }

    #[test]
    fn a_failure_after_the_last_success_marks_the_row() {
        let tz = TimeZone::UTC;
        let ok = group_row(&group(&[("job", "a")], 2_000_000_000, 1_000_000_000), &tz);
        assert!(!ok.failed);
        let failed = group_row(&group(&[("job", "a")], 1_000_000_000, 2_000_000_000), &tz);
        assert!(failed.failed);
        assert_eq!(
            failed.last_failure.unwrap().utc,
            "1970-01-01T00:00:02Z".to_string()
        );
        assert_eq!(ok.families, 1);
    }

    #[test]
    fn the_delete_path_uses_base64_for_every_value() {
        let row = group_row(
            &group(&[("job", "a/b"), ("path", "")], 1, 0),
            &TimeZone::UTC,
        );
        assert_eq!(row.path, "/job@base64/YS9i/path@base64/=");
    }

    #[test]
    fn the_group_path_parses_back_to_its_key() {
        let legacy = NameValidation::Legacy;
        for labels in [
            &[("job", "j")][..],
            &[("job", "a/b"), ("x", "ü/\"<>&"), ("empty", "")][..],
        ] {
            let g = group(labels, 1, 0);
            let path = g.key.to_base64_path();
            assert_eq!(
                parse_group_path(&path, legacy),
                Some(g.key.clone()),
                "{path}"
            );
        }
        assert_eq!(parse_group_path("/job/x", legacy), None);
        assert_eq!(parse_group_path("/job@base64/", legacy), None);
        assert_eq!(parse_group_path("/job@base64/eA/odd", legacy), None);
        assert_eq!(parse_group_path("/job@base64/!!", legacy), None);
    }

    #[test]
    fn links_use_the_external_path_or_stay_relative() {
        assert_eq!(link_base(&config(&[])), ".");
        assert_eq!(link_base(&config(&["--web.route-prefix=/pg"])), ".");
        assert_eq!(
            link_base(&config(&["--web.external-url=http://example.com/ext/"])),
            "/ext"
        );
    }

    #[test]
    fn the_page_lists_groups_in_cache_order_with_counts() {
        let mut cache = Cache::new();
        cache.put_group(group(&[("job", "b")], 2, 3));
        cache.put_group(group(&[("job", "a")], 2, 0));
        let page = StatusPage::new(
            &cache,
            &config(&["--web.enable-admin-api"]),
            0.0,
            &TimeZone::UTC,
        );
        let jobs: Vec<_> = page
            .groups
            .iter()
            .map(|g| g.labels[0].value.as_str())
            .collect();
        assert_eq!(jobs, ["a", "b"]);
        assert_eq!(page.failing, 1);
        assert_eq!(page.series, 2);
        assert!(page.admin_api);
        assert_eq!(page.metrics_href, "./metrics");
        assert!(page.flags.iter().any(|(k, _)| k == "web.enable-admin-api"));
    }

    #[test]
    fn ten_thousand_groups_render_quickly_and_compactly() {
        let mut cache = Cache::new();
        for i in 0..10_000 {
            let instance = format!("host-{i:05}.example.org");
            cache.put_group(group(
                &[("job", "node_batch"), ("instance", &instance)],
                1_714_564_800_000_000_000 + i,
                0,
            ));
        }
        let started = Instant::now();
        let html = StatusPage::new(&cache, &config(&[]), 0.0, &TimeZone::UTC)
            .render()
            .unwrap();
        let elapsed = started.elapsed();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(html.as_bytes()).unwrap();
        let gzipped = gz.finish().unwrap().len();
        eprintln!(
            "status page, 10k groups: {} bytes ({gzipped} gzipped), {elapsed:?}",
            html.len()
        );
        assert_eq!(html.matches(" data-path=").count(), 10_000);
        assert!(html.len() < 6_000_000, "{} bytes", html.len());
        // Generous for a debug build on a loaded 2-core machine; a release build is ~10x faster.
        assert!(elapsed.as_secs() < 5, "{elapsed:?}");
    }

    /// 10,000 groups of 100 jobs, each pushing three job-specific gauges (300 names in all).
    fn ten_thousand_groups_with_names() -> Cache {
        use crate::family::FamilyData;
        use crate::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
        let mut cache = Cache::new();
        for i in 0..10_000 {
            let job = format!("batch_{:03}", i % 100);
            let instance = format!("host-{i:05}.example.org");
            let mut g = group(
                &[("job", &job), ("instance", &instance)],
                1_714_564_800_000_000_000 + i,
                0,
            );
            for suffix in [
                "duration_seconds",
                "last_success_timestamp_seconds",
                "records",
            ] {
                let name = format!("{job}_{suffix}");
                let family = MetricFamily {
                    name: Some(name.clone()),
                    r#type: Some(MetricType::Gauge as i32),
                    metric: vec![Metric {
                        label: vec![
                            LabelPair::new("instance", &instance),
                            LabelPair::new("job", &job),
                        ],
                        gauge: Some(Gauge { value: Some(1.0) }),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                g.families
                    .insert(name, Arc::new(FamilyData::new(&family, g.last_push_ns)));
            }
            cache.put_group(g);
        }
        cache
    }

    fn with_families(mut g: Group, names: &[&str]) -> Group {
        use crate::family::FamilyData;
        use crate::proto::{MetricFamily, MetricType};
        for name in names {
            let family = MetricFamily {
                name: Some(name.to_string()),
                r#type: Some(MetricType::Gauge as i32),
                ..Default::default()
            };
            g.families
                .insert(name.to_string(), Arc::new(FamilyData::new(&family, 1)));
        }
        g
    }

    #[test]
    fn the_name_index_lists_each_name_once_and_each_groups_names_by_position() {
        let a = with_families(group(&[("job", "a")], 1, 0), &["zeta", "alpha"]);
        let b = with_families(group(&[("job", "b")], 1, 0), &["alpha", "mid"]);
        let c = group(&[("job", "c")], 1, 0);
        let index = MetricNameIndex::new(&[&b, &c, &a]);
        assert_eq!(index.names, ["alpha", "mid", "zeta"]);
        // Row order as given; the timestamps every group has are left out.
        assert_eq!(index.groups, [vec![0, 1], vec![], vec![0, 2]]);
        assert_eq!(
            index.to_json(),
            r#"{"groups":[[0,1],[],[0,2]],"names":["alpha","mid","zeta"]}"#
        );
    }

    #[test]
    fn no_name_can_close_the_script_element_of_the_index() {
        let g = with_families(group(&[("job", "a")], 1, 0), &["</script><b>x"]);
        let json = MetricNameIndex::new(&[&g]).to_json();
        assert!(!json.contains('<'), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["names"][0], "</script><b>x");
    }

    #[test]
    fn the_page_embeds_the_name_index_in_row_order() {
        let mut cache = Cache::new();
        cache.put_group(with_families(group(&[("job", "b")], 2, 0), &["only_b"]));
        cache.put_group(with_families(group(&[("job", "a")], 2, 0), &["only_a"]));
        let html = StatusPage::new(&cache, &config(&[]), 0.0, &TimeZone::UTC)
            .render()
            .unwrap();
        assert!(
            html.contains(r#"<script type="application/json" id="metric-names">{"groups":[[0],[1]],"names":["only_a","only_b"]}</script>"#),
            "{html}"
        );
    }

    #[test]
    fn ten_thousand_groups_with_metric_names_render_quickly_and_compactly() {
        let cache = ten_thousand_groups_with_names();
        let started = Instant::now();
        let html = StatusPage::new(&cache, &config(&[]), 0.0, &TimeZone::UTC)
            .render()
            .unwrap();
        let elapsed = started.elapsed();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(html.as_bytes()).unwrap();
        let gzipped = gz.finish().unwrap().len();
        eprintln!(
            "status page, 10k groups x 3 metric names: {} bytes ({gzipped} gzipped), {elapsed:?}",
            html.len()
        );
        assert_eq!(html.matches(" data-path=").count(), 10_000);
        // The name index: 300 names once, then about 11 bytes per group.
        let index = html
            .split("id=\"metric-names\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .unwrap();
        assert!(index.len() < 150_000, "{} bytes", index.len());
        assert!(index.matches("batch_042_records").count() == 1, "{index}");
        assert!(elapsed.as_secs() < 5, "{elapsed:?}");
    }
}

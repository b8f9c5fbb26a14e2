//! What this binary says about its build, in the words of upstream's `version` package: the
//! `pushgateway_build_info` labels, `/api/v1/status`'s `build_information` and the status
//! page's footer all read it from here, so they always agree.

use std::collections::BTreeMap;

/// The version this binary reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Source revision, set at build time through `PUSHGATEWAY_REVISION` when known.
pub const REVISION: &str = match option_env!("PUSHGATEWAY_REVISION") {
    Some(r) => r,
    None => "unknown",
};

/// The `branch` label and field (upstream: the Git branch of the build).
pub(crate) const BRANCH: &str = "main";
/// The `goversion` label and `goVersion` field: there is no Go toolchain here.
pub(crate) const GO_VERSION: &str = "rust";

/// Upstream's `build_information`: the keys of its `version` package.
pub(crate) fn build_information() -> BTreeMap<String, String> {
    let entries = [
        // Same values as the `branch` and `goversion` labels of `pushgateway_build_info`.
        ("branch", BRANCH),
        (
            "buildDate",
            option_env!("PUSHGATEWAY_BUILD_DATE").unwrap_or("unknown"),
        ),
        (
            "buildUser",
            option_env!("PUSHGATEWAY_BUILD_USER").unwrap_or("unknown"),
        ),
        ("goVersion", GO_VERSION),
        ("revision", REVISION),
        ("version", VERSION),
    ];
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Go's names for the common architectures, so dashboards keyed on `goarch` keep working.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_information_has_upstreams_keys() {
        let keys: Vec<String> = build_information().into_keys().collect();
        assert_eq!(
            keys,
            [
                "branch",
                "buildDate",
                "buildUser",
                "goVersion",
                "revision",
                "version"
            ]
        );
        assert_eq!(build_information()["version"], VERSION);
    }
}

//! `contrib/systemd/pushgateway.service`: the directives operators rely on, and
//! `systemd-analyze verify` when the machine has it.

use std::process::Command;

const UNIT: &str = include_str!("../../contrib/systemd/pushgateway.service");

#[test]
fn the_unit_runs_as_its_own_user_with_the_database_in_var_lib() {
    for directive in [
        "DynamicUser=yes",
        "StateDirectory=pushgateway",
        "--persistence.file=/var/lib/pushgateway/pushgateway.db",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "\nCapabilityBoundingSet=\n",
    ] {
        assert!(UNIT.contains(directive), "missing {directive:?}");
    }
    // The binary's allocator (jemalloc) is tuned in the binary; glibc's knobs do nothing.
    assert!(!UNIT.contains("MALLOC_ARENA_MAX"));
    // Longer than the 30 s graceful shutdown.
    let stop: u64 = UNIT
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.trim_end_matches('s').parse().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(stop > 30, "{stop}");
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze not installed: unit not verified");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("pushgateway.service");
    let binary = env!("CARGO_BIN_EXE_pushgateway");
    std::fs::write(&unit, UNIT.replace("/usr/local/bin/pushgateway", binary)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "{stderr}");
}

//! fabric-bench runs end to end on a tiny fleet and reports every figure it promises. The
//! figures themselves are for the benchmark (BENCHMARKS.md), not for this test: the suite only
//! checks that they are there and consistent.

use std::process::Command;

use serde_json::Value;

/// Runs fabric-bench with `args`; its JSON summary and the figure of each key as a number.
fn run(args: &[&str]) -> (Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fabric-bench"))
        .args([
            "--in-process",
            "--devices",
            "2",
            "--json",
            "--sync-timeout",
            "60",
        ])
        .args(args)
        .output()
        .expect("fabric-bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (
        serde_json::from_slice(&out.stdout).expect("JSON on stdout"),
        stderr,
    )
}

fn num(j: &Value, k: &str) -> f64 {
    j.get(k)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{k} missing or not a number in {j}"))
}

#[test]
fn a_tiny_run_reports_every_figure_as_json() {
    let (j, stderr) = run(&["all", "--seconds", "2", "--rate", "20", "--churn", "20"]);
    let num = |k: &str| num(&j, k);
    assert_eq!(num("devices"), 2.0);
    assert_eq!(num("synced_devices"), 2.0);
    assert!(num("sync_all_seconds") > 0.0);
    assert!(num("rss_bytes") > 0.0 && num("rss_peak_bytes") >= num("rss_bytes"));
    assert!(num("bytes_per_device") > 0.0);
    // Churn: every change is one notification to the engine, which handled them all.
    assert!(num("notifications") > 0.0, "{j}");
    assert!(num("notifications_per_second") > 0.0);
    assert!(num("cpu_percent") > 0.0);
    assert_eq!(num("sessions_dropped"), 0.0);
    // Latency: every change was detected, and the quantiles are ordered.
    assert!(num("latency_changes") > 0.0);
    assert_eq!(num("latency_completed"), num("latency_changes"), "{j}");
    assert_eq!(num("latency_missed"), 0.0);
    let (p50, p99, max) = (
        num("detect_p50_ms"),
        num("detect_p99_ms"),
        num("detect_max_ms"),
    );
    assert!(
        0.0 <= p50 && p50 <= p99 && p99 <= max && max < 5000.0,
        "{j}"
    );
    // The human table went to stderr.
    assert!(stderr.contains("detect_p99_ms"), "{stderr}");
}

#[test]
fn auto_mode_repairs_every_change_and_reports_how_long_it_took() {
    let (j, _) = run(&["remediation", "--seconds", "2", "--rate", "5"]);
    let num = |k: &str| num(&j, k);
    assert!(num("remediation_changes") > 0.0, "{j}");
    assert_eq!(
        num("remediation_completed"),
        num("remediation_changes"),
        "{j}"
    );
    assert_eq!(num("remediation_missed"), 0.0);
    let (p50, p99) = (num("remediation_p50_ms"), num("remediation_p99_ms"));
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= num("remediation_max_ms"),
        "{j}"
    );
}

#[test]
fn a_missing_simulator_binary_is_named_with_the_way_to_build_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_fabric-bench"))
        .args([
            "--sim",
            "/nonexistent/fabric-sim",
            "--devices",
            "1",
            "scale",
        ])
        .output()
        .expect("fabric-bench runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/fabric-sim"), "{stderr}");
}

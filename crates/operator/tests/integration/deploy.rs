//! The kustomize base's Deployment (deploy/operator/deployment.yaml; the Helm chart renders the
//! same container, tests/chart.rs checks both) passes only flags and environment variables that
//! `fabric-operator run` reads.

use std::{path::Path, process::Command};

#[test]
fn the_deployment_speaks_the_binarys_language() {
    let help = Command::new(env!("CARGO_BIN_EXE_fabric-operator"))
        .args(["run", "--help"])
        .output()
        .expect("fabric-operator runs");
    let help = String::from_utf8(help.stdout).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/operator/deployment.yaml");
    let deployment: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];

    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "run");
    for flag in &args[1..] {
        assert!(
            help.contains(&format!("  {flag}")),
            "{flag} is not a flag of `run`:\n{help}"
        );
    }
    let env: Vec<&str> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(env.len() >= 5);
    for name in env {
        // RUST_LOG is tracing's filter (read by EnvFilter), not a flag.
        assert!(
            name == "RUST_LOG" || help.contains(&format!("[env: {name}=")),
            "{name} is not read by `run`:\n{help}"
        );
    }
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(help.contains(&format!("[default: 0.0.0.0:{port}]")));
}

//! `kubectl-fabric plan -f` (the binary) against the lab fabric served by fabric-sim in-process:
//! a device at intent plans nothing; after an out-of-band change the plan names the changed path,
//! leaves the policy's exclusions alone, and sends nothing to the device.

use std::{path::PathBuf, process::Command};

use fabric_gnmi::{Path, Value, rpc::SetRequest};
use fabric_sim::{Sim, SimHandle, topology::Topology};

const MTU: &str = "/interfaces/interface[name=Ethernet1]/config/mtu";
const DESCRIPTION: &str = "/interfaces/interface[name=Ethernet2]/config/description";

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/fabric")
}

async fn lab() -> SimHandle {
    let topology = Topology::load(&examples().join("topology.yaml"))
        .expect("lab topology")
        .with_ephemeral_ports();
    Sim::start(topology, "127.0.0.1".parse().unwrap())
        .await
        .expect("fabric-sim starts")
}

/// Runs the binary off the runtime's threads (the simulator keeps serving meanwhile).
async fn kubectl_fabric(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-fabric"))
            .args(&args)
            // No cluster: plan must not need one.
            .env("KUBECONFIG", "/nonexistent")
            .env_remove("FABRIC_GNMI_USERNAME")
            .env_remove("FABRIC_GNMI_PASSWORD")
            .output()
            .expect("kubectl-fabric runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn plan_args(sim: &SimHandle, extra: &[&str]) -> Vec<String> {
    let m = examples().join("manifests");
    let mut args: Vec<String> = vec!["plan".into()];
    for f in [
        "devices/leaf1.yaml",
        "secret.yaml",
        "policies/leaves-approve.yaml",
        "policies/leaves-auto.yaml",
        "policies/spines-alert.yaml",
    ] {
        args.push("-f".into());
        args.push(m.join(f).display().to_string());
    }
    args.push("--address".into());
    args.push(sim.addr("leaf1").unwrap().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_names_what_changed_out_of_band_and_changes_nothing() {
    let sim = lab().await;
    let leaf1 = sim.device("leaf1").unwrap();

    let (ok, out, err) = kubectl_fabric(plan_args(&sim, &[])).await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "FabricDevice leaf1 at {} (eos), policy leaves-approve (mode approve)\n",
            sim.addr("leaf1").unwrap()
        )),
        "the policy in force is found among the files: {out}"
    );
    assert!(
        out.contains("No changes. The device matches its intent."),
        "{out}"
    );

    // Someone at the CLI: an MTU (watched) and a description (excluded by leaves-approve).
    leaf1
        .apply(&SetRequest {
            updates: vec![
                (MTU.parse::<Path>().unwrap(), Value::Uint(1500)),
                (
                    DESCRIPTION.parse::<Path>().unwrap(),
                    Value::String("temporary".into()),
                ),
            ],
            ..SetRequest::default()
        })
        .unwrap();
    let sets_before = leaf1.set_count();

    let (ok, out, err) = kubectl_fabric(plan_args(&sim, &[])).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("~ {MTU}: 1500 -> 9214")), "{out}");
    assert!(
        out.contains(&format!("  ~ update  {MTU}: 1500 -> 9214")),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to delete, 0 to replace, 1 to update."),
        "{out}"
    );
    assert!(
        !out.contains("Ethernet2]/config/description"),
        "excluded paths are not planned: {out}"
    );
    assert!(out.ends_with("Dry run: nothing was sent to the device.\n"));
    assert_eq!(leaf1.set_count(), sets_before, "a plan sends no Set");
    assert_eq!(
        leaf1.get(&MTU.parse().unwrap()),
        Some(Value::Uint(1500)),
        "the device is as it was"
    );

    let (ok, out, err) = kubectl_fabric(plan_args(&sim, &["-o", "json"])).await;
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["plan"]["updates"][0]["path"], MTU);
    assert_eq!(json["plan"]["updates"][0]["value"], 9214);
    assert_eq!(json["drift"].as_array().unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_explains_missing_credentials_and_refused_logins() {
    let sim = lab().await;
    let leaf1 = examples().join("manifests/devices/leaf1.yaml");
    let addr = sim.addr("leaf1").unwrap().to_string();

    let (ok, _, err) = kubectl_fabric(vec![
        "plan".into(),
        "-f".into(),
        leaf1.display().to_string(),
        "--address".into(),
        addr.clone(),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains(
            "Secret \"lab-gnmi-credentials\" (credentials) not found; add the Secret's manifest"
        ),
        "{err}"
    );

    let (ok, _, err) = kubectl_fabric(vec![
        "plan".into(),
        "-f".into(),
        leaf1.display().to_string(),
        "--address".into(),
        addr,
        "--username".into(),
        "admin".into(),
        "--password".into(),
        "wrong".into(),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains("Unauthenticated") || err.contains("unauthenticated"),
        "{err}"
    );
    sim.shutdown().await;
}

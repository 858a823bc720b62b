//! deploy/crds holds exactly what `fabric-operator crds` prints, so `kubectl apply -f deploy/crds`
//! and `fabric-operator crds | kubectl apply -f -` install the same schema.

use std::{path::Path, process::Command};

#[test]
fn committed_crds_match_the_generator() {
    let output = Command::new(env!("CARGO_BIN_EXE_fabric-operator"))
        .arg("crds")
        .output()
        .expect("fabric-operator runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds/fabric.netops.dev.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        printed == committed,
        "deploy/crds/fabric.netops.dev.yaml is stale; regenerate it with\n  \
         cargo run -p fabric-operator -- crds > deploy/crds/fabric.netops.dev.yaml"
    );
    assert_eq!(
        printed
            .matches("\nkind: CustomResourceDefinition\n")
            .count(),
        4
    );
}

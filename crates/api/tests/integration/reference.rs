//! docs/crd-reference.md is what the generator prints from the CRD schemas, so the reference
//! never drifts from what the API server enforces.

use std::path::Path;

#[test]
fn committed_reference_matches_the_schemas() {
    let generated = fabric_api::reference::markdown();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/crd-reference.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/crd-reference.md is stale; regenerate it with\n  \
         cargo run -p fabric-api --example crd-reference > docs/crd-reference.md"
    );
    // Every kind and a few fields a reader looks for.
    for needle in [
        "## FabricDevice",
        "## DriftPolicy",
        "## DriftEvent",
        "## NetBoxSource",
        "| `spec.target.address` | string |",
        "| `status.phase` | string |",
    ] {
        assert!(generated.contains(needle), "{needle}");
    }
}

//! The lab fabric entered into a real NetBox syncs back to exactly the intent of
//! examples/fabric/manifests/devices/*.yaml. Needs scripts/netbox.sh.

use crate::common;

use fabric_netbox::{seed, sync};

#[tokio::test]
async fn lab_fabric_matches_the_example_manifests() {
    let client = common::ready_client().await;
    seed::lab(&client, "lab")
        .await
        .expect("seeding the lab fabric");
    let result = sync(&client, &common::config_for_site("lab"))
        .await
        .expect("sync");
    assert!(result.errors.is_empty(), "errors: {:#?}", result.errors);
    let names: Vec<&str> = result.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "leaf1", "leaf2", "leaf3", "leaf4", "leaf5", "leaf6", "leaf7", "leaf8", "spine1",
            "spine2"
        ]
    );
    for got in &result.devices {
        common::assert_matches_manifest(got);
    }
    assert_eq!(result.requests, 8, "eight lists, one page each");
}

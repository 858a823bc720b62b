//! The real NetBox these tests talk to: started by scripts/netbox.sh, which writes
//! target/netbox.env (NETBOX_URL, NETBOX_TOKEN). NETBOX_URL / NETBOX_TOKEN in the environment win.
#![allow(dead_code)]

use std::path::PathBuf;

use fabric_api::device::SecretRef;
use fabric_api::netbox::Filters;
use fabric_drift::intent::Platform;
use fabric_netbox::seed;
use fabric_netbox::{Client, ClientOptions, MappingConfig, SyncConfig, Token};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (url, token) of the test NetBox; panics with what to run when there is none.
pub fn netbox_env() -> (String, String) {
    let mut url = std::env::var("NETBOX_URL").ok();
    let mut token = std::env::var("NETBOX_TOKEN").ok();
    let file = workspace_root().join("target/netbox.env");
    if (url.is_none() || token.is_none())
        && let Ok(text) = std::fs::read_to_string(&file)
    {
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("NETBOX_URL=") {
                url.get_or_insert(v.trim().to_owned());
            }
            if let Some(v) = line.strip_prefix("NETBOX_TOKEN=") {
                token.get_or_insert(v.trim().to_owned());
            }
        }
    }
    match (url, token) {
        (Some(u), Some(t)) => (u, t),
        _ => panic!(
            "no NetBox to test against: {} is missing and NETBOX_URL/NETBOX_TOKEN are not set. \
             Run scripts/netbox.sh (it installs and starts a local NetBox and writes that file).",
            file.display()
        ),
    }
}

pub fn client() -> Client {
    let (url, token) = netbox_env();
    Client::new(
        &url,
        Token::parse(&token).expect("token in target/netbox.env"),
    )
    .unwrap()
}

pub fn client_with(options: ClientOptions) -> Client {
    let (url, token) = netbox_env();
    Client::with_options(&url, Token::parse(&token).unwrap(), options).unwrap()
}

/// Fails with a clear message when the NetBox of target/netbox.env does not answer.
pub async fn ready_client() -> Client {
    let c = client();
    if let Err(e) = c.get::<serde_json::Value>("api/status/", &[]).await {
        panic!(
            "the test NetBox at {} does not answer ({e}). Run scripts/netbox.sh to start it.",
            c.base_url()
        );
    }
    c
}

pub fn config_for_site(site: &str) -> SyncConfig {
    SyncConfig {
        filters: Filters {
            site: vec![site.to_owned()],
            ..Filters::default()
        },
        mapping: MappingConfig {
            gnmi_port: 6030,
            credentials_secret_ref: Some(SecretRef {
                name: "lab-gnmi-credentials".into(),
            }),
            platform: Platform::Eos,
            label_prefix: "fabric.netops.dev/".into(),
        },
    }
}

static SHARED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// A fresh site for one test: what an earlier run left is removed; shared objects (custom
/// fields, roles, ...) are created once per test binary, so parallel tests do not race.
pub async fn fresh_site(client: &Client, site: &str) -> seed::Base {
    SHARED
        .get_or_init(|| async {
            seed::base(client, "shared")
                .await
                .expect("seeding shared objects");
        })
        .await;
    seed::reset_site(client, site)
        .await
        .expect("resetting the test site");
    seed::base(client, site)
        .await
        .expect("seeding the test site")
}

/// A fresh site with simple devices, each `(name, management address, ports)`.
pub async fn site_with_devices(
    client: &Client,
    site: &str,
    devices: &[(&str, &str, usize)],
) -> seed::Created {
    let base = fresh_site(client, site).await;
    let seeds: Vec<seed::DeviceSeed> = devices
        .iter()
        .map(|(name, ip, ports)| simple_device(name, ip, *ports, base.mgmt_vrf))
        .collect();
    seed::create_devices(client, &base, &seeds)
        .await
        .expect("seeding the test devices")
}

/// A minimal routed device: management port with the primary address, and `ports` Ethernet
/// ports described `port N`.
pub fn simple_device(name: &str, mgmt_ip: &str, ports: usize, mgmt_vrf: u64) -> seed::DeviceSeed {
    let mut interfaces = vec![seed::InterfaceSeed {
        name: "Management1".into(),
        kind: "1000base-t",
        mgmt_only: true,
        ips: vec![(mgmt_ip.to_owned(), Some(mgmt_vrf), None)],
        primary: true,
        ..Default::default()
    }];
    for p in 1..=ports {
        interfaces.push(seed::InterfaceSeed {
            name: format!("Ethernet{p}"),
            kind: "10gbase-x-sfpp",
            description: format!("port {p}"),
            ..Default::default()
        });
    }
    seed::DeviceSeed {
        name: name.to_owned(),
        role: "leaf",
        custom_fields: serde_json::json!({}),
        interfaces,
    }
}

fn manifest(name: &str) -> fabric_api::device::FabricDevice {
    let path = workspace_root().join(format!("examples/fabric/manifests/devices/{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares two keyed lists entry by entry, so a failure names the entry that differs.
fn same_by_key<T: std::fmt::Debug + PartialEq, K: Ord + std::fmt::Debug>(
    what: &str,
    got: &[T],
    want: &[T],
    key: impl Fn(&T) -> K,
) {
    use std::collections::BTreeMap;
    let got: BTreeMap<K, &T> = got.iter().map(|t| (key(t), t)).collect();
    let want: BTreeMap<K, &T> = want.iter().map(|t| (key(t), t)).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: the keys differ"
    );
    for (k, w) in &want {
        assert_eq!(got[k], *w, "{what} {k:?}");
    }
}

/// The lab device's synced labels and spec equal examples/fabric/manifests/devices/<name>.yaml,
/// field by field (NetBox expresses all of it; see docs/netbox-data-model.md).
pub fn assert_matches_manifest(got: &fabric_netbox::SyncedDevice) {
    let want = manifest(&got.name);
    let d = &got.name;
    assert_eq!(
        Some(&got.labels),
        want.metadata.labels.as_ref(),
        "{d}: labels"
    );
    let (g, w) = (&got.spec, &want.spec);
    assert_eq!(g.target, w.target, "{d}: target");
    assert_eq!(g.platform, w.platform, "{d}: platform");
    assert_eq!(g.ownership, w.ownership, "{d}: ownership");
    assert_eq!(g.config, w.config, "{d}: raw config");
    let (gi, wi) = (&g.intent, &w.intent);
    assert_eq!(gi.hostname, wi.hostname, "{d}: hostname");
    same_by_key(
        &format!("{d}: interface"),
        &gi.interfaces,
        &wi.interfaces,
        |i| i.name.clone(),
    );
    same_by_key(&format!("{d}: VLAN"), &gi.vlans, &wi.vlans, |v| v.id);
    same_by_key(&format!("{d}: VRF"), &gi.vrfs, &wi.vrfs, |v| v.name.clone());
    match (&gi.vxlan, &wi.vxlan) {
        (Some(gv), Some(wv)) => {
            assert_eq!(gv.source_interface, wv.source_interface, "{d}: VTEP source");
            assert_eq!(gv.udp_port, wv.udp_port, "{d}: VXLAN UDP port");
            same_by_key(
                &format!("{d}: VLAN VNI"),
                &gv.vlan_vnis,
                &wv.vlan_vnis,
                |v| v.vlan,
            );
            same_by_key(&format!("{d}: VRF VNI"), &gv.vrf_vnis, &wv.vrf_vnis, |v| {
                v.vrf.clone()
            });
        }
        (g, w) => assert_eq!(g, w, "{d}: vxlan"),
    }
    match (&gi.bgp, &wi.bgp) {
        (Some(gb), Some(wb)) => {
            assert_eq!(gb.asn, wb.asn, "{d}: BGP AS");
            assert_eq!(gb.router_id, wb.router_id, "{d}: router id");
            same_by_key(
                &format!("{d}: peer group"),
                &gb.peer_groups,
                &wb.peer_groups,
                |p| p.name.clone(),
            );
            same_by_key(
                &format!("{d}: neighbor"),
                &gb.neighbors,
                &wb.neighbors,
                |n| n.address.clone(),
            );
        }
        (g, w) => assert_eq!(g, w, "{d}: bgp"),
    }
    assert_eq!(gi.mlag, wi.mlag, "{d}: mlag");
    // Nothing left over: the whole intent is equal once lists are put in the same order.
    let sorted = |i: &fabric_drift::intent::DeviceIntent| {
        let mut i = i.clone();
        i.interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(b) = &mut i.bgp {
            b.peer_groups.sort_by(|x, y| x.name.cmp(&y.name));
            b.neighbors.sort_by(|x, y| x.address.cmp(&y.address));
        }
        i
    };
    assert_eq!(sorted(gi), sorted(wi), "{d}: intent");
}

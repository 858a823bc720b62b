//! The lab fabric's manifests (examples/fabric/manifests) are what `kubectl apply -R -f` accepts:
//! every object validates as the API server would, parses into the typed structs, survives a
//! serialization round trip, and the fabric they describe is consistent (BGP sessions pair up,
//! addresses are unique, each policy selects the devices it says it does).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use fabric_api::{
    DriftPolicy, FabricDevice, Mode,
    kube::ResourceExt,
    manifest::{self, Manifest},
    selection::policy_for,
    validation::Validator,
};
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;
use serde_json::Value;

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fabric/manifests")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
}

struct Lab {
    devices: Vec<FabricDevice>,
    policies: Vec<DriftPolicy>,
    secrets: Vec<Secret>,
}

/// Loads the lab with the same loader `fabric-operator lab` uses, and checks each typed object
/// writes back what the file said.
fn load_lab() -> Lab {
    let validator = Validator::new();
    let mut files = vec![];
    yaml_files(&manifests_dir(), &mut files);
    assert!(!files.is_empty());
    let mut lab = Lab {
        devices: vec![],
        policies: vec![],
        secrets: vec![],
    };
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let parsed = manifest::parse(&file.display().to_string(), &text, &validator)
            .unwrap_or_else(|e| panic!("{e}"));
        let originals =
            serde_yaml::Deserializer::from_str(&text).map(|d| Value::deserialize(d).unwrap());
        for (object, original) in parsed.into_iter().zip(originals) {
            match object {
                Manifest::FabricDevice(d) => lab.devices.push(round_trip(*d, &original)),
                Manifest::DriftPolicy(p) => lab.policies.push(round_trip(*p, &original)),
                Manifest::Secret(s) => lab.secrets.push(*s),
                other => panic!(
                    "{}: unexpected object in the lab manifests: {other:?}",
                    file.display()
                ),
            }
        }
    }
    // kubectl applies them into one namespace (the context's); selection compares namespaces.
    lab.devices
        .iter_mut()
        .for_each(|d| d.metadata.namespace = Some("lab".into()));
    lab.policies
        .iter_mut()
        .for_each(|p| p.metadata.namespace = Some("lab".into()));
    lab.devices.sort_by_key(|d| d.name_any());
    lab
}

/// Checks that writing the typed object back loses nothing the file said, and reads back equal.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(typed: T, original: &Value) -> T {
    let written = serde_json::to_value(&typed).unwrap();
    assert_subset(original, &written, "");
    let again: T = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), written);
    typed
}

/// Every field of `original` is in `written` with the same value (`written` may add defaults).
fn assert_subset(original: &Value, written: &Value, at: &str) {
    match (original, written) {
        (Value::Object(o), Value::Object(w)) => {
            for (k, v) in o {
                let child = w.get(k).unwrap_or_else(|| panic!("{at}.{k} was dropped"));
                assert_subset(v, child, &format!("{at}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(w)) => {
            assert_eq!(o.len(), w.len(), "{at}");
            for (i, (a, b)) in o.iter().zip(w).enumerate() {
                assert_subset(a, b, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(original, written, "{at}"),
    }
}

#[test]
fn the_lab_has_two_spines_and_eight_leaves_in_four_mlag_pairs() {
    let lab = load_lab();
    let names: Vec<String> = lab.devices.iter().map(|d| d.name_any()).collect();
    let mut expected: Vec<String> = ["spine1", "spine2"].iter().map(|s| s.to_string()).collect();
    expected.extend((1..=8).map(|n| format!("leaf{n}")));
    expected.sort();
    assert_eq!(names, expected);

    let mut pairs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &lab.devices {
        let bgp = d
            .spec
            .intent
            .bgp
            .as_ref()
            .expect("every lab device runs BGP");
        if d.name_any().starts_with("spine") {
            assert_eq!(bgp.asn, 65000);
            assert!(d.spec.intent.mlag.is_none());
        } else {
            let mlag = d
                .spec
                .intent
                .mlag
                .as_ref()
                .expect("every leaf is in an MLAG pair");
            pairs
                .entry(mlag.domain_id.clone())
                .or_default()
                .push(d.name_any());
            assert!((65001..=65004).contains(&bgp.asn));
            let vxlan = d.spec.intent.vxlan.as_ref().expect("every leaf is a VTEP");
            assert!(!vxlan.vlan_vnis.is_empty(), "EVPN type-2 VNIs");
            assert!(!vxlan.vrf_vnis.is_empty(), "EVPN type-5 VNIs");
        }
        for interface in &d.spec.intent.interfaces {
            if interface.name.starts_with("Ethernet") {
                assert!(
                    interface.description.is_some(),
                    "{} {} has a description",
                    d.name_any(),
                    interface.name
                );
            }
        }
    }
    assert_eq!(pairs.len(), 4);
    assert!(
        pairs.values().all(|members| members.len() == 2),
        "{pairs:?}"
    );
}

#[test]
fn every_bgp_session_is_configured_on_both_ends() {
    let lab = load_lab();
    // Which device owns each address, and its ASN.
    let mut owner: BTreeMap<String, (String, u32)> = BTreeMap::new();
    for d in &lab.devices {
        let asn = d.spec.intent.bgp.as_ref().unwrap().asn;
        for interface in &d.spec.intent.interfaces {
            // Shared by design: the VTEP address of a pair (Loopback1) and anycast gateways (in a VRF).
            if interface.name == "Loopback1" || interface.vrf.is_some() {
                continue;
            }
            for address in &interface.ipv4_addresses {
                let ip = address.split('/').next().unwrap().to_owned();
                let previous = owner.insert(ip.clone(), (d.name_any(), asn));
                assert!(previous.is_none(), "{ip} is configured on two devices");
            }
        }
    }
    let mut sessions = BTreeSet::new();
    let mut neighbors = 0;
    for d in &lab.devices {
        let bgp = d.spec.intent.bgp.as_ref().unwrap();
        for n in &bgp.neighbors {
            let group = n
                .peer_group
                .as_ref()
                .and_then(|g| bgp.peer_groups.iter().find(|pg| &pg.name == g));
            if let Some(name) = &n.peer_group {
                assert!(
                    group.is_some(),
                    "{}: peer group {name} is declared",
                    d.name_any()
                );
            }
            let peer_as = n
                .peer_as
                .or(group.and_then(|g| g.peer_as))
                .expect("peer AS known");
            let (peer, peer_asn) = owner.get(&n.address).unwrap_or_else(|| {
                panic!("{}: neighbor {} is no lab address", d.name_any(), n.address)
            });
            assert_eq!(peer_as, *peer_asn, "{} -> {peer}: peer AS", d.name_any());
            sessions.insert((d.name_any(), peer.clone()));
            neighbors += 1;
        }
    }
    for (a, b) in &sessions {
        assert!(
            sessions.contains(&(b.clone(), a.clone())),
            "{a} peers with {b} but not back"
        );
    }
    // Each leaf: 2 underlay + 2 overlay sessions + its MLAG peer; each spine: 8 underlay + 8 overlay.
    assert_eq!(neighbors, 8 * 5 + 2 * 16);
    // As device pairs: each leaf talks to both spines and its peer; each spine to the 8 leaves.
    assert_eq!(sessions.len(), 8 * 3 + 2 * 8, "{sessions:?}");
}

#[test]
fn policies_select_the_devices_they_say() {
    let lab = load_lab();
    assert_eq!(lab.policies.len(), 3);
    for d in &lab.devices {
        let policy =
            policy_for(d, &lab.policies).unwrap_or_else(|| panic!("{} has a policy", d.name_any()));
        let name = d.name_any();
        let n: u32 = name
            .trim_start_matches(char::is_alphabetic)
            .parse()
            .unwrap();
        let expected = match (name.starts_with("spine"), n) {
            (true, _) => ("spines-alert", Mode::Alert),
            (false, 1..=4) => ("leaves-approve", Mode::Approve),
            (false, _) => ("leaves-auto", Mode::Auto),
        };
        assert_eq!(
            (policy.name_any().as_str(), policy.spec.rules.mode),
            expected,
            "{name}"
        );
    }
}

#[test]
fn devices_reach_distinct_lab_ports_with_the_lab_credentials() {
    let lab = load_lab();
    let secret_names: BTreeSet<String> = lab.secrets.iter().map(|s| s.name_any()).collect();
    let mut addresses = BTreeSet::new();
    for d in &lab.devices {
        let target = &d.spec.target;
        assert!(
            target.address.starts_with("127.0.0.1:"),
            "the lab is served on loopback"
        );
        assert!(
            addresses.insert(target.address.clone()),
            "{} shares its address",
            d.name_any()
        );
        let secret = &target
            .credentials_secret_ref
            .as_ref()
            .expect("credentials")
            .name;
        assert!(
            secret_names.contains(secret),
            "{}: Secret {secret} is in the manifests",
            d.name_any()
        );
    }
    let secret = &lab.secrets[0];
    let data = secret.string_data.as_ref().unwrap();
    assert!(data.contains_key("username") && data.contains_key("password"));
}

#[test]
fn the_netbox_source_example_is_valid_and_names_its_secrets() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/netbox/netboxsource.yaml");
    let text = fs::read_to_string(&file).unwrap();
    let parsed = manifest::parse(&file.display().to_string(), &text, &Validator::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let originals =
        serde_yaml::Deserializer::from_str(&text).map(|d| Value::deserialize(d).unwrap());
    let mut secrets = BTreeSet::new();
    let mut sources = vec![];
    for (object, original) in parsed.into_iter().zip(originals) {
        match object {
            Manifest::Secret(s) => {
                secrets.insert(s.name_any());
            }
            Manifest::NetBoxSource(s) => sources.push(round_trip(*s, &original)),
            other => panic!("unexpected object in {}: {other:?}", file.display()),
        }
    }
    assert_eq!(sources.len(), 1);
    let spec = &sources[0].spec;
    assert!(secrets.contains(&spec.token_secret_ref.name));
    assert!(secrets.contains(&spec.webhook_secret_ref.as_ref().unwrap().name));
    assert_eq!(spec.interval.as_std(), std::time::Duration::from_secs(300));
    assert_eq!(spec.filters.site, ["dc1"]);
}

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

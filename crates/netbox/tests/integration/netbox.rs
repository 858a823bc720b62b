//! Sync behaviour against a real NetBox (scripts/netbox.sh). Each test works in its own site.

use crate::common;

use std::time::Duration;

use fabric_netbox::{ClientError, ClientOptions, Token, seed, sync, sync_devices};
use serde_json::json;

#[tokio::test]
async fn an_interface_description_change_is_followed() {
    let client = common::ready_client().await;
    let base = common::fresh_site(&client, "t-desc").await;
    let created = seed::create_devices(
        &client,
        &base,
        &[common::simple_device(
            "t-desc-1",
            "192.0.2.1/32",
            2,
            base.mgmt_vrf,
        )],
    )
    .await
    .unwrap();
    let config = common::config_for_site("t-desc");
    let first = sync(&client, &config).await.unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let eth1 = |r: &fabric_netbox::SyncResult| {
        r.devices[0]
            .spec
            .intent
            .interfaces
            .iter()
            .find(|i| i.name == "Ethernet1")
            .and_then(|i| i.description.clone())
    };
    assert_eq!(eth1(&first).as_deref(), Some("port 1"));
    assert_eq!(first.devices[0].spec.target.address, "192.0.2.1:6030");

    let id = created.interfaces[&("t-desc-1".to_owned(), "Ethernet1".to_owned())];
    let _: serde_json::Value = client
        .patch(
            &format!("api/dcim/interfaces/{id}/"),
            &json!({"description": "to core1 Ethernet7"}),
        )
        .await
        .unwrap();
    let second = sync(&client, &config).await.unwrap();
    assert_eq!(eth1(&second).as_deref(), Some("to core1 Ethernet7"));
}

#[tokio::test]
async fn a_deleted_device_leaves_the_sync_result() {
    let client = common::ready_client().await;
    let base = common::fresh_site(&client, "t-del").await;
    let created = seed::create_devices(
        &client,
        &base,
        &[
            common::simple_device("t-del-1", "192.0.2.11/32", 1, base.mgmt_vrf),
            common::simple_device("t-del-2", "192.0.2.12/32", 1, base.mgmt_vrf),
        ],
    )
    .await
    .unwrap();
    let config = common::config_for_site("t-del");
    let names = |r: &fabric_netbox::SyncResult| {
        r.devices.iter().map(|d| d.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(&sync(&client, &config).await.unwrap()),
        ["t-del-1", "t-del-2"]
    );
    client
        .delete(
            &format!("api/dcim/devices/{}/", created.devices["t-del-1"]),
            None,
        )
        .await
        .unwrap();
    let after = sync(&client, &config).await.unwrap();
    assert_eq!(names(&after), ["t-del-2"]);
    assert!(!after.selected_device_names().contains("t-del-1"));
}

#[tokio::test]
async fn one_bad_device_is_an_error_entry_not_a_failed_sync() {
    let client = common::ready_client().await;
    let base = common::fresh_site(&client, "t-bad").await;
    let mut bad = common::simple_device("t-bad-1", "192.0.2.21/32", 1, base.mgmt_vrf);
    bad.custom_fields = json!({"gnmi_tls": "sometimes"});
    seed::create_devices(
        &client,
        &base,
        &[
            bad,
            common::simple_device("t-bad-2", "192.0.2.22/32", 1, base.mgmt_vrf),
        ],
    )
    .await
    .unwrap();
    let r = sync(&client, &common::config_for_site("t-bad"))
        .await
        .unwrap();
    assert_eq!(r.devices.len(), 1);
    assert_eq!(r.devices[0].name, "t-bad-2");
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].object.kind, "dcim.device");
    assert_eq!(r.errors[0].object.name, "t-bad-1");
    assert!(r.errors[0].message.contains("gnmi_tls"), "{}", r.errors[0]);
    assert!(
        r.selected_device_names().contains("t-bad-1"),
        "a broken device is still selected: not to be deleted"
    );
}

#[tokio::test]
async fn pages_in_flight_give_the_same_result_as_one_page() {
    let client = common::ready_client().await;
    let base = common::fresh_site(&client, "t-page").await;
    let devices: Vec<_> = (1..=5)
        .map(|n| {
            common::simple_device(
                &format!("t-page-{n}"),
                &format!("192.0.2.{}/32", 30 + n),
                7,
                base.mgmt_vrf,
            )
        })
        .collect();
    seed::create_devices(&client, &base, &devices)
        .await
        .unwrap();
    let config = common::config_for_site("t-page");
    let big = sync(&client, &config).await.unwrap();
    let small_pages = common::client_with(ClientOptions {
        page_size: 3,
        concurrency: 3,
        ..ClientOptions::default()
    });
    let small = sync(&small_pages, &config).await.unwrap();
    assert_eq!(big.devices.len(), 5);
    assert!(
        big.devices
            .iter()
            .all(|d| d.spec.intent.interfaces.len() == 7)
    );
    assert_eq!(small.devices, big.devices);
    // 5 devices and 40 interfaces and 5 addresses in pages of 3: many more requests.
    assert!(
        small.requests >= big.requests + 15,
        "small pages: {} requests, big pages: {}",
        small.requests,
        big.requests
    );
    assert_eq!(small_pages.request_count(), small.requests);
}

#[tokio::test]
async fn a_bad_token_is_unauthorized() {
    let (url, _) = common::netbox_env();
    for token in [
        "ffffffffffffffffffffffffffffffffffffffff",
        "nbt_abcdef123456.not-a-real-secret",
    ] {
        let client = fabric_netbox::Client::new(&url, Token::parse(token).unwrap()).unwrap();
        let err = sync(&client, &common::config_for_site("lab"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "Unauthorized", "{err}");
        assert!(!err.is_transient());
        assert!(
            matches!(
                err.source,
                ClientError::Unauthorized {
                    status: 401 | 403,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            !err.to_string().contains(token),
            "the token must not be in the message"
        );
    }
}

#[tokio::test]
async fn a_wrong_url_path_is_a_clear_404() {
    let (url, token) = common::netbox_env();
    let client =
        fabric_netbox::Client::new(&format!("{url}/netbox"), Token::parse(&token).unwrap())
            .unwrap();
    let err = sync(&client, &common::config_for_site("lab"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.source, ClientError::NotFound { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("404")
            && msg.contains("check the NetBox URL")
            && msg.contains("/netbox/api/dcim/devices/"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_unreachable_netbox_is_retried_then_reported() {
    let (_, token) = common::netbox_env();
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = fabric_netbox::Client::with_options(
        &format!("http://127.0.0.1:{port}"),
        Token::parse(&token).unwrap(),
        ClientOptions {
            max_retries: 2,
            backoff: Duration::from_millis(10),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    // One request: tried three times, counted as such.
    let err = client
        .get::<serde_json::Value>("api/status/", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Unreachable { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(client.counters().requests(), 3);
    assert_eq!(client.counters().retries(), 2);
    assert_eq!(client.counters().failures(), 1);
    // A sync (several requests at once) fails the same way.
    let err = sync(&client, &common::config_for_site("lab"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "Unreachable", "{err}");
    assert!(err.is_transient());
    assert!(
        matches!(err.source, ClientError::Unreachable { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_v2_token_works_with_bearer() {
    let admin = common::ready_client().await;
    let base = common::fresh_site(&admin, "t-v2").await;
    seed::create_devices(
        &admin,
        &base,
        &[common::simple_device(
            "t-v2-1",
            "192.0.2.41/32",
            1,
            base.mgmt_vrf,
        )],
    )
    .await
    .unwrap();
    #[derive(serde::Deserialize)]
    struct Me {
        id: u64,
    }
    let users: Vec<Me> = admin
        .list("api/users/users/", &[("username", "admin".into())])
        .await
        .unwrap();
    #[derive(serde::Deserialize)]
    struct Created {
        id: u64,
        key: String,
        token: String,
    }
    let t: Created = admin
        .post(
            "api/users/tokens/",
            &json!({"user": users[0].id, "version": 2, "description": "fabric-netbox test"}),
        )
        .await
        .unwrap();
    let v2 = Token::parse(&format!("nbt_{}.{}", t.key, t.token)).unwrap();
    assert!(matches!(v2, Token::V2(_)));
    let (url, _) = common::netbox_env();
    let client = fabric_netbox::Client::new(&url, v2).unwrap();
    let r = sync(&client, &common::config_for_site("t-v2")).await;
    admin
        .delete(&format!("api/users/tokens/{}/", t.id), None)
        .await
        .unwrap();
    let r = r.unwrap();
    assert_eq!(r.devices.len(), 1);
    assert_eq!(r.devices[0].name, "t-v2-1");
}

/// Reads one HTTP request from a connection and answers 200: (headers, body).
async fn receive_one_request(
    listener: &tokio::net::TcpListener,
) -> (Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the headers ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the body ended");
        buf.extend_from_slice(&chunk[..n]);
    }
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    (headers, buf[header_end..header_end + len].to_vec())
}

#[tokio::test]
async fn a_real_netbox_webhook_verifies_and_names_its_device() {
    let client = common::ready_client().await;
    let base = common::fresh_site(&client, "t-hook").await;
    let created = seed::create_devices(
        &client,
        &base,
        &[common::simple_device(
            "t-hook-1",
            "192.0.2.51/32",
            1,
            base.mgmt_vrf,
        )],
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let secret = "hook-secret-for-tests";
    // A webhook and an event rule for this device only.
    let hook = seed::interface_webhook(
        &client,
        "fabric-netbox-test",
        &format!("http://127.0.0.1:{port}/webhooks/netbox"),
        secret,
        "t-hook-1",
    )
    .await
    .unwrap();
    let id = created.interfaces[&("t-hook-1".to_owned(), "Ethernet1".to_owned())];
    let _: serde_json::Value = client
        .patch(
            &format!("api/dcim/interfaces/{id}/"),
            &json!({"description": "changed for the webhook"}),
        )
        .await
        .unwrap();
    let received =
        tokio::time::timeout(Duration::from_secs(180), receive_one_request(&listener)).await;
    seed::remove_webhook(&client, hook).await.unwrap();
    let (headers, body) = received.expect(
        "NetBox sent no webhook within 180 s: is its worker running (scripts/netbox.sh starts `netbox rqworker`), or is its queue long (redis-cli llen rq:queue:default)?",
    );
    let signature = headers
        .iter()
        .find(|(k, _)| k == "x-hook-signature")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        fabric_netbox::verify_signature(secret.as_bytes(), &body, signature),
        Ok(())
    );
    assert_eq!(
        fabric_netbox::verify_signature(b"another secret", &body, signature),
        Err(fabric_netbox::SignatureError::Mismatch)
    );
    assert_eq!(
        fabric_netbox::verify_signature(secret.as_bytes(), &body, None),
        Err(fabric_netbox::SignatureError::Missing)
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        fabric_netbox::verify_signature(secret.as_bytes(), &tampered, signature),
        Err(fabric_netbox::SignatureError::Mismatch)
    );
    let event = fabric_netbox::parse_event(&body).unwrap();
    assert_eq!(event.event, "updated");
    assert_eq!(event.object_type, "dcim.interface");
    assert_eq!(
        event.affected(),
        fabric_netbox::Affected::Devices(["t-hook-1".to_owned()].into())
    );
}

#[tokio::test]
async fn a_webhook_sync_reads_only_the_named_devices() {
    use std::collections::{BTreeMap, BTreeSet};
    let client = common::ready_client().await;
    let created = common::site_with_devices(
        &client,
        "t-part",
        &[
            ("t-part-1", "192.0.2.61/32", 3),
            ("t-part-2", "192.0.2.62/32", 3),
            ("t-part-3", "192.0.2.63/32", 3),
        ],
    )
    .await;
    let config = common::config_for_site("t-part");
    let full = sync(&client, &config).await.unwrap();
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let id_of = |n: &str| (n.to_owned(), created.devices[n]);

    // By name: the device list first, then its components (and the VNIs alongside).
    let by_name = sync_devices(&client, &config, &names(&["t-part-1"]), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(by_name.devices, vec![full.devices[0].clone()]);
    assert_eq!(by_name.requests, 5);
    // With the ids of the payload: the same, all in one round trip.
    let by_id = sync_devices(
        &client,
        &config,
        &names(&["t-part-1", "t-part-2"]),
        &[id_of("t-part-1"), id_of("t-part-2")].into(),
    )
    .await
    .unwrap();
    assert_eq!(by_id.devices, full.devices[..2].to_vec());
    assert_eq!(by_id.requests, 5);

    // A deleted device's id is refused by NetBox's component filters: the sync goes by name
    // and finds the device gone.
    client
        .delete(
            &format!("api/dcim/devices/{}/", created.devices["t-part-3"]),
            None,
        )
        .await
        .unwrap();
    let gone = sync_devices(
        &client,
        &config,
        &names(&["t-part-3"]),
        &[id_of("t-part-3")].into(),
    )
    .await
    .unwrap();
    assert!(gone.devices.is_empty() && gone.errors.is_empty());
    assert!(!gone.selected_device_names().contains("t-part-3"));
    // A device of another site is outside the filters.
    let other = sync_devices(&client, &config, &names(&["t-del-2"]), &BTreeMap::new())
        .await
        .unwrap();
    assert!(other.devices.is_empty());
}

#[tokio::test]
async fn devices_of_vlans_and_l2vpns_are_found_through_netbox() {
    use fabric_netbox::{SharedObjects, devices_of};
    let client = common::ready_client().await;
    let base = common::fresh_site(&client, "t-l2").await;
    let vlan = seed::vlan(&client, &base, 40, "t-l2-forty").await.unwrap();
    let other_vlan = seed::vlan(&client, &base, 41, "t-l2-other").await.unwrap();
    let mut access = common::simple_device("t-l2-access", "192.0.2.71/32", 1, base.mgmt_vrf);
    access.interfaces[1].mode = Some("access");
    access.interfaces[1].untagged_vlan = Some(vlan);
    let mut trunk = common::simple_device("t-l2-trunk", "192.0.2.72/32", 1, base.mgmt_vrf);
    trunk.interfaces[1].mode = Some("tagged");
    trunk.interfaces[1].tagged_vlans = vec![other_vlan, vlan];
    let mut svi = common::simple_device("t-l2-svi", "192.0.2.73/32", 0, base.mgmt_vrf);
    svi.interfaces.push(seed::InterfaceSeed {
        name: "Vlan40".into(),
        kind: "virtual",
        ..Default::default()
    });
    let unrelated = common::simple_device("t-l2-none", "192.0.2.74/32", 1, base.mgmt_vrf);
    let created = seed::create_devices(&client, &base, &[access, trunk, svi, unrelated])
        .await
        .unwrap();
    let l2vpn: serde_json::Value = client
        .post(
            "api/vpn/l2vpns/",
            &json!({"name": "t-l2-40", "slug": "t-l2-40", "type": "vxlan-evpn",
                    "identifier": 10040, "tags": [base.tag]}),
        )
        .await
        .unwrap();
    let l2vpn = l2vpn["id"].as_u64().unwrap();
    let _: serde_json::Value = client
        .post(
            "api/vpn/l2vpn-terminations/",
            &json!({"l2vpn": l2vpn, "assigned_object_type": "ipam.vlan",
                    "assigned_object_id": vlan}),
        )
        .await
        .unwrap();
    // Unfiltered (the re-sync applies the source's filters): keep this site's devices, in
    // case another site has an SVI Vlan40.
    let found = |shared: SharedObjects| {
        let client = client.clone();
        async move {
            let mut found = devices_of(&client, &shared).await.unwrap();
            found.retain(|name, _| name.starts_with("t-l2-"));
            found
        }
    };
    let expect = |names: &[&str]| -> std::collections::BTreeMap<String, u64> {
        names
            .iter()
            .map(|n| (n.to_string(), created.devices[*n]))
            .collect()
    };

    // By VLAN id: untagged and tagged members, not the SVI (it takes its VLAN by vid).
    let by_id = SharedObjects {
        vlans: [vlan].into(),
        ..SharedObjects::default()
    };
    assert_eq!(found(by_id).await, expect(&["t-l2-access", "t-l2-trunk"]));
    // With the vid: the SVI too.
    let with_vid = SharedObjects {
        vlans: [vlan].into(),
        vids: [40].into(),
        ..SharedObjects::default()
    };
    let all = expect(&["t-l2-access", "t-l2-svi", "t-l2-trunk"]);
    assert_eq!(found(with_vid).await, all);
    // By L2VPN: its VLAN's devices, SVI included.
    let by_l2vpn = SharedObjects {
        l2vpns: [l2vpn].into(),
        ..SharedObjects::default()
    };
    assert_eq!(found(by_l2vpn).await, all);
}

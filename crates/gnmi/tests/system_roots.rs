//! TLS with no CA given verifies against the system's roots: a target whose
//! CA is in the system store connects. The store is pointed at a file holding
//! the test CA through SSL_CERT_FILE (rustls-native-certs reads it instead of
//! the platform store), which is why this test has a binary of its own: the
//! variable is process-wide.

#![cfg(all(feature = "client", feature = "server"))]

mod support;

use fabric_gnmi::client::{Client, ClientConfig, TlsMode};
use support::{PASS, USER, pki, start};
use tonic::transport::{Identity, ServerTlsConfig};

#[tokio::test]
async fn tls_without_a_ca_trusts_a_ca_in_the_system_store() {
    let pki = pki();
    let store = std::env::temp_dir().join(format!("fabric-gnmi-roots-{}.pem", std::process::id()));
    std::fs::write(&store, &pki.ca_pem).unwrap_or_else(|e| panic!("{}: {e}", store.display()));
    // SAFETY: the only test of this binary sets the variable before it starts
    // anything that could read the environment concurrently (the tokio
    // runtime's workers do not touch it; the target starts below).
    unsafe { std::env::set_var("SSL_CERT_FILE", &store) };

    let tls =
        ServerTlsConfig::new().identity(Identity::from_pem(&pki.server_cert, &pki.server_key));
    let (addr, _target) = start(Some(tls)).await;
    let cfg = ClientConfig::new(addr.to_string())
        .credentials(USER, PASS)
        .tls(TlsMode::Tls {
            ca_pem: Vec::new(),
            client: None,
            server_name: Some("leaf1.lab".into()),
        });
    let connected = Client::connect(cfg).await;
    let _ = std::fs::remove_file(&store);
    let c = connected.unwrap_or_else(|e| panic!("connect with the system's roots: {e}"));
    assert_eq!(
        c.capabilities().await.map(|c| c.version).ok().as_deref(),
        Some("0.10.0")
    );
}

//! Leader election's Lease against an in-memory API server: a leader that shuts down gives its
//! Lease up, so a standby takes over at once instead of after the Lease expires.

use std::time::Duration;

use fabric_api::{
    k8s_openapi::{
        api::coordination::v1::{Lease, LeaseSpec},
        apimachinery::pkg::apis::meta::v1::MicroTime,
    },
    kube::{Api, api::ObjectMeta},
};
use fabric_operator::k8s::leader::{Elector, LEASE_NAME, can_take};
use kube_fake_client::ClientBuilder;

use crate::api_calls::ApiCalls;

fn lease(holder: &str) -> Lease {
    let now = jiff::Timestamp::now();
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE_NAME.into()),
            namespace: Some("fabric-operator".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

#[tokio::test]
async fn a_released_lease_is_taken_by_a_standby_at_once() -> anyhow::Result<()> {
    let client = ClientBuilder::new().with_object(lease("a")).build().await?;
    let calls = ApiCalls::new();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "fabric-operator");
    let a = Elector::new(calls.wrap(client.clone()), "fabric-operator", "a".into());
    let b = Elector::new(calls.wrap(client.clone()), "fabric-operator", "b".into());
    let now = jiff::Timestamp::now();
    assert!(!can_take(&leases.get(LEASE_NAME).await?, "b", now));

    // Another replica's release leaves the Lease alone.
    b.release().await?;
    let held = leases.get(LEASE_NAME).await?;
    assert_eq!(held.spec.unwrap().holder_identity.as_deref(), Some("a"));

    a.release().await?;
    let free = leases.get(LEASE_NAME).await?;
    assert_eq!(free.spec.as_ref().unwrap().holder_identity, None);
    assert!(can_take(&free, "b", now));
    tokio::time::timeout(Duration::from_secs(2), b.acquire()).await?;
    let taken = leases.get(LEASE_NAME).await?;
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("b"));
    Ok(())
}

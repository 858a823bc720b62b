//! Leader election on a coordination.k8s.io Lease, so that replicas > 1 run one active operator.
//!
//! The holder renews the Lease every `RENEW`; another replica takes it over once it has not been
//! renewed for `LEASE_DURATION`. Every write carries the resourceVersion it read, so two replicas
//! cannot both win a race. A leader that loses the Lease stops (the process exits and restarts as
//! a follower), rather than risk two operators writing to devices.

use std::time::Duration;

use fabric_api::{
    k8s_openapi::{
        api::coordination::v1::{Lease, LeaseSpec},
        apimachinery::pkg::apis::meta::v1::MicroTime,
    },
    kube::{
        Api, Client,
        api::{ObjectMeta, PostParams},
    },
};
use tracing::{info, warn};

pub const LEASE_NAME: &str = "fabric-operator";
const LEASE_DURATION: Duration = Duration::from_secs(15);
const RENEW: Duration = Duration::from_secs(5);
/// A leader that has not renewed for this long steps down: before its Lease (15 s) can expire
/// and another replica take it, so two leaders never overlap.
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Each Lease call gives up after this: a hung request must not outlast the deadline.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// After a failed renewal, the next attempt comes this soon.
const RETRY: Duration = Duration::from_secs(1);

/// How long the next renewal call may take, for a leader whose last successful renewal
/// started `since_renewed` ago; None: it must step down now. No call outlasts the deadline.
pub fn call_budget(since_renewed: Duration) -> Option<Duration> {
    let remaining = RENEW_DEADLINE.checked_sub(since_renewed)?;
    (!remaining.is_zero()).then(|| remaining.min(CALL_TIMEOUT))
}

pub struct Elector {
    api: Api<Lease>,
    identity: String,
}

/// Whether `lease` may be taken by `identity` at `now`: free, ours, or expired.
pub fn can_take(lease: &Lease, identity: &str, now: jiff::Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    match (&spec.holder_identity, &spec.renew_time) {
        (None, _) => true,
        (Some(holder), _) if holder == identity => true,
        (Some(_), None) => true,
        (Some(_), Some(renewed)) => {
            let duration = spec
                .lease_duration_seconds
                .map_or(LEASE_DURATION.as_secs() as i64, i64::from);
            renewed.0.as_second() + duration < now.as_second()
        }
    }
}

impl Elector {
    pub fn new(client: Client, namespace: &str, identity: String) -> Self {
        Elector {
            api: Api::namespaced(client, namespace),
            identity,
        }
    }

    fn spec(&self, now: jiff::Timestamp, acquired: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }
    }

    /// One attempt to take or renew the Lease; true when we hold it afterwards.
    async fn try_hold(&self) -> Result<bool, fabric_api::kube::Error> {
        let now = jiff::Timestamp::now();
        match self.api.get_opt(LEASE_NAME).await? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(LEASE_NAME.into()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.spec(now, None)),
                };
                match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(fabric_api::kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Some(mut lease) if can_take(&lease, &self.identity, now) => {
                let ours = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.holder_identity.as_deref())
                    == Some(self.identity.as_str());
                let acquired = if ours {
                    lease.spec.as_ref().and_then(|s| s.acquire_time.clone())
                } else {
                    None
                };
                lease.spec = Some(self.spec(now, acquired));
                // replace() sends the resourceVersion we read: a concurrent winner makes this a 409.
                match self
                    .api
                    .replace(LEASE_NAME, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(fabric_api::kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Some(_) => Ok(false),
        }
    }

    /// One attempt, given up after `budget`.
    async fn try_hold_within(&self, budget: Duration) -> Result<bool, String> {
        match tokio::time::timeout(budget, self.try_hold()).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {budget:?}")),
        }
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_hold_within(CALL_TIMEOUT).await {
                Ok(true) => {
                    info!(identity = %self.identity, "leader: acquired the lease");
                    return;
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "leader election: lease not readable or writable"),
            }
            tokio::time::sleep(RENEW).await;
        }
    }

    /// Renews the Lease until it is lost, or not renewed within [`RENEW_DEADLINE`] (measured
    /// from the start of the last renewal that succeeded, which is the renewTime it wrote);
    /// returns then, and the caller stops leading.
    pub async fn hold(&self) {
        let mut renewed = tokio::time::Instant::now();
        let mut wait = RENEW;
        // The call after the wait must end before the deadline; none left: step down.
        while let Some(budget) = call_budget(renewed.elapsed() + wait) {
            tokio::time::sleep(wait).await;
            let started = tokio::time::Instant::now();
            match self.try_hold_within(budget).await {
                Ok(true) => {
                    renewed = started;
                    wait = RENEW;
                }
                Ok(false) => {
                    warn!(identity = %self.identity, "leader: lease taken by another replica");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "leader: renewing the lease failed");
                    wait = RETRY;
                }
            }
        }
        warn!(identity = %self.identity, "leader: not renewed within the deadline; stepping down");
    }

    /// Gives the Lease up (graceful shutdown), so a standby takes over at once rather than
    /// after the Lease expires. Only ours, and only the version we read (a 409 means someone
    /// else holds it now: nothing to give up).
    pub async fn release(&self) -> Result<(), fabric_api::kube::Error> {
        let Some(mut lease) = self.api.get_opt(LEASE_NAME).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.acquire_time = None;
        spec.renew_time = None;
        match self
            .api
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                info!(identity = %self.identity, "leader: lease released");
                Ok(())
            }
            Err(fabric_api::kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed_seconds_ago: Option<i64>) -> Lease {
        let now = jiff::Timestamp::now();
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                lease_duration_seconds: Some(15),
                renew_time: renewed_seconds_ago
                    .map(|s| MicroTime(now - jiff::SignedDuration::from_secs(s))),
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_leader_steps_down_before_its_lease_can_expire() {
        assert_eq!(call_budget(Duration::ZERO), Some(CALL_TIMEOUT));
        // Late in the deadline a call gets only what is left of it.
        assert_eq!(
            call_budget(RENEW_DEADLINE - Duration::from_secs(1)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(call_budget(RENEW_DEADLINE), None);
        assert_eq!(call_budget(LEASE_DURATION), None);
        assert!(RENEW_DEADLINE < LEASE_DURATION);
    }

    #[test]
    fn a_fresh_lease_of_another_replica_is_not_taken() {
        assert!(!can_take(
            &lease(Some("b"), Some(3)),
            "a",
            jiff::Timestamp::now()
        ));
    }

    #[test]
    fn an_expired_free_or_own_lease_is_taken() {
        let now = jiff::Timestamp::now();
        assert!(can_take(&lease(Some("b"), Some(20)), "a", now));
        assert!(can_take(&lease(None, None), "a", now));
        assert!(can_take(&lease(Some("a"), Some(3)), "a", now));
    }
}

//! One device's session: a task that holds the gNMI connection, keeps the observed tree and the
//! drift set current, turns drift into episodes, and tells the port when anything changes.
//!
//! Life of a session: compile the intent; connect; subscribe ON_CHANGE to each owned root (SAMPLE
//! where the target refuses ON_CHANGE); take the initial sync into a fresh observed tree and diff
//! it in full; then evaluate each notification incrementally. Any loss of the connection reports
//! the device unreachable with a reason and reconnects with backoff and jitter; every reconnect
//! resyncs from scratch, so a change made while the device was unreachable is caught.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll},
    time::Instant,
};

use fabric_drift::{DriftTracker, desired::Desired, policy::Mode};
use fabric_gnmi::{
    Path,
    backoff::{Backoff, BackoffConfig, SplitMix64},
    client::{Client, ClientConfig, ClientError, SubscribeEvent, Subscription},
    rpc::{SubscribeRequest, Subscription as SubscriptionSpec},
};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::{
    Shared,
    episode::{Action, Episodes},
    guard::{FlapGuard, RateLimit},
    inbox::Inbox,
    model::{
        DeviceConfig, DeviceReport, EngineOptions, Reachability, RootMode, SyncState,
        UnreachableReason,
    },
    notify::{Notice, NoticeKind},
    port::{Decision, EventRecord, EventUpdate, Phase, Port},
    remediation::InFlight,
    window::Windows,
};

/// The most drifted paths a report carries (the status lists 20).
const REPORTED_PATHS: usize = 20;

pub(crate) enum Command {
    Update(Arc<DeviceConfig>),
    /// A person approved or rejected an event.
    Decide {
        event: String,
        decision: Decision,
    },
    Stop,
}

/// How a connected period ended.
enum Outcome {
    Stop,
    /// The subscribed roots changed: reconnect at once.
    Resubscribe,
    Lost {
        reason: UnreachableReason,
        message: String,
    },
}

/// The device's subscriptions (one or two) as one stream of (subscription index, event). Each
/// poll starts after the subscription that answered last, so a busy one cannot starve the other;
/// the stream ends once every subscription has. (Written out rather than `SelectAll` over boxed
/// streams: it is polled on every notification, and holds no queue of its own to wake.)
struct Events {
    subscriptions: Vec<OpenSubscription>,
    next: usize,
}

struct OpenSubscription {
    /// The event read while opening (to know the target answers), handed out first.
    first: Option<Result<SubscribeEvent, ClientError>>,
    /// None once it ended.
    stream: Option<Subscription>,
}

impl Stream for Events {
    type Item = (usize, Result<SubscribeEvent, ClientError>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let count = this.subscriptions.len();
        let mut open = false;
        for step in 0..count {
            let index = (this.next + step) % count;
            let subscription = &mut this.subscriptions[index];
            let event = match subscription.first.take() {
                Some(first) => first,
                None => {
                    let Some(stream) = subscription.stream.as_mut() else {
                        continue;
                    };
                    match Pin::new(stream).poll_next(cx) {
                        Poll::Ready(Some(event)) => event,
                        Poll::Ready(None) => {
                            subscription.stream = None;
                            continue;
                        }
                        Poll::Pending => {
                            open = true;
                            continue;
                        }
                    }
                }
            };
            this.next = (index + 1) % count;
            return Poll::Ready(Some((index, event)));
        }
        if open {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }
}

pub(crate) struct Session<P: Port> {
    pub(crate) config: Arc<DeviceConfig>,
    pub(crate) port: Arc<P>,
    pub(crate) options: EngineOptions,
    pub(crate) shared: Arc<Shared>,
    /// The compiled intent and the observed state; None while the spec is invalid.
    pub(crate) tracker: Option<DriftTracker>,
    roots: Vec<Path>,
    spec_error: Option<String>,
    pub(crate) episodes: Episodes,
    reachability: Reachability,
    pub(crate) synced: bool,
    root_modes: Vec<RootMode>,
    last_sync: Option<jiff::Timestamp>,
    last_drift: Option<jiff::Timestamp>,
    /// The last report handed to the port; nothing is sent while it stays the same.
    last_report: Option<DeviceReport>,
    /// When the notification being handled arrived (taken by the next report).
    received: Option<std::time::Instant>,
    adopted: bool,
    /// List keys for flattening JSON values, shared with fabric-sim.
    pub(crate) keys: fabric_gnmi::KeyTable,
    /// The connection while connected: remediation Sets go through it.
    pub(crate) client: Option<Client>,
    /// The policy's maintenance windows, or why they cannot be used.
    pub(crate) windows: Result<Windows, String>,
    pub(crate) guard: FlapGuard,
    pub(crate) rate: RateLimit,
    /// The remediation under way, if any; while it is, drift changes are its confirmation and
    /// not new episodes.
    pub(crate) in_flight: Option<InFlight>,
    /// A manual trigger accepted and waiting to start: the request's token and its decision.
    /// It is reported handled only once it started or was found to have nothing to do, so a
    /// restart before that does not lose it.
    pub(crate) manual: Option<(String, Decision)>,
    pub(crate) manual_handled: Option<String>,
    /// Approvals and rejections for events this session does not know yet (still adopting).
    pub(crate) decisions: Vec<(String, Decision)>,
    /// Why the active event waits, as last written to it (to write it once), and until when.
    pub(crate) waiting: Option<(String, Option<Instant>)>,
    pub(crate) last_remediation: Option<jiff::Timestamp>,
}

impl<P: Port> Session<P> {
    pub(crate) fn new(
        config: Arc<DeviceConfig>,
        port: Arc<P>,
        options: EngineOptions,
        shared: Arc<Shared>,
    ) -> Self {
        let episodes = Episodes::new(
            config.policy.rules.dampening.as_std(),
            initial_phase(&config),
        );
        let mut session = Session {
            config,
            port,
            options,
            shared,
            tracker: None,
            roots: Vec::new(),
            spec_error: None,
            episodes,
            reachability: Reachability::Unknown,
            synced: false,
            root_modes: Vec::new(),
            last_sync: None,
            last_drift: None,
            last_report: None,
            received: None,
            adopted: false,
            keys: fabric_drift::key_table(),
            client: None,
            windows: Ok(Windows::default()),
            guard: FlapGuard::default(),
            rate: RateLimit::default(),
            in_flight: None,
            manual: None,
            manual_handled: None,
            decisions: Vec::new(),
            waiting: None,
            last_remediation: None,
        };
        session.install();
        session.restore_guard();
        session.accept_manual_request();
        session
    }

    /// A new session (an operator restart) starts with the flap guard up on the paths last
    /// reported contested: only a changed intent or the `clear` annotation lifts it.
    fn restore_guard(&mut self) {
        if self.config.contested.is_empty() || self.config.clear_contested {
            return;
        }
        info!(device = %self.config.key, paths = %self.config.contested.join(", "), "flap guard still up from before the restart: auto-remediation stays paused");
        self.guard.restore(&self.config.contested);
    }

    /// Builds the desired state from the spec; on error the session waits for a new spec.
    fn compile(&mut self) -> Option<Desired> {
        let c = &self.config;
        let rules = &c.policy.rules;
        self.episodes
            .configure(rules.dampening.as_std(), initial_phase(c));
        self.windows =
            Windows::parse(&rules.remediation.maintenance_windows).map_err(|e| e.to_string());
        match Desired::compile(
            c.platform,
            &c.intent,
            &c.raw,
            c.ownership,
            &rules.scope,
            &rules.exclusions,
        ) {
            Ok(desired) => {
                self.spec_error = None;
                Some(desired)
            }
            Err(e) => {
                warn!(device = %c.key, error = %e, "intent does not compile; waiting for a new spec");
                self.spec_error = Some(e.to_string());
                None
            }
        }
    }

    /// Compiles the spec into a fresh tracker (its observed tree is filled by the next sync).
    fn install(&mut self) {
        let desired = self.compile();
        self.roots = desired
            .as_ref()
            .map(Desired::subscription_roots)
            .unwrap_or_default();
        self.tracker = desired.map(DriftTracker::new);
    }

    pub(crate) async fn run(mut self, commands: mpsc::Receiver<Command>) {
        let mut commands = Inbox::new(commands);
        let seed = self
            .config
            .key
            .to_string()
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
            ^ jiff::Timestamp::now().as_nanosecond() as u64;
        let backoff_config = BackoffConfig {
            base: self.options.reconnect_initial,
            cap: self.options.reconnect_max,
            stable_after: self.options.reconnect_max,
        };
        let mut backoff = match Backoff::new(backoff_config, SplitMix64(seed)) {
            Ok(b) => b,
            Err(e) => {
                warn!(device = %self.config.key, error = %e, "bad reconnect settings; using defaults");
                let defaults = EngineOptions::default();
                Backoff::new(
                    BackoffConfig {
                        base: defaults.reconnect_initial,
                        cap: defaults.reconnect_max,
                        stable_after: defaults.reconnect_max,
                    },
                    SplitMix64(seed),
                )
                .expect("the default backoff is valid")
            }
        };
        self.shared.stats.sessions.fetch_add(1, Ordering::Relaxed);
        loop {
            if self.tracker.is_none() {
                self.reachability = Reachability::Unreachable {
                    reason: UnreachableReason::InvalidSpec,
                    message: self.spec_error.clone().unwrap_or_default(),
                };
                self.send_report().await;
                match commands.recv().await {
                    Some(Command::Update(config)) => {
                        self.take_config(config);
                        self.install();
                        continue;
                    }
                    Some(Command::Decide { event, decision }) => {
                        self.decide(event, decision).await;
                        continue;
                    }
                    Some(Command::Stop) | None => break,
                }
            }
            let outcome = self.connected(&mut commands, &mut backoff).await;
            self.client = None;
            match outcome {
                Outcome::Stop => break,
                Outcome::Resubscribe => continue,
                Outcome::Lost { reason, message } => {
                    info!(device = %self.config.key, reason = reason.as_str(), %message, "device unreachable");
                    self.shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    self.synced = false;
                    self.reachability = Reachability::Unreachable { reason, message };
                    self.send_report().await;
                    let delay = backoff.disconnected(Instant::now());
                    let wake = tokio::time::sleep(delay);
                    tokio::pin!(wake);
                    loop {
                        tokio::select! {
                            _ = &mut wake => break,
                            command = commands.recv() => match command {
                                Some(Command::Update(config)) => self.update(config).await,
                                Some(Command::Decide { event, decision }) => self.decide(event, decision).await,
                                Some(Command::Stop) | None => {
                                    self.count(self.last_report.as_ref(), None);
                                    self.shared.stats.sessions.fetch_sub(1, Ordering::Relaxed);
                                    return;
                                }
                            },
                        }
                    }
                }
            }
        }
        self.count(self.last_report.as_ref(), None);
        self.shared.stats.sessions.fetch_sub(1, Ordering::Relaxed);
    }

    /// A new spec while not connected: just recompile; the next connection uses it.
    async fn update(&mut self, config: Arc<DeviceConfig>) {
        self.take_config(config);
        self.install();
        self.send_report().await;
    }

    /// Takes a new spec, and the requests it carries: a changed intent or a `clear` annotation
    /// lifts the flap guard; a new remediate annotation value is a manual trigger.
    fn take_config(&mut self, config: Arc<DeviceConfig>) {
        let old = std::mem::replace(&mut self.config, config);
        if self.guard.is_contested()
            && (!old.same_intent(&self.config) || self.config.clear_contested)
        {
            info!(device = %self.config.key, "flap guard lifted: {}", if self.config.clear_contested { "cleared by annotation" } else { "the intent changed" });
            self.guard.clear();
        }
        self.accept_manual_request();
    }

    /// A remediate annotation value not handled yet becomes a manual trigger (once).
    pub(crate) fn accept_manual_request(&mut self) {
        let Some(request) = &self.config.remediate_request else {
            return;
        };
        if self.manual_handled.as_ref() == Some(&request.token)
            || self
                .manual
                .as_ref()
                .is_some_and(|(t, _)| t == &request.token)
        {
            return;
        }
        info!(device = %self.config.key, by = %request.by, "manual remediation requested");
        self.manual = Some((
            request.token.clone(),
            Decision {
                action: crate::port::DecisionAction::Manual,
                by: request.by.clone(),
                at: request.at.unwrap_or_else(jiff::Timestamp::now),
            },
        ));
    }

    fn client_config(&self) -> ClientConfig {
        let t = &self.config.target;
        let mut config = ClientConfig::new(t.address.clone()).tls(t.tls.clone());
        config.credentials = t.credentials.clone();
        config.connect_timeout = self.options.connect_timeout;
        config.call_timeout = self.options.call_timeout;
        config
    }

    /// One connected period: connect, subscribe, sync, stream until something ends it.
    async fn connected(
        &mut self,
        commands: &mut Inbox<Command>,
        backoff: &mut Backoff<SplitMix64>,
    ) -> Outcome {
        let key = self.config.key.clone();
        let client = match Client::connect(self.client_config()).await {
            Ok(c) => c,
            Err(e) => return self.lost(&e),
        };
        if !self.adopted
            && let Some(outcome) = self.adopt(commands).await
        {
            return outcome;
        }
        let (mut events, modes, streams) = match self.subscribe(&client).await {
            Ok(s) => s,
            Err(e) => return self.lost(&e),
        };
        backoff.connected(Instant::now());
        self.root_modes = modes;
        self.client = Some(client.clone());

        // Initial sync: a fresh observed tree, filled until every root has sent sync_response.
        self.tracker
            .as_mut()
            .expect("connected only with a compiled intent")
            .reset_observed();
        let mut pending: HashSet<usize> = (0..streams).collect();
        // A target that accepts the subscriptions and then says nothing must not hold the
        // session forever: it counts as unreachable (Timeout) and is tried again with backoff.
        let sync_by = tokio::time::Instant::now() + self.options.sync_timeout;
        while !pending.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep_until(sync_by) => {
                    return Outcome::Lost {
                        reason: UnreachableReason::Timeout,
                        message: format!(
                            "the initial sync did not finish within {:?} ({} of {} subscriptions without sync_response)",
                            self.options.sync_timeout,
                            pending.len(),
                            streams
                        ),
                    };
                }
                event = events.next() => match event {
                    Some((_, Ok(SubscribeEvent::Notification(n)))) => {
                        self.shared.stats.notifications.fetch_add(1, Ordering::Relaxed);
                        if let Some(leaves) = self.leaves(&n)
                            && let Some(tracker) = self.tracker.as_mut()
                        {
                            tracker.apply(&leaves, &n.deletes);
                        }
                    }
                    Some((root, Ok(SubscribeEvent::SyncResponse))) => { pending.remove(&root); }
                    Some((_, Ok(other))) => if let Some(outcome) = self.stream_event(other) { return outcome; },
                    Some((_, Err(e))) => return self.lost(&e),
                    None => return closed("all subscriptions ended during the initial sync"),
                },
                command = commands.recv() => match command {
                    Some(Command::Update(config)) => if let Some(outcome) = self.update_connected(config).await { return outcome; },
                    Some(Command::Decide { event, decision }) => self.decide(event, decision).await,
                    Some(Command::Stop) | None => return Outcome::Stop,
                },
            }
        }
        let Some(tracker) = self.tracker.as_mut() else {
            return Outcome::Resubscribe;
        };
        tracker.full_diff();
        self.synced = true;
        self.reachability = Reachability::Reachable;
        self.last_sync = Some(jiff::Timestamp::now());
        debug!(device = %key, drift = tracker.drift().len(), "initial sync done");
        self.drift_changed().await;

        loop {
            let deadline = [self.episodes.deadline(), self.remediation_deadline()]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                event = events.next() => match event {
                    Some((_, Ok(SubscribeEvent::Notification(n)))) => {
                        self.shared.stats.notifications.fetch_add(1, Ordering::Relaxed);
                        let received = std::time::Instant::now();
                        let Some(leaves) = self.leaves(&n) else { continue };
                        let Some(tracker) = self.tracker.as_mut() else { return Outcome::Resubscribe };
                        let delta = tracker.apply(&leaves, &n.deletes);
                        if !delta.is_empty() {
                            self.received = Some(received);
                            self.drift_changed().await;
                        }
                    }
                    Some((_, Ok(SubscribeEvent::SyncResponse))) => {}
                    Some((_, Ok(other))) => if let Some(outcome) = self.stream_event(other) { return outcome; },
                    Some((_, Err(e))) => return self.lost(&e),
                    None => return closed("the target ended every subscription"),
                },
                command = commands.recv() => match command {
                    Some(Command::Update(config)) => if let Some(outcome) = self.update_connected(config).await { return outcome; },
                    Some(Command::Decide { event, decision }) => self.decide(event, decision).await,
                    Some(Command::Stop) | None => return Outcome::Stop,
                },
                _ = sleep_until(deadline) => {
                    let actions = self.episodes.tick(Instant::now());
                    self.carry_out(actions).await;
                    self.remediation_timers().await;
                    // An event opened by the dampening timer may be for auto to act on.
                    self.consider().await;
                    self.send_report().await;
                }
            }
        }
    }

    /// Reads the events an earlier run left (so the same drift is never reported twice). The
    /// port failing is not the device failing: the connection stays, reachability is left as
    /// it is, and the read is tried again with backoff. Returns an outcome when the session
    /// must stop or reconnect meanwhile.
    async fn adopt(&mut self, commands: &mut Inbox<Command>) -> Option<Outcome> {
        let key = self.config.key.clone();
        let mut delay = self.options.reconnect_initial;
        loop {
            match self.port.known_events(&key).await {
                Ok(open) => {
                    self.episodes.adopt(open);
                    self.adopted = true;
                    return None;
                }
                Err(e) => {
                    // Without knowing the open events we could duplicate one: wait and retry.
                    warn!(device = %key, error = %e, retry_in_ms = delay.as_millis() as u64, "could not read the device's open drift events; trying again");
                }
            }
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            delay = delay.saturating_mul(2).min(self.options.reconnect_max);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    command = commands.recv() => match command {
                        Some(Command::Update(config)) => {
                            let reconnect = config.target != self.config.target;
                            self.update(config).await;
                            // A new target, or an intent that no longer compiles (nothing to
                            // subscribe to): the connection is redone from the start.
                            if reconnect || self.tracker.is_none() {
                                return Some(Outcome::Resubscribe);
                            }
                        }
                        Some(Command::Decide { event, decision }) => self.decide(event, decision).await,
                        Some(Command::Stop) | None => return Some(Outcome::Stop),
                    },
                }
            }
        }
    }

    /// Maps a client error to the reason shown in the Reachable condition.
    fn lost(&self, e: &ClientError) -> Outcome {
        Outcome::Lost {
            reason: classify(e, &self.config.target.address),
            message: e.to_string(),
        }
    }

    /// The notification's updates as leaves (JSON blobs flattened); None, counted and logged, when
    /// a blob does not decode: one bad message costs itself, not the session.
    fn leaves(&self, n: &fabric_gnmi::Notification) -> Option<Vec<fabric_gnmi::Leaf>> {
        match n.leaves(&self.keys) {
            Ok(leaves) => Some(leaves),
            Err(e) => {
                self.shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
                warn!(device = %self.config.key, error = %e, "notification with an undecodable value skipped");
                None
            }
        }
    }

    /// Malformed messages and in-band errors cost a log line and a count, never the session.
    fn stream_event(&self, event: SubscribeEvent) -> Option<Outcome> {
        match event {
            SubscribeEvent::Malformed(e) => {
                self.shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
                warn!(device = %self.config.key, error = %e, "malformed notification skipped");
                None
            }
            SubscribeEvent::TargetError { code, message } => {
                warn!(device = %self.config.key, code, %message, "target reported an error in the stream");
                None
            }
            SubscribeEvent::End => Some(closed("the target ended the subscription")),
            SubscribeEvent::Notification(_) | SubscribeEvent::SyncResponse => None,
        }
    }

    /// Subscribes to every root in as few streams as the target allows: one ON_CHANGE Subscribe
    /// carrying all roots; if the target refuses it, each root is tried alone once to learn
    /// which ones it refuses, and those go into one SAMPLE Subscribe. So a device costs one or
    /// two streams however many roots its intent has. Returns the events and the stream count.
    async fn subscribe(
        &self,
        client: &Client,
    ) -> Result<(Events, Vec<RootMode>, usize), ClientError> {
        let on_change = |roots: &[Path]| {
            SubscribeRequest::stream(
                roots
                    .iter()
                    .map(|r| SubscriptionSpec::on_change(r.clone()))
                    .collect(),
            )
        };
        let mut streams = Vec::new();
        let mut modes = Vec::new();
        match open(client, self.options.sync_timeout, &on_change(&self.roots)).await {
            Ok(opened) => {
                streams.push(opened);
                modes.extend(self.roots.iter().map(|r| RootMode {
                    root: r.to_string(),
                    on_change: true,
                    reason: None,
                }));
            }
            Err(e) if is_refusal(&e) => {
                let (mut accepted, mut refused) = (Vec::new(), Vec::new());
                for root in &self.roots {
                    match open(
                        client,
                        self.options.sync_timeout,
                        &on_change(std::slice::from_ref(root)),
                    )
                    .await
                    {
                        Ok(_) => accepted.push(root.clone()),
                        Err(e) if is_refusal(&e) => refused.push((root.clone(), e.to_string())),
                        Err(e) => return Err(e),
                    }
                }
                info!(device = %self.config.key, sampled = refused.len(), "ON_CHANGE refused for some roots; sampling them");
                if !accepted.is_empty() {
                    streams.push(
                        open(client, self.options.sync_timeout, &on_change(&accepted)).await?,
                    );
                    modes.extend(accepted.iter().map(|r| RootMode {
                        root: r.to_string(),
                        on_change: true,
                        reason: None,
                    }));
                }
                if !refused.is_empty() {
                    let sample = SubscribeRequest::stream(
                        refused
                            .iter()
                            .map(|(r, _)| {
                                SubscriptionSpec::sample(r.clone(), self.options.sample_interval)
                            })
                            .collect(),
                    );
                    streams.push(open(client, self.options.sync_timeout, &sample).await?);
                    modes.extend(refused.into_iter().map(|(r, why)| RootMode {
                        root: r.to_string(),
                        on_change: false,
                        reason: Some(format!("ON_CHANGE refused by the target: {why}")),
                    }));
                }
            }
            Err(e) => return Err(e),
        }
        modes.sort_by(|a, b| a.root.cmp(&b.root));
        let count = streams.len();
        let events = Events {
            subscriptions: streams
                .into_iter()
                .map(|(stream, first)| OpenSubscription {
                    first,
                    stream: Some(stream),
                })
                .collect(),
            next: 0,
        };
        Ok((events, modes, count))
    }

    /// A new spec while connected. Returns an outcome when the connection must be redone: the
    /// target or its credentials changed (a rotated Secret), or the subscribed roots did.
    async fn update_connected(&mut self, config: Arc<DeviceConfig>) -> Option<Outcome> {
        let reconnect = config.target != self.config.target;
        let same_intent = config.same_intent(&self.config);
        self.take_config(config);
        if !same_intent {
            // The remediation under way repairs toward the old intent: let it go, and let the
            // drift against the new intent make its own episode.
            self.abandon_in_flight("the device's intent changed");
        }
        let desired = self.compile();
        match (desired, self.tracker.as_mut()) {
            (Some(desired), Some(tracker))
                if !reconnect && desired.subscription_roots() == self.roots =>
            {
                // Same roots: keep the observed tree and diff it against the new intent at once.
                tracker.set_desired(desired);
                self.drift_changed().await;
                None
            }
            (desired, _) => {
                self.roots = desired
                    .as_ref()
                    .map(Desired::subscription_roots)
                    .unwrap_or_default();
                self.tracker = desired.map(DriftTracker::new);
                Some(Outcome::Resubscribe)
            }
        }
    }

    /// The drift set changed: confirm a remediation under way, or settle episodes; then decide
    /// whether to remediate, and report.
    pub(crate) async fn drift_changed(&mut self) {
        if self.in_flight.is_some() {
            self.confirm().await;
            self.send_report().await;
            return;
        }
        let fingerprint = self
            .tracker
            .as_ref()
            .and_then(|t| t.fingerprint())
            .map(|f| f.to_string());
        if fingerprint.is_some() && self.episodes.active_event().is_none() {
            self.last_drift = Some(jiff::Timestamp::now());
        }
        let actions = self
            .episodes
            .observe(Instant::now(), fingerprint.as_deref());
        self.carry_out(actions).await;
        self.consider().await;
        self.send_report().await;
    }

    /// Carries out episode actions: events are opened first, so that an event superseded in
    /// the same step can name the one that replaced it.
    pub(crate) async fn carry_out(&mut self, actions: Vec<Action>) {
        let key = self.config.key.clone();
        let mut opened = None;
        for action in &actions {
            let Action::Open { fingerprint } = action else {
                continue;
            };
            let Some(tracker) = &self.tracker else {
                continue;
            };
            let rules = &self.config.policy.rules;
            let record = EventRecord {
                device: key.clone(),
                policy: self.config.policy.name.clone(),
                mode: rules.mode,
                fingerprint: fingerprint.clone(),
                detected_at: jiff::Timestamp::now(),
                drift: tracker.drift().to_vec(),
                plan: tracker.plan(rules.remediation.strategy),
                strategy: rules.remediation.strategy,
                phase: initial_phase(&self.config),
                keep: rules.history.keep,
            };
            self.last_drift = Some(record.detected_at);
            match self.port.open_event(&record).await {
                Ok(name) => {
                    info!(device = %key, event = %name, paths = record.drift.len(), "drift event opened");
                    self.shared
                        .stats
                        .events_opened
                        .fetch_add(1, Ordering::Relaxed);
                    self.episodes.opened(fingerprint, name.clone());
                    self.waiting = None;
                    let message = match record.drift.first() {
                        Some(first) if record.drift.len() > 1 => {
                            format!("{} paths drifted, first {}", record.drift.len(), first.path)
                        }
                        Some(first) => format!("1 path drifted: {}", first.path),
                        None => String::new(),
                    };
                    self.notify(NoticeKind::Detected, Some(&name), message, record.drift);
                    opened = Some(name);
                }
                Err(e) => {
                    warn!(device = %key, error = %e, "could not record the drift event; retrying");
                    self.episodes.open_failed(fingerprint, Instant::now());
                }
            }
        }
        for action in actions {
            match action {
                Action::Open { .. } => {}
                Action::Supersede { event } => {
                    let mut update = EventUpdate::phase(Phase::Superseded).because(
                        "DriftChanged",
                        "the drift changed before the event was settled",
                    );
                    update.superseded_by = opened.clone();
                    info!(device = %key, event = %event, superseded_by = opened.as_deref().unwrap_or_default(), "drift event superseded: the drift changed before it was settled");
                    self.update_event(&event, &update).await;
                }
                Action::Resolve { event } => {
                    let update = EventUpdate::phase(Phase::Resolved).because(
                        "DriftCleared",
                        "the device returned to its intent by itself",
                    );
                    info!(device = %key, event = %event, "drift event resolved: the device returned to its intent by itself");
                    self.update_event(&event, &update).await;
                }
            }
        }
    }

    /// Writes an event's new phase. A failure costs a log line: the event stays as it was, and
    /// the next session start adopts and settles it again.
    pub(crate) async fn update_event(&self, event: &str, update: &EventUpdate) -> bool {
        match self
            .port
            .update_event(
                &self.config.key,
                event,
                self.config.policy.rules.mode,
                update,
            )
            .await
        {
            Ok(()) => true,
            Err(e) => {
                warn!(device = %self.config.key, event, phase = update.phase.as_str(), error = %e, "could not record the drift event's phase");
                false
            }
        }
    }

    /// Announces a transition to the policy's webhooks (never waits for them).
    pub(crate) fn notify(
        &self,
        kind: NoticeKind,
        event: Option<&str>,
        message: String,
        drift: Vec<fabric_drift::DriftItem>,
    ) {
        let Some(notifier) = &self.shared.notifier else {
            return;
        };
        let policy = &self.config.policy;
        if policy.webhooks.is_empty() {
            return;
        }
        notifier.send(
            &policy.webhooks,
            Notice {
                kind,
                device: self.config.key.clone(),
                event: event.map(str::to_owned),
                policy: policy.name.clone(),
                mode: policy.rules.mode,
                fingerprint: self.episodes.current().map(str::to_owned),
                message,
                drift,
                at: jiff::Timestamp::now(),
            },
        );
    }

    fn report(&self) -> DeviceReport {
        let sync = match (&self.tracker, self.synced) {
            (Some(tracker), true) if self.episodes.is_reported() => SyncState::Drifted {
                count: tracker.drift().len(),
                paths: tracker
                    .drift()
                    .iter()
                    .take(REPORTED_PATHS)
                    .map(|d| d.path.to_string())
                    .collect(),
                fingerprint: tracker
                    .fingerprint()
                    .map(|f| f.to_string())
                    .unwrap_or_default(),
            },
            (Some(_), true) => SyncState::InSync,
            _ => SyncState::Unknown,
        };
        DeviceReport {
            generation: self.config.generation,
            reachability: self.reachability.clone(),
            sync,
            policy_name: self.config.policy.name.clone(),
            mode: self.config.policy.rules.mode,
            roots: self.root_modes.clone(),
            active_event: self.episodes.active_event().map(str::to_owned),
            last_sync: self.last_sync,
            last_drift: self.last_drift,
            remediating: self.in_flight.is_some(),
            contested: self.guard.contested().iter().cloned().collect(),
            last_remediation: self.last_remediation,
            remediate_handled: self.manual_handled.clone(),
            received: self.received,
        }
    }

    pub(crate) async fn send_report(&mut self) {
        let report = self.report();
        // A notification's time belongs to the report it changed, not to a later one (a
        // dampened drift is reported by the timer, and its latency is not the device's).
        self.received = None;
        // last_sync moves on every reconnect; it alone is not worth a write.
        let unchanged = self.last_report.as_ref().is_some_and(|last| {
            DeviceReport {
                last_sync: report.last_sync,
                received: report.received,
                ..last.clone()
            } == report
        });
        if unchanged {
            return;
        }
        self.count(self.last_report.as_ref(), Some(&report));
        self.port.report(&self.config.key, &report).await;
        self.last_report = Some(report);
    }

    /// Keeps the reachable and drifted gauges in step with this device's reports.
    fn count(&self, before: Option<&DeviceReport>, after: Option<&DeviceReport>) {
        let reachable =
            |r: Option<&DeviceReport>| r.is_some_and(|r| r.reachability == Reachability::Reachable);
        let drifted = |r: Option<&DeviceReport>| {
            r.is_some_and(|r| matches!(r.sync, SyncState::Drifted { .. }))
        };
        for (gauge, was, is) in [
            (
                &self.shared.stats.reachable,
                reachable(before),
                reachable(after),
            ),
            (&self.shared.stats.drifted, drifted(before), drifted(after)),
        ] {
            match (was, is) {
                (false, true) => {
                    gauge.fetch_add(1, Ordering::Relaxed);
                }
                (true, false) => {
                    gauge.fetch_sub(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }
}

/// The phase a new event of this device starts in.
fn initial_phase(config: &DeviceConfig) -> Phase {
    if config.policy.rules.mode == Mode::Alert {
        Phase::Alerted
    } else {
        Phase::Pending
    }
}

/// Opens a Subscribe and waits for its first answer: a target refuses a subscription either when
/// the RPC opens or as the stream's first message. Whatever else comes first is kept for the sync.
async fn open(
    client: &Client,
    wait: std::time::Duration,
    request: &SubscribeRequest,
) -> Result<(Subscription, Option<Result<SubscribeEvent, ClientError>>), ClientError> {
    let mut subscription = client.subscribe(request).await?;
    // A target that opens the stream and never answers: as unreachable as one that never
    // accepts the connection.
    match tokio::time::timeout(wait, subscription.next_event()).await {
        Err(_) => Err(ClientError::Timeout {
            call: "Subscribe (first response)",
            after: wait,
        }),
        Ok(Some(Err(e))) => Err(e),
        Ok(first) => Ok((subscription, first)),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn closed(message: &str) -> Outcome {
    Outcome::Lost {
        reason: UnreachableReason::StreamClosed,
        message: message.to_owned(),
    }
}

/// Whether the target refused ON_CHANGE for a path (rather than failing altogether).
fn is_refusal(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(
            tonic::Code::InvalidArgument
                | tonic::Code::Unimplemented
                | tonic::Code::FailedPrecondition
        )
    )
}

/// Why a device is unreachable, from the error's kind, its gRPC code, and the words of its
/// source chain (the io, TLS and HTTP/2 errors under a failed connection). The target's address is
/// taken out of the text first and words are matched whole, so a host that happens to be named
/// `atlsw01` or `timeout-lab` says nothing about the reason.
pub(crate) fn classify(e: &ClientError, address: &str) -> UnreachableReason {
    use tonic::Code;
    match e {
        ClientError::Timeout { .. } => UnreachableReason::Timeout,
        ClientError::Status {
            code: Code::Unauthenticated | Code::PermissionDenied,
            ..
        } => UnreachableReason::Unauthenticated,
        ClientError::Status {
            code: Code::DeadlineExceeded,
            ..
        } => UnreachableReason::Timeout,
        // The connection was never made: refused unless its cause says otherwise.
        ClientError::Connect { message, .. } => {
            from_chain(message, address).unwrap_or(UnreachableReason::ConnectionRefused)
        }
        // A call failed in transport (tonic reports it as UNAVAILABLE or UNKNOWN with the
        // transport error's text), or the target ended the stream.
        ClientError::Status {
            code: Code::Unavailable | Code::Unknown,
            message,
        } => from_chain(message, address).unwrap_or(UnreachableReason::StreamClosed),
        _ => UnreachableReason::StreamClosed,
    }
}

/// The reason an error chain's text names, if any: whole words, address removed.
fn from_chain(chain: &str, address: &str) -> Option<UnreachableReason> {
    let host = address
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_matches(['[', ']']);
    let mut text = chain.to_lowercase();
    for spelled in [address, host] {
        if !spelled.is_empty() {
            text = text.replace(&spelled.to_lowercase(), " ");
        }
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let phrase = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    // io::ErrorKind::ConnectionRefused, and the other ways of finding nobody there.
    if has("refused")
        || phrase("no", "route")
        || phrase("network", "unreachable")
        || phrase("dns", "error")
    {
        return Some(UnreachableReason::ConnectionRefused);
    }
    // rustls and the TLS layer: certificates, alerts, handshakes.
    if [
        "tls",
        "ssl",
        "certificate",
        "certificates",
        "handshake",
        "unknownissuer",
        "invalidcertificate",
        "alert",
    ]
    .iter()
    .any(|w| has(w))
    {
        return Some(UnreachableReason::TlsError);
    }
    // io::ErrorKind::TimedOut, tokio's and tower's elapsed timers.
    if phrase("timed", "out")
        || has("timeout")
        || phrase("deadline", "elapsed")
        || phrase("has", "elapsed")
    {
        return Some(UnreachableReason::Timeout);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn connect(message: &str) -> ClientError {
        ClientError::Connect {
            address: "atlsw01.timeout.example:6030".into(),
            message: message.into(),
        }
    }

    fn status(code: tonic::Code, message: &str) -> ClientError {
        ClientError::Status {
            code,
            message: message.into(),
        }
    }

    #[test]
    fn reasons_come_from_the_error_not_from_the_address() {
        use UnreachableReason::*;
        // Hosts whose names contain the words the reasons are spelled with.
        let addresses = [
            "atlsw01.timeout.example:6030",
            "tls-refused-timeout:57400",
            "[fd00::1]:6030",
        ];
        let table: [(ClientError, UnreachableReason); 12] = [
            (
                connect("transport error: tcp connect error: Connection refused (os error 111)"),
                ConnectionRefused,
            ),
            (
                connect("transport error: dns error: failed to lookup address information"),
                ConnectionRefused,
            ),
            // A cause that names nothing known: the connection was not made.
            (connect("transport error"), ConnectionRefused),
            (
                status(tonic::Code::Unauthenticated, "invalid username or password"),
                Unauthenticated,
            ),
            (
                status(tonic::Code::PermissionDenied, "tls certificate"),
                Unauthenticated,
            ),
            (
                connect("transport error: invalid peer certificate: UnknownIssuer"),
                TlsError,
            ),
            (
                connect("transport error: received fatal alert: HandshakeFailure"),
                TlsError,
            ),
            (
                ClientError::Timeout {
                    call: "Subscribe",
                    after: Duration::from_secs(30),
                },
                Timeout,
            ),
            (
                connect("transport error: tcp connect error: Connection timed out (os error 110)"),
                Timeout,
            ),
            (status(tonic::Code::DeadlineExceeded, "deadline"), Timeout),
            (
                status(tonic::Code::Unavailable, "the target ended the stream"),
                StreamClosed,
            ),
            (ClientError::SubscriptionClosed, StreamClosed),
        ];
        for address in addresses {
            for (error, reason) in &table {
                assert_eq!(classify(error, address), *reason, "{error} at {address}");
            }
        }
        // The address itself, in the message, says nothing.
        let with_address = status(
            tonic::Code::Unavailable,
            "stream from atlsw01.timeout.example:6030 ended",
        );
        assert_eq!(
            classify(&with_address, "atlsw01.timeout.example:6030"),
            StreamClosed
        );
        let named = connect("transport error: cannot reach tls-refused-timeout");
        assert_eq!(
            classify(&named, "tls-refused-timeout:57400"),
            ConnectionRefused
        );
    }
}

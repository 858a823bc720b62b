//! Typed gNMI client over tonic (feature `client`).
//!
//! One [`Client`] per device; it is cheap to clone (the HTTP/2 connection is
//! shared), so a session can run a Subscribe and issue Sets on the same
//! connection. Credentials travel as `username`/`password` call metadata, as
//! EOS, gnmic and pygnmi do. Errors keep the gRPC status code and message.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::json::{JsonError, KeyTable, Leaf};
use crate::notification::{DecodeError, Notification};
use crate::proto::gnmi as pb;
use crate::proto::gnmi::g_nmi_client::GNmiClient;
use crate::rpc::{Capabilities, GetRequest, ListMode, SetRequest, SetResponse, SubscribeRequest};
use crate::wire;

/// Default maximum size of a received message: large JSON_IETF Get replies
/// from a full switch config exceed tonic's 4 MiB default.
pub const DEFAULT_MAX_DECODE_SIZE: usize = 64 * 1024 * 1024;

/// Errors of the client. `Status` keeps the gRPC code and message verbatim.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("invalid client configuration: {0}")]
    Config(String),
    #[error("cannot connect to {address}: {message}")]
    Connect { address: String, message: String },
    #[error("gRPC {code:?}: {message}")]
    Status { code: tonic::Code, message: String },
    #[error("{call} timed out after {after:?}")]
    Timeout { call: &'static str, after: Duration },
    #[error("message larger than the configured maximum: {message}")]
    MessageTooLarge { message: String },
    #[error("undecodable response: {0}")]
    Decode(#[from] DecodeError),
    #[error("cannot flatten a JSON value: {0}")]
    Json(#[from] JsonError),
    #[error("subscription request channel closed (the RPC has ended)")]
    SubscriptionClosed,
    #[error("poll() on a subscription that is not in POLL mode")]
    NotPollMode,
}

impl ClientError {
    /// The gRPC status code, when the error came from the target.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            ClientError::MessageTooLarge { .. } => Some(tonic::Code::OutOfRange),
            _ => None,
        }
    }

    /// Errors worth retrying after a reconnect (transport trouble, target
    /// restarts), as opposed to requests the target will never accept.
    pub fn is_transient(&self) -> bool {
        use tonic::Code;
        match self {
            ClientError::Connect { .. }
            | ClientError::Timeout { .. }
            | ClientError::SubscriptionClosed => true,
            ClientError::Status { code, .. } => matches!(
                code,
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Aborted
                    | Code::ResourceExhausted
                    | Code::Internal
                    | Code::Unknown
            ),
            _ => false,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        let message = s.message().to_string();
        // tonic reports an oversized frame as OutOfRange "message length too large".
        if s.code() == tonic::Code::OutOfRange && message.contains("too large") {
            return ClientError::MessageTooLarge { message };
        }
        ClientError::Status {
            code: s.code(),
            message,
        }
    }
}

/// Username and password sent as call metadata. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A client certificate and key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Transport security.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// h2c, no TLS (labs, fabric-sim).
    #[default]
    Plaintext,
    /// TLS verified against the given CA (PEM), or against the system's roots
    /// when `ca_pem` is empty; `server_name` overrides the name checked in the
    /// certificate (defaults to the address host).
    Tls {
        ca_pem: Vec<u8>,
        client: Option<ClientIdentity>,
        server_name: Option<String>,
    },
    /// TLS without certificate verification, for labs with self-signed
    /// device certificates. The handshake signature is still checked.
    InsecureSkipVerify { client: Option<ClientIdentity> },
}

/// HTTP/2 keepalive pings, so a dead device is noticed without traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// Client configuration.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port`, or a URI `http://host:port` / `https://host:port`.
    pub address: String,
    pub tls: TlsMode,
    pub credentials: Option<Credentials>,
    /// Sent as the `target` of request prefixes when set.
    pub target: Option<String>,
    pub connect_timeout: Duration,
    /// Deadline of unary calls (Capabilities, Get, Set) and of opening a
    /// Subscribe; the subscription stream itself has none.
    pub call_timeout: Duration,
    pub keepalive: Option<Keepalive>,
    pub max_decode_size: usize,
}

impl ClientConfig {
    pub fn new(address: impl Into<String>) -> Self {
        ClientConfig {
            address: address.into(),
            tls: TlsMode::Plaintext,
            credentials: None,
            target: None,
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            // grpc-go targets (EOS among them) enforce a 5-minute minimum
            // ping interval by default and close the connection with
            // GOAWAY "too_many_pings" when a quiet stream is pinged more
            // often; lower this only for targets known to allow it.
            keepalive: Some(Keepalive {
                interval: Duration::from_secs(300),
                timeout: Duration::from_secs(20),
            }),
            max_decode_size: DEFAULT_MAX_DECODE_SIZE,
        }
    }

    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials {
            username: username.into(),
            password: password.into(),
        });
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
}

/// Events of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscribeEvent {
    /// Updates and deletes (paths already joined with the prefix).
    Notification(Notification),
    /// The target has sent every value once (initial sync, or end of a poll).
    SyncResponse,
    /// One response that could not be decoded; the stream goes on.
    Malformed(DecodeError),
    /// The deprecated in-band `error` field; the stream goes on.
    TargetError { code: u32, message: String },
    /// The target ended the RPC cleanly (ONCE after its sync, or shutdown).
    End,
}

/// A typed gNMI client.
#[derive(Clone)]
pub struct Client {
    inner: GNmiClient<Channel>,
    auth: Option<Arc<AuthMetadata>>,
    target: Option<Arc<str>>,
    call_timeout: Duration,
}

/// Credentials encoded once as metadata values.
struct AuthMetadata {
    username: MetadataValue<tonic::metadata::Ascii>,
    password: MetadataValue<tonic::metadata::Ascii>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

fn config_err(e: impl fmt::Display) -> ClientError {
    ClientError::Config(e.to_string())
}

/// tonic's transport error displays as "transport error": the cause (a bad
/// PEM, no system roots found) is in its source chain.
fn tls_config_err(e: tonic::transport::Error) -> ClientError {
    ClientError::Config(error_chain(&e))
}

impl Client {
    /// Connects (TCP, TLS, HTTP/2) within `connect_timeout`.
    pub async fn connect(cfg: ClientConfig) -> Result<Self, ClientError> {
        let tls = !matches!(cfg.tls, TlsMode::Plaintext);
        if tls {
            crate::install_crypto_provider();
        }
        let uri = if cfg.address.contains("://") {
            cfg.address.clone()
        } else {
            format!("{}://{}", if tls { "https" } else { "http" }, cfg.address)
        };
        let mut ep = Endpoint::from_shared(uri.clone())
            .map_err(config_err)?
            .connect_timeout(cfg.connect_timeout)
            .tcp_nodelay(true);
        if let Some(k) = cfg.keepalive {
            ep = ep
                .http2_keep_alive_interval(k.interval)
                .keep_alive_timeout(k.timeout)
                // Pings without an open stream count as abuse on grpc-go
                // targets (PermitWithoutStream defaults to false).
                .keep_alive_while_idle(false);
        }
        ep = match &cfg.tls {
            TlsMode::Plaintext => ep,
            TlsMode::Tls {
                ca_pem,
                client,
                server_name,
            } => {
                // No CA given: the system's roots (rustls-native-certs: the
                // platform store, or SSL_CERT_FILE / SSL_CERT_DIR when set).
                // An empty CA would leave an empty root store and every
                // handshake would fail.
                let mut t = if ca_pem.iter().all(u8::is_ascii_whitespace) {
                    ClientTlsConfig::new().with_native_roots()
                } else {
                    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem))
                };
                if let Some(c) = client {
                    t = t.identity(Identity::from_pem(&c.cert_pem, &c.key_pem));
                }
                if let Some(n) = server_name {
                    t = t.domain_name(n.clone());
                }
                ep.tls_config(t).map_err(tls_config_err)?
            }
            TlsMode::InsecureSkipVerify { client } => {
                let mut t = ClientTlsConfig::new();
                if let Some(c) = client {
                    t = t.identity(Identity::from_pem(&c.cert_pem, &c.key_pem));
                }
                ep.tls_config_with_verifier(t, Arc::new(insecure::NoVerify::new()))
                    .map_err(tls_config_err)?
            }
        };
        let channel = ep.connect().await.map_err(|e| ClientError::Connect {
            address: cfg.address.clone(),
            message: error_chain(&e),
        })?;
        let inner = GNmiClient::new(channel)
            .max_decoding_message_size(cfg.max_decode_size)
            .max_encoding_message_size(cfg.max_decode_size);
        let auth = match &cfg.credentials {
            None => None,
            Some(c) => {
                let username = MetadataValue::try_from(c.username.as_str())
                    .map_err(|_| config_err("username is not valid ASCII metadata"))?;
                let mut password = MetadataValue::try_from(c.password.as_str())
                    .map_err(|_| config_err("password is not valid ASCII metadata"))?;
                // Keeps the password out of HPACK tables and debug output.
                password.set_sensitive(true);
                Some(Arc::new(AuthMetadata { username, password }))
            }
        };
        Ok(Client {
            inner,
            auth,
            target: cfg.target.as_deref().map(Arc::from),
            call_timeout: cfg.call_timeout,
        })
    }

    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        if let Some(auth) = &self.auth {
            req.metadata_mut().insert("username", auth.username.clone());
            req.metadata_mut().insert("password", auth.password.clone());
        }
        req
    }

    fn unary_request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = self.request(msg);
        // grpc-timeout lets the target give up too; the local timeout below
        // is what bounds our wait.
        req.set_timeout(self.call_timeout);
        req
    }

    async fn with_timeout<F, T>(&self, call: &'static str, fut: F) -> Result<T, ClientError>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(self.call_timeout, fut).await {
            Ok(Ok(resp)) => Ok(resp.into_inner()),
            // tonic enforces the grpc-timeout we set and reports it this way,
            // usually just before our own timer fires.
            Ok(Err(status))
                if status.code() == tonic::Code::Cancelled
                    && status.message() == "Timeout expired" =>
            {
                Err(ClientError::Timeout {
                    call,
                    after: self.call_timeout,
                })
            }
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(ClientError::Timeout {
                call,
                after: self.call_timeout,
            }),
        }
    }

    fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// Capabilities RPC.
    pub async fn capabilities(&self) -> Result<Capabilities, ClientError> {
        let mut c = self.inner.clone();
        let req = self.unary_request(pb::CapabilityRequest {
            extension: Vec::new(),
        });
        let resp = self
            .with_timeout("Capabilities", c.capabilities(req))
            .await?;
        Ok(wire::capabilities_from_proto(&resp))
    }

    /// Get RPC. Returns the decoded notifications; JSON/JSON_IETF values
    /// stay raw ([`crate::Value::JsonIetf`]) for the caller to flatten with
    /// [`crate::json::flatten_json_ietf`] and a key table.
    pub async fn get(&self, req: &GetRequest) -> Result<Vec<Notification>, ClientError> {
        let mut c = self.inner.clone();
        let preq = self.unary_request(wire::get_to_proto(req, self.target()));
        let resp = self.with_timeout("Get", c.get(preq)).await?;
        let mut out = Vec::with_capacity(resp.notification.len());
        for n in &resp.notification {
            out.push(Notification::try_from(n)?);
        }
        Ok(out)
    }

    /// Get, then every JSON/JSON_IETF value flattened into leaves with
    /// `keys` (scalars pass through): the observed tree under the paths.
    pub async fn get_leaves(
        &self,
        req: &GetRequest,
        keys: &KeyTable,
    ) -> Result<Vec<Leaf>, ClientError> {
        let mut out = Vec::new();
        for n in self.get(req).await? {
            out.extend(n.leaves(keys)?);
        }
        Ok(out)
    }

    /// Set RPC: deletes, replaces and updates in one transaction.
    pub async fn set(&self, req: &SetRequest) -> Result<SetResponse, ClientError> {
        let mut c = self.inner.clone();
        let preq = self.unary_request(wire::set_to_proto(req, self.target()));
        let resp = self.with_timeout("Set", c.set(preq)).await?;
        Ok(wire::set_response_from_proto(&resp)?)
    }

    /// Subscribe RPC (STREAM, ONCE or POLL). The returned [`Subscription`]
    /// is a stream of [`SubscribeEvent`]s; for POLL, call
    /// [`Subscription::poll`] to trigger each poll.
    pub async fn subscribe(&self, req: &SubscribeRequest) -> Result<Subscription, ClientError> {
        let mut c = self.inner.clone();
        // The request side stays open for the life of the subscription:
        // closing it would tell some targets that the client is gone.
        let (mut tx, rx) = mpsc::channel::<pb::SubscribeRequest>(4);
        tx.send(wire::subscribe_to_proto(req, self.target()))
            .await
            .map_err(|_| ClientError::SubscriptionClosed)?;
        let streaming = self
            .with_timeout("Subscribe", c.subscribe(self.request(rx)))
            .await?;
        Ok(Subscription {
            responses: streaming,
            requests: tx,
            poll_mode: req.mode == ListMode::Poll,
            finished: false,
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// An open Subscribe RPC: a stream of events, ending after
/// [`SubscribeEvent::End`] or an error.
pub struct Subscription {
    responses: tonic::Streaming<pb::SubscribeResponse>,
    requests: mpsc::Sender<pb::SubscribeRequest>,
    poll_mode: bool,
    finished: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("poll_mode", &self.poll_mode)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Triggers one poll of a POLL subscription; the target answers with
    /// the current values and a sync response.
    pub async fn poll(&mut self) -> Result<(), ClientError> {
        if !self.poll_mode {
            return Err(ClientError::NotPollMode);
        }
        self.requests
            .send(pb::SubscribeRequest {
                request: Some(pb::subscribe_request::Request::Poll(pb::Poll {})),
                extension: Vec::new(),
            })
            .await
            .map_err(|_| ClientError::SubscriptionClosed)
    }

    /// The next event; `None` once the stream has ended.
    pub async fn next_event(&mut self) -> Option<Result<SubscribeEvent, ClientError>> {
        self.next().await
    }
}

fn decode_response(resp: pb::SubscribeResponse) -> SubscribeEvent {
    use pb::subscribe_response::Response;
    #[allow(deprecated)]
    match resp.response {
        Some(Response::Update(n)) => match Notification::try_from(&n) {
            Ok(n) => SubscribeEvent::Notification(n),
            Err(e) => SubscribeEvent::Malformed(e),
        },
        Some(Response::SyncResponse(_)) => SubscribeEvent::SyncResponse,
        Some(Response::Error(e)) => SubscribeEvent::TargetError {
            code: e.code,
            message: e.message,
        },
        None => SubscribeEvent::Malformed(DecodeError::EmptyResponse),
    }
}

impl Stream for Subscription {
    type Item = Result<SubscribeEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.responses.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(resp))) => Poll::Ready(Some(Ok(decode_response(resp)))),
            Poll::Ready(Some(Err(status))) => {
                self.finished = true;
                Poll::Ready(Some(Err(status.into())))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(Some(Ok(SubscribeEvent::End)))
            }
        }
    }
}

/// Certificate verification switched off (TlsMode::InsecureSkipVerify).
mod insecure {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    #[derive(Debug)]
    pub(super) struct NoVerify {
        algs: WebPkiSupportedAlgorithms,
    }

    impl NoVerify {
        pub(super) fn new() -> Self {
            let provider: CryptoProvider = rustls::crypto::ring::default_provider();
            NoVerify {
                algs: provider.signature_verification_algorithms,
            }
        }
    }

    impl ServerCertVerifier for NoVerify {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        // The peer must still prove it holds the key of the certificate it
        // sent; only the chain of trust is skipped.
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.algs.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keeps_code_and_message() {
        let e = ClientError::from(tonic::Status::unauthenticated("bad password"));
        assert_eq!(e.code(), Some(tonic::Code::Unauthenticated));
        assert!(e.to_string().contains("bad password"));
        assert!(!e.is_transient());
        let big = ClientError::from(tonic::Status::out_of_range(
            "Error, decoded message length too large: found 70000000 bytes, the limit is: 67108864 bytes",
        ));
        assert!(matches!(big, ClientError::MessageTooLarge { .. }));
        assert!(ClientError::from(tonic::Status::unavailable("down")).is_transient());
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let cfg = ClientConfig::new("leaf1:6030").credentials("admin", "s3cret");
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }

    #[test]
    fn responses_decode_to_events() {
        use pb::subscribe_response::Response;
        let sync = pb::SubscribeResponse {
            response: Some(Response::SyncResponse(true)),
            extension: Vec::new(),
        };
        assert_eq!(decode_response(sync), SubscribeEvent::SyncResponse);
        #[allow(deprecated)]
        let in_band = pb::SubscribeResponse {
            response: Some(Response::Error(pb::Error {
                code: 5,
                message: "no such path".into(),
                data: None,
            })),
            extension: Vec::new(),
        };
        assert_eq!(
            decode_response(in_band),
            SubscribeEvent::TargetError {
                code: 5,
                message: "no such path".into()
            }
        );
        let empty = pb::SubscribeResponse::default();
        assert_eq!(
            decode_response(empty),
            SubscribeEvent::Malformed(DecodeError::EmptyResponse)
        );
        #[allow(deprecated)]
        let bad = pb::SubscribeResponse {
            response: Some(Response::Update(pb::Notification {
                update: vec![pb::Update {
                    path: Some(pb::Path {
                        element: vec!["old".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            extension: Vec::new(),
        };
        assert!(matches!(
            decode_response(bad),
            SubscribeEvent::Malformed(DecodeError::UpdatePath { index: 0, .. })
        ));
    }
}

//! Every request a test's code sends to the in-memory API server, as the API server's RBAC sees
//! it: (verb, API group, resource, subresource, name). When the recorder is dropped at the end of
//! a test that passed, it asserts that `fabric_operator::rbac::RULES` allow each call: a call they
//! do not allow is a 403 in a real cluster that kube-fake-client never shows.

use std::sync::{Arc, Mutex};

use fabric_operator::rbac::RULES;

/// One API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// RBAC verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// "" for the core group.
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Call {
    /// What RBAC names the resource: `plural` or `plural/subresource`.
    pub fn rbac_resource(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.clone(),
        }
    }

    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }

    /// Whether some rule grants this call.
    pub fn allowed(&self) -> bool {
        let resource = self.rbac_resource();
        RULES.iter().any(|r| {
            r.group == self.group
                && r.resource == resource
                && r.verbs.contains(&self.verb.as_str())
                && (r.names.is_empty()
                    || self.name.as_deref().is_some_and(|n| r.names.contains(&n)))
        })
    }
}

/// The RBAC view of an HTTP request to the API server.
pub fn parse(method: &http::Method, uri: &http::Uri) -> Call {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest),
        ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
        _ => panic!("not an API path: {uri}"),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub] => (*resource, Some(*name), Some(*sub)),
        _ => panic!("unexpected API path: {uri}"),
    };
    let query = uri.query().unwrap_or_default();
    let watching = query
        .split('&')
        .any(|p| p == "watch=true" || p == "watch=1");
    let verb = match (method.as_str(), name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (other, _) => panic!("unexpected method {other} on {uri}"),
    };
    Call {
        verb: verb.to_owned(),
        group,
        resource: resource.to_owned(),
        subresource: subresource.map(str::to_owned),
        namespace,
        name: name.map(str::to_owned),
    }
}

/// Records the calls of the clients it wraps; checks them against the RBAC rules when dropped.
#[derive(Default)]
pub struct ApiCalls {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl ApiCalls {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client that records each request, then hands it to `inner`.
    pub fn wrap(&self, inner: kube::Client) -> kube::Client {
        let calls = self.calls.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            calls
                .lock()
                .unwrap()
                .push(parse(request.method(), request.uri()));
            let inner = inner.clone();
            async move { inner.send(request).await }
        });
        kube::Client::new(service, "default")
    }

    pub fn all(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Creates, updates, patches and deletes, in order.
    pub fn writes(&self) -> Vec<Call> {
        self.all().into_iter().filter(Call::is_write).collect()
    }

    fn check(&self) {
        let denied: Vec<Call> = self.all().into_iter().filter(|c| !c.allowed()).collect();
        assert!(
            denied.is_empty(),
            "calls crates/operator/src/rbac.rs does not allow (a 403 in a real cluster): {denied:#?}"
        );
    }
}

impl Drop for ApiCalls {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check();
        }
    }
}

#[test]
fn requests_are_read_as_rbac_sees_them() {
    let call = |method: &str, uri: &str| {
        let c = parse(&method.parse().unwrap(), &uri.parse().unwrap());
        (
            c.verb.clone(),
            c.group.clone(),
            c.rbac_resource(),
            c.namespace.unwrap_or_default(),
            c.name.unwrap_or_default(),
        )
    };
    let s = |v: &str| v.to_owned();
    assert_eq!(
        call(
            "PATCH",
            "/apis/fabric.netops.dev/v1alpha1/namespaces/lab/fabricdevices/leaf1/status?fieldManager=x"
        ),
        (
            s("patch"),
            s("fabric.netops.dev"),
            s("fabricdevices/status"),
            s("lab"),
            s("leaf1")
        )
    );
    assert_eq!(
        call("GET", "/api/v1/secrets?watch=true&resourceVersion=1").0,
        "watch"
    );
    assert_eq!(call("GET", "/api/v1/namespaces/lab/secrets").0, "list");
    assert_eq!(
        call(
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/driftevents.fabric.netops.dev"
        )
        .0,
        "get"
    );
    // A Secret may be read, not written; a CRD only by the names the rule lists.
    let secret = parse(
        &"GET".parse().unwrap(),
        &"/api/v1/namespaces/lab/secrets/creds".parse().unwrap(),
    );
    assert!(secret.allowed());
    let write = Call {
        verb: s("update"),
        ..secret
    };
    assert!(!write.allowed());
    let crd = parse(
        &"GET".parse().unwrap(),
        &"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/other.example.com"
            .parse()
            .unwrap(),
    );
    assert!(!crd.allowed());
}

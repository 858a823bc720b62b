//! Path patterns of policies (scope, exclusions), parsed once into [`PathPattern`].
//!
//! A pattern names a node and everything below it: `/network-instances/network-instance[name=MGMT]`
//! covers that VRF's whole subtree, `/interfaces/interface[name=*]/config/description` the
//! description leaf of every interface, `/network-instances/.../bgp/neighbors/...` every BGP
//! neighbor. The text must be accepted by [`crate::policy::is_path_pattern`] (the CRD's CEL rule) and
//! by the gNMI path parser.

use std::fmt;

use fabric_gnmi::{Path, PathElem, PathError};

use crate::normalize::canonical_elem;
use crate::policy::is_path_pattern;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error(
        "path pattern {pattern:?} is not of the form /a/b[key=value]/c (`*` for any, `...` for any depth)"
    )]
    Syntax { pattern: String },
    #[error("path pattern {pattern:?}: {source}")]
    Parse {
        pattern: String,
        #[source]
        source: PathError,
    },
}

/// A parsed path pattern that covers a node and its subtree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    /// The pattern with `...` appended, so that one `Path::matches` call answers "this node or
    /// something above it matches".
    subtree: Path,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if !is_path_pattern(text) {
            return Err(PatternError::Syntax {
                pattern: text.to_string(),
            });
        }
        let path: Path = text.parse().map_err(|source| PatternError::Parse {
            pattern: text.to_string(),
            source,
        })?;
        let mut elems: Vec<PathElem> = path
            .elems
            .iter()
            .map(|e| canonical_elem(e).into_owned())
            .collect();
        if elems.last().is_none_or(|e| e.name != "...") {
            elems.push(PathElem::new("..."));
        }
        let origin = crate::normalize::canonical_origin(path.origin.as_deref()).map(str::to_string);
        Ok(PathPattern {
            text: text.to_string(),
            subtree: Path { origin, elems },
        })
    }

    /// Does the pattern cover `path` (the node itself or one of its ancestors matches)?
    pub fn covers(&self, path: &Path) -> bool {
        self.subtree.matches(path)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Patterns the CRD's rule (`is_path_pattern`) accepts: every one must parse too.
    const ACCEPTED: &[&str] = &[
        "/interfaces",
        "/interfaces/interface[name=*]/config/description",
        "/interfaces/interface[name=Ethernet1]/config/mtu",
        "/network-instances/.../bgp/neighbors/...",
        "/openconfig-interfaces:interfaces/interface[name=Port-Channel10]",
        "openconfig:/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]",
        "/a/b[k=v][k2=v2]/c",
        r"/a[k=with\]bracket]/b",
        "/*/config",
    ];

    #[test]
    fn every_pattern_the_crd_accepts_parses() {
        for text in ACCEPTED {
            assert!(is_path_pattern(text), "{text}");
            if let Err(e) = PathPattern::parse(text) {
                panic!("{text}: {e}");
            }
        }
    }

    #[test]
    fn rejected_patterns_name_themselves() {
        for text in ["", "interfaces", "/interfaces//config", "/a[k=v]x"] {
            let err = PathPattern::parse(text).err();
            assert!(
                err.as_ref()
                    .is_some_and(|e| e.to_string().contains(&format!("{text:?}"))),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn patterns_cover_subtrees_with_wildcard_keys() {
        let desc = PathPattern::parse("/interfaces/interface[name=*]/config/description").unwrap();
        assert!(desc.covers(&p(
            "/interfaces/interface[name=Ethernet1]/config/description"
        )));
        assert!(!desc.covers(&p("/interfaces/interface[name=Ethernet1]/config/mtu")));
        let vrf = PathPattern::parse("/network-instances/network-instance[name=MGMT]").unwrap();
        assert!(vrf.covers(&p(
            "/network-instances/network-instance[name=MGMT]/config/name"
        )));
        assert!(!vrf.covers(&p(
            "/network-instances/network-instance[name=gold]/config/name"
        )));
        let nbrs = PathPattern::parse("/network-instances/.../bgp/neighbors/...").unwrap();
        assert!(nbrs.covers(&p(
            "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=10.0.0.1]/config/description"
        )));
        assert!(!nbrs.covers(&p(
            "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/as"
        )));
        // The default origin and module prefixes do not matter.
        let oc = PathPattern::parse(
            "openconfig:/openconfig-network-instance:network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]",
        )
        .unwrap();
        assert!(oc.covers(&p(
            "/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]/config/name"
        )));
    }
}

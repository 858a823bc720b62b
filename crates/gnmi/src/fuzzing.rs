//! Invariants checked by the fuzz targets (crates/gnmi/fuzz) and by the
//! randomized tests that stand in for them where no nightly toolchain is
//! available. Each function panics when an invariant is broken: that is
//! the signal a fuzzer looks for. Not for use outside fuzzing and tests.

use std::collections::BTreeMap;

use crate::json::{KeyTable, Leaf, encode_json_ietf, flatten_json_ietf};
use crate::path::Path;

/// Any input: parsing never panics; a parsed path prints to a string that
/// parses back to the same path and prints identically.
pub fn check_path(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = s.parse::<Path>() else {
        return;
    };
    let printed = path.to_string();
    let again: Path = match printed.parse() {
        Ok(p) => p,
        Err(e) => panic!("printed form {printed:?} of {s:?} does not parse: {e}"),
    };
    assert_eq!(again, path, "round trip of {s:?} via {printed:?}");
    assert_eq!(
        again.to_string(),
        printed,
        "printing is not stable for {s:?}"
    );
}

/// Any input: flattening never panics; when the document flattens to
/// distinct leaves and those encode, the encoding flattens back to the same
/// leaves (values compared semantically, as RFC 7951 loses number widths).
pub fn check_json_ietf(data: &[u8]) {
    let base = Path::root().push_name("fuzz");
    let keys = KeyTable::default();
    let Ok(leaves) = flatten_json_ietf(&base, data, &keys) else {
        return;
    };
    let mut by_path: BTreeMap<&Path, &Leaf> = BTreeMap::new();
    for l in &leaves {
        if by_path.insert(&l.path, l).is_some() {
            // Duplicate member names: not valid RFC 7951, nothing to compare.
            return;
        }
    }
    let Ok(encoded) = encode_json_ietf(&base, &leaves) else {
        return;
    };
    let back = match flatten_json_ietf(&base, &encoded, &keys) {
        Ok(b) => b,
        Err(e) => panic!(
            "re-flattening our own encoding failed: {e}\ninput: {}\nencoded: {}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&encoded)
        ),
    };
    let back: BTreeMap<&Path, &Leaf> = back.iter().map(|l| (&l.path, l)).collect();
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        by_path.keys().collect::<Vec<_>>(),
        "paths differ after encode/flatten\ninput: {}\nencoded: {}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&encoded)
    );
    for (p, l) in &by_path {
        let b = back[p];
        assert!(
            l.value.semantic_eq(&b.value),
            "{p}: {:?} became {:?}\nencoded: {}",
            l.value,
            b.value,
            String::from_utf8_lossy(&encoded)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Found by `cargo fuzz run json_ietf_decode` in 20 s: a double that serde_json's default
    /// (inexact) float parser changed on the way back. Fixed by its `float_roundtrip` feature.
    /// Found by `cargo fuzz run json_ietf_decode` after 2 million runs: a member name that is
    /// no YANG identifier became a path element that did not survive printing. Now refused.
    #[test]
    fn fuzz_crash_member_names_must_be_identifiers() {
        check_json_ietf(br#"{"aff:MMM MM\\MM\\!:\\=n":"g,"}"#);
        let err = crate::json::flatten_json_ietf(
            &crate::Path::root(),
            br#"{"a b": 1}"#,
            &crate::json::KeyTable::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a YANG identifier"), "{err}");
    }

    #[test]
    fn fuzz_crash_double_round_trips_exactly() {
        check_json_ietf(b"\n100000000001903143630");
    }

    /// Random JSON documents shaped like YANG data: containers, keyed lists,
    /// leaf-lists and scalars, with names that sometimes carry a module
    /// prefix and strings that need escaping.
    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::{Value as J, json};
        let scalar = prop_oneof![
            "[ -~]{0,8}".prop_map(J::String),
            any::<u32>().prop_map(|u| json!(u)),
            any::<i64>().prop_map(|i| json!(i.to_string())),
            (-1000i32..1000).prop_map(|i| json!(i)),
            any::<bool>().prop_map(J::Bool),
            Just(json!([null])),
            prop::collection::vec(any::<u16>().prop_map(|u| json!(u)), 1..3).prop_map(J::Array),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
        ];
        let name = "(mod-[a-z]{1,3}:)?[a-z][a-z0-9-]{0,6}";
        scalar.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::btree_map(name, inner.clone(), 1..5)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
                // A list of entries keyed by `name`.
                prop::collection::btree_map(
                    "[A-Za-z0-9/.:]{1,6}",
                    prop::collection::btree_map("[a-z]{1,5}", inner, 0..3),
                    1..4
                )
                .prop_map(|entries| {
                    let items = entries
                        .into_iter()
                        .map(|(k, mut members)| {
                            members.remove("name");
                            let mut m: serde_json::Map<String, J> = members.into_iter().collect();
                            m.insert("name".into(), J::String(k));
                            J::Object(m)
                        })
                        .collect();
                    json!({ "interface": J::Array(items) })
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn fuzz_path_bytes(data in prop::collection::vec(any::<u8>(), 0..64)) {
            check_path(&data);
        }

        #[test]
        fn fuzz_path_pathlike(s in "(/|[a-z]{1,4}:/)?([a-z*.:-]{1,5}(\\[[a-z]{1,3}=[ -~]{0,5}\\])?/?){0,5}") {
            check_path(s.as_bytes());
        }

        #[test]
        fn fuzz_json_bytes(data in prop::collection::vec(any::<u8>(), 0..96)) {
            check_json_ietf(&data);
        }

        #[test]
        fn fuzz_json_documents(doc in arb_json()) {
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            check_json_ietf(&bytes);
        }
    }

    #[test]
    fn seeds_from_real_targets_hold() {
        check_json_ietf(br#"{"openconfig-interfaces:interface":[{"name":"Ethernet1","config":{"mtu":9214,"loopback-mode":[null]}}]}"#);
        check_path(br"openconfig:/interfaces/interface[name=Ethernet1\/1]/config");
    }
}

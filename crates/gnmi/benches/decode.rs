//! Decoding throughput: a 10k-leaf JSON_IETF interface config flattened to
//! leaves, and path parsing. Run with `cargo bench -p fabric-gnmi`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fabric_gnmi::{KeyTable, Path, flatten_json_ietf};

/// An EOS-style `openconfig-interfaces:interface` list: 1000 interfaces,
/// 10 leaves each (key, config leaves, a subinterface, a uint64 counter).
fn interfaces_json(n: usize) -> String {
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        entries.push(format!(
            r#"{{"name":"Ethernet{i}","config":{{"name":"Ethernet{i}","description":"leaf{i} uplink","mtu":9214,"enabled":true,"type":"iana-if-type:ethernetCsmacd"}},"subinterfaces":{{"subinterface":[{{"index":0,"config":{{"index":0}},"openconfig-if-ip:ipv4":{{"addresses":{{"address":[{{"ip":"10.{a}.{b}.1","config":{{"ip":"10.{a}.{b}.1","prefix-length":31}}}}]}}}}}}]}},"state":{{"counters":{{"in-octets":"1234567890123"}}}}}}"#,
            a = i / 256,
            b = i % 256
        ));
    }
    format!(
        r#"{{"openconfig-interfaces:interface":[{}]}}"#,
        entries.join(",")
    )
}

fn bench(c: &mut Criterion) {
    let json = interfaces_json(1000);
    let base: Path = "/interfaces/interface".parse().unwrap_or_default();
    let table = KeyTable::default();
    let leaves = flatten_json_ietf(&base, json.as_bytes(), &table)
        .map(|l| l.len())
        .unwrap_or(0);
    assert!(
        leaves >= 10_000,
        "fixture should have 10k leaves, has {leaves}"
    );

    let mut g = c.benchmark_group("json_ietf");
    g.throughput(Throughput::Elements(leaves as u64));
    g.bench_function("flatten_10k_leaves", |b| {
        b.iter(|| flatten_json_ietf(black_box(&base), black_box(json.as_bytes()), &table))
    });
    g.finish();

    let paths: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "openconfig:/network-instances/network-instance[name=vrf{i}]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=10.0.{}.{}]/config/peer-as",
                i / 256,
                i % 256
            )
        })
        .collect();
    let mut g = c.benchmark_group("path");
    g.throughput(Throughput::Elements(paths.len() as u64));
    g.bench_function("parse_1k", |b| {
        b.iter(|| {
            for p in &paths {
                let _ = black_box(p.parse::<Path>());
            }
        })
    });
    let parsed: Vec<Path> = paths.iter().filter_map(|p| p.parse().ok()).collect();
    g.bench_function("print_1k", |b| {
        b.iter(|| {
            for p in &parsed {
                black_box(p.to_string());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

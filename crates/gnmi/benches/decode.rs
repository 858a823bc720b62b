//! Decoding throughput: a 10k-leaf JSON_IETF interface config flattened to
//! leaves, and path parsing. Run with `cargo bench -p fabric-gnmi`.
//!
//! Times are the benchmark thread's CPU time, not wall time: the target is
//! "leaves per second per core", and the build machines are shared, so wall
//! time would measure the neighbours' compiles as much as this code.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
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

fn bench(c: &mut Criterion<ThreadCpuTime>) {
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
    // The same, with the resulting leaves dropped outside the measurement:
    // decoding proper, as when the leaves are kept in the observed tree.
    g.bench_function("flatten_10k_leaves_keep_result", |b| {
        b.iter_with_large_drop(|| {
            flatten_json_ietf(black_box(&base), black_box(json.as_bytes()), &table)
        })
    });
    // Encoding the same leaves back into one JSON_IETF document (a full
    // replace at /interfaces/interface).
    let leaves_vec = flatten_json_ietf(&base, json.as_bytes(), &table).unwrap_or_default();
    if let Err(e) = fabric_gnmi::encode_json_ietf(&base, &leaves_vec) {
        panic!("the fixture must encode: {e}");
    }
    g.bench_function("encode_10k_leaves", |b| {
        b.iter(|| fabric_gnmi::encode_json_ietf(black_box(&base), black_box(&leaves_vec)))
    });
    // Reference points: the share of JSON parsing and of the tree walk.
    g.bench_function("serde_json_parse_only", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(json.as_bytes())))
    });
    let tree: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    g.bench_function("flatten_parsed_tree", |b| {
        b.iter(|| fabric_gnmi::json::flatten_tree(black_box(&base), black_box(&tree), &table))
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

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID).
struct ThreadCpuTime;

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is
    // a constant supported by Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical_ns < 1e3 {
            (1.0, "ns cpu")
        } else if typical_ns < 1e6 {
            (1e-3, "µs cpu")
        } else if typical_ns < 1e9 {
            (1e-6, "ms cpu")
        } else {
            (1e-9, "s cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical_ns: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iter = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
            Throughput::Bits(n) => *n as f64,
        };
        // values are ns per iteration; convert to elements per CPU-second.
        let per_sec = |ns: f64| per_iter * 1e9 / ns;
        let (factor, unit) = if per_sec(typical_ns) >= 1e6 {
            (1e-6, "Melem/cpu-s")
        } else {
            (1e-3, "Kelem/cpu-s")
        };
        values.iter_mut().for_each(|v| *v = per_sec(*v) * factor);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench
}
criterion_main!(benches);

//! Drift engine benchmarks: full diff of 10k- and 100k-leaf devices, one-leaf incremental
//! updates as the device grows, and memory per observed leaf (counted by a wrapping allocator).
//!
//! `cargo bench -p fabric-drift` (figures recorded in crates/drift/README.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use fabric_drift::intent::{DeviceIntent, Interface, Ownership, Platform, Vlan};
use fabric_drift::{Desired, DriftTracker};
use fabric_gnmi::{Leaf, Path, Value};

/// Counts live heap bytes, to measure what the tracker keeps per leaf.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A synthetic device whose intent sets about `leaves` leaves: routed interfaces (name,
/// description, enabled, mtu, subinterface index, address ip and prefix length: 7 leaves each)
/// plus VLANs (2 leaves each).
fn intent(leaves: usize) -> DeviceIntent {
    let vlans = (leaves / 20).min(4000);
    let interfaces = (leaves - vlans * 2) / 7;
    DeviceIntent {
        hostname: Some("bench".into()),
        interfaces: (0..interfaces)
            .map(|i| Interface {
                name: format!("Ethernet{}/{}", i / 48 + 1, i % 48 + 1),
                description: Some(format!("port {i} to rack {}", i / 48)),
                enabled: true,
                mtu: Some(9214),
                switchport: None,
                aggregate_id: None,
                vrf: None,
                ipv4_addresses: vec![format!("10.{}.{}.1/31", i / 256 % 256, i % 256)],
                ipv6_addresses: Vec::new(),
            })
            .collect(),
        vlans: (0..vlans)
            .map(|i| Vlan {
                id: (i + 2) as u16,
                name: Some(format!("vlan{}", i + 2)),
            })
            .collect(),
        ..DeviceIntent::default()
    }
}

fn desired(leaves: usize) -> Desired {
    Desired::compile(
        Platform::Eos,
        &intent(leaves),
        &[],
        Ownership::Strict,
        &[],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A tracker holding the device in sync (every intended leaf observed, as a target sends it).
fn synced(leaves: usize) -> (DriftTracker, usize) {
    let d = desired(leaves);
    let observed: Vec<Leaf> = d
        .leaves()
        .map(|(p, v)| Leaf::new(p.clone(), v.clone()))
        .collect();
    let n = observed.len();
    let mut t = DriftTracker::new(d);
    t.apply(&observed, &[]);
    let delta = t.full_diff();
    assert!(delta.is_empty() && t.drift().is_empty());
    (t, n)
}

fn full_diff(c: &mut Criterion) {
    let mut g = c.benchmark_group("full_diff");
    for size in [10_000usize, 100_000] {
        let (mut t, n) = synced(size);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| black_box(t.full_diff()))
        });
    }
    g.finish();
}

fn incremental(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply_one_leaf");
    for size in [10_000usize, 100_000] {
        let (mut t, _) = synced(size);
        let mtu: Path = "/interfaces/interface[name=Ethernet1/1]/config/mtu"
            .parse()
            .unwrap_or_default();
        let same = [Leaf::new(mtu.clone(), 9214u64)];
        g.bench_with_input(BenchmarkId::new("unchanged", size), &size, |b, _| {
            b.iter(|| black_box(t.apply(&same, &[])))
        });
        // Every other update drifts the leaf and the next one repairs it: a drift item is added
        // or cleared on each call.
        let toggle = [
            [Leaf::new(mtu.clone(), 1500u64)],
            [Leaf::new(mtu.clone(), 9214u64)],
        ];
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("drift_toggles", size), &size, |b, _| {
            b.iter(|| {
                i += 1;
                black_box(t.apply(&toggle[i & 1], &[]))
            })
        });
        // A leaf the intent does not name (state, counters): stored, nothing to compare.
        let counter: Path = "/interfaces/interface[name=Ethernet1/1]/state/counters/in-octets"
            .parse()
            .unwrap_or_default();
        let mut n = 0u64;
        g.bench_with_input(BenchmarkId::new("state_leaf", size), &size, |b, _| {
            b.iter(|| {
                n += 1;
                black_box(t.apply(&[Leaf::new(counter.clone(), Value::Uint(n))], &[]))
            })
        });
    }
    g.finish();
}

/// Live heap bytes per observed leaf, printed once before the timed benchmarks: the compiled
/// intent, the tracker for an in-sync device (tree, per-leaf slots, observed values), and leaves
/// outside the intent (ten state counters per interface: new nodes).
fn memory() {
    const COUNTERS: [&str; 10] = [
        "in-octets",
        "out-octets",
        "in-pkts",
        "out-pkts",
        "in-errors",
        "out-errors",
        "in-discards",
        "out-discards",
        "in-unicast-pkts",
        "out-unicast-pkts",
    ];
    for size in [10_000usize, 100_000] {
        let base = LIVE.load(Ordering::Relaxed);
        let d = desired(size);
        let intent_bytes = LIVE.load(Ordering::Relaxed) - base;
        let observed: Vec<Leaf> = d
            .leaves()
            .map(|(p, v)| Leaf::new(p.clone(), v.clone()))
            .collect();
        let n = observed.len();
        let interfaces = n / 7;
        let extra: Vec<Leaf> = (0..interfaces)
            .flat_map(|i| {
                COUNTERS.iter().map(move |c| {
                    let p: Path = format!(
                        "/interfaces/interface[name=Ethernet{}/{}]/state/counters/{c}",
                        i / 48 + 1,
                        i % 48 + 1
                    )
                    .parse()
                    .unwrap_or_default();
                    Leaf::new(p, Value::Uint(i as u64 * 1000))
                })
            })
            .collect();
        let start = LIVE.load(Ordering::Relaxed);
        let mut t = DriftTracker::new(d);
        t.apply(&observed, &[]);
        t.full_diff();
        let synced = LIVE.load(Ordering::Relaxed);
        t.apply(&extra, &[]);
        let after = LIVE.load(Ordering::Relaxed);
        println!(
            "memory/{size}: compiled intent {} bytes/leaf; tracker for {n} observed intended leaves {} bytes/leaf; \
             {} further leaves outside the intent {} bytes/leaf",
            intent_bytes / n,
            (synced - start) / n,
            extra.len(),
            (after - synced) / extra.len().max(1)
        );
        drop(t);
        drop(observed);
        drop(extra);
    }
}

criterion_group!(benches, full_diff, incremental);

fn main() {
    memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

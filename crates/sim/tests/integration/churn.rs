//! Churn: out-of-band changes at a rate, each a real change, at most one leaf per device away
//! from its initial tree; started and stopped through the control endpoint.

use std::time::Duration;

use fabric_sim::{Sim, Topology};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_changes_leaves_and_puts_them_back() {
    let topo = Topology::generate(3, 0).expect("generated topology");
    let initial: Vec<_> = topo.devices.iter().map(|d| d.initial.clone()).collect();
    let mut sim = Sim::start(topo, "127.0.0.1".parse().unwrap())
        .await
        .expect("sim starts");
    let ctl = sim
        .serve_control("127.0.0.1:0".parse().unwrap())
        .await
        .expect("control");
    let post = |body: &'static str| async move {
        let req = format!(
            "POST /churn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut s = tokio::net::TcpStream::connect(ctl).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let bad = post(r#"{"rate": -1}"#).await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let ok =
        post(r#"{"rate": 400, "pattern": "/interfaces/interface[name=*]/config/description"}"#)
            .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = post(r#"{"rate": 0}"#).await;
    assert!(stopped.starts_with("HTTP/1.1 200"), "{stopped}");
    let sets: u64 = sim.devices().iter().map(|d| d.set_count()).sum();
    assert!(sets >= 20, "{sets} changes in 300 ms at 400/s");
    for (d, before) in sim.devices().iter().zip(&initial) {
        let now = d.leaves();
        let differing: Vec<_> = now
            .iter()
            .filter(|(p, v)| before.get(p) != Some(v))
            .collect();
        assert!(differing.len() <= 1, "{}: {differing:?}", d.name());
        for (p, _) in &differing {
            assert!(p.to_string().ends_with("/config/description"), "{p}");
        }
        assert_eq!(now.len(), before.len());
    }
    sim.shutdown().await;
}

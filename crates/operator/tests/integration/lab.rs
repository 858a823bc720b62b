//! README's first command works: `fabric-operator lab` starts the simulated fabric and the engine,
//! and every lab device comes up reachable and in sync (`--once` prints the table and exits).

use std::{process::Command, time::Instant};

#[test]
fn the_lab_command_brings_the_fabric_up_in_sync() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_fabric-operator"))
        .args(["lab", "--once"])
        .output()
        .expect("fabric-operator runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("leaf") || l.starts_with("spine"))
        .filter(|l| !l.contains("gNMI"))
        .collect();
    assert_eq!(rows.len(), 10, "{stdout}");
    for row in rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[1..4], ["True", "InSync", "0"], "{row}");
    }
    assert!(
        stdout.contains("fabric-sim fault injection: http://127.0.0.1:16000/devices"),
        "{stdout}"
    );
    println!("lab up and in sync in {:?}", started.elapsed());
}

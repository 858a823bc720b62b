//! What the process and its threads have used, from the kernel (Linux).

/// CPU seconds (user + system) of the whole process.
pub fn process_cpu() -> f64 {
    rusage(libc::RUSAGE_SELF)
}

/// CPU seconds (user + system) of the calling thread.
pub fn thread_cpu() -> f64 {
    rusage(libc::RUSAGE_THREAD)
}

fn rusage(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// CPU seconds (user + system) another process of ours has used (the child simulator).
pub fn pid_cpu(pid: u32) -> f64 {
    fabric_sim::bench::cpu_secs_of(&pid.to_string())
}

/// Resident set size now and at its peak (`VmRSS`, `VmHWM`), bytes.
pub use fabric_sim::bench::rss_bytes as rss;

/// The 1-minute load average (the machine is shared: figures need it beside them).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The `q` quantile (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn this_process_uses_memory_and_time() {
        let (rss, peak) = rss();
        assert!(rss > 0 && peak >= rss, "{rss} {peak}");
        let before = process_cpu();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu() > before);
        assert!(thread_cpu() > 0.0);
    }
}

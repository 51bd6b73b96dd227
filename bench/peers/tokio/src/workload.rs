//! What the Tokio workload programs share: `--name=N` arguments, peak RSS, the clock.

/// The value of `--name=N` on the command line, or `fallback`.
pub fn arg(name: &str, fallback: u64) -> u64 {
    let prefix = format!("--{name}=");
    std::env::args()
        .find_map(|a| {
            a.strip_prefix(&prefix)
                .map(|v| v.parse().expect("bad number"))
        })
        .unwrap_or(fallback)
}

/// Peak resident set size of this process so far, in bytes (VmHWM).
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

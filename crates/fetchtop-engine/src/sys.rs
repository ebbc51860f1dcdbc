//! What fetchtop asks of the operating system.

/// Raises the soft open-files limit to the hard limit, so that as many
/// requests can be in flight as the system allows. Returns the new limit.
pub fn raise_fd_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// File descriptors kept back from requests: stdio, the output and log
/// files, the runtime's epoll and wake-up descriptors, a list file, the
/// terminal, with room to spare.
pub const RESERVED_FDS: u64 = 64;

/// The current soft open-files limit.
pub fn open_files_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Most requests that can be in flight at once under an open-files limit of
/// `limit`, when each holds `per_request` descriptors (1 for a remote
/// server; 2 when the server runs in this process, as in `fetchtop demo`).
pub fn in_flight_ceiling(limit: u64, per_request: u64) -> u64 {
    (limit.saturating_sub(RESERVED_FDS) / per_request.max(1)).max(1)
}

/// Peak resident memory of this process, in bytes (Linux; None elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What the OS says about this process right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStatus {
    /// OS threads of the process.
    pub threads: u64,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
}

/// Threads and resident memory from `/proc/self/status` (Linux; None elsewhere).
pub fn proc_status() -> Option<ProcStatus> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(ProcStatus {
        threads: field("Threads:")?,
        rss_bytes: field("VmRSS:")? * 1024,
    })
}

/// The machine's CPU time so far, from the first line of `/proc/stat`, in
/// clock ticks: idle (idle + iowait) and all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTimes {
    /// Ticks no CPU had anything to run.
    pub idle: u64,
    /// All ticks, of all CPUs.
    pub total: u64,
    /// CPUs the line adds up.
    pub cpus: usize,
}

impl CpuTimes {
    /// How many CPUs stood idle, on average, between `earlier` and `self`.
    pub fn idle_cpus_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let idle = self.idle.checked_sub(earlier.idle)?;
        (total > 0).then(|| idle as f64 / total as f64 * self.cpus as f64)
    }
}

/// Reads the machine's CPU times; None where `/proc/stat` is not there.
pub fn cpu_times() -> Option<CpuTimes> {
    parse_cpu_times(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn parse_cpu_times(stat: &str) -> Option<CpuTimes> {
    let mut lines = stat.lines();
    let first = lines.next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = first
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    let cpus = lines.take_while(|l| l.starts_with("cpu")).count().max(1);
    Some(CpuTimes { idle, total, cpus })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_memory_are_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(super::raise_fd_limit().is_some_and(|n| n > 0));
            assert!(super::peak_rss_bytes().is_some_and(|b| b > 1024 * 1024));
            let now = super::proc_status().unwrap();
            assert!(now.threads >= 1 && now.rss_bytes > 1024 * 1024, "{now:?}");
            assert!(super::open_files_limit().is_some_and(|n| n > 0));
        }
    }

    #[test]
    fn cpu_times_parse_and_give_idle_cpus() {
        let a =
            parse_cpu_times("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1\ncpu1 1\nintr 5\n").unwrap();
        assert_eq!((a.idle, a.total, a.cpus), (800, 1000, 2));
        let b = CpuTimes {
            idle: 900,
            total: 1200,
            cpus: 2,
        };
        assert_eq!(b.idle_cpus_since(&a), Some(1.0));
        assert_eq!(a.idle_cpus_since(&b), None);
        assert!(parse_cpu_times("garbage").is_none());
        if std::path::Path::new("/proc/stat").exists() {
            assert!(cpu_times().is_some());
        }
    }

    #[test]
    fn ceilings_keep_descriptors_back() {
        use super::{RESERVED_FDS, in_flight_ceiling};
        assert_eq!(in_flight_ceiling(20_000, 1), 20_000 - RESERVED_FDS);
        assert_eq!(in_flight_ceiling(20_000, 2), (20_000 - RESERVED_FDS) / 2);
        assert_eq!(
            in_flight_ceiling(10, 1),
            1,
            "never zero: one request can always try"
        );
    }
}

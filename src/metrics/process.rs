//! The `process_*` families' figures, read from `/proc` as client_golang's process
//! collector reads them (Linux only; elsewhere the families are left out).

/// Process statistics from `/proc/self` (Linux); absent elsewhere.
pub(super) struct ProcStats {
    pub(super) cpu_seconds: f64,
    pub(super) resident_bytes: f64,
    pub(super) virtual_bytes: f64,
    pub(super) open_fds: f64,
    pub(super) max_fds: Option<f64>,
}

const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

impl ProcStats {
    /// Reads the current figures; `None` where `/proc` is not available.
    pub(super) fn read() -> Option<ProcStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name, which may itself contain spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        // utime and stime are fields 14 and 15 of stat(5); index 0 here is field 3.
        let cpu_seconds = (field(11)? + field(12)?) / CLOCK_TICKS_PER_SECOND;
        let virtual_bytes = field(20)?;
        let resident_bytes = field(21)? * PAGE_SIZE;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|line| line.starts_with("Max open files"))
                    .and_then(|line| line.split_whitespace().nth(3))
                    .and_then(|v| v.parse().ok())
            });
        Some(ProcStats {
            cpu_seconds,
            resident_bytes,
            virtual_bytes,
            open_fds,
            max_fds,
        })
    }
}

/// The process start time from `/proc/self/stat` and the boot time, in Unix seconds.
pub(super) fn process_start_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: f64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime + start_ticks / CLOCK_TICKS_PER_SECOND)
}

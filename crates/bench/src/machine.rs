//! The machine a run happened on, printed above the table: numbers mean
//! little without the CPU, core count, kernel, date and how busy the
//! machine was.

use crate::procfs;
use std::fs;
use std::process::Command;

/// What is printed about the machine.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Online CPUs.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// UTC date and time.
    pub date: String,
    /// Debian package versions of runit and s6.
    pub runit_version: String,
    /// s6's.
    pub s6_version: String,
    /// The commit our binaries were built from.
    pub commit: String,
}

impl Machine {
    /// Gathers the description.
    pub fn describe() -> Machine {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| procfs::parse_cpu_model(&t))
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        Machine {
            cpu,
            cores,
            kernel,
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            runit_version: output("dpkg-query", &["-W", "-f", "${Version}", "runit"]),
            s6_version: output("dpkg-query", &["-W", "-f", "${Version}", "s6"]),
            commit: output(
                "git",
                &["-C", &crate::suite::workspace_root().to_string_lossy(), "describe", "--always", "--dirty"],
            ),
        }
    }

    /// The header lines.
    pub fn header(&self) -> String {
        format!(
            "machine: {} ({} cores), Linux {}, {}\nrunit {} (Debian), s6 {} (Debian), ours at {}\n",
            self.cpu,
            self.cores,
            self.kernel,
            self.date,
            or_unknown(&self.runit_version),
            or_unknown(&self.s6_version),
            or_unknown(&self.commit)
        )
    }
}

/// The load averages now, formatted `1.23 0.98 0.50`.
pub fn load() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| procfs::parse_loadavg(&t))
        .map(|[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"))
        .unwrap_or_else(|| "unknown".into())
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "?" } else { s }
}

fn output(prog: &str, args: &[&str]) -> String {
    Command::new(prog)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine() {
        let m = Machine::describe();
        assert!(m.cores >= 1);
        assert!(!m.kernel.is_empty());
        let h = m.header();
        assert!(h.starts_with("machine: "), "{h}");
        assert!(h.contains("cores"), "{h}");
        assert_eq!(load().split_whitespace().count(), 3);
    }
}

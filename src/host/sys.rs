//! Facts about this machine and this process: cores, CPU time, uname.

use std::time::Duration;

use crate::contract::Host;

/// Cores available to this process (the default `--jobs`).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// User + system CPU time of `who` (RUSAGE_SELF or RUSAGE_CHILDREN).
pub fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The machine, as `uname` and the scheduler see it.
pub fn host() -> Host {
    // SAFETY: uname fills a zeroed struct of fixed-size C strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::uname(&mut u) } == 0;
    let field = |f: &[libc::c_char]| -> String {
        if !ok {
            return String::new();
        }
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Host {
        os: std::env::consts::OS.to_string(),
        kernel: field(&u.sysname),
        kernel_release: field(&u.release),
        kernel_version: field(&u.version),
        machine: field(&u.machine),
        cpus: cores(),
    }
}

/// `shmharness 0.1.0`: the tool field of results.json.
pub fn tool() -> String {
    format!("shmharness {}", env!("CARGO_PKG_VERSION"))
}

/// Where shmharness keeps what it may reuse across runs (probe answers,
/// built overlays, run ledgers without a runtime dir):
/// `$XDG_CACHE_HOME/shmharness`, else `~/.cache/shmharness`.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    var("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("shmharness"))
}

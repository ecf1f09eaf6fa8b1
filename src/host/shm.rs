//! POSIX shared-memory names: does a segment exist, and remove one that this
//! run created. Goes through `shm_open`/`shm_unlink` rather than `/dev/shm`
//! so the same code is right wherever POSIX shared memory lives.

use std::ffi::CString;

fn c_name(name: &str) -> CString {
    CString::new(format!("/{}", name.trim_start_matches('/'))).expect("segment names have no NUL")
}

/// Whether the segment `name` exists (a name without its leading slash).
pub fn exists(name: &str) -> bool {
    let c = c_name(name);
    // SAFETY: `c` is a valid NUL-terminated string; the fd is closed at once.
    unsafe {
        let fd = libc::shm_open(c.as_ptr(), libc::O_RDONLY, 0);
        if fd >= 0 {
            libc::close(fd);
            return true;
        }
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT)
}

/// Remove the segment `name`. Only ever called for names this run made.
pub fn unlink(name: &str) -> bool {
    let c = c_name(name);
    // SAFETY: `c` is a valid NUL-terminated string.
    unsafe { libc::shm_unlink(c.as_ptr()) == 0 }
}

/// A fresh segment name for case `n`: `shmh`, 48 random bits as 12 hex
/// digits, `_n`. Unique across runs and users without coordination, and at
/// most 30 characters (macOS allows 31 with the slash).
pub fn fresh_name(n: usize) -> String {
    if let Some(forced) = forced_name() {
        return forced;
    }
    let name = format!("shmh{:012x}_{n}", random48());
    debug_assert!(name.len() <= 30);
    name
}

/// Test hook: `SHMHARNESS_TEST_SEGMENT_NAMES=a,b,...` hands out these names
/// first, in order (a test pre-creates `a` to provoke a name clash).
fn forced_name() -> Option<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let names = std::env::var("SHMHARNESS_TEST_SEGMENT_NAMES").ok()?;
    let i = NEXT.fetch_add(1, Ordering::SeqCst);
    names
        .split(',')
        .filter(|n| !n.is_empty())
        .nth(i)
        .map(str::to_string)
}

/// 48 bits from the kernel's random source (getrandom(2)); the clock and
/// pid only if that fails.
fn random48() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if got == buf.len() as isize {
        return u64::from_le_bytes(buf) & 0xffff_ffff_ffff;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ u64::from(std::process::id()).rotate_left(24)) & 0xffff_ffff_ffff
}

#[cfg(test)]
mod tests {
    #[test]
    fn fresh_names_are_short_unique_and_ours() {
        let a = super::fresh_name(9999);
        let b = super::fresh_name(9999);
        assert_ne!(a, b);
        assert!(a.starts_with("shmh") && a.len() <= 30, "{a}");
        assert_eq!(a.len(), "shmh".len() + 12 + "_9999".len());
    }
}

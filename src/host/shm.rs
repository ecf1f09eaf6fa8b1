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

/// Who owns the segment `name` (its uid), if it exists.
pub fn owner(name: &str) -> Option<u32> {
    let c = c_name(name);
    // SAFETY: `c` is a valid NUL-terminated string; fstat writes into the
    // zeroed struct; the fd is closed at once.
    unsafe {
        let fd = libc::shm_open(c.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW, 0);
        if fd < 0 {
            return None;
        }
        let mut st: libc::stat = std::mem::zeroed();
        let ok = libc::fstat(fd, &mut st) == 0;
        libc::close(fd);
        ok.then_some(st.st_uid)
    }
}

/// Whether `name` has the form `fresh_name` gives (`shmh`, 12 hex digits,
/// `_N`), or that of a manager role's segments (`_N_mK`): the only names a
/// sweep may ever unlink.
pub fn is_harness_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = name.strip_prefix("shmh") else {
        return false;
    };
    let (hex, tail) = rest.split_at_checked(12).unwrap_or(("", ""));
    let Some(tail) = tail.strip_prefix('_') else {
        return false;
    };
    let case = match tail.split_once("_m") {
        Some((case, manager)) => digits(manager).then_some(case),
        None => Some(tail),
    };
    hex.bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && hex.len() == 12
        && case.is_some_and(digits)
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
    let name = format!("shmh{:012x}_{n}", crate::host::sys::random48());
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

#[cfg(test)]
mod tests {
    #[test]
    fn fresh_names_are_short_unique_and_ours() {
        let a = super::fresh_name(9999);
        let b = super::fresh_name(9999);
        assert_ne!(a, b);
        assert!(a.starts_with("shmh") && a.len() <= 30, "{a}");
        assert_eq!(a.len(), "shmh".len() + 12 + "_9999".len());
        assert!(super::is_harness_name(&a), "{a}");
    }

    #[test]
    fn only_the_harness_s_own_name_forms_count_as_its_names() {
        for ours in [
            "shmh0123456789ab_0",
            "shmh0123456789ab_23",
            "shmhffffffffffff_7_m2",
        ] {
            assert!(super::is_harness_name(ours), "{ours}");
        }
        for theirs in [
            "shmh",
            "shmh_important",
            "shmh0123456789ab",
            "shmh0123456789ab_",
            "shmh0123456789AB_1",
            "shmh0123456789a_1",
            "shmh0123456789abc_1",
            "shmh0123456789ab_1x",
            "shmh0123456789ab_1_m",
            "shmh0123456789ab_1_m2_m3",
            "shmh0123456789ab_1/../x",
            "psm_0123456789ab",
            "shmhclash123",
        ] {
            assert!(!super::is_harness_name(theirs), "{theirs}");
        }
    }
}

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

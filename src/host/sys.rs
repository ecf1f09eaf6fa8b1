//! Facts about this machine and this process: cores, CPU time, uname, who
//! it runs as, which directories only it can change, and removing a tree
//! through file descriptors.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
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

/// The user this process acts as (its effective uid: what owns the files
/// it creates).
pub fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `0755`, `1777`: a mode as `ls -l` users read it.
pub fn mode_text(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Why a user other than this one (or root) could rename, replace or add
/// what `dir` holds, or `None` when nobody else can: `dir` (its nearest
/// existing part, if it does not exist yet) and every directory above it
/// must belong to this user or root, and none may be group- or
/// world-writable without the sticky bit. A script shmharness runs from
/// under such a directory could be someone else's code.
pub fn others_can_write(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
    let real = match std::fs::canonicalize(existing) {
        Ok(real) => real,
        Err(e) => return Some(format!("cannot resolve {}: {e}", existing.display())),
    };
    let me = uid();
    for d in real.ancestors() {
        let meta = match std::fs::metadata(d) {
            Ok(meta) => meta,
            Err(e) => return Some(format!("cannot check {}: {e}", d.display())),
        };
        let mode = meta.mode();
        let sticky = mode & u32::from(libc::S_ISVTX as u16) != 0;
        if mode & 0o022 != 0 && !sticky {
            return Some(format!(
                "{} is writable by {} (mode {}) and has no sticky bit",
                d.display(),
                if mode & 0o002 != 0 {
                    "everyone"
                } else {
                    "its group"
                },
                mode_text(mode)
            ));
        }
        if meta.uid() != me && meta.uid() != 0 {
            return Some(format!(
                "{} belongs to uid {} (mode {}), not to this user (uid {me}) or root",
                d.display(),
                meta.uid(),
                mode_text(mode)
            ));
        }
    }
    None
}

/// A directory only this user can change: it is a real directory (no
/// symlink), belongs to this user and is writable by nobody else. Says why
/// not.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != uid() {
        return Err(format!(
            "{} belongs to uid {}, not to this user (uid {})",
            dir.display(),
            meta.uid(),
            uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by others (mode {})",
            dir.display(),
            mode_text(meta.mode())
        ));
    }
    Ok(())
}

/// 48 bits from the kernel's random source (getrandom(2)); the clock and
/// pid only if that fails.
pub fn random48() -> u64 {
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

/// `path` as a C string (a path never holds a NUL).
fn c_path(path: &std::ffi::OsStr) -> std::io::Result<std::ffi::CString> {
    std::ffi::CString::new(path.as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat(at, name, flags | O_CLOEXEC)`, `at` `None` for a path.
pub fn open_at(
    at: Option<&OwnedFd>,
    name: &std::ffi::OsStr,
    flags: libc::c_int,
) -> std::io::Result<OwnedFd> {
    let c = c_path(name)?;
    let dirfd = at.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `c` is NUL-terminated; a new fd is owned by the OwnedFd.
    let fd = unsafe { libc::openat(dirfd, c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstat(fd)`.
pub fn fstat(fd: &OwnedFd) -> std::io::Result<libc::stat> {
    // SAFETY: fstat writes into the zeroed struct we pass.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(st)
    }
}

/// Device and inode of a `stat` (their C types differ between systems).
#[allow(clippy::unnecessary_cast)]
pub fn dev_ino(st: &libc::stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

/// Open the directory `name` in `at` without following a symlink.
pub fn open_dir_at(at: Option<&OwnedFd>, name: &std::ffi::OsStr) -> std::io::Result<OwnedFd> {
    open_at(
        at,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )
}

/// Remove the directory `name` in `at` and everything in it, if `is_it`
/// says yes to what `name` is once opened: through file descriptors only,
/// so no path is looked up again and no symlink followed (a symlink inside
/// is removed, never its target).
pub fn remove_tree_at(
    at: &OwnedFd,
    name: &std::ffi::OsStr,
    is_it: &dyn Fn(&libc::stat) -> bool,
) -> std::io::Result<()> {
    let dir = open_dir_at(Some(at), name)?;
    if !is_it(&fstat(&dir)?) {
        return Err(std::io::Error::from_raw_os_error(libc::EPERM));
    }
    for entry in entries(&dir)? {
        let c = c_path(&entry)?;
        // SAFETY: `c` is NUL-terminated; `dir` is an open directory.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } != 0 {
            let e = std::io::Error::last_os_error();
            // A directory: EISDIR on Linux, EPERM elsewhere.
            if !matches!(e.raw_os_error(), Some(libc::EISDIR | libc::EPERM)) {
                return Err(e);
            }
            remove_tree_at(&dir, &entry, &|_| true)?;
        }
    }
    let c = c_path(name)?;
    // SAFETY: `c` is NUL-terminated; `at` is an open directory.
    if unsafe { libc::unlinkat(at.as_raw_fd(), c.as_ptr(), libc::AT_REMOVEDIR) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The names in an open directory, `.` and `..` left out.
fn entries(dir: &OwnedFd) -> std::io::Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: fdopendir takes over a duplicate of the fd, and closedir
    // closes it; each dirent is read before the next readdir call.
    unsafe {
        let dup = libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0);
        if dup < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = libc::fdopendir(dup);
        if stream.is_null() {
            libc::close(dup);
            return Err(std::io::Error::last_os_error());
        }
        let mut names = Vec::new();
        loop {
            let ent = libc::readdir(stream);
            if ent.is_null() {
                break;
            }
            let name = std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()).to_bytes();
            if name != b"." && name != b".." {
                names.push(std::ffi::OsStr::from_bytes(name).to_os_string());
            }
        }
        libc::closedir(stream);
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_directory_anyone_can_write_without_the_sticky_bit_is_others() {
        let top = tempfile::tempdir().unwrap();
        assert_eq!(others_can_write(top.path()), None);
        // Not there yet: its nearest existing parent decides.
        assert_eq!(others_can_write(&top.path().join("a/b")), None);
        chmod(top.path(), 0o777);
        let why = others_can_write(&top.path().join("a/b")).unwrap();
        assert!(why.contains("writable by everyone (mode 0777)"), "{why}");
        chmod(top.path(), 0o775);
        assert!(others_can_write(top.path()).unwrap().contains("its group"));
        chmod(top.path(), 0o1777);
        assert_eq!(others_can_write(top.path()), None, "sticky, like /tmp");
        // Below it, a directory of this user's is this user's alone.
        chmod(top.path(), 0o700);
        std::fs::create_dir(top.path().join("d")).unwrap();
        assert_eq!(private_dir(&top.path().join("d")), Ok(()));
        chmod(&top.path().join("d"), 0o770);
        assert!(private_dir(&top.path().join("d")).is_err());
        std::os::unix::fs::symlink("d", top.path().join("l")).unwrap();
        assert!(private_dir(&top.path().join("l")).is_err(), "a symlink");
    }

    #[test]
    fn a_tree_is_removed_through_its_fds_and_a_symlink_in_it_never_followed() {
        let top = tempfile::tempdir().unwrap();
        let outside = top.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), "").unwrap();
        let tree = top.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/f"), "").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("a/link")).unwrap();
        let at = open_dir_at(None, top.path().as_os_str()).unwrap();
        let name = std::ffi::OsStr::new("tree");
        // Not the one it should be: left alone.
        assert!(remove_tree_at(&at, name, &|_| false).is_err());
        assert!(tree.join("a/b/f").exists());
        remove_tree_at(&at, name, &|_| true).unwrap();
        assert!(!tree.exists());
        assert!(outside.join("keep").exists());
        // A symlink in its place is not a directory to enter.
        std::os::unix::fs::symlink(&outside, &tree).unwrap();
        assert!(remove_tree_at(&at, name, &|_| true).is_err());
        assert!(outside.join("keep").exists());
    }
}

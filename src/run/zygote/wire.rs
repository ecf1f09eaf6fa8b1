//! The zygote's socket protocol, harness side: a request is one line with
//! file descriptors attached (SCM_RIGHTS); the answer is `pid N` or
//! `error WHY` (see `pyscenarios/zygote.py`).

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// Send `bytes` with `fds` attached to the first byte (the receiver gets
/// its own copies of them).
pub fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    // u64 keeps the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the
    // sendmsg call, and the cmsg header and data are written inside
    // `control`, which CMSG_SPACE sized for them.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), fd_bytes);
        libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // The rest, if the kernel took only part of it (the fds went with the
    // first byte).
    let mut rest = stream;
    rest.write_all(&bytes[sent as usize..])
}

/// The pid in the zygote's answer, or what it said instead.
pub fn pid_of(reply: &str) -> Result<i32, String> {
    let reply = reply.trim_end();
    match reply.strip_prefix("pid ").map(str::parse::<i32>) {
        Some(Ok(pid)) if pid > 1 => Ok(pid),
        _ if reply.is_empty() => Err("it closed the socket".into()),
        _ => Err(reply.strip_prefix("error ").unwrap_or(reply).to_string()),
    }
}

//! The terminal: colours, one-line printable text, plural words (`style`),
//! and the progress line with `-q`/`-v` (`progress`).

pub mod progress;
pub mod style;

/// The width of the terminal `fd` is, if it is one and says (a terminal
/// whose rows are unknown still has columns: clap's own lookup gives up on
/// it and stays 100 wide).
pub fn width(fd: std::os::fd::RawFd) -> Option<u16> {
    // SAFETY: TIOCGWINSZ writes a winsize into the zeroed struct we pass.
    let cols = unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) != 0 {
            return None;
        }
        size.ws_col
    };
    (cols > 0).then_some(cols)
}

/// The width help wraps to: stdout's terminal, else stderr's (`--help |
/// less`), else `$COLUMNS`.
pub fn help_width() -> Option<usize> {
    width(libc::STDOUT_FILENO)
        .or_else(|| width(libc::STDERR_FILENO))
        .map(usize::from)
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
}

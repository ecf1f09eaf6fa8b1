//! The terminal: colours, one-line printable text, plural words (`style`),
//! and the progress line with `-q`/`-v` (`progress`).

pub mod progress;
pub mod style;

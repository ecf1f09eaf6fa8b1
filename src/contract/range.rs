//! Version ranges, one type for every flag that takes one: `--python 3.10`,
//! `--python 3.8-3.11`, `--python '>=3.9'`, `--python 3.13-` and
//! `--patch 3.13-=main.diff` all parse here and match the same way.
//!
//! A bound with fewer parts matches every version that starts with it
//! (`3.10` matches `3.10.13`), as people mean when they type it.

use std::cmp::Ordering;
use std::fmt;

use super::Version;

/// One end of a range: one to three leading version numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bound {
    parts: [u32; 3],
    len: usize,
    /// `>3.9` / `<3.13`: the bound itself is outside.
    exclusive: bool,
}

impl Bound {
    /// `3.X`, inclusive.
    pub const fn minor(major: u32, minor: u32) -> Bound {
        Bound {
            parts: [major, minor, 0],
            len: 2,
            exclusive: false,
        }
    }

    fn parse(s: &str) -> Option<Bound> {
        let parts: Vec<u32> = s
            .trim()
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if parts.is_empty() || parts.len() > 3 || parts[0] < 2 {
            return None;
        }
        let mut out = [0; 3];
        out[..parts.len()].copy_from_slice(&parts);
        Some(Bound {
            parts: out,
            len: parts.len(),
            exclusive: false,
        })
    }

    /// `v` cut to this bound's length, compared with the bound.
    fn cmp_version(&self, v: Version) -> Ordering {
        let full = [v.major, v.minor, v.micro];
        full[..self.len].cmp(&self.parts[..self.len])
    }

    fn exclusive(self) -> Bound {
        Bound {
            exclusive: true,
            ..self
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.parts[..self.len].iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// An inclusive range of versions; `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

impl VersionRange {
    /// Every version.
    pub const ALL: VersionRange = VersionRange {
        from: None,
        to: None,
    };

    /// `3.A` to `3.B` (`None`: open end), by minor version.
    pub const fn minors(from: (u32, u32), to: Option<(u32, u32)>) -> VersionRange {
        VersionRange {
            from: Some(Bound::minor(from.0, from.1)),
            to: match to {
                Some((a, b)) => Some(Bound::minor(a, b)),
                None => None,
            },
        }
    }

    /// `3.10`, `3.10.13`, `==3.10`, `3.8-3.11`, `3.13-`, `-3.9`, `>=3.9`,
    /// `>3.9`, `<=3.12`, `<3.13`. `None` if it is none of those.
    pub fn parse(s: &str) -> Option<VersionRange> {
        let s = s.trim();
        let one = |b| VersionRange {
            from: Some(b),
            to: Some(b),
        };
        if let Some(rest) = s.strip_prefix("==") {
            return Bound::parse(rest).map(one);
        }
        for (op, lower, exclusive) in [
            (">=", true, false),
            ("<=", false, false),
            (">", true, true),
            ("<", false, true),
        ] {
            if let Some(rest) = s.strip_prefix(op) {
                let b = Bound::parse(rest)?;
                let b = if exclusive { b.exclusive() } else { b };
                return Some(if lower {
                    VersionRange {
                        from: Some(b),
                        to: None,
                    }
                } else {
                    VersionRange {
                        from: None,
                        to: Some(b),
                    }
                });
            }
        }
        let Some((lo, hi)) = s.split_once('-') else {
            return Bound::parse(s).map(one);
        };
        let end = |t: &str| {
            if t.trim().is_empty() {
                Some(None)
            } else {
                Bound::parse(t).map(Some)
            }
        };
        let (from, to) = (end(lo)?, end(hi)?);
        (from.is_some() || to.is_some()).then_some(VersionRange { from, to })
    }

    pub fn matches(&self, v: Version) -> bool {
        let above_from = self.from.is_none_or(|b| match b.cmp_version(v) {
            Ordering::Greater => true,
            Ordering::Equal => !b.exclusive,
            Ordering::Less => false,
        });
        let below_to = self.to.is_none_or(|b| match b.cmp_version(v) {
            Ordering::Less => true,
            Ordering::Equal => !b.exclusive,
            Ordering::Greater => false,
        });
        above_from && below_to
    }

    /// `3.8-3.7`: the low end is above the high end, so nothing matches.
    pub fn is_reversed(&self) -> bool {
        match (self.from, self.to) {
            (Some(lo), Some(hi)) => {
                let n = lo.len.min(hi.len);
                lo.parts[..n] > hi.parts[..n]
            }
            _ => false,
        }
    }

    /// One version (`3.13`), which a patch folder's newest file stretches
    /// to every later one (`3.13-`).
    pub fn open_ended(self) -> VersionRange {
        match (self.from, self.to) {
            (Some(a), Some(b)) if a == b => VersionRange {
                from: Some(a),
                to: None,
            },
            _ => self,
        }
    }
}

/// `3.8-3.9`, `3.13-`, `3.10`, `>3.9`, `all`.
impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.to) {
            (None, None) => f.write_str("all"),
            (Some(a), Some(b)) if a == b => write!(f, "{a}"),
            (Some(a), None) if a.exclusive => write!(f, ">{a}"),
            (None, Some(b)) if b.exclusive => write!(f, "<{b}"),
            (a, b) => {
                let show = |x: Option<Bound>| x.map(|x| x.to_string()).unwrap_or_default();
                write!(f, "{}-{}", show(a), show(b))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn matching(range: &str, versions: &[&str]) -> Vec<String> {
        let r = VersionRange::parse(range).unwrap_or_else(|| panic!("{range}"));
        versions
            .iter()
            .filter(|x| r.matches(v(x)))
            .map(|x| x.to_string())
            .collect()
    }

    const ALL: &[&str] = &["3.8.18", "3.9.18", "3.12.1", "3.13.0", "3.13.18", "3.15.2"];

    #[test]
    fn every_form_matches_by_prefix() {
        assert_eq!(matching("3.13", ALL), ["3.13.0", "3.13.18"]);
        assert_eq!(matching("==3.13", ALL), ["3.13.0", "3.13.18"]);
        assert_eq!(matching("3.13.0", ALL), ["3.13.0"]);
        assert_eq!(matching("3.8-3.9", ALL), ["3.8.18", "3.9.18"]);
        assert_eq!(matching("3.13-", ALL), ["3.13.0", "3.13.18", "3.15.2"]);
        assert_eq!(matching("-3.9", ALL), ["3.8.18", "3.9.18"]);
        assert_eq!(matching(">=3.13", ALL), ["3.13.0", "3.13.18", "3.15.2"]);
        assert_eq!(matching(">3.13", ALL), ["3.15.2"]);
        assert_eq!(matching("<=3.9", ALL), ["3.8.18", "3.9.18"]);
        assert_eq!(matching("<3.9", ALL), ["3.8.18"]);
        assert_eq!(matching("3.13.1-3.15", ALL), ["3.13.18", "3.15.2"]);
    }

    #[test]
    fn what_is_not_a_range() {
        for bad in [
            "", "-", "abc", "3.x", "x.y", "3.8-x", "1.2", "3.1.2.3", ">=", "3.8--3.9",
        ] {
            assert_eq!(VersionRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn requests_match_like_people_mean() {
        let m =
            |range: &str, version: &str| VersionRange::parse(range).unwrap().matches(v(version));
        assert!(m("3.10", "3.10.13"));
        assert!(!m("3.10", "3.1.0"));
        assert!(m("3.10.13", "3.10.13"));
        assert!(!m("3.10.12", "3.10.13"));
        assert!(m("3.8-3.11", "3.11.7"));
        assert!(m("3.8-3.11", "3.8.18"));
        assert!(!m("3.8-3.11", "3.12.1"));
        assert!(m(">=3.9", "3.9.0"));
        assert!(!m(">=3.9", "3.8.18"));
        assert!(m("<3.13", "3.12.1"));
        assert!(!m("<3.13", "3.13.0"));
        assert!(m(">3.12", "3.13.0"));
        assert!(!m(">3.12", "3.12.9"));
        assert!(m("<=3.12", "3.12.9"));
        assert!(m("3", "3.12.9"));
    }

    #[test]
    fn reversed_ranges_are_told_apart() {
        assert!(VersionRange::parse("3.8-3.7").unwrap().is_reversed());
        assert!(!VersionRange::parse("3.8-3.8.1").unwrap().is_reversed());
        assert!(VersionRange::parse("3.13-3.8").unwrap().is_reversed());
        assert!(!VersionRange::parse("3.8-3.13").unwrap().is_reversed());
        assert!(!VersionRange::parse("3.13.0-3.13").unwrap().is_reversed());
    }

    #[test]
    fn labels_read_as_typed() {
        for s in ["3.8-3.9", "3.13-", "-3.9", "3.10", ">3.9", "<3.13"] {
            assert_eq!(VersionRange::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(VersionRange::ALL.to_string(), "all");
        assert_eq!(VersionRange::parse(">=3.9").unwrap().to_string(), "3.9-");
        assert_eq!(
            VersionRange::parse("3.13")
                .unwrap()
                .open_ended()
                .to_string(),
            "3.13-"
        );
    }
}

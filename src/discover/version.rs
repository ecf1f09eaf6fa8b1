//! Python versions and the `--python` version requests that select them.

pub use crate::contract::Version;

/// A version request: `3.10`, `3.10.13`, `3.8-3.11`, `>=3.9`, `<3.13`.
/// A request with fewer parts matches every version that starts with it
/// (`3.10` matches `3.10.13`), as people mean when they type it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionReq {
    Is(Prefix),
    Range(Prefix, Prefix),
    Cmp(Op, Prefix),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

/// One to three leading version numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(Vec<u32>);

impl Prefix {
    fn parse(s: &str) -> Option<Prefix> {
        let parts: Option<Vec<u32>> = s.trim().split('.').map(|p| p.parse().ok()).collect();
        let parts = parts?;
        (!parts.is_empty() && parts.len() <= 3 && parts[0] >= 2).then_some(Prefix(parts))
    }

    /// Compare `v` cut to this prefix's length with the prefix.
    fn cmp_version(&self, v: Version) -> std::cmp::Ordering {
        let full = [v.major, v.minor, v.micro];
        full[..self.0.len()].cmp(&self.0[..])
    }
}

impl VersionReq {
    pub fn parse(s: &str) -> Option<VersionReq> {
        let s = s.trim();
        for (op_str, op) in [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)] {
            if let Some(rest) = s.strip_prefix(op_str) {
                return Prefix::parse(rest).map(|p| VersionReq::Cmp(op, p));
            }
        }
        if let Some(rest) = s.strip_prefix("==") {
            return Prefix::parse(rest).map(VersionReq::Is);
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Some(VersionReq::Range(Prefix::parse(lo)?, Prefix::parse(hi)?));
        }
        Prefix::parse(s).map(VersionReq::Is)
    }

    /// `3.8-3.7`: a range whose low end is above its high end.
    pub fn is_reversed(&self) -> bool {
        match self {
            VersionReq::Range(lo, hi) => {
                let n = lo.0.len().min(hi.0.len());
                lo.0[..n] > hi.0[..n]
            }
            _ => false,
        }
    }

    pub fn matches(&self, v: Version) -> bool {
        use std::cmp::Ordering::*;
        match self {
            VersionReq::Is(p) => p.cmp_version(v) == Equal,
            VersionReq::Range(lo, hi) => lo.cmp_version(v) != Less && hi.cmp_version(v) != Greater,
            VersionReq::Cmp(Op::Ge, p) => p.cmp_version(v) != Less,
            VersionReq::Cmp(Op::Gt, p) => p.cmp_version(v) == Greater,
            VersionReq::Cmp(Op::Le, p) => p.cmp_version(v) != Greater,
            VersionReq::Cmp(Op::Lt, p) => p.cmp_version(v) == Less,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(req: &str, v: &str) -> bool {
        VersionReq::parse(req)
            .unwrap()
            .matches(Version::parse(v).unwrap())
    }

    #[test]
    fn requests_match_like_people_mean() {
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
    fn a_reversed_range_is_told_apart() {
        assert!(VersionReq::parse("3.8-3.7").unwrap().is_reversed());
        assert!(!VersionReq::parse("3.7-3.8").unwrap().is_reversed());
        assert!(!VersionReq::parse("3.8-3.8.1").unwrap().is_reversed());
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "abc", "3.x", ">=", "1.2", "3.8-", "3.1.2.3"] {
            assert!(VersionReq::parse(bad).is_none(), "{bad}");
        }
    }
}

//! `Release` files: the suite's index checksums and its validity window. Pure: the signature
//! is checked before this sees the text.

use super::control;

/// One index listed in a Release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub suite: String,
    pub codename: String,
    /// Seconds since the epoch.
    pub date: Option<i64>,
    pub valid_until: Option<i64>,
    pub acquire_by_hash: bool,
    pub sha256: Vec<IndexEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("not a Release file: {0}")]
    Format(String),
    #[error("unreadable date `{0}`")]
    Date(String),
    #[error("the Release file expired on {0} (Valid-Until); the mirror is stale or replayed")]
    Expired(String),
}

impl Release {
    pub fn parse(text: &str) -> Result<Self, ReleaseError> {
        let paragraphs = control::parse(text).map_err(|e| ReleaseError::Format(e.to_string()))?;
        let paragraph = paragraphs
            .first()
            .ok_or_else(|| ReleaseError::Format("empty".into()))?;
        let date = |field: &str| {
            paragraph
                .get(field)
                .map(|d| parse_date(d).ok_or_else(|| ReleaseError::Date(d.to_string())))
                .transpose()
        };
        let mut sha256 = Vec::new();
        for line in paragraph.get("SHA256").unwrap_or("").lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [hex, size, path] = parts.as_slice() {
                let size = size
                    .parse()
                    .map_err(|_| ReleaseError::Format(format!("bad size in `{line}`")))?;
                sha256.push(IndexEntry {
                    path: path.to_string(),
                    size,
                    sha256: hex.to_ascii_lowercase(),
                });
            }
        }
        if sha256.is_empty() {
            return Err(ReleaseError::Format("no SHA256 entries".into()));
        }
        Ok(Release {
            suite: paragraph.get("Suite").unwrap_or("").to_string(),
            codename: paragraph.get("Codename").unwrap_or("").to_string(),
            date: date("Date")?,
            valid_until: date("Valid-Until")?,
            acquire_by_hash: paragraph.get("Acquire-By-Hash") == Some("yes"),
            sha256,
        })
    }

    /// Fails when `now` (seconds since the epoch) is past Valid-Until.
    pub fn check_valid(&self, now: i64, raw_valid_until: &str) -> Result<(), ReleaseError> {
        match self.valid_until {
            Some(until) if now > until => Err(ReleaseError::Expired(raw_valid_until.to_string())),
            _ => Ok(()),
        }
    }

    pub fn entry(&self, path: &str) -> Option<&IndexEntry> {
        self.sha256.iter().find(|e| e.path == path)
    }
}

/// Parses an RFC 2822 date as Release files write it (`Sat, 10 May 2025 08:51:12 UTC`).
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .split_once(',')
        .map(|(_, rest)| rest.trim())
        .unwrap_or(text);
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [day, month, year, time, zone @ ..] = parts.as_slice() else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    if !(1..=31).contains(&day) || !(1900..=9999).contains(&year) {
        return None;
    }
    let clock: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = clock.as_slice() else {
        return None;
    };
    if !(0..=23).contains(h) || !(0..=59).contains(m) || !(0..=60).contains(s) {
        return None;
    }
    let offset = match zone.first().copied().unwrap_or("UTC") {
        "UTC" | "GMT" | "Z" => 0,
        z if (z.starts_with('+') || z.starts_with('-')) && z.len() == 5 && z.is_ascii() => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let hours: i64 = z[1..3].parse().ok()?;
            let minutes: i64 = z[3..5].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + m * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 10 May 2025 08:51:12 UTC\nValid-Until: Sat, 17 May 2025 08:51:12 UTC\nAcquire-By-Hash: yes\nSHA256:\n 0f8e6d3c5a2b1e4f7a9c8b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f  1234 main/binary-amd64/Packages.xz\n aa8e6d3c5a2b1e4f7a9c8b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f  99 main/binary-arm64/Packages.gz\n";

    #[test]
    fn parses_entries_and_dates() {
        let release = Release::parse(RELEASE).unwrap();
        assert_eq!(release.codename, "bookworm");
        assert_eq!(
            release.entry("main/binary-amd64/Packages.xz").unwrap().size,
            1234
        );
        assert!(release.acquire_by_hash);
        assert_eq!(release.date, Some(1746867072));
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_date("Thu, 01 Jan 1970 01:00:00 +0100"), Some(0));
        assert_eq!(parse_date("nonsense"), None);
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 +1é2"), None);
        assert_eq!(parse_date("Thu, 01 Jan 99999999999999 00:00:00 UTC"), None);
        // Found by fuzzing (debian_control): an out-of-range clock overflowed the arithmetic.
        assert_eq!(
            parse_date("Sat, 08 Nov 2024 10:800888888888888888020:8008888888"),
            None
        );
        assert_eq!(parse_date("Sat, 08 Nov 2024 24:00:00 UTC"), None);
        let crash =
            "Or0:0(>A0:00 UTC\nValidMUntil: Sat, 08 Nov 2024 10:8008888888888888020:8008888888\n";
        let _ = Release::parse(crash);
    }

    #[test]
    fn expiry_is_enforced() {
        let release = Release::parse(RELEASE).unwrap();
        assert!(release.check_valid(1746867072, "").is_ok());
        let err = release
            .check_valid(1746867072 + 8 * 86400, "Sat, 17 May 2025 08:51:12 UTC")
            .unwrap_err();
        assert!(
            err.to_string().contains("expired on Sat, 17 May 2025"),
            "{err}"
        );
    }
}

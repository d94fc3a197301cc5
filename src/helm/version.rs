//! Chart version constraints as Helm reads them (Masterminds semver): exact versions,
//! wildcards (`1.2.*`, `1.2.x`), `~`, `^`, comparisons joined by spaces or commas, and `||`
//! alternatives; the highest matching version wins, and pre-releases match only a
//! constraint that names one.

/// A parsed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    alternatives: Vec<semver::VersionReq>,
    text: String,
}

impl Constraint {
    /// Parses a constraint; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty version".into());
        }
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let joined = alternative
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| s.strip_prefix('v').unwrap_or(s).to_string())
                .collect::<Vec<_>>();
            // Operators written apart from their version (`>= 1.2`) join it again.
            let mut parts: Vec<String> = Vec::new();
            for part in joined {
                match parts.last_mut() {
                    Some(last) if last.chars().all(|c| "<>=~^!".contains(c)) => {
                        last.push_str(&part)
                    }
                    _ => parts.push(part),
                }
            }
            let req = semver::VersionReq::parse(&parts.join(", "))
                .map_err(|e| format!("not a version or semver range: {e}"))?;
            alternatives.push(req);
        }
        Ok(Constraint {
            alternatives,
            text: text.to_string(),
        })
    }

    /// Whether `version` (as an index or a tag writes it; a leading `v` allowed) matches.
    pub fn matches(&self, version: &str) -> bool {
        parse_version(version).is_some_and(|v| self.alternatives.iter().any(|r| r.matches(&v)))
    }

    /// The highest of `versions` that matches, as written.
    pub fn highest<'a>(&self, versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        versions
            .into_iter()
            .filter_map(|text| {
                let parsed = parse_version(text)?;
                self.alternatives
                    .iter()
                    .any(|r| r.matches(&parsed))
                    .then_some((parsed, text))
            })
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, text)| text)
    }

    /// The constraint as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A version as Helm accepts one: a leading `v`, and `1.2` read as `1.2.0`.
pub fn parse_version(text: &str) -> Option<semver::Version> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    if let Ok(v) = semver::Version::parse(text) {
        return Some(v);
    }
    let (core, rest) = match text.find(['-', '+']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let dots = core.matches('.').count();
    let padded = match dots {
        0 => format!("{core}.0.0{rest}"),
        1 => format!("{core}.0{rest}"),
        _ => return None,
    };
    semver::Version::parse(&padded).ok()
}

//! `spec.referrers`: which kinds of referrers (signatures, attestations, SBOMs, others)
//! travel with the images, for the whole release and per image by reference glob. The model
//! and its check; what the kinds mean and which apply to an image is `crate::referrers`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `spec.referrers`: which kinds of referrers travel, for every image and per image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferrersSpec {
    /// Kinds to carry (default `[signatures, attestations]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<ReferrerClass>>,
    /// Kinds to leave out, after `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<ReferrerClass>,
    /// Per image, by reference glob (`registry.test/team/*`): a rule over the release's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, ReferrerRule>,
}

/// A per-image referrer rule (`spec.referrers.images."<glob>"`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferrerRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<ReferrerClass>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<ReferrerClass>,
}

/// A kind of referrer as `spec.referrers` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferrerClass {
    Signatures,
    Attestations,
    Sboms,
    Others,
    All,
}

impl ReferrersSpec {
    /// Every per-image pattern is a valid glob; else the pattern and what is wrong.
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        for pattern in self.images.keys() {
            glob::Pattern::new(pattern).map_err(|e| {
                (
                    pattern.clone(),
                    format!("spec.referrers.images: `{pattern}` is not a valid glob: {e}"),
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::{parse, GOOD as BASE};

    #[test]
    fn referrer_kinds_are_checked_with_line_and_column() {
        let text = format!("{BASE}  referrers:\n    include: [signatures, sbom]\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("m.yaml:11:27: spec.referrers.include[1]: unknown variant `sbom`"),
            "{err}"
        );
        let text = format!(
            "{BASE}  referrers:\n    include: [all]\n    images:\n      \"registry.test/*\": {{exclude: [sboms]}}\n"
        );
        let release = parse(&text).unwrap();
        let spec = release.spec.referrers.unwrap();
        assert_eq!(spec.include, Some(vec![ReferrerClass::All]));
        assert_eq!(
            spec.images["registry.test/*"].exclude,
            [ReferrerClass::Sboms]
        );
        let text = format!(
            "{BASE}  referrers:\n    images:\n      \"registry.test/[a\": {{exclude: [sboms]}}\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "m.yaml:12:8: spec.referrers.images: `registry.test/[a` is not a valid glob"
            ),
            "{err}"
        );
        // No `referrers:` leaves the canonical form (and so every lockfile) as it was.
        assert!(
            !String::from_utf8(serde_json::to_vec(&parse(BASE).unwrap()).unwrap())
                .unwrap()
                .contains("referrers")
        );
    }
}

//! The host's dnf/yum repository files (`/etc/yum.repos.d/*.repo`): ini sections, one per
//! repository, read as dnf does for what outpost needs — `baseurl` (the first URL when
//! several are listed), `enabled`, `gpgcheck`, `repo_gpgcheck`, `gpgkey` (URLs separated by
//! whitespace or commas) and `name`. A repository without a `baseurl` (mirrorlist or
//! metalink only) is reported as unusable rather than silently dropped.

/// One `[id]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFileEntry {
    pub id: String,
    /// The file it is in (for messages).
    pub file: String,
    pub baseurl: Option<String>,
    pub enabled: bool,
    pub gpgcheck: bool,
    pub repo_gpgcheck: bool,
    pub gpgkeys: Vec<String>,
}

fn boolean(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "yes" | "true" | "on"
    )
}

/// Parses one `.repo` file (`file` names it in entries). Lines outside a section, and
/// lines that are not `key=value`, are errors naming the line.
pub fn parse(file: &str, text: &str) -> Result<Vec<RepoFileEntry>, String> {
    let mut entries: Vec<RepoFileEntry> = Vec::new();
    let mut last_key = String::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(id) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            entries.push(RepoFileEntry {
                id: id.trim().to_string(),
                file: file.to_string(),
                baseurl: None,
                enabled: true,
                gpgcheck: false,
                repo_gpgcheck: false,
                gpgkeys: Vec::new(),
            });
            last_key.clear();
            continue;
        }
        let Some(entry) = entries.last_mut() else {
            return Err(format!(
                "{file}:{}: `{trimmed}` is outside a [repository] section",
                number + 1
            ));
        };
        // A continuation line (leading whitespace) adds to the previous key's value.
        let (key, value) = if line.starts_with([' ', '\t']) && !last_key.is_empty() {
            (last_key.clone(), trimmed.to_string())
        } else {
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(format!(
                    "{file}:{}: `{trimmed}` is not `key=value`",
                    number + 1
                ));
            };
            (key.trim().to_ascii_lowercase(), value.trim().to_string())
        };
        let urls = || {
            value
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        match key.as_str() {
            "baseurl" if entry.baseurl.is_none() => entry.baseurl = urls().into_iter().next(),
            "enabled" => entry.enabled = boolean(&value),
            "gpgcheck" => entry.gpgcheck = boolean(&value),
            "repo_gpgcheck" => entry.repo_gpgcheck = boolean(&value),
            "gpgkey" => entry.gpgkeys.extend(urls()),
            _ => {}
        }
        last_key = key;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sections_give_repositories_with_their_checks_and_keys() {
        let text = "# Rocky\n[baseos]\nname=Rocky $releasever - BaseOS\nbaseurl=http://dl.test/$releasever/BaseOS/$basearch/os/\n        http://mirror2.test/\ngpgcheck=1\nrepo_gpgcheck = 0\nenabled=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9, file:///etc/pki/k2\n\n[extras]\nmirrorlist=https://m.test/?repo=extras\nenabled=0\n";
        let entries = super::parse("rocky.repo", text).unwrap();
        assert_eq!(entries.len(), 2);
        let baseos = &entries[0];
        assert_eq!(baseos.id, "baseos");
        assert_eq!(
            baseos.baseurl.as_deref(),
            Some("http://dl.test/$releasever/BaseOS/$basearch/os/")
        );
        assert!(baseos.gpgcheck && !baseos.repo_gpgcheck && baseos.enabled);
        assert_eq!(baseos.gpgkeys.len(), 2);
        assert!(!entries[1].enabled && entries[1].baseurl.is_none());
        assert!(super::parse("x.repo", "baseurl=http://x\n").is_err());
        assert!(super::parse("x.repo", "[a]\nnonsense\n").is_err());
    }
}

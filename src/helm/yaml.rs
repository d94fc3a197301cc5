//! YAML from charts and chart repositories (hostile input), parsed with a bound on alias
//! expansion: serde_norway limits how often aliases are followed, not how much they expand,
//! so a few hundred bytes of `&x [a, a, …]` and `*x` lines could make gigabytes of values.
//! Each alias can expand to at most the whole document, so a document of `len` bytes with
//! `n` aliases expands to at most `n × len` bytes: that product is bounded.

use serde::de::DeserializeOwned;

/// The most bytes a document's aliases may stand for (`aliases × document bytes`).
pub const MAX_ALIAS_EXPANSION: usize = 16 << 20;

/// Parses `text`, refusing a document whose aliases could expand past
/// [`MAX_ALIAS_EXPANSION`]; the error says why.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    check_aliases(text)?;
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

/// Like [`from_str`], for bytes (which must be UTF-8).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    from_str(text)
}

/// Fails when the aliases of `text` could expand past the bound.
pub fn check_aliases(text: &str) -> Result<(), String> {
    let aliases = count_aliases(text);
    if aliases.saturating_mul(text.len()) > MAX_ALIAS_EXPANSION {
        return Err(format!(
            "{aliases} YAML aliases in {} bytes could expand past {MAX_ALIAS_EXPANSION} bytes; refused",
            text.len()
        ));
    }
    Ok(())
}

/// The `*name` alias tokens of `text`, outside quoted scalars and comments (an over-count
/// at worst: a `*word` inside a block scalar counts too).
fn count_aliases(text: &str) -> usize {
    let mut count = 0;
    for line in text.lines() {
        let mut previous = ' ';
        let mut quote: Option<char> = None;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '#' && previous.is_whitespace() => break,
                None if c == '*'
                    && (previous.is_whitespace() || "[{,:-".contains(previous))
                    && chars
                        .peek()
                        .is_some_and(|n| n.is_alphanumeric() || *n == '_' || *n == '-') =>
                {
                    count += 1
                }
                None => {}
            }
            previous = c;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_outside_quotes_and_comments() {
        assert_eq!(count_aliases("a: &x [1]\nb: *x\nc: [*x, *x]\n"), 3);
        assert_eq!(count_aliases("a: \"*x\"\nb: '*y' # *z\nc: 2 * 3\n"), 0);
    }

    #[test]
    fn an_alias_bomb_is_refused_and_ordinary_anchors_pass() {
        let mut bomb = format!("big: &x [{}]\nmany:\n", vec!["a"; 20_000].join(","));
        for _ in 0..20_000 {
            bomb.push_str("  - *x\n");
        }
        let err = from_str::<serde_json::Value>(&bomb).unwrap_err();
        assert!(err.contains("20000 YAML aliases"), "{err}");
        let fine: serde_json::Value =
            from_str("base: &b {tag: \"1\"}\none: *b\ntwo: *b\n").unwrap();
        assert_eq!(fine["two"]["tag"], "1");
    }
}

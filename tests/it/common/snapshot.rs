//! Filters for whole-output snapshots (`insta`): what varies from run to run (temporary
//! directories, loopback ports, digests of content that embeds them) is replaced by a
//! placeholder, so a snapshot holds exactly the text a user reads. Not for choosing what to
//! snapshot: each test module decides that.

/// Settings with the filters every snapshot needs: a test's temporary directory becomes
/// `[TEMP]`, any other path in the temporary directory `[TMPDIR]/…`, and loopback ports
/// `[PORT]`. Bind them with `let _filters = snapshot_settings().bind_to_scope();`.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let temp = std::env::temp_dir();
    let temp = escape(temp.to_str().unwrap().trim_end_matches('/'));
    settings.add_filter(&format!(r"{temp}/\.tmp[A-Za-z0-9]+"), "[TEMP]");
    settings.add_filter(&format!(r"{temp}/"), "[TMPDIR]/");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings
}

/// Like [`snapshot_settings`], also replacing every sha256 digest with `sha256:[DIGEST]`
/// (for content whose digest changes with the ports and paths it embeds).
pub fn snapshot_settings_without_digests() -> insta::Settings {
    let mut settings = snapshot_settings();
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings
}

/// `text` with the characters a regular expression treats specially escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

//! `outpost bundle diff OLD NEW`: opens each side (a bundle, a lockfile, or a release in a
//! site store, `store:DIR/NAME/VERSION`), reads the lockfile a bundle carries once its
//! signature holds, and prints `outpost::bundle::diff` as text, JSON or Markdown.

use super::print_json;
use super::CommandError;
use crate::cli::args::{DiffArgs, TrustArgs};
use crate::cli::exit::CliError;
use outpost::bundle::diff::{self, Side};
use outpost::bundle::diff_render;
use outpost::bundle::open::OpenBundle;
use outpost::bundle::upstream::carried_lockfile;
use outpost::lock::Lockfile;
use outpost::sign::Verifier;
use outpost::sitestore::SiteStore;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

/// The prefix that names a release in a site store.
const STORE_PREFIX: &str = "store:";

pub fn diff(args: &DiffArgs) -> Result<(), CliError> {
    let trust = Keys::new(&args.trust);
    let old = open_side(&args.old, &trust)?;
    let new = open_side(&args.new, &trust)?;
    let found = diff::diff(&old, &new);
    if args.json {
        print_json(&serde_json::to_value(&found).unwrap_or_default());
    } else if args.markdown {
        print!("{}", diff_render::markdown(&found));
    } else {
        print!("{}", diff_render::text(&found));
    }
    Ok(())
}

/// The verifier, loaded the first time a bundle or stored release needs it (two lockfiles
/// need no key).
struct Keys<'a> {
    args: &'a TrustArgs,
    verifier: OnceCell<Option<Verifier>>,
}

impl<'a> Keys<'a> {
    fn new(args: &'a TrustArgs) -> Self {
        Keys {
            args,
            verifier: OnceCell::new(),
        }
    }

    fn get(&self) -> Result<Option<&Verifier>, CliError> {
        if let Some(loaded) = self.verifier.get() {
            return Ok(loaded.as_ref());
        }
        let loaded = if self.args.insecure_skip_verify {
            eprintln!("WARNING: --insecure-skip-verify: the bundles' signatures are NOT checked");
            None
        } else {
            Some(Verifier::load(&self.args.key.key)?)
        };
        Ok(self.verifier.get_or_init(|| loaded).as_ref())
    }
}

/// One side of the diff, however it was named.
fn open_side(source: &str, keys: &Keys) -> Result<Side, CliError> {
    if let Some(spec) = source.strip_prefix(STORE_PREFIX) {
        let (dir, name, version) =
            parse_store_spec(spec).ok_or_else(|| CommandError::DiffSide(source.to_string()))?;
        let site = SiteStore::open(&dir)?;
        let release = site
            .releases()?
            .into_iter()
            .rev()
            .find(|r| r.name == name && r.version == version)
            .ok_or_else(|| CommandError::NoStoredRelease {
                store: dir.display().to_string(),
                name: name.clone(),
                version: version.clone(),
            })?;
        let opened = site.open_release(&release, keys.get()?)?;
        return from_bundle(source, &opened);
    }
    let path = Path::new(source);
    if source.ends_with(".lock") {
        return Ok(Side {
            source: source.to_string(),
            lock: Lockfile::load(path)?,
            index_digest: None,
            blobs: None,
        });
    }
    if !path.exists() {
        return Err(CommandError::DiffSide(source.to_string()).into());
    }
    let opened = OpenBundle::open(path, keys.get()?)?;
    from_bundle(source, &opened)
}

fn from_bundle(source: &str, opened: &OpenBundle) -> Result<Side, CliError> {
    let lock =
        carried_lockfile(opened)?.ok_or_else(|| CommandError::NoLockfile(source.to_string()))?;
    Ok(Side {
        source: source.to_string(),
        lock,
        index_digest: Some(opened.index_digest.clone()),
        blobs: Some(
            opened
                .blobs
                .iter()
                .map(|(digest, location)| (digest.clone(), location.size))
                .collect(),
        ),
    })
}

/// `DIR/NAME/VERSION` → its three parts (DIR may itself hold slashes); none when a part is
/// empty.
fn parse_store_spec(spec: &str) -> Option<(PathBuf, String, String)> {
    let mut parts = spec.rsplitn(3, '/');
    let version = parts.next()?;
    let name = parts.next()?;
    let dir = parts.next()?;
    if version.is_empty() || name.is_empty() || dir.is_empty() {
        return None;
    }
    Some((PathBuf::from(dir), name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_store_spec;
    use std::path::PathBuf;

    #[test]
    fn store_spec() {
        assert_eq!(
            parse_store_spec("/srv/site/edge/1.2"),
            Some((PathBuf::from("/srv/site"), "edge".into(), "1.2".into()))
        );
        assert_eq!(
            parse_store_spec("site/edge/1.2"),
            Some((PathBuf::from("site"), "edge".into(), "1.2".into()))
        );
        assert_eq!(parse_store_spec("edge/1.2"), None);
        assert_eq!(parse_store_spec("site/edge/"), None);
    }
}

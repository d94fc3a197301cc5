//! `outpost bundle join`: reassemble a split bundle into one tar, checking every part.

use super::{mib, CommandError};
use crate::cli::args::JoinArgs;
use crate::cli::exit::CliError;
use outpost::bundle::parts::{self, BundleFile};

pub fn join(args: &JoinArgs) -> Result<(), CliError> {
    let bundle = BundleFile::open(&args.bundle)?;
    let (Some(list), Some(list_path)) = (&bundle.parts, &bundle.list_path) else {
        return Err(CommandError::NotSplit(args.bundle.clone()).into());
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| list_path.with_file_name(&list.bundle));
    let bytes = parts::join(&bundle, &out)?;
    println!(
        "joined {} parts into {} ({}); every part matched its sha256",
        bundle.part_count(),
        out.display(),
        mib(bytes)
    );
    Ok(())
}

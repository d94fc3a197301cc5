//! Arguments of the commands that work on a split bundle's parts: `bundle join`,
//! `bundle parity` and `bundle repair`. Data only.

use super::JsonArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The parts list (NAME.parts.json) or any part (NAME.tar.001).
    pub bundle: PathBuf,
    /// Where to write the tar [default: NAME.tar beside the parts].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ParityArgs {
    /// The parts list (NAME.parts.json) or any part (NAME.tar.001).
    pub bundle: PathBuf,
    /// How many parity parts to write (1-255); replaces any the bundle had.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..))]
    pub parity: u8,
    #[command(flatten)]
    pub json: JsonArgs,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The parts list (NAME.parts.json) or any part (NAME.tar.001).
    pub bundle: PathBuf,
    #[command(flatten)]
    pub json: JsonArgs,
}

//! `outpost bundle parity` (add Reed-Solomon parity parts to a split bundle) and
//! `outpost bundle repair` (rebuild lost or damaged parts in place from them).

use super::{mib, print_json, CommandError};
use crate::cli::args::{ParityArgs, RepairArgs};
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use outpost::bundle::parts::{self, PartsError};
use outpost::progress::Reporter;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The parts list of the split bundle `path` names; a whole tar is refused.
pub(super) fn split_list(path: &Path) -> Result<PathBuf, CliError> {
    parts::locate_list(path)?.ok_or_else(|| CommandError::NotSplit(path.to_path_buf()).into())
}

pub fn parity(args: &ParityArgs) -> Result<(), CliError> {
    let list_path = split_list(&args.bundle)?;
    let bars = Bars::new(args.json.json);
    let list = parts::add_parity(&list_path, usize::from(args.parity), &bars)?;
    bars.finish();
    let written = list.parity.as_ref().map_or(&[][..], |p| &p.parts[..]);
    if args.json.json {
        print_json(&json!({
            "list": list_path,
            "data_parts": list.parts.len(),
            "parity": list.parity,
        }));
    } else {
        let size = written.first().map_or(0, |p| p.size);
        println!(
            "parity: {} of {} each over {} data parts, recorded in {}; any {} lost or damaged parts can be rebuilt with `outpost bundle repair {}`",
            outpost::errors::plural(written.len() as u64, "part"),
            mib(size),
            list.parts.len(),
            list_path.display(),
            written.len(),
            list_path.display()
        );
        for part in written {
            println!("  {}", part.name);
        }
    }
    Ok(())
}

pub fn repair(args: &RepairArgs) -> Result<(), CliError> {
    let list_path = split_list(&args.bundle)?;
    let bars = Bars::new(args.json.json);
    let result = parts::repair(&list_path, &bars);
    bars.finish();
    let report = match result {
        Ok(report) => report,
        Err(PartsError::Unhealthy(survey)) => {
            if args.json.json {
                print_json(&json!({
                    "list": list_path,
                    "ok": false,
                    "repairable": false,
                    "data_parts": survey.data,
                    "parity_parts": survey.parity,
                    "parts": survey.parts,
                }));
            }
            return Err(PartsError::Unhealthy(survey).into());
        }
        Err(e) => return Err(e.into()),
    };
    if args.json.json {
        print_json(&json!({
            "list": list_path,
            "ok": true,
            "rebuilt": report.rebuilt,
            "parts": report.survey.parts,
        }));
    } else if report.rebuilt.is_empty() {
        println!("nothing to repair: {}", report.survey.summary());
    } else {
        println!(
            "repaired {} of {}+{}, each matching its sha256 in {}:",
            outpost::errors::plural(report.rebuilt.len() as u64, "part"),
            report.survey.data,
            report.survey.parity,
            list_path.display()
        );
        for path in &report.rebuilt {
            println!("  {}", path.display());
        }
    }
    Ok(())
}

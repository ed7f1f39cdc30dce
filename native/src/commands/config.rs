//! `config` (print or save an example, or a config's workload hash) and `validate`.

use crate::cli::{ConfigArgs, ValidateArgs};
use crate::export;
use crate::plan::usage;
use crate::settings::{self, Resolved};
use anyhow::Result;
use cpbench_core::config::{Mode, example_yaml};
use std::path::Path;

/// Exit code of `validate` for a file that is not a valid config (a configuration error,
/// like every other: 2).
const EXIT_INVALID: i32 = 2;

/// `config`: the example config, or `--hash FILE`'s workload hash; exit code 0.
pub(super) fn config(a: &ConfigArgs) -> Result<i32> {
    if let Some(path) = &a.hash {
        let mut c = settings::read_config_file(path).map_err(|e| usage(format!("{e:#}")))?;
        if let Some(s) = a.seed {
            c.seed = s;
        }
        c.validate()
            .map_err(|e| usage(format!("{}: invalid configuration:\n{e}", path.display())))?;
        let r = Resolved {
            config: c,
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let w = settings::workload(&r).map_err(|e| usage(format!("{e:#}")))?;
        println!("{}", w.hash());
        return Ok(0);
    }
    let text = example_yaml(Mode::from(a.mode));
    match &a.output {
        Some(p) => {
            export::write_atomic(p, text.as_bytes())?;
            eprintln!("Wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}

/// `validate FILE`: every problem at once, each naming the field, and the workload's hash;
/// exit code 0 when valid, 2 when not.
pub(super) fn validate(a: &ValidateArgs) -> Result<i32> {
    let c = match settings::read_config_file(&a.file) {
        Ok(c) => c,
        Err(e) => {
            println!("{e:#}");
            return Ok(EXIT_INVALID);
        }
    };
    if let Some(m) = a.mode {
        let mode = Mode::from(m);
        if c.mode != mode {
            println!(
                "{}: mode is {} in the file but --mode {} was given",
                a.file.display(),
                c.mode,
                mode
            );
            return Ok(EXIT_INVALID);
        }
    }
    let checked = if a.reference {
        c.validate_for_reference()
    } else {
        c.validate()
    };
    if let Err(e) = checked {
        println!(
            "{}: {} problem(s):\n{e}",
            a.file.display(),
            e.problems.len()
        );
        return Ok(EXIT_INVALID);
    }
    let r = Resolved {
        config: c,
        base_dir: a.file.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let w = match settings::workload(&r) {
        Ok(w) => w,
        Err(e) => {
            println!("{}: {e:#}", a.file.display());
            return Ok(EXIT_INVALID);
        }
    };
    println!("{}: valid ({} mode)", a.file.display(), r.config.mode);
    println!(
        "workload: {} measured + {} warmup requests over {:.1} s, seed {}, hash {}",
        w.requests.len(),
        w.warmup.len(),
        w.duration_us() as f64 / 1e6,
        r.config.seed,
        w.hash()
    );
    Ok(0)
}

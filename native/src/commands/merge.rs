//! `merge SHARD_RESULT... -o DIR`: the shard results of one sharded invocation into one
//! result of the same form as an unsharded run's ([`crate::shard::merge`]), with the shards'
//! records files concatenated into one where their format allows it.

use crate::cli::MergeArgs;
use crate::export;
use crate::export::records::{Format, TempPath};
use crate::plan::usage;
use crate::shard::merge::{self, ShardInput};
use anyhow::{Context, Result};
use cpbench_core::report::{RecordsFile, Report};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The result files to merge: each file named, and in each folder named the `report_*.json`
/// files in it and in its subfolders (one level down: `DIR/shard-3/report_….json`), sorted;
/// `true` for a file named on the command line.
fn input_paths(args: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            out.push((arg.clone(), true));
            continue;
        }
        let mut found = Vec::new();
        let mut folders = vec![(arg.clone(), 0)];
        while let Some((dir, depth)) = folders.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| usage(format!("{}: cannot read the folder: {e}", dir.display())))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() && depth == 0 {
                    folders.push((path, 1));
                } else if name.starts_with("report_") && name.ends_with(".json") && path.is_file() {
                    found.push(path);
                }
            }
        }
        if found.is_empty() {
            return Err(usage(format!(
                "{}: no result file (report_*.json) in the folder or its subfolders",
                arg.display()
            )));
        }
        found.sort();
        out.extend(found.into_iter().map(|p| (p, false)));
    }
    Ok(out)
}

/// Reads, checks and merges the shard results, writes the merged one; exit code 0.
pub(super) fn merge(a: &MergeArgs) -> Result<i32> {
    let mut inputs = Vec::new();
    let mut paths = Vec::new();
    for (path, named) in input_paths(&a.inputs)? {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| usage(format!("{}: cannot read it: {e}", path.display())))?;
        let report = Report::from_json(&text)
            .map_err(|e| usage(format!("{}: not a result file: {e}", path.display())))?;
        if !named && report.shard.is_none() {
            // Found in a folder: a merged or unsharded result beside the shards' is not one.
            continue;
        }
        paths.push(path.clone());
        inputs.push(ShardInput {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            report,
        });
    }
    // Two inputs of one name in different folders: name them by their path instead.
    let mut names: Vec<&String> = inputs.iter().map(|i| &i.name).collect();
    names.sort();
    names.dedup();
    if names.len() < inputs.len() {
        for (i, p) in inputs.iter_mut().zip(&paths) {
            i.name = p.display().to_string();
        }
    }
    let folders: Vec<(u32, PathBuf)> = inputs
        .iter()
        .zip(&paths)
        .map(|(i, p)| {
            let index = i.report.shard.as_ref().map_or(0, |s| s.index);
            (index, p.parent().unwrap_or(Path::new(".")).to_path_buf())
        })
        .collect();
    let shard_records: Vec<(u32, Option<RecordsFile>)> = inputs
        .iter()
        .map(|i| {
            (
                i.report.shard.as_ref().map_or(0, |s| s.index),
                i.report.records_csv.clone(),
            )
        })
        .collect();
    let parquet_shards = inputs
        .iter()
        .filter(|i| {
            i.report
                .records_file
                .as_ref()
                .is_some_and(|f| f.format == Format::Parquet.name())
        })
        .count();
    let mut report = merge::merge(inputs)?;
    if parquet_shards > 0 {
        report.environment.notes.push(format!(
            "the records stay in the shards' Parquet files ({parquet_shards} of them, named in merged_from), which readers take together, e.g. DuckDB's read_parquet('shard-*/requests_*.parquet'); with --records-csv the shards' CSV files are concatenated into one"
        ));
    }
    export::prepare_output_dir(&a.output).map_err(|e| usage(format!("--output: {e:#}")))?;
    let stem = export::free_stem(
        &a.output,
        &format!("{}-merged", export::file_stamp(&report.created_at)),
    )?;
    let mut written = Vec::new();
    if let Some(path) = records(&mut report, &a.output, &stem, &shard_records, &folders)? {
        written.push(path);
    }
    let path = a.output.join(format!("report_{stem}.json"));
    let pretty = a.pretty;
    let json = |w: &mut dyn Write| {
        if pretty {
            serde_json::to_writer_pretty(&mut *w, &report)?;
        } else {
            serde_json::to_writer(&mut *w, &report)?;
        }
        w.write_all(b"\n")
    };
    if !export::write_atomic_new_with(&path, json)? {
        anyhow::bail!("{} exists already", path.display());
    }
    written.insert(0, path);
    if !a.no_visualize {
        written.extend(export::visualize::write(
            &report,
            &a.output,
            export::visualize::Formats::ALL,
            Path::new("."),
            Some(&stem),
        )?);
    }
    println!("{}", export::table::render(&report));
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for p in &written {
        println!("Wrote {}", p.display());
    }
    Ok(0)
}

/// The shards' CSV records files (`--records-csv`), concatenated into `requests_<stem>.csv`
/// when every shard has one with the same header (the report's `records_csv` then names it);
/// otherwise they stay where they are, each shard's records named in `merged_from`, and a note
/// says why. (Parquet files stay per shard: readers of Parquet take several files at once.)
fn records(
    report: &mut Report,
    dir: &Path,
    stem: &str,
    shards: &[(u32, Option<RecordsFile>)],
    folders: &[(u32, PathBuf)],
) -> Result<Option<PathBuf>> {
    if shards.iter().all(|(_, f)| f.is_none()) {
        return Ok(None);
    }
    let mut files = Vec::new();
    for ((index, f), (_, folder)) in shards.iter().zip(folders) {
        match f {
            Some(f) if f.format == Format::Csv.name() => {
                files.push((*index, folder.join(&f.name), f.rows));
            }
            Some(f) => {
                report.environment.notes.push(format!(
                    "records files in format {} are not concatenated: each shard's is named in merged_from",
                    f.format
                ));
                return Ok(None);
            }
            None => {
                report.environment.notes.push(format!(
                    "shard {index} has no records file: the shards' records files are not concatenated (each is named in merged_from)"
                ));
                return Ok(None);
            }
        }
    }
    files.sort_by_key(|(i, _, _)| *i);
    let rows: u64 = files.iter().map(|(_, _, n)| n).sum();
    let (tmp, mut out) = TempPath::create(dir, Format::Csv)?;
    let mut header: Option<String> = None;
    for (index, f, _) in &files {
        let mut r = BufReader::new(
            std::fs::File::open(f).with_context(|| format!("reading {}", f.display()))?,
        );
        let mut head = String::new();
        r.read_line(&mut head)
            .with_context(|| format!("reading {}", f.display()))?;
        match &header {
            None => {
                out.write_all(head.as_bytes())?;
                header = Some(head);
            }
            Some(h) if *h != head => {
                report.environment.notes.push(format!(
                    "the shards' records files were not concatenated (shard {index}'s records file has another header): each is named in merged_from"
                ));
                return Ok(None);
            }
            Some(_) => {}
        }
        std::io::copy(&mut r, &mut out).with_context(|| format!("copying {}", f.display()))?;
    }
    let finished = tmp.finish(out, rows, Format::Csv)?;
    let name = Format::Csv.file_name(stem);
    let path = dir.join(&name);
    if !finished.link_new(&path)? {
        anyhow::bail!("{} exists already", path.display());
    }
    report.records_csv = Some(finished.describe(&name));
    report.environment.notes.push(
        "the CSV records file holds the shards' CSV records files one after the other (shard 0 first)"
            .into(),
    );
    Ok(Some(path))
}

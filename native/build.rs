//! Builds the browser viewer into the binary when it has been built: `www/build.sh` writes
//! `www/dist/` (or `CPBENCH_VIEWER_DIST` names another folder), and this script generates
//! `$OUT_DIR/viewer_bundle.rs`, which `include_bytes!`s the files the single-file HTML report
//! needs (the viewer's styles, its wasm-bindgen glue and JS snippets, its wasm, gzipped when
//! `www/build.sh` wrote `cpbench_viewer_bg.wasm.gz`). Without a built viewer the constant it
//! defines says why, and the HTML report is the static one: a plain `cargo build` needs no
//! wasm toolchain.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let www = manifest.join("..").join("www");
    // A folder is scanned for changes to any file under it: building the bundle (or removing
    // it) after the binary makes the next build embed it.
    println!("cargo:rerun-if-changed={}", www.display());
    println!("cargo:rerun-if-env-changed=CPBENCH_VIEWER_DIST");
    let dist = match env::var_os("CPBENCH_VIEWER_DIST") {
        Some(d) => {
            let d = PathBuf::from(d);
            println!("cargo:rerun-if-changed={}", d.display());
            d
        }
        None => www.join("dist"),
    };
    let code = match bundle(&dist, &manifest.join("..")) {
        Ok(code) => code,
        Err(why) => {
            println!(
                "cargo:warning=the HTML reports will be static (no embedded viewer): {why}; run www/build.sh, then build again"
            );
            format!("const BUNDLE: Result<Bundle, &str> = Err({why:?});\n")
        }
    };
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("viewer_bundle.rs");
    fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// The generated code of a complete bundle in `dist`, or why there is none (paths in the
/// workspace `root` named relative to it).
fn bundle(dist: &Path, root: &Path) -> Result<String, String> {
    let pkg = dist.join("pkg");
    let need = |p: PathBuf| -> Result<String, String> {
        if p.is_file() {
            let abs = fs::canonicalize(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(abs.to_string_lossy().into_owned())
        } else {
            Err(format!(
                "{} not found",
                p.strip_prefix(root).unwrap_or(&p).display()
            ))
        }
    };
    let styles = need(dist.join("styles.css"))?;
    let glue_path = need(pkg.join("cpbench_viewer.js"))?;
    let glue = fs::read_to_string(&glue_path).map_err(|e| format!("{glue_path}: {e}"))?;
    let gz = pkg.join("cpbench_viewer_bg.wasm.gz");
    let (wasm, gzip) = match need(gz) {
        Ok(p) => (p, true),
        Err(_) => (need(pkg.join("cpbench_viewer_bg.wasm"))?, false),
    };
    let mut snippets = Vec::new();
    collect_js(&pkg.join("snippets"), &mut snippets);
    snippets.sort();
    let mut items = String::new();
    for s in &snippets {
        let rel = s
            .strip_prefix(&pkg)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let spec = format!("./{rel}");
        if !glue.contains(&format!("'{spec}'")) && !glue.contains(&format!("\"{spec}\"")) {
            return Err(format!(
                "{glue_path} does not import {spec}: rebuild the bundle"
            ));
        }
        let abs = need(s.clone())?;
        items.push_str(&format!("        ({spec:?}, include_str!({abs:?})),\n"));
    }
    Ok(format!(
        "const BUNDLE: Result<Bundle, &str> = Ok(Bundle {{\n    styles: include_str!({styles:?}),\n    glue: include_str!({glue_path:?}),\n    snippets: &[\n{items}    ],\n    wasm: include_bytes!({wasm:?}),\n    wasm_gzip: {gzip},\n}});\n"
    ))
}

/// Every `.js` file under `dir`.
fn collect_js(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_js(&p, out);
        } else if p.extension().is_some_and(|x| x == "js") {
            out.push(p);
        }
    }
}

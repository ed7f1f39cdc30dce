//! Result files never replace one another and never land outside their folder.

use super::*;

/// Five runs stamped with the same time (`SOURCE_DATE_EPOCH`), started together into one
/// folder, leave five result files: `<stamp>.json`, `<stamp>-2.json`, ... each holding its
/// own run (told apart by its seed).
#[test]
fn same_second_results_get_distinct_names_and_none_is_overwritten() {
    let dir = temp_dir("same-stamp");
    let children: Vec<Child> = (1..=5)
        .map(|seed| {
            bin()
                .env("SOURCE_DATE_EPOCH", "1764300000")
                .args(["simulate", "-n", "20", "-q", "--no-visualize", "--seed"])
                .arg(seed.to_string())
                .arg("-o")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_code(&out, 0);
    }
    let names: Vec<String> = reports_in(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let stamp = "20251128T032000Z";
    let expected: Vec<String> = [
        format!("report_{stamp}-2.json"),
        format!("report_{stamp}-3.json"),
        format!("report_{stamp}-4.json"),
        format!("report_{stamp}-5.json"),
        format!("report_{stamp}.json"),
    ]
    .into();
    assert_eq!(names, expected);
    let mut seeds: Vec<u64> = reports_in(&dir)
        .iter()
        .map(|p| read_report(p).seed)
        .collect();
    seeds.sort();
    assert_eq!(seeds, vec![1, 2, 3, 4, 5], "every run kept its own file");
    // Each JSON has the records file of the same name.
    for n in &names {
        let stem = n.trim_start_matches("report_").trim_end_matches(".json");
        assert!(
            dir.join(format!("requests_{stem}.parquet")).exists(),
            "{stem}"
        );
    }
}

/// A result file whose `created_at` is a path (`/../../../X`) is visualized inside the
/// output folder, under a name made of the letters it holds.
#[test]
fn visualize_writes_only_inside_its_output_folder() {
    let root = temp_dir("visualize-escape");
    let made = root.join("made");
    let out = output(
        bin()
            .args(["simulate", "-n", "20", "-q", "--no-visualize", "-o"])
            .arg(&made),
    );
    assert_code(&out, 0);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reports_in(&made)[0]).unwrap()).unwrap();
    json["created_at"] = serde_json::json!("/../../../X");
    let input = root.join("hostile.json");
    std::fs::write(&input, json.to_string()).unwrap();
    let inside = root.join("a").join("b").join("out");
    let out = output(
        bin()
            .arg("visualize")
            .arg("-i")
            .arg(&input)
            .arg("-o")
            .arg(&inside),
    );
    assert_code(&out, 0);
    // Everything under root is what the test made, or inside the output folder.
    let mut stray = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.starts_with(&inside) || p.starts_with(&made) || p == input {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                stray.push(p);
            }
        }
    }
    assert_eq!(stray, Vec::<PathBuf>::new(), "files written outside");
    for f in ["report_X.html", "report_X.md", "charts_X"] {
        assert!(
            inside.join(f).exists(),
            "{f} missing in {}",
            inside.display()
        );
    }
}

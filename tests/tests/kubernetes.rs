//! The Kubernetes manifests in `deploy/kubernetes` run real command lines: the Job's and the
//! merge Job's arguments, with the ConfigMap's values and each completion index put in, parse
//! with the tool's own command line, and the Job has one pod per shard. (Their schemas are
//! checked by the test command with `kubernetes-validate`.)

use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn manifest(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_str()
        .unwrap_or_else(|| panic!("{} is not a string", path.join(".")))
}

/// The ConfigMap's data.
fn run_config() -> BTreeMap<String, String> {
    let cm = manifest("configmap.yaml");
    assert_eq!(str_at(&cm, &["metadata", "name"]), "sage-cp-bench-run");
    serde_yaml_ng::from_value(cm["data"].clone()).expect("string data")
}

/// The container's environment for completion index `index`: ConfigMap keys resolved, the
/// completion index from the pod's annotation, optional secrets left out.
fn environment(
    container: &Value,
    data: &BTreeMap<String, String>,
    index: u64,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in container["env"].as_sequence().into_iter().flatten() {
        let name = str_at(var, &["name"]).to_owned();
        let from = &var["valueFrom"];
        if let Some(key) = from["configMapKeyRef"]["key"].as_str() {
            assert_eq!(
                str_at(from, &["configMapKeyRef", "name"]),
                "sage-cp-bench-run"
            );
            let value = data
                .get(key)
                .unwrap_or_else(|| panic!("{name}: no key {key} in the ConfigMap"));
            env.insert(name, value.clone());
        } else if let Some(field) = from["fieldRef"]["fieldPath"].as_str() {
            assert_eq!(
                field,
                "metadata.annotations['batch.kubernetes.io/job-completion-index']"
            );
            env.insert(name, index.to_string());
        } else {
            assert!(
                from["secretKeyRef"]["optional"].as_bool() == Some(true),
                "{name}: only optional secrets"
            );
        }
    }
    env
}

/// `args` with every `$(VAR)` replaced from `env` (Kubernetes' expansion).
fn expand(args: &Value, env: &BTreeMap<String, String>) -> Vec<String> {
    args.as_sequence()
        .expect("args")
        .iter()
        .map(|a| {
            let mut s = a.as_str().expect("string arg").to_owned();
            for (k, v) in env {
                s = s.replace(&format!("$({k})"), v);
            }
            assert!(!s.contains("$("), "unexpanded variable in {s}");
            s
        })
        .collect()
}

#[test]
fn the_job_runs_one_shard_per_pod_with_a_valid_command_line() {
    let data = run_config();
    let shards: u64 = data["SHARDS"].parse().expect("SHARDS is a number");
    let job = manifest("job.yaml");
    let spec = &job["spec"];
    assert_eq!(str_at(spec, &["completionMode"]), "Indexed");
    assert_eq!(
        spec["completions"].as_u64(),
        Some(shards),
        "completions = SHARDS"
    );
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(shards),
        "parallelism = SHARDS"
    );
    assert_eq!(spec["backoffLimit"].as_u64(), Some(0));
    let container = &spec["template"]["spec"]["containers"][0];
    let mut outputs = Vec::new();
    for index in 0..shards {
        let env = environment(container, &data, index);
        let args = expand(&container["args"], &env);
        assert!(
            args.contains(&format!("--shard={index}/{shards}")),
            "{args:?}"
        );
        let argv = std::iter::once("sage-cp-bench".to_owned()).chain(args.iter().cloned());
        let m = sage_cp_bench::cli::command()
            .try_get_matches_from(argv)
            .unwrap_or_else(|e| panic!("shard {index}: {args:?}: {e}"));
        let (_, sub) = m.subcommand().expect("a subcommand");
        outputs.push(sub.get_one::<PathBuf>("output").cloned());
        // The values the tool checks beyond their syntax: the shard and the start time.
        let shard = sage_cp_bench::plan::shard::parse_shard(&format!(
            "{}/{}",
            env["SHARD_INDEX"], env["SHARDS"]
        ))
        .unwrap_or_else(|e| panic!("--shard: {e}"));
        assert_eq!((u64::from(shard.0), u64::from(shard.1)), (index, shards));
        sage_cp_bench::plan::shard::parse_start_at(&env["START_AT"])
            .unwrap_or_else(|e| panic!("START_AT: {e}"));
    }
    outputs.sort();
    outputs.dedup();
    assert_eq!(
        outputs.len() as u64,
        shards,
        "each shard writes to its own folder"
    );
}

#[test]
fn the_merge_job_runs_a_valid_merge() {
    let job = manifest("merge-job.yaml");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let args = expand(&container["args"], &BTreeMap::new());
    assert_eq!(args[0], "merge");
    let argv = std::iter::once("sage-cp-bench".to_owned()).chain(args.iter().cloned());
    sage_cp_bench::cli::command()
        .try_get_matches_from(argv)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    // Both Jobs mount the same results volume.
    let claim = |j: &Value| {
        str_at(
            &j["spec"]["template"]["spec"]["volumes"][0],
            &["persistentVolumeClaim", "claimName"],
        )
        .to_owned()
    };
    assert_eq!(claim(&job), claim(&manifest("job.yaml")));
    assert_eq!(
        claim(&job),
        str_at(&manifest("pvc.yaml"), &["metadata", "name"])
    );
}

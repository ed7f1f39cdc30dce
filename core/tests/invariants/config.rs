//! Benchmark configs (YAML or JSON) and cluster specs.

use cpbench_core::cluster::{ClusterError, ClusterSpec};
use cpbench_core::config::{BenchmarkConfig, ConfigError, ConfigErrors};

/// Every problem of a failed validation names a field, and says what it found and expects.
fn assert_names_fields(errors: &ConfigErrors, text: &str) {
    assert!(!errors.problems.is_empty(), "an empty error for {text:?}");
    for p in &errors.problems {
        assert!(
            !p.field.trim().is_empty() && !p.expected.trim().is_empty(),
            "a problem without its field or what is expected: {p:?} for {text:?}"
        );
    }
}

/// A config text parses or not without panicking, with either hint or none; a parsed config
/// validates or names its fields; a valid config written as YAML or JSON reads back equal
/// (and valid); `load` agrees with parsing then validating.
pub fn check_config(text: &str) {
    let _ = BenchmarkConfig::given_keys(text);
    for hint in [None, Some("yaml"), Some("json")] {
        let parsed = BenchmarkConfig::from_text(text, hint);
        if let Err(e) = &parsed {
            assert!(
                !e.message.is_empty(),
                "a parse error without a message for {text:?}"
            );
        }
        let loaded = BenchmarkConfig::load(text, hint);
        let Ok(config) = parsed else {
            assert!(matches!(loaded, Err(ConfigError::Parse(_))), "{text:?}");
            continue;
        };
        let _ = config.kinds();
        if let Err(e) = config.validate_for_reference() {
            assert_names_fields(&e, text);
        }
        match config.validate() {
            Err(e) => {
                assert_names_fields(&e, text);
                assert_eq!(loaded, Err(ConfigError::Invalid(e)), "{text:?}");
            }
            Ok(()) => {
                assert_eq!(loaded.as_ref(), Ok(&config), "{text:?}");
                let yaml = config.to_yaml();
                let back = BenchmarkConfig::from_yaml(&yaml)
                    .unwrap_or_else(|e| panic!("{e}: written {yaml:?} from {text:?}"));
                assert_eq!(back, config, "YAML {yaml:?} from {text:?}");
                assert_eq!(back.validate(), Ok(()), "YAML {yaml:?} from {text:?}");
                let json = config.to_json_pretty();
                let back = BenchmarkConfig::from_json(&json)
                    .unwrap_or_else(|e| panic!("{e}: written {json:?} from {text:?}"));
                assert_eq!(back, config, "JSON {json:?} from {text:?}");
            }
        }
    }
}

/// A cluster spec parses and validates, or its error names the field; a valid spec written as
/// YAML reads back equal.
pub fn check_cluster(text: &str) {
    match ClusterSpec::from_yaml(text) {
        Err(ClusterError::InvalidSpec {
            field, expected, ..
        }) => {
            assert!(
                !field.trim().is_empty() && !expected.trim().is_empty(),
                "{text:?}"
            );
        }
        Err(ClusterError::Yaml(message)) => assert!(!message.is_empty(), "{text:?}"),
        Err(other) => panic!("unexpected error {other:?} for {text:?}"),
        Ok(spec) => {
            assert_eq!(spec.validate(), Ok(()));
            let yaml = spec.to_yaml();
            let back = ClusterSpec::from_yaml(&yaml)
                .unwrap_or_else(|e| panic!("{e}: written {yaml:?} from {text:?}"));
            assert_eq!(back, spec, "YAML {yaml:?} from {text:?}");
        }
    }
}

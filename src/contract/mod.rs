//! Pure core of the data contracts (issue: contract_check, contract_violations, dw_staging
//! CONTRACT): the model both contract formats parse into, and the parser. The check engine
//! that evaluates the model is built on top (one engine for every SQL surface).

pub mod diff;
pub mod engine;
pub mod model;
pub mod parse;
pub mod yaml;

pub use model::Contract;
pub use parse::{ContractError, parse};

/// Reads and parses the contract file at `path` (parsed once per query by every surface).
pub fn load(path: &str) -> Result<Contract, ContractError> {
    let text = crate::readfile::read_text(
        std::path::Path::new(path),
        crate::readfile::MAX_CONTRACT_BYTES,
    )
    .map_err(|e| ContractError {
        file: path.to_string(),
        path: String::new(),
        message: e.to_string(),
    })?;
    parse(path, &text)
}

/// What identifies one version of a file: device, inode, size, modification time and
/// status-change time (a rewrite that restores the size and mtime, `touch -r`, still changes
/// the ctime).
pub type Stamp = (u64, u64, u64, i64, i64, i64, i64);

fn stamp(path: &str) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    // stat never blocks (not even on a FIFO); only regular files are cached.
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| {
        (
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        )
    })
}

struct CachedContract {
    path: String,
    stamp: Stamp,
    contract: Contract,
    checks: std::sync::Arc<[model::Check]>,
    /// Evaluators bound to the row types seen, without state: each aggregate state clones one.
    evaluators: Vec<(Vec<(String, String)>, engine::Evaluator)>,
}

/// The few contracts `contract_check` used last. An aggregate has no bind in the C API, so
/// every state (one per group and thread) starts on its own: without this, 10,000 groups read
/// and parsed the contract 10,000 times (5.5 s, 770 MB for a small contract) and each state
/// held a deep copy of the checks.
static CACHE: std::sync::Mutex<Vec<CachedContract>> = std::sync::Mutex::new(Vec::new());
const CACHED_CONTRACTS: usize = 2;
const CACHED_EVALUATORS: usize = 4;

/// A fresh evaluator of the contract at `path` for rows of `columns`, parsed once per version
/// of the file (a changed file is read again).
pub fn evaluator_for(
    path: &str,
    columns: &[(String, String)],
) -> Result<engine::Evaluator, ContractError> {
    versioned_evaluator_for(path, columns).map(|(ev, _)| ev)
}

/// As [`evaluator_for`], with the version of the file it was read from (None: not a regular
/// file), so that states built from different versions are not merged.
pub fn versioned_evaluator_for(
    path: &str,
    columns: &[(String, String)],
) -> Result<(engine::Evaluator, Option<Stamp>), ContractError> {
    let Some(st) = stamp(path) else {
        // Not a regular file (or missing): load says why.
        let contract = load(path)?;
        return Ok((engine::Evaluator::new(&contract, columns), None));
    };
    // A poisoned lock only means another thread panicked while holding it: the cache is a
    // plain list, still consistent.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = cache.iter_mut().find(|e| e.path == path && e.stamp == st) {
        if let Some((_, ev)) = entry
            .evaluators
            .iter()
            .find(|(c, _)| c.as_slice() == columns)
        {
            return Ok((ev.clone(), Some(st)));
        }
        // Same file, other row types: bind a new evaluator from the cached checks.
        let ev = engine::Evaluator::with_checks(&entry.contract, entry.checks.clone(), columns);
        if entry.evaluators.len() >= CACHED_EVALUATORS {
            entry.evaluators.remove(0);
        }
        entry.evaluators.push((columns.to_vec(), ev.clone()));
        return Ok((ev, Some(st)));
    }
    drop(cache);
    let mut contract = load(path)?;
    // The checks live once, in the Arc; the cached contract keeps its columns and flags.
    let checks: std::sync::Arc<[model::Check]> = std::mem::take(&mut contract.checks).into();
    let ev = engine::Evaluator::with_checks(&contract, checks.clone(), columns);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|e| e.path != path);
    if cache.len() >= CACHED_CONTRACTS {
        cache.remove(0);
    }
    cache.push(CachedContract {
        path: path.to_string(),
        stamp: st,
        contract,
        checks,
        evaluators: vec![(columns.to_vec(), ev.clone())],
    });
    Ok((ev, Some(st)))
}

/// Whether two evaluators' states may be merged check by check: they judge by the same
/// compiled checks (one parse), or by parses of one version of the file (the cache may have
/// let a version go and read it again).
pub fn mergeable(
    a: (&engine::Evaluator, Option<Stamp>),
    b: (&engine::Evaluator, Option<Stamp>),
) -> bool {
    a.0.same_checks(b.0) || (a.1.is_some() && a.1 == b.1)
}

#[cfg(test)]
mod tests {
    use super::model::*;
    use super::parse;

    const ODCS: &str = r#"
apiVersion: v3.1.0
kind: DataContract
id: users
version: 1.0.0
status: active
schema:
  - name: users
    logicalType: object
    properties:
      - name: id
        logicalType: integer
        physicalType: BIGINT
        primaryKey: true
      - name: email
        logicalType: string
        required: true
        logicalTypeOptions:
          pattern: '^[^@]+@[^@]+$'
          maxLength: 100
        quality:
          - metric: duplicateValues
            mustBe: 0
            severity: warning
      - name: age
        logicalType: integer
        logicalTypeOptions: {minimum: 0, maximum: 150, exclusiveMaximum: true}
      - name: country
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {validValues: [NO, SE, DK]}
            mustBeLessThan: 5
            unit: percent
          - metric: missingValues
            arguments: {missingValues: [null, '', 'N/A']}
            mustBe: 0
      - name: updated_at
        logicalType: timestamp
    quality:
      - metric: rowCount
        mustBeBetween: [1, 1000000]
      - metric: duplicateValues
        arguments: {properties: [email, country]}
        mustBe: 0
slaProperties:
  - property: freshness
    value: 24
    unit: h
    element: users.updated_at
  - property: latency
    value: 4
    unit: h
"#;

    fn ids(c: &Contract) -> Vec<String> {
        c.checks.iter().map(|c| c.id.clone()).collect()
    }

    #[test]
    fn odcs_properties_quality_and_sla_become_checks() {
        let c = parse("users.yaml", ODCS).unwrap();
        assert_eq!(c.columns.len(), 5);
        assert_eq!(c.columns[0].physical_type.as_deref(), Some("BIGINT"));
        assert_eq!(c.columns[1].logical_type, Some(LogicalType::String));
        assert_eq!(
            ids(&c),
            [
                "id.null_values",
                "id.duplicate_values",
                "email.null_values",
                "email.max_length",
                "email.pattern",
                "email.duplicateValues",
                "age.minimum",
                "age.maximum",
                "country.invalidValues",
                "country.missingValues",
                "rowCount",
                "duplicateValues",
                "updated_at.freshness",
            ]
        );
        let by_id = |id: &str| {
            c.checks
                .iter()
                .find(|k| k.id == id)
                .unwrap_or_else(|| panic!("{id} in {:?}", ids(&c)))
        };
        assert!(matches!(by_id("id.null_values").kind, CheckKind::Null));
        assert!(
            matches!(&by_id("id.duplicate_values").kind, CheckKind::Duplicate(cols) if cols == &["id"])
        );
        assert!(matches!(by_id("email.pattern").kind, CheckKind::Pattern(_)));
        assert!(matches!(
            by_id("email.max_length").kind,
            CheckKind::MaxLength(100)
        ));
        assert_eq!(by_id("email.duplicateValues").severity, Severity::Warning);
        assert!(
            matches!(by_id("age.maximum").kind, CheckKind::Max { bound, exclusive: true } if bound == 150.0)
        );
        assert!(
            matches!(by_id("age.minimum").kind, CheckKind::Min { bound, exclusive: false } if bound == 0.0)
        );
        let invalid = by_id("country.invalidValues");
        assert_eq!(
            invalid.threshold,
            Threshold {
                op: Op::Lt(5.0),
                unit: Unit::Percent
            }
        );
        assert!(matches!(&invalid.kind, CheckKind::ValidValues(v) if v.len() == 3));
        assert!(
            matches!(&by_id("country.missingValues").kind, CheckKind::Missing(m) if m.len() == 3 && m[0] == Literal::Null)
        );
        assert_eq!(
            by_id("rowCount").threshold.op,
            Op::Between(1.0, 1_000_000.0)
        );
        assert!(
            matches!(&by_id("duplicateValues").kind, CheckKind::Duplicate(cols) if cols == &["email", "country"])
        );
        assert!(
            matches!(by_id("updated_at.freshness").kind, CheckKind::Freshness { max_age_seconds } if max_age_seconds == 86400.0)
        );
        assert_eq!(
            by_id("age.maximum").origin,
            "schema[0].properties[2].logicalTypeOptions.maximum"
        );
        assert!(
            !by_id("id.null_values").quality,
            "required is a schema check"
        );
    }

    fn err(text: &str) -> String {
        parse("c.yaml", text).unwrap_err().to_string()
    }

    #[test]
    fn malformed_odcs_names_file_path_and_expectation() {
        let bad_min = ODCS.replace("{minimum: 0,", "{minimum: ten,");
        assert_eq!(
            err(&bad_min),
            "contract c.yaml: schema[0].properties[2].logicalTypeOptions.minimum: expected a number, or a date/timestamp like '2024-01-31', got 'ten'"
        );
        let typo = ODCS.replace("maxLength: 100", "maxLenght: 100");
        assert!(err(&typo).starts_with(
            "contract c.yaml: schema[0].properties[1].logicalTypeOptions: unknown key 'maxLenght'; expected one of minimum"
        ));
        let bad_metric = ODCS.replace("metric: rowCount", "metric: rowcount");
        assert!(err(&bad_metric).contains(
            "schema[0].quality[0]: unknown metric 'rowcount'; expected one of nullValues"
        ));
        let bad_type = ODCS.replace("logicalType: timestamp", "logicalType: datetime");
        assert!(err(&bad_type).contains("schema[0].properties[4].logicalType: unknown logicalType 'datetime'; expected one of string"));
        let bad_regex = ODCS.replace("'^[^@]+@[^@]+$'", "'(['");
        assert!(
            err(&bad_regex)
                .contains("logicalTypeOptions.pattern: '([' is not a valid regular expression")
        );
        let bad_between = ODCS.replace("mustBeBetween: [1, 1000000]", "mustBeBetween: [5, 1]");
        assert!(err(&bad_between).contains(
            "schema[0].quality[0].mustBeBetween: expected a list of two numbers [low, high]"
        ));
        let bad_sla = ODCS.replace("element: users.updated_at", "element: users.changed_at");
        assert!(
            err(&bad_sla)
                .contains("slaProperties[0]: element 'users.changed_at' is not a property")
        );
        assert!(err("schema: [").starts_with("contract c.yaml: not valid YAML"));
        assert!(err("- 1").contains("expected a mapping"));
        assert!(err("foo: 1").contains("neither an ODCS contract"));
    }

    const SIMPLE: &str = r#"
strict: true
violation_handling:
  on_schema_violation: block
  on_quality_violation: quarantine
columns:
  id: {dtype: int64, nullable: false, unique: true, checks: ["ge(0)"]}
  score:
    dtype: float
    checks: ["ge(0)", "le(100)", {lt: 1000}]
  status:
    dtype: str
    checks: ["isin(['new', 'done'])", "str_matches('^[a-z]+$')"]
  note:
"#;

    #[test]
    fn simple_format_maps_to_the_same_checks() {
        let c = parse("s.yaml", SIMPLE).unwrap();
        assert!(c.strict);
        assert_eq!(c.on_schema_violation, Some(Handling::Block));
        assert_eq!(c.on_quality_violation, Some(Handling::Quarantine));
        assert_eq!(c.columns.len(), 4);
        assert_eq!(c.columns[0].logical_type, Some(LogicalType::Integer));
        assert!(c.columns[0].required);
        assert_eq!(c.columns[3].logical_type, None);
        let kinds: Vec<&'static str> = c.checks.iter().map(|k| k.kind.name()).collect();
        assert_eq!(
            kinds,
            [
                "null_values",
                "duplicate_values",
                "minimum",
                "minimum",
                "maximum",
                "maximum",
                "valid_values",
                "pattern"
            ]
        );
        assert!(
            matches!(&c.checks[6].kind, CheckKind::ValidValues(v) if v == &[Literal::Text("new".into()), Literal::Text("done".into())])
        );
        assert!(
            matches!(c.checks[5].kind, CheckKind::Max { bound, exclusive: true } if bound == 1000.0)
        );
        assert_eq!(c.checks[2].origin, "columns.id.checks[0]");
    }

    #[test]
    fn malformed_simple_contracts_name_the_path() {
        assert!(err(&SIMPLE.replace("ge(0)\"]}", "gte(0)\"]}")).contains(
            "columns.id.checks[0]: unknown check 'gte'; expected one of ge, le, gt, lt, isin, str_matches"
        ));
        assert!(
            err(&SIMPLE.replace("dtype: float", "dtype: floaty"))
                .contains("columns.score.dtype: unknown dtype 'floaty'")
        );
        assert!(err(&SIMPLE.replace("on_quality_violation: quarantine", "on_quality_violation: drop"))
            .contains("violation_handling.on_quality_violation: 'drop': expected one of block, warn, quarantine"));
        assert!(
            err(&SIMPLE.replace("nullable: false", "nullable: nope"))
                .contains("columns.id.nullable: expected true or false, got 'nope'")
        );
        assert!(
            err(&SIMPLE.replace("\"le(100)\"", "\"le(high)\""))
                .contains("le: 'high' is neither a number nor a date/timestamp like '2024-01-31'")
        );
    }

    #[test]
    fn an_exclusive_flag_without_its_bound_is_refused() {
        assert!(
            err(&ODCS.replace(
                "{minimum: 0, maximum: 150, exclusiveMaximum: true}",
                "{exclusiveMinimum: true}"
            ))
            .contains("logicalTypeOptions: exclusiveMinimum: true needs minimum")
        );
    }

    #[test]
    fn constraints_the_engine_does_not_check_are_refused() {
        assert!(
            err(&ODCS.replace("maxLength: 100", "multipleOf: 5"))
                .contains("logicalTypeOptions: multipleOf is not checked by etl's contract engine")
        );
    }

    #[test]
    fn nan_bounds_are_refused() {
        assert!(
            err(&SIMPLE.replace("\"le(100)\"", "\"le(.nan)\""))
                .contains("le: a bound must be a number, not NaN")
        );
        assert!(
            err(&ODCS.replace("{minimum: 0,", "{minimum: .nan,"))
                .contains("minimum: expected a number that is not NaN, got .nan")
        );
    }

    #[test]
    fn logical_types_accept_their_duckdb_families() {
        assert!(LogicalType::Integer.accepts("BIGINT"));
        assert!(!LogicalType::Integer.accepts("DOUBLE"));
        assert!(LogicalType::Number.accepts("DECIMAL(10,2)"));
        assert!(LogicalType::Timestamp.accepts("TIMESTAMP WITH TIME ZONE"));
        assert!(!LogicalType::Time.accepts("TIMESTAMP"));
        assert!(LogicalType::Array.accepts("VARCHAR[]"));
        assert!(!LogicalType::String.accepts("VARCHAR[]"));
        assert!(LogicalType::Object.accepts("STRUCT(a INTEGER)"));
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::model::CheckKind;
    use super::parse;

    fn pattern(text: &str) -> regex::Regex {
        let c = parse("p.yaml", text).unwrap();
        match &c.checks[0].kind {
            CheckKind::Pattern(re) => re.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn simple_str_matches_is_anchored_at_the_start_like_pandera() {
        // pandera's str_matches is re.match: '1abc' does not match '[a-z]+'.
        let re = pattern("columns:\n  s: {checks: [\"str_matches('[a-z]+')\"]}\n");
        assert!(!re.is_match("1abc"));
        assert!(
            re.is_match("abc1"),
            "anchored at the start only, as re.match"
        );
        let alt = pattern("columns:\n  s: {checks: [\"str_matches('a|b')\"]}\n");
        assert!(!alt.is_match("xb"), "the whole alternation is anchored");
    }

    #[test]
    fn str_matches_takes_verbose_patterns_with_comments_and_errors_show_the_users_pattern() {
        // '(?x)[a-z]+ # letters' failed with "unclosed group": the comment ate the wrapper's ')'.
        let re = pattern("columns:\n  s: {checks: [\"str_matches('(?x)[a-z]+ # letters')\"]}\n");
        assert!(re.is_match("abc"));
        assert!(!re.is_match("1abc"));
        let re = pattern("columns:\n  s: {checks: [\"str_matches('(?x) a \\\\# | b')\"]}\n");
        assert!(re.is_match("a#"));
        assert!(re.is_match("b"));
        assert!(!re.is_match("xb"), "still anchored");
        let err = parse(
            "p.yaml",
            "columns:\n  s: {checks: [\"str_matches('[a-z')\"]}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("'[a-z' is not a valid regular expression"),
            "{err}"
        );
        assert!(!err.contains("^(?:"), "{err}");
        let err = parse(
            "p.yaml",
            "columns:\n  s: {checks: [\"str_matches('\\\\p{Nope}')\"]}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("^(?:"), "{err}");
        assert!(err.contains("not a valid regular expression"), "{err}");
    }

    #[test]
    fn odcs_pattern_is_a_search_as_json_schema_defines_it() {
        let odcs = "apiVersion: v3.1.0\nkind: DataContract\nschema:\n  - name: t\n    properties:\n      - name: s\n        logicalTypeOptions: {pattern: '[a-z]+'}\n";
        assert!(pattern(odcs).is_match("1abc"));
    }

    #[test]
    fn distinct_patterns_are_capped_and_identical_ones_shared() {
        let mut many = String::from("columns:\n");
        for i in 0..300 {
            many.push_str(&format!(
                "  c{i}: {{checks: [\"str_matches('^x{i}$')\"]}}\n"
            ));
        }
        let err = parse("m.yaml", &many).unwrap_err().to_string();
        assert!(err.contains("more than 256 different patterns"), "{err}");
        let mut same = String::from("columns:\n");
        for i in 0..3000 {
            same.push_str(&format!("  c{i}: {{checks: [\"str_matches('^x$')\"]}}\n"));
        }
        assert_eq!(parse("s.yaml", &same).unwrap().checks.len(), 3000);
    }

    #[test]
    fn heavy_patterns_share_one_compiled_size_budget() {
        // Each compiles to several MiB (Unicode classes under counted repetition): within
        // the 10 MiB a pattern may take, but the contract's 64 MiB run out.
        let mut heavy = String::from("columns:\n");
        for i in 0..64 {
            heavy.push_str(&format!(
                "  c{i}: {{checks: [\"str_matches('^(\\\\p{{L}}|[0-9]){{1,60}}x{i}$')\"]}}\n"
            ));
        }
        let err = parse("h.yaml", &heavy).unwrap_err().to_string();
        assert!(
            err.contains("patterns compile to more than 64 MiB together"),
            "{err}"
        );
        // A few of them are fine.
        let few: String = heavy.lines().take(4).collect::<Vec<_>>().join("\n");
        assert_eq!(parse("f.yaml", &few).unwrap().checks.len(), 3);
        // One beyond a pattern's own limit is refused in the regex crate's words.
        let huge = "columns:\n  c: {checks: [\"str_matches('(\\\\p{L}){1,2000}')\"]}\n";
        assert!(
            parse("g.yaml", huge)
                .unwrap_err()
                .to_string()
                .contains("size limit")
        );
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::parse;
    use std::time::{Duration, Instant};

    #[test]
    fn deeply_nested_physical_types_and_properties_are_bounded() {
        // Review C1 (contract part): a physicalType is compared as text, never parsed
        // recursively, so 20,000 nested STRUCT( cost one string comparison.
        let deep = format!(
            "{}a INTEGER{}",
            "STRUCT(x ".repeat(20_000),
            ")".repeat(20_000)
        );
        let odcs = format!(
            "apiVersion: v3.1.0\nkind: DataContract\nschema:\n  - name: t\n    properties:\n      - name: a\n        physicalType: '{deep}'\n"
        );
        let start = Instant::now();
        let c = parse("d.yaml", &odcs).unwrap();
        let ev = super::engine::Evaluator::new(&c, &[("a".into(), "INTEGER".into())]);
        let results = ev.finish(0);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(
            results[0]
                .message
                .starts_with("column 'a' has type INTEGER, expected STRUCT(")
        );
        // Nested properties (ODCS objects inside objects) nest YAML: bounded at 64 levels.
        let mut nested = String::from(
            "apiVersion: v3.1.0\nkind: DataContract\nschema:\n  - name: t\n    properties:\n",
        );
        let mut indent = 6;
        for i in 0..100 {
            let pad = " ".repeat(indent);
            nested.push_str(&format!("{pad}- name: p{i}\n{pad}  properties:\n"));
            indent += 4;
        }
        let err = parse("n.yaml", &nested).unwrap_err().to_string();
        assert!(err.contains("nest more than 64 deep"), "{err}");
    }
}

#[cfg(test)]
mod cache_tests {
    use super::{evaluator_for, mergeable, versioned_evaluator_for};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("etl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_rewrite_that_restores_size_and_mtime_is_read_again() {
        // The stamp lacked the ctime: same size, mtime set back, and the old checks were served.
        let dir = temp_dir("contract-ctime");
        let p = dir.join("c.yaml");
        let path = p.to_str().unwrap();
        let cols = vec![("id".to_string(), "BIGINT".to_string())];
        std::fs::write(&p, "columns:\n  id: {checks: [\"ge(1)\"]}\n").unwrap();
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        let v1 = evaluator_for(path, &cols).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(&p, "columns:\n  id: {checks: [\"le(1)\"]}\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let v2 = evaluator_for(path, &cols).unwrap();
        assert_ne!(
            format!("{:?}", v1.checks()[0].kind),
            format!("{:?}", v2.checks()[0].kind),
            "the rewritten file was read again"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn states_of_different_versions_of_a_contract_do_not_merge() {
        let dir = temp_dir("contract-merge");
        let p = dir.join("c.yaml");
        let path = p.to_str().unwrap();
        let cols = vec![("id".to_string(), "BIGINT".to_string())];
        std::fs::write(&p, "columns:\n  id: {checks: [\"ge(1)\"]}\n").unwrap();
        let (a, av) = versioned_evaluator_for(path, &cols).unwrap();
        let (b, bv) = versioned_evaluator_for(path, &cols).unwrap();
        assert!(mergeable((&a, av), (&b, bv)), "one parse");
        // The same version parsed again (the cache holds few contracts) still merges.
        for other in ["x.yaml", "y.yaml", "z.yaml"] {
            let q = dir.join(other);
            std::fs::write(&q, "columns:\n  id: {nullable: false}\n").unwrap();
            versioned_evaluator_for(q.to_str().unwrap(), &cols).unwrap();
        }
        let (c, cv) = versioned_evaluator_for(path, &cols).unwrap();
        assert!(!a.same_checks(&c), "parsed again");
        assert!(mergeable((&a, av), (&c, cv)));
        // Edited during the query: v1's counts must not merge into v2's checks.
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(&p, "columns:\n  id: {checks: [\"le(100)\", \"ge(1)\"]}\n").unwrap();
        let (d, dv) = versioned_evaluator_for(path, &cols).unwrap();
        assert!(!mergeable((&a, av), (&d, dv)));
        assert!(!mergeable((&d, dv), (&a, av)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cached_evaluators_follow_the_file_and_the_row_types() {
        let dir = std::env::temp_dir().join(format!("etl-contract-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.yaml");
        let path = p.to_str().unwrap();
        let cols = vec![("id".to_string(), "BIGINT".to_string())];
        std::fs::write(&p, "columns:\n  id: {nullable: false}\n").unwrap();
        assert_eq!(evaluator_for(path, &cols).unwrap().checks().len(), 1);
        assert_eq!(evaluator_for(path, &cols).unwrap().checks().len(), 1);
        // Another row type: bound anew (the schema verdict differs), same checks.
        let text = vec![("id".to_string(), "VARCHAR".to_string())];
        std::fs::write(&p, "columns:\n  id: {dtype: int, nullable: false}\n").unwrap();
        let ev = evaluator_for(path, &text).unwrap();
        assert!(
            ev.finish(0)[0].message.contains("has type VARCHAR"),
            "the changed file was read again"
        );
        assert!(
            evaluator_for(path, &cols).unwrap().finish(0)[0].message != ev.finish(0)[0].message
        );
        // Replaced by a FIFO: refused, not served from the cache.
        std::fs::remove_file(&p).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap()
                .success()
        );
        let err = evaluator_for(path, &cols).unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
    }
}

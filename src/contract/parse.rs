//! Contract files (YAML) into the [`Contract`] model. Errors name the file, the path inside it
//! (`schema[0].properties[3].logicalTypeOptions.minimum`) and what was expected.
//!
//! Two formats:
//! - Open Data Contract Standard v3.1 (`apiVersion: v3.x`, `kind: DataContract`, `schema:`);
//! - the simple column format (`columns:` with `dtype`, `nullable`, `unique`, `checks`,
//!   `strict`, `violation_handling`).

use super::model::*;
use super::yaml::Value;
use regex::Regex;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct ContractError {
    pub file: String,
    pub path: String,
    pub message: String,
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "contract {}: {}", self.file, self.message)
        } else {
            write!(f, "contract {}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for ContractError {}

/// A value and where it is in the file.
#[derive(Clone, Copy)]
struct Node<'a> {
    v: &'a Value,
    file: &'a str,
    path: &'a str,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
    }
}

impl<'a> Node<'a> {
    fn err(&self, message: impl Into<String>) -> ContractError {
        ContractError {
            file: self.file.to_string(),
            path: self.path.to_string(),
            message: message.into(),
        }
    }

    fn expected(&self, what: &str) -> ContractError {
        self.err(format!("expected {what}, got {}", describe(self.v)))
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str, buf: &'a mut String) -> Option<Node<'a>> {
        let child = self.v.as_mapping()?.get(key)?;
        *buf = self.key_path(key);
        Some(Node {
            v: child,
            file: self.file,
            path: buf.as_str(),
        })
    }

    fn keys(&self) -> Vec<String> {
        self.v
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fails on keys outside `known` (typos in checks must not pass silently).
    fn only_keys(&self, known: &[&str]) -> Result<(), ContractError> {
        for k in self.keys() {
            if !known.contains(&k.as_str()) {
                return Err(self.err(format!(
                    "unknown key '{k}'; expected one of {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn text(&self) -> Result<&'a str, ContractError> {
        self.v.as_str().ok_or_else(|| self.expected("a text"))
    }

    fn number(&self) -> Result<f64, ContractError> {
        self.v.as_f64().ok_or_else(|| self.expected("a number"))
    }

    /// A range bound, exact for integers of up to 128 bits.
    fn bound(&self) -> Result<Bound, ContractError> {
        match self.v {
            Value::Number(super::yaml::Number::Float(x)) if x.is_nan() => {
                Err(self.expected("a number that is not NaN"))
            }
            Value::Number(n) => Ok(number_bound(n)),
            Value::String(s) => Bound::parse_instant(s)
                .ok_or_else(|| self.expected("a number, or a date/timestamp like '2024-01-31'")),
            _ => Err(self.expected("a number, or a date/timestamp like '2024-01-31'")),
        }
    }

    fn count(&self) -> Result<usize, ContractError> {
        self.v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| self.expected("a whole number >= 0"))
    }

    fn boolean(&self) -> Result<bool, ContractError> {
        self.v
            .as_bool()
            .ok_or_else(|| self.expected("true or false"))
    }

    fn items(&self) -> Result<&'a [Value], ContractError> {
        self.v
            .as_sequence()
            .map(Vec::as_slice)
            .ok_or_else(|| self.expected("a list"))
    }
}

fn number_bound(n: &super::yaml::Number) -> Bound {
    use super::yaml::Number;
    match *n {
        Number::Int(i) => Bound::int(i),
        Number::BigUint(u) => Bound::uint(u),
        Number::Float(x) => Bound::float(x, None),
        Number::Decimal(x, exact) => Bound::float(x, Some(exact)),
    }
}

/// Runs `f` on child `key` when present.
fn with_key<'a, T>(
    node: &Node<'a>,
    key: &str,
    f: impl FnOnce(Node<'_>) -> Result<T, ContractError>,
) -> Result<Option<T>, ContractError> {
    let mut buf = String::new();
    match node.get(key, &mut buf) {
        Some(child) => f(child).map(Some),
        None => Ok(None),
    }
}

fn literal(node: &Node<'_>) -> Result<Literal, ContractError> {
    Ok(match node.v {
        Value::Null => Literal::Null,
        Value::Bool(b) => Literal::Bool(*b),
        Value::Number(super::yaml::Number::Int(i)) => Literal::Integer(*i),
        Value::Number(super::yaml::Number::Decimal(x, e)) => {
            Literal::Decimal(*x, *e, Bound::float(*x, Some(*e)).value32 as f32)
        }
        Value::Number(n) => Literal::Number(n.as_f64()),
        Value::String(s) => Literal::Text(s.clone()),
        _ => return Err(node.expected("a text, number, boolean or null")),
    })
}

fn literals(node: &Node<'_>) -> Result<Vec<Literal>, ContractError> {
    let items = node.items()?;
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let path = format!("{}[{i}]", node.path);
        out.push(literal(&Node {
            v,
            file: node.file,
            path: &path,
        })?);
    }
    Ok(out)
}

fn regex(node: &Node<'_>) -> Result<Regex, ContractError> {
    compile_pattern(node, node.text()?, false)
}

/// Most distinct patterns in one contract (identical ones are compiled once): a compiled regex
/// costs kilobytes to megabytes, so 45,000 patterns in a 4 MB contract took 570 MB (review C3).
pub const MAX_PATTERNS: usize = 256;
/// The compiled size one pattern may reach (the regex crate's default).
const PATTERN_SIZE_LIMIT: usize = 10 << 20;
/// The compiled size all patterns of a contract may reach together. The regex crate reports
/// no sizes, so each pattern is charged the smallest of these limits it compiles within.
pub const PATTERNS_TOTAL_LIMIT: usize = 64 << 20;
const PATTERN_SIZE_STEPS: [usize; 4] = [64 << 10, 512 << 10, 2 << 20, PATTERN_SIZE_LIMIT];

#[derive(Default)]
struct Patterns {
    compiled: std::collections::HashMap<String, Regex>,
    /// The compiled size charged so far (an upper bound).
    charged: usize,
}

thread_local! {
    /// The patterns compiled by the parse running on this thread; reset when a parse starts.
    static PATTERNS: std::cell::RefCell<Patterns> = std::cell::RefCell::new(Patterns::default());
}

/// Compiles `pattern`; `anchored` matches it at the start of the text only (pandera's
/// `str_matches`, Python's `re.match`), otherwise it is a search anywhere in the text (ODCS
/// `pattern`, as JSON Schema defines it).
fn compile_pattern(node: &Node<'_>, pattern: &str, anchored: bool) -> Result<Regex, ContractError> {
    // The user's pattern is checked as written (errors show it, not the anchored form).
    let invalid = |e: &dyn fmt::Display| {
        node.err(format!(
            "'{pattern}' is not a valid regular expression: {e}"
        ))
    };
    let source = if anchored {
        // Printed back from its syntax tree, the pattern has no comments: a `# comment` of
        // verbose mode ((?x)) ran to the end of the text and took the wrapper's `)` with it.
        let ast = regex_syntax::ast::parse::Parser::new()
            .parse(pattern)
            .map_err(|e| invalid(&e))?;
        regex_syntax::hir::translate::Translator::new()
            .translate(pattern, &ast)
            .map_err(|e| invalid(&e))?;
        let mut plain = String::new();
        regex_syntax::ast::print::Printer::new()
            .print(&ast, &mut plain)
            .map_err(|e| invalid(&e))?;
        format!("^(?:{plain})")
    } else {
        pattern.to_string()
    };
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(re) = cache.compiled.get(&source) {
            return Ok(re.clone());
        }
        if cache.compiled.len() >= MAX_PATTERNS {
            return Err(node.err(format!(
                "more than {MAX_PATTERNS} different patterns in one contract; share patterns \
                 between columns or split the contract"
            )));
        }
        let left = PATTERNS_TOTAL_LIMIT.saturating_sub(cache.charged);
        let mut compiled = None;
        for step in PATTERN_SIZE_STEPS {
            let limit = step.min(left);
            match regex::RegexBuilder::new(&source).size_limit(limit).build() {
                Ok(re) => {
                    compiled = Some((re, limit));
                    break;
                }
                // The contract's budget, not this pattern's own limit, stopped it.
                Err(regex::Error::CompiledTooBig(_)) if limit < step => {
                    return Err(node.err(format!(
                        "'{pattern}': the contract's patterns compile to more than {} MiB \
                         together; simplify them or split the contract",
                        PATTERNS_TOTAL_LIMIT >> 20
                    )));
                }
                // Too big for this step: try the next (the last one's error is final).
                Err(regex::Error::CompiledTooBig(_)) if step < PATTERN_SIZE_LIMIT => {}
                Err(e) => return Err(invalid(&e)),
            }
        }
        let (re, charged) =
            compiled.ok_or_else(|| node.err(format!("'{pattern}': cannot compile")))?;
        cache.charged += charged;
        cache.compiled.insert(source, re.clone());
        Ok(re)
    })
}

/// Parses a contract from YAML text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Contract, ContractError> {
    PATTERNS.with(|cache| *cache.borrow_mut() = Patterns::default());
    let result = parse_document(file, text);
    PATTERNS.with(|cache| *cache.borrow_mut() = Patterns::default());
    result
}

fn parse_document(file: &str, text: &str) -> Result<Contract, ContractError> {
    let root: Value = super::yaml::parse(text).map_err(|e| ContractError {
        file: file.to_string(),
        path: String::new(),
        message: e.to_string(),
    })?;
    let node = Node {
        v: &root,
        file,
        path: "",
    };
    if !root.is_mapping() {
        return Err(
            node.expected("a mapping (an ODCS contract or a simple contract with columns:)")
        );
    }
    let keys = node.keys();
    if keys.iter().any(|k| k == "schema" || k == "apiVersion") {
        parse_odcs(&node)
    } else if keys.iter().any(|k| k == "columns") {
        parse_simple(&node)
    } else {
        Err(node.err(
            "neither an ODCS contract (apiVersion, kind: DataContract, schema) nor a simple \
             contract (columns)",
        ))
    }
}

// ------------------------------------------------------------------------------------------
// ODCS v3.1

const PROPERTY_KEYS: &[&str] = &[
    "name",
    "logicalType",
    "physicalType",
    "required",
    "unique",
    "primaryKey",
    "primaryKeyPosition",
    "logicalTypeOptions",
    "quality",
    "description",
    "businessName",
    "tags",
    "customProperties",
    "classification",
    "examples",
    "criticalDataElement",
    "encryptedName",
    "transformSourceObjects",
    "transformLogic",
    "transformDescription",
    "partitioned",
    "partitionKeyPosition",
    "authoritativeDefinitions",
    "id",
    "physicalName",
    "items",
    "properties",
];
const TYPE_OPTION_KEYS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "timezone",
    "defaultTimezone",
    "minProperties",
    "maxProperties",
    "required",
];
/// `logicalTypeOptions` that ODCS defines as constraints but the engine does not evaluate.
const UNCHECKED_TYPE_OPTIONS: &[&str] = &[
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "required",
];
const QUALITY_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "metric",
    "rule",
    "arguments",
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
    "unit",
    "severity",
    "description",
    "dimension",
    "businessImpact",
    "schedule",
    "scheduler",
    "method",
    "tags",
    "customProperties",
    "authoritativeDefinitions",
    "validValues",
];
const METRICS: &[&str] = &[
    "nullValues",
    "missingValues",
    "invalidValues",
    "duplicateValues",
    "rowCount",
];

fn parse_odcs(root: &Node<'_>) -> Result<Contract, ContractError> {
    if let Some(kind) = with_key(root, "kind", |n| n.text().map(str::to_string))?
        && kind != "DataContract"
    {
        return Err(root.err(format!("kind: expected DataContract, got '{kind}'")));
    }
    let mut contract = Contract {
        file: root.file.to_string(),
        columns: Vec::new(),
        strict: false,
        checks: Vec::new(),
        on_schema_violation: None,
        on_quality_violation: None,
    };
    let mut buf = String::new();
    let schema = root
        .get("schema", &mut buf)
        .ok_or_else(|| root.err("missing 'schema' (the list of objects with their properties)"))?;
    let objects = schema.items()?;
    if objects.len() != 1 {
        return Err(schema.err(format!(
            "expected exactly one object (one table per contract), got {}",
            objects.len()
        )));
    }
    let obj_path = "schema[0]".to_string();
    let obj = Node {
        v: &objects[0],
        file: root.file,
        path: &obj_path,
    };
    let mut pbuf = String::new();
    if let Some(props) = obj.get("properties", &mut pbuf) {
        for (i, v) in props.items()?.iter().enumerate() {
            let path = format!("{}[{i}]", props.path);
            let prop = Node {
                v,
                file: root.file,
                path: &path,
            };
            parse_property(&prop, &mut contract)?;
        }
    }
    with_key(&obj, "quality", |q| {
        for (i, v) in q.items()?.iter().enumerate() {
            let path = format!("{}[{i}]", q.path);
            let node = Node {
                v,
                file: root.file,
                path: &path,
            };
            contract.checks.push(parse_quality(&node, None)?);
        }
        Ok(())
    })?;
    with_key(root, "slaProperties", |sla| {
        for (i, v) in sla.items()?.iter().enumerate() {
            let path = format!("{}[{i}]", sla.path);
            let node = Node {
                v,
                file: root.file,
                path: &path,
            };
            if let Some(check) = parse_sla(&node, &contract)? {
                contract.checks.push(check);
            }
        }
        Ok(())
    })?;
    Ok(contract)
}

fn parse_property(prop: &Node<'_>, contract: &mut Contract) -> Result<(), ContractError> {
    if !prop.v.is_mapping() {
        return Err(prop.expected("a property mapping with a name"));
    }
    prop.only_keys(PROPERTY_KEYS)?;
    let name = with_key(prop, "name", |n| n.text().map(str::to_string))?
        .ok_or_else(|| prop.err("missing 'name'"))?;
    let logical_type = with_key(prop, "logicalType", |n| {
        let t = n.text()?;
        LogicalType::from_odcs(t).ok_or_else(|| {
            n.err(format!(
                "unknown logicalType '{t}'; expected one of {}",
                LogicalType::ODCS_NAMES.join(", ")
            ))
        })
    })?;
    let physical_type = with_key(prop, "physicalType", |n| n.text().map(str::to_string))?;
    let required = with_key(prop, "required", |n| n.boolean())?.unwrap_or(false);
    let unique = with_key(prop, "unique", |n| n.boolean())?.unwrap_or(false);
    let primary_key = with_key(prop, "primaryKey", |n| n.boolean())?.unwrap_or(false);
    let col = Some(name.clone());
    let mut add = |kind: CheckKind, origin: String, quality: bool| {
        contract.checks.push(Check {
            id: format!("{name}.{}", kind.name()),
            column: col.clone(),
            kind,
            threshold: Threshold::NONE_FAIL,
            severity: Severity::Error,
            origin,
            quality,
        });
    };
    if required || primary_key {
        add(
            CheckKind::Null,
            prop.key_path(if required { "required" } else { "primaryKey" }),
            false,
        );
    }
    if unique || primary_key {
        add(
            CheckKind::Duplicate(vec![name.clone()]),
            prop.key_path(if unique { "unique" } else { "primaryKey" }),
            false,
        );
    }
    let mut obuf = String::new();
    if let Some(opts) = prop.get("logicalTypeOptions", &mut obuf) {
        if !opts.v.is_mapping() {
            return Err(opts.expected("a mapping"));
        }
        opts.only_keys(TYPE_OPTION_KEYS)?;
        // ODCS constraints this engine does not evaluate: accepted silently they would look
        // enforced and never fire (the class of review U5).
        for key in UNCHECKED_TYPE_OPTIONS {
            if opts.v.get(key).is_some() {
                return Err(opts.err(format!(
                    "{key} is not checked by etl's contract engine; remove it, or check it \
                     in SQL (checked: minimum, maximum, exclusiveMinimum, exclusiveMaximum, \
                     minLength, maxLength, pattern)"
                )));
            }
        }
        let exclusive = |key: &str| -> Result<Option<Result<bool, Bound>>, ContractError> {
            // ODCS allows exclusiveMinimum as a flag (with minimum) or as the bound itself.
            with_key(&opts, key, |n| match n.v {
                Value::Bool(b) => Ok(Ok(*b)),
                _ => n.bound().map(Err),
            })
        };
        let ex_min = exclusive("exclusiveMinimum")?;
        let ex_max = exclusive("exclusiveMaximum")?;
        // A flag without its bound would silently check nothing.
        for (flag, value, bound) in [
            ("exclusiveMinimum", ex_min, "minimum"),
            ("exclusiveMaximum", ex_max, "maximum"),
        ] {
            if matches!(value, Some(Ok(true))) && opts.v.get(bound).is_none() {
                return Err(opts.err(format!(
                    "{flag}: true needs {bound} (the bound it makes exclusive); give \
                     {bound}, or the bound itself as {flag}: <number>"
                )));
            }
        }
        if let Some(bound) = with_key(&opts, "minimum", |n| n.bound())? {
            let exclusive = matches!(ex_min, Some(Ok(true)));
            add(
                CheckKind::Min { bound, exclusive },
                opts.key_path("minimum"),
                true,
            );
        }
        if let Some(Err(bound)) = ex_min {
            add(
                CheckKind::Min {
                    bound,
                    exclusive: true,
                },
                opts.key_path("exclusiveMinimum"),
                true,
            );
        }
        if let Some(bound) = with_key(&opts, "maximum", |n| n.bound())? {
            let exclusive = matches!(ex_max, Some(Ok(true)));
            add(
                CheckKind::Max { bound, exclusive },
                opts.key_path("maximum"),
                true,
            );
        }
        if let Some(Err(bound)) = ex_max {
            add(
                CheckKind::Max {
                    bound,
                    exclusive: true,
                },
                opts.key_path("exclusiveMaximum"),
                true,
            );
        }
        if let Some(n) = with_key(&opts, "minLength", |n| n.count())? {
            add(CheckKind::MinLength(n), opts.key_path("minLength"), true);
        }
        if let Some(n) = with_key(&opts, "maxLength", |n| n.count())? {
            add(CheckKind::MaxLength(n), opts.key_path("maxLength"), true);
        }
        if let Some(re) = with_key(&opts, "pattern", |n| regex(&n))? {
            add(CheckKind::Pattern(re), opts.key_path("pattern"), true);
        }
    }
    with_key(prop, "quality", |q| {
        for (i, v) in q.items()?.iter().enumerate() {
            let path = format!("{}[{i}]", q.path);
            let node = Node {
                v,
                file: prop.file,
                path: &path,
            };
            contract.checks.push(parse_quality(&node, Some(&name))?);
        }
        Ok(())
    })?;
    contract.columns.push(ColumnSpec {
        name,
        logical_type,
        physical_type,
        required,
        unique,
        primary_key,
    });
    Ok(())
}

/// Builds a comparison from its bound.
type MakeOp = fn(f64) -> Op;

fn parse_threshold(q: &Node<'_>) -> Result<Option<Op>, ContractError> {
    let mut found = None;
    let ops: [(&str, MakeOp); 6] = [
        ("mustBe", Op::Eq),
        ("mustNotBe", Op::Ne),
        ("mustBeGreaterThan", Op::Gt),
        ("mustBeGreaterOrEqualTo", Op::Ge),
        ("mustBeLessThan", Op::Lt),
        ("mustBeLessOrEqualTo", Op::Le),
    ];
    for (key, make) in ops {
        if let Some(v) = with_key(q, key, |n| n.number())? {
            if found.is_some() {
                return Err(q.err("more than one mustBe... comparison; give exactly one"));
            }
            found = Some(make(v));
        }
    }
    for (key, between) in [("mustBeBetween", true), ("mustNotBeBetween", false)] {
        if let Some((a, b)) = with_key(q, key, |n| {
            let items = n.items()?;
            let nums: Option<Vec<f64>> = items.iter().map(Value::as_f64).collect();
            match nums.as_deref() {
                Some([a, b]) if a <= b => Ok((*a, *b)),
                _ => Err(n.expected("a list of two numbers [low, high]")),
            }
        })? {
            if found.is_some() {
                return Err(q.err("more than one mustBe... comparison; give exactly one"));
            }
            found = Some(if between {
                Op::Between(a, b)
            } else {
                Op::NotBetween(a, b)
            });
        }
    }
    Ok(found)
}

fn parse_quality(q: &Node<'_>, column: Option<&str>) -> Result<Check, ContractError> {
    if !q.v.is_mapping() {
        return Err(q.expected("a quality rule mapping"));
    }
    q.only_keys(QUALITY_KEYS)?;
    if let Some(t) = with_key(q, "type", |n| n.text().map(str::to_string))?
        && t != "library"
    {
        return Err(q.err(format!(
            "type '{t}' is not supported; only library metrics ({}) are",
            METRICS.join(", ")
        )));
    }
    let metric = with_key(q, "metric", |n| n.text().map(str::to_string))?
        .or(with_key(q, "rule", |n| n.text().map(str::to_string))?)
        .ok_or_else(|| q.err(format!("missing 'metric' (one of {})", METRICS.join(", "))))?;
    let mut abuf = String::new();
    let args = q.get("arguments", &mut abuf);
    let kind = match metric.as_str() {
        "nullValues" => CheckKind::Null,
        "missingValues" => {
            let markers = match &args {
                Some(a) => with_key(a, "missingValues", |n| literals(&n))?,
                None => None,
            };
            CheckKind::Missing(
                markers.unwrap_or_else(|| vec![Literal::Null, Literal::Text(String::new())]),
            )
        }
        "invalidValues" => {
            let a = args.as_ref().ok_or_else(|| {
                q.err("invalidValues needs arguments.validValues or arguments.pattern")
            })?;
            if let Some(values) = with_key(a, "validValues", |n| literals(&n))? {
                CheckKind::ValidValues(values)
            } else if let Some(re) = with_key(a, "pattern", |n| regex(&n))? {
                CheckKind::Pattern(re)
            } else {
                return Err(a.err("invalidValues needs validValues or pattern"));
            }
        }
        "duplicateValues" => {
            let cols = match &args {
                Some(a) => with_key(a, "properties", |n| {
                    n.items()?
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| n.expected("a list of property names"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })?,
                None => None,
            };
            match (cols, column) {
                (Some(c), _) if !c.is_empty() => CheckKind::Duplicate(c),
                (_, Some(c)) => CheckKind::Duplicate(vec![c.to_string()]),
                _ => {
                    return Err(q.err(
                        "duplicateValues at schema level needs arguments.properties (the columns)",
                    ));
                }
            }
        }
        "rowCount" => CheckKind::RowCount,
        other => {
            return Err(q.err(format!(
                "unknown metric '{other}'; expected one of {}",
                METRICS.join(", ")
            )));
        }
    };
    if column.is_none() && !matches!(kind, CheckKind::RowCount | CheckKind::Duplicate(_)) {
        return Err(q.err(format!(
            "metric '{metric}' belongs to a property, not to the schema"
        )));
    }
    let op = parse_threshold(q)?;
    let op = match (op, &kind) {
        (Some(op), _) => op,
        (None, CheckKind::RowCount) => {
            return Err(q.err("rowCount needs a comparison, e.g. mustBeGreaterThan: 0"));
        }
        (None, _) => Op::Eq(0.0),
    };
    let unit = match with_key(q, "unit", |n| n.text().map(str::to_string))?.as_deref() {
        None | Some("rows") => Unit::Rows,
        Some("percent") => Unit::Percent,
        Some(other) => {
            return Err(q.err(format!("unit '{other}': expected rows or percent")));
        }
    };
    let severity =
        match with_key(q, "severity", |n| n.text().map(str::to_ascii_lowercase))?.as_deref() {
            None | Some("error") | Some("critical") | Some("high") => Severity::Error,
            Some("warning") | Some("warn") | Some("info") | Some("low") | Some("medium") => {
                Severity::Warning
            }
            Some(other) => {
                return Err(q.err(format!("severity '{other}': expected error or warning")));
            }
        };
    let id = with_key(q, "id", |n| n.text().map(str::to_string))?
        .or(with_key(q, "name", |n| n.text().map(str::to_string))?)
        .unwrap_or_else(|| match column {
            Some(c) => format!("{c}.{metric}"),
            None => metric.clone(),
        });
    Ok(Check {
        id,
        column: column.map(str::to_string),
        kind,
        threshold: Threshold { op, unit },
        severity,
        origin: q.path.to_string(),
        quality: true,
    })
}

fn parse_sla(sla: &Node<'_>, contract: &Contract) -> Result<Option<Check>, ContractError> {
    let property = with_key(sla, "property", |n| n.text().map(str::to_string))?
        .ok_or_else(|| sla.err("missing 'property'"))?;
    if property != "freshness" {
        return Ok(None); // latency, retention, ...: not checkable on the data itself
    }
    let value = with_key(sla, "value", |n| n.number())?
        .ok_or_else(|| sla.err("freshness needs 'value' (the maximum age)"))?;
    let unit = with_key(sla, "unit", |n| n.text().map(str::to_ascii_lowercase))?
        .unwrap_or_else(|| "d".into());
    let seconds = match unit.as_str() {
        "s" | "sec" | "second" | "seconds" => 1.0,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        other => {
            return Err(sla.err(format!("unit '{other}': expected s, m, h or d")));
        }
    };
    let element = with_key(sla, "element", |n| n.text().map(str::to_string))?.ok_or_else(|| {
        sla.err("freshness needs 'element' (the timestamp column, e.g. users.updated_at)")
    })?;
    let column = element.rsplit('.').next().unwrap_or(&element).to_string();
    if !contract.columns.iter().any(|c| c.name == column) {
        return Err(sla.err(format!(
            "element '{element}' is not a property of the schema"
        )));
    }
    Ok(Some(Check {
        id: format!("{column}.freshness"),
        column: Some(column),
        kind: CheckKind::Freshness {
            max_age_seconds: value * seconds,
        },
        threshold: Threshold::NONE_FAIL,
        severity: Severity::Error,
        origin: sla.path.to_string(),
        quality: true,
    }))
}

// ------------------------------------------------------------------------------------------
// Simple format

const SIMPLE_COLUMN_KEYS: &[&str] = &[
    "name",
    "dtype",
    "nullable",
    "unique",
    "checks",
    "description",
    "required",
    "coerce",
];
const SIMPLE_CHECKS: &[&str] = &["ge", "le", "gt", "lt", "isin", "str_matches"];

fn parse_simple(root: &Node<'_>) -> Result<Contract, ContractError> {
    root.only_keys(&[
        "columns",
        "strict",
        "violation_handling",
        "name",
        "description",
        "version",
    ])?;
    let mut contract = Contract {
        file: root.file.to_string(),
        columns: Vec::new(),
        strict: with_key(root, "strict", |n| n.boolean())?.unwrap_or(false),
        checks: Vec::new(),
        on_schema_violation: None,
        on_quality_violation: None,
    };
    with_key(root, "violation_handling", |vh| {
        vh.only_keys(&["on_schema_violation", "on_quality_violation"])?;
        let handling = |n: Node<'_>| {
            let t = n.text()?;
            Handling::parse(t).ok_or_else(|| {
                n.err(format!(
                    "'{t}': expected one of {}",
                    Handling::NAMES.join(", ")
                ))
            })
        };
        contract.on_schema_violation = with_key(&vh, "on_schema_violation", handling)?;
        contract.on_quality_violation = with_key(&vh, "on_quality_violation", handling)?;
        Ok(())
    })?;
    let mut cbuf = String::new();
    let columns = root
        .get("columns", &mut cbuf)
        .ok_or_else(|| root.err("missing 'columns'"))?;
    // `columns:` as a mapping name -> spec, or a list of specs with `name`.
    let entries: Vec<(String, String, &Value)> = match columns.v {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().unwrap_or_default().to_string();
                (columns.key_path(&name), name, v)
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let name = v
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                (format!("{}[{i}]", columns.path), name, v)
            })
            .collect(),
        _ => return Err(columns.expected("a mapping of column name to spec, or a list")),
    };
    for (path, name, v) in &entries {
        let node = Node {
            v,
            file: root.file,
            path,
        };
        if name.is_empty() {
            return Err(node.err("a column without a name"));
        }
        let spec_is_empty = matches!(v, Value::Null);
        if !spec_is_empty && !v.is_mapping() {
            return Err(node.expected("a column spec mapping (dtype, nullable, unique, checks)"));
        }
        if !spec_is_empty {
            node.only_keys(SIMPLE_COLUMN_KEYS)?;
        }
        let logical_type = with_key(&node, "dtype", |n| {
            let t = n.text()?;
            LogicalType::from_simple(t).ok_or_else(|| {
                n.err(format!(
                    "unknown dtype '{t}'; expected one of {}",
                    LogicalType::SIMPLE_NAMES.join(", ")
                ))
            })
        })?;
        let nullable = with_key(&node, "nullable", |n| n.boolean())?.unwrap_or(true);
        let unique = with_key(&node, "unique", |n| n.boolean())?.unwrap_or(false);
        let mut add = |kind: CheckKind, origin: String, quality: bool| {
            contract.checks.push(Check {
                id: format!("{name}.{}", kind.name()),
                column: Some(name.clone()),
                kind,
                threshold: Threshold::NONE_FAIL,
                severity: Severity::Error,
                origin,
                quality,
            });
        };
        if !nullable {
            add(CheckKind::Null, node.key_path("nullable"), false);
        }
        if unique {
            add(
                CheckKind::Duplicate(vec![name.clone()]),
                node.key_path("unique"),
                true,
            );
        }
        let mut kbuf = String::new();
        if let Some(checks) = node.get("checks", &mut kbuf) {
            for (i, c) in checks.items()?.iter().enumerate() {
                let cpath = format!("{}[{i}]", checks.path);
                let cnode = Node {
                    v: c,
                    file: root.file,
                    path: &cpath,
                };
                add(simple_check(&cnode)?, cpath.clone(), true);
            }
        }
        contract.columns.push(ColumnSpec {
            name: name.clone(),
            logical_type,
            physical_type: None,
            required: !nullable,
            unique,
            primary_key: false,
        });
    }
    Ok(contract)
}

/// `ge(0)`, `le(100)`, `gt(1.5)`, `lt(10)`, `isin(['a', 'b'])`, `str_matches('^x')`,
/// `str_length(1, 10)`; also the mapping form `{ge: 0}`.
fn simple_check(node: &Node<'_>) -> Result<CheckKind, ContractError> {
    let (name, args): (String, Vec<Value>) = match node.v {
        Value::String(s) => {
            let s = s.trim();
            let open = s.find('(').filter(|_| s.ends_with(')')).ok_or_else(|| {
                node.err(format!(
                    "'{s}' is not a check call like ge(0) or isin(['a', 'b']); known checks: {}",
                    SIMPLE_CHECKS.join(", ")
                ))
            })?;
            let inner = &s[open + 1..s.len() - 1];
            // The arguments are YAML flow values: numbers, 'quoted text', [lists].
            let parsed: Value = super::yaml::parse(&format!("[{inner}]"))
                .map_err(|e| node.err(format!("cannot read the arguments of '{s}': {e}")))?;
            let args = parsed.as_sequence().cloned().unwrap_or_default();
            (s[..open].trim().to_string(), args)
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().ok_or_else(|| node.expected("a check"))?;
            let name = k.as_str().unwrap_or_default().to_string();
            let args = match v {
                Value::Sequence(items) if name != "isin" => items.clone(),
                other => vec![other.clone()],
            };
            (name, args)
        }
        _ => return Err(node.expected("a check like ge(0) or {ge: 0}")),
    };
    let number = |i: usize| -> Result<Bound, ContractError> {
        match args.get(i) {
            Some(Value::Number(super::yaml::Number::Float(x))) if x.is_nan() => {
                Err(node.err(format!("{name}: a bound must be a number, not NaN")))
            }
            Some(Value::Number(n)) => Ok(number_bound(n)),
            Some(Value::String(s)) => Bound::parse_instant(s).ok_or_else(|| {
                node.err(format!(
                    "{name}: '{s}' is neither a number nor a date/timestamp like '2024-01-31'"
                ))
            }),
            _ => Err(node.err(format!(
                "{name}: expected a number argument, or a date/timestamp like '2024-01-31'"
            ))),
        }
    };
    let text = |i: usize| -> Result<String, ContractError> {
        args.get(i)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| node.err(format!("{name}: expected a text argument")))
    };
    Ok(match name.as_str() {
        "ge" | "greater_than_or_equal_to" => CheckKind::Min {
            bound: number(0)?,
            exclusive: false,
        },
        "gt" | "greater_than" => CheckKind::Min {
            bound: number(0)?,
            exclusive: true,
        },
        "le" | "less_than_or_equal_to" => CheckKind::Max {
            bound: number(0)?,
            exclusive: false,
        },
        "lt" | "less_than" => CheckKind::Max {
            bound: number(0)?,
            exclusive: true,
        },
        "isin" => {
            let list = args
                .first()
                .and_then(Value::as_sequence)
                .ok_or_else(|| node.err("isin: expected a list of accepted values"))?;
            let path = node.path.to_string();
            let list_value = Value::Sequence(list.clone());
            literals(&Node {
                v: &list_value,
                file: node.file,
                path: &path,
            })
            .map(CheckKind::ValidValues)?
        }
        "str_matches" => {
            let pattern = text(0)?;
            CheckKind::Pattern(compile_pattern(node, &pattern, true)?)
        }
        other => {
            return Err(node.err(format!(
                "unknown check '{other}'; expected one of {}",
                SIMPLE_CHECKS.join(", ")
            )));
        }
    })
}

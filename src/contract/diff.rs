//! `contract_diff`: schema changes between two versions of a contract, classed breaking or
//! non-breaking, for CI gates on contract pull requests.

use super::model::{Check, ColumnSpec, Contract, LogicalType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub column: Option<String>,
    pub change: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
    pub breaking: bool,
}

fn type_text(c: &ColumnSpec) -> Option<String> {
    c.physical_type
        .clone()
        .or(c.logical_type.map(|t| t.name().to_string()))
}

/// Rank of an integer type by range, for widening (None: not an integer type).
fn int_rank(t: &str) -> Option<u8> {
    Some(match t.to_ascii_uppercase().as_str() {
        "TINYINT" => 1,
        "SMALLINT" => 2,
        "INTEGER" | "INT" => 3,
        "BIGINT" => 4,
        "HUGEINT" => 5,
        _ => return None,
    })
}

fn decimal(t: &str) -> Option<(u32, u32)> {
    let t = t.to_ascii_uppercase();
    let inner = t.strip_prefix("DECIMAL(")?.strip_suffix(')')?;
    let (p, s) = inner.split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

/// Whether changing a column from `old` to `new` keeps every old value representable.
fn widens(old: &ColumnSpec, new: &ColumnSpec) -> bool {
    if let (Some(o), Some(n)) = (&old.physical_type, &new.physical_type) {
        if let (Some(a), Some(b)) = (int_rank(o), int_rank(n)) {
            return b >= a;
        }
        if o.eq_ignore_ascii_case("FLOAT") && n.eq_ignore_ascii_case("DOUBLE") {
            return true;
        }
        if let (Some((p1, s1)), Some((p2, s2))) = (decimal(o), decimal(n)) {
            return s2 >= s1 && i64::from(p2) - i64::from(s2) >= i64::from(p1) - i64::from(s1);
        }
        if int_rank(o).is_some() && (n.eq_ignore_ascii_case("DOUBLE") || decimal(n).is_some()) {
            return true;
        }
        return false;
    }
    matches!(
        (old.logical_type, new.logical_type),
        (Some(LogicalType::Integer), Some(LogicalType::Number))
    )
}

fn check_key(c: &Check) -> String {
    format!(
        "{}|{}|{:?}|{:?}",
        c.column.as_deref().unwrap_or(""),
        c.kind.name(),
        kind_params(c),
        c.threshold
    )
}

fn kind_params(c: &Check) -> String {
    use super::model::CheckKind::*;
    match &c.kind {
        Min { bound, exclusive } | Max { bound, exclusive } => format!("{bound}/{exclusive}"),
        MinLength(n) | MaxLength(n) => n.to_string(),
        Pattern(re) => re.as_str().to_string(),
        ValidValues(v) | Missing(v) => {
            let items: Vec<String> = v.iter().map(literal_text).collect();
            format!("[{}]", items.join(", "))
        }
        Duplicate(cols) => cols.join(","),
        Freshness { max_age_seconds } => max_age_seconds.to_string(),
        Null | RowCount => String::new(),
    }
}

fn literal_text(l: &super::model::Literal) -> String {
    use super::model::Literal;
    match l {
        Literal::Integer(i) => i.to_string(),
        Literal::Number(x) => x.to_string(),
        Literal::Decimal(_, e, _) => e.to_string(),
        Literal::Text(t) => format!("'{t}'"),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "NULL".into(),
    }
}

fn describe_check(c: &Check) -> String {
    let params = kind_params(c);
    if params.is_empty() {
        c.kind.name().to_string()
    } else {
        format!("{} {params}", c.kind.name())
    }
}

/// The changes from `old` to `new`: columns (removed, added, type, nullability, uniqueness),
/// then checks (added checks can reject data that passed before: breaking; removed: not).
pub fn diff(old: &Contract, new: &Contract) -> Vec<Change> {
    let mut out = Vec::new();
    let find = |cols: &[ColumnSpec], name: &str| {
        cols.iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
    };
    for o in &old.columns {
        let Some(n) = find(&new.columns, &o.name) else {
            out.push(Change {
                column: Some(o.name.clone()),
                change: "removed column",
                old: type_text(o),
                new: None,
                breaking: true,
            });
            continue;
        };
        let (ot, nt) = (type_text(o), type_text(&n));
        let same_physical = match (&o.physical_type, &n.physical_type) {
            (Some(a), Some(b)) => super::model::same_type_text(a, b),
            (a, b) => a == b,
        };
        if ot != nt && (!same_physical || o.logical_type != n.logical_type) {
            let widened = widens(o, &n);
            out.push(Change {
                column: Some(o.name.clone()),
                change: if widened {
                    "widened type"
                } else {
                    "type change"
                },
                old: ot,
                new: nt,
                breaking: !widened,
            });
        }
        if o.required != n.required {
            out.push(Change {
                column: Some(o.name.clone()),
                change: if n.required {
                    "nullable -> required"
                } else {
                    "required -> nullable"
                },
                old: Some(if o.required { "required" } else { "nullable" }.into()),
                new: Some(if n.required { "required" } else { "nullable" }.into()),
                breaking: n.required,
            });
        }
        if o.unique != n.unique {
            out.push(Change {
                column: Some(o.name.clone()),
                change: if n.unique {
                    "unique added"
                } else {
                    "unique removed"
                },
                old: Some(o.unique.to_string()),
                new: Some(n.unique.to_string()),
                breaking: n.unique,
            });
        }
    }
    for n in &new.columns {
        if find(&old.columns, &n.name).is_none() {
            out.push(Change {
                column: Some(n.name.clone()),
                change: if n.required {
                    "new required column"
                } else {
                    "new optional column"
                },
                old: None,
                new: type_text(n),
                breaking: n.required,
            });
        }
    }
    if !old.strict && new.strict {
        out.push(Change {
            column: None,
            change: "strict added",
            old: Some("false".into()),
            new: Some("true".into()),
            breaking: true,
        });
    }
    // Checks tied to column changes above (required, unique) are not repeated.
    let skip = |c: &Check| {
        use super::model::CheckKind::{Duplicate, Null};
        match (&c.kind, &c.column) {
            (Null, Some(_)) => !c.quality,
            (Duplicate(cols), Some(col)) => cols.len() == 1 && &cols[0] == col && !c.quality,
            _ => false,
        }
    };
    let old_keys: Vec<String> = old.checks.iter().map(check_key).collect();
    let new_keys: Vec<String> = new.checks.iter().map(check_key).collect();
    for (c, k) in new.checks.iter().zip(&new_keys) {
        if !skip(c) && !old_keys.contains(k) && column_in(&old.columns, c) {
            out.push(Change {
                column: c.column.clone(),
                change: "check added",
                old: None,
                new: Some(describe_check(c)),
                breaking: true,
            });
        }
    }
    for (c, k) in old.checks.iter().zip(&old_keys) {
        if !skip(c) && !new_keys.contains(k) && column_in(&new.columns, c) {
            out.push(Change {
                column: c.column.clone(),
                change: "check removed",
                old: Some(describe_check(c)),
                new: None,
                breaking: false,
            });
        }
    }
    out
}

/// Whether the check's column exists in `columns` (schema-level checks always count): a check
/// on a removed or added column is covered by the column change itself.
fn column_in(columns: &[ColumnSpec], c: &Check) -> bool {
    match &c.column {
        None => true,
        Some(name) => columns
            .iter()
            .any(|col| col.name.eq_ignore_ascii_case(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::parse;

    const OLD: &str = r#"
columns:
  id: {dtype: int, nullable: false, unique: true}
  amount: {dtype: int, checks: ["ge(0)"]}
  note: {dtype: str}
  code: {dtype: str}
"#;
    const NEW: &str = r#"
columns:
  id: {dtype: int, nullable: false, unique: true}
  amount: {dtype: float, checks: ["ge(0)", "le(1000)"]}
  code: {dtype: str, nullable: false}
  email: {dtype: str}
  tenant: {dtype: str, nullable: false}
"#;

    #[test]
    fn changes_are_classed_breaking_or_not() {
        let old = parse("old.yaml", OLD).unwrap();
        let new = parse("new.yaml", NEW).unwrap();
        let got: Vec<(String, &str, bool)> = diff(&old, &new)
            .into_iter()
            .map(|c| (c.column.unwrap_or_default(), c.change, c.breaking))
            .collect();
        assert_eq!(
            got,
            vec![
                ("amount".to_string(), "widened type", false),
                ("note".to_string(), "removed column", true),
                ("code".to_string(), "nullable -> required", true),
                ("email".to_string(), "new optional column", false),
                ("tenant".to_string(), "new required column", true),
                ("amount".to_string(), "check added", true),
            ]
        );
        assert!(diff(&old, &old).is_empty(), "no change, no rows");
    }

    #[test]
    fn physical_widening_rules() {
        let spec = |t: &str| ColumnSpec {
            name: "x".into(),
            logical_type: None,
            physical_type: Some(t.into()),
            required: false,
            unique: false,
            primary_key: false,
        };
        assert!(widens(&spec("INTEGER"), &spec("BIGINT")));
        assert!(!widens(&spec("BIGINT"), &spec("INTEGER")));
        assert!(widens(&spec("DECIMAL(10,2)"), &spec("DECIMAL(12,2)")));
        assert!(!widens(&spec("DECIMAL(10,2)"), &spec("DECIMAL(10,3)")));
        assert!(widens(&spec("FLOAT"), &spec("DOUBLE")));
        assert!(!widens(&spec("VARCHAR"), &spec("INTEGER")));
    }

    #[test]
    fn requoting_a_physical_type_is_no_type_change() {
        let contract = |t: &str| {
            let yaml = format!(
                "apiVersion: v3.1.0\nkind: DataContract\nschema:\n  - name: t\n    properties:\n      - name: s\n        physicalType: '{t}'\n"
            );
            parse("c.yaml", &yaml).unwrap()
        };
        let old = contract("STRUCT(value INTEGER, from INTEGER)");
        let new = contract("STRUCT(\"value\" INTEGER, \"from\" INTEGER)");
        assert!(diff(&old, &new).is_empty(), "{:?}", diff(&old, &new));
        let other = contract("STRUCT(value BIGINT, from INTEGER)");
        assert_eq!(diff(&old, &other).len(), 1);
    }
}

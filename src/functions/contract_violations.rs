//! `contract_violations(<row STRUCT>, '<contract path>')`: the row-level checks of the contract
//! that the row violates (an empty list when the row is valid), for
//! `WHERE len(contract_violations(t, 'c.yaml')) = 0`. The contract is parsed once, at bind; the
//! verdicts come from the same engine as `contract_check` and dw_staging.

use crate::contract::engine::Evaluator;
use crate::ffi::chunk::ChunkReader;
use crate::ffi::scalar::{ScalarBindInfo, ScalarFunction};
use crate::ffi::{LogicalType, VectorWriter};
use crate::options::OptionValue;
use crate::staging::schema::{Column, ColumnType};
use duckdb::ffi;
use std::error::Error;

pub struct ContractViolations;

#[derive(Clone)]
pub struct ContractViolationsBindData {
    fields: Vec<Column>,
    evaluator: Evaluator,
}

const FUNCTION: &str = "contract_violations";

/// The row STRUCT's fields and the parsed contract, shared by the contract functions' binds.
pub fn bind_row_and_contract(
    function: &str,
    info: &ScalarBindInfo,
) -> Result<(Vec<Column>, crate::contract::Contract), String> {
    let usage = format!("use it as {function}(t, 'contract.yaml') FROM my_table t");
    let fields = match info.argument_type(0) {
        Ok(ColumnType::Struct(fields)) => fields,
        Ok(other) => {
            return Err(format!(
                "{function}: the first argument must be the row as a STRUCT, got {}; {usage}",
                other.staged_sql_type()
            ));
        }
        Err(u) => {
            return Err(format!(
                "{function}: the row has a column of type {} that contracts cannot check; {usage}",
                u.ty
            ));
        }
    };
    let path = match info.constant_argument(1) {
        Some(OptionValue::Text(p)) => p,
        _ => {
            return Err(format!(
                "{function}: the contract path must be a constant text; {usage}"
            ));
        }
    };
    let contract = crate::contract::load(&path).map_err(|e| format!("{function}: {e}"))?;
    Ok((fields, contract))
}

/// (name, DuckDB type) of the row's fields, as the engine's schema checks compare them.
pub fn field_types(fields: &[Column]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| (f.name.clone(), f.ty.staged_sql_type()))
        .collect()
}

impl ScalarFunction for ContractViolations {
    const NAME: &'static str = FUNCTION;
    type BindData = ContractViolationsBindData;

    fn parameters() -> Vec<LogicalType> {
        vec![
            LogicalType::from_id(ffi::DUCKDB_TYPE_DUCKDB_TYPE_ANY),
            LogicalType::varchar(),
        ]
    }

    fn return_type() -> LogicalType {
        LogicalType::list(&LogicalType::varchar())
    }

    fn bind(info: &ScalarBindInfo) -> Result<ContractViolationsBindData, Box<dyn Error>> {
        let (fields, contract) = bind_row_and_contract(FUNCTION, info)?;
        let evaluator = Evaluator::new(&contract, &field_types(&fields));
        let unrunnable = evaluator.unrunnable_row_checks();
        if !unrunnable.is_empty() {
            return Err(format!(
                "{FUNCTION}: contract {}: {}; every row would pass these checks unseen \
                 (contract_check reports the schema checks)",
                contract.file,
                unrunnable.join("; ")
            )
            .into());
        }
        Ok(ContractViolationsBindData { fields, evaluator })
    }

    fn invoke(
        bind: &ContractViolationsBindData,
        input: &ChunkReader,
        output: &mut VectorWriter,
    ) -> Result<(), Box<dyn Error>> {
        let rows = input.len();
        let batch = input.arrow_row_for_checks(0, &bind.fields)?;
        let per_row = bind.evaluator.violations_per_row(&batch, rows);
        let total: usize = per_row.iter().map(Vec::len).sum();
        {
            let entries = output.list_entries()?;
            let mut offset = 0u64;
            for (row, v) in per_row.iter().enumerate() {
                entries[row] = ffi::duckdb_list_entry {
                    offset,
                    length: v.len() as u64,
                };
                offset += v.len() as u64;
            }
        }
        let mut child = output.list_child(total)?;
        for (i, id) in per_row.iter().flatten().enumerate() {
            child.set_str(i, id)?;
        }
        Ok(())
    }
}

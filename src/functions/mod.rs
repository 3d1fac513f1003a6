//! Every SQL name the extension registers, in one place. One file per SQL function.

mod contract_check;
mod contract_diff;
mod contract_violations;
mod dw_staging;
mod etl_audit;
mod etl_clean_stale;
mod etl_dbt_sources;
mod etl_test_lines;
mod etl_version;
mod rest_scan;

use crate::ffi::Registrar;
use crate::ffi::rows::Rows;
use std::error::Error;

/// Environment variable that, when set to 1 at LOAD time, also registers the internal test
/// formats (`etl_test_lines`). Only the test suite sets it; users never see these functions.
pub const TEST_HOOKS_ENV: &str = "ETL_TEST_HOOKS";

/// With ETL_TEST_HOOKS=1, this variable makes LOAD fail on purpose (`error` or `panic`), so the
/// tests can prove the entrypoint reports load failures instead of crashing or failing silently.
pub const TEST_LOAD_FAILURE_ENV: &str = "ETL_TEST_LOAD_FAILURE";

/// Registers all SQL functions. Called once per LOAD by the entrypoint.
pub fn register(r: &Registrar) -> Result<(), Box<dyn Error>> {
    r.scalar::<etl_version::EtlVersion>("etl_version")?;
    r.table_raw::<rest_scan::RestScan>()?;
    r.copy::<dw_staging::DwStaging>()?;
    r.scalar_raw::<contract_violations::ContractViolations>()?;
    r.aggregate::<contract_check::ContractCheck>()?;
    r.table_raw::<Rows<contract_diff::ContractDiff>>()?;
    r.table_raw::<Rows<etl_audit::EtlAudit>>()?;
    r.table_raw::<Rows<etl_dbt_sources::EtlDbtSources>>()?;
    r.table_raw::<Rows<etl_clean_stale::EtlCleanStale>>()?;
    if std::env::var(TEST_HOOKS_ENV).as_deref() == Ok("1") {
        r.copy::<etl_test_lines::TestLines>()?;
        match std::env::var(TEST_LOAD_FAILURE_ENV).as_deref() {
            Ok("error") => return Err("injected load failure".into()),
            // Deliberate: proves the entrypoint contains panics.
            Ok("panic") => panic!("injected panic at load"),
            _ => {}
        }
    }
    Ok(())
}

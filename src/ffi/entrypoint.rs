//! The extension entrypoint's machinery: C API initialisation, panic containment, error
//! reporting through the host's `set_error`, and the [`Registrar`] that registers functions.

use super::copy::{self, CopyFunction};
use super::guard::{c_message, error_chain, panic_message};
use crate::config::ExtensionConfig;
use duckdb::Connection;
use duckdb::ffi;
use duckdb::vscalar::VScalar;
use duckdb::vtab::VTab;
use std::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Registers SQL functions during LOAD. Holds a duckdb-rs connection (scalar and table
/// functions) and a raw one (copy functions); both are closed when registration ends, so no
/// connection outlives LOAD.
pub struct Registrar {
    connection: Connection,
    raw: ffi::duckdb_connection,
}

impl Registrar {
    pub fn scalar<T: VScalar>(&self, name: &str) -> Result<(), Box<dyn Error>>
    where
        T::State: Default,
    {
        self.connection
            .register_scalar_function::<T>(name)
            .map_err(|e| format!("registering {name}: {e}").into())
    }

    pub fn table<T: VTab>(&self, name: &str) -> Result<(), Box<dyn Error>> {
        self.connection
            .register_table_function::<T>(name)
            .map_err(|e| format!("registering {name}: {e}").into())
    }

    pub fn table_raw<T: super::table::TableFunction>(&self) -> Result<(), Box<dyn Error>> {
        // SAFETY: raw is open for the Registrar's lifetime.
        unsafe { super::table::register::<T>(self.raw) }
    }

    pub fn scalar_raw<T: super::scalar::ScalarFunction>(&self) -> Result<(), Box<dyn Error>> {
        // SAFETY: raw is open for the Registrar's lifetime.
        unsafe { super::scalar::register::<T>(self.raw) }
    }

    pub fn aggregate<T: super::aggregate::AggregateFunction>(&self) -> Result<(), Box<dyn Error>> {
        // SAFETY: raw is open for the Registrar's lifetime.
        unsafe { super::aggregate::register::<T>(self.raw) }
    }

    pub fn copy<T: CopyFunction>(&self) -> Result<(), Box<dyn Error>> {
        // SAFETY: raw is open for the Registrar's lifetime.
        unsafe { copy::register::<T>(self.raw) }
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        // SAFETY: raw was opened by duckdb_connect in `load` and is closed exactly once.
        unsafe { ffi::duckdb_disconnect(&mut self.raw) };
    }
}

/// The body of `etl_init_c_api`: never unwinds, never returns false without an error set.
///
/// # Safety
/// `info` and `access` must be what DuckDB passed to the entrypoint.
pub unsafe fn init_extension(
    info: ffi::duckdb_extension_info,
    access: *const ffi::duckdb_extension_access,
    register: fn(&Registrar) -> Result<(), Box<dyn Error>>,
) -> bool {
    // SAFETY: forwarded caller contract.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { load(info, access, register) }));
    let message = match outcome {
        Ok(Ok(())) => return true,
        Ok(Err(error)) => format!("etl: loading failed: {}", error_chain(error.as_ref())),
        Err(payload) => panic_message("etl", "LOAD", payload.as_ref()),
    };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: access is DuckDB's table of entrypoint callbacks (caller contract).
        if let Some(set_error) = unsafe { access.as_ref() }.and_then(|a| a.set_error) {
            let text = c_message(&message);
            // SAFETY: info is DuckDB's; text outlives the call.
            unsafe { set_error(info, text.as_ptr()) };
        }
    }));
    false
}

unsafe fn load(
    info: ffi::duckdb_extension_info,
    access: *const ffi::duckdb_extension_access,
    register: fn(&Registrar) -> Result<(), Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let config = ExtensionConfig::builtin()?;
    // SAFETY: info/access come from DuckDB (caller contract).
    let have_api =
        unsafe { ffi::duckdb_rs_extension_api_init(info, access, &config.c_api_version)? };
    if !have_api {
        return Err(format!(
            "this DuckDB does not provide C API {} (etl needs DuckDB {} or newer)",
            config.c_api_version,
            config.c_api_version.trim_start_matches('v')
        )
        .into());
    }
    // SAFETY: access is valid; get_database returns a pointer to the host's database handle,
    // valid during the entrypoint.
    let db = unsafe {
        let get_database = (*access)
            .get_database
            .ok_or("the host passed no get_database callback")?;
        let db_ptr = get_database(info);
        if db_ptr.is_null() {
            return Err("the host passed no database".into());
        }
        *db_ptr
    };
    // SAFETY: db is the host's open database; both connections are closed when the Registrar
    // drops at the end of this function.
    let registrar = unsafe {
        let connection = Connection::open_from_raw(db.cast())?;
        let mut raw: ffi::duckdb_connection = std::ptr::null_mut();
        if ffi::duckdb_connect(db, &mut raw) != ffi::duckdb_state_DuckDBSuccess {
            return Err("could not open a connection to register functions".into());
        }
        Registrar { connection, raw }
    };
    register(&registrar)
}

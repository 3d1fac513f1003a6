//! Table functions through raw FFI. duckdb-rs's `VTab` cannot read STRUCT/MAP named
//! parameters nor give us the raw chunk, so functions that need those implement
//! [`TableFunction`] instead. Panics in every callback are contained.

use super::guard::{contain, drop_boxed, report};
use super::logical::LogicalType;
use super::value;
use super::vector::{VectorWriter, vector_size};
use crate::options::OptionValue;
use duckdb::ffi;
use std::error::Error;
use std::ffi::CString;

pub trait TableFunction: 'static {
    const NAME: &'static str;
    type BindData: Send + Sync + 'static;
    type InitData: Send + Sync + 'static;

    /// Positional parameter types.
    fn parameters() -> Vec<LogicalType>;
    /// Named parameters (name, type).
    fn named_parameters() -> Vec<(&'static str, LogicalType)>;
    fn bind(info: &mut TableBindInfo) -> Result<Self::BindData, Box<dyn Error>>;
    fn init(info: &TableInitInfo, bind: &Self::BindData) -> Result<Self::InitData, Box<dyn Error>>;
    /// Fills `out` (set its length; 0 ends the scan).
    fn scan(
        bind: &Self::BindData,
        init: &Self::InitData,
        out: &mut OutputChunk,
    ) -> Result<(), Box<dyn Error>>;
}

pub struct TableBindInfo {
    raw: ffi::duckdb_bind_info,
    named: Vec<&'static str>,
}

impl TableBindInfo {
    pub fn parameter(&self, index: usize) -> OptionValue {
        // SAFETY: raw is the live bind info; the returned value is owned and taken.
        unsafe {
            value::take(ffi::duckdb_bind_get_parameter(
                self.raw,
                index as ffi::idx_t,
            ))
        }
    }

    /// The named parameters the user gave, as (name, value).
    pub fn named_parameters(&self) -> Vec<(String, OptionValue)> {
        let mut out = Vec::new();
        for name in &self.named {
            let Ok(c) = CString::new(*name) else { continue };
            // SAFETY: raw is live; a null result means "not given"; values are owned.
            let v = unsafe { ffi::duckdb_bind_get_named_parameter(self.raw, c.as_ptr()) };
            if !v.is_null() {
                // SAFETY: v is an owned value.
                out.push((name.to_string(), unsafe { value::take(v) }));
            }
        }
        out
    }

    pub fn add_result_column(&mut self, name: &str, ty: &LogicalType) {
        let name = CString::new(name.replace('\0', "")).unwrap_or_default();
        // SAFETY: raw is live; DuckDB copies the name and the type.
        unsafe { ffi::duckdb_bind_add_result_column(self.raw, name.as_ptr(), ty.raw()) };
    }
}

pub struct TableInitInfo {
    raw: ffi::duckdb_init_info,
}

impl TableInitInfo {
    /// Indices (into the bound columns) of the columns the query needs, in output order.
    pub fn projected_columns(&self) -> Vec<usize> {
        // SAFETY: raw is the live init info.
        unsafe {
            let n = ffi::duckdb_init_get_column_count(self.raw);
            (0..n)
                .map(|i| ffi::duckdb_init_get_column_index(self.raw, i) as usize)
                .collect()
        }
    }
    pub fn set_max_threads(&self, n: usize) {
        // SAFETY: raw is live.
        unsafe { ffi::duckdb_init_set_max_threads(self.raw, n as ffi::idx_t) };
    }
}

/// The output chunk of one scan call.
pub struct OutputChunk {
    raw: ffi::duckdb_data_chunk,
}

impl OutputChunk {
    pub fn capacity(&self) -> usize {
        vector_size()
    }
    pub fn column_count(&self) -> usize {
        // SAFETY: raw is the live output chunk.
        unsafe { ffi::duckdb_data_chunk_get_column_count(self.raw) as usize }
    }
    pub fn column(&self, index: usize) -> VectorWriter {
        // SAFETY: index < column_count (callers iterate that range); output vectors are
        // writable with vector_size() rows.
        unsafe {
            VectorWriter::new(
                ffi::duckdb_data_chunk_get_vector(self.raw, index as ffi::idx_t),
                vector_size(),
            )
        }
    }
    pub fn set_len(&mut self, rows: usize) {
        // SAFETY: raw is live; rows <= capacity is the caller's responsibility (checked here).
        unsafe { ffi::duckdb_data_chunk_set_size(self.raw, rows.min(vector_size()) as ffi::idx_t) };
    }
}

struct Extra {
    named: Vec<&'static str>,
}

unsafe extern "C" fn bind<T: TableFunction>(info: ffi::duckdb_bind_info) {
    let outcome = contain(T::NAME, "bind", || {
        // SAFETY: the extra info is the Box<Extra> set at registration, alive as long as the
        // function is registered.
        let named = unsafe {
            ffi::duckdb_bind_get_extra_info(info)
                .cast::<Extra>()
                .as_ref()
        }
        .map(|e| e.named.clone())
        .unwrap_or_default();
        let mut wrapped = TableBindInfo { raw: info, named };
        let data = T::bind(&mut wrapped)?;
        let ptr = Box::into_raw(Box::new(data));
        // SAFETY: DuckDB owns ptr from here and frees it with drop_boxed.
        unsafe {
            ffi::duckdb_bind_set_bind_data(info, ptr.cast(), Some(drop_boxed::<T::BindData>))
        };
        Ok(())
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe { ffi::duckdb_bind_set_error(info, c) });
    }
}

unsafe extern "C" fn init<T: TableFunction>(info: ffi::duckdb_init_info) {
    let outcome = contain(T::NAME, "init", || {
        // SAFETY: bind data is the Box<T::BindData> from bind, alive for the statement.
        let bind_data = unsafe {
            ffi::duckdb_init_get_bind_data(info)
                .cast::<T::BindData>()
                .as_ref()
        }
        .ok_or("bind data is missing")?;
        let data = T::init(&TableInitInfo { raw: info }, bind_data)?;
        let ptr = Box::into_raw(Box::new(data));
        // SAFETY: DuckDB owns ptr from here and frees it with drop_boxed.
        unsafe {
            ffi::duckdb_init_set_init_data(info, ptr.cast(), Some(drop_boxed::<T::InitData>))
        };
        Ok(())
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe { ffi::duckdb_init_set_error(info, c) });
    }
}

unsafe extern "C" fn scan<T: TableFunction>(
    info: ffi::duckdb_function_info,
    output: ffi::duckdb_data_chunk,
) {
    let outcome = contain(T::NAME, "scan", || {
        // SAFETY: bind and init data are the boxes set in bind/init, alive during the scan.
        let (bind_data, init_data) = unsafe {
            (
                ffi::duckdb_function_get_bind_data(info)
                    .cast::<T::BindData>()
                    .as_ref(),
                ffi::duckdb_function_get_init_data(info)
                    .cast::<T::InitData>()
                    .as_ref(),
            )
        };
        let mut out = OutputChunk { raw: output };
        T::scan(
            bind_data.ok_or("bind data is missing")?,
            init_data.ok_or("init data is missing")?,
            &mut out,
        )
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe { ffi::duckdb_function_set_error(info, c) });
    }
}

/// Registers `T` on a raw connection.
///
/// # Safety
/// `connection` must be a valid, open connection.
pub(super) unsafe fn register<T: TableFunction>(
    connection: ffi::duckdb_connection,
) -> Result<(), Box<dyn Error>> {
    let name = CString::new(T::NAME)?;
    let named = T::named_parameters();
    let extra = Box::new(Extra {
        named: named.iter().map(|(n, _)| *n).collect(),
    });
    // SAFETY: the function handle is created, configured and destroyed here; registration
    // copies it into the catalog, which owns the extra info (freed by drop_boxed).
    unsafe {
        let mut f = ffi::duckdb_create_table_function();
        ffi::duckdb_table_function_set_name(f, name.as_ptr());
        for ty in T::parameters() {
            ffi::duckdb_table_function_add_parameter(f, ty.raw());
        }
        for (param, ty) in &named {
            let c = CString::new(*param)?;
            ffi::duckdb_table_function_add_named_parameter(f, c.as_ptr(), ty.raw());
        }
        ffi::duckdb_table_function_set_extra_info(
            f,
            Box::into_raw(extra).cast(),
            Some(drop_boxed::<Extra>),
        );
        ffi::duckdb_table_function_set_bind(f, Some(bind::<T>));
        ffi::duckdb_table_function_set_init(f, Some(init::<T>));
        ffi::duckdb_table_function_set_function(f, Some(scan::<T>));
        ffi::duckdb_table_function_supports_projection_pushdown(f, true);
        let state = ffi::duckdb_register_table_function(connection, f);
        ffi::duckdb_destroy_table_function(&mut f);
        if state != ffi::duckdb_state_DuckDBSuccess {
            return Err(format!("registering table function {} failed", T::NAME).into());
        }
    }
    Ok(())
}

//! Scalar functions through raw FFI, for what duckdb-rs's `VScalar` lacks: a bind callback that
//! sees the argument types (a row STRUCT of any shape) and folds constant arguments (a contract
//! path) once per query. Panics in every callback are contained.

use super::arrow::{Unsupported, column_type};
use super::chunk::ChunkReader;
use super::guard::{contain, drop_boxed, report};
use super::logical::LogicalType;
use super::value;
use super::vector::VectorWriter;
use crate::options::OptionValue;
use crate::staging::schema::ColumnType;
use duckdb::ffi;
use std::error::Error;
use std::ffi::CString;

pub trait ScalarFunction: 'static {
    const NAME: &'static str;
    /// Cloned when DuckDB copies the expression (filter pushdown, ...).
    type BindData: Clone + Send + Sync + 'static;
    fn parameters() -> Vec<LogicalType>;
    fn return_type() -> LogicalType;
    fn bind(info: &ScalarBindInfo) -> Result<Self::BindData, Box<dyn Error>>;
    /// Fills `output` for every row of `input`.
    fn invoke(
        bind: &Self::BindData,
        input: &ChunkReader,
        output: &mut VectorWriter,
    ) -> Result<(), Box<dyn Error>>;
}

pub struct ScalarBindInfo {
    raw: ffi::duckdb_bind_info,
}

/// An owned expression, destroyed on drop.
struct Expr(ffi::duckdb_expression);

impl Drop for Expr {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: we own the expression and destroy it once.
            unsafe { ffi::duckdb_destroy_expression(&mut self.0) };
        }
    }
}

impl ScalarBindInfo {
    fn argument(&self, index: usize) -> Option<Expr> {
        // SAFETY: raw is the live bind info; the expression is owned by us (Expr drops it).
        let e =
            unsafe { ffi::duckdb_scalar_function_bind_get_argument(self.raw, index as ffi::idx_t) };
        (!e.is_null()).then_some(Expr(e))
    }

    /// The type of argument `index` as the staging/contract core describes it.
    pub fn argument_type(&self, index: usize) -> Result<ColumnType, Unsupported> {
        let missing = || Unsupported {
            ty: "a missing argument".into(),
            path: Vec::new(),
        };
        let expr = self.argument(index).ok_or_else(missing)?;
        // SAFETY: expr is live; the returned logical type is owned and destroyed after use.
        unsafe {
            let mut ty = ffi::duckdb_expression_return_type(expr.0);
            if ty.is_null() {
                return Err(missing());
            }
            let described = column_type(ty);
            ffi::duckdb_destroy_logical_type(&mut ty);
            described
        }
    }

    /// The value of argument `index` when it is a constant (folded once, here at bind).
    pub fn constant_argument(&self, index: usize) -> Option<OptionValue> {
        let expr = self.argument(index)?;
        // SAFETY: expr and the client context are live and owned here; the folded value and
        // any error data are owned and destroyed.
        unsafe {
            if !ffi::duckdb_expression_is_foldable(expr.0) {
                return None;
            }
            let mut context: ffi::duckdb_client_context = std::ptr::null_mut();
            ffi::duckdb_scalar_function_get_client_context(self.raw, &mut context);
            if context.is_null() {
                return None;
            }
            let mut out: ffi::duckdb_value = std::ptr::null_mut();
            let mut error = ffi::duckdb_expression_fold(context, expr.0, &mut out);
            ffi::duckdb_destroy_client_context(&mut context);
            let failed = !error.is_null() && ffi::duckdb_error_data_has_error(error);
            if !error.is_null() {
                ffi::duckdb_destroy_error_data(&mut error);
            }
            if failed || out.is_null() {
                return None;
            }
            Some(value::take(out))
        }
    }
}

unsafe extern "C" fn bind<T: ScalarFunction>(info: ffi::duckdb_bind_info) {
    let outcome = contain(T::NAME, "bind", || {
        let data = T::bind(&ScalarBindInfo { raw: info })?;
        let ptr = Box::into_raw(Box::new(data));
        // SAFETY: info is live; DuckDB owns ptr from here and frees it with drop_boxed.
        unsafe {
            ffi::duckdb_scalar_function_set_bind_data(
                info,
                ptr.cast(),
                Some(drop_boxed::<T::BindData>),
            );
            ffi::duckdb_scalar_function_set_bind_data_copy(info, Some(copy_boxed::<T::BindData>));
        };
        Ok(())
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe {
            ffi::duckdb_scalar_function_bind_set_error(info, c)
        });
    }
}

/// Clones boxed bind data for DuckDB (never unwinds: a panic yields null, which DuckDB reports).
unsafe extern "C" fn copy_boxed<D: Clone>(data: *mut std::ffi::c_void) -> *mut std::ffi::c_void {
    std::panic::catch_unwind(|| {
        // SAFETY: data is the Box<D> set in bind (or a previous copy), alive during the call.
        match unsafe { data.cast::<D>().as_ref() } {
            Some(d) => Box::into_raw(Box::new(d.clone())).cast(),
            None => std::ptr::null_mut(),
        }
    })
    .unwrap_or(std::ptr::null_mut())
}

unsafe extern "C" fn invoke<T: ScalarFunction>(
    info: ffi::duckdb_function_info,
    input: ffi::duckdb_data_chunk,
    output: ffi::duckdb_vector,
) {
    let outcome = contain(T::NAME, "invoke", || {
        // SAFETY: the bind data is the box set in bind, alive for the query; input is the live
        // argument chunk and output the live result vector of this call.
        let (bind, chunk) = unsafe {
            (
                ffi::duckdb_scalar_function_get_bind_data(info)
                    .cast::<T::BindData>()
                    .as_ref(),
                ChunkReader::new(input),
            )
        };
        let bind = bind.ok_or("bind data is missing")?;
        // SAFETY: the output vector has room for the chunk's rows.
        let mut out = unsafe { VectorWriter::new(output, chunk.len()) };
        T::invoke(bind, &chunk, &mut out)
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe {
            ffi::duckdb_scalar_function_set_error(info, c)
        });
    }
}

/// # Safety
/// `connection` must be a valid, open connection.
pub(super) unsafe fn register<T: ScalarFunction>(
    connection: ffi::duckdb_connection,
) -> Result<(), Box<dyn Error>> {
    let name = CString::new(T::NAME)?;
    // SAFETY: the function handle is created, configured and destroyed here; registration
    // copies it into the catalog.
    unsafe {
        let mut f = ffi::duckdb_create_scalar_function();
        ffi::duckdb_scalar_function_set_name(f, name.as_ptr());
        for ty in T::parameters() {
            ffi::duckdb_scalar_function_add_parameter(f, ty.raw());
        }
        ffi::duckdb_scalar_function_set_return_type(f, T::return_type().raw());
        ffi::duckdb_scalar_function_set_bind(f, Some(bind::<T>));
        ffi::duckdb_scalar_function_set_function(f, Some(invoke::<T>));
        let state = ffi::duckdb_register_scalar_function(connection, f);
        ffi::duckdb_destroy_scalar_function(&mut f);
        if state != ffi::duckdb_state_DuckDBSuccess {
            return Err(format!("registering scalar function {} failed", T::NAME).into());
        }
    }
    Ok(())
}

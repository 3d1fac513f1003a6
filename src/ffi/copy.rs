//! COPY TO functions (`COPY ... TO 'x' (FORMAT name, ...)`), which duckdb-rs does not wrap.
//!
//! Implement [`CopyFunction`] and register it with [`super::Registrar::copy`]. The wrapper owns
//! the bind data and global state (boxed, freed by DuckDB through our destructors, which never
//! unwind), converts the options STRUCT into plain values, and contains panics in every
//! callback. Callback order: `bind` once per statement; `initialize_global` once per output
//! file (several with PER_THREAD_OUTPUT / PARTITION_BY, possibly concurrently); `sink` per
//! chunk; `finalize` once per global state after the last chunk, and only when nothing failed.
//! When the query fails, DuckDB drops the global state without calling `finalize`: `Drop` of
//! the state is the place to clean up.

use super::chunk::{ChunkReader, type_id_name};
use super::guard::{contain, drop_boxed, report};
use super::value;
use crate::options::OptionValue;
use duckdb::ffi;
use std::error::Error;
use std::ffi::CStr;

/// A COPY TO format implemented in Rust.
pub trait CopyFunction: 'static {
    /// The FORMAT name users write.
    const NAME: &'static str;
    /// Checked options and column layout; shared read-only by every later callback.
    type BindData: Send + Sync + 'static;
    /// One output's state. `sink` gets `&` because DuckDB may call it from several threads:
    /// use interior mutability (a Mutex) for what changes.
    type GlobalState: Send + Sync + 'static;

    fn bind(info: &CopyBindInfo) -> Result<Self::BindData, Box<dyn Error>>;
    fn initialize_global(
        bind: &Self::BindData,
        info: &CopyInitInfo,
    ) -> Result<Self::GlobalState, Box<dyn Error>>;
    fn sink(
        bind: &Self::BindData,
        state: &Self::GlobalState,
        chunk: &ChunkReader,
    ) -> Result<(), Box<dyn Error>>;
    fn finalize(bind: &Self::BindData, state: &Self::GlobalState) -> Result<(), Box<dyn Error>>;
}

/// What bind can see: column types (no names: the C API does not pass them) and the options.
pub struct CopyBindInfo {
    raw: ffi::duckdb_copy_function_bind_info,
}

impl CopyBindInfo {
    pub fn column_count(&self) -> usize {
        // SAFETY: raw is the live bind info of the current callback.
        unsafe { ffi::duckdb_copy_function_bind_get_column_count(self.raw) as usize }
    }

    /// The DuckDB type id of column `index`.
    pub fn column_type_id(&self, index: usize) -> ffi::duckdb_type {
        // SAFETY: raw is live; the returned logical type is owned by us and destroyed here.
        unsafe {
            let mut ty =
                ffi::duckdb_copy_function_bind_get_column_type(self.raw, index as ffi::idx_t);
            if ty.is_null() {
                return ffi::DUCKDB_TYPE_DUCKDB_TYPE_INVALID;
            }
            let id = ffi::duckdb_get_type_id(ty);
            ffi::duckdb_destroy_logical_type(&mut ty);
            id
        }
    }

    /// Column `index`'s type as the staging core describes it; `Err` names an unsupported type.
    pub fn column_type(
        &self,
        index: usize,
    ) -> Result<crate::staging::schema::ColumnType, super::arrow::Unsupported> {
        // SAFETY: raw is live; the logical type is owned by us and destroyed after describing it.
        unsafe {
            let mut ty =
                ffi::duckdb_copy_function_bind_get_column_type(self.raw, index as ffi::idx_t);
            if ty.is_null() {
                return Err(super::arrow::Unsupported {
                    ty: "an unknown type".into(),
                    path: Vec::new(),
                });
            }
            let described = super::arrow::column_type(ty);
            ffi::duckdb_destroy_logical_type(&mut ty);
            described
        }
    }

    /// The SQL name of column `index`'s type, for errors.
    pub fn column_type_name(&self, index: usize) -> &'static str {
        type_id_name(self.column_type_id(index))
    }

    /// The COPY options as (UPPERCASE name, value) pairs; FORMAT is not among them.
    pub fn options(&self) -> Vec<(String, OptionValue)> {
        // SAFETY: raw is live; the options value is owned by us and destroyed by `take`.
        match unsafe { value::take(ffi::duckdb_copy_function_bind_get_options(self.raw)) } {
            OptionValue::Struct(fields) => fields,
            _ => Vec::new(),
        }
    }
}

/// What a global init can see: the target path DuckDB resolved for this output.
pub struct CopyInitInfo {
    raw: ffi::duckdb_copy_function_global_init_info,
}

impl CopyInitInfo {
    /// A DuckDB setting of the current connection (`threads`, ...), or Null when unknown.
    pub fn setting(&self, name: &str) -> OptionValue {
        let Ok(name) = std::ffi::CString::new(name) else {
            return OptionValue::Null;
        };
        // SAFETY: raw is live; the client context and the value are owned by us and destroyed
        // here (`take` destroys the value).
        unsafe {
            let mut context = ffi::duckdb_copy_function_global_init_get_client_context(self.raw);
            if context.is_null() {
                return OptionValue::Null;
            }
            let mut scope: ffi::duckdb_config_option_scope = 0;
            let v =
                ffi::duckdb_client_context_get_config_option(context, name.as_ptr(), &mut scope);
            ffi::duckdb_destroy_client_context(&mut context);
            value::take(v)
        }
    }

    pub fn file_path(&self) -> String {
        // SAFETY: raw is live; the path is owned by DuckDB and valid during the callback.
        unsafe {
            let ptr = ffi::duckdb_copy_function_global_init_get_file_path(self.raw);
            if ptr.is_null() {
                String::new()
            } else {
                CStr::from_ptr(ptr).to_string_lossy().into_owned()
            }
        }
    }
}

unsafe extern "C" fn bind<T: CopyFunction>(info: ffi::duckdb_copy_function_bind_info) {
    let wrapped = CopyBindInfo { raw: info };
    let outcome = contain(T::NAME, "bind", || {
        let data = T::bind(&wrapped)?;
        let ptr = Box::into_raw(Box::new(data));
        // SAFETY: info is live; DuckDB owns ptr from here and frees it with drop_boxed.
        unsafe {
            ffi::duckdb_copy_function_bind_set_bind_data(
                info,
                ptr.cast(),
                Some(drop_boxed::<T::BindData>),
            )
        };
        Ok(())
    });
    if let Err(message) = outcome {
        // SAFETY: info is live for this callback.
        report(&message, |m| unsafe {
            ffi::duckdb_copy_function_bind_set_error(info, m)
        });
    }
}

unsafe extern "C" fn global_init<T: CopyFunction>(
    info: ffi::duckdb_copy_function_global_init_info,
) {
    let wrapped = CopyInitInfo { raw: info };
    let outcome = contain(T::NAME, "initialize_global", || {
        // SAFETY: the bind data pointer is the Box<T::BindData> set in `bind`, alive until the
        // statement ends.
        let bind_data = unsafe {
            ffi::duckdb_copy_function_global_init_get_bind_data(info)
                .cast::<T::BindData>()
                .as_ref()
        }
        .ok_or("bind data is missing")?;
        let state = T::initialize_global(bind_data, &wrapped)?;
        let ptr = Box::into_raw(Box::new(state));
        // SAFETY: info is live; DuckDB owns ptr from here and frees it with drop_boxed.
        unsafe {
            ffi::duckdb_copy_function_global_init_set_global_state(
                info,
                ptr.cast(),
                Some(drop_boxed::<T::GlobalState>),
            )
        };
        Ok(())
    });
    if let Err(message) = outcome {
        // SAFETY: info is live for this callback.
        report(&message, |m| unsafe {
            ffi::duckdb_copy_function_global_init_set_error(info, m)
        });
    }
}

unsafe extern "C" fn sink<T: CopyFunction>(
    info: ffi::duckdb_copy_function_sink_info,
    input: ffi::duckdb_data_chunk,
) {
    let outcome = contain(T::NAME, "sink", || {
        // SAFETY: bind data and global state are the boxes set by bind/global_init, alive while
        // the statement runs; the chunk is valid and flattened for this call.
        let (bind_data, state, chunk) = unsafe {
            (
                ffi::duckdb_copy_function_sink_get_bind_data(info)
                    .cast::<T::BindData>()
                    .as_ref(),
                ffi::duckdb_copy_function_sink_get_global_state(info)
                    .cast::<T::GlobalState>()
                    .as_ref(),
                ChunkReader::new(input),
            )
        };
        T::sink(
            bind_data.ok_or("bind data is missing")?,
            state.ok_or("global state is missing")?,
            &chunk,
        )
    });
    if let Err(message) = outcome {
        // SAFETY: info is live for this callback.
        report(&message, |m| unsafe {
            ffi::duckdb_copy_function_sink_set_error(info, m)
        });
    }
}

unsafe extern "C" fn finalize<T: CopyFunction>(info: ffi::duckdb_copy_function_finalize_info) {
    let outcome = contain(T::NAME, "finalize", || {
        // SAFETY: as in sink.
        let (bind_data, state) = unsafe {
            (
                ffi::duckdb_copy_function_finalize_get_bind_data(info)
                    .cast::<T::BindData>()
                    .as_ref(),
                ffi::duckdb_copy_function_finalize_get_global_state(info)
                    .cast::<T::GlobalState>()
                    .as_ref(),
            )
        };
        T::finalize(
            bind_data.ok_or("bind data is missing")?,
            state.ok_or("global state is missing")?,
        )
    });
    if let Err(message) = outcome {
        // SAFETY: info is live for this callback.
        report(&message, |m| unsafe {
            ffi::duckdb_copy_function_finalize_set_error(info, m)
        });
    }
}

/// Registers `T` on a raw connection.
///
/// # Safety
/// `connection` must be a valid, open connection.
pub(super) unsafe fn register<T: CopyFunction>(
    connection: ffi::duckdb_connection,
) -> Result<(), Box<dyn Error>> {
    let name = std::ffi::CString::new(T::NAME)?;
    // SAFETY: the function handle is created, configured and destroyed here; registration
    // copies it into the catalog.
    unsafe {
        let mut function = ffi::duckdb_create_copy_function();
        ffi::duckdb_copy_function_set_name(function, name.as_ptr());
        ffi::duckdb_copy_function_set_bind(function, Some(bind::<T>));
        ffi::duckdb_copy_function_set_global_init(function, Some(global_init::<T>));
        ffi::duckdb_copy_function_set_sink(function, Some(sink::<T>));
        ffi::duckdb_copy_function_set_finalize(function, Some(finalize::<T>));
        let state = ffi::duckdb_register_copy_function(connection, function);
        ffi::duckdb_destroy_copy_function(&mut function);
        if state != ffi::duckdb_state_DuckDBSuccess {
            return Err(format!("registering COPY format {} failed", T::NAME).into());
        }
    }
    Ok(())
}

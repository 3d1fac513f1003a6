//! Aggregate functions through raw FFI (duckdb-rs has none). Each DuckDB aggregate state slot
//! holds one pointer to a boxed Rust state, created in init and freed in the destructor; panics
//! in every callback are contained. The C API gives aggregates no bind, so per-query setup
//! (reading arguments' types, parsing files) happens lazily in the first update of a state.

use super::chunk::ChunkReader;
use super::guard::{contain, report};
use super::logical::LogicalType;
use duckdb::ffi;
use std::error::Error;
use std::ffi::CString;

pub trait AggregateFunction: 'static {
    const NAME: &'static str;
    type State: Default + Send + 'static;
    /// Work shared by the states one input chunk updates (with GROUP BY a chunk updates up to
    /// one state per row): e.g. the chunk converted once, not once per state.
    type Scratch: Default;
    fn parameters() -> Vec<LogicalType>;
    fn return_type() -> LogicalType;
    /// Adds `rows` (indices into `input`) to `state`; `scratch` is fresh for each chunk and
    /// shared by its states.
    fn update(
        state: &mut Self::State,
        scratch: &mut Self::Scratch,
        input: &ChunkReader,
        rows: &[usize],
    ) -> Result<(), Box<dyn Error>>;
    /// Moves `source` into `target` (parallel partial aggregates).
    fn combine(source: Self::State, target: &mut Self::State) -> Result<(), Box<dyn Error>>;
    /// Writes the results of `states` into `result` rows `offset..offset + states.len()`.
    fn finalize(
        states: &mut [&mut Self::State],
        result: ffi::duckdb_vector,
        offset: usize,
    ) -> Result<(), Box<dyn Error>>;
}

/// # Safety
/// `state` is a state slot DuckDB allocated with our size, initialised by `init`.
unsafe fn slot<S>(state: ffi::duckdb_aggregate_state) -> *mut *mut S {
    state.cast::<*mut S>()
}

unsafe extern "C" fn state_size<T: AggregateFunction>(
    _info: ffi::duckdb_function_info,
) -> ffi::idx_t {
    std::mem::size_of::<*mut T::State>() as ffi::idx_t
}

unsafe extern "C" fn init<T: AggregateFunction>(
    _info: ffi::duckdb_function_info,
    state: ffi::duckdb_aggregate_state,
) {
    // Allocation cannot meaningfully fail here; a panic is contained and leaves a null slot,
    // which every other callback treats as an empty state.
    let boxed = std::panic::catch_unwind(|| Box::into_raw(Box::<T::State>::default()))
        .unwrap_or(std::ptr::null_mut());
    // SAFETY: the slot is ours (state_size bytes) and is written once here.
    unsafe { *slot::<T::State>(state) = boxed };
}

unsafe extern "C" fn destroy<T: AggregateFunction>(
    states: *mut ffi::duckdb_aggregate_state,
    count: ffi::idx_t,
) {
    for i in 0..count as usize {
        // SAFETY: states holds count initialised slots; each box is freed once and nulled.
        unsafe {
            let s = slot::<T::State>(*states.add(i));
            if !(*s).is_null() {
                let boxed = Box::from_raw(*s);
                *s = std::ptr::null_mut();
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(boxed)));
            }
        }
    }
}

unsafe extern "C" fn update<T: AggregateFunction>(
    info: ffi::duckdb_function_info,
    input: ffi::duckdb_data_chunk,
    states: *mut ffi::duckdb_aggregate_state,
) {
    let outcome = contain(T::NAME, "update", || {
        // SAFETY: input is the live chunk of this call; states holds one slot per input row.
        let chunk = unsafe { ChunkReader::new(input) };
        let rows = chunk.len();
        // Rows grouped by their state (one group without GROUP BY), in first-seen order; a
        // map, since a chunk may hold a state per row (a linear search was quadratic).
        let mut groups: Vec<(*mut T::State, Vec<usize>)> = Vec::new();
        let mut index: std::collections::HashMap<*mut T::State, usize> =
            std::collections::HashMap::new();
        for row in 0..rows {
            // SAFETY: row < rows; the slot was initialised by init.
            let ptr = unsafe { *slot::<T::State>(*states.add(row)) };
            // Consecutive rows mostly share a state (always without GROUP BY): no lookup.
            if let Some((last, r)) = groups.last_mut()
                && *last == ptr
            {
                r.push(row);
                continue;
            }
            match index.get(&ptr) {
                Some(&g) => groups[g].1.push(row),
                None => {
                    index.insert(ptr, groups.len());
                    groups.push((ptr, vec![row]));
                }
            }
        }
        let mut scratch = T::Scratch::default();
        for (ptr, rows) in groups {
            // SAFETY: DuckDB gives each state to one thread at a time; the box is alive.
            let state = unsafe { ptr.as_mut() }.ok_or("aggregate state is missing")?;
            T::update(state, &mut scratch, &chunk, &rows)?;
        }
        Ok(())
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe {
            ffi::duckdb_aggregate_function_set_error(info, c)
        });
    }
}

unsafe extern "C" fn combine<T: AggregateFunction>(
    info: ffi::duckdb_function_info,
    source: *mut ffi::duckdb_aggregate_state,
    target: *mut ffi::duckdb_aggregate_state,
    count: ffi::idx_t,
) {
    let outcome = contain(T::NAME, "combine", || {
        for i in 0..count as usize {
            // SAFETY: both arrays hold count initialised slots; the source state is moved
            // out (its box stays, holding a default state, and is freed by destroy).
            unsafe {
                let src = (*slot::<T::State>(*source.add(i))).as_mut();
                let dst = (*slot::<T::State>(*target.add(i))).as_mut();
                if let (Some(src), Some(dst)) = (src, dst) {
                    T::combine(std::mem::take(src), dst)?;
                }
            }
        }
        Ok(())
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe {
            ffi::duckdb_aggregate_function_set_error(info, c)
        });
    }
}

unsafe extern "C" fn finalize<T: AggregateFunction>(
    info: ffi::duckdb_function_info,
    source: *mut ffi::duckdb_aggregate_state,
    result: ffi::duckdb_vector,
    count: ffi::idx_t,
    offset: ffi::idx_t,
) {
    let outcome = contain(T::NAME, "finalize", || {
        let mut states = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            // SAFETY: source holds count initialised slots, each used once here.
            let s = unsafe { (*slot::<T::State>(*source.add(i))).as_mut() }
                .ok_or("aggregate state is missing")?;
            states.push(s);
        }
        T::finalize(&mut states, result, offset as usize)
    });
    if let Err(m) = outcome {
        // SAFETY: info is live during the callback.
        report(&m, |c| unsafe {
            ffi::duckdb_aggregate_function_set_error(info, c)
        });
    }
}

/// # Safety
/// `connection` must be a valid, open connection.
pub(super) unsafe fn register<T: AggregateFunction>(
    connection: ffi::duckdb_connection,
) -> Result<(), Box<dyn Error>> {
    let name = CString::new(T::NAME)?;
    // SAFETY: the function handle is created, configured and destroyed here; registration
    // copies it into the catalog.
    unsafe {
        let mut f = ffi::duckdb_create_aggregate_function();
        ffi::duckdb_aggregate_function_set_name(f, name.as_ptr());
        for ty in T::parameters() {
            ffi::duckdb_aggregate_function_add_parameter(f, ty.raw());
        }
        ffi::duckdb_aggregate_function_set_return_type(f, T::return_type().raw());
        ffi::duckdb_aggregate_function_set_functions(
            f,
            Some(state_size::<T>),
            Some(init::<T>),
            Some(update::<T>),
            Some(combine::<T>),
            Some(finalize::<T>),
        );
        ffi::duckdb_aggregate_function_set_destructor(f, Some(destroy::<T>));
        // Every row counts (a contract judges NULLs too).
        ffi::duckdb_aggregate_function_set_special_handling(f);
        let state = ffi::duckdb_register_aggregate_function(connection, f);
        ffi::duckdb_destroy_aggregate_function(&mut f);
        if state != ffi::duckdb_state_DuckDBSuccess {
            return Err(format!("registering aggregate function {} failed", T::NAME).into());
        }
    }
    Ok(())
}

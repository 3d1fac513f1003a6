//! Panic containment for raw `extern "C"` callbacks.
//!
//! A panic must never unwind into DuckDB (Rust aborts the process when it tries). Every callback
//! we register through raw FFI runs its body inside [`contain`], which turns both returned errors
//! and panics into a message for the callback's `set_error`.

use std::any::Any;
use std::error::Error;
use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a callback body returns.
pub type CallbackResult = Result<(), Box<dyn Error>>;

/// Runs `body`; returns the message to report when it failed or panicked.
/// `function` and `phase` name the callback in panic messages ("etl_test_lines", "sink").
pub fn contain(
    function: &str,
    phase: &str,
    body: impl FnOnce() -> CallbackResult,
) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(
            catch_unwind(AssertUnwindSafe(|| error_chain(error.as_ref()))).unwrap_or_else(|_| {
                format!("{function}: an error occurred in {phase} and its message could not be formatted")
            }),
        ),
        Err(payload) => Err(panic_message(function, phase, payload.as_ref())),
    }
}

/// `error: cause: cause ...`, using `Display` only.
pub fn error_chain(error: &dyn Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The user-facing message for a contained panic.
pub fn panic_message(function: &str, phase: &str, payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_string());
    format!(
        "etl internal error in {function} ({phase}): {detail} (the query was stopped and DuckDB keeps running; \
         this is a bug in etl, please report it)"
    )
}

/// A C string for `set_error`; interior NULs are escaped so the message is never lost.
pub fn c_message(message: &str) -> CString {
    CString::new(message.replace('\0', "\\0")).unwrap_or_default()
}

/// Destructor handed to DuckDB for a value we boxed (bind data, global/init state, extra
/// info); never unwinds.
///
/// # Safety
/// `ptr` is null or came from `Box::<T>::into_raw`, and DuckDB frees it exactly once.
pub(crate) unsafe extern "C" fn drop_boxed<T>(ptr: *mut std::ffi::c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: caller contract: a Box<T> raw pointer, freed once.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        drop(Box::from_raw(ptr.cast::<T>()))
    }));
}

/// Reports `message` through a callback's set_error function; never unwinds.
pub(crate) fn report(message: &str, set_error: impl FnOnce(*const std::ffi::c_char)) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let text = c_message(message);
        set_error(text.as_ptr());
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_body_reports_nothing() {
        assert_eq!(contain("f", "sink", || Ok(())), Ok(()));
    }

    #[test]
    fn returned_error_is_reported_with_its_causes() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "dw_staging: writing lake/x.parquet")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = contain("f", "finalize", || {
            Err(Box::new(Outer(std::io::Error::other("disk full"))))
        })
        .unwrap_err();
        assert_eq!(err, "dw_staging: writing lake/x.parquet: disk full");
    }

    #[test]
    fn panic_becomes_error_naming_the_callback() {
        let err = contain("etl_test_lines", "sink", || panic!("boom {}", 42)).unwrap_err();
        assert!(
            err.starts_with("etl internal error in etl_test_lines (sink): boom 42"),
            "{err}"
        );
        let err = contain("f", "bind", || std::panic::panic_any(7u8)).unwrap_err();
        assert!(err.contains("non-text panic payload"), "{err}");
    }

    #[test]
    fn c_message_keeps_text_after_interior_nul() {
        assert_eq!(c_message("a\0b").to_str().unwrap(), "a\\0b");
    }
}

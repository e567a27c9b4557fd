//! Progress callbacks from the core to Python.

use pyo3::prelude::*;

/// Lets progress through to Python at most every 50 ms (each call takes the GIL), and
/// always at the end of a phase and when a new one starts.
#[derive(Default)]
pub struct Throttle(std::sync::Mutex<Option<(String, std::time::Instant)>>);

impl Throttle {
    const EVERY: std::time::Duration = std::time::Duration::from_millis(50);

    pub fn due(&self, phase: &str, last: bool) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        let due = match &*seen {
            Some((p, at)) => last || p != phase || now.duration_since(*at) >= Self::EVERY,
            None => true,
        };
        if due {
            *seen = Some((phase.to_string(), now));
        }
        due
    }
}

/// Calls a Python progress callback from a runtime thread. A failing display must not
/// stop the work it shows: its error is reported as unraisable and the work goes on.
pub fn notify(cb: &Option<Py<PyAny>>, call: impl FnOnce(Python<'_>, &Py<PyAny>) -> PyResult<Py<PyAny>>) {
    if let Some(cb) = cb {
        Python::attach(|py| {
            if let Err(e) = call(py, cb) {
                e.write_unraisable(py, None);
            }
        });
    }
}

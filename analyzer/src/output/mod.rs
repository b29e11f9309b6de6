//! The views: the runtime's traceback format ([`traceback`]), the text
//! reports of `--info`, `--threads` and `--goroutines` ([`report`]) and the
//! versioned JSON documents ([`json`]), pprof profiles ([`pprof`]) and the
//! HTML report ([`html`]).

pub mod html;
pub mod heap;
pub mod json;
pub mod pprof;
pub mod native;
pub mod report;
pub mod traceback;

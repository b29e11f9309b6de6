//! The views: the runtime's traceback format ([`traceback`]), the text
//! reports of `--info`, `--threads` and `--goroutines` ([`report`]) and the
//! versioned JSON documents ([`json`]).

pub mod json;
pub mod native;
pub mod report;
pub mod traceback;

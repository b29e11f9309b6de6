//! The views: the runtime's traceback format ([`traceback`]), the text
//! reports of `--info`, `--threads` and `--goroutines` ([`report`]) and the
//! versioned JSON documents ([`json`]).

pub mod heap;
pub mod json;
pub mod report;
pub mod traceback;

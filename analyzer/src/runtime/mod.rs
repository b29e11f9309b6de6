//! The Go runtime's own structures as they are in the core's memory:
//! goroutines (`runtime.g`, `allgs`), Ms, wait reasons and the clock
//! ([`goroutine`]), panics in progress ([`panic`](mod@panic)) and type descriptors
//! ([`gotype`]).

pub mod goroutine;
pub mod gotype;
pub mod panic;

//! Why the process stopped and what it looked like: the crash reason
//! ([`reason`]), a stable signature ([`signature`]), goroutines grouped by
//! identical stacks ([`group`]) and the per-core triage record ([`triage`]).

pub mod group;
pub mod reason;
pub mod signature;
pub mod triage;

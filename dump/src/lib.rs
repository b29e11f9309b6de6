//! `dump` owns making a core: the [`Target`] a dump reads from (a live Linux
//! process through ptrace, or an opened core), the [`DumpState`] progress
//! shared with the CLI, and `dump()`, which streams a target through `elfwriter`.

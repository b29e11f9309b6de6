//! `analyzer` owns the Go model of a core: binary info (pclntab, moduledata,
//! DWARF), goroutines, stack unwinding, variables, crash reason, grouping,
//! triage and the output formats. The `goanalyze` binary is a thin CLI over it.

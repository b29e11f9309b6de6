//! Test support: building the Go fixtures, producing cores with real producers
//! (kernel, gdb gcore, dlv dump, qemu-aarch64), and parsing the Go runtime's
//! own traceback text, the oracle every stack test compares against.

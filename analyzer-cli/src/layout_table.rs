//! Runtime struct offsets by Go minor version, for binaries without DWARF.
//! Generated with `goanalyze --layout-table EXE` from builds of each
//! toolchain (see runtime_types.rs); checked by tests/layout_table.rs.

pub static TABLE: &[(u32, &[(&str, u64)])] = &[
];

//! Heap structure offsets by Go minor version, for binaries without DWARF
//! (see layout.rs for how it is made).

pub static TABLE: &[(u32, &[(&str, u64)])] = &[];

//! `elfwriter` owns writing an ELF core file as a stream: the file header, the
//! program headers, one `PT_NOTE` of [`Note`]s and the `PT_LOAD` segments.
//! It knows nothing about processes; `dump` feeds it.
#![forbid(unsafe_code)]

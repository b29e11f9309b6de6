//! `--heap` and `--objects TYPE`: read the heap and print what
//! analyzer::output::heap formats.

use anyhow::Result;

use analyzer::Analysis;

pub fn run(a: &Analysis, objects: Option<&str>, top: usize, json: bool) -> Result<String> {
    // Goroutine stack frames' variables are typed roots too.
    let mut heap = analyzer::heap::frame_roots::read_heap(a)?;
    if objects.is_none() {
        let space = analyzer::heap::address_space::address_space(&heap, &a.bin, &a.core, a.bias, a.core.os, &a.core.mappings);
        heap.warnings.extend(space.warnings.iter().cloned());
        heap.address_space = Some(space);
    }
    for w in &heap.warnings {
        eprintln!("goanalyze: warning: {w}");
    }
    use analyzer::output::heap as out;
    Ok(match objects {
        Some(ty) => {
            let objs = out::objects_of(&heap, ty);
            if json {
                out::objects_json(ty, &objs)
            } else {
                out::objects_text(ty, &objs)
            }
        }
        None => {
            let hist = heap.histogram();
            if json {
                out::heap_json(&heap, &hist, a.bin.go_version.as_deref(), top)
            } else {
                out::heap_text(&heap, &hist, top)
            }
        }
    })
}

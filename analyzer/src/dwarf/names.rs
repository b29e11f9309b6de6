//! Types by name, for expressions that name a type (`uint8(x)`,
//! `(*main.cell)(p)`, `e.(main.cell)`), and types an expression makes up
//! that the DWARF may not hold (`*T` for `&x`, `[N]T` for a channel's
//! buffer): those get references past the end of .debug_info and live in
//! the type cache like parsed ones, so the printer needs nothing new.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::{DebugInfo, Kind, Type, TypeRef};

/// References from here on are made-up types.
const SYNTH_BASE: usize = usize::MAX / 2;
/// Made-up types kept at most (an expression makes a few).
const MAX_SYNTH: usize = 1 << 16;

#[derive(Default)]
pub(crate) struct Names {
    by_name: OnceLock<HashMap<String, TypeRef>>,
    synth: Mutex<HashMap<String, TypeRef>>,
}

/// Go's predeclared names that are aliases.
fn canonical(name: &str) -> &str {
    match name {
        "byte" => "uint8",
        "rune" => "int32",
        "any" => "interface {}",
        n => n,
    }
}

impl DebugInfo {
    /// The type Go's DWARF names `name` (`int`, `*main.cell`, `[]uint8`).
    pub fn type_by_name(&self, name: &str) -> Option<TypeRef> {
        let name = canonical(name);
        let m = self.names.by_name.get_or_init(|| {
            let mut m = HashMap::new();
            for u in 0..self.unit_count() {
                let unit = self.unit(u);
                let mut cur = unit.entries();
                while let Ok(Some(e)) = cur.next_dfs() {
                    if e.depth() > 1 {
                        continue;
                    }
                    let is_type = matches!(
                        e.tag(),
                        gimli::DW_TAG_base_type
                            | gimli::DW_TAG_pointer_type
                            | gimli::DW_TAG_structure_type
                            | gimli::DW_TAG_typedef
                            | gimli::DW_TAG_array_type
                            | gimli::DW_TAG_subroutine_type
                    );
                    if !is_type {
                        continue;
                    }
                    if let Some(n) = self.attr_str(u, e, gimli::DW_AT_name) {
                        m.entry(n).or_insert(TypeRef(self.global_offset(u, e.offset())));
                    }
                }
            }
            m
        });
        m.get(name).copied().or_else(|| self.names.synth.lock().ok()?.get(name).copied())
    }

    /// A type made up by an expression; the same name gives the same reference.
    pub fn synth_type(&self, t: Type) -> Option<TypeRef> {
        if let Some(r) = self.type_by_name(&t.name) {
            return Some(r);
        }
        let mut synth = self.names.synth.lock().ok()?;
        if let Some(r) = synth.get(&t.name) {
            return Some(*r);
        }
        if synth.len() >= MAX_SYNTH {
            return None;
        }
        let r = TypeRef(SYNTH_BASE + synth.len());
        synth.insert(t.name.clone(), r);
        self.type_cache.lock().ok()?.insert(r.0, Arc::new(t));
        Some(r)
    }

    /// A non-empty interface type `name` laid out as an empty one (type
    /// word, data word): the value of `x.(I)` from an `any` when the program
    /// has no itab for the pair, so no itab address can stand in its first
    /// word. It prints, selects and asserts like an `I` (all go through the
    /// dynamic type). The key cannot be written in an expression.
    pub fn eface_named(&self, name: &str) -> Option<TypeRef> {
        let key = format!("{name}\u{0}eface");
        let mut synth = self.names.synth.lock().ok()?;
        if let Some(r) = synth.get(&key) {
            return Some(*r);
        }
        if synth.len() >= MAX_SYNTH {
            return None;
        }
        let r = TypeRef(SYNTH_BASE + synth.len());
        synth.insert(key, r);
        let t = Type { name: name.to_string(), size: 16, kind: Kind::Interface { empty: true }, runtime_type: None };
        self.type_cache.lock().ok()?.insert(r.0, Arc::new(t));
        Some(r)
    }

    /// `*T` for the type at `elem`.
    pub fn pointer_to(&self, elem: TypeRef) -> Option<TypeRef> {
        let name = format!("*{}", self.type_at(elem)?.name);
        self.synth_type(Type { name, size: 8, kind: Kind::Pointer(Some(elem)), runtime_type: None })
    }
}

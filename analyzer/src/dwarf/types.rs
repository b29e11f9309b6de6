//! Go types from DWARF. Go marks each type DIE with DW_AT_go_kind (the
//! reflect.Kind); maps, channels and interfaces are typedefs of pointers to
//! the runtime's structs (hmap / maps.Map, hchan, eface / iface), and slices
//! and strings are structs with a known shape.

use std::sync::Arc;

use gimli::{AttributeValue, UnitOffset};

use super::{
    DebugInfo, DW_AT_GO_DICT_INDEX, DW_AT_GO_ELEM, DW_AT_GO_EMBEDDED_FIELD, DW_AT_GO_KEY, DW_AT_GO_KIND, DW_AT_GO_RUNTIME_TYPE,
};

/// A type DIE by its global .debug_info offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeRef(pub usize);

/// reflect.Kind values as DW_AT_go_kind carries them.
mod go_kind {
    pub const CHAN: u64 = 18;
    pub const FUNC: u64 = 19;
    pub const INTERFACE: u64 = 20;
    pub const MAP: u64 = 21;
    pub const SLICE: u64 = 23;
    pub const STRING: u64 = 24;
    pub const UNSAFE_POINTER: u64 = 26;
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub offset: u64,
    pub ty: Option<TypeRef>,
    pub embedded: bool,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    String,
    UnsafePointer,
    Pointer(Option<TypeRef>),
    Slice(Option<TypeRef>),
    Array { elem: Option<TypeRef>, len: u64 },
    Struct(Vec<Field>),
    /// `hdr` is what the map word points to (hmap or maps.Map).
    Map { key: Option<TypeRef>, elem: Option<TypeRef>, hdr: Option<TypeRef> },
    Chan { elem: Option<TypeRef>, hdr: Option<TypeRef> },
    Interface { empty: bool },
    Func,
    /// A named type over another (`type myInt int`).
    Named(TypeRef),
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct Type {
    pub name: String,
    pub size: u64,
    pub kind: Kind,
    /// DW_AT_go_runtime_type: the runtime type's address (or its offset in
    /// moduledata.types, in newer toolchains).
    pub runtime_type: Option<u64>,
}

fn udata(v: Option<AttributeValue<super::R>>) -> Option<u64> {
    match v? {
        AttributeValue::Udata(u) | AttributeValue::Data8(u) | AttributeValue::Addr(u) => Some(u),
        AttributeValue::Data1(u) => Some(u as u64),
        AttributeValue::Data2(u) => Some(u as u64),
        AttributeValue::Data4(u) => Some(u as u64),
        AttributeValue::Sdata(s) if s >= 0 => Some(s as u64),
        _ => None,
    }
}

/// Type DIEs parsed inside one another at most.
const MAX_TYPE_NESTING: usize = 64;

/// More struct fields than this is taken as a corrupt DIE.
const MAX_FIELDS: usize = 1 << 14;

impl DebugInfo {
    /// The type at `r`, parsed once.
    pub fn type_at(&self, r: TypeRef) -> Option<Arc<Type>> {
        if let Some(t) = self.type_cache.lock().ok()?.get(&r.0) {
            return Some(t.clone());
        }
        let t = Arc::new(self.parse_type(r)?);
        self.type_cache.lock().ok()?.insert(r.0, t.clone());
        Some(t)
    }

    /// Skip named-type layers (typedefs that are not maps, chans, ...).
    pub fn resolve(&self, r: TypeRef) -> Option<Arc<Type>> {
        let mut t = self.type_at(r)?;
        for _ in 0..16 {
            match t.kind {
                Kind::Named(n) => t = self.type_at(n)?,
                _ => return Some(t),
            }
        }
        Some(t)
    }

    fn parse_type(&self, r: TypeRef) -> Option<Type> {
        // Parsing a typedef or a map/chan header parses its target: bound
        // the nesting so a cyclic chain in corrupt DWARF cannot recurse forever.
        use std::sync::atomic::Ordering;
        if self.type_depth.fetch_add(1, Ordering::Relaxed) > MAX_TYPE_NESTING {
            self.type_depth.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let t = self.parse_type_inner(r);
        self.type_depth.fetch_sub(1, Ordering::Relaxed);
        t
    }

    fn parse_type_inner(&self, r: TypeRef) -> Option<Type> {
        let u = self.unit_of(r.0)?;
        let unit = self.unit(u);
        let off = UnitOffset(r.0 - self.global_offset(u, UnitOffset(0)));
        let e = unit.entry(off).ok()?;
        let mut name = self.attr_str(u, &e, gimli::DW_AT_name).unwrap_or_default();
        let size = udata(e.attr_value(gimli::DW_AT_byte_size)).unwrap_or(0);
        let gk = udata(e.attr_value(DW_AT_GO_KIND));
        let rtype = udata(e.attr_value(DW_AT_GO_RUNTIME_TYPE)).filter(|v| *v != 0);
        let tref = |at| e.attr_value(at).and_then(|v| self.ref_attr(u, v)).map(TypeRef);
        let target = tref(gimli::DW_AT_type);
        // A type parameter (`.param0`, with DW_AT_go_dict_index): the real
        // type is in the function's dictionary (vars.rs reads it from the
        // frame's `.dict` where it can); the type itself is named by the
        // shape it was compiled for.
        if e.tag() == gimli::DW_TAG_typedef && e.attr_value(DW_AT_GO_DICT_INDEX).is_some() {
            if let Some(t) = target.and_then(|t| self.type_at(t)) {
                name = t.name.clone();
            }
        }
        let kind = match e.tag() {
            gimli::DW_TAG_base_type => match match e.attr_value(gimli::DW_AT_encoding) {
                Some(AttributeValue::Encoding(x)) => x.0,
                v => udata(v).unwrap_or(0) as u8,
            } {
                2 => Kind::Bool,
                3 => Kind::Complex,
                4 => Kind::Float,
                5 | 6 => Kind::Int,
                7 | 8 => Kind::Uint,
                x => Kind::Unknown(format!("base encoding {x}")),
            },
            gimli::DW_TAG_pointer_type if gk == Some(go_kind::UNSAFE_POINTER) || name == "unsafe.Pointer" => {
                Kind::UnsafePointer
            }
            gimli::DW_TAG_pointer_type => Kind::Pointer(target),
            gimli::DW_TAG_subroutine_type => Kind::Func,
            gimli::DW_TAG_array_type => {
                let mut len = 0;
                if let Ok(mut tree) = unit.entries_tree(Some(off)) {
                    if let Ok(root) = tree.root() {
                        let mut ch = root.children();
                        while let Ok(Some(c)) = ch.next() {
                            let ce = c.entry();
                            if ce.tag() == gimli::DW_TAG_subrange_type {
                                len = udata(ce.attr_value(gimli::DW_AT_count))
                                    .or_else(|| udata(ce.attr_value(gimli::DW_AT_upper_bound)).map(|x| x + 1))
                                    .unwrap_or(0);
                            }
                        }
                    }
                }
                Kind::Array { elem: target, len }
            }
            gimli::DW_TAG_structure_type if gk == Some(go_kind::STRING) || name == "string" => Kind::String,
            gimli::DW_TAG_structure_type if gk == Some(go_kind::SLICE) => {
                let elem = tref(DW_AT_GO_ELEM).or_else(|| {
                    // Older toolchains: the elem is what `array` points to.
                    let f = self.struct_fields(u, off).into_iter().find(|f| f.name == "array")?;
                    match self.type_at(f.ty?)?.kind {
                        Kind::Pointer(p) => p,
                        _ => None,
                    }
                });
                Kind::Slice(elem)
            }
            gimli::DW_TAG_structure_type => Kind::Struct(self.struct_fields(u, off)),
            gimli::DW_TAG_typedef => match gk {
                Some(go_kind::MAP) => Kind::Map {
                    key: tref(DW_AT_GO_KEY),
                    elem: tref(DW_AT_GO_ELEM),
                    hdr: target.and_then(|t| match self.type_at(t)?.kind {
                        Kind::Pointer(p) => p,
                        _ => None,
                    }),
                },
                Some(go_kind::CHAN) => Kind::Chan {
                    elem: tref(DW_AT_GO_ELEM),
                    hdr: target.and_then(|t| match self.type_at(t)?.kind {
                        Kind::Pointer(p) => p,
                        _ => None,
                    }),
                },
                Some(go_kind::INTERFACE) => {
                    let empty = target.and_then(|t| self.type_at(t)).map(|t| t.name == "runtime.eface");
                    Kind::Interface { empty: empty.unwrap_or(name.starts_with("interface {}")) }
                }
                Some(go_kind::FUNC) => Kind::Func,
                _ => match target {
                    Some(t) => Kind::Named(t),
                    None => Kind::Unknown("typedef without type".into()),
                },
            },
            t => Kind::Unknown(format!("{t}")),
        };
        // Sizes Go leaves off.
        let size = match &kind {
            Kind::Pointer(_) | Kind::UnsafePointer | Kind::Map { .. } | Kind::Chan { .. } | Kind::Func => 8,
            Kind::Interface { .. } | Kind::String => 16,
            Kind::Slice(_) => 24,
            Kind::Named(t) if size == 0 => self.type_at(*t).map(|t| t.size).unwrap_or(0),
            _ => size,
        };
        Some(Type { name, size, kind, runtime_type: rtype })
    }

    fn struct_fields(&self, u: usize, off: UnitOffset) -> Vec<Field> {
        let mut out = Vec::new();
        let Ok(mut tree) = self.unit(u).entries_tree(Some(off)) else { return out };
        let Ok(root) = tree.root() else { return out };
        let mut ch = root.children();
        while let Ok(Some(c)) = ch.next() {
            let e = c.entry();
            if e.tag() != gimli::DW_TAG_member {
                continue;
            }
            out.push(Field {
                name: self.attr_str(u, e, gimli::DW_AT_name).unwrap_or_default(),
                offset: udata(e.attr_value(gimli::DW_AT_data_member_location)).unwrap_or(0),
                ty: e.attr_value(gimli::DW_AT_type).and_then(|v| self.ref_attr(u, v)).map(TypeRef),
                embedded: matches!(e.attr_value(DW_AT_GO_EMBEDDED_FIELD), Some(AttributeValue::Flag(true)))
                    || udata(e.attr_value(DW_AT_GO_EMBEDDED_FIELD)).is_some_and(|v| v != 0),
            });
            if out.len() >= MAX_FIELDS {
                break;
            }
        }
        out
    }
}

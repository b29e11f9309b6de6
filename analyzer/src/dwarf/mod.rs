//! DWARF for variables: compile units, the subprograms (and the calls inlined
//! into them) that contain a pc, their parameters and variables with their
//! location descriptions, package variables, and Go types ([`types`]).
//!
//! Everything is parsed on demand: opening reads the section bytes and the
//! unit headers only; a unit's DIEs are walked the first time a pc inside it
//! is asked about, and each function's variables once (cached by the
//! function's DIE), so a core with 100k goroutines in the same few functions
//! parses those functions once.

pub mod locations;
pub mod names;
pub mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{AttributeValue, DebugInfoOffset, Reader, Section, UnitOffset};

pub use types::{Kind, Type, TypeRef};

pub type R = gimli::EndianArcSlice<gimli::LittleEndian>;

/// Go's own DWARF attributes (cmd/internal/dwarf).
pub const DW_AT_GO_KIND: gimli::DwAt = gimli::DwAt(0x2900);
pub const DW_AT_GO_KEY: gimli::DwAt = gimli::DwAt(0x2901);
pub const DW_AT_GO_ELEM: gimli::DwAt = gimli::DwAt(0x2902);
pub const DW_AT_GO_EMBEDDED_FIELD: gimli::DwAt = gimli::DwAt(0x2903);
pub const DW_AT_GO_RUNTIME_TYPE: gimli::DwAt = gimli::DwAt(0x2904);
pub const DW_AT_GO_PACKAGE_NAME: gimli::DwAt = gimli::DwAt(0x2905);
pub const DW_AT_GO_DICT_INDEX: gimli::DwAt = gimli::DwAt(0x2906);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DwarfError {
    #[error("DWARF section {section}: {reason}")]
    Section {
        section: &'static str,
        #[source]
        reason: crate::binary::sections::SectionError,
    },
    #[error("DWARF at .debug_info+{offset:#x}: {source}")]
    Parse {
        offset: usize,
        #[source]
        source: gimli::Error,
    },
    #[error("no DWARF type at .debug_info+{0:#x}")]
    NoType(usize),
}

/// One parameter or local variable.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    pub is_param: bool,
    pub ty: Option<TypeRef>,
    pub loc: locations::VarLocation,
    /// The unit the location belongs to (loclists are read relative to it).
    pub unit: usize,
    /// Declared in a lexical block: only in scope for these link-time ranges.
    pub scope: Option<Vec<(u64, u64)>>,
    /// A closure's captured variable: its offset in the closure object
    /// (Go's DW_AT_go_closure_offset, 0x2907, from go1.23).
    pub closure_offset: Option<u64>,
}

/// Go's DWARF attribute for a captured variable's offset in its closure.
const DW_AT_GO_CLOSURE_OFFSET: gimli::DwAt = gimli::DwAt(0x2907);

/// A call inlined into a function, with its own variables.
#[derive(Debug, Clone)]
pub struct InlinedCall {
    pub name: String,
    pub ranges: Vec<(u64, u64)>,
    /// 1 for a call inlined directly into the function, 2 inside that, ...
    pub depth: usize,
    pub vars: Vec<Var>,
}

/// A function's variables: its own and those of each inlined call.
#[derive(Debug, Clone, Default)]
pub struct FuncVars {
    pub name: String,
    pub low: u64,
    pub high: u64,
    pub vars: Vec<Var>,
    pub inlined: Vec<InlinedCall>,
    /// A generic function's `.paramN` typedefs (DW_AT_go_dict_index): the
    /// shape-built type each names and its index in the frame's dictionary.
    /// A variable the compiler made itself (`&x` for an escaped `x`) has the
    /// plain shape type, found here by that type.
    pub dict_types: Vec<(TypeRef, u64)>,
}

impl FuncVars {
    /// The inlined calls containing `pc`, outermost first.
    pub fn inline_chain(&self, pc: u64) -> Vec<&InlinedCall> {
        let mut v: Vec<&InlinedCall> =
            self.inlined.iter().filter(|c| c.ranges.iter().any(|(l, h)| pc >= *l && pc < *h)).collect();
        v.sort_by_key(|c| c.depth);
        v
    }
}

/// A package variable.
#[derive(Debug, Clone)]
pub struct Global {
    pub name: String,
    /// Link-time address.
    pub addr: u64,
    pub ty: Option<TypeRef>,
}

struct UnitInfo {
    unit: gimli::Unit<R>,
    start: usize,
    end: usize,
    ranges: Vec<(u64, u64)>,
    /// Top-level subprograms (low, high, DIE offset), built on first use.
    funcs: OnceLock<Vec<(u64, u64, UnitOffset)>>,
}

pub struct DebugInfo {
    pub(crate) dwarf: gimli::Dwarf<R>,
    units: Vec<UnitInfo>,
    /// Every unit's pc ranges (low, high, unit index), sorted by low.
    unit_ranges: Vec<(u64, u64, usize)>,
    func_cache: Mutex<HashMap<(usize, usize), Arc<FuncVars>>>,
    pub(crate) type_cache: Mutex<HashMap<usize, Arc<Type>>>,
    /// Nesting of type parsing in progress (see types.rs).
    pub(crate) type_depth: std::sync::atomic::AtomicUsize,
    globals: OnceLock<HashMap<String, Global>>,
    /// DW_AT_go_runtime_type value -> type DIE.
    runtime_types: OnceLock<HashMap<u64, TypeRef>>,
    /// Type names -> type DIEs, and types made up by expressions ([`names`]).
    pub(crate) names: names::Names,
}

impl std::fmt::Debug for DebugInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugInfo").field("units", &self.units.len()).finish()
    }
}

fn perr(offset: usize) -> impl Fn(gimli::Error) -> DwarfError {
    move |source| DwarfError::Parse { offset, source }
}

impl DebugInfo {
    /// Build from the DWARF sections `load` gives (the binary's shared,
    /// decompressed copies); `Ok(None)` when there is no `.debug_info`.
    pub fn load(load: impl Fn(gimli::SectionId) -> Result<R, DwarfError>) -> Result<Option<DebugInfo>, DwarfError> {
        let dwarf = gimli::Dwarf::load(load)?;
        let have_info = !dwarf.debug_info.reader().is_empty();
        if !have_info {
            return Ok(None);
        }
        let mut units = Vec::new();
        let mut it = dwarf.units();
        while let Some(h) = it.next().map_err(perr(0))? {
            let start = h.offset().0;
            let end = start + h.length_including_self();
            let unit = dwarf.unit(h).map_err(perr(start))?;
            let mut ranges = Vec::new();
            if let Ok(mut r) = dwarf.unit_ranges(&unit) {
                while let Ok(Some(r)) = r.next() {
                    ranges.push((r.begin, r.end));
                }
            }
            units.push(UnitInfo { unit, start, end, ranges, funcs: OnceLock::new() });
        }
        let mut unit_ranges: Vec<(u64, u64, usize)> =
            units.iter().enumerate().flat_map(|(i, u)| u.ranges.iter().map(move |(l, h)| (*l, *h, i))).collect();
        unit_ranges.sort_unstable();
        Ok(Some(DebugInfo {
            dwarf,
            units,
            unit_ranges,
            func_cache: Mutex::new(HashMap::new()),
            type_cache: Mutex::new(HashMap::new()),
            type_depth: std::sync::atomic::AtomicUsize::new(0),
            globals: OnceLock::new(),
            runtime_types: OnceLock::new(),
            names: Default::default(),
        }))
    }

    pub(crate) fn unit_count(&self) -> usize {
        self.units.len()
    }

    pub(crate) fn unit(&self, idx: usize) -> &gimli::Unit<R> {
        &self.units[idx].unit
    }

    /// The unit holding the DIE at global offset `off`.
    pub(crate) fn unit_of(&self, off: usize) -> Option<usize> {
        let i = self.units.partition_point(|u| u.start <= off);
        (i > 0 && off < self.units[i - 1].end).then(|| i - 1)
    }

    pub(crate) fn global_offset(&self, unit: usize, o: UnitOffset) -> usize {
        self.units[unit].start + o.0
    }

    /// A DIE reference attribute as a global offset.
    pub(crate) fn ref_attr(&self, unit: usize, v: AttributeValue<R>) -> Option<usize> {
        match v {
            AttributeValue::UnitRef(o) => Some(self.global_offset(unit, o)),
            AttributeValue::DebugInfoRef(DebugInfoOffset(o)) => Some(o),
            _ => None,
        }
    }

    pub(crate) fn attr_str(&self, unit: usize, e: &gimli::DebuggingInformationEntry<R>, at: gimli::DwAt) -> Option<String> {
        let v = e.attr_value(at)?;
        let s = self.dwarf.attr_string(self.unit(unit), v).ok()?;
        Some(s.to_string_lossy().ok()?.into_owned())
    }

    fn entry_ranges(&self, unit: usize, e: &gimli::DebuggingInformationEntry<R>) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if let Ok(mut r) = self.dwarf.die_ranges(self.unit(unit), e) {
            while let Ok(Some(r)) = r.next() {
                out.push((r.begin, r.end));
                if out.len() > 4096 {
                    break;
                }
            }
        }
        out
    }

    fn unit_funcs(&self, idx: usize) -> &[(u64, u64, UnitOffset)] {
        self.units[idx].funcs.get_or_init(|| {
            let unit = self.unit(idx);
            let mut v = Vec::new();
            let Ok(mut tree) = unit.entries_tree(None) else { return v };
            let Ok(root) = tree.root() else { return v };
            let mut children = root.children();
            while let Ok(Some(child)) = children.next() {
                let e = child.entry();
                if e.tag() != gimli::DW_TAG_subprogram || e.attr_value(gimli::DW_AT_inline).is_some() {
                    continue;
                }
                for (l, h) in self.entry_ranges(idx, e) {
                    v.push((l, h, e.offset()));
                }
            }
            v.sort_by_key(|x| x.0);
            v
        })
    }

    /// The variables of the function containing link-time `pc`.
    pub fn func_at(&self, pc: u64) -> Option<Arc<FuncVars>> {
        // Go's units do not overlap: the last range starting at or before pc.
        let i = self.unit_ranges.partition_point(|r| r.0 <= pc);
        let &(_, high, uidx) = self.unit_ranges.get(i.checked_sub(1)?)?;
        if pc >= high {
            return None;
        }
        let funcs = self.unit_funcs(uidx);
        let i = funcs.partition_point(|f| f.0 <= pc);
        let (low, high, off) = *funcs.get(i.checked_sub(1)?)?;
        if pc >= high {
            return None;
        }
        let key = (uidx, off.0);
        if let Some(f) = self.func_cache.lock().ok()?.get(&key) {
            return Some(f.clone());
        }
        let f = Arc::new(self.parse_func(uidx, off, low, high).unwrap_or_default());
        self.func_cache.lock().ok()?.insert(key, f.clone());
        Some(f)
    }

    fn parse_func(&self, uidx: usize, off: UnitOffset, low: u64, high: u64) -> Result<FuncVars, DwarfError> {
        let goff = self.global_offset(uidx, off);
        let unit = self.unit(uidx);
        let mut tree = unit.entries_tree(Some(off)).map_err(perr(goff))?;
        let root = tree.root().map_err(perr(goff))?;
        let mut fv = FuncVars {
            name: self.attr_str(uidx, root.entry(), gimli::DW_AT_name).unwrap_or_default(),
            low,
            high,
            ..Default::default()
        };
        // Walk the subtree: variables go to the innermost inlined call
        // around them (or the function), lexical blocks narrow their scope.
        fn walk(
            di: &DebugInfo,
            uidx: usize,
            node: gimli::EntriesTreeNode<'_, '_, R>,
            fv: &mut FuncVars,
            inl: Option<usize>,
            depth: usize,
            scope: Option<Vec<(u64, u64)>>,
        ) -> Result<(), gimli::Error> {
            let mut children = node.children();
            while let Some(child) = children.next()? {
                let e = child.entry().clone();
                match e.tag() {
                    gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable => {
                        let v = di.parse_var(uidx, &e, scope.clone());
                        match inl {
                            Some(i) => fv.inlined[i].vars.push(v),
                            None => fv.vars.push(v),
                        }
                    }
                    gimli::DW_TAG_typedef if inl.is_none() => {
                        let idx = e.attr_value(DW_AT_GO_DICT_INDEX).and_then(|v| v.udata_value());
                        let target = e.attr_value(gimli::DW_AT_type).and_then(|v| di.ref_attr(uidx, v));
                        if let (Some(i), Some(t)) = (idx, target) {
                            fv.dict_types.push((TypeRef(t), i));
                        }
                    }
                    gimli::DW_TAG_lexical_block => {
                        let r = di.entry_ranges(uidx, &e);
                        walk(di, uidx, child, fv, inl, depth, Some(r))?;
                    }
                    gimli::DW_TAG_inlined_subroutine => {
                        let name = e
                            .attr_value(gimli::DW_AT_abstract_origin)
                            .and_then(|v| di.ref_attr(uidx, v))
                            .and_then(|o| di.die_name(o))
                            .unwrap_or_default();
                        let ranges = di.entry_ranges(uidx, &e);
                        fv.inlined.push(InlinedCall { name, ranges, depth: depth + 1, vars: Vec::new() });
                        let i = fv.inlined.len() - 1;
                        walk(di, uidx, child, fv, Some(i), depth + 1, None)?;
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        walk(self, uidx, root, &mut fv, None, 0, None).map_err(perr(goff))?;
        Ok(fv)
    }

    /// A shape type's index in its function's dictionary (DW_AT_go_dict_index).
    pub fn dict_index(&self, t: TypeRef) -> Option<u64> {
        let u = self.unit_of(t.0)?;
        let e = self.unit(u).entry(UnitOffset(t.0.checked_sub(self.units[u].start)?)).ok()?;
        e.attr_value(DW_AT_GO_DICT_INDEX)?.udata_value()
    }

    /// DW_AT_name of the DIE at a global offset.
    fn die_name(&self, off: usize) -> Option<String> {
        let u = self.unit_of(off)?;
        let e = self.unit(u).entry(UnitOffset(off - self.units[u].start)).ok()?;
        self.attr_str(u, &e, gimli::DW_AT_name)
    }

    fn parse_var(&self, uidx: usize, e: &gimli::DebuggingInformationEntry<R>, scope: Option<Vec<(u64, u64)>>) -> Var {
        // An inlined call's variables name their abstract origin for
        // name and type.
        let origin = e.attr_value(gimli::DW_AT_abstract_origin).and_then(|v| self.ref_attr(uidx, v)).and_then(|o| {
            let u = self.unit_of(o)?;
            Some((u, self.unit(u).entry(UnitOffset(o - self.units[u].start)).ok()?))
        });
        let (nu, ne) = match &origin {
            Some((u, oe)) => (*u, oe),
            None => (uidx, e),
        };
        let name = self.attr_str(nu, ne, gimli::DW_AT_name).unwrap_or_default();
        let ty = ne.attr_value(gimli::DW_AT_type).and_then(|v| self.ref_attr(nu, v)).map(TypeRef);
        Var {
            name,
            is_param: e.tag() == gimli::DW_TAG_formal_parameter,
            ty,
            loc: locations::VarLocation::from_attr(e.attr_value(gimli::DW_AT_location)),
            unit: uidx,
            scope,
            closure_offset: e.attr_value(DW_AT_GO_CLOSURE_OFFSET).and_then(|v| v.udata_value()),
        }
    }

    /// Package variables by name (`main.gInt`), built once.
    pub fn globals(&self) -> &HashMap<String, Global> {
        self.globals.get_or_init(|| {
            let mut m = HashMap::new();
            for (idx, u) in self.units.iter().enumerate() {
                let Ok(mut tree) = u.unit.entries_tree(None) else { continue };
                let Ok(root) = tree.root() else { continue };
                let mut children = root.children();
                while let Ok(Some(child)) = children.next() {
                    let e = child.entry();
                    if e.tag() != gimli::DW_TAG_variable {
                        continue;
                    }
                    let Some(name) = self.attr_str(idx, e, gimli::DW_AT_name) else { continue };
                    let Some(addr) = locations::static_address(e.attr_value(gimli::DW_AT_location), &u.unit)
                    else {
                        continue;
                    };
                    let ty = e.attr_value(gimli::DW_AT_type).and_then(|v| self.ref_attr(idx, v)).map(TypeRef);
                    m.entry(name.clone()).or_insert(Global { name, addr, ty });
                }
            }
            m
        })
    }

    /// The type DIE whose DW_AT_go_runtime_type is `key`. Built on first use
    /// (a walk over every unit's top-level types).
    pub fn type_by_runtime(&self, key: u64) -> Option<TypeRef> {
        self.runtime_types
            .get_or_init(|| {
                let mut m = HashMap::new();
                for (idx, u) in self.units.iter().enumerate() {
                    let mut cur = u.unit.entries();
                    while let Ok(Some(e)) = cur.next_dfs() {
                        if e.depth() > 1 {
                            continue;
                        }
                        if let Some(AttributeValue::Addr(a) | AttributeValue::Udata(a)) =
                            e.attr_value(DW_AT_GO_RUNTIME_TYPE)
                        {
                            if a != 0 {
                                m.entry(a).or_insert(TypeRef(u.start + e.offset().0));
                            }
                        }
                    }
                    let _ = idx;
                }
                m
            })
            .get(&key)
            .copied()
    }
}

impl From<gimli::Error> for DwarfError {
    fn from(source: gimli::Error) -> Self {
        DwarfError::Parse { offset: 0, source }
    }
}

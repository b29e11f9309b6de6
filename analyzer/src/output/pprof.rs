//! pprof profiles (github.com/google/pprof's `profile.proto`, gzipped), the
//! format `go tool pprof` reads.
//!
//! [`ProfileWriter`] is a general writer: sample types, samples with
//! labels, locations (inlined calls as several lines of one location),
//! functions, mappings and the string table. It streams: functions and
//! locations are encoded into the gzip stream as they are first seen and
//! samples as they are added, so only the string table and the indexes
//! that deduplicate stay in memory (protobuf lets repeated fields of a
//! message come in any order and interleaved). Heap profiles can use it as
//! the goroutine profile ([`write_goroutine_profile`]) does.
//!
//! The goroutine profile is what `/debug/pprof/goroutine` (debug=0) would
//! have served when the core was written: runtime/pprof's
//! `printCountProfile` over `runtime.goroutineProfileWithLabels`. So:
//! period type and sample type `goroutine`/`count`, period 1; one sample
//! per distinct stack and label set, its value the number of goroutines
//! that have it, biggest first; system goroutines left out (the runtime's
//! `isSystemGoroutine`); each stack as `saveg` records it (wrappers elided
//! as `tracebackPCs` elides them, cut after the runtime's profile depth with
//! the last inlined call completed, `runtime.goexit` dropped); one location
//! per physical frame at the address the runtime gives it (the call
//! instruction's pc, `symPC`), with its inlined calls as lines, innermost
//! first; functions named by their symbol name with their start line; the
//! goroutine's pprof labels (`pprof.Do`) as string labels.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use crate::analysis::{Analysis, Depth, GoroutineReport};

/// Protobuf wire types.
const VARINT: u64 = 0;
const LEN: u64 = 2;

/// Field numbers of profile.proto.
mod tag {
    pub const PROFILE_SAMPLE_TYPE: u64 = 1;
    pub const PROFILE_SAMPLE: u64 = 2;
    pub const PROFILE_MAPPING: u64 = 3;
    pub const PROFILE_LOCATION: u64 = 4;
    pub const PROFILE_FUNCTION: u64 = 5;
    pub const PROFILE_STRING_TABLE: u64 = 6;
    pub const PROFILE_TIME_NANOS: u64 = 9;
    pub const PROFILE_DURATION_NANOS: u64 = 10;
    pub const PROFILE_PERIOD_TYPE: u64 = 11;
    pub const PROFILE_PERIOD: u64 = 12;
    pub const PROFILE_COMMENT: u64 = 13;
    pub const PROFILE_DEFAULT_SAMPLE_TYPE: u64 = 14;

    pub const VALUE_TYPE_TYPE: u64 = 1;
    pub const VALUE_TYPE_UNIT: u64 = 2;

    pub const SAMPLE_LOCATION_ID: u64 = 1;
    pub const SAMPLE_VALUE: u64 = 2;
    pub const SAMPLE_LABEL: u64 = 3;

    pub const LABEL_KEY: u64 = 1;
    pub const LABEL_STR: u64 = 2;
    pub const LABEL_NUM: u64 = 3;
    pub const LABEL_NUM_UNIT: u64 = 4;

    pub const MAPPING_ID: u64 = 1;
    pub const MAPPING_START: u64 = 2;
    pub const MAPPING_LIMIT: u64 = 3;
    pub const MAPPING_OFFSET: u64 = 4;
    pub const MAPPING_FILENAME: u64 = 5;
    pub const MAPPING_BUILD_ID: u64 = 6;
    pub const MAPPING_HAS_FUNCTIONS: u64 = 7;
    pub const MAPPING_HAS_FILENAMES: u64 = 8;
    pub const MAPPING_HAS_LINE_NUMBERS: u64 = 9;
    pub const MAPPING_HAS_INLINE_FRAMES: u64 = 10;

    pub const LOCATION_ID: u64 = 1;
    pub const LOCATION_MAPPING_ID: u64 = 2;
    pub const LOCATION_ADDRESS: u64 = 3;
    pub const LOCATION_LINE: u64 = 4;

    pub const LINE_FUNCTION_ID: u64 = 1;
    pub const LINE_LINE: u64 = 2;

    pub const FUNCTION_ID: u64 = 1;
    pub const FUNCTION_NAME: u64 = 2;
    pub const FUNCTION_SYSTEM_NAME: u64 = 3;
    pub const FUNCTION_FILENAME: u64 = 4;
    pub const FUNCTION_START_LINE: u64 = 5;
}

/// A protobuf message being encoded: fields appended in order.
#[derive(Debug, Default, Clone)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.0.push(x as u8 | 0x80);
            x >>= 7;
        }
        self.0.push(x as u8);
    }
    fn key(&mut self, field: u64, wire: u64) {
        self.varint(field << 3 | wire);
    }
    /// A scalar field (int64 and uint64 share the varint encoding; negative
    /// int64s take ten bytes, as protobuf says).
    fn u64(&mut self, field: u64, x: u64) {
        self.key(field, VARINT);
        self.varint(x);
    }
    /// proto3 leaves zero values out.
    fn u64_opt(&mut self, field: u64, x: u64) {
        if x != 0 {
            self.u64(field, x);
        }
    }
    fn i64_opt(&mut self, field: u64, x: i64) {
        self.u64_opt(field, x as u64);
    }
    fn bool_opt(&mut self, field: u64, x: bool) {
        self.u64_opt(field, x as u64);
    }
    fn bytes(&mut self, field: u64, b: &[u8]) {
        self.key(field, LEN);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn msg(&mut self, field: u64, m: &Msg) {
        self.bytes(field, &m.0);
    }
    /// A packed repeated varint field.
    fn packed(&mut self, field: u64, xs: impl IntoIterator<Item = u64>) {
        let mut p = Msg::default();
        for x in xs {
            p.varint(x);
        }
        if !p.0.is_empty() {
            self.bytes(field, &p.0);
        }
    }
}

/// One executable mapping of the profiled process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub limit: u64,
    pub offset: u64,
    pub file: String,
    pub build_id: String,
    /// Whether the locations in it carry function names, file names, line
    /// numbers, inlined calls: pprof then does not try to symbolize them.
    pub has_functions: bool,
    pub has_filenames: bool,
    pub has_line_numbers: bool,
    pub has_inline_frames: bool,
}

/// A sample's label: a string (`str`) or a number (`num`, with its unit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Label {
    Str { key: String, value: String },
    Num { key: String, value: i64, unit: Option<String> },
}

/// One line of a location: a function and the line in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Line {
    pub function: u64,
    pub line: i64,
}

/// Writes one profile as a stream: call the methods in any order (sample
/// types first is usual), then [`ProfileWriter::finish`].
pub struct ProfileWriter<W: Write> {
    out: flate2::write::GzEncoder<W>,
    strings: Vec<String>,
    string_ids: HashMap<String, u64>,
    functions: HashMap<(u64, u64, u64, i64), u64>,
    locations: HashMap<(u64, u64, Vec<Line>), u64>,
    mappings: Vec<Mapping>,
    samples: u64,
}

impl<W: Write> ProfileWriter<W> {
    pub fn new(w: W) -> Self {
        // BestSpeed, as runtime/pprof: the profile is small next to the
        // stack walk, and big ones (100,000 goroutines) dedupe anyway.
        ProfileWriter {
            out: flate2::write::GzEncoder::new(w, flate2::Compression::fast()),
            strings: vec![String::new()],
            string_ids: HashMap::from([(String::new(), 0)]),
            functions: HashMap::new(),
            locations: HashMap::new(),
            mappings: Vec::new(),
            samples: 0,
        }
    }

    /// The string's index in the string table (index 0 is "").
    pub fn string(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.strings.len() as u64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), i);
        i
    }

    fn field(&mut self, f: impl FnOnce(&mut Msg)) -> std::io::Result<()> {
        let mut m = Msg::default();
        f(&mut m);
        self.out.write_all(&m.0)
    }

    fn value_type(&mut self, field: u64, ty: &str, unit: &str) -> std::io::Result<()> {
        let (t, u) = (self.string(ty), self.string(unit));
        self.field(|m| {
            let mut v = Msg::default();
            v.u64_opt(tag::VALUE_TYPE_TYPE, t);
            v.u64_opt(tag::VALUE_TYPE_UNIT, u);
            m.msg(field, &v);
        })
    }

    /// One more value of every sample (`goroutine`/`count`,
    /// `inuse_space`/`bytes`...), in the order the samples' values come.
    pub fn sample_type(&mut self, ty: &str, unit: &str) -> std::io::Result<()> {
        self.value_type(tag::PROFILE_SAMPLE_TYPE, ty, unit)
    }

    /// What one sampling event counts, and every how many of them one was sampled.
    pub fn period(&mut self, ty: &str, unit: &str, period: i64) -> std::io::Result<()> {
        self.value_type(tag::PROFILE_PERIOD_TYPE, ty, unit)?;
        self.field(|m| m.i64_opt(tag::PROFILE_PERIOD, period))
    }

    /// The sample type pprof shows first (by its type name).
    pub fn default_sample_type(&mut self, ty: &str) -> std::io::Result<()> {
        let t = self.string(ty);
        self.field(|m| m.u64_opt(tag::PROFILE_DEFAULT_SAMPLE_TYPE, t))
    }

    /// When the profile was taken, nanoseconds since the Unix epoch.
    pub fn time_nanos(&mut self, t: i64) -> std::io::Result<()> {
        self.field(|m| m.i64_opt(tag::PROFILE_TIME_NANOS, t))
    }

    pub fn duration_nanos(&mut self, d: i64) -> std::io::Result<()> {
        self.field(|m| m.i64_opt(tag::PROFILE_DURATION_NANOS, d))
    }

    /// A free-form line that `go tool pprof -raw` and `-comments` show.
    pub fn comment(&mut self, text: &str) -> std::io::Result<()> {
        let c = self.string(text);
        self.field(|m| m.u64(tag::PROFILE_COMMENT, c))
    }

    /// Add a mapping; its id (1-based) for [`ProfileWriter::location`].
    /// Mappings are written by [`ProfileWriter::finish`], so their `has_*`
    /// flags may still be changed through [`ProfileWriter::mapping_mut`].
    pub fn mapping(&mut self, m: Mapping) -> u64 {
        self.mappings.push(m);
        self.mappings.len() as u64
    }

    pub fn mapping_mut(&mut self, id: u64) -> Option<&mut Mapping> {
        self.mappings.get_mut((id as usize).checked_sub(1)?)
    }

    /// The id of the function with these names, file and start line,
    /// written the first time it is asked for.
    pub fn function(&mut self, name: &str, system_name: &str, file: &str, start_line: i64) -> std::io::Result<u64> {
        let key = (self.string(name), self.string(system_name), self.string(file), start_line);
        if let Some(&id) = self.functions.get(&key) {
            return Ok(id);
        }
        let id = self.functions.len() as u64 + 1;
        self.functions.insert(key, id);
        self.field(|m| {
            let mut f = Msg::default();
            f.u64_opt(tag::FUNCTION_ID, id);
            f.u64_opt(tag::FUNCTION_NAME, key.0);
            f.u64_opt(tag::FUNCTION_SYSTEM_NAME, key.1);
            f.u64_opt(tag::FUNCTION_FILENAME, key.2);
            f.i64_opt(tag::FUNCTION_START_LINE, start_line);
            m.msg(tag::PROFILE_FUNCTION, &f);
        })?;
        Ok(id)
    }

    /// The id of the location at `address` in mapping `mapping` (0: none)
    /// with these lines (innermost inlined call first), written the first
    /// time it is asked for.
    pub fn location(&mut self, mapping: u64, address: u64, lines: &[Line]) -> std::io::Result<u64> {
        let key = (mapping, address, lines.to_vec());
        if let Some(&id) = self.locations.get(&key) {
            return Ok(id);
        }
        let id = self.locations.len() as u64 + 1;
        self.locations.insert(key, id);
        self.field(|m| {
            let mut l = Msg::default();
            l.u64_opt(tag::LOCATION_ID, id);
            l.u64_opt(tag::LOCATION_MAPPING_ID, mapping);
            l.u64_opt(tag::LOCATION_ADDRESS, address);
            for line in lines {
                let mut ln = Msg::default();
                ln.u64_opt(tag::LINE_FUNCTION_ID, line.function);
                ln.i64_opt(tag::LINE_LINE, line.line);
                l.msg(tag::LOCATION_LINE, &ln);
            }
            m.msg(tag::PROFILE_LOCATION, &l);
        })?;
        Ok(id)
    }

    /// One sample: its values (one per sample type), its stack as location
    /// ids (innermost first) and its labels.
    pub fn sample(&mut self, values: &[i64], locations: &[u64], labels: &[Label]) -> std::io::Result<()> {
        let labels: Vec<Msg> = labels
            .iter()
            .map(|l| {
                let mut m = Msg::default();
                match l {
                    Label::Str { key, value } => {
                        m.u64_opt(tag::LABEL_KEY, self.string(key));
                        m.u64_opt(tag::LABEL_STR, self.string(value));
                    }
                    Label::Num { key, value, unit } => {
                        m.u64_opt(tag::LABEL_KEY, self.string(key));
                        m.i64_opt(tag::LABEL_NUM, *value);
                        if let Some(u) = unit {
                            m.u64_opt(tag::LABEL_NUM_UNIT, self.string(u));
                        }
                    }
                }
                m
            })
            .collect();
        self.samples += 1;
        self.field(|m| {
            let mut s = Msg::default();
            s.packed(tag::SAMPLE_LOCATION_ID, locations.iter().copied());
            s.packed(tag::SAMPLE_VALUE, values.iter().map(|v| *v as u64));
            for l in &labels {
                s.msg(tag::SAMPLE_LABEL, l);
            }
            m.msg(tag::PROFILE_SAMPLE, &s);
        })
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Write the mappings and the string table, end the gzip stream, and
    /// give the writer back.
    pub fn finish(mut self) -> std::io::Result<W> {
        let mappings = std::mem::take(&mut self.mappings);
        for (i, mp) in mappings.iter().enumerate() {
            let (file, build_id) = (self.string(&mp.file), self.string(&mp.build_id));
            self.field(|m| {
                let mut x = Msg::default();
                x.u64_opt(tag::MAPPING_ID, i as u64 + 1);
                x.u64_opt(tag::MAPPING_START, mp.start);
                x.u64_opt(tag::MAPPING_LIMIT, mp.limit);
                x.u64_opt(tag::MAPPING_OFFSET, mp.offset);
                x.u64_opt(tag::MAPPING_FILENAME, file);
                x.u64_opt(tag::MAPPING_BUILD_ID, build_id);
                x.bool_opt(tag::MAPPING_HAS_FUNCTIONS, mp.has_functions);
                x.bool_opt(tag::MAPPING_HAS_FILENAMES, mp.has_filenames);
                x.bool_opt(tag::MAPPING_HAS_LINE_NUMBERS, mp.has_line_numbers);
                x.bool_opt(tag::MAPPING_HAS_INLINE_FRAMES, mp.has_inline_frames);
                m.msg(tag::PROFILE_MAPPING, &x);
            })?;
        }
        let strings = std::mem::take(&mut self.strings);
        let mut m = Msg::default();
        for s in &strings {
            // Every entry, "" included: indexes are positions.
            m.bytes(tag::PROFILE_STRING_TABLE, s.as_bytes());
            if m.0.len() > 1 << 16 {
                self.out.write_all(&m.0)?;
                m.0.clear();
            }
        }
        self.out.write_all(&m.0)?;
        self.out.finish()
    }
}

/// What [`write_goroutine_profile`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoroutineProfileStats {
    /// Goroutines in the profile (the sum of the sample values).
    pub goroutines: u64,
    /// Samples: distinct stack and label sets.
    pub samples: u64,
    /// System goroutines left out, as the runtime's profile leaves them out.
    pub system_left_out: u64,
    /// Goroutines whose stack was cut at the profile's depth.
    pub truncated: u64,
}

/// runtime/pprof's stack depth for goroutine profiles: `debug.profstackdepth`
/// (GODEBUG, default 128) from Go 1.23, the 32 entries of
/// `StackRecord.Stack0` before. A GODEBUG setting in the process is not read.
pub fn profile_depth(go_minor: Option<u32>) -> usize {
    match go_minor {
        Some(m) if m < 23 => 32,
        _ => 128,
    }
}

/// One physical frame of a profile stack: the location's address and its
/// logical frames (innermost first), as (symbol name, file, line, start line).
type PFrame = (u64, Vec<(Arc<str>, Arc<str>, i64, i32)>);

/// The stack `saveg` would record for `r`, by physical frame; and whether
/// it was cut at `depth`.
fn profile_stack(a: &Analysis, r: &GoroutineReport, depth: usize) -> (Vec<PFrame>, bool) {
    let wrapper = a.wrapper_func_id();
    let mut out: Vec<PFrame> = Vec::new();
    let mut n = 0;
    let mut callee: Option<&str> = None;
    for f in &r.stack.frames {
        let mut lines = Vec::new();
        for lf in &f.logical {
            if n >= depth {
                // runtime_expandFinalInlineFrame: a stack cut inside an
                // inlined call gets the rest of its physical frame.
                if lines.is_empty() {
                    break;
                }
            }
            let callee_elides = !matches!(callee, Some("runtime.gopanic" | "runtime.sigpanic" | "runtime.panicwrap"));
            let elided = Some(lf.func_id) == wrapper && callee_elides;
            callee = Some(&*lf.name);
            if elided {
                continue;
            }
            n += 1;
            // allFrames: runtime.goexit's pc counts towards the depth but
            // makes no location.
            if &*lf.name == "runtime.goexit" {
                continue;
            }
            lines.push((lf.name.clone(), lf.file.clone(), lf.line, lf.start_line));
        }
        if !lines.is_empty() {
            out.push((f.sym_pc, lines));
        }
        if n >= depth {
            let more = r.stack.frames.last().is_some_and(|l| !std::ptr::eq(l, f));
            return (out, more);
        }
    }
    (out, false)
}

/// The sample key of one goroutine: its locations and labels.
type SampleKey = (Vec<u64>, Vec<(String, String)>);

/// The executable mappings of the core, as the profile's mappings (the
/// runtime lists /proc/self/maps' executable ones).
fn core_mappings(a: &Analysis) -> Vec<Mapping> {
    let text = a.bin.pcln.text_start.wrapping_add(a.bias);
    let build_id: String = a.bin.build_id.as_deref().unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect();
    let mut v: Vec<Mapping> = a
        .core
        .mappings
        .iter()
        .chain(&a.core.file_mappings)
        .filter(|m| m.exec && m.path.is_some())
        .map(|m| {
            let path = m.path.as_ref().expect("filtered");
            // The build ID is read from the binary we analyse with (the
            // runtime reads it from the file the mapping names).
            let is_exe = m.start <= text && text < m.end;
            Mapping {
                start: m.start,
                limit: m.end,
                offset: m.file_offset,
                file: path.display().to_string(),
                build_id: if is_exe { build_id.clone() } else { String::new() },
                ..Mapping::default()
            }
        })
        .collect();
    v.sort_by_key(|m| m.start);
    v.dedup_by_key(|m| (m.start, m.limit));
    v
}

/// Write `a`'s goroutine profile to `w` (gzipped profile.proto), walking
/// the goroutines a chunk at a time on every CPU; `progress(done, total)`
/// is called after each chunk.
pub fn write_goroutine_profile<W: Write>(
    a: &Analysis,
    w: W,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> std::io::Result<(W, GoroutineProfileStats)> {
    use rayon::prelude::*;
    let depth = profile_depth(a.bin.go_minor());
    let mut p = ProfileWriter::new(w);
    p.period("goroutine", "count", 1)?;
    p.sample_type("goroutine", "count")?;
    let mappings = core_mappings(a);
    let mut ids = Vec::new();
    for m in mappings {
        ids.push((m.start, m.limit, p.mapping(m)));
    }
    let mapping_of = |addr: u64| ids.iter().find(|(s, e, _)| *s <= addr && addr < *e).map(|x| x.2);
    let mut funcs: HashMap<Arc<str>, u64> = HashMap::new();
    let mut locs: HashMap<(u64, Vec<Line>), u64> = HashMap::new();
    let mut used_mappings = std::collections::HashSet::new();
    let mut samples: HashMap<SampleKey, usize> = HashMap::new();
    let mut order: Vec<(SampleKey, u64)> = Vec::new();
    let mut stats = GoroutineProfileStats::default();
    let total = a.goroutines.len();
    let mut done = 0;
    for chunk in a.goroutines.chunks(crate::analysis::RELEASE_EVERY) {
        let stacks: Vec<Option<(Vec<PFrame>, bool)>> = chunk
            .par_iter()
            .with_min_len(64)
            .map(|r| (!r.system).then(|| profile_stack(a, &a.walked(r, Depth::Full), depth)))
            .collect();
        for (r, s) in chunk.iter().zip(stacks) {
            let Some((frames, cut)) = s else {
                stats.system_left_out += 1;
                continue;
            };
            stats.truncated += cut as u64;
            let mut loc_ids = Vec::with_capacity(frames.len());
            for (addr, lines) in frames {
                let mut pl = Vec::with_capacity(lines.len());
                for (name, file, line, start) in lines {
                    let id = match funcs.get(&name) {
                        Some(&id) => id,
                        None => {
                            let id = p.function(&name, &name, &file, start as i64)?;
                            funcs.insert(name, id);
                            id
                        }
                    };
                    pl.push(Line { function: id, line });
                }
                let key = (addr, pl);
                let id = match locs.get(&key) {
                    Some(&id) => id,
                    None => {
                        let m = mapping_of(addr).unwrap_or(0);
                        used_mappings.insert(m);
                        let id = p.location(m, addr, &key.1)?;
                        locs.insert(key, id);
                        id
                    }
                };
                loc_ids.push(id);
            }
            let key = (loc_ids, r.g.labels.clone());
            match samples.get(&key) {
                Some(&i) => order[i].1 += 1,
                None => {
                    samples.insert(key.clone(), order.len());
                    order.push((key, 1));
                }
            }
            stats.goroutines += 1;
        }
        done += chunk.len();
        progress(done, total);
        a.core.release_pages();
    }
    drop(samples);
    for id in used_mappings {
        if let Some(m) = p.mapping_mut(id) {
            m.has_functions = true;
            m.has_filenames = true;
            m.has_line_numbers = true;
            m.has_inline_frames = true;
        }
    }
    // printCountProfile: the biggest count first (ties in allgs order).
    order.sort_by(|x, y| y.1.cmp(&x.1));
    for ((locs, labels), count) in &order {
        let labels: Vec<Label> =
            labels.iter().map(|(k, v)| Label::Str { key: k.clone(), value: v.clone() }).collect();
        p.sample(&[*count as i64], locs, &labels)?;
    }
    stats.samples = order.len() as u64;
    if stats.system_left_out > 0 {
        p.comment(&format!(
            "{} system goroutines left out, as the runtime's goroutine profile leaves them out",
            stats.system_left_out
        ))?;
    }
    p.comment(&format!("goanalyze: goroutines of core {}", a.core.path.display()))?;
    let w = p.finish()?;
    Ok((w, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_free_int64() {
        let mut m = Msg::default();
        m.varint(300);
        assert_eq!(m.0, [0xac, 0x02]);
        let mut m = Msg::default();
        m.i64_opt(1, -1);
        // A negative int64 is ten bytes after the key.
        assert_eq!(m.0.len(), 11);
        assert_eq!(m.0[0], 0x08);
        let mut m = Msg::default();
        m.u64_opt(3, 0);
        assert!(m.0.is_empty());
    }

    #[test]
    fn functions_and_locations_are_deduplicated() {
        let mut p = ProfileWriter::new(Vec::new());
        let f = p.function("main.f", "main.f", "/x.go", 3).unwrap();
        assert_eq!(p.function("main.f", "main.f", "/x.go", 3).unwrap(), f);
        let g = p.function("main.g", "main.g", "/x.go", 9).unwrap();
        assert_ne!(f, g);
        let l = p.location(0, 0x1000, &[Line { function: f, line: 4 }]).unwrap();
        assert_eq!(p.location(0, 0x1000, &[Line { function: f, line: 4 }]).unwrap(), l);
        assert_ne!(p.location(0, 0x1000, &[Line { function: g, line: 4 }]).unwrap(), l);
        assert_eq!(p.string(""), 0);
        let out = p.finish().unwrap();
        assert_eq!(&out[..2], &[0x1f, 0x8b], "gzip magic");
    }
}

/// The heap as a profile of what is in use, by type: sample types
/// `inuse_objects`/count and `inuse_space`/bytes (the names `go tool pprof`
/// knows from the runtime's heap profile), one sample per histogram row
/// whose one-frame stack is the type's name. A core records no allocation
/// sites, so unlike the runtime's heap profile the stacks are types, not
/// call paths; `go tool pprof -top` then lists what the memory is made of.
pub fn write_heap_profile<W: Write>(hist: &crate::heap::Histogram, w: W) -> std::io::Result<W> {
    let mut p = ProfileWriter::new(w);
    p.sample_type("inuse_objects", "count")?;
    p.sample_type("inuse_space", "bytes")?;
    p.default_sample_type("inuse_space")?;
    p.comment("goanalyze --heap: objects in use at the moment of the core, by type (no allocation sites: a core does not record them)")?;
    let s = &hist.summary;
    p.comment(&format!(
        "{} objects, {} bytes in {} spans ({} bytes); {} objects typed",
        s.objects, s.object_bytes, s.spans_in_use, s.span_bytes_in_use, s.typed_objects
    ))?;
    for (i, row) in hist.rows.iter().enumerate() {
        // pprof drops `<...>` from names as C++ template arguments: the
        // untyped rows (`<untyped 48B noscan>`) would be left nameless.
        let name = row.name.strip_prefix('<').and_then(|n| n.strip_suffix('>')).unwrap_or(&row.name);
        let f = p.function(name, name, "", 0)?;
        // A made-up address per type: pprof keys locations by it.
        let loc = p.location(0, i as u64 + 1, &[Line { function: f, line: 0 }])?;
        let labels = [Label::Str { key: "typed_by".into(), value: row.source.into() }];
        p.sample(&[row.objects as i64, row.bytes as i64], &[loc], &labels)?;
    }
    p.finish()
}

//! goanalyze: goroutines and stacks from a Go program's core file.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

use analyzer::analysis::{Analysis, Depth};
use analyzer::output::traceback::{self, Options};

mod batch;
mod cli_triage;
mod deadline;
mod export;
mod outfile;
mod progress;
mod heap_view;
mod leaks_view;
mod retained_view;
#[cfg(feature = "debuginfod")]
mod debuginfod;
mod sources;
mod stdout;

/// Bad usage found after parsing (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// A write to stdout failed; the analysis itself did not.
#[derive(Debug, thiserror::Error)]
#[error("writing to standard output: {0}")]
struct StdoutFailed(#[source] std::io::Error);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// With --goroutines: the goroutine profile, for `go tool pprof`.
    Pprof,
    /// A self-contained HTML report of a core or of a triage batch.
    Html,
}

/// Goroutines, stacks and threads from a Go program's core file.
#[derive(Debug, Parser)]
#[command(
    group(clap::ArgGroup::new("top_of").args(["heap", "retained"]).multiple(true)),
    name = "goanalyze",
    version,
    after_help = "Examples:
  goanalyze core --stacks                 every goroutine, as GOTRACEBACK=crash prints it
  goanalyze core --stacks --system=false  as GOTRACEBACK=all: no runtime frames or system goroutines
  goanalyze core --exe ./server --goroutines
  goanalyze core --threads
  goanalyze core --threads --bt           every thread's native stack (C and Go frames), like gdb's bt
  goanalyze core --info
  zstd -dc core.zst | goanalyze - --stacks   a core from standard input (coredumpctl dump PID | goanalyze - ...)
  goanalyze core --exe-dir builds/ --stacks  the executable found by build id (also DEBUGINFOD_URLS)
  goanalyze core --stacks --format json > stacks.json
  goanalyze core --vars --system=false    stacks with every frame's arguments and locals
  goanalyze core --locals -g 7            goroutine 7's frames and their variables
  goanalyze core --print 'main.cfg.Limits[\"x\"]'   a global (fields, a[i], m[k], *p, len(), cap())
  goanalyze core --print 'req.URL' -g 7 -f 2      in frame 2 of goroutine 7
  goanalyze core --group                  goroutines with identical stacks, counted
  goanalyze core --leaks                  goroutines blocked forever on unreachable channels/locks
  goanalyze cores/*.core --triage --format json   crash reason + signature per core (JSON Lines)
  goanalyze core --goroutines --format pprof -o goroutines.pb.gz   for `go tool pprof`
  goanalyze core --retained --top 20        who keeps the heap alive: roots and objects by retained bytes
  goanalyze core --path 0xc000123450      a shortest reference path from a root to that object
  goanalyze core --retained --format pprof -o retained.pb.gz   retained memory by reference path
  goanalyze core --format html -o report.html     reason, signature, goroutine groups (cores...: a batch)

Exit status: 0 ok, 1 the analysis failed (with --triage: of any core) or stdout could not be
written, 2 bad usage. A reader that closes stdout (`| head`) ends goanalyze at once, with 0."
)]
struct Cli {
    /// The core file (several with --triage; compressed ones too); `-` reads
    /// one from standard input (spooled to a temporary file).
    #[arg(required_unless_present = "layout_table")]
    core: Vec<PathBuf>,
    /// The executable the core was made from (default: the one the core
    /// names, CORE.exe, then --exe-dir and DEBUGINFOD_URLS by build id).
    #[arg(long)]
    exe: Option<PathBuf>,
    /// A directory searched for the executable by the core's build id
    /// (GNU, then Go) when it is not where the core says; may be repeated.
    #[arg(long, value_name = "DIR")]
    exe_dir: Vec<PathBuf>,
    /// Print every goroutine's stack in the runtime's traceback format.
    #[arg(long)]
    stacks: bool,
    /// One line per goroutine: id, status, user location, go statement, start function, thread.
    #[arg(long)]
    goroutines: bool,
    /// One line per OS thread: tid, pc, sp, function at pc.
    #[arg(long)]
    threads: bool,
    /// With --threads: each thread's native backtrace, like gdb's `bt`
    /// (C frames from DWARF CFI or frame pointers, Go frames from the pclntab).
    #[arg(long, visible_alias = "backtrace", requires = "threads")]
    bt: bool,
    /// Core format, architecture, pid, executable, signal, threads, mappings.
    #[arg(long)]
    info: bool,
    /// Include runtime frames and system goroutines (GOTRACEBACK=crash), in
    /// every view; `--system=false` prints what GOTRACEBACK=all prints, and
    /// each view says how many system goroutines it hid.
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    system: bool,
    /// Output format for --goroutines and --stacks (json), --triage (json,
    /// html); pprof: the goroutine profile (with --goroutines); html: a
    /// report of the core, or of a batch of cores.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// With --format pprof or html: write to FILE (replaced only once
    /// complete; `-` is standard output, the default when that is not a terminal).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Crash triage: reason, crashing goroutine, signature, goroutine groups;
    /// one record per core (JSON Lines with --format json), cores in parallel.
    #[arg(long)]
    triage: bool,
    /// Goroutines with identical stacks, one block per group with its count.
    #[arg(long)]
    group: bool,
    /// With --triage: seconds one core may take before it is given up.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    timeout_per_core: u64,
    /// Give up (exit 1, with an error line) if the analysis of the core
    /// takes longer than SECS seconds (default: no limit); --goroutines and
    /// --stacks keep what they printed so far. With --triage use
    /// --timeout-per-core.
    #[arg(long, value_name = "SECS", conflicts_with = "triage", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// With --triage: cores analysed at once (default: one per CPU).
    #[arg(long, default_value_t = 0, value_name = "N")]
    jobs: usize,
    /// With --triage: analyse in this process (how the batch runs each core).
    #[arg(long, hide = true)]
    in_process: bool,
    /// Like --stacks, with every frame's arguments and locals under it (needs DWARF).
    #[arg(long)]
    vars: bool,
    /// One goroutine's frames with their arguments and locals (with -g N).
    #[arg(long, requires = "goroutine")]
    locals: bool,
    /// Print a Go expression, as Delve's `print` does (no function calls):
    /// globals (`main.cfg.Port`), fields, `a[i]`, `m[k]`, `s[1:3]`, `*p`,
    /// `&x`, operators, conversions and casts (`(*T)(0xADDR)`), type
    /// assertions, `len cap real imag complex min max`; with -g N [-f M] in
    /// that frame's scope. Repeat it for several expressions: one
    /// `EXPR = VALUE` line each (an error: `EXPR: error: WHY`).
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true, action = clap::ArgAction::Append)]
    print: Vec<String>,
    /// The goroutine (goid) for --locals, --vars and --print.
    #[arg(short = 'g', long = "goroutine", value_name = "N")]
    goroutine: Option<u64>,
    /// The frame of -g's goroutine for --print, numbered as --vars shows them
    /// (0 = innermost); without it, the innermost frame that has the name.
    #[arg(short = 'f', long = "frame", value_name = "M", requires = "goroutine")]
    frame: Option<usize>,
    /// Longest string shown, in bytes (Delve's MaxStringLen).
    #[arg(long, value_name = "N", default_value_t = 64, visible_alias = "max-string-len")]
    max_string: usize,
    /// Most elements of a slice, array, map or channel shown (Delve's MaxArrayValues).
    #[arg(long, value_name = "N", default_value_t = 64, visible_alias = "max-array-values")]
    max_elems: usize,
    /// Deepest nesting of structs, elements and followed pointers shown.
    #[arg(long, value_name = "N", default_value_t = 3)]
    max_depth: usize,
    /// Most fields of one struct shown (Delve's MaxStructFields).
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_struct_fields: usize,
    /// What the memory is: a histogram of the heap's objects by type
    /// (objects, bytes, bytes lost to size-class rounding), biggest first,
    /// with a summary reconciled with the runtime's own accounting.
    #[arg(long)]
    heap: bool,
    /// With --heap: the N biggest types only; with --retained: the N roots
    /// and N objects that retain the most (0: all).
    #[arg(long, value_name = "N", default_value_t = 50, requires = "top_of")]
    top: usize,
    /// Who keeps the memory alive: the roots (globals, goroutines' frames)
    /// and objects that retain the most bytes (what freeing them would free,
    /// from the dominator tree of the heap), each object with its dominators.
    #[arg(long)]
    retained: bool,
    /// A shortest reference path from a root to the heap object at ADDR,
    /// with field names, indexes and map keys/values.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    path: Option<u64>,
    /// The heap objects of one type (as --heap names it), with their addresses and sizes.
    #[arg(long, value_name = "TYPE")]
    objects: Option<String>,
    /// Goroutines blocked forever on a channel, mutex, condition variable or
    /// WaitGroup that nothing live can reach, grouped by stack, with the
    /// bytes only their stacks hold (Go 1.26's leak detector, post mortem).
    #[arg(long)]
    leaks: bool,
    /// Developer aid: every goroutine's stack roots (the slots the GC
    /// scans) and the heap objects they point to, as JSON.
    #[arg(long, hide = true)]
    stack_roots: bool,
    /// Developer aid: print the runtime struct offsets read from EXE's DWARF
    /// as an entry of the built-in layout table.
    #[arg(long, value_name = "EXE", hide = true)]
    layout_table: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    stdout::watch();
    if matches!(cli.format, Format::Pprof | Format::Html) || cli.output.is_some() {
        return export::run(&cli);
    }
    if cli.triage {
        return cli_triage::run(&cli);
    }
    if cli.core.len() > 1 {
        eprintln!("goanalyze: several cores need --triage");
        return ExitCode::from(2);
    }
    if cli.core.iter().any(|c| sources::is_stdin(c)) && cli.triage {
        eprintln!("goanalyze: --triage reads core files, not standard input (-)");
        return ExitCode::from(2);
    }
    if cli.group && cli.format == Format::Json && (cli.info || cli.threads || cli.stacks || cli.goroutines) {
        eprintln!("goanalyze: --group --format json prints one document and works with nothing else");
        return ExitCode::from(2);
    }
    let var_mode = cli.vars || cli.locals || !cli.print.is_empty();
    if let Some(why) = conflict(&cli) {
        eprintln!("goanalyze: {why}");
        return ExitCode::from(2);
    }
    let heap_mode = cli.heap || cli.objects.is_some() || cli.leaks || cli.stack_roots || cli.retained || cli.path.is_some();
    if cli.format == Format::Json && !cli.group && !heap_mode && (cli.info || cli.threads || !(cli.stacks || cli.goroutines || var_mode)) {
        eprintln!("goanalyze: --format json needs --goroutines, --stacks, --vars, --locals or --print (and works with nothing else)");
        return ExitCode::from(2);
    }
    if let (Some(secs), Some(core)) = (cli.timeout, cli.core.first()) {
        deadline::arm(secs, core.clone());
    }
    let r = run(&cli);
    deadline::finished();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            eprintln!("goanalyze: {e}");
            ExitCode::from(2)
        }
        Err(e) if e.downcast_ref::<StdoutFailed>().is_some() => {
            stdout::failed(&e.downcast_ref::<StdoutFailed>().expect("checked").0)
        }
        Err(e) => {
            // Our errors already name the file or address and carry their
            // cause in the message: print the top one only, on one line.
            eprintln!("goanalyze: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_addr(s: &str) -> std::result::Result<u64, String> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"));
    match h {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s:?} is not an address (0x... or decimal): {e}"))
}

/// Modes that cannot be combined: one of them would be dropped silently.
fn conflict(cli: &Cli) -> Option<String> {
    let views: Vec<&str> = [
        (cli.stacks, "--stacks"),
        (cli.goroutines, "--goroutines"),
        (cli.threads, "--threads"),
        (cli.info, "--info"),
        (cli.group, "--group"),
        (cli.heap, "--heap"),
        (cli.objects.is_some(), "--objects"),
        (cli.leaks, "--leaks"),
        (cli.retained, "--retained"),
        (cli.path.is_some(), "--path"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let vars: Vec<&str> = [(cli.vars, "--vars"), (cli.locals, "--locals"), (!cli.print.is_empty(), "--print")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    // `--print --stacks`: the flag was taken as the expression (--print
    // takes values starting with `-`, for `--print -i2`); no Go expression
    // starts with `--` (the decrement token), so `--word` was a flag.
    if let Some(f) = cli.print.iter().find(|e| e.strip_prefix("--").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))) {
        return Some(format!("--print needs an expression before {f} (no Go expression starts with --)"));
    }
    if cli.triage {
        return None;
    }
    if vars.len() > 1 {
        return Some(format!("{} cannot be combined: give one", vars.join(" and ")));
    }
    if (cli.heap || cli.objects.is_some() || cli.leaks || cli.retained || cli.path.is_some()) && views.len() > 1 {
        return Some(format!("{} cannot be combined: run goanalyze once for each", views.join(" and ")));
    }
    if let (Some(v), Some(w)) = (vars.first(), views.first()) {
        return Some(format!("{v} cannot be combined with {w}: run goanalyze once for each"));
    }
    if cli.goroutine.is_some() && vars.is_empty() {
        return Some("-g N selects the goroutine for --locals, --vars or --print; give one of them".into());
    }
    None
}

/// What opening found: a Go program, or (for --info/--threads) a core
/// without a Go executable, and why.
enum Opened {
    Go(Box<Analysis>),
    NotGo(Box<core_reader::Core>, String),
}

/// `goanalyze EXE` (an executable where the core goes): the core reader
/// found an ELF file of type ET_EXEC or ET_DYN.
fn executable_not_core(e: &analyzer::Error) -> bool {
    matches!(e, analyzer::Error::Core(core_reader::Error::ElfNotCore { e_type: 2 | 3, .. }))
}

fn run(cli: &Cli) -> Result<()> {
    if let Some(exe) = &cli.layout_table {
        let bin = analyzer::binary::Binary::open(exe)?;
        anyhow::ensure!(bin.has_dwarf, "{}: has no DWARF", exe.display());
        let minor = bin.go_minor().context("unknown Go version")?;
        return stdout::write_all(bin.layout.as_table_source(minor).as_bytes()).map_err(|e| StdoutFailed(e).into());
    }
    let core = cli.core.first().expect("clap requires CORE");
    let opts = sources::open_options(cli.exe.as_deref(), &cli.exe_dir);
    let opened = sources::open_core(core, &opts).and_then(|c| {
        // --info and --threads need no Go runtime: a core of a C or Python
        // program, or without its executable, still says what it holds.
        let go_views = cli.stacks || cli.goroutines || cli.group || cli.leaks || cli.vars || cli.locals || !cli.print.is_empty() || cli.retained || cli.path.is_some();
        match analyzer::output::native::not_go(&c).filter(|_| !go_views) {
            Some(why) => Ok(Opened::NotGo(Box::new(c), why)),
            None => {
                // Whole stacks of every goroutine are walked up front: a bar for a big core.
                let bar = progress::Bar::new("goroutines");
                let a = Analysis::from_core_progress(c, depth_needed(cli), &bar.callback());
                bar.finish();
                a.map(|a| Opened::Go(Box::new(a)))
            }
        }
    });
    let a = match opened {
        Ok(Opened::Go(a)) => *a,
        Ok(Opened::NotGo(c, why)) => {
            for w in &c.warnings {
                eprintln!("goanalyze: warning: {w}");
            }
            let mut out = String::new();
            if cli.info || !cli.threads {
                out += &analyzer::output::native::info(&c, &why);
            }
            if cli.threads {
                out += &analyzer::output::native::threads(&c, cli.bt);
            }
            return stdout::write_all(out.as_bytes()).map_err(|e| StdoutFailed(e).into());
        }
        Err(e) if executable_not_core(&e) => {
            return Err(Usage(format!(
                "{} is an executable, not a core file; did you mean `goanalyze CORE --exe {}`?",
                core.display(),
                core.display()
            ))
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    for w in a.warnings() {
        eprintln!("goanalyze: warning: {w}");
    }
    if a.goroutine_count() == 0 && (cli.stacks || cli.goroutines || cli.vars || cli.locals) {
        anyhow::bail!(
            "{}: no live goroutines found through runtime.allgs; is {} the executable that wrote this core? (pass the right one with --exe)",
            core.display(),
            a.bin.path.display()
        );
    }
    let json = cli.format == Format::Json;
    if cli.retained || cli.path.is_some() {
        let r = retained_view::analyze(&a, if cli.path.is_some() { retained_view::Types::All } else { retained_view::Types::Top(cli.top) })?;
        for w in &r.warnings {
            eprintln!("goanalyze: warning: {w}");
        }
        let text = match cli.path {
            Some(addr) => retained_view::path(&a, &r, addr, json)?,
            None if json => retained_view::json(&r, cli.top, a.bin.go_version.as_deref()),
            None => retained_view::text(&r, cli.top),
        };
        std::mem::forget(r);
        std::mem::forget(a);
        return stdout::write_all(text.as_bytes()).map_err(|e| StdoutFailed(e).into());
    }
    if cli.leaks || cli.stack_roots {
        let text = if cli.leaks { leaks_view::run(&a, json)? } else { leaks_view::stack_roots(&a)? };
        std::mem::forget(a);
        return stdout::write_all(text.as_bytes()).map_err(|e| StdoutFailed(e).into());
    }
    if cli.heap || cli.objects.is_some() {
        let text = heap_view::run(&a, cli.objects.as_deref(), cli.top, json)?;
        std::mem::forget(a);
        return stdout::write_all(text.as_bytes()).map_err(|e| StdoutFailed(e).into());
    }
    if cli.vars || cli.locals || !cli.print.is_empty() {
        let r = run_vars(cli, &a);
        // As below: the process ends here, freeing would only cost time.
        std::mem::forget(a);
        return r;
    }
    use std::io::Write;
    // The long views walk goroutines as they print them: from here on a
    // --timeout cuts the output short (and says so) instead of leaving none.
    deadline::writing();
    let mut so = std::io::BufWriter::with_capacity(1 << 16, stdout::Checked::new(std::io::stdout().lock()));
    let r = write_report(cli, &a, json, &mut so).and_then(|()| Ok(so.flush()?));
    deadline::finished();
    // The process ends here: freeing 100,000 goroutine reports one by one
    // would only cost time.
    std::mem::forget(a);
    // Whatever type the formatter wrapped it in, a failed write to stdout
    // is reported as that (a closed pipe quietly, by the caller).
    if let Some(e) = so.get_mut().error.take() {
        return Err(StdoutFailed(e).into());
    }
    r
}

/// Everything but --vars/--locals/--print, section by section; the long
/// text sections are written as they are formatted.
fn write_report(cli: &Cli, a: &Analysis, json: bool, so: &mut dyn std::io::Write) -> Result<()> {
    let any = cli.stacks || cli.goroutines || cli.threads || cli.info || cli.group;
    if cli.info || !any {
        so.write_all(analyzer::output::report::info(a).as_bytes())?;
    }
    if cli.threads {
        let t = if cli.bt { analyzer::output::report::threads_with_backtraces(a) } else { analyzer::output::report::threads(a) };
        so.write_all(t.as_bytes())?;
    }
    let opts = Options { system: cli.system };
    // One JSON document: --stacks' is a superset of --goroutines'.
    if cli.goroutines && !(json && cli.stacks) {
        if json {
            analyzer::output::json::write_goroutines(a, opts, so)?;
        } else {
            analyzer::output::report::write_goroutines(a, cli.system, so)?;
        }
    }
    if cli.stacks {
        if json {
            analyzer::output::json::write_stacks(a, opts, so)?;
        } else {
            traceback::write_all(a, opts, so)?;
        }
    }
    if cli.group {
        so.write_all(cli_triage::groups(a, json, cli.system)?.as_bytes())?;
    }
    // The text lists have no room for a note in their format (the runtime's
    // traceback, one line a goroutine): the count of what they hid goes to
    // stderr. (JSON documents carry it as `system_hidden`.)
    let hidden = analyzer::output::report::hidden_system(a, cli.system);
    if hidden > 0 && !json && (cli.goroutines || cli.stacks) {
        eprintln!("goanalyze: {hidden} system goroutines hidden (--system=true shows them)");
    }
    Ok(())
}

/// How deep the stacks are walked when the core is opened. `--goroutines`
/// and `--stacks` (text and JSON) read and walk each goroutine as they
/// print it (a chunk at a time, in parallel), so they keep none up front;
/// `--threads` names each thread's goroutine; grouping, variables and
/// native backtraces hold whole stacks.
fn depth_needed(cli: &Cli) -> Depth {
    if cli.retained || cli.path.is_some() {
        // Every goroutine's frames are roots.
        return Depth::Full;
    }
    let whole = cli.group || cli.leaks || cli.stack_roots || cli.vars || cli.locals || !cli.print.is_empty() || (cli.threads && cli.bt);
    if whole {
        Depth::Full
    } else if cli.threads {
        Depth::None
    } else if cli.goroutines || cli.stacks || cli.heap || cli.objects.is_some() {
        // --heap and --objects walk each goroutine for its frames' typed roots.
        Depth::Listing
    } else {
        // --info alone: a summary that does not read every goroutine.
        Depth::NotRead
    }
}

/// --vars, --locals and --print (analyzer::vars).
fn run_vars(cli: &Cli, a: &Analysis) -> Result<()> {
    use analyzer::value::Limits;
    let limits = Limits { max_string: cli.max_string, max_elems: cli.max_elems, max_depth: cli.max_depth, max_fields: cli.max_struct_fields };
    let opts = Options { system: cli.system };
    let json = cli.format == Format::Json;
    let mut out = String::new();
    if let [expr] = cli.print.as_slice() {
        let r = analyzer::vars::print_expr(a, expr, cli.goroutine, cli.frame, opts, limits);
        if json {
            let (ty, value, addr, error) = match r {
                Ok((t, v, ad)) => (t, Some(v), ad.map(|x| format!("{x:#x}")), None),
                Err(e) => (None, None, None, Some(e.to_string())),
            };
            out += &analyzer::output::json::print(&analyzer::output::json::PrintDoc {
                schema: "goanalyze.print",
                version: analyzer::output::json::SCHEMA_VERSION,
                minor: analyzer::output::json::SCHEMA_MINOR,
                expr: expr.clone(),
                goroutine: cli.goroutine,
                frame: cli.frame,
                ty,
                value,
                addr,
                error,
            })?;
        } else {
            let (_, v, _) = r.map_err(|e| anyhow::anyhow!("{expr}: {e}"))?;
            out += &v.to_string();
            out.push('\n');
        }
    } else if !cli.print.is_empty() {
        // Several: each on its line, an error in its place; exit 1 if any failed.
        if json {
            // One document, every answer in it (errors too): exit 0, as for one.
            use analyzer::output::json::{prints, PrintResult};
            let all = cli.print.iter().map(|e| PrintResult::new(e, analyzer::vars::print_expr(a, e, cli.goroutine, cli.frame, opts, limits))).collect();
            out += &prints(cli.goroutine, cli.frame, all)?;
            deadline::finished();
            return stdout::write_all(out.as_bytes()).map_err(|e| StdoutFailed(e).into());
        }
        let mut failed = 0;
        for expr in &cli.print {
            match analyzer::vars::print_expr(a, expr, cli.goroutine, cli.frame, opts, limits) {
                Ok((_, v, _)) => out += &format!("{expr} = {v}\n"),
                Err(e) => {
                    failed += 1;
                    out += &format!("{expr}: error: {e}\n");
                }
            }
        }
        deadline::finished();
        stdout::write_all(out.as_bytes()).map_err(StdoutFailed)?;
        anyhow::ensure!(failed == 0, "{failed} of {} expressions failed", cli.print.len());
        return Ok(());
    } else {
        if let Some(id) = cli.goroutine {
            anyhow::ensure!(a.goroutines.iter().any(|r| r.g.goid == id), "no goroutine {id} in the core");
        }
        if json {
            out += &analyzer::output::json::vars(a, opts, limits, cli.goroutine)?;
        } else {
            out += &analyzer::vars::format_all(a, opts, limits, cli.goroutine);
        }
    }
    deadline::finished();
    stdout::write_all(out.as_bytes()).map_err(|e| StdoutFailed(e).into())
}

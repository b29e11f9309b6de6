//! `--format pprof` (the goroutine profile) and `--format html` (the
//! report of a core or of a triage batch): results that go to a file
//! (`-o FILE`, see [`super::outfile`]) or to standard output when it is
//! not a terminal. The result is made in memory (a profile of 100,000
//! goroutines is some kilobytes: identical stacks are one sample) and
//! written once complete, so a failure or a `--timeout` never leaves half
//! a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use analyzer::analysis::{Analysis, Depth};
use analyzer::crash::triage::{self, Record};

use super::batch::{self, BatchOptions};
use super::progress::Bar;
use super::{deadline, outfile, Cli, Format};

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("goanalyze: {msg}");
    ExitCode::from(2)
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("goanalyze: {msg}");
    ExitCode::from(1)
}

/// What the flags ask of this module, or why they cannot be combined.
fn check(cli: &Cli) -> Result<(), String> {
    let vars = cli.vars || cli.locals || !cli.print.is_empty();
    match cli.format {
        Format::Pprof => {
            if cli.objects.is_some() {
                return Err("--objects has no profile: --heap --format pprof gives the heap by type".into());
            }
            if cli.path.is_some() {
                return Err("--path has no profile: --retained --format pprof gives retained memory by reference path".into());
            }
            if !cli.goroutines && !cli.heap && !cli.retained {
                return Err("--format pprof writes the goroutine profile (--goroutines), the heap's (--heap) or the retained memory's (--retained): give one".into());
            }
            let other: Vec<&str> = [
                (cli.stacks, "--stacks"),
                (cli.threads, "--threads"),
                (cli.info, "--info"),
                (cli.group, "--group"),
                (cli.triage, "--triage"),
                (vars, "--vars/--locals/--print"),
                (cli.heap && cli.goroutines, "--heap and --goroutines together"),
                (cli.retained && (cli.heap || cli.goroutines), "--retained with --heap or --goroutines"),
            ]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect();
            if let Some(o) = other.first() {
                return Err(format!("--format pprof cannot be combined with {o}: run goanalyze once for each"));
            }
            if cli.core.len() > 1 {
                return Err("--format pprof takes one core".into());
            }
        }
        Format::Html => {
            let other: Vec<&str> = [
                (cli.stacks, "--stacks"),
                (cli.goroutines, "--goroutines"),
                (cli.threads, "--threads"),
                (cli.info, "--info"),
                (vars, "--vars/--locals/--print"),
                (cli.heap, "--heap"),
                (cli.objects.is_some(), "--objects"),
                (cli.retained, "--retained"),
                (cli.path.is_some(), "--path"),
            ]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect();
            if let Some(o) = other.first() {
                return Err(format!(
                    "--format html is a report of its own (reason, signature, goroutine groups); it cannot be combined with {o}"
                ));
            }
            if cli.core.len() > 1 && cli.timeout.is_some() {
                return Err("--timeout is for one core; a batch takes --timeout-per-core".into());
            }
        }
        Format::Text | Format::Json => {
            return Err("-o FILE is for --format pprof and --format html; text and JSON go to standard output".into());
        }
    }
    Ok(())
}

pub fn run(cli: &Cli) -> ExitCode {
    if let Err(why) = check(cli) {
        return usage(why);
    }
    let dest: PathBuf = match &cli.output {
        Some(p) => p.clone(),
        None if outfile::stdout_ok() => PathBuf::from("-"),
        None => {
            return usage(format!(
                "--format {} writes {}; give -o FILE (or redirect standard output)",
                if cli.format == Format::Pprof { "pprof" } else { "html" },
                if cli.format == Format::Pprof { "a gzipped protobuf, not for a terminal" } else { "an HTML page, not for a terminal" }
            ))
        }
    };
    let batch = cli.format == Format::Html && (cli.triage || cli.core.len() > 1);
    if batch {
        return run_batch(cli, &dest);
    }
    let Some(core) = cli.core.first() else { return usage("give a core file") };
    if let Some(secs) = cli.timeout {
        deadline::arm(secs, core.clone());
    }
    let r = one_core(cli, core);
    deadline::finished();
    match r {
        Ok(bytes) => match outfile::write(&dest, &bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Err((code, msg)) => {
            eprintln!("goanalyze: {msg}");
            ExitCode::from(code)
        }
    }
}

/// The profile or the report of one core, in memory; an error is (exit status, message).
fn one_core(cli: &Cli, core: &Path) -> Result<Vec<u8>, (u8, String)> {
    let opts = crate::sources::open_options(cli.exe.as_deref(), &cli.exe_dir);
    // The profile walks each goroutine as it writes it; the report groups
    // whole stacks.
    let depth = if cli.retained {
        // Every goroutine's frames are roots.
        Depth::Full
    } else if cli.heap {
        Depth::NotRead
    } else if cli.format == Format::Pprof {
        Depth::None
    } else {
        Depth::Full
    };
    let bar = Bar::new("goroutines");
    let opened = crate::sources::open_core(core, &opts).and_then(|c| Analysis::from_core_progress(c, depth, &bar.callback()));
    bar.finish();
    let a = match opened {
        Ok(a) => a,
        Err(e) if super::executable_not_core(&e) => {
            return Err((
                2,
                format!(
                    "{} is an executable, not a core file; did you mean `goanalyze CORE --exe {}`?",
                    core.display(),
                    core.display()
                ),
            ))
        }
        Err(e) => return Err((1, e.to_string())),
    };
    for w in a.warnings() {
        eprintln!("goanalyze: warning: {w}");
    }
    if cli.retained {
        let r = crate::retained_view::analyze(&a, crate::retained_view::Types::All).map_err(|e| (1, e.to_string()))?;
        for w in &r.warnings {
            eprintln!("goanalyze: warning: {w}");
        }
        let out = crate::retained_view::pprof(&a, &r).map_err(|e| (1, format!("{}: writing the profile: {e}", core.display())))?;
        std::mem::forget(r);
        std::mem::forget(a);
        return Ok(out);
    }
    if cli.heap {
        let heap = analyzer::heap::frame_roots::read_heap(&a).map_err(|e| (1, e.to_string()))?;
        for w in &heap.warnings {
            eprintln!("goanalyze: warning: {w}");
        }
        let out = analyzer::output::pprof::write_heap_profile(&heap.histogram(), Vec::new())
            .map_err(|e| (1, format!("{}: writing the profile: {e}", core.display())))?;
        std::mem::forget(a);
        return Ok(out);
    }
    if a.goroutines.is_empty() {
        return Err((
            1,
            format!(
                "{}: no live goroutines found through runtime.allgs; is {} the executable that wrote this core? (pass the right one with --exe)",
                core.display(),
                a.bin.path.display()
            ),
        ));
    }
    let out = match cli.format {
        Format::Pprof => {
            let bar = Bar::new("goroutines");
            let r = analyzer::output::pprof::write_goroutine_profile(&a, Vec::new(), &bar.callback());
            bar.finish();
            r.map(|(bytes, _stats)| bytes).map_err(|e| (1, format!("{}: writing the profile: {e}", core.display())))?
        }
        _ => {
            let r = triage::from_analysis_with(&a, cli.system);
            if !r.ok() {
                return Err((1, r.errors.join("; ")));
            }
            // The heap's histogram too, when the runtime's heap can be read.
            let hist = match analyzer::heap::frame_roots::read_heap(&a) {
                Ok(h) => {
                    for w in &h.warnings {
                        eprintln!("goanalyze: warning: heap: {w}");
                    }
                    Some(h.histogram())
                }
                Err(e) => {
                    eprintln!("goanalyze: warning: no heap section in the report: {e}");
                    None
                }
            };
            analyzer::output::html::report_with_heap(std::slice::from_ref(&r), hist.as_ref()).into_bytes()
        }
    };
    // The process ends here: freeing every goroutine report would only cost time.
    std::mem::forget(a);
    Ok(out)
}

/// `--format html` over several cores: the triage batch (a child process
/// per core, with every group), then one page.
fn run_batch(cli: &Cli, dest: &Path) -> ExitCode {
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot find my own executable to run the analyses: {e}")),
    };
    let opts = BatchOptions {
        program,
        exe: cli.exe.clone(),
        timeout: Duration::from_secs(cli.timeout_per_core.max(1)),
        jobs: cli.jobs,
        group: true,
        system: cli.system,
        exe_dirs: cli.exe_dir.clone(),
    };
    let bar = Bar::new("cores");
    let records: Mutex<Vec<Option<Record>>> = Mutex::new(vec![None; cli.core.len()]);
    let done = std::sync::atomic::AtomicUsize::new(0);
    batch::batch(&cli.core, &opts, &|i, r| {
        if let Some(slot) = records.lock().unwrap_or_else(|e| e.into_inner()).get_mut(i) {
            *slot = Some(r);
        }
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        bar.update(n, cli.core.len());
    });
    bar.finish();
    let records: Vec<Record> = records
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .zip(&cli.core)
        .map(|(r, c)| r.unwrap_or_else(|| Record::failed(c, "no record".into())))
        .collect();
    let failed = records.iter().filter(|r| !r.ok()).count();
    if let Err(e) = outfile::write(dest, analyzer::output::html::report(&records).as_bytes()) {
        return fail(e);
    }
    if failed > 0 {
        return fail(format!("{failed} of {} cores could not be analysed (the report says why)", cli.core.len()));
    }
    ExitCode::SUCCESS
}

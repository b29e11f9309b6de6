//! The binary's side of `--triage` and `--group` (part of `goanalyze`, not
//! of the `analyzer` lib): running the batch, the progress bar, printing
//! records in the order the cores were given, and the exit status.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use analyzer::analysis::Analysis;
use analyzer::crash::triage::{self, Record};
use indicatif::{ProgressBar, ProgressStyle};

use super::batch::{self, BatchOptions};
use super::{Cli, Format};

fn render(cli: &Cli, r: &Record) -> String {
    match cli.format {
        Format::Json => serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"errors\":[\"{e}\"]}}")) + "\n",
        // (pprof and html never get here: export.rs takes them.)
        Format::Text | Format::Pprof | Format::Html => triage::format_text(r, cli.group) + "\n",
    }
}

fn emit(text: &str) -> std::io::Result<()> {
    super::stdout::write_all(text.as_bytes())
}

pub fn run(cli: &Cli) -> ExitCode {
    if cli.in_process {
        let [core] = cli.core.as_slice() else {
            eprintln!("goanalyze: --in-process takes one core");
            return ExitCode::from(2);
        };
        let opts = super::sources::open_options(cli.exe.as_deref(), &cli.exe_dir);
        let mut r = triage::triage_options(core, &opts, cli.system);
        if !cli.group {
            r.group_details.clear();
        }
        if let Err(e) = emit(&render(cli, &r)) {
            return super::stdout::failed(&e);
        }
        return if r.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("goanalyze: cannot find my own executable to run the analyses: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = BatchOptions {
        program,
        exe: cli.exe.clone(),
        exe_dirs: cli.exe_dir.clone(),
        timeout: Duration::from_secs(cli.timeout_per_core.max(1)),
        jobs: cli.jobs,
        group: cli.group,
        system: cli.system,
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(cli.core.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} cores, {elapsed} {msg}") {
            b.set_style(style);
        }
        b
    } else {
        ProgressBar::hidden()
    };
    // Records are printed in the order the cores were given, each as soon
    // as every earlier one is out.
    struct Out {
        next: usize,
        waiting: BTreeMap<usize, Record>,
        failed: usize,
    }
    let out = Mutex::new(Out { next: 0, waiting: BTreeMap::new(), failed: 0 });
    batch::batch(&cli.core, &opts, &|i, r| {
        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
        if !r.ok() {
            o.failed += 1;
            bar.set_message(format!("{} failed", o.failed));
        }
        o.waiting.insert(i, r);
        loop {
            let n = o.next;
            let Some(r) = o.waiting.remove(&n) else { break };
            // The records are the result: one that cannot be written ends
            // the batch (and, through their closed pipes, its children).
            if let Err(e) = bar.suspend(|| emit(&render(cli, &r))) {
                super::stdout::exit_failed(&e);
            }
            o.next += 1;
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    let failed = out.into_inner().map(|o| o.failed).unwrap_or(1);
    if failed > 0 {
        eprintln!("goanalyze: {failed} of {} cores could not be analysed", cli.core.len());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `--group` on one core; system goroutines as `--system` says.
pub fn groups(a: &Analysis, json: bool, system: bool) -> anyhow::Result<String> {
    use analyzer::crash::group;
    let reason = analyzer::crash::reason::analyze(a);
    let crashing = reason.crashing_goroutine.and_then(|_| analyzer::crash::reason::crashing_report(a, &reason));
    let buckets = group::group(a, system, crashing.as_ref());
    let hidden = group::hidden(a, system, crashing.as_ref());
    if json {
        let doc = group::GroupsDoc {
            schema: "goanalyze.groups",
            version: analyzer::output::json::SCHEMA_VERSION,
            minor: analyzer::output::json::SCHEMA_MINOR,
            goroutine_count: buckets.iter().map(|b| b.count).sum(),
            system_hidden: hidden,
            groups: &buckets,
        };
        return Ok(serde_json::to_string_pretty(&doc)? + "\n");
    }
    Ok(group::format(&buckets, hidden))
}

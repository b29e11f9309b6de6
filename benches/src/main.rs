//! The benchmark harness: makes its workloads from the Go fixtures with the
//! same producers the tests use, runs goanalyze/godump and the peers (Delve,
//! gdb's gcore) on them side by side, and prints a Markdown table of medians
//! for docs/BENCHMARKS.md.
//!
//!     cargo run --release -p bench                 # the full workloads (minutes, GiBs of disk)
//!     cargo run --release -p bench -- --smoke      # tiny workloads: checks the harness runs
//!     cargo run --release -p bench -- --only nats  # nats-server under load, SIGQUIT cores vs its traceback
//!     cargo run --release -p bench -- --only heap  # --heap on 11 million objects vs viewcore and goref
//!
//! Figures are whole-process: wall time and peak RSS from wait4(2), median
//! of `--runs` runs after one warm-up.

mod heap;
mod measure;
mod nats;
mod pause;
mod workloads;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmarks of goanalyze and godump against Delve and gdb's gcore")]
pub struct Args {
    /// Tiny workloads, one run each: proves the harness works, measures nothing.
    #[arg(long)]
    pub smoke: bool,
    /// Counted runs per command (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Only these workloads (analyze, dump, info, triage, pause, nats, heap);
    /// default all but nats, which builds nats-server from the module proxy,
    /// and heap, whose peers are built by hand (see benches/src/heap.rs).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// SIGQUIT-made cores of nats-server under load, for `--only nats`.
    #[arg(long, default_value_t = 10)]
    pub nats_runs: usize,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.runs = 1;
    }
    let want = |w: &str| args.only.is_empty() || args.only.iter().any(|o| o == w);
    println!("{}", measure::machine_line());
    if want("analyze") {
        workloads::analyze(&args)?;
    }
    if want("info") {
        workloads::info(&args)?;
    }
    if want("dump") {
        workloads::dump(&args)?;
    }
    if want("pause") {
        pause::run(&args)?;
    }
    if want("triage") {
        workloads::triage(&args)?;
    }
    if args.only.iter().any(|o| o == "heap") {
        heap::run_heap(&args)?;
    }
    if args.only.iter().any(|o| o == "nats") {
        nats::run(&args)?;
    }
    Ok(())
}

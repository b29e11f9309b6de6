//! `--format pprof` and `--format html` against the real components:
//!
//! - the goroutine profile, read back by `go tool pprof -traces`, agrees
//!   sample for sample (stack, labels, count) with the profile the fixture
//!   wrote itself through runtime/pprof just before it crashed (except the
//!   main goroutine, which wrote that profile and then went on to panic),
//!   and stack for stack with the runtime's own GOTRACEBACK=crash traceback;
//!   on every toolchain of the matrix (label layouts and profile depths
//!   differ between Go versions);
//! - the HTML report, loaded by headless Chromium: the DOM it builds has the
//!   goroutine groups the runtime's traceback has (counts and statuses), the
//!   panic message the runtime printed, as text (the fixture's panic value,
//!   a label and a function name carry markup), and a screenshot is kept
//!   under target/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tests::bins::goanalyze;
use tests::fixture::{Build, OLDER_TOOLCHAINS};
use tests::producers::{self, MadeCore};
use tests::tools::{in_ci, require};
use tests::traceback::{self, Traceback};

/// The fixture's core, its executable, and the profile it wrote itself.
struct Made {
    made: MadeCore,
    exe: PathBuf,
    go_minor: u32,
}

impl Made {
    fn own_profile(&self) -> PathBuf {
        self.made.dir.path().join("self.pb.gz")
    }
}

fn have_go() -> bool {
    if Command::new("go").arg("version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(!in_ci(), "go is required to build the fixtures but is not installed");
    eprintln!("\n!!! SKIPPED: go is not installed !!!\n");
    false
}

fn make(toolchain: Option<&str>) -> Made {
    let mut b = Build::new("profiled");
    if let Some(t) = toolchain {
        b = b.toolchain(t);
    }
    let fx = b.build().unwrap_or_else(|e| panic!("building {}: {e:#}", b.label()));
    let made = producers::kernel_core(&fx.exe, &["self.pb.gz"]).unwrap_or_else(|e| panic!("{}: {e:#}", b.label()));
    let go_minor = fx.go_version.strip_prefix("go1.").and_then(|r| r.split('.').next()).and_then(|m| m.parse().ok()).unwrap_or(0);
    Made { made, exe: fx.exe, go_minor }
}

/// The core of the machine's own toolchain, made once for every test here.
fn local() -> &'static Made {
    static M: OnceLock<Made> = OnceLock::new();
    M.get_or_init(|| make(None))
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(goanalyze()).args(args).output().expect("running goanalyze")
}

fn our_profile(m: &Made, out: &Path) {
    let o = run(&[
        m.made.core.as_os_str(),
        "--exe".as_ref(),
        m.exe.as_os_str(),
        "--goroutines".as_ref(),
        "--format".as_ref(),
        "pprof".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "goanalyze --format pprof failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// One sample of `go tool pprof -traces`: its labels (sorted `key:value`)
/// and its frames, innermost first.
type Stack = (Vec<String>, Vec<String>);

/// `go tool pprof -traces FILE`, as stack -> goroutine count.
fn pprof_traces(file: &Path) -> BTreeMap<Stack, u64> {
    let out = Command::new("go").args(["tool", "pprof", "-traces"]).arg(file).output().expect("running go tool pprof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "go tool pprof -traces {} failed: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let mut samples = BTreeMap::new();
    for block in text.split("-----------+-------------------------------------------------------").skip(1) {
        let (mut labels, mut frames, mut count) = (Vec::new(), Vec::new(), None::<u64>);
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            let t = line.trim();
            if count.is_none() {
                let mut w = t.splitn(2, char::is_whitespace);
                match (w.next().and_then(|n| n.parse().ok()), w.next()) {
                    (Some(n), Some(f)) => {
                        count = Some(n);
                        frames.push(f.trim().to_string());
                    }
                    _ => {
                        let (k, v) = t.split_once(':').unwrap_or_else(|| panic!("not a label line: {t:?}"));
                        labels.push(format!("{}:{}", k.trim(), v.trim()));
                    }
                }
            } else {
                frames.push(t.to_string());
            }
        }
        let Some(n) = count else { continue };
        labels.sort();
        *samples.entry((labels, frames)).or_insert(0) += n;
    }
    assert!(!samples.is_empty(), "no samples in go tool pprof -traces {}:\n{text}", file.display());
    samples
}

/// A function name as both sides can agree on it: generic type arguments
/// as `[...]` (pprof prints symbol names, the traceback shapes), `panic` as
/// the function it is, no `(inline)` mark.
fn norm(name: &str) -> String {
    let name = name.strip_suffix(" (inline)").unwrap_or(name);
    if name == "panic" {
        return "runtime.gopanic".into();
    }
    match (name.find('['), name.rfind(']')) {
        (Some(i), Some(j)) if i < j => format!("{}[...]{}", &name[..i], &name[j + 1..]),
        _ => name.to_string(),
    }
}

/// Stacks (frames only) -> counts, for the samples whose frames pass `keep`.
fn by_frames(samples: &BTreeMap<Stack, u64>, keep: impl Fn(&[String]) -> bool) -> BTreeMap<Vec<String>, u64> {
    let mut m = BTreeMap::new();
    for ((_, frames), n) in samples {
        if keep(frames) {
            *m.entry(frames.iter().map(|f| norm(f)).collect()).or_insert(0) += n;
        }
    }
    m
}

/// What runtime/pprof records of a traceback goroutine: its first `depth`
/// logical frames (runtime.goexit counted, then dropped). The traceback
/// elides the middle of deep stacks; there this fixture's frames are the
/// recursion, the same function on both sides of the gap.
fn profile_frames(g: &traceback::Goroutine, depth: usize) -> Vec<String> {
    let mut names: Vec<String> = g.frames.iter().map(|f| norm(&f.func)).collect();
    if let Some((n, at)) = g.elided {
        let before = names.get(at.wrapping_sub(1)).cloned().unwrap_or_default();
        assert_eq!(Some(&before), names.get(at), "goroutine {}: the elided frames are not one recursion", g.id);
        names.splice(at..at, std::iter::repeat(before).take(n as usize));
    }
    names.truncate(depth);
    names.retain(|n| n != "runtime.goexit");
    names
}

fn is_user(frames: &[String]) -> bool {
    frames.iter().any(|f| f.starts_with("main."))
}

fn check_profile(m: &Made, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ours_file = dir.path().join("ours.pb.gz");
    our_profile(m, &ours_file);
    let ours = pprof_traces(&ours_file);
    let theirs = pprof_traces(&m.own_profile());

    // 1. The runtime's own profile, sample for sample (labels included),
    // but for the main goroutine: it wrote that profile (in theirs) and
    // then panicked (in ours).
    let main = |s: &Stack| s.1.iter().any(|f| f == "main.main");
    let strip = |p: &BTreeMap<Stack, u64>| -> BTreeMap<Stack, u64> {
        p.iter().filter(|(s, _)| !main(s)).map(|(s, n)| (s.clone(), *n)).collect()
    };
    assert_eq!(strip(&ours), strip(&theirs), "{label}: our profile differs from the one the process wrote");
    assert_eq!(ours.iter().filter(|(s, _)| main(s)).map(|(_, n)| n).sum::<u64>(), 1, "{label}: one main goroutine");
    // The labels pprof.Do set, on the goroutines that ran under them.
    let labelled = |want: &[&str]| -> u64 {
        ours.iter().filter(|((l, _), _)| l.iter().map(String::as_str).eq(want.iter().copied())).map(|(_, n)| n).sum()
    };
    assert_eq!(labelled(&["kind:batch", "tenant:a"]), 25, "{label}: {ours:#?}");
    assert_eq!(labelled(&["tenant:<script>alert(\"b\")</script>"]), 10, "{label}: {ours:#?}");

    // 2. The runtime's traceback, stack for stack: every goroutine of the
    // program (the system goroutines are in neither profile).
    let tb: Traceback = traceback::parse(&m.made.stderr);
    let depth = if m.go_minor < 23 { 32 } else { 128 };
    let mut want: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for g in tb.unique() {
        let f = profile_frames(g, depth);
        if is_user(&f) {
            *want.entry(f).or_insert(0) += 1;
        }
    }
    let got = by_frames(&ours, is_user);
    assert_eq!(got, want, "{label}: our profile's stacks differ from the runtime's traceback");
    assert_eq!(ours.values().sum::<u64>(), want.values().sum::<u64>(), "{label}: goroutines outside main's");
    assert_eq!(want.values().sum::<u64>(), 87, "{label}: the fixture's goroutines, main included");
}

#[test]
fn goroutine_profile_agrees_with_the_runtimes_own() {
    if !have_go() || require("go", "go tool pprof reads the profiles").is_none() {
        return;
    }
    check_profile(local(), "go(PATH)");
}

/// Go 1.21..1.27: label maps (before 1.24) and sets, and the profile's
/// depth (32 before 1.23, 128 from then on).
#[test]
fn goroutine_profile_on_every_toolchain() {
    if !have_go() {
        return;
    }
    let mut failures = Vec::new();
    for t in OLDER_TOOLCHAINS {
        let m = make(Some(t));
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_profile(&m, t))) {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            failures.push(format!("{t}: {}", msg.unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn pprof_needs_goroutines_and_a_file_that_is_not_a_terminal() {
    let m = local();
    let o = run(&[m.made.core.as_os_str(), "--format".as_ref(), "pprof".as_ref()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[m.made.core.as_os_str(), "--stacks".as_ref(), "-o".as_ref(), "x".as_ref()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    // A write that fails is a failure, and names the file.
    let o = run(&[
        m.made.core.as_os_str(),
        "--exe".as_ref(),
        m.exe.as_os_str(),
        "--goroutines".as_ref(),
        "--format=pprof".as_ref(),
        "-o".as_ref(),
        "/dev/full".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/full"));
    // Standard output that is a file (not a terminal) takes the profile.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("stdout.pb.gz");
    let st = Command::new(goanalyze())
        .arg(&m.made.core)
        .arg("--exe")
        .arg(&m.exe)
        .args(["--goroutines", "--format", "pprof"])
        .stdout(std::fs::File::create(&f).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(&std::fs::read(&f).unwrap()[..2], &[0x1f, 0x8b]);
}

fn chromium() -> Option<PathBuf> {
    require("chromium", "the HTML report is checked in a real browser (Debian package chromium)")
}

/// Chromium's `--dump-dom` of a file: the DOM it built, serialized.
fn dump_dom(chromium: &Path, page: &Path) -> String {
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(out.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot(chromium: &Path, page: &Path, png: &Path) {
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1600"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(out.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    let b = std::fs::read(png).expect("the screenshot");
    assert!(b.starts_with(b"\x89PNG") && b.len() > 10_000, "a screenshot of {} bytes", b.len());
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The value of `attr` in each element that opens with `open` in `dom`.
fn attrs(dom: &str, open: &str, attr: &str) -> Vec<String> {
    dom.match_indices(open)
        .filter_map(|(i, _)| {
            let tag = &dom[i..i + dom[i..].find('>')?];
            let k = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
            Some(unescape(&tag[k..k + tag[k..].find('"')?]))
        })
        .collect()
}

/// The text inside the first element that opens with `open`.
fn text_of(dom: &str, open: &str, close: &str) -> Option<String> {
    let i = dom.find(open)?;
    let body = &dom[i + dom[i..].find('>')? + 1..];
    Some(unescape(&body[..body.find(close)?]))
}

fn artifacts() -> PathBuf {
    let d = tests::workspace_root().join("target/html-report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn html_report_in_a_real_browser() {
    if !have_go() {
        return;
    }
    let Some(chromium) = chromium() else { return };
    let m = local();
    let page = artifacts().join("profiled.html");
    let o = run(&[
        m.made.core.as_os_str(),
        "--exe".as_ref(),
        m.exe.as_os_str(),
        "--format".as_ref(),
        "html".as_ref(),
        "-o".as_ref(),
        page.as_os_str(),
    ]);
    assert!(o.status.success(), "goanalyze --format html failed: {}", String::from_utf8_lossy(&o.stderr));
    let dom = dump_dom(&chromium, &page);

    // Nothing from the core became markup: no script element, no <b>.
    assert!(!dom.contains("<script") && !dom.contains("<b>&"), "markup from the core in the DOM");
    // The crash reason, as the runtime printed it.
    let tb_text = &m.made.stderr;
    let runtime_first = tb_text.lines().next().unwrap();
    assert_eq!(runtime_first, "panic: profiled: <script>alert('x')</script> & done");
    let message = text_of(&dom, "<pre class=\"message\"", "</pre>").expect("a message in the page");
    assert_eq!(message.lines().next(), Some(runtime_first), "{message}");
    assert_eq!(attrs(&dom, "<td class=\"reason\"", "data-kind"), ["panic"]);
    // The generic function's full name (its struct tag is markup) on hover.
    assert!(
        attrs(&dom, "<td class=\"func\"", "title").iter().any(|t| t.contains("\"<b>&'x'</b>\"")),
        "no hostile title attribute in the DOM"
    );

    // The groups: the runtime's traceback, grouped by status, frames and
    // creator, has the same counts and statuses.
    let tb = traceback::parse(tb_text);
    let mut oracle: BTreeMap<(String, Vec<(String, String, u32)>, Option<u64>, Option<String>), u64> = BTreeMap::new();
    for g in tb.unique() {
        let frames = g.frames.iter().map(|f| (f.func.clone(), f.file.clone(), f.line)).collect();
        let key = (g.status.clone(), frames, g.elided.map(|e| e.0), g.created_by.as_ref().map(|c| c.func.clone()));
        *oracle.entry(key).or_insert(0) += 1;
    }
    let mut want: Vec<(u64, String)> = oracle.iter().map(|(k, n)| (*n, k.0.clone())).collect();
    let counts = attrs(&dom, "<details class=\"group", "data-count");
    let statuses = attrs(&dom, "<details class=\"group", "data-status");
    let mut got: Vec<(u64, String)> = counts.iter().map(|c| c.parse().unwrap()).zip(statuses).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "groups in the page vs the runtime's traceback");
    let title = attrs(&dom, "<h3 class=\"groups-title\"", "data-goroutines");
    assert_eq!(title, [tb.unique().len().to_string()]);

    // The heap section: the same types and counts as --heap.
    let o = run(&[m.made.core.as_os_str(), "--exe".as_ref(), m.exe.as_os_str(), "--heap".as_ref(), "--top".as_ref(), "0".as_ref(), "--format".as_ref(), "json".as_ref()]);
    assert!(o.status.success(), "goanalyze --heap failed: {}", String::from_utf8_lossy(&o.stderr));
    let heap: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let want: Vec<(String, String)> = heap["types"]
        .as_array()
        .unwrap()
        .iter()
        .take(100)
        .map(|r| (r["type"].as_str().unwrap().to_string(), r["objects"].to_string()))
        .collect();
    let got: Vec<(String, String)> =
        attrs(&dom, "<tr class=\"heap-row\"", "data-type").into_iter().zip(attrs(&dom, "<tr class=\"heap-row\"", "data-objects")).collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "the page's heap table vs --heap");
    assert_eq!(attrs(&dom, "<p class=\"heap-summary\"", "data-objects"), [heap["summary"]["objects"].to_string()]);

    screenshot(&chromium, &page, &artifacts().join("profiled.png"));
}

#[test]
fn html_report_of_a_triage_batch() {
    if !have_go() {
        return;
    }
    let Some(chromium) = chromium() else { return };
    let m = local();
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("not-a-core");
    std::fs::write(&bogus, b"<html>not a core</html>").unwrap();
    let page = artifacts().join("batch.html");
    let o = run(&[
        m.made.core.as_os_str(),
        m.made.core.as_os_str(),
        bogus.as_os_str(),
        "--exe".as_ref(),
        m.exe.as_os_str(),
        "--format".as_ref(),
        "html".as_ref(),
        "-o".as_ref(),
        page.as_os_str(),
    ]);
    // One core failed: the report says so, and so does the status.
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = dump_dom(&chromium, &page);
    assert_eq!(attrs(&dom, "<p class=\"totals\"", "data-cores"), ["3"]);
    assert_eq!(attrs(&dom, "<p class=\"totals\"", "data-failed"), ["1"]);
    assert_eq!(attrs(&dom, "<tr class=\"signature\"", "data-cores"), ["2"], "the same core twice: one signature");
    assert_eq!(attrs(&dom, "<section class=\"core\"", "data-ok"), ["true", "true", "false"]);
    assert!(!dom.contains("<html>not"), "the bogus core's bytes are not markup");
    screenshot(&chromium, &page, &artifacts().join("batch.png"));
}

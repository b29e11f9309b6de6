//! Finding the executable, and cores from where Linux fleets keep them.
//!
//! - godump notices a target whose executable was deleted or replaced
//!   since it started, saves the running one as `OUT.exe`, and goanalyze
//!   picks that up by itself (checked by build id); without it, goanalyze's
//!   "not found" names every place it looked.
//! - `--exe-dir DIR` finds the executable by build id; a real `debuginfod`
//!   server (elfutils), started by the test inside a network namespace that
//!   has only loopback, serves it by the GNU build id that goanalyze reads
//!   from the core's copy of the executable's first page (a Go binary
//!   linked with `-B gobuildid`: Go's PT_NOTE does not cover that note).
//! - A core named and compressed as systemd-coredump stores it, read as a
//!   file and from standard input (`zstd -dc CORE | goanalyze -`); the ELF
//!   package metadata note (`.note.package`) shown by `--info`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tests::bins::{goanalyze, godump};
use tests::fixture::{Build, Fixture};
use tests::producers::{self, LiveProcess};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn zoo() -> Fixture {
    Build::new("zoo").build().unwrap_or_else(|e| panic!("building the zoo fixture: {e:#}"))
}

fn analyze(args: &[&std::ffi::OsStr], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(goanalyze());
    c.args(args).stdin(Stdio::null()).env_remove("DEBUGINFOD_URLS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("running goanalyze")
}

/// The zoo fixture linked with extra `ldflags`, cached beside the other
/// fixtures (the fixture builder has no ldflags knob).
fn zoo_linked(tag: &str, ldflags: &str) -> PathBuf {
    let fx = zoo();
    let dir = tests::cache_dir().join(format!("eco-{tag}-{}", fx.go_version));
    let exe = dir.join("zoo");
    if exe.is_file() {
        return exe;
    }
    std::fs::create_dir_all(tests::cache_dir()).unwrap();
    let tmp = tempfile::Builder::new().prefix("eco-build").tempdir_in(tests::cache_dir()).unwrap();
    let out = Command::new("go")
        .current_dir(tests::fixture::source_root())
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-o"])
        .arg(tmp.path().join("zoo"))
        .arg(format!("-ldflags={ldflags}"))
        .arg("./zoo")
        .output()
        .expect("running go build");
    assert!(out.status.success(), "go build -ldflags={ldflags}: {}", text(&out.stderr));
    let kept = tmp.keep();
    if std::fs::rename(&kept, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&kept);
    }
    exe
}

/// A kernel core of `exe` (zoo, crash mode) run from a copy that is then
/// deleted: the core names a path that no longer exists. Returns the
/// directory holding the core and the core.
fn core_of_vanished_copy(exe: &Path) -> (producers::MadeCore, PathBuf) {
    let run = tempfile::tempdir().unwrap();
    let copy = run.path().join("zoo-gone");
    std::fs::copy(exe, &copy).unwrap();
    let made = producers::kernel_core(&copy, &["crash"]).unwrap_or_else(|e| panic!("kernel core: {e:#}"));
    drop(run);
    assert!(!copy.exists());
    (made, copy)
}

fn create(pid: u32, out: &Path, extra: &[&str]) -> Output {
    Command::new(godump())
        .args(["create", "--quiet"])
        .args(extra)
        .arg(pid.to_string())
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .output()
        .expect("running godump")
}

/// The `executable:` line of `--info`.
fn exe_line(info: &str) -> &str {
    info.lines().find(|l| l.starts_with("executable:")).unwrap_or("")
}

/// A deploy deletes the executable of a running server: godump says so,
/// saves the running one as OUT.exe, goanalyze uses it without being told;
/// without it goanalyze names every place it looked. A stream destination
/// saves nothing unless --exe-out names a file.
#[test]
fn a_deleted_executable_is_saved_beside_the_core_and_found() {
    let fx = zoo();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let exe = bin.join("server");
    std::fs::copy(&fx.exe, &exe).unwrap();
    let live = LiveProcess::start(&exe, &["wait"]).unwrap();
    std::fs::remove_file(&exe).unwrap();

    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let core = out_dir.join("app.core");
    let r = create(live.pid, &core, &[]);
    let err = text(&r.stderr);
    assert!(r.status.success(), "{err}");
    assert!(err.contains("was deleted after the process started"), "{err}");
    let saved = out_dir.join("app.core.exe");
    assert!(err.contains(&format!("as {}", saved.display())), "{err}");
    assert_eq!(std::fs::read(&saved).unwrap(), std::fs::read(&fx.exe).unwrap(), "OUT.exe is not the running executable");

    let info = analyze(&[core.as_os_str(), "--info".as_ref()], &[]);
    let istdout = text(&info.stdout);
    assert!(info.status.success(), "{}", text(&info.stderr));
    assert!(exe_line(&istdout).contains(&saved.display().to_string()), "{istdout}");
    assert!(!text(&info.stderr).contains("warning: executable"), "{}", text(&info.stderr));
    let g = analyze(&[core.as_os_str(), "--goroutines".as_ref()], &[]);
    assert!(g.status.success() && text(&g.stdout).contains("main.recurse"), "{}", text(&g.stderr));

    // Without OUT.exe: the error lists every place looked.
    std::fs::remove_file(&saved).unwrap();
    let g = analyze(&[core.as_os_str(), "--goroutines".as_ref()], &[]);
    let gerr = text(&g.stderr);
    assert!(!g.status.success(), "{gerr}");
    for place in [saved.clone(), exe.clone(), out_dir.join("server")] {
        assert!(gerr.contains(&place.display().to_string()), "{} not named in: {gerr}", place.display());
    }

    // A stream: nothing beside it, and it says how to keep the executable.
    let r = create(live.pid, Path::new("-"), &[]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("--exe-out"), "{}", text(&r.stderr));
    let named = dir.path().join("kept.exe");
    let r = Command::new(godump())
        .args(["create", "--quiet", "--exe-out"])
        .arg(&named)
        .arg(live.pid.to_string())
        .arg("-")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(std::fs::read(&named).unwrap(), std::fs::read(&fx.exe).unwrap());
}

/// A deploy renames a new build over the running one: godump tells them
/// apart by build id and saves the running one; goanalyze prefers OUT.exe
/// (it matches the core) to the new file at the recorded path.
#[test]
fn a_replaced_executable_is_told_by_build_id() {
    let fx = zoo();
    let newer = Build::new("zoo").stripped().build().unwrap_or_else(|e| panic!("stripped zoo: {e:#}"));
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("server");
    std::fs::copy(&fx.exe, &exe).unwrap();
    let live = LiveProcess::start(&exe, &["wait"]).unwrap();
    let staged = dir.path().join("server.new");
    std::fs::copy(&newer.exe, &staged).unwrap();
    std::fs::rename(&staged, &exe).unwrap();

    let core = dir.path().join("app.core");
    let r = create(live.pid, &core, &[]);
    let err = text(&r.stderr);
    assert!(r.status.success(), "{err}");
    // Both builds carry a GNU build id (recent Go links one in): that is compared first.
    assert!(err.contains("was replaced: GNU build id") || err.contains("was replaced: Go build id"), "{err}");
    let saved = dir.path().join("app.core.exe");
    assert_eq!(std::fs::read(&saved).unwrap(), std::fs::read(&fx.exe).unwrap());
    let info = analyze(&[core.as_os_str(), "--info".as_ref()], &[]);
    assert!(info.status.success(), "{}", text(&info.stderr));
    assert!(exe_line(&text(&info.stdout)).contains("app.core.exe"), "{}", text(&info.stdout));

    // The running build installed again (a new inode, the same build id) is no change.
    let again = dir.path().join("server.again");
    std::fs::copy(&fx.exe, &again).unwrap();
    std::fs::rename(&again, &exe).unwrap();
    let r = create(live.pid, &dir.path().join("c.core"), &[]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(!text(&r.stderr).contains("warning"), "a reinstall of the same build is no change: {}", text(&r.stderr));
    assert!(!dir.path().join("c.core.exe").exists());
}

/// `--exe-dir` finds a renamed copy of the executable by build id; the
/// binary's ELF package metadata note shows in `--info`.
#[test]
fn exe_dir_finds_the_executable_by_build_id_and_info_shows_the_package_note() {
    let pkg = r#"{"type":"deb","name":"zoo","version":"1.2.3"}"#;
    let exe = zoo_linked("pkgnote", &format!("-linkmode=external -extldflags '-Xlinker --package-metadata={pkg}'"));
    let (made, gone) = core_of_vanished_copy(&exe);
    let core = made.core.as_os_str();

    // Without it: --info still works (not_go.rs) and says where it looked.
    let without = analyze(&[core, "--info".as_ref()], &[]);
    assert!(text(&without.stdout).contains("go:          unknown: the executable was not found"), "{}", text(&without.stdout));
    assert!(text(&without.stdout).contains(&gone.display().to_string()), "{}", text(&without.stdout));

    let shelf = tempfile::tempdir().unwrap();
    std::fs::write(shelf.path().join("a-text-file"), "not ELF").unwrap();
    std::fs::copy(zoo().exe, shelf.path().join("another-build")).unwrap();
    std::fs::create_dir(shelf.path().join("v1.2.3")).unwrap();
    let copy = shelf.path().join("v1.2.3").join("renamed");
    std::fs::copy(&exe, &copy).unwrap();
    let info = analyze(&[core, "--exe-dir".as_ref(), shelf.path().as_os_str(), "--info".as_ref()], &[]);
    let out = text(&info.stdout);
    assert!(info.status.success(), "{}", text(&info.stderr));
    assert!(exe_line(&out).contains(&copy.display().to_string()), "{out}");
    assert!(out.contains(&format!("package:     {pkg}\n")), "{out}");
    let st = analyze(&[core, "--exe-dir".as_ref(), shelf.path().as_os_str(), "--stacks".as_ref()], &[]);
    assert!(st.status.success() && text(&st.stdout).contains("goroutine "), "{}", text(&st.stderr));
}

/// A real debuginfod (elfutils) serves a directory; goanalyze fetches the
/// executable by the GNU build id in the core's copy of the first page of a
/// `-B gobuildid` Go binary, caches it, and uses the cache once the server
/// is gone. Server and client run in a network namespace of their own with
/// only loopback (debuginfod cannot be told to listen on loopback only).
#[test]
fn debuginfod_serves_the_executable_by_gnu_build_id() {
    let tools = tests::require_tools!(
        "debuginfod" => "serving executables by build id (Debian package debuginfod)",
        "unshare" => "a network namespace for the server",
        "ip" => "bringing loopback up in it",
    );
    let (debuginfod, unshare, ip) = (&tools[0], &tools[1], &tools[2]);
    if !nix_is_root() {
        assert!(!tests::tools::in_ci(), "CI runs as root; unshare -n needs it");
        eprintln!("\n!!! SKIPPED: unshare -n needs root !!!\n");
        return;
    }
    let exe = zoo_linked("gobuildid", "-B gobuildid");
    let readelf = Command::new("readelf").arg("-lW").arg(&exe).output().unwrap();
    assert!(text(&readelf.stdout).contains("NOTE"), "no PT_NOTE?");
    let (made, _gone) = core_of_vanished_copy(&exe);
    let work = tempfile::tempdir().unwrap();
    let served = work.path().join("served");
    std::fs::create_dir(&served).unwrap();
    std::fs::copy(&exe, served.join("zoo-build")).unwrap();
    let cache = work.path().join("cache");
    let script = r#"
set -u
"$IP" link set lo up
"$DEBUGINFOD" -F "$SERVED" -p 8002 -d "$WORK/db.sqlite" >"$WORK/server.log" 2>&1 &
srv=$!
export DEBUGINFOD_URLS=http://127.0.0.1:8002
ok=1
for i in $(seq 1 150); do
  # --info works without the executable too: done when it names the cached copy.
  XDG_CACHE_HOME="$CACHE" "$GOANALYZE" "$CORE" --info >"$WORK/info1" 2>"$WORK/err1"
  if grep -q "^executable:  $CACHE/" "$WORK/info1"; then ok=0; break; fi
  sleep 0.2
done
kill $srv; wait $srv 2>/dev/null
[ $ok = 0 ] || { echo "never served:"; cat "$WORK/err1" "$WORK/server.log"; exit 1; }
# The server is gone: the cache answers.
XDG_CACHE_HOME="$CACHE" "$GOANALYZE" "$CORE" --stacks >"$WORK/stacks2" 2>"$WORK/err2" || { cat "$WORK/err2"; exit 1; }
"#;
    let r = Command::new(unshare)
        .args(["-n", "sh", "-c", script])
        .env("IP", ip)
        .env("DEBUGINFOD", debuginfod)
        .env("SERVED", &served)
        .env("WORK", work.path())
        .env("CACHE", &cache)
        .env("GOANALYZE", goanalyze())
        .env("CORE", &made.core)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}{}", text(&r.stdout), text(&r.stderr));
    let info = std::fs::read_to_string(work.path().join("info1")).unwrap();
    let gnu = core_reader::build_ids(&std::fs::read(&exe).unwrap()).unwrap().gnu_hex().expect("a GNU build id");
    let cached = cache.join("goanalyze/debuginfod").join(&gnu).join("executable");
    assert!(exe_line(&info).contains(&cached.display().to_string()), "{info}");
    assert_eq!(std::fs::read(&cached).unwrap(), std::fs::read(&exe).unwrap());
    let err1 = std::fs::read_to_string(work.path().join("err1")).unwrap();
    assert!(err1.contains(&format!("/buildid/{gnu}/executable")), "{err1}");
    let stacks = std::fs::read_to_string(work.path().join("stacks2")).unwrap();
    assert!(stacks.contains("main.recurse"), "{stacks}");
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| text(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A kernel core compressed and named as systemd-coredump stores it
/// (`core.COMM.UID.BOOTID.PID.TIME.zst`): read as a file, its name's fields
/// in `--info`; and from standard input, as `coredumpctl dump PID |
/// goanalyze -` gives it, with the same stacks.
#[test]
fn a_systemd_coredump_core_as_a_file_and_from_standard_input() {
    let tools = tests::require_tools!("zstd" => "compressing the core as systemd does");
    let zstd = &tools[0];
    let fx = zoo();
    let made = producers::kernel_core(&fx.exe, &["crash"]).unwrap_or_else(|e| panic!("kernel core: {e:#}"));
    let info = analyze(&[made.core.as_os_str(), "--info".as_ref()], &[]);
    let info = text(&info.stdout);
    let pid: u64 = info.lines().find_map(|l| l.strip_prefix("pid:")).unwrap().trim().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join(format!("core.zoo.0.0123456789abcdef0123456789abcdef.{pid}.1764590000123456.zst"));
    let st = Command::new(zstd).args(["-q", "-o"]).arg(&name).arg(&made.core).status().unwrap();
    assert!(st.success());

    let info = analyze(&[name.as_os_str(), "--info".as_ref()], &[]);
    let out = text(&info.stdout);
    assert!(info.status.success(), "{}", text(&info.stderr));
    assert!(
        out.contains(&format!(
            "systemd:     comm=zoo uid=0 pid={pid} boot=0123456789abcdef0123456789abcdef time=2025-12-01 11:53:20 UTC\n"
        )),
        "{out}"
    );
    let want = analyze(&[made.core.as_os_str(), "--stacks".as_ref()], &[]);
    assert!(want.status.success());
    let piped = Command::new("sh")
        .args(["-c", "\"$ZSTD\" -dc \"$CORE\" | \"$GOANALYZE\" - --stacks"])
        .env("ZSTD", zstd)
        .env("CORE", &name)
        .env("GOANALYZE", goanalyze())
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert_eq!(text(&piped.stdout), text(&want.stdout), "stacks from standard input differ");
    // Compressed bytes on standard input are recognised too.
    let raw = Command::new(goanalyze())
        .args(["-", "--goroutines"])
        .stdin(std::fs::File::open(&name).unwrap())
        .output()
        .unwrap();
    assert!(raw.status.success() && !raw.stdout.is_empty(), "{}", text(&raw.stderr));
}

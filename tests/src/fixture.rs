//! Building the Go fixture programs of `testdata/go/<name>/` at test time.
//!
//! Builds are cached under `target/fixture-cache/`, keyed by the fixture's
//! source, the Go toolchain version and every flag, so a test run rebuilds
//! only what changed. Toolchains other than the `go` on PATH come through
//! `GOTOOLCHAIN=go1.2x.y`, which the go command fetches from the module proxy.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cache_dir, workspace_root};

/// The toolchain for Windows fixtures run under wine: from go1.21.x patch
/// releases on, the runtime needs `ProcessPrng` from bcryptprimitives.dll,
/// which Debian 12's wine 8.0 lacks.
pub const WINE_TOOLCHAIN: &str = "go1.21.0";

/// Toolchains the compatibility matrix tries besides the machine's own:
/// older ones, and go1.27 (newer than the machine's go1.26).
pub const OLDER_TOOLCHAINS: &[&str] = &[
    "go1.21.13",
    "go1.22.12",
    "go1.23.12",
    "go1.24.11",
    "go1.25.5",
    "go1.27.3",
];

/// How to build one fixture.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Build {
    pub name: String,
    /// `GOTOOLCHAIN` value (`go1.22.12`); `None` for the `go` on PATH as it is.
    pub toolchain: Option<String>,
    /// `-ldflags=-s -w`: no symbol table, no DWARF.
    pub stripped: bool,
    /// `-buildmode=pie`.
    pub pie: bool,
    pub goarch: String,
    pub goos: String,
    /// `-gcflags=...` (`all=-N -l` for a debug build).
    pub gcflags: GcFlags,
}

/// Compiler flags; hashes to nothing when unset, so adding the field kept
/// every other fixture's cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcFlags(pub Option<String>);

impl Hash for GcFlags {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if let Some(f) = &self.0 {
            f.hash(h);
        }
    }
}

/// A built fixture executable.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub exe: PathBuf,
    /// `go1.26.8` and the like, as the toolchain reports it.
    pub go_version: String,
    pub build: Build,
}

impl Build {
    pub fn new(name: &str) -> Build {
        Build {
            name: name.to_string(),
            toolchain: None,
            stripped: false,
            pie: false,
            goarch: "amd64".into(),
            goos: "linux".into(),
            gcflags: GcFlags(None),
        }
    }
    pub fn toolchain(mut self, v: &str) -> Self {
        self.toolchain = Some(v.to_string());
        self
    }
    /// Build with `-gcflags=FLAGS` (`all=-N -l`: no optimisation, no inlining).
    pub fn gcflags(mut self, flags: &str) -> Self {
        self.gcflags = GcFlags(Some(flags.to_string()));
        self
    }
    pub fn stripped(mut self) -> Self {
        self.stripped = true;
        self
    }
    pub fn pie(mut self) -> Self {
        self.pie = true;
        self
    }
    pub fn arch(mut self, goarch: &str) -> Self {
        self.goarch = goarch.to_string();
        self
    }
    pub fn os(mut self, goos: &str) -> Self {
        self.goos = goos.to_string();
        self
    }

    /// A short human label: `zoo go1.22.12 pie stripped arm64`.
    pub fn label(&self) -> String {
        let mut s = self.name.clone();
        s.push(' ');
        s.push_str(self.toolchain.as_deref().unwrap_or("go(PATH)"));
        if self.pie {
            s.push_str(" pie");
        }
        if self.stripped {
            s.push_str(" stripped");
        }
        if let Some(f) = &self.gcflags.0 {
            s.push_str(&format!(" gcflags={f:?}"));
        }
        if self.goarch != "amd64" {
            s.push(' ');
            s.push_str(&self.goarch);
        }
        if self.goos != "linux" {
            s.push(' ');
            s.push_str(&self.goos);
        }
        s
    }

    fn exe_name(&self) -> String {
        if self.goos == "windows" {
            format!("{}.exe", self.name)
        } else {
            self.name.clone()
        }
    }

    fn go(&self) -> Command {
        let mut cmd = Command::new("go");
        cmd.current_dir(source_root());
        match &self.toolchain {
            Some(v) => cmd.env("GOTOOLCHAIN", v),
            // The machine's own toolchain, never an upgrade go.mod might ask for.
            None => cmd.env("GOTOOLCHAIN", "local"),
        };
        cmd.env("GOARCH", &self.goarch).env("GOOS", &self.goos);
        // Only the cgo fixtures link C; the rest are static, as most Go servers are.
        cmd.env("CGO_ENABLED", if matches!(self.name.as_str(), "cgo" | "sigcgo" | "cgomem") { "1" } else { "0" });
        cmd.env("GOFLAGS", "-mod=mod");
        cmd
    }

    /// The toolchain's version string, e.g. `go1.22.12`.
    pub fn go_version(&self) -> Result<String> {
        let out = self
            .go()
            .args(["env", "GOVERSION"])
            .output()
            .context("running `go env GOVERSION` (is Go installed?)")?;
        if !out.status.success() {
            bail!(
                "toolchain {:?} unavailable: {}",
                self.toolchain,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// [`Build::build`] for a test that can do without an older
    /// toolchain: `None` (a loud skip outside CI, a failure in CI, as
    /// [`crate::tools::unavailable`] says) when the toolchain could not be
    /// had; any other failure panics.
    pub fn build_or_skip(&self) -> Option<Fixture> {
        match self.build() {
            Ok(fx) => Some(fx),
            Err(e) if self.toolchain.is_some() => {
                crate::tools::unavailable(&format!("{}: {e:#}", self.label()));
                None
            }
            Err(e) => panic!("building {}: {e:#}", self.label()),
        }
    }

    /// Build (or reuse from the cache) and return the executable.
    pub fn build(&self) -> Result<Fixture> {
        let src = source_root().join(&self.name);
        if !src.join("main.go").is_file() {
            bail!("no fixture named {:?} under {}", self.name, source_root().display());
        }
        let go_version = self.go_version()?;
        let mut h = DefaultHasher::new();
        hash_dir(&src, &mut h)?;
        std::fs::read(source_root().join("go.mod"))?.hash(&mut h);
        go_version.hash(&mut h);
        self.hash(&mut h);
        let key = format!("{}-{:016x}", self.name, h.finish());
        let dir = cache_dir().join(&key);
        let exe = dir.join(self.exe_name());
        if exe.is_file() {
            return Ok(Fixture { exe, go_version, build: self.clone() });
        }

        // Build beside the final place, then rename: concurrent tests may race.
        std::fs::create_dir_all(cache_dir())?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{key}.tmp"))
            .tempdir_in(cache_dir())?;
        let mut cmd = self.go();
        cmd.arg("build").arg("-o").arg(tmp.path().join(self.exe_name()));
        if self.pie {
            cmd.arg("-buildmode=pie");
        }
        if self.stripped {
            cmd.arg("-ldflags=-s -w");
        }
        if let Some(f) = &self.gcflags.0 {
            cmd.arg(format!("-gcflags={f}"));
        }
        cmd.arg(format!("./{}", self.name));
        let out = cmd.output().context("running go build")?;
        if !out.status.success() {
            bail!(
                "go build of {} failed:\n{}",
                self.label(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let tmp_path = tmp.keep();
        if std::fs::rename(&tmp_path, &dir).is_err() {
            // Someone else finished first; theirs is as good as ours.
            let _ = std::fs::remove_dir_all(&tmp_path);
        }
        if !exe.is_file() {
            bail!("built {} but {} is missing", self.label(), exe.display());
        }
        Ok(Fixture { exe, go_version, build: self.clone() })
    }
}

/// `testdata/go`: one Go module holding every fixture program.
pub fn source_root() -> PathBuf {
    workspace_root().join("testdata/go")
}

/// Every fixture program's name.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(source_root())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("main.go").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn hash_dir(dir: &Path, h: &mut DefaultHasher) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        e.file_name().hash(h);
        if p.is_dir() {
            hash_dir(&p, h)?;
        } else {
            std::fs::read(&p)?.hash(h);
        }
    }
    Ok(())
}

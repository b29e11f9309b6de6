//! The views: the runtime's traceback format ([`traceback`]), the text
//! reports of `--info`, `--threads` and `--goroutines` ([`report`]) and the
//! versioned JSON documents ([`json`]), pprof profiles ([`pprof`]) and the
//! HTML report ([`html`]).

pub mod html;
pub mod heap;
pub mod json;
pub mod pprof;
pub mod native;
pub mod report;
pub mod traceback;

/// 1638400 -> "1,638,400": byte and object counts as the text views print them.
pub fn with_commas(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

//! The argument words the runtime prints in a traceback (`printArgs` in
//! traceback.go): FUNCDATA_ArgInfo lists (offset, size) pairs of the
//! argument area and aggregate markers; FUNCDATA_ArgLiveInfo plus
//! PCDATA_ArgLiveIndex say which register-spill slots are live (dead ones get
//! a `?`).

use crate::binary::Binary;
use crate::memory::Memory;
use crate::binary::pclntab::Func;

const FUNCDATA_ARG_INFO: u32 = 5;
const FUNCDATA_ARG_LIVE_INFO: u32 = 6;
const PCDATA_ARG_LIVE_INDEX: u32 = 3;
const END_SEQ: u8 = 0xff;
const START_AGG: u8 = 0xfe;
const END_AGG: u8 = 0xfd;
const DOTDOTDOT: u8 = 0xfc;
const OFFSET_TOO_LARGE: u8 = 0xfb;
/// `abi.TraceArgsMaxLen`.
const MAX_LEN: usize = (5 * 3 + 2) * 10 + 1;

pub fn format_args(
    bin: &Binary,
    mem: &dyn Memory,
    f: &Func,
    argp: u64,
    link_sym_pc: u64,
    gofunc: Option<u64>,
) -> String {
    let tab = &bin.pcln;
    let Some(base) = gofunc else { return String::new() };
    let Some(off) = tab.funcdata_off(f, FUNCDATA_ARG_INFO) else { return String::new() };
    let mut p = [0u8; MAX_LEN];
    // The encoding may end near the end of the section: read what fits.
    let mut n = MAX_LEN;
    while n > 0 && !bin.read_static(base.wrapping_add(off as u64), &mut p[..n]) {
        n -= 1;
    }
    let p = &p[..n];
    let live_info = tab.funcdata_off(f, FUNCDATA_ARG_LIVE_INFO).map(|o| base.wrapping_add(o as u64));
    let live_idx = tab
        .pcvalue(tab.pcdata_off(f, PCDATA_ARG_LIVE_INDEX), f.entry, link_sym_pc)
        .unwrap_or(-1);
    let mut start_off = 0xffu8;
    if let Some(li) = live_info {
        let mut b = [0u8; 1];
        if bin.read_static(li, &mut b) {
            start_off = b[0];
        }
    }
    let is_live = |off: u8, slot: u8| -> bool {
        let Some(li) = live_info else { return true };
        if live_idx <= 0 || off < start_off {
            return true;
        }
        let mut b = [0u8; 1];
        if !bin.read_static(li.wrapping_add(live_idx as u64 + (slot / 8) as u64), &mut b) {
            return true;
        }
        b[0] & (1 << (slot % 8)) != 0
    };
    let mut out = String::new();
    let mut start = true;
    let mut slot = 0u8;
    let mut i = 0;
    while i < p.len() {
        let o = p[i];
        i += 1;
        match o {
            END_SEQ => break,
            START_AGG => {
                if !start {
                    out += ", ";
                }
                out += "{";
                start = true;
                continue;
            }
            END_AGG => out += "}",
            DOTDOTDOT => {
                if !start {
                    out += ", ";
                }
                out += "...";
            }
            OFFSET_TOO_LARGE => {
                if !start {
                    out += ", ";
                }
                out += "_";
            }
            _ => {
                if !start {
                    out += ", ";
                }
                let Some(&sz) = p.get(i) else { break };
                i += 1;
                let mut x = mem.u64(argp.wrapping_add(o as u64)).unwrap_or(0);
                if sz < 8 && sz > 0 {
                    let shift = 64 - sz as u32 * 8;
                    x = (x << shift) >> shift;
                }
                out += &format!("{x:#x}");
                if !is_live(o, slot) {
                    out += "?";
                }
                if o >= start_off {
                    slot = slot.wrapping_add(1);
                }
            }
        }
        start = false;
    }
    out
}

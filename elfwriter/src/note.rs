//! ELF notes: `{namesz, descsz, type}`, the name (with its NUL, counted in
//! namesz) padded to 4, the descriptor padded to 4. 4-byte padding even in
//! ELF64 is what Linux and every reader of Linux cores use.

use crate::elf::NoteType;

/// One note. `name` is written without its NUL; the NUL is added (and counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub name: String,
    pub ntype: NoteType,
    pub desc: Vec<u8>,
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

impl Note {
    pub fn new(name: &str, ntype: NoteType, desc: Vec<u8>) -> Note {
        Note { name: name.to_string(), ntype, desc }
    }

    /// `namesz`: the name's bytes plus its NUL.
    pub fn namesz(&self) -> usize {
        self.name.len() + 1
    }

    /// Bytes this note takes in the `PT_NOTE` segment.
    pub fn encoded_len(&self) -> usize {
        12 + pad4(self.namesz()) + pad4(self.desc.len())
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&(self.namesz() as u32).to_le_bytes());
        out.extend_from_slice(&(self.desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.ntype.0.to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.push(0);
        out.resize(start + 12 + pad4(self.namesz()), 0);
        out.extend_from_slice(&self.desc);
        out.resize(start + self.encoded_len(), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{NT_PRPSINFO, NT_X86_XSTATE};

    #[test]
    fn padding_and_namesz() {
        let n = Note::new("CORE", NT_PRPSINFO, vec![1, 2, 3, 4, 5]);
        let mut b = Vec::new();
        n.encode_into(&mut b);
        assert_eq!(b.len(), n.encoded_len());
        assert_eq!(b.len(), 12 + 8 + 8);
        assert_eq!(&b[0..4], &5u32.to_le_bytes()); // "CORE\0"
        assert_eq!(&b[4..8], &5u32.to_le_bytes());
        assert_eq!(&b[8..12], &NT_PRPSINFO.0.to_le_bytes());
        assert_eq!(&b[12..20], b"CORE\0\0\0\0");
        assert_eq!(&b[20..28], &[1, 2, 3, 4, 5, 0, 0, 0]);

        let l = Note::new("LINUX", NT_X86_XSTATE, vec![0; 8]);
        assert_eq!(l.encoded_len(), 12 + 8 + 8);
    }
}

//! Checkpoints per C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>):
//! origin, tree size and base64 root hash (plus optional extension lines),
//! carried in a signed note.

use crate::error::Error;
use crate::hash::Hash;
use crate::note::{Note, NoteSignature, NoteSigner, Verifiers, open_note, sign_note};
use crate::tile::parse_decimal;

/// A log's tree head as published in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log identity, e.g. `registry.example.com/log`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extension lines (non-empty, without newline).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: `origin\nsize\nbase64(root)\n[ext\n...]`.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Parses a checkpoint note text (what [`Note::text`] holds).
    pub fn parse(text: &str) -> Result<Checkpoint, Error> {
        let bad = |line: usize, reason: &str| Error::MalformedCheckpoint {
            line,
            reason: reason.to_owned(),
        };
        let body = text.strip_suffix('\n').ok_or_else(|| {
            bad(
                text.matches('\n').count() + 1,
                "text does not end in a newline",
            )
        })?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(bad(
                lines.len() + 1,
                "fewer than three lines (origin, size, root hash)",
            ));
        }
        if lines[0].is_empty() {
            return Err(bad(1, "empty origin"));
        }
        if let Some(pos) = lines[0].find(|c: char| c.is_control()) {
            return Err(bad(
                1,
                &format!("control character in origin at byte {pos}"),
            ));
        }
        let size = parse_decimal(lines[1])
            .ok_or_else(|| bad(2, "tree size is not a decimal number without leading zeros"))?;
        let root = Hash::from_base64(lines[2])
            .ok_or_else(|| bad(3, "root hash is not base64 of 32 bytes"))?;
        let mut extensions = Vec::new();
        for (i, ext) in lines[3..].iter().enumerate() {
            if ext.is_empty() {
                return Err(bad(4 + i, "empty extension line"));
            }
            extensions.push((*ext).to_owned());
        }
        Ok(Checkpoint {
            origin: lines[0].to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint: returns the signed note.
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<String, Error> {
        sign_note(&self.to_text(), &[], signers)
    }

    /// Adds signatures (e.g. witness cosignatures) to an already signed note,
    /// keeping its existing signatures.
    pub fn add_signatures(
        &self,
        existing: &[NoteSignature],
        extra: &[NoteSignature],
    ) -> Result<String, Error> {
        let mut all = existing.to_vec();
        for sig in extra {
            if !all
                .iter()
                .any(|s| s.name == sig.name && s.key_id == sig.key_id)
            {
                all.push(sig.clone());
            }
        }
        sign_note(&self.to_text(), &all, &[])
    }

    /// Opens a signed checkpoint: verifies the note with `verifiers` (the
    /// log's key; add witness verifiers to also verify cosignatures), parses
    /// the checkpoint and, if `origin` is given, checks it.
    pub fn open(
        note: &[u8],
        origin: Option<&str>,
        verifiers: &Verifiers,
    ) -> Result<(Checkpoint, Note), Error> {
        let note = open_note(note, verifiers)?;
        let checkpoint = Checkpoint::parse(&note.text)?;
        if let Some(expected) = origin
            && checkpoint.origin != expected
        {
            return Err(Error::CheckpointOrigin {
                expected: expected.to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok((checkpoint, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_parses() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse(text).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20852163);
        assert_eq!(c.to_text(), text);
        let with_ext = format!("{text}ext one\n");
        assert_eq!(
            Checkpoint::parse(&with_ext).unwrap().extensions,
            vec!["ext one"]
        );
    }

    #[test]
    fn malformed_checkpoints_name_the_line() {
        for (text, line) in [
            ("o\n1\n", 3),
            ("\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 1),
            ("o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 2),
            ("o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 2),
            ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n", 3),
            ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", 4),
            ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", 3),
        ] {
            match Checkpoint::parse(text) {
                Err(Error::MalformedCheckpoint { line: got, .. }) => {
                    assert_eq!(got, line, "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}

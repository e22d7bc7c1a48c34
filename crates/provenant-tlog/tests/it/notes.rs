//! Signed notes, checkpoints and cosignatures against the vectors in Go's
//! golang.org/x/mod/sumdb/note (docs and tests) and the C2SP specs.

use provenant_tlog::{
    Checkpoint, CosignatureSigner, CosignatureVerifier, Ed25519Signer, Ed25519Verifier, Error,
    Hash, NoteSignature, NoteSigner, NoteVerifier, Verifiers, open_note, parse_note,
    parse_verifier_key, sign_note,
};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
const PETER_B64: &str =
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
const ENOCH_B64: &str =
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=";

fn peter() -> Ed25519Verifier {
    Ed25519Verifier::from_vkey(PETER_VKEY).unwrap()
}
fn enoch() -> Ed25519Verifier {
    Ed25519Verifier::from_vkey(ENOCH_VKEY).unwrap()
}
fn sig(name: &str, key_id: u32, b64: &str) -> NoteSignature {
    NoteSignature {
        name: name.into(),
        key_id,
        base64: b64.into(),
    }
}

#[test]
fn go_sign_is_byte_identical() {
    let signer = Ed25519Signer::from_skey(PETER_SKEY).unwrap();
    let want = format!("{TEXT}\n{PETER_SIG}");
    assert_eq!(sign_note(TEXT, &[], &[&signer]).unwrap(), want);
    // An existing signature by the same key is replaced.
    let stale = sig("PeterNeumann", 0xc74f20a3, "BADSIGN=");
    assert_eq!(sign_note(TEXT, &[stale], &[&signer]).unwrap(), want);
    // Bad inputs.
    assert!(matches!(
        sign_note("abc", &[], &[&signer]),
        Err(Error::MalformedNote { .. })
    ));
    assert!(sign_note(TEXT, &[sig("a+b", 0, "ABCD")], &[]).is_err());
    assert!(sign_note(TEXT, &[sig("PeterNeumann", 0xc74f20a3, "BADHASH=")], &[]).is_err());
    struct BadName(Ed25519Signer);
    impl NoteSigner for BadName {
        fn name(&self) -> &str {
            "bad name"
        }
        fn key_id(&self) -> u32 {
            self.0.key_id()
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
            self.0.sign(msg)
        }
    }
    let bad = BadName(Ed25519Signer::from_skey(PETER_SKEY).unwrap());
    assert!(matches!(
        sign_note(TEXT, &[], &[&bad]),
        Err(Error::InvalidSigner { .. })
    ));
}

#[test]
fn go_key_manglings_are_rejected() {
    Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
    Ed25519Signer::from_skey(PETER_SKEY).unwrap();
    for key in [PETER_VKEY, PETER_SKEY] {
        let parse = |k: &str| {
            if key == PETER_VKEY {
                Ed25519Verifier::from_vkey(k).is_ok() || parse_verifier_key(k).is_ok()
            } else {
                Ed25519Signer::from_skey(k).is_ok()
            }
        };
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(!parse(s), "substring {s:?} accepted");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(!parse(s), "mangled {s:?} accepted");
            }
        }
    }
    // Wrong key length and unknown algorithm, each with a matching key ID.
    assert!(
        Ed25519Verifier::from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert!(matches!(
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(Error::UnknownKeyType { alg: 0x65, .. })
    ));
}

#[test]
fn go_open_semantics() {
    let peter_s = sig("PeterNeumann", 0xc74f20a3, PETER_B64);
    let enoch_s = sig("EnochRoot", 0xaf0cfe78, ENOCH_B64);
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");

    // One verified, one unknown.
    let only_peter: Verifiers = [peter()].into_iter().collect();
    let n = open_note(msg.as_bytes(), &only_peter).unwrap();
    assert_eq!(n.text, TEXT);
    assert_eq!(n.sigs, vec![peter_s.clone()]);
    assert_eq!(n.unverified, vec![enoch_s.clone()]);

    // Both verified.
    let both: Verifiers = [peter(), enoch()].into_iter().collect();
    let n = open_note(msg.as_bytes(), &both).unwrap();
    assert_eq!(n.sigs, vec![peter_s.clone(), enoch_s.clone()]);
    assert!(n.unverified.is_empty());

    // None known: unverified note.
    let err = open_note(msg.as_bytes(), &Verifiers::new()).unwrap_err();
    assert!(
        matches!(err, Error::UnverifiedNote { unverified: 2 }),
        "{err}"
    );
    let (text, sigs) = parse_note(msg.as_bytes()).unwrap();
    assert_eq!(
        (text.as_str(), sigs),
        (TEXT, vec![peter_s.clone(), enoch_s.clone()])
    );

    // Duplicated verifier: ambiguous only when used.
    let dup: Verifiers = [enoch(), peter(), enoch()].into_iter().collect();
    let err = open_note(format!("{TEXT}\n{ENOCH_SIG}").as_bytes(), &dup).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ambiguous key EnochRoot+af0cfe78: configured more than once"
    );
    open_note(format!("{TEXT}\n{PETER_SIG}").as_bytes(), &dup).unwrap();

    // Too many signatures.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert!(matches!(
        open_note(many.as_bytes(), &only_peter),
        Err(Error::MalformedNote { line: 104, .. })
    ));
    assert!(matches!(
        open_note(many.as_bytes(), &Verifiers::new()),
        Err(Error::MalformedNote { .. })
    ));

    // Forged signature by a known key: error naming the key and line.
    let forged = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let err = open_note(forged.as_bytes(), &only_peter).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                key_id: 0xc74f20a3,
                line: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("PeterNeumann+c74f20a3"));

    // Duplicates: verified ones collapse, unverified identical lines collapse.
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let msg = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
    let n = open_note(msg.as_bytes(), &only_peter).unwrap();
    assert_eq!(n.sigs, vec![peter_s]);
    let abcd_b64 = enoch_abcd.trim_end().rsplit(' ').next().unwrap();
    assert_eq!(
        n.unverified,
        vec![enoch_s, sig("EnochRoot", 0xaf0cfe78, abcd_b64)]
    );

    // Malformed messages.
    for bad in [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ] {
        let err = open_note(bad.as_bytes(), &only_peter).unwrap_err();
        assert!(matches!(err, Error::MalformedNote { .. }), "{bad:?}: {err}");
    }
    let mut invalid_utf8 = vec![0xff];
    invalid_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert!(matches!(
        open_note(&invalid_utf8, &only_peter),
        Err(Error::MalformedNote { line: 1, .. })
    ));
}

#[test]
fn c2sp_examples_parse() {
    // tlog-checkpoint / tlog-cosignature spec example: log signature and a
    // witness cosignature whose first 8 signature bytes are its timestamp.
    let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
                — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
    let (text, sigs) = parse_note(note.as_bytes()).unwrap();
    let c = Checkpoint::parse(&text).unwrap();
    assert_eq!(
        (c.origin.as_str(), c.size),
        ("example.com/behind-the-sofa", 20852163)
    );
    assert_eq!(sigs[0].key_id, 0x033de0ae);
    assert_eq!(sigs[0].signature_bytes().len(), 64);
    // Unknown keys only: the note does not open.
    assert!(matches!(
        open_note(note.as_bytes(), &Verifiers::new()),
        Err(Error::UnverifiedNote { unverified: 1 })
    ));
    // The spec's cosignature line (its "\n" in the middle is a line-wrap artefact).
    let cosig = "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
    let s = sig("witness.example.com/w1", 0x8d66cf3f, cosig);
    let raw = s.signature_bytes();
    assert_eq!(raw.len(), 72);
    assert_eq!(u64::from_be_bytes(raw[..8].try_into().unwrap()), 1679315147);
    // signed-note spec example parses, with its blank line inside the text.
    let poem = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\
                — quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let (text, sigs) = parse_note(poem.as_bytes()).unwrap();
    assert!(text.ends_with("ed è subito sera.\n"));
    assert_eq!(sigs[0].name, "quasimodo.example/salvatore");
}

#[test]
fn checkpoints_sign_open_and_carry_cosignatures() {
    let log = Ed25519Signer::generate("registry.example/log").unwrap();
    let c = Checkpoint::new("registry.example/log", 42, provenant_tlog::leaf_hash(b"x"));
    let note = c.sign(&[&log]).unwrap();
    let log_v: Verifiers = [log.verifier()].into_iter().collect();
    let (got, opened) =
        Checkpoint::open(note.as_bytes(), Some("registry.example/log"), &log_v).unwrap();
    assert_eq!(got, c);
    assert!(matches!(
        Checkpoint::open(note.as_bytes(), Some("other.example/log"), &log_v),
        Err(Error::CheckpointOrigin { .. })
    ));

    // Two witnesses cosign; the note keeps the log signature and gains both.
    let w1 = CosignatureSigner::generate("w1.example").unwrap();
    let w2 = CosignatureSigner::generate("w2.example").unwrap();
    let cos = [
        w1.cosign(&c.to_text(), 1_700_000_000).unwrap(),
        w2.cosign(&c.to_text(), 1_700_000_001).unwrap(),
    ];
    let cosigned = c.add_signatures(&opened.sigs, &cos).unwrap();
    let mut all = Verifiers::new();
    all.push(log.verifier());
    all.push(CosignatureVerifier::from_vkey(&w1.vkey()).unwrap());
    all.push_boxed(parse_verifier_key(&w2.vkey()).unwrap());
    let n = open_note(cosigned.as_bytes(), &all).unwrap();
    assert_eq!(n.sigs.len(), 3);
    // A go-style verifier set with only the log key ignores the cosignatures.
    let n = open_note(cosigned.as_bytes(), &log_v).unwrap();
    assert_eq!((n.sigs.len(), n.unverified.len()), (1, 2));
    // A cosignature moved onto another checkpoint fails.
    let other = Checkpoint::new("registry.example/log", 43, Hash::default());
    let moved = format!("{}\n{}", other.to_text(), cos[0].line());
    let wv: Verifiers = [w1.verifier()].into_iter().collect();
    assert!(matches!(
        open_note(moved.as_bytes(), &wv),
        Err(Error::InvalidSignature { .. })
    ));
    let v1 = w1.verifier();
    assert_eq!(
        v1.verify_cosignature(c.to_text().as_bytes(), &cos[0].signature_bytes())
            .unwrap(),
        1_700_000_000
    );
    assert_eq!(v1.name(), "w1.example");
}

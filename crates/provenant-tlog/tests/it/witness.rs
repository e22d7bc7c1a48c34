//! C2SP tlog-witness add-checkpoint flows.

use provenant_tlog::{
    AddCheckpointRequest, Checkpoint, CosignatureSigner, Ed25519Signer, Error, MemoryLog,
    MemoryWitnessStore, NoteVerifier, Verifiers, Witness, consistency_proof, open_note, sign_note,
};

struct Setup {
    log: MemoryLog,
    signer: Ed25519Signer,
    witness: Witness<MemoryWitnessStore>,
    witness_key: CosignatureSigner,
}

fn setup() -> Setup {
    let signer = Ed25519Signer::generate("log.example/a").unwrap();
    let witness_key = CosignatureSigner::generate("witness.example/w").unwrap();
    let mut witness = Witness::new(
        CosignatureSigner::from_skey(&witness_key.skey()).unwrap(),
        MemoryWitnessStore::default(),
    );
    witness.add_log("log.example/a", Box::new(signer.verifier()));
    Setup {
        log: MemoryLog::new(),
        signer,
        witness,
        witness_key,
    }
}

fn grow(s: &mut Setup, n: u64) -> String {
    let start = s.log.size();
    let entries: Vec<Vec<u8>> = (start..start + n)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    s.log.append(&entries).unwrap();
    Checkpoint::new("log.example/a", s.log.size(), s.log.root().unwrap())
        .sign(&[&s.signer])
        .unwrap()
}

fn body(s: &Setup, old: u64, note: &str) -> Vec<u8> {
    let new = s.log.size();
    AddCheckpointRequest {
        old_size: old,
        proof: consistency_proof(old, new, &s.log.hash_reader()).unwrap(),
        checkpoint: note.as_bytes().to_vec(),
    }
    .to_body()
}

#[test]
fn cosigns_a_growing_log_and_answers_conflicts() {
    let mut s = setup();
    let note = grow(&mut s, 100);
    let lines = s
        .witness
        .add_checkpoint(&body(&s, 0, &note), 1_700_000_000)
        .unwrap();
    assert!(lines.starts_with("— witness.example/w "), "{lines}");
    // The response appended to the checkpoint verifies with the witness key.
    let cosigned = format!("{note}{lines}");
    let wv: Verifiers = [s.witness_key.verifier()].into_iter().collect();
    let n = open_note(cosigned.as_bytes(), &wv).unwrap();
    assert_eq!(n.sigs[0].key_id, s.witness_key.verifier().key_id());

    let note2 = grow(&mut s, 1234);
    s.witness
        .add_checkpoint(&body(&s, 100, &note2), 1_700_000_010)
        .unwrap();

    // Stale old size: 409 with the current size.
    let note3 = grow(&mut s, 5);
    let err = s
        .witness
        .add_checkpoint(&body(&s, 100, &note3), 1_700_000_020)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WitnessConflict {
                current_size: 1334,
                old_size: 100,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.witness_http_status(), Some(409));
    // Retry with the size from the 409 body.
    s.witness
        .add_checkpoint(&body(&s, 1334, &note3), 1_700_000_030)
        .unwrap();
    // Same size again, same root: fine (idempotent).
    s.witness
        .add_checkpoint(&body(&s, 1339, &note3), 1_700_000_040)
        .unwrap();
}

#[test]
fn rejects_bad_requests_with_the_right_status() {
    let mut s = setup();
    let note = grow(&mut s, 10);
    s.witness.add_checkpoint(&body(&s, 0, &note), 1).unwrap();
    let note2 = grow(&mut s, 10);

    // Malformed bodies: 400.
    for bad in [
        &b"old 10\n"[..],
        b"old 010\n\n",
        b"new 10\n\n",
        b"old 10\nnot-base64\n\n",
    ] {
        let err = s.witness.add_checkpoint(bad, 2).unwrap_err();
        assert_eq!(err.witness_http_status(), Some(400), "{err}");
    }
    // A body whose checkpoint is not a signed note, or not a checkpoint: 400.
    let err = s
        .witness
        .add_checkpoint(b"old 10\n\nlog.example/a\n20\n", 2)
        .unwrap_err();
    assert_eq!(err.witness_http_status(), Some(400), "{err}");
    let not_a_checkpoint = sign_note(
        "log.example/a\nxx\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        &[],
        &[&s.signer],
    )
    .unwrap();
    let err = s
        .witness
        .add_checkpoint(format!("old 10\n\n{not_a_checkpoint}").as_bytes(), 2)
        .unwrap_err();
    assert!(
        matches!(err, Error::MalformedCheckpoint { line: 2, .. }),
        "{err}"
    );
    assert_eq!(err.witness_http_status(), Some(400));
    // Old size above the checkpoint size: 400.
    let mut req = AddCheckpointRequest::parse(&body(&s, 10, &note2)).unwrap();
    req.old_size = 21;
    req.proof.clear();
    let err = s.witness.add_checkpoint(&req.to_body(), 2).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WitnessOldSize {
                old_size: 21,
                new_size: 20
            }
        ),
        "{err}"
    );
    assert_eq!(err.witness_http_status(), Some(400));

    // Bad consistency proof: 422.
    let mut req = AddCheckpointRequest::parse(&body(&s, 10, &note2)).unwrap();
    req.proof[0].0[0] ^= 1;
    let err = s.witness.add_checkpoint(&req.to_body(), 2).unwrap_err();
    assert_eq!(err.witness_http_status(), Some(422), "{err}");

    // Unknown origin: 404.
    let other = Ed25519Signer::generate("log.example/b").unwrap();
    let foreign = Checkpoint::new("log.example/b", 20, s.log.root().unwrap())
        .sign(&[&other])
        .unwrap();
    let err = s
        .witness
        .add_checkpoint(&body(&s, 10, &foreign), 2)
        .unwrap_err();
    assert_eq!(err.witness_http_status(), Some(404), "{err}");

    // Right origin, wrong key (or a forged signature): 403.
    let impostor = Ed25519Signer::generate("log.example/a").unwrap();
    let forged = Checkpoint::new("log.example/a", 20, s.log.root().unwrap())
        .sign(&[&impostor])
        .unwrap();
    let err = s
        .witness
        .add_checkpoint(&body(&s, 10, &forged), 2)
        .unwrap_err();
    assert_eq!(err.witness_http_status(), Some(403), "{err}");
    let tampered = note2.replacen("\n20\n", "\n21\n", 1);
    let err = s
        .witness
        .add_checkpoint(&body(&s, 10, &tampered), 2)
        .unwrap_err();
    assert_eq!(err.witness_http_status(), Some(403), "{err}");

    // A fork at the same size: 409 (root mismatch).
    let fork = Checkpoint::new("log.example/a", 10, provenant_tlog::leaf_hash(b"fork"))
        .sign(&[&s.signer])
        .unwrap();
    let req = AddCheckpointRequest {
        old_size: 10,
        proof: vec![],
        checkpoint: fork.into_bytes(),
    };
    let err = s.witness.add_checkpoint(&req.to_body(), 2).unwrap_err();
    assert!(
        matches!(err, Error::WitnessRootMismatch { size: 10, .. }),
        "{err}"
    );

    // None of the failures moved the state.
    s.witness.add_checkpoint(&body(&s, 10, &note2), 3).unwrap();
    assert_eq!(s.witness.vkey(), s.witness_key.vkey());
    assert_eq!(s.witness_key.verifier().name(), "witness.example/w");
}

//! Lineage edges, impact and cycle refusal on both backends.

use provenant_store::{
    Digest, FileRow, NewAttachment, NewLineageEdge, NewVersion, Store, StoreError,
};
use provenant_testkit::both;

fn version(model: &str, content: &str) -> NewVersion {
    let (ns, name) = model.rsplit_once('/').unwrap();
    NewVersion {
        namespace: ns.into(),
        model_name: name.into(),
        description: String::new(),
        digest: Digest::sha256(format!("{model}/{content}").as_bytes()),
        manifest: b"{}".to_vec(),
        config: b"{}".to_vec(),
        config_digest: Digest::sha256(b"{}"),
        metadata: "{}".into(),
        metadata_digest: Digest::sha256(b"{}"),
        files: vec![FileRow {
            path: "model.bin".into(),
            digest: Digest::sha256(content.as_bytes()),
            size: 1,
        }],
        labels: Default::default(),
        search_text: model.into(),
        created_by: "tester".into(),
    }
}

fn edge(kind: &str, input: &str) -> NewLineageEdge {
    NewLineageEdge {
        kind: kind.into(),
        input: input.into(),
        uri: format!("uri-of-{input}"),
        parent_id: None,
    }
}

fn parent(id: i64) -> NewLineageEdge {
    NewLineageEdge {
        kind: "parent".into(),
        input: format!("parent-{id}"),
        uri: String::new(),
        parent_id: Some(id),
    }
}

fn attachment(version_id: i64, body: &str) -> NewAttachment {
    NewAttachment {
        version_id,
        kind: "provenance".into(),
        media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
        digest: Digest::sha256(body.as_bytes()),
        body: body.as_bytes().to_vec(),
        signer: "key".into(),
        fingerprint: "sha256:00".into(),
        created_by: "tester".into(),
        predicate_type: "https://slsa.dev/provenance/v1".into(),
        summary: "{}".into(),
    }
}

both!(
    impact_follows_parents_and_lists_aliases,
    async |store: &Store| {
        crate::logged(store);
        let base = store
            .version_publish(&version("aiops/base", "1"))
            .await
            .unwrap()
            .0;
        let tune = store
            .version_publish(&version("aiops/tuned", "1"))
            .await
            .unwrap()
            .0;
        let tune2 = store
            .version_publish(&version("aiops/tuned2", "1"))
            .await
            .unwrap()
            .0;
        let other = store
            .version_publish(&version("aiops/other", "1"))
            .await
            .unwrap()
            .0;
        let ds = "sha256:aaaa";
        let (_, created) = store
            .attachment_insert_with_lineage(
                &attachment(base.id, "p-base"),
                &[
                    edge("dataset", ds),
                    edge("commit", "c1"),
                    edge("image", "sha256:ii"),
                ],
            )
            .await
            .unwrap();
        assert!(created);
        store
            .attachment_insert_with_lineage(
                &attachment(tune.id, "p-tune"),
                &[parent(base.id), edge("dataset", "sha256:bbbb")],
            )
            .await
            .unwrap();
        store
            .lineage_insert(tune2.id, &[parent(tune.id)])
            .await
            .unwrap();
        store
            .lineage_insert(other.id, &[edge("dataset", "sha256:bbbb")])
            .await
            .unwrap();
        store
            .alias_move(tune.model_id, "production", tune.id, "t")
            .await
            .unwrap();
        store
            .alias_move(tune.model_id, "staging", tune.id, "t")
            .await
            .unwrap();

        let hit = store.lineage_impact("dataset", ds).await.unwrap();
        let got: Vec<_> = hit
            .iter()
            .map(|r| (r.model.as_str(), r.number, r.direct, r.aliases.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("aiops/base", 1, true, vec![]),
                (
                    "aiops/tuned",
                    1,
                    false,
                    vec!["production".to_owned(), "staging".to_owned()]
                ),
                ("aiops/tuned2", 1, false, vec![]),
            ]
        );
        let hit = store
            .lineage_impact("dataset", "sha256:bbbb")
            .await
            .unwrap();
        let got: Vec<_> = hit.iter().map(|r| (r.model.as_str(), r.direct)).collect();
        assert_eq!(
            got,
            vec![
                ("aiops/other", true),
                ("aiops/tuned", true),
                ("aiops/tuned2", false)
            ]
        );
        assert_eq!(store.lineage_impact("commit", "c1").await.unwrap().len(), 3);
        assert!(
            store
                .lineage_impact("image", "sha256:none")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store.lineage_impact("commit", ds).await.unwrap().is_empty(),
            "kind matters"
        );

        // Upstream of tuned2: its parent edge, tuned's edges, base's edges.
        let up = store.lineage_upstream(tune2.id).await.unwrap();
        let got: Vec<_> = up
            .iter()
            .map(|e| (e.model.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("aiops/base", "commit"),
                ("aiops/base", "dataset"),
                ("aiops/base", "image"),
                ("aiops/tuned", "dataset"),
                ("aiops/tuned", "parent"),
                ("aiops/tuned2", "parent"),
            ]
        );
        assert_eq!(up[4].parent_model.as_deref(), Some("aiops/base"));
        assert_eq!(up[4].parent_number, Some(1));
        // Downstream of base: tuned, then tuned2.
        let down = store.lineage_downstream(base.id).await.unwrap();
        let got: Vec<_> = down
            .iter()
            .map(|e| (e.parent_model.clone().unwrap(), e.model.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("aiops/base".to_owned(), "aiops/tuned".to_owned()),
                ("aiops/tuned".to_owned(), "aiops/tuned2".to_owned()),
            ]
        );
        assert!(store.lineage_downstream(other.id).await.unwrap().is_empty());
    }
);

both!(
    parent_cycles_are_refused_and_nothing_is_stored,
    async |store: &Store| {
        crate::logged(store);
        let a = store
            .version_publish(&version("ml/a", "1"))
            .await
            .unwrap()
            .0;
        let b = store
            .version_publish(&version("ml/b", "1"))
            .await
            .unwrap()
            .0;
        let c = store
            .version_publish(&version("ml/c", "1"))
            .await
            .unwrap()
            .0;
        store.lineage_insert(b.id, &[parent(a.id)]).await.unwrap();
        store.lineage_insert(c.id, &[parent(b.id)]).await.unwrap();
        // a ← b ← c; making c a parent of a closes the loop.
        let err = store
            .attachment_insert_with_lineage(
                &attachment(a.id, "p-a"),
                &[edge("dataset", "sha256:dd"), parent(c.id)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::LineageCycle { .. }), "{err}");
        assert!(err.to_string().contains("parent-"), "{err}");
        assert!(
            store
                .attachments(a.id, "provenance")
                .await
                .unwrap()
                .is_empty(),
            "attachment rolled back"
        );
        assert!(
            store
                .lineage_impact("dataset", "sha256:dd")
                .await
                .unwrap()
                .is_empty(),
            "edges rolled back"
        );
        // Self-parent.
        let err = store
            .lineage_insert(a.id, &[parent(a.id)])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::LineageCycle { .. }));
        // Idempotent: the same attachment twice stores once.
        let (_, first) = store
            .attachment_insert_with_lineage(
                &attachment(c.id, "p-c"),
                &[edge("dataset", "sha256:ee")],
            )
            .await
            .unwrap();
        let (_, again) = store
            .attachment_insert_with_lineage(
                &attachment(c.id, "p-c"),
                &[edge("dataset", "sha256:ee")],
            )
            .await
            .unwrap();
        assert!(first && !again);
        assert_eq!(
            store
                .lineage_impact("dataset", "sha256:ee")
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

// Abbreviated inputs: every recorded input of the kind that starts so, once.
both!(inputs_by_prefix, async |store: &Store| {
    crate::logged(store);
    let (a, _) = store.version_publish(&version("ns/a", "a")).await.unwrap();
    let (b, _) = store.version_publish(&version("ns/b", "b")).await.unwrap();
    let one = format!("abcdef1{}", "0".repeat(33));
    let two = format!("abcdef2{}", "0".repeat(33));
    store
        .lineage_insert(
            a.id,
            &[
                edge("commit", &one),
                edge("dataset", &format!("sha256:{one}")),
            ],
        )
        .await
        .unwrap();
    store
        .lineage_insert(b.id, &[edge("commit", &one), edge("commit", &two)])
        .await
        .unwrap();
    let found = |prefix: &'static str| {
        let store = store.clone();
        async move {
            store
                .lineage_inputs_by_prefix("commit", prefix, 10)
                .await
                .unwrap()
        }
    };
    assert_eq!(found("abcdef").await, [one.clone(), two.clone()]);
    assert_eq!(found("abcdef1").await, [one]);
    assert!(found("abcdef3").await.is_empty());
    assert_eq!(
        store
            .lineage_inputs_by_prefix("commit", "abc", 1)
            .await
            .unwrap()
            .len(),
        1
    );
});

// A version published with its attachments is one transaction: a failure
// after the version row is written (here, an edge naming a version that does
// not exist) leaves no version, no attachment and no log entry.
both!(
    publish_with_attachments_rolls_back_whole,
    async |store: &Store| {
        crate::logged(store);
        let new = version("ns/whole", "w");
        let before = store.log_pending_count().await.unwrap();
        let bad_edge = NewLineageEdge {
            parent_id: Some(i64::MAX),
            ..edge("parent", "ns/missing@sha256:00")
        };
        let failed = store
            .version_publish_with_attachments(
                &new,
                &[
                    (attachment(0, "first"), vec![edge("dataset", "sha256:aaaa")]),
                    (attachment(0, "second"), vec![bad_edge]),
                ],
            )
            .await;
        assert!(failed.is_err(), "{failed:?}");
        assert!(store.model_get("ns/whole").await.unwrap().is_none());
        assert_eq!(store.log_pending_count().await.unwrap(), before);
        assert!(
            store
                .lineage_inputs_by_prefix("dataset", "sha256:aaaa", 10)
                .await
                .unwrap()
                .is_empty()
        );

        // The same request without the bad edge: the version with both.
        let (row, created, attached) = store
            .version_publish_with_attachments(
                &new,
                &[
                    (attachment(0, "first"), vec![edge("dataset", "sha256:aaaa")]),
                    (attachment(0, "second"), vec![]),
                ],
            )
            .await
            .unwrap();
        assert!(created);
        assert_eq!(attached.len(), 2);
        assert!(
            attached
                .iter()
                .all(|(a, new)| *new && a.version_id == row.id)
        );
        assert_eq!(
            store.attachments(row.id, "provenance").await.unwrap().len(),
            2
        );
        assert_eq!(store.log_pending_count().await.unwrap(), before + 3);
    }
);

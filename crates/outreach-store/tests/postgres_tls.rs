#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! PostgreSQL over TLS (rustls), against a cluster of the test's own with a
//! certificate of the test's own CA: `verify-full` with `sslrootcert` works
//! and checks the name; `require` and `verify-*` never fall back to plain
//! text; without an `sslmode`, a loopback host is reached without TLS.

#[path = "support/ca.rs"]
mod ca;

use outreach_store::Db;
use outreach_store::testing::cluster::{self, ServerTls};

async fn over_tls(db: &Db) -> bool {
    let mut tx = db.read().await.unwrap();
    let (ssl,): (bool,) = tx
        .fetch_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            vec![],
        )
        .await
        .unwrap();
    ssl
}

#[tokio::test]
async fn verify_full_reaches_a_tls_server_and_nothing_falls_back_to_plain_text() {
    let ca = ca::TestCa::new("Outreach Test-CA");
    let issued = ca.issue(&["localhost"]);
    let tls = ServerTls {
        cert_pem: issued.cert_pem,
        key_pem: issued.key_pem,
    };
    let Some(cluster) = cluster::for_test(Some(&tls)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = ca.write(dir.path());
    let root = root.display();

    // verify-full with the CA: connected over TLS, migrations run.
    let url = cluster.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    );
    let db = Db::open(&url).await.expect("verify-full with the CA");
    assert!(over_tls(&db).await, "the connection is TLS");
    db.close().await;

    // The name is checked: the certificate is for localhost, not 127.0.0.1;
    // verify-ca checks the CA only.
    let wrong_name = cluster.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    );
    let refused = Db::connect(&wrong_name).await.err().map(|e| e.to_string());
    assert!(
        refused.is_some(),
        "verify-full accepted a certificate for another name"
    );
    let ca_only = cluster.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-ca&sslrootcert={root}"),
    );
    let db = Db::connect(&ca_only).await.expect("verify-ca with the CA");
    assert!(over_tls(&db).await);
    db.close().await;

    // Another CA's certificate is refused.
    let other = ca::TestCa::new("Fremde CA");
    let other_dir = tempfile::tempdir().unwrap();
    let other_root = other.write(other_dir.path());
    let foreign = cluster.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}", other_root.display()),
    );
    assert!(
        Db::connect(&foreign).await.is_err(),
        "a certificate of another CA was accepted"
    );

    // The server takes TLS only: plain text (sslmode=disable, and the
    // default for a loopback host) is refused by it.
    for url in [
        cluster.url("127.0.0.1", "postgres", "sslmode=disable"),
        cluster.url("127.0.0.1", "postgres", ""),
    ] {
        assert!(
            Db::connect(&url).await.is_err(),
            "connected to a TLS-only server with {url}: plain text expected, which it refuses"
        );
    }

    // TLS switched off at the server: require and verify-full don't fall
    // back to plain text; the loopback default is plain text and works.
    cluster.reconfigure(None).unwrap();
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = cluster.url(
            "localhost",
            "postgres",
            &format!("sslmode={mode}&sslrootcert={root}"),
        );
        let error = Db::connect(&url).await.err();
        assert!(error.is_some(), "sslmode={mode} fell back to plain text");
    }
    let db = Db::connect(&cluster.url("127.0.0.1", "postgres", ""))
        .await
        .expect("loopback default");
    assert!(!over_tls(&db).await, "the loopback default is plain text");
    db.close().await;
}

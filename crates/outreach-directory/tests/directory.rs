//! The directory client against a real OpenLDAP `slapd`: search-then-bind
//! over LDAPS and StartTLS with the test's CA, a certificate of another CA
//! refused, wrong and empty passwords, nested groups and a cycle, everyone
//! for the sync, and the directory down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../outreach-store/tests/support/ca.rs"]
mod ca;

use outreach_directory::testing::{self, Slapd, group, person, person_dn};
use outreach_directory::{Directory, Error};

const GROUPS: &[(&str, &str, Option<&str>, i64)] = &[
    ("sc-agenten", "agent", Some("SC-HH"), 10),
    ("sc-leitung", "supervisor", Some("SC-HH"), 20),
];

fn tree() -> String {
    let mut ldif = String::new();
    ldif += &person("erika", "Erika Mustermann", "erikas-passwort");
    ldif += &person("max", "Max Muster", "max-passwort");
    ldif += &person("ohne", "Ohne Gruppe", "ohne-passwort");
    ldif += &person("kreis", "Im Kreis", "kreis-passwort");
    // erika is an agent through team-nord, a group in sc-agenten.
    ldif += &group("team-nord", &[person_dn("erika")]);
    ldif += &group(
        "sc-agenten",
        &[testing::group_dn("team-nord"), person_dn("max")],
    );
    ldif += &group("sc-leitung", &[person_dn("max")]);
    // kreis-a ⊂ kreis-b ⊂ kreis-a.
    ldif += &group(
        "kreis-a",
        &[person_dn("kreis"), testing::group_dn("kreis-b")],
    );
    ldif += &group("kreis-b", &[testing::group_dn("kreis-a")]);
    ldif
}

struct Setup {
    slapd: Slapd,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn set_up() -> Option<Setup> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let authority = ca::TestCa::new("Verzeichnis Test-CA");
    let cert = authority.issue(&["localhost", "127.0.0.1"]);
    let slapd = testing::for_test(&cert.cert_pem, &cert.key_pem, &tree())?;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = authority.write(dir.path());
    Some(Setup {
        slapd,
        ca_file,
        _dir: dir,
    })
}

fn directory(url: &str, starttls: bool, ca_file: &std::path::Path) -> Directory {
    let settings = testing::settings(url, starttls, Some(ca_file.to_path_buf()), GROUPS);
    Directory::new(&settings, None).unwrap()
}

#[tokio::test]
async fn search_then_bind_over_ldaps_and_starttls_with_nested_groups() {
    let Some(setup) = set_up() else { return };
    for (url, starttls) in [
        (setup.slapd.ldaps_url(), false),
        (setup.slapd.ldap_url(), true),
    ] {
        let dir = directory(&url, starttls, &setup.ca_file);
        let erika = dir
            .sign_in("Erika", "erikas-passwort")
            .await
            .unwrap()
            .expect("erika signs in");
        assert_eq!(erika.login, "erika");
        assert_eq!(erika.display_name, "Erika Mustermann");
        assert_eq!(erika.dn, person_dn("erika"));
        // Direct and nested.
        assert!(
            erika.groups.contains(&testing::group_dn("team-nord")),
            "{:?}",
            erika.groups
        );
        assert!(
            erika.groups.contains(&testing::group_dn("sc-agenten")),
            "{:?}",
            erika.groups
        );
        let max = dir.sign_in("max", "max-passwort").await.unwrap().unwrap();
        assert!(max.groups.contains(&testing::group_dn("sc-leitung")));
        // Wrong, empty, unknown, and a filter injection: all nobody.
        assert_eq!(dir.sign_in("erika", "falsch").await.unwrap(), None);
        assert_eq!(dir.sign_in("erika", "").await.unwrap(), None);
        assert_eq!(dir.sign_in("niemand", "x").await.unwrap(), None);
        assert_eq!(dir.sign_in("*", "erikas-passwort").await.unwrap(), None);
        assert_eq!(
            dir.sign_in("erika)(uid=*", "erikas-passwort")
                .await
                .unwrap(),
            None
        );
        // Groups in a circle are refused, not followed forever.
        match dir.sign_in("kreis", "kreis-passwort").await {
            Err(Error::Cycle(cycle)) => assert!(cycle.0.len() >= 3, "{cycle:?}"),
            other => panic!("a cycle: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_certificate_of_another_ca_and_plain_ldap_are_refused() {
    let Some(setup) = set_up() else { return };
    let other = ca::TestCa::new("Fremde CA");
    let dir = tempfile::tempdir().unwrap();
    let other_file = other.write(dir.path());
    for (url, starttls) in [
        (setup.slapd.ldaps_url(), false),
        (setup.slapd.ldap_url(), true),
    ] {
        let refusing = directory(&url, starttls, &other_file);
        match refusing.sign_in("erika", "erikas-passwort").await {
            Err(Error::Unreachable(why)) => {
                assert!(why.to_lowercase().contains("certificate"), "{why}")
            }
            other => panic!("{url}: a foreign certificate must be refused: {other:?}"),
        }
    }
    // Plain LDAP over the network is refused before any connection.
    let plain = testing::settings("ldap://dc1.jobcenter.example:389", false, None, GROUPS);
    let refused = Directory::new(&plain, None).unwrap_err();
    assert!(refused.contains("unverschlüsselt"), "{refused}");
    // To loopback it is allowed (a directory proxy on the same machine).
    let local = directory(&setup.slapd.ldap_url(), false, &setup.ca_file);
    assert!(
        local
            .sign_in("erika", "erikas-passwort")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn everyone_with_their_groups_and_the_directory_down() {
    let Some(mut setup) = set_up() else { return };
    let dir = directory(&setup.slapd.ldaps_url(), false, &setup.ca_file);
    // The cycle makes the whole list refused: a sync must not guess.
    assert!(matches!(dir.everyone().await, Err(Error::Cycle(_))));
    setup.slapd.remove_person("kreis").await.unwrap();
    setup
        .slapd
        .remove_member("kreis-a", &testing::group_dn("kreis-b"))
        .await
        .unwrap();
    let everyone = dir.everyone().await.unwrap();
    let logins: Vec<&str> = everyone.iter().map(|p| p.login.as_str()).collect();
    assert_eq!(logins.len(), 3, "{logins:?}");
    let erika = everyone.iter().find(|p| p.login == "erika").unwrap();
    assert!(erika.groups.contains(&testing::group_dn("sc-agenten")));
    setup.slapd.stop();
    assert!(matches!(
        dir.sign_in("erika", "erikas-passwort").await,
        Err(Error::Unreachable(_))
    ));
    assert!(matches!(dir.everyone().await, Err(Error::Unreachable(_))));
    setup.slapd.start_again().unwrap();
    assert!(
        dir.sign_in("erika", "erikas-passwort")
            .await
            .unwrap()
            .is_some()
    );
}

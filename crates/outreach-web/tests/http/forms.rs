//! Forms over HTTP: CSRF, German messages next to the field, the
//! administration's user forms.

use super::*;

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_rejected() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        // Login form without the login cookie's token.
        let mut anon = app.client();
        let r = anon
            .post_raw(
                "/login",
                &[("username", &jc_admin()), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{backend:?}");
        assert!(r.body.contains("Sicherheitsprüfung fehlgeschlagen"));
        assert!(!anon.has_session());
        // A form sent after the session ended is not processed: back to the login.
        let late = anon.post_raw("/konto/passwort", &[("csrf", "x")]).await;
        assert_eq!(late.location(), "/login?abgelaufen=1", "{backend:?}");

        let mut client = app.login(&jc_admin()).await;
        let fields = [
            ("current", PASSWORD),
            ("new", "ein-ganz-neues-passwort"),
            ("repeat", "ein-ganz-neues-passwort"),
        ];
        let missing = client.post_raw("/konto/passwort", &fields).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        let mut wrong = vec![("csrf", "0000")];
        wrong.extend_from_slice(&fields);
        assert_eq!(
            client.post_raw("/konto/passwort", &wrong).await.status,
            StatusCode::FORBIDDEN
        );
        // Another user's token doesn't work either.
        let other = app.login(&username(Role::Dpo, Side::Own)).await;
        let mut foreign = vec![("csrf", other.csrf.as_str())];
        foreign.extend_from_slice(&fields);
        assert_eq!(
            client.post_raw("/konto/passwort", &foreign).await.status,
            StatusCode::FORBIDDEN
        );
        // Nothing changed: the old password still works.
        let mut again = app.client();
        assert_eq!(
            again.login(&jc_admin(), PASSWORD).await.status,
            StatusCode::SEE_OTHER,
            "{backend:?}"
        );
        // With the right token the change goes through.
        assert_eq!(
            client.post("/konto/passwort", &fields).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn bad_input_gets_german_messages_next_to_the_field_and_no_internals() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut jc = app.login(&jc_admin()).await;
        let r = jc
            .post(
                "/auftraege",
                &[
                    ("title", ""),
                    ("service_center", "x"),
                    ("period_start", "31.02.2026"),
                    ("period_end", "morgen"),
                    ("window_days", "Sa"),
                    ("window_start", "07:00"),
                    ("window_end", "20:00"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");
        for text in [
            "Bitte wählen Sie das beauftragte Service-Center aus.",
            "Dieses Datum gibt es nicht.",
            "Bitte geben Sie ein Datum im Format TT.MM.JJJJ an.",
            "Am Samstag darf nicht angerufen werden.",
            "Angerufen werden darf nur zwischen 08:00 und 20:00 Uhr.",
            "id=\"period_start-fehler\"",
            "class=\"error-summary\"",
        ] {
            assert!(r.body.contains(text), "{backend:?}: missing {text}");
        }
        let sc = app.fixtures.sc_y.to_string();
        let reversed = jc
            .post(
                "/auftraege",
                &[
                    ("title", "Test"),
                    ("service_center", &sc),
                    ("period_start", "01.06.2027"),
                    ("period_end", "01.01.2027"),
                ],
            )
            .await;
        assert!(
            reversed
                .body
                .contains("Das Ende des Zeitraums liegt vor seinem Beginn.")
        );
        let ok = jc
            .post(
                "/auftraege",
                &[
                    ("title", "Neu"),
                    ("service_center", &sc),
                    ("fields", "phone"),
                    ("window_days", "Mo"),
                    ("window_days", "Di"),
                    ("window_start", "09:00"),
                    ("window_end", "18:00"),
                    ("period_start", "01.01.2027"),
                    ("period_end", "30.06.2027"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{backend:?}: {}", ok.body);
        let detail = jc.get(ok.location()).await;
        assert!(
            detail.body.contains("30.09.2027"),
            "default deletion deadline"
        );
        let activate = jc
            .post(&format!("{}/status", ok.location()), &[("state", "active")])
            .await;
        assert!(
            activate.body.contains("Aufsichtsbehörde eingetragen ist"),
            "{backend:?}"
        );
        let activate = jc
            .post(
                &format!("{}/status", ok.location()),
                &[("state", "active"), ("authority_notified_on", "15.12.2026")],
            )
            .await;
        assert_eq!(activate.status, StatusCode::SEE_OTHER);
        assert!(jc.get(ok.location()).await.body.contains(">aktiv<"));

        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let u = admin
            .post(
                "/admin/benutzer",
                &[
                    ("username", "Ä b"),
                    ("display_name", ""),
                    ("role", "agent"),
                    ("organisation", "global"),
                ],
            )
            .await;
        assert_eq!(u.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(u.body.contains("Der Benutzername darf nur Kleinbuchstaben"));
        assert!(
            u.body
                .contains("Diese Rolle gehört zu einem Service-Center.")
        );
        let dup = admin
            .post(
                "/admin/jobcenter",
                &[
                    ("jc_code", "jc-a"),
                    ("jc_name", "Doppelt"),
                    ("jc_state", "NW"),
                    ("jc_postcode", "123"),
                ],
            )
            .await;
        assert!(dup.body.contains("Die Postleitzahl hat fünf Ziffern."));
        let dup = admin
            .post(
                "/admin/jobcenter",
                &[
                    ("jc_code", "jc-a"),
                    ("jc_name", "Doppelt"),
                    ("jc_state", "NW"),
                ],
            )
            .await;
        assert!(
            dup.body.contains("Dieses Kürzel ist schon vergeben."),
            "{backend:?}"
        );
        for body in [&r.body, &u.body, &dup.body] {
            for leak in ["sqlx", "panicked", "UNIQUE", "duplicate key", "StoreError"] {
                assert!(
                    !body.contains(leak),
                    "{backend:?}: internal text {leak} shown"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_admin_creates_users_and_resets_passwords() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let org = format!("jc:{}", app.fixtures.jc_a);
        let created = admin
            .post(
                "/admin/benutzer",
                &[
                    ("username", "neu.pap"),
                    ("display_name", "Neue Person"),
                    ("role", "case_manager"),
                    ("organisation", &org),
                    ("pap_code", "pap9"),
                ],
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::OK,
            "{backend:?}: {}",
            created.body
        );
        let start = created.body.find("id=\"passwort\">").unwrap() + "id=\"passwort\">".len();
        let password: String = created.body[start..]
            .chars()
            .take_while(|c| *c != '<')
            .collect();
        assert_eq!(password.len(), 24);
        let mut new_user = app.client();
        let (enrolled, _, codes) = new_user.login_enrolling("neu.pap", &password).await;
        assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
        assert_eq!(codes.len(), 10, "{}", enrolled.body);
        let start_page = new_user.get("/").await;
        assert!(start_page.body.contains("Meine Kundinnen und Kunden"));

        let victim = app.fixtures.victim;
        let mut victim_client = app.client();
        victim_client.login("opfer", PASSWORD).await;
        let reset = admin
            .post(&format!("/admin/benutzer/{victim}/passwort"), &[])
            .await;
        assert!(reset.body.contains("wurde zurückgesetzt"));
        assert_eq!(
            victim_client.get("/").await.location(),
            "/login",
            "{backend:?}: sessions survive reset"
        );
        let off = admin
            .post(&format!("/admin/benutzer/{victim}/deaktivieren"), &[])
            .await;
        assert!(off.body.contains("wurde deaktiviert"));
        assert_eq!(
            app.client().login("opfer", PASSWORD).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let on = admin
            .post(&format!("/admin/benutzer/{victim}/aktivieren"), &[])
            .await;
        assert!(on.body.contains("ist wieder aktiv"), "{backend:?}");
        let actions = audit_actions(&app, &username(Role::Admin, Side::Own)).await;
        for expected in [
            "user_create",
            "password_reset",
            "user_deactivate",
            "user_activate",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{backend:?}: {expected} not audited"
            );
        }
    }
}

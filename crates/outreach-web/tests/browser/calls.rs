//! Calls by keyboard alone: the guide's preview, an agent's call and the
//! case manager's take-over.

use super::*;

/// The preview of the default guide, walked by keyboard alone along three
/// paths: data confirmed, no longer unemployed (job taken up), refusal
/// after the explanation.
#[tokio::test]
async fn the_guide_preview_by_keyboard_alone() {
    use Answer::*;
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    let shots = screenshot_dir();
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let server = Server::start(&app).await;
        let driver = browser(driver_port).await;
        log_in(
            &driver,
            &server.base,
            &username(Role::JobcenterAdmin, Side::Own),
        )
        .await;
        let url = format!("{}/leitfaeden/{}/vorschau", server.base, app.fixtures.guide);
        let tag = format!("{backend:?}").to_lowercase();

        // 1. Data confirmed.
        preview_opening(&driver, &url).await;
        assert_eq!(heading(&driver).await, "Arbeitslosigkeit");
        answer(&driver, Option(0)).await; // still unemployed: Ja
        answer(&driver, Option(0)).await; // available: Ja
        answer(&driver, Option(1)).await; // health: nein
        driver
            .screenshot(&shots.join(format!("{tag}-leitfaden-frage.png")))
            .await
            .unwrap();
        answer(&driver, Keep).await; // phone as stored
        answer(&driver, Keep).await; // e-mail as stored
        answer(&driver, Option(0)).await; // same address: Ja
        answer(&driver, Keep).await; // occupation as stored
        for _ in ["working time", "mobility", "licences", "care"] {
            answer(&driver, Skip).await;
        }
        answer(&driver, Keep).await; // no support wish (empty)
        answer(&driver, Option(1)).await; // appointment: Nein
        assert_eq!(heading(&driver).await, "Zusammenfassung zum Vorlesen");
        let table = driver.find(By::Id("aenderungen")).await.unwrap();
        assert!(table.text().await.unwrap().contains("Keine Änderungen"));
        submit(&driver).await; // confirmed
        assert_eq!(
            outcome(&driver).await,
            "Gespräch geführt, Daten bestätigt",
            "[{tag}]"
        );

        // 2. No longer unemployed: a job taken up, a new phone number.
        preview_opening(&driver, &url).await;
        answer(&driver, Option(1)).await; // still unemployed: Nein
        assert!(
            driver
                .find(By::XPath("//legend[contains(., 'nicht mehr arbeitslos')]"))
                .await
                .is_ok()
        );
        answer(&driver, Option(0)).await; // Beschäftigung 1. Arbeitsmarkt
        answer(&driver, Text("01.11.2026")).await;
        answer(&driver, Text("38")).await;
        answer(&driver, Option(0)).await; // social insurance: Ja
        answer(&driver, Text("0171 2345678")).await;
        answer(&driver, Keep).await; // e-mail
        answer(&driver, Option(0)).await; // same address
        answer(&driver, Keep).await; // no support wish
        answer(&driver, Option(1)).await; // appointment: Nein
        let changes = driver.find(By::Id("aenderungen")).await.unwrap();
        let text = changes.text().await.unwrap();
        // The numbers as the agent reads them back.
        assert!(
            text.contains("0208 1234567") && text.contains("0171 2345678"),
            "{text}"
        );
        driver
            .screenshot(&shots.join(format!("{tag}-leitfaden-zusammenfassung.png")))
            .await
            .unwrap();
        submit(&driver).await;
        assert_eq!(
            outcome(&driver).await,
            "Gespräch geführt, Daten aktualisiert"
        );
        let result = driver.find(By::Css("section.call-step dl")).await.unwrap();
        let result = result.text().await.unwrap();
        assert!(
            result.contains("Beschäftigung 1. Arbeitsmarkt, seit 01.11.2026, 38 Std./Woche, sozialversicherungspflichtig"),
            "{result}"
        );

        // 3. Refusal after the explanation (identity by the letter's code).
        open_ready(&driver, &url).await;
        submit(&driver).await;
        state_identity(&driver, &["", "", "K7QM-4XRP"]).await;
        assert_eq!(heading(&driver).await, "Erläuterung");
        press_button(&driver, "Kunde verweigert weitere Auskunft").await;
        assert_eq!(outcome(&driver).await, "Auskunft verweigert");
        let result = driver.find(By::Css("section.call-step dl")).await.unwrap();
        assert!(!result.text().await.unwrap().contains("Änderung"));
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// An agent by keyboard alone: next case, "keine Antwort" (shortcut 3), the
/// next case reached (shortcut 1), the whole conversation with a new phone
/// number, a reload in the middle that resumes the call; the result stored.
#[tokio::test]
async fn an_agent_calls_by_keyboard_alone() {
    use Answer::*;
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    let shots = screenshot_dir();
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let campaign_id = common::running_campaign(&app).await;
        // Both customers are the own pAp's, whichever the queue hands out.
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute(
            "UPDATE customers SET pap_code = 'PAP1' WHERE job_center_id = $1",
            outreach_store::args![app.fixtures.jc_a],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let server = Server::start(&app).await;
        let driver = browser(driver_port).await;
        let tag = format!("{backend:?}").to_lowercase();
        log_in(&driver, &server.base, &username(Role::Agent, Side::Own)).await;
        open_ready(&driver, &format!("{}/anrufe", server.base)).await;
        assert_eq!(focused_text(&driver).await, "Nächster Fall");
        submit(&driver).await;
        assert_eq!(focused_text(&driver).await, "Anruf starten (Telefon)");
        submit(&driver).await;
        driver
            .screenshot(&shots.join(format!("{tag}-anruf-ergebnis.png")))
            .await
            .unwrap();
        // Saved without a choice: the form again, its error named (and
        // checked by axe, as every page here).
        press_button(&driver, "Ergebnis speichern").await;
        assert!(
            driver.find(By::Id("fehler")).await.is_ok(),
            "[{tag}] no error for a missing result"
        );
        keys(&driver, "3").await; // keine Antwort
        press_button(&driver, "Ergebnis speichern").await;
        let notice = driver.find(By::Css("p.notice")).await.unwrap();
        assert!(
            notice
                .text()
                .await
                .unwrap()
                .contains("Das Ergebnis ist gespeichert")
        );

        // The next case: reached.
        assert_eq!(focused_text(&driver).await, "Nächster Fall");
        submit(&driver).await;
        submit(&driver).await; // Anruf starten
        keys(&driver, "1").await; // erreicht
        press_button(&driver, "Ergebnis speichern").await;
        assert_eq!(heading(&driver).await, "Begrüßung");
        submit(&driver).await;
        // A wrong date of birth first: the step again, saying so.
        state_identity(&driver, &["18.05.1980", "46045"]).await;
        assert_eq!(heading(&driver).await, "Identitätsprüfung", "[{tag}]");
        state_identity(&driver, &["17.05.1980", "46045"]).await;
        submit(&driver).await; // Erläuterung gegeben
        submit(&driver).await; // Kunde willigt ein
        answer(&driver, Option(0)).await; // still unemployed
        // A reload in the middle of the call: the same step again.
        mark_page(&driver).await;
        driver.refresh().await.unwrap();
        wait_for_next_page(&driver).await;
        assert!(
            driver
                .find(By::XPath(
                    "//legend[contains(., 'kurzfristig eine Arbeit')]"
                ))
                .await
                .is_ok(),
            "[{tag}] the call did not resume"
        );
        answer(&driver, Option(0)).await; // available
        answer(&driver, Option(1)).await; // health: nein
        // A number that is none: the question again, its error named.
        answer(&driver, Text("abc")).await;
        assert!(
            driver.find(By::Id("fehler")).await.is_ok(),
            "[{tag}] no error for a wrong phone number"
        );
        answer(&driver, Text("0171 2345678")).await;
        answer(&driver, Skip).await; // e-mail
        answer(&driver, Option(0)).await; // same address
        for _ in [
            "occupation",
            "working time",
            "mobility",
            "licences",
            "care",
            "support",
        ] {
            answer(&driver, Skip).await;
        }
        answer(&driver, Option(1)).await; // appointment: nein
        assert_eq!(heading(&driver).await, "Zusammenfassung zum Vorlesen");
        submit(&driver).await;
        let notice = driver.find(By::Css("p.notice")).await.unwrap();
        assert!(
            notice
                .text()
                .await
                .unwrap()
                .contains("Gespräch geführt, Daten aktualisiert"),
            "[{tag}]"
        );
        assert_eq!(focused_text(&driver).await, "Nächster Fall");
        driver
            .screenshot(&shots.join(format!("{tag}-anruf-ende.png")))
            .await
            .unwrap();
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (changes,): (String,) = tx
            .fetch_one(
                "SELECT r.changes FROM results r JOIN cases k ON k.id = r.case_id WHERE k.campaign_id = $1",
                outreach_store::args![campaign_id],
            )
            .await
            .unwrap();
        assert!(changes.contains("+491712345678"), "[{tag}] {changes}");
        drop(tx);
        the_pap_takes_over(&app, &driver, &server.base, campaign_id, &tag).await;
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// After the agent's call: the pAp sees the result with the changed phone
/// number, acknowledges it, invites the customer who refused (the fixture's
/// refusal) by keyboard, and the administration's report counts the
/// conversation.
pub(super) async fn the_pap_takes_over(
    app: &TestApp,
    driver: &WebDriver,
    base: &str,
    campaign_id: i64,
    tag: &str,
) {
    let shots = screenshot_dir();
    let mut tx = app.state.db.begin_read().await.unwrap();
    let (case,): (i64,) = tx
        .fetch_one(
            "SELECT r.case_id FROM results r JOIN cases k ON k.id = r.case_id WHERE k.campaign_id = $1",
            outreach_store::args![campaign_id],
        )
        .await
        .unwrap();
    drop(tx);
    driver.delete_all_cookies().await.unwrap();
    log_in(driver, base, &username(Role::CaseManager, Side::Own)).await;
    driver.goto(format!("{base}/ergebnisse")).await.unwrap();
    let link = driver
        .find(By::Css(format!("a[href='/ergebnisse/{case}']")))
        .await
        .unwrap_or_else(|_| panic!("[{tag}] the result is not in the inbox"));
    mark_page(driver).await;
    link.send_keys(Key::Enter).await.unwrap();
    wait_for_next_page(driver).await;
    let page = driver.source().await.unwrap();
    assert!(
        page.contains("Gespräch geführt, Daten aktualisiert"),
        "[{tag}]"
    );
    assert!(
        page.contains("2345678"),
        "[{tag}] the new phone number is shown"
    );
    driver
        .screenshot(&shots.join(format!("{tag}-pap-ergebnis.png")))
        .await
        .unwrap();
    // Acknowledge by keyboard.
    driver
        .find(By::Tag("h1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    press_button(driver, "zur Kenntnis genommen").await;
    let notice = driver.find(By::Css("p.notice")).await.unwrap();
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("zur Kenntnis genommen vermerkt"),
        "[{tag}]"
    );

    // The refusal: an invitation.
    let refusal = app.fixtures.result_case;
    driver
        .goto(format!("{base}/ergebnisse/{refusal}/einladung"))
        .await
        .unwrap();
    let purpose = driver.find(By::Id("zweck")).await.unwrap();
    purpose.send_keys("Vermittlung").await.unwrap();
    let day = outreach_core::date::berlin_date(app.state.clock.now())
        .checked_add(jiff::Span::new().days(7))
        .unwrap();
    let day = match day.weekday() {
        jiff::civil::Weekday::Saturday => day.checked_add(jiff::Span::new().days(2)).unwrap(),
        jiff::civil::Weekday::Sunday => day.tomorrow().unwrap(),
        _ => day,
    };
    let date = driver.find(By::Id("datum")).await.unwrap();
    date.send_keys(outreach_core::date::format_de_date(day))
        .await
        .unwrap();
    driver
        .find(By::Id("raum"))
        .await
        .unwrap()
        .send_keys("2.14")
        .await
        .unwrap();
    driver
        .find(By::Id("datum"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    press_button(driver, "Einladung erstellen").await;
    let notice = driver.find(By::Css("p.notice")).await.unwrap();
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("Die Einladung ist erstellt"),
        "[{tag}] {}",
        driver.source().await.unwrap()
    );
    driver
        .screenshot(&shots.join(format!("{tag}-pap-einladung.png")))
        .await
        .unwrap();

    // The administration's report counts the conversation.
    driver.delete_all_cookies().await.unwrap();
    log_in(driver, base, &username(Role::JobcenterAdmin, Side::Own)).await;
    driver
        .goto(format!("{base}/berichte?aktion={campaign_id}"))
        .await
        .unwrap();
    let report = driver.source().await.unwrap();
    assert!(
        report.contains("<td>geführte Gespräche</td><td>1</td>"),
        "[{tag}] {report}"
    );
    assert!(
        report
            .contains("<td>Gespräche mit mindestens einer geänderten Angabe</td><td>100,0 %</td>"),
        "[{tag}]"
    );
    driver
        .screenshot(&shots.join(format!("{tag}-bericht.png")))
        .await
        .unwrap();
}

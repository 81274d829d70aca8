//! The job center's administration in the browser: an import by upload
//! and a campaign.

use super::*;

/// The job center's administration uploads the sample export as a dry run,
/// the page follows the progress by itself and shows the result; then the
/// import is run for real.
pub(super) async fn import_in_the_browser(driver: &WebDriver, base: &str, shots: &Path, tag: &str) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/kunden-export-beispiel.csv");
    let sample = sample.canonicalize().unwrap();
    driver.goto(format!("{base}/kunden/import")).await.unwrap();
    driver
        .find(By::Id("datei"))
        .await
        .unwrap()
        .send_keys(sample.to_str().unwrap())
        .await
        .unwrap();
    driver
        .find(By::Css("form[enctype='multipart/form-data'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = driver
        .query(By::Css("p.notice"))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Probelauf abgeschlossen"),
        "[{tag}]"
    );
    let body = driver
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("übernommen\n25") || body.contains("übernommen 25"),
        "[{tag}] {body}"
    );
    assert_accessible(driver, "the import's trial run").await;
    driver
        .screenshot(&shots.join(format!("{tag}-import-probelauf.png")))
        .await
        .unwrap();
    driver
        .find(By::Css("form[action$='/ausfuehren'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let saved = driver
        .query(By::XPath(
            "//p[contains(., 'Import abgeschlossen und gespeichert.')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(saved.text().await.unwrap().contains("gespeichert"));
    assert_accessible(driver, "the stored import").await;
    driver
        .screenshot(&shots.join(format!("{tag}-import-gespeichert.png")))
        .await
        .unwrap();
}

/// The job center's administration creates a campaign (the count of
/// selected customers appears as the selection is entered), activates it,
/// produces the advance letters, marks the batch sent, and sees the reasons
/// of the cases change from "not sent" to the lead time.
pub(super) async fn campaign_in_the_browser(
    driver: &WebDriver,
    base: &str,
    shots: &Path,
    tag: &str,
) {
    let today = outreach_core::date::berlin_date(jiff::Timestamp::now().as_second());
    let de = outreach_core::date::format_de_date;
    driver.goto(format!("{base}/aktionen/neu")).await.unwrap();
    let preview = driver
        .query(By::XPath(
            "//p[@id='vorschau' and contains(., 'umfasst heute')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(preview.text().await.unwrap().contains("Kunden"), "[{tag}]");
    // A selection too long for the preview's address: the preview says so
    // instead of keeping the old count.
    let set_postcodes = |value: String| async move {
        driver
            .execute(
                "const f = document.getElementById('postcodes'); f.value = arguments[0];
                 f.dispatchEvent(new Event('input', { bubbles: true }));",
                vec![serde_json::Value::String(value)],
            )
            .await
            .unwrap();
    };
    let many = (0..1600)
        .map(|i| format!("{:05}", 10000 + i))
        .collect::<Vec<_>>()
        .join(",");
    set_postcodes(many).await;
    let refused = driver
        .query(By::XPath(
            "//p[@id='vorschau' and contains(., 'zu lang für die Vorschau')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(
        refused.text().await.unwrap().starts_with("Keine Vorschau:"),
        "[{tag}]"
    );
    assert_accessible(driver, "the campaign form with the preview's refusal").await;
    set_postcodes(String::new()).await;
    driver
        .query(By::XPath(
            "//p[@id='vorschau' and contains(., 'umfasst heute')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    let type_into = |id: &'static str, text: String| async move {
        let field = driver.find(By::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    };
    type_into("name", "Aktion im Browser".into()).await;
    type_into("period_start", de(today)).await;
    type_into("period_end", de(today.tomorrow().unwrap())).await;
    driver
        .find(By::Css("#mandate option:nth-child(2)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css("button[value='anlegen']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let click = |xpath: &'static str| async move {
        driver
            .query(By::XPath(xpath))
            .wait(Duration::from_secs(30), Duration::from_millis(100))
            .first()
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    };
    click("//button[normalize-space()='Aktivieren']").await;
    click("//button[starts-with(normalize-space(), 'Briefstapel')]").await;
    let reasons = driver
        .query(By::XPath(
            "//table[@id='gruende' and contains(., 'Vorabinformation noch nicht versandt')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(reasons.is_displayed().await.unwrap(), "[{tag}]");
    assert_accessible(driver, "the campaign with its letter batch").await;
    driver
        .screenshot(&shots.join(format!("{tag}-aktion-stapel.png")))
        .await
        .unwrap();
    // All print files: the progress page reloads itself when they are done.
    click("//button[normalize-space()='Alle Druckdateien erzeugen (ZIP)']").await;
    let ready = driver
        .query(By::Id("druck-fertig"))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(
        ready
            .text()
            .await
            .unwrap()
            .contains("Die Druckdateien sind fertig"),
        "[{tag}]"
    );
    let zip = driver
        .find(By::XPath(
            "//a[starts-with(normalize-space(), 'Druckdateien herunterladen')]",
        ))
        .await
        .unwrap();
    assert!(
        zip.attr("href")
            .await
            .unwrap()
            .unwrap_or_default()
            .ends_with("/druck/zip")
    );
    assert_accessible(driver, "the finished print job").await;
    driver
        .screenshot(&shots.join(format!("{tag}-aktion-druck.png")))
        .await
        .unwrap();
    driver
        .find(By::PartialLinkText("Zurück zur Aktion"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let sent_on = driver.find(By::Css("input[id^='sent_on_']")).await.unwrap();
    sent_on.send_keys(de(today)).await.unwrap();
    click("//button[normalize-space()='Als versandt markieren']").await;
    let waiting = driver
        .query(By::XPath(
            "//table[@id='gruende' and contains(., 'Wartefrist bis')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    let text = waiting.text().await.unwrap();
    assert!(!text.contains("noch nicht versandt"), "[{tag}] {text}");
    assert_accessible(driver, "the campaign after sending").await;
    driver
        .screenshot(&shots.join(format!("{tag}-aktion-versandt.png")))
        .await
        .unwrap();
}

//! axe-core on the pages the browser tests reach: every violation of a
//! WCAG 2.1 A/AA rule (and of `label-content-name-mismatch`, WCAG 2.5.3,
//! which axe leaves off by default) fails the test.
//!
//! axe-core is not part of the product or the repository: `.ci/run` installs
//! the pinned version from npm and names its script in `OUTREACH_AXE_CORE`
//! (default `~/.cache/outreach-axe/node_modules/axe-core/axe.min.js`).
//! Without it the check is skipped with a message, except in CI, where that
//! is a failure.

use super::*;
use std::sync::OnceLock;

fn axe_path() -> PathBuf {
    if let Some(path) = std::env::var_os("OUTREACH_AXE_CORE") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/outreach-axe/node_modules/axe-core/axe.min.js")
}

/// The axe-core script, read once; `None` (with a message) when it is missing
/// outside CI.
fn axe_source() -> Option<&'static str> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let path = axe_path();
            match std::fs::read_to_string(&path) {
                Ok(source) => Some(source),
                Err(e) => {
                    assert!(
                        !browser_required(),
                        "axe-core fehlt ({}: {e}); in CI ist das ein Fehler (.ci/run installiert es)",
                        path.display()
                    );
                    eprintln!(
                        "HINWEIS: axe-core fehlt ({}); Barrierefreiheitsprüfung übersprungen \
                         (npm install --prefix ~/.cache/outreach-axe axe-core@4).",
                        path.display()
                    );
                    None
                }
            }
        })
        .as_deref()
}

/// Runs axe on the document and returns one line per violation and node.
const RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  rules: { 'label-content-name-mismatch': { enabled: true } },
  resultTypes: ['violations'],
}).then(r => done(r.violations.flatMap(v => v.nodes.map(n =>
    v.id + ' (' + v.help + ') at ' + n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' ')))))
  .catch(e => done(['axe failed: ' + e]));
"#;

/// The violations on the page shown now (empty when axe is missing outside CI).
pub async fn violations(driver: &WebDriver) -> Vec<String> {
    let Some(source) = axe_source() else {
        return Vec::new();
    };
    let loaded = driver
        .execute("return typeof window.axe !== 'undefined';", Vec::new())
        .await
        .unwrap()
        .convert::<bool>()
        .unwrap();
    if !loaded {
        driver.execute(source, Vec::new()).await.unwrap();
    }
    driver
        .set_script_timeout(Duration::from_secs(120))
        .await
        .unwrap();
    driver
        .execute_async(RUN, Vec::new())
        .await
        .unwrap()
        .convert::<Vec<String>>()
        .unwrap()
}

/// Fails when axe finds anything on the page shown now; `what` names it.
pub async fn assert_accessible(driver: &WebDriver, what: &str) {
    let found = violations(driver).await;
    if !found.is_empty() {
        let url = driver.current_url().await.unwrap();
        panic!(
            "axe: {} Verstöße auf {what} ({url}):\n{}",
            found.len(),
            found.join("\n")
        );
    }
}

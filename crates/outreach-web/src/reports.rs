//! Campaign reports for the job center's administration (its campaigns) and
//! supervisors (their service center's): cases by state and final
//! disposition, AAPOR classes and rates, the share no longer unemployed next
//! to the 2005 baseline, changed fields, attempts and talk time, reach rate
//! by weekday and time slot, progress per day. Charts are SVG drawn on the
//! server with a data table beside each; every table downloads as CSV. Team
//! figures only, no names.

use crate::forms::QueryData;
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;
use outreach_app::reports::Figures;
use outreach_core::access::{Action, Role};
use outreach_core::calls::WEEKDAYS;
use outreach_core::calls::rules::SLOTS;
use outreach_core::campaign::FinalDisposition;
use outreach_core::date::{berlin_date, format_de_date};
use outreach_core::metrics::{AaporCounts, percent_de, ratio};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewReports);
    Routes::new()
        .get("/berichte", view, page)
        .get("/berichte/tabelle.csv", view, table_csv)
}

/// The share of completed conversations ending "no longer unemployed" in
/// the 2005 campaign (DOMAIN.md).
const BASELINE_2005: f64 = 0.07;

/// A table of the report; the same rows go to the page and the CSV.
struct Table {
    id: &'static str,
    caption: String,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

/// A bar of a chart, laid out here; the template only draws it.
struct Bar {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    label: String,
    label_x: i64,
    label_y: i64,
    value: String,
    value_x: i64,
    value_y: i64,
}

struct Chart {
    id: &'static str,
    title: String,
    /// The table with the same figures: its id and caption.
    table: &'static str,
    table_caption: String,
    width: i64,
    height: i64,
    horizontal: bool,
    bars: Vec<Bar>,
}

impl Chart {
    /// Vertical bars, `(label, value, value text)`, scaled to the largest.
    fn vertical(
        id: &'static str,
        title: String,
        table: &'static str,
        items: &[(String, f64, String)],
    ) -> Chart {
        let (top, base, gap): (i64, i64, i64) = (20, 180, 8);
        let width = (items.len() as i64 * 56).clamp(240, 900);
        let slot = (width - 20) / (items.len() as i64).max(1);
        let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
        let bars = items
            .iter()
            .enumerate()
            .map(|(n, (label, value, text))| {
                let height = if max > 0.0 {
                    ((value / max) * (base - top) as f64).round() as i64
                } else {
                    0
                };
                let x = 10 + n as i64 * slot + gap / 2;
                let w = (slot - gap).max(4);
                Bar {
                    x,
                    y: base - height,
                    width: w,
                    height,
                    label: label.clone(),
                    label_x: x + w / 2,
                    label_y: base + 16,
                    value: text.clone(),
                    value_x: x + w / 2,
                    value_y: base - height - 4,
                }
            })
            .collect();
        Chart {
            id,
            title,
            table,
            table_caption: String::new(),
            width,
            height: base + 28,
            horizontal: false,
            bars,
        }
    }

    /// Horizontal bars with the labels on the left.
    fn horizontal(
        id: &'static str,
        title: String,
        table: &'static str,
        items: &[(String, f64, String)],
    ) -> Chart {
        let (left, right, row): (i64, i64, i64) = (300, 660, 26);
        let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
        let bars = items
            .iter()
            .enumerate()
            .map(|(n, (label, value, text))| {
                let width = if max > 0.0 {
                    ((value / max) * (right - left - 70) as f64).round() as i64
                } else {
                    0
                };
                let y = 8 + n as i64 * row;
                Bar {
                    x: left,
                    y,
                    width,
                    height: row - 8,
                    label: label.clone(),
                    label_x: left - 8,
                    label_y: y + 14,
                    value: text.clone(),
                    value_x: left + width + 6,
                    value_y: y + 14,
                }
            })
            .collect();
        Chart {
            id,
            title,
            table,
            table_caption: String::new(),
            width: right,
            height: 16 + items.len() as i64 * row,
            horizontal: true,
            bars,
        }
    }
}

fn number(n: i64) -> String {
    outreach_core::text::de_integer(n)
}

fn decimal(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.2}").replace('.', ","))
}

fn state_label(code: &str) -> &'static str {
    match code {
        "fresh" => "noch nicht angerufen",
        "retry" => "erneuter Versuch geplant",
        "callback" => "Rückruf vereinbart",
        "final" => "abgeschlossen",
        _ => "sonstiger Stand",
    }
}

/// Berlin weekday (0 = Monday) and hour of a unix hour.
fn weekday_hour(unix_hour: i64) -> Option<(usize, i8)> {
    let zoned = jiff::Timestamp::from_second(unix_hour * 3600)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").ok()?);
    let day = WEEKDAYS
        .iter()
        .position(|(w, _, _)| *w == zoned.weekday())?;
    Some((day, zoned.hour()))
}

struct Report {
    tables: Vec<Table>,
    charts: Vec<Chart>,
    /// Key figures at the top: (label, value).
    key: Vec<(&'static str, String)>,
}

fn build(f: &Figures) -> Report {
    let mut tables = Vec::new();
    let mut charts = Vec::new();
    let total: i64 = f.states.iter().map(|s| s.1).sum();

    tables.push(Table {
        id: "stand",
        caption: "Fälle nach Stand".into(),
        headers: vec!["Stand", "Fälle", "Anteil"],
        rows: f
            .states
            .iter()
            .map(|(code, n)| {
                vec![
                    state_label(code).to_string(),
                    number(*n),
                    percent_de(ratio(*n, total)),
                ]
            })
            .collect(),
    });

    let mut aapor = AaporCounts::default();
    for (code, n) in &f.dispositions {
        aapor.add(code, *n);
    }
    let finals: i64 = f.dispositions.iter().map(|d| d.1).sum();
    let mut outcome_items = Vec::new();
    let mut outcome_rows = Vec::new();
    for d in FinalDisposition::ALL {
        let n = f
            .dispositions
            .iter()
            .find(|(code, _)| code == d.code())
            .map_or(0, |x| x.1);
        outcome_rows.push(vec![
            d.label().to_string(),
            d.aapor().to_string(),
            number(n),
            percent_de(ratio(n, finals)),
        ]);
        outcome_items.push((d.label().to_string(), n as f64, number(n)));
    }
    tables.push(Table {
        id: "ergebnisse",
        caption: "Abgeschlossene Fälle nach Ergebnis (mit AAPOR-Klasse)".into(),
        headers: vec!["Ergebnis", "AAPOR-Klasse", "Fälle", "Anteil"],
        rows: outcome_rows,
    });
    charts.push(Chart::horizontal(
        "diagramm-ergebnisse",
        "Abgeschlossene Fälle nach Ergebnis".into(),
        "ergebnisse",
        &outcome_items,
    ));

    let leaving = ratio(f.no_longer_unemployed, f.completed);
    let rates = [
        ("RR1 (Antwortquote)", aapor.rr1()),
        ("RR2 (Antwortquote mit Teilgesprächen)", aapor.rr2()),
        ("COOP1 (Kooperationsquote)", aapor.coop1()),
        ("REF1 (Verweigerungsquote)", aapor.ref1()),
        ("CON1 (Kontaktquote)", aapor.con1()),
    ];
    let mut key_rows: Vec<Vec<String>> = rates
        .iter()
        .map(|(label, v)| vec![label.to_string(), percent_de(*v)])
        .collect();
    key_rows.push(vec!["geführte Gespräche".into(), number(f.completed)]);
    key_rows.push(vec![
        "davon nicht mehr arbeitslos".into(),
        format!(
            "{} ({})",
            percent_de(leaving),
            number(f.no_longer_unemployed)
        ),
    ]);
    key_rows.push(vec![
        "Vergleichswert der Aktion 2005".into(),
        percent_de(Some(BASELINE_2005)),
    ]);
    key_rows.push(vec![
        "Gespräche mit mindestens einer geänderten Angabe".into(),
        percent_de(ratio(f.with_change, f.completed)),
    ]);
    key_rows.push(vec![
        "Anrufversuche je geführtem Gespräch".into(),
        decimal(ratio(f.attempts_of_completed, f.completed)),
    ]);
    let talk = ratio(f.talk_seconds, f.talks);
    key_rows.push(vec![
        "mittlere Gesprächsdauer".into(),
        talk.map_or_else(
            || "–".into(),
            |s| {
                format!(
                    "{}:{:02} Min.",
                    (s / 60.0).floor() as i64,
                    (s % 60.0).round() as i64
                )
            },
        ),
    ]);
    let key = vec![
        ("Fälle", number(total)),
        ("abgeschlossen", number(finals)),
        ("RR1", percent_de(aapor.rr1())),
        ("nicht mehr arbeitslos", percent_de(leaving)),
        ("Vergleichswert 2005", percent_de(Some(BASELINE_2005))),
    ];
    tables.push(Table {
        id: "kennzahlen",
        caption: "Kennzahlen (Quoten nach AAPOR, bezogen auf abgeschlossene Fälle)".into(),
        headers: vec!["Kennzahl", "Wert"],
        rows: key_rows,
    });

    tables.push(Table {
        id: "gruende",
        caption: "Gründe: nicht mehr arbeitslos".into(),
        headers: vec!["Grund", "Gespräche", "Anteil"],
        rows: f
            .reasons
            .iter()
            .map(|(reason, n)| {
                vec![
                    reason.clone(),
                    number(*n),
                    percent_de(ratio(*n, f.no_longer_unemployed)),
                ]
            })
            .collect(),
    });
    tables.push(Table {
        id: "felder",
        caption: "Geänderte Angaben je Feld (Anteil an geführten Gesprächen)".into(),
        headers: vec!["Feld", "Gespräche", "Anteil"],
        rows: f
            .changed_fields
            .iter()
            .map(|(field, n)| {
                vec![
                    field.label().to_string(),
                    number(*n),
                    percent_de(ratio(*n, f.completed)),
                ]
            })
            .collect(),
    });

    // Reach rate by weekday and slot (Berlin time).
    let mut grid = [[(0i64, 0i64); 3]; 7];
    for (hour, all, reached) in &f.attempts_by_hour {
        if let Some((day, h)) = weekday_hour(*hour)
            && let Some(slot) = SLOTS.iter().position(|(a, b)| h >= *a && h < *b)
        {
            grid[day][slot].0 += all;
            grid[day][slot].1 += reached;
        }
    }
    let slot_label = |s: usize| format!("{:02}–{:02} Uhr", SLOTS[s].0, SLOTS[s].1);
    let mut reach_rows = Vec::new();
    for ((_, _, name), slots) in WEEKDAYS.iter().zip(grid.iter()) {
        for (slot, (all, reached)) in slots.iter().copied().enumerate() {
            if all > 0 {
                reach_rows.push(vec![
                    name.to_string(),
                    slot_label(slot),
                    number(all),
                    number(reached),
                    percent_de(ratio(reached, all)),
                ]);
            }
        }
    }
    tables.push(Table {
        id: "erreichbarkeit",
        caption: "Erreichbarkeit nach Wochentag und Zeitfenster".into(),
        headers: vec!["Wochentag", "Zeitfenster", "Versuche", "erreicht", "Quote"],
        rows: reach_rows,
    });
    let slot_items: Vec<(String, f64, String)> = (0..SLOTS.len())
        .map(|slot| {
            let all: i64 = grid.iter().map(|d| d[slot].0).sum();
            let reached: i64 = grid.iter().map(|d| d[slot].1).sum();
            let share = ratio(reached, all);
            (slot_label(slot), share.unwrap_or(0.0), percent_de(share))
        })
        .collect();
    charts.push(Chart::vertical(
        "diagramm-erreichbarkeit",
        "Erreichbarkeit nach Zeitfenster (alle Wochentage)".into(),
        "erreichbarkeit",
        &slot_items,
    ));

    // Progress: cases closed per day, and the running total.
    let mut days: Vec<(jiff::civil::Date, i64)> = Vec::new();
    for (hour, n) in &f.closed_by_hour {
        let day = berlin_date(hour * 3600);
        match days.last_mut() {
            Some((d, count)) if *d == day => *count += n,
            _ => days.push((day, *n)),
        }
    }
    let mut running = 0;
    let progress_rows = days
        .iter()
        .map(|(day, n)| {
            running += n;
            vec![format_de_date(*day), number(*n), number(running)]
        })
        .collect();
    tables.push(Table {
        id: "verlauf",
        caption: "Verlauf: abgeschlossene Fälle je Tag".into(),
        headers: vec!["Tag", "abgeschlossen", "kumuliert"],
        rows: progress_rows,
    });
    let recent = &days[days.len().saturating_sub(30)..];
    let day_items: Vec<(String, f64, String)> = recent
        .iter()
        .map(|(day, n)| {
            (
                format!("{:02}.{:02}.", day.day(), day.month()),
                *n as f64,
                number(*n),
            )
        })
        .collect();
    charts.push(Chart::vertical(
        "diagramm-verlauf",
        "Verlauf: abgeschlossene Fälle je Tag (letzte 30 Tage)".into(),
        "verlauf",
        &day_items,
    ));
    // Each chart names the table that holds its figures.
    for chart in &mut charts {
        if let Some(table) = tables.iter().find(|t| t.id == chart.table) {
            chart.table_caption = table.caption.clone();
        }
    }
    Report {
        tables,
        charts,
        key,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/reports.html")]
struct Page {
    layout: Layout,
    campaigns: Vec<(i64, String)>,
    selected: String,
    scope_label: String,
    report: Report,
}

async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Page, AppError> {
    let r = outreach_app::reports::figures(&state.db, &ctx.user.actor, query.get("aktion")).await?;
    let (campaigns, selected, figures) = (r.campaigns, r.selected, r.figures);
    let scope_label = match selected.and_then(|id| campaigns.iter().find(|c| c.id == id)) {
        Some(c) => format!("Aktion „{}“", c.name),
        None if ctx.user.actor.role == Role::Supervisor => {
            "alle Aktionen Ihres Service-Centers".into()
        }
        None => "alle Aktionen Ihres Jobcenters".into(),
    };
    Ok(Page {
        layout: Layout::new(&ctx.user, "Berichte", "/berichte"),
        campaigns: campaigns.into_iter().map(|c| (c.id, c.name)).collect(),
        selected: selected.map(|s| s.to_string()).unwrap_or_default(),
        scope_label,
        report: build(&figures),
    })
}

async fn table_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let r = outreach_app::reports::figures(&state.db, &ctx.user.actor, query.get("aktion")).await?;
    let report = build(&r.figures);
    let table = report
        .tables
        .into_iter()
        .find(|t| match query.get("tabelle") {
            "" => t.id == "kennzahlen",
            id => t.id == id,
        })
        .ok_or(AppError::NotFound)?;
    let header: Vec<String> = table.headers.iter().map(|h| h.to_string()).collect();
    crate::download::csv(
        &format!("bericht-{}.csv", table.id),
        std::iter::once(header).chain(table.rows),
    )
}

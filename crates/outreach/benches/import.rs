//! Import benchmark: generates a realistic job-center export of N rows
//! (default 1,000,000; `BENCH_ROWS`), then times, in the same run,
//!   - the baselines: `sqlite3 .import` into a table with a unique index on the
//!     customer number, and `psql \copy` into such a PostgreSQL table;
//!   - `outreach import customers` of the same file into SQLite and PostgreSQL,
//!     with its peak memory (`/usr/bin/time`).
//!
//! Run: `cargo bench -p outreach --bench import`. Prints the figures.
//!
//! A same-run comparison of builds: `OUTREACH_BIN=/old/outreach:/new/outreach`
//! times each binary in turn against a fresh database, `BENCH_ROUNDS` times
//! (default 1), after the baselines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_store::Backend;
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::{TestDb, backends};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const FIRST: [&str; 24] = [
    "Anna",
    "Mehmet",
    "Marie-Luise",
    "Jürgen",
    "Sofia",
    "Lukas",
    "Ayşe",
    "Peter",
    "Olga",
    "Thomas",
    "Fatma",
    "Jan",
    "Katarzyna",
    "Dirk",
    "Leonie",
    "Hans-Jörg",
    "Björn",
    "Zoë",
    "Ömer",
    "Günther",
    "Elif",
    "Dieter",
    "Małgorzata",
    "Sven",
];
const LAST: [&str; 24] = [
    "Müller",
    "Schmidt",
    "Köhler",
    "Yılmaz",
    "Hoffmann",
    "Weiß",
    "Nowak",
    "Becker",
    "Schäfer",
    "Öztürk",
    "Wagner",
    "Groß",
    "Kowalski",
    "Meyer",
    "Fuchs",
    "Brandt",
    "Schulze-Bäumer",
    "Krüger",
    "Jäger",
    "Demir",
    "Lehmann",
    "Hübner",
    "Şahin",
    "Vogel",
];
const STREETS: [&str; 10] = [
    "Königstraße",
    "Mülheimer Straße",
    "Essener Straße",
    "Schulstraße",
    "Marktstraße",
    "Elsässer Straße",
    "Bahnhofstraße",
    "Lothringer Straße",
    "Am Förderturm",
    "Düppelstraße",
];
const CITIES: [(&str, &str, &str, &str); 6] = [
    ("46045", "Oberhausen", "0208", "NW"),
    ("45127", "Essen", "0201", "NW"),
    ("20095", "Hamburg", "040", "HH"),
    ("80331", "München", "089", "BY"),
    ("10115", "Berlin", "030", "BE"),
    ("01067", "Dresden", "0351", "SN"),
];
const JOBS: [&str; 8] = [
    "Lagerlogistik",
    "Altenpflegehelfer/in",
    "Bürokaufmann/-frau",
    "Reinigungskraft",
    "Berufskraftfahrer/in",
    "Verkäufer/in",
    "Koch/Köchin",
    "Elektroniker/in",
];

/// A small deterministic generator (the same file every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A phone number written the many ways people write them.
fn phone(rng: &mut Lcg, area: &str) -> String {
    let n = 1_000_000 + rng.next(8_999_999);
    let a = area.trim_start_matches('0');
    match rng.next(8) {
        0 => format!("{area} / {} {}-{}", n / 10_000, (n / 100) % 100, n % 100),
        1 => format!("+49 (0){a} {n}"),
        2 => format!("0049 {a} {n}"),
        3 => format!("({area}) {} {}", n / 100_000, n % 100_000),
        4 => format!("{area}-{n}"),
        5 => format!(" {area} {n} "),
        6 => "n.v.".to_string(),
        _ => format!("{area} {n}"),
    }
}

fn generate(path: &Path, rows: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "Kundennummer;BG-Nummer;Anrede;Vorname;Nachname;Geburtsdatum;Straße;Hausnummer;PLZ;Ort;Telefon;Mobil;E-Mail;Status;Arbeitslos seit;Zielberuf;pAp-Kennung;Letzter Kontakt;Bundesland").unwrap();
    let mut rng = Lcg(42);
    for i in 0..rows {
        let (plz, city, area, state) = CITIES[rng.next(CITIES.len())];
        let first = FIRST[rng.next(FIRST.len())];
        let last = LAST[rng.next(LAST.len())];
        let mobile = if rng.next(3) == 0 {
            format!(
                "01{}{}-{}",
                5 + rng.next(3),
                rng.next(10),
                1_000_000 + rng.next(8_999_999)
            )
        } else {
            String::new()
        };
        let email = if rng.next(2) == 0 {
            format!(
                "{}.{}{}@example.org",
                first.to_lowercase(),
                last.to_lowercase(),
                rng.next(100)
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:03}E{:07};{:05}BG{:07};{};{};{};{:02}.{:02}.{};{};{};{};{};{};{};{};{};{:02}.{:02}.{};{};PAP{:03};{:02}.{:02}.{};{}",
            rng.next(999),
            i + 1,
            10_000 + rng.next(89_999),
            1_000_000 + rng.next(8_999_999),
            ["Herr", "Frau", "", "Divers"][rng.next(4)],
            first,
            last,
            1 + rng.next(28),
            1 + rng.next(12),
            1960 + rng.next(46),
            STREETS[rng.next(STREETS.len())],
            1 + rng.next(200),
            plz,
            city,
            phone(&mut rng, area),
            mobile,
            email,
            ["arbeitslos", "arbeitslos", "arbeitsuchend", "nicht arbeitsuchend", ""][rng.next(5)],
            1 + rng.next(28),
            1 + rng.next(12),
            2018 + rng.next(8),
            JOBS[rng.next(JOBS.len())],
            1 + rng.next(60),
            1 + rng.next(28),
            1 + rng.next(12),
            2024 + rng.next(2),
            state,
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Runs a command under `/usr/bin/time`; returns (seconds, peak RSS in MB).
fn timed(command: &mut Command) -> (f64, f64) {
    let report = std::env::temp_dir().join(format!("outreach-time-{}", std::process::id()));
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = command
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(program)
        .args(args);
    for (k, v) in envs {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let started = Instant::now();
    let output = wrapped.output().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{:?} failed: {}{}",
        command,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let kb: f64 = std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    (seconds, kb / 1024.0)
}

fn main() {
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("kunden-export-{rows}.csv"));
    if !file.exists() {
        let t = Instant::now();
        generate(&file, rows);
        println!(
            "generated {} in {:.1} s",
            file.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&file).unwrap().len();
    println!("Import benchmark: {rows} rows, {:.0} MB", size as f64 / 1e6);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Databases are dropped inside the runtime.
    let _runtime = rt.enter();
    let bins: Vec<String> = match std::env::var("OUTREACH_BIN") {
        Ok(list) if !list.is_empty() => list.split(':').map(String::from).collect(),
        _ => vec![env!("CARGO_BIN_EXE_outreach").to_string()],
    };
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let path = file.to_str().unwrap();

    // Baseline: sqlite3 .import into a table with a unique index.
    let baseline_db = dir.join("baseline.db");
    let _ = std::fs::remove_file(&baseline_db);
    let script = format!(
        "CREATE TABLE kunden (kundennummer TEXT, bg TEXT, anrede TEXT, vorname TEXT, nachname TEXT, geburtsdatum TEXT, strasse TEXT, hausnummer TEXT, plz TEXT, ort TEXT, telefon TEXT, mobil TEXT, email TEXT, status TEXT, arbeitslos_seit TEXT, zielberuf TEXT, pap TEXT, letzter_kontakt TEXT, bundesland TEXT);\nCREATE UNIQUE INDEX kunden_nummer ON kunden (kundennummer);\n.mode csv\n.separator ;\n.import --skip 1 {path} kunden\n"
    );
    let script_file = dir.join("baseline.sql");
    std::fs::write(&script_file, script).unwrap();
    let (s, m) = timed(Command::new("sh").arg("-c").arg(format!(
        "sqlite3 {} < {}",
        baseline_db.display(),
        script_file.display()
    )));
    println!("  sqlite3 .import (baseline)           {s:>7.2} s   peak {m:>6.0} MB");
    let sqlite_baseline = s;

    for backend in rt.block_on(backends()) {
        let fresh = || {
            let t = rt.block_on(TestDb::new(backend)).unwrap();
            rt.block_on(async {
                let mut tx = t.db.begin().await.unwrap();
                let jc = NewJobCenter {
                    code: "bench".into(),
                    name: "Bench".into(),
                    ..NewJobCenter::default()
                };
                org::create_job_center(&mut tx, &jc, 0).await.unwrap();
                tx.commit().await.unwrap();
            });
            t
        };
        let baseline = if backend == Backend::Postgres {
            // Baseline: psql \copy into a table with a unique index, in the same database.
            let t = fresh();
            let create = "CREATE TABLE kunden (kundennummer TEXT, bg TEXT, anrede TEXT, vorname TEXT, nachname TEXT, geburtsdatum TEXT, strasse TEXT, hausnummer TEXT, plz TEXT, ort TEXT, telefon TEXT, mobil TEXT, email TEXT, status TEXT, arbeitslos_seit TEXT, zielberuf TEXT, pap TEXT, letzter_kontakt TEXT, bundesland TEXT); CREATE UNIQUE INDEX kunden_nummer ON kunden (kundennummer);";
            let ok = Command::new("psql")
                .arg(&t.url)
                .arg("-qc")
                .arg(create)
                .status()
                .unwrap();
            assert!(ok.success());
            let (s, m) = timed(Command::new("psql").arg(&t.url).arg("-qc").arg(format!(
                "\\copy kunden FROM '{path}' WITH (FORMAT csv, DELIMITER ';', HEADER true)"
            )));
            println!("  psql \\copy (baseline)                 {s:>7.2} s   peak {m:>6.0} MB");
            s
        } else {
            sqlite_baseline
        };
        let name = if backend == Backend::Postgres {
            "PostgreSQL"
        } else {
            "SQLite    "
        };
        for _ in 0..rounds {
            for bin in &bins {
                let t = fresh();
                let (ours, memory) = timed(Command::new(bin).args([
                    "import",
                    "customers",
                    path,
                    "--jobcenter",
                    "bench",
                    "--database-url",
                    &t.url,
                ]));
                let which = if bins.len() > 1 {
                    format!("   {bin}")
                } else {
                    String::new()
                };
                println!(
                    "  outreach import → {name}           {ours:>7.2} s   peak {memory:>6.0} MB   ({:.2}× baseline){which}",
                    ours / baseline
                );
            }
        }
    }
}

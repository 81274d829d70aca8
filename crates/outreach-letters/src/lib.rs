//! Letters as PDF: DIN 5008 Form B letters typeset by typst, used as a
//! library. Templates and fonts are embedded in the binary; each letter's data
//! goes in as JSON (never as typst source, so a name is never read as markup).
//!
//! A batch is one typst document of many letters. Every letter has exactly
//! [`PAGES_PER_LETTER`] pages (the letter and its data protection notice), so
//! letter *n* of a file starts on page `n * PAGES_PER_LETTER + 1`; rendering
//! checks this and refuses a batch where a letter ran over.

mod advance;
pub mod batch;
pub mod invitation;
mod world;
pub mod zip;

pub use advance::{ADVANCE_TEMPLATE_VERSION, AdvanceLetter, Organisation, Recipient};
pub use world::Renderer;

/// Pages of every letter: the letter, and the data protection notice on the back.
pub const PAGES_PER_LETTER: usize = 2;

/// The most letters in one PDF file of a print batch. The issue allows up to
/// 1,000; typst's memory grows with the pages of one document (10,000 letters
/// on two threads: 2.0 GB peak with 1,000 a file, 540 MB with 250, 338 MB
/// with 125), so files hold 125 letters (250 pages; see BENCHMARKS.md).
pub const LETTERS_PER_FILE: usize = 125;

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// typst refused the template or the data; the messages are typst's own.
    #[error("Der Brief konnte nicht gesetzt werden: {0}")]
    Typeset(String),
    /// A letter took more (or fewer) pages than it may.
    #[error(
        "Ein Brief passt nicht auf {PAGES_PER_LETTER} Seiten ({pages} Seiten für {letters} Briefe); bitte prüfen Sie die Adressdaten."
    )]
    Overflow { pages: usize, letters: usize },
    /// A required item of the letter is missing; the message says which.
    #[error("{0}")]
    Missing(String),
    #[error("Die Briefdaten konnten nicht geschrieben werden: {0}")]
    Data(#[from] serde_json::Error),
}

/// SHA-256 of a letter's template version and data, hex: two letters with the
/// same hash have the same content.
pub fn content_hash(template_version: &str, data: &impl serde::Serialize) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(template_version.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(data).unwrap_or_default());
    hex::encode(hasher.finalize())
}

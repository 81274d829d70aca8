//! The typst "world": embedded templates and fonts, and one virtual data file.

use crate::{LetterError, PAGES_PER_LETTER};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const FONTS: [&[u8]; 3] = [
    include_bytes!("../fonts/LiberationSans-Regular.ttf"),
    include_bytes!("../fonts/LiberationSans-Bold.ttf"),
    include_bytes!("../fonts/LiberationSans-Italic.ttf"),
];

/// The templates, by file name.
const TEMPLATES: [(&str, &str); 3] = [
    ("common.typ", include_str!("../templates/common.typ")),
    ("advance.typ", include_str!("../templates/advance.typ")),
    (
        "invitation.typ",
        include_str!("../templates/invitation.typ"),
    ),
];

/// The name of the JSON file a template reads its letters from.
const DATA_FILE: &str = "letters.json";

fn file_id(name: &str) -> Option<FileId> {
    let path = VirtualPath::new(format!("/{name}")).ok()?;
    Some(RootedPath::new(VirtualRoot::Project, path).intern())
}

/// Typesets letters. Holds the fonts and the parsed templates; cheap to share
/// between threads (typst needs deep stacks: render on threads with 16 MiB).
pub struct Renderer {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    sources: Vec<Source>,
}

impl Default for Renderer {
    fn default() -> Renderer {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        let fonts: Vec<Font> = FONTS
            .iter()
            .flat_map(|data| Font::iter(Bytes::new(*data)))
            .collect();
        let sources = TEMPLATES
            .iter()
            .filter_map(|(name, text)| Some(Source::new(file_id(name)?, (*text).to_string())))
            .collect();
        Renderer {
            library: LazyHash::new(Library::builder().build()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            sources,
        }
    }

    /// Typesets `letters` (the template's JSON data, a list) with the template
    /// `template`, as one PDF. Byte-identical for identical data.
    pub fn render(
        &self,
        template: &str,
        letters: &serde_json::Value,
        count: usize,
    ) -> Result<Vec<u8>, LetterError> {
        let main = file_id(template)
            .ok_or_else(|| LetterError::Typeset(format!("unbekannte Vorlage {template}")))?;
        let world = BatchWorld {
            renderer: self,
            main,
            data: Bytes::new(serde_json::to_vec(letters)?),
        };
        let result = typst::compile::<PagedDocument>(&world).output;
        // typst memoises across compilations; without eviction memory grows
        // with every batch.
        comemo::evict(2);
        let document = result.map_err(|errors| {
            LetterError::Typeset(
                errors
                    .iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        if document.pages().len() != count * PAGES_PER_LETTER {
            return Err(LetterError::Overflow {
                pages: document.pages().len(),
                letters: count,
            });
        }
        let options = typst_pdf::PdfOptions {
            ident: typst::foundations::Smart::Custom(format!("outreach-{template}")),
            timestamp: None,
            ..typst_pdf::PdfOptions::default()
        };
        typst_pdf::pdf(&document, &options).map_err(|errors| {
            LetterError::Typeset(
                errors
                    .iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

struct BatchWorld<'a> {
    renderer: &'a Renderer,
    main: FileId,
    data: Bytes,
}

impl World for BatchWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.renderer.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.renderer.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.renderer
            .sources
            .iter()
            .find(|s| s.id() == id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if Some(id) == file_id(DATA_FILE) {
            return Ok(self.data.clone());
        }
        self.source(id)
            .map(|s| Bytes::from_string(s.text().to_string()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.renderer.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // Letters carry their date as data; typst's clock is never read.
        None
    }
}

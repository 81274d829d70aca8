//! Reading job-center customer exports (CSV) and checking each record. Pure
//! and streaming: one record at a time from any `io::Read`.

mod columns;
mod decode;
mod reader;
mod validate;

pub use columns::Values;
pub use decode::{Encoding, Utf8Reader};
pub use reader::{ExportReader, RawRecord, ReadError};
pub use validate::{Checked, CustomerRecord, Issue, check};

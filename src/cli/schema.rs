//! `codingworker schema KIND`: print a JSON Schema.

use crate::error::{Error, Outcome};
use crate::schema::{SchemaKind, generate_text};

pub fn run(kind: SchemaKind) -> Result<Outcome, Error> {
    print!("{}", generate_text(kind));
    Ok(Outcome::Success)
}

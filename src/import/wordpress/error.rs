//! What stops an import, with the export file's line when known.
use std::fmt;

/// A problem that stops the import (nothing written when found in the
/// first pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub line: Option<usize>,
    pub message: String,
    /// Found after writing began: what was written is whole (files and
    /// threads), and running the import again finishes it.
    pub part_way: bool,
}

impl ImportError {
    pub fn at(line: usize, message: String) -> Self {
        Self {
            line: Some(line),
            message,
            part_way: false,
        }
    }
    pub fn plain(message: String) -> Self {
        Self {
            line: None,
            message,
            part_way: false,
        }
    }
    pub fn part_way(message: String) -> Self {
        Self {
            line: None,
            message,
            part_way: true,
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

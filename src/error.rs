//! Errors of the core, each a sentence a user can act on.

use std::fmt;

use crate::config::Method;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A configuration value the model cannot be built from.
    InvalidConfig(String),
    /// Weights that could not be decoded or do not fit the model they are loaded into.
    Weights { what: String, reason: String },
    /// Bytes that are not a model file written by `export`.
    NotAModelFile(String),
    /// An input tensor of the wrong shape.
    Shape(String),
    /// Drawing images with a model that has no generator (cPCA).
    NoGenerator { method: Method },
    /// An operation this model's method does not have.
    Unsupported(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(message) => write!(f, "invalid configuration: {message}"),
            Error::Weights { what, reason } => write!(
                f,
                "the {what} weights could not be loaded ({reason}); the file is corrupt or was \
                 written for a different model configuration"
            ),
            Error::NotAModelFile(message) => write!(f, "{message}"),
            Error::Shape(message) => write!(f, "{message}"),
            Error::NoGenerator { method } => write!(
                f,
                "a {} model has no generator: it encodes images into (z, s) but cannot draw \
                 them (train double-infogan, mm-cvae or cvae for images)",
                method.label()
            ),
            Error::Unsupported(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

//! PLACEHOLDER: the helper that owns this module replaces this file.

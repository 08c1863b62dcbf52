//! One module a page.

pub mod benchmark;

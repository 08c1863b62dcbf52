//! One module a page.

pub mod benchmark;
pub mod cache;
pub mod data;
pub mod explore;
pub mod linked;

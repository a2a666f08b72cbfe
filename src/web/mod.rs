pub(crate) mod recipes;
pub(crate) mod timeline;

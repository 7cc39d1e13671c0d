//! Sizes used by `tests/file_consts.rs`, defined in a file of their own: `#[grad]` reads the
//! other files of the test's directory for a constant its own file does not define.

pub const INPUTS: usize = 5;

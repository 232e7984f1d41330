//! The `bufpool` command: `bench`, `sim`, `inspect`.

fn main() {}

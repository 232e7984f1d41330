//! `bufpool`: the pool under test. Waits for `BufferPool` on main.

/// Why the system cannot run in this build.
pub const UNAVAILABLE: &str = "BufferPool is not on this branch yet";

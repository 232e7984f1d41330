//! A crash-safe B+tree key-value engine built only on bufpool's public API.

//! Feature `serde`: an engine reads the pool's settings from its own configuration file (TOML here, JSON too)
//! and builds the pool from them. The settings reach the pool; unknown keys are refused by the deserializer, and
//! bad values by `Config::builder`, each error naming the key.
#![cfg(feature = "serde")]

use bufpool::{Config, ConfigError};

fn parse(text: &str) -> Config {
    toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The key `Config::builder` refused in `text`.
fn refused(text: &str) -> ConfigError {
    match parse(text).builder() {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

#[test]
fn an_engines_toml_builds_the_pool_it_describes() {
    let config = parse(
        r#"
        preset = "analytics"
        frames = 96
        page_size = 8192
        policy = "lru+tinylfu"
        io_backend = "pread"
        open_mode = "buffered"
        io_threads = 0
        io_spin_us = 50
        slow_io_ms = 20
        failed_file_frames = 10
        stale_check_pages = 4096

        [background_writer]
        interval_ms = 5
        dirty_ratio_max = 0.25
        "#,
    );
    assert_eq!(config.frames, Some(96));
    assert_eq!(config.io_spin_us, Some(50));
    assert_eq!(config.stale_check_pages, Some(4096));
    let pool = config.builder().unwrap().build().unwrap();
    assert_eq!(pool.frames(), 96);
    assert_eq!(pool.page_size(), 8192);
    // The key overrides the preset's policy (W-TinyLFU).
    let lru_tinylfu = bufpool::policy::PolicyConfig::from_name("lru+tinylfu").unwrap();
    assert_eq!(pool.policy_name(), lru_tinylfu.build(96).name());
    assert_ne!(pool.policy_name(), bufpool::PolicyKind::WTinyLfu.build(96).name());

    let dir = tempfile::tempdir().unwrap();
    let f = pool.open_file(dir.path().join("data")).unwrap();
    let st = pool.stats();
    let file = st.files.iter().find(|s| s.file == f).unwrap();
    assert_eq!((file.backend, file.direct), ("pread", false), "{file}");

    // An empty file is every default; JSON works as TOML does.
    let pool = parse("").builder().unwrap().build().unwrap();
    assert_eq!((pool.frames(), pool.page_size()), (1024, 4096));
    let json: Config = serde_json::from_str(r#"{"frames": 32, "policy": "clock"}"#).unwrap();
    let pool = json.builder().unwrap().build().unwrap();
    assert_eq!(
        (pool.frames(), pool.policy_name()),
        (32, bufpool::PolicyKind::Clock.build(32).name())
    );
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let e = toml::from_str::<Config>("framez = 10").unwrap_err().to_string();
    assert!(e.contains("unknown field `framez`"), "{e}");
    let e = toml::from_str::<Config>("[background_writer]\ninterval = 5")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `interval`"), "{e}");
    let e = serde_json::from_str::<Config>(r#"{"frames": 8, "polcy": "lru"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `polcy`"), "{e}");
    // A value of the wrong type is the deserializer's error too.
    let e = toml::from_str::<Config>("frames = \"many\"").unwrap_err().to_string();
    assert!(e.contains("frames"), "{e}");
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    for (text, key, says) in [
        ("frames = 0", "frames", "at least 1"),
        ("page_size = 5000", "page_size", "power of two"),
        ("page_size = 131072", "page_size", "power of two"),
        ("policy = \"lruu\"", "policy", "unknown policy `lruu`"),
        ("preset = \"batch\"", "preset", "oltp or analytics"),
        ("io_backend = \"aio\"", "io_backend", "auto, pread or uring"),
        ("open_mode = \"direct\"", "open_mode", "direct-only"),
        ("frames = 16\nfailed_file_frames = 17", "failed_file_frames", "at most"),
        ("stale_check_pages = 63", "stale_check_pages", "0 (off) or from 64"),
        (
            "[background_writer]\ninterval_ms = 0",
            "background_writer.interval_ms",
            "more than zero",
        ),
        (
            "[background_writer]\ndirty_ratio_max = 1.5",
            "background_writer.dirty_ratio_max",
            "fraction",
        ),
        (
            "[background_writer]\nbatch_pages = 0",
            "background_writer.batch_pages",
            "at least 1",
        ),
        (
            "frames = 8\n[background_writer]\nfree_frames_target = 9",
            "background_writer.free_frames_target",
            "at most",
        ),
    ] {
        let e = refused(text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.reason.contains(says), "{text}: {e}");
        assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
    }
}

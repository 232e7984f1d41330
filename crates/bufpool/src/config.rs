//! A pool's settings as data (feature `serde`): [`Config`], which an engine reads from its own configuration file
//! (TOML, JSON, anything serde reads) and turns into a [`Builder`] with [`Config::builder`].
//!
//! Owns the mapping from configuration keys to [`Builder`] calls and the checks of their values. Every key is
//! optional: a key left out keeps the builder's default (or the preset's, when `preset` is given, which is applied
//! first so that the other keys override it, as [`Builder::preset`] asks). Unknown keys are refused by the
//! deserializer (`deny_unknown_fields`: a misspelt key is an error, never a silently ignored setting), and values
//! that deserialize but make no sense (a page size that is not a power of two, an unknown policy name, zero
//! frames, a writer that would spin) are refused by [`Config::builder`] with a [`ConfigError`] naming the key.
//!
//! ```toml
//! preset = "oltp"
//! frames = 65536
//! page_size = 8192
//! policy = "s3-fifo"          # any PolicyKind name, optionally "+tinylfu"
//! io_backend = "auto"         # auto | pread | uring
//! open_mode = "direct-or-buffered"  # direct-or-buffered | buffered | direct-only
//! io_threads = 2
//! io_spin_us = 0              # poll an io_uring this long before sleeping for its completions
//! slow_io_ms = 20
//! stale_check_pages = 1048576 # pages a file whose LSN the stale-write check keeps; 0: off
//!
//! [background_writer]         # present: a writer runs; each key defaults to WriterConfig::for_frames
//! interval_ms = 2
//! dirty_ratio_max = 0.1
//! ```
//!
//! Callbacks and objects (a WAL, an eviction veto, a snapshot tracker, a custom policy) are code, not
//! configuration: set them on the returned builder.

use std::time::Duration;

use serde::Deserialize;

use crate::error::Error;
use crate::page::PageSize;
use crate::policy::PolicyConfig;
use crate::pool::{Builder, IoBackend};
use crate::preset::Preset;
use crate::storage::OpenMode;
use crate::writer::WriterConfig;

/// A pool's settings as an engine's configuration file gives them (feature `serde`); see the module docs for an
/// example. [`Config::builder`] checks the values and returns the [`Builder`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// `"oltp"` or `"analytics"` ([`Preset`]), applied before every other key.
    pub preset: Option<String>,
    /// Number of frames ([`Builder::frames`]); at least 1.
    pub frames: Option<usize>,
    /// Page size in bytes ([`Builder::page_size`]): a power of two from 4096 to 65536.
    pub page_size: Option<usize>,
    /// Replacement policy by name ([`PolicyConfig::from_name`]): `"s3-fifo"`, `"lru"`, `"lru+tinylfu"`, ...
    pub policy: Option<String>,
    /// `"auto"`, `"pread"` or `"uring"` ([`Builder::io_backend`]).
    pub io_backend: Option<String>,
    /// `"direct-or-buffered"`, `"buffered"` or `"direct-only"` ([`Builder::open_mode`]).
    pub open_mode: Option<String>,
    /// Prefetch I/O threads ([`Builder::io_threads`]).
    pub io_threads: Option<usize>,
    /// Microseconds an io_uring call polls for its completions before sleeping ([`Builder::io_spin`]).
    pub io_spin_us: Option<u64>,
    /// Milliseconds a miss waits for a frame held by guards ([`Builder::frame_wait`]).
    pub frame_wait_ms: Option<u64>,
    /// Milliseconds from which a storage call is reported as slow ([`Builder::slow_io`]).
    pub slow_io_ms: Option<u64>,
    /// [`Builder::strict_fresh`].
    pub strict_fresh: Option<bool>,
    /// [`Builder::failed_file_frames`]; at most `frames`.
    pub failed_file_frames: Option<usize>,
    /// [`Builder::stale_check_pages`]: 0 (the run-time stale-write check off) or 64 to 2^32.
    pub stale_check_pages: Option<usize>,
    /// [`Builder::clean_write_guards`].
    pub clean_write_guards: Option<bool>,
    /// [`Builder::latch_times`].
    pub latch_times: Option<bool>,
    /// The background writer: present (even empty), a writer runs with these settings over
    /// [`WriterConfig::for_frames`]'s defaults.
    pub background_writer: Option<WriterSection>,
}

/// The `[background_writer]` section of a [`Config`]: each key overrides [`WriterConfig::for_frames`]'s value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WriterSection {
    /// [`WriterConfig::interval`] in milliseconds; at least 1.
    pub interval_ms: Option<u64>,
    /// [`WriterConfig::free_frames_target`]; at most the pool's frames.
    pub free_frames_target: Option<usize>,
    /// [`WriterConfig::dirty_ratio_max`]: a fraction from 0.0 to 1.0.
    pub dirty_ratio_max: Option<f64>,
    /// [`WriterConfig::pages_per_sec_max`] (0: no limit).
    pub pages_per_sec_max: Option<u64>,
    /// [`WriterConfig::batch_pages`]; at least 1.
    pub batch_pages: Option<usize>,
}

/// A configuration value [`Config::builder`] refused: the key (dotted for a section's, as in
/// `background_writer.interval_ms`) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bufpool configuration: `{key}`: {reason}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The key whose value was refused.
    pub key: &'static str,
    /// What is wrong with it, and what is accepted.
    pub reason: String,
}

fn refuse(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

impl Config {
    /// Checks every value and returns the builder they describe: `preset` first, then each other key given. A
    /// refused value is a [`ConfigError`] naming its key; the first one found is returned.
    pub fn builder(&self) -> Result<Builder, ConfigError> {
        let mut b = Builder::default();
        let frames = match self.frames {
            Some(0) => return Err(refuse("frames", "must be at least 1, got 0")),
            Some(n) => n,
            None => crate::pool::FRAMES_DEFAULT,
        };
        b = b.frames(frames);
        if let Some(name) = &self.preset {
            let preset = match name.as_str() {
                "oltp" => Preset::Oltp,
                "analytics" => Preset::Analytics,
                _ => {
                    return Err(refuse(
                        "preset",
                        format!("unknown preset `{name}`; expected oltp or analytics"),
                    ))
                }
            };
            b = b.preset(preset);
        }
        if let Some(bytes) = self.page_size {
            if PageSize::new(bytes).is_none() {
                return Err(refuse(
                    "page_size",
                    format!(
                        "must be a power of two from {} to {}, got {bytes}",
                        PageSize::MIN,
                        PageSize::MAX
                    ),
                ));
            }
            b = b.page_size(bytes);
        }
        if let Some(name) = &self.policy {
            let policy = PolicyConfig::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = crate::PolicyKind::ALL.iter().map(|k| k.name()).collect();
                refuse(
                    "policy",
                    format!(
                        "unknown policy `{name}`; expected one of {}, optionally followed by +tinylfu",
                        names.join(", ")
                    ),
                )
            })?;
            b = b.policy(policy);
        }
        if let Some(name) = &self.io_backend {
            b = b.io_backend(match name.as_str() {
                "auto" => IoBackend::Auto,
                "pread" => IoBackend::Pread,
                "uring" => IoBackend::Uring,
                _ => {
                    return Err(refuse(
                        "io_backend",
                        format!("unknown backend `{name}`; expected auto, pread or uring"),
                    ))
                }
            });
        }
        if let Some(name) = &self.open_mode {
            b = b.open_mode(match name.as_str() {
                "direct-or-buffered" => OpenMode::DirectOrBuffered,
                "buffered" => OpenMode::Buffered,
                "direct-only" => OpenMode::DirectOnly,
                _ => {
                    return Err(refuse(
                        "open_mode",
                        format!("unknown mode `{name}`; expected direct-or-buffered, buffered or direct-only"),
                    ))
                }
            });
        }
        if let Some(n) = self.io_threads {
            b = b.io_threads(n);
        }
        if let Some(us) = self.io_spin_us {
            b = b.io_spin(Duration::from_micros(us));
        }
        if let Some(ms) = self.frame_wait_ms {
            b = b.frame_wait(Duration::from_millis(ms));
        }
        if let Some(ms) = self.slow_io_ms {
            b = b.slow_io(Duration::from_millis(ms));
        }
        if let Some(on) = self.strict_fresh {
            b = b.strict_fresh(on);
        }
        if let Some(n) = self.failed_file_frames {
            if n > frames {
                return Err(refuse(
                    "failed_file_frames",
                    format!("must be at most the pool's {frames} frames, got {n}"),
                ));
            }
            b = b.failed_file_frames(n);
        }
        if let Some(pages) = self.stale_check_pages {
            if !crate::written::valid_pages(pages) {
                return Err(refuse(
                    "stale_check_pages",
                    format!("must be 0 (off) or from 64 to 2^32, got {pages}"),
                ));
            }
            b = b.stale_check_pages(pages);
        }
        if let Some(on) = self.clean_write_guards {
            b = b.clean_write_guards(on);
        }
        if let Some(on) = self.latch_times {
            b = b.latch_times(on);
        }
        if let Some(section) = &self.background_writer {
            b = b.background_writer(section.writer(frames)?);
        }
        Ok(b)
    }
}

impl WriterSection {
    /// The writer settings for a pool of `frames` frames, checked by [`WriterConfig::validate`].
    fn writer(&self, frames: usize) -> Result<WriterConfig, ConfigError> {
        let mut w = WriterConfig::for_frames(frames);
        if let Some(ms) = self.interval_ms {
            w.interval = Duration::from_millis(ms);
        }
        if let Some(n) = self.free_frames_target {
            w.free_frames_target = n;
        }
        if let Some(r) = self.dirty_ratio_max {
            w.dirty_ratio_max = r;
        }
        if let Some(n) = self.pages_per_sec_max {
            w.pages_per_sec_max = n;
        }
        if let Some(n) = self.batch_pages {
            w.batch_pages = n;
        }
        // One check of the writer's settings, `validate`'s: its message names the field, which names the key.
        w.validate(frames).map_err(|e| {
            let reason = match e {
                Error::InvalidConfig(msg) => msg,
                other => other.to_string(),
            };
            let key = [
                ("interval", "background_writer.interval_ms"),
                ("free_frames_target", "background_writer.free_frames_target"),
                ("dirty_ratio_max", "background_writer.dirty_ratio_max"),
                ("batch_pages", "background_writer.batch_pages"),
            ]
            .into_iter()
            .find(|(field, _)| reason.starts_with(&format!("WriterConfig::{field} ")))
            .map_or("background_writer", |(_, key)| key);
            refuse(key, reason)
        })?;
        Ok(w)
    }
}

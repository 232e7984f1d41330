//! Case variants: the ways bufpool itself is set up or driven differently within one workload shape, so that
//! the same pages and sequences are measured with a feature off and on, side by side.
//!
//! Owns: [`Variant`] (scan ring on/off, background writer off/on, checkpoint none/spread/immediate), the
//! command-line choices that select them, the JSON fields they add to a result row, the label a row gets in the
//! summary table, and the judgement of the targets that compare variants (issues 4 and 6 and the
//! writer and checkpoint targets).
//!
//! Invariant: a variant never changes the access sequences (see `workload.rs`); peers have none of these
//! features and run only the plain variant of a case ([`Variant::is_plain`]).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::report::CaseResult;

/// Frames of the scan ring bufpool's scanner uses (PostgreSQL's 256 KiB of 4 KiB pages).
pub const SCAN_RING_FRAMES: usize = 64;

/// How the `checkpoint` workload's third thread behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum CheckpointMode {
    /// It idles: the baseline.
    None,
    /// It loops `checkpoint_spread`, each spread over half the case (5 ms to 1 s).
    // (Plain text: clap prints this line as the value's help, where a rustdoc link would show raw.)
    Spread,
    /// It loops `checkpoint()`.
    Immediate,
}

impl CheckpointMode {
    /// The name used in output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            CheckpointMode::None => "none",
            CheckpointMode::Spread => "spread",
            CheckpointMode::Immediate => "immediate",
        }
    }
}

/// The spread target of a `checkpoint_spread` call in a case of `duration`: half the case, within 5 ms..1 s, so
/// a case sees at least two spread checkpoints and the last one overruns the case by little.
pub fn spread_target(duration: Duration) -> Duration {
    (duration / 2).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// How bufpool is set up or driven in one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// Nothing special (every workload without variants).
    Plain,
    /// `scan`: whether bufpool's scanner reads through a [`bufpool::ScanRing`] of [`SCAN_RING_FRAMES`].
    ScanRing(bool),
    /// `mixed`: whether bufpool runs its background writer (`WriterConfig::for_frames(frames)`).
    Writer(bool),
    /// `checkpoint`: what the checkpointing thread does.
    Checkpoint(CheckpointMode),
}

impl Variant {
    /// Whether peers (which lack the feature) run this variant: the one with the feature off.
    pub fn is_plain(self) -> bool {
        matches!(
            self,
            Variant::Plain
                | Variant::ScanRing(false)
                | Variant::Writer(false)
                | Variant::Checkpoint(CheckpointMode::None)
        )
    }

    /// Whether bufpool must be built with its background writer for this variant.
    pub fn background_writer(self) -> bool {
        self == Variant::Writer(true)
    }

    /// The suffix of bufpool's name in the summary table ("" for the plain variants).
    fn label(self) -> &'static str {
        match self {
            Variant::ScanRing(true) => "+ring",
            Variant::Writer(true) => "+writer",
            Variant::Checkpoint(CheckpointMode::Spread) => "+ckpt-spread",
            Variant::Checkpoint(CheckpointMode::Immediate) => "+ckpt-immed",
            _ => "",
        }
    }
}

/// `--scan-ring` and `--writer`: the feature off, on, or both side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Without the feature.
    Off,
    /// With it.
    On,
    /// Both, one case each.
    Both,
}

impl OnOff {
    /// The settings to run, off first (so the plain row leads its group).
    pub fn settings(self) -> &'static [bool] {
        match self {
            OnOff::Off => &[false],
            OnOff::On => &[true],
            OnOff::Both => &[false, true],
        }
    }
}

/// The JSON fields of a row that describe bufpool's variant and what its extra threads did; each is absent
/// (`None`) where it does not apply, so rows of other workloads and peers' rows are unchanged.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Features {
    /// `scan`, bufpool: whether its scanner read through a scan ring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_ring: Option<bool>,
    /// `mixed`, bufpool: whether its background writer ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_writer: Option<bool>,
    /// `checkpoint`: none | spread | immediate (what the third thread did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<&'static str>,
    /// `checkpoint`: checkpoints the third thread completed during the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<u64>,
    /// `checkpoint`: the writer thread's page writes (exclusive accesses) per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer_ops_per_sec: Option<f64>,
}

impl Features {
    /// The fields of a row of `variant` on bufpool (`is_bufpool`) or a peer; `thread_ops` are each thread's ops
    /// in the reported round, which lasted `seconds`.
    pub fn of(variant: Variant, is_bufpool: bool, thread_ops: &[u64], seconds: f64) -> Features {
        let mut f = Features::default();
        if !is_bufpool {
            return f;
        }
        match variant {
            Variant::Plain => {}
            Variant::ScanRing(on) => f.scan_ring = Some(on),
            Variant::Writer(on) => f.background_writer = Some(on),
            Variant::Checkpoint(m) => {
                f.checkpoint = Some(m.name());
                f.checkpoints = Some(thread_ops.get(2).copied().unwrap_or(0));
                f.writer_ops_per_sec = Some(thread_ops.get(1).copied().unwrap_or(0) as f64 / seconds.max(1e-9));
            }
        }
        f
    }
}

/// The name of a row in the summary table: the system, with bufpool's variant as a suffix.
pub fn row_label(r: &CaseResult) -> String {
    let f = &r.features;
    let variant = if f.scan_ring == Some(true) {
        Variant::ScanRing(true)
    } else if f.background_writer == Some(true) {
        Variant::Writer(true)
    } else {
        match f.checkpoint {
            Some("spread") => Variant::Checkpoint(CheckpointMode::Spread),
            Some("immediate") => Variant::Checkpoint(CheckpointMode::Immediate),
            _ => Variant::Plain,
        }
    };
    format!("{}{}", r.system, variant.label())
}

/// The targets that compare variants or asynchronous reads with their limits, judged on this run.
pub fn targets(results: &[CaseResult]) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut s = String::new();
    // Issue 6: batched misses against io_uring at queue depth 32.
    for b in results
        .iter()
        .filter(|r| r.workload == "miss" && r.system == "bufpool" && r.access == "batch")
    {
        let same = |sys: &str| {
            results
                .iter()
                .find(|r| r.workload == "miss" && r.system == sys && r.access == "batch" && r.threads == b.threads)
        };
        if let Some(u) = same("raw-uring") {
            let x = b.ops_per_sec / u.ops_per_sec;
            let pread = same("raw-pread").map_or(String::new(), |p| {
                format!(", {:.2}x raw-pread", b.ops_per_sec / p.ops_per_sec)
            });
            let _ = writeln!(
                s,
                "miss batch threads={}: bufpool read_many/raw-uring throughput {x:.2}x{pread} (hit {:.3}), target \
                 >= 0.85x{}",
                b.threads,
                b.hit_ratio,
                if b.threads == 2 {
                    format!(": {}", verdict(x >= 0.85))
                } else {
                    " (judged at 2 threads)".to_string()
                }
            );
        }
    }
    // Issue 4: the hot set keeps its hit ratio while a scan runs through a ring.
    for r in results.iter().filter(|r| r.workload == "scan" && r.system == "bufpool") {
        let ring = r.features.scan_ring == Some(true);
        let how = if ring { "with" } else { "without" };
        let judged = if ring {
            format!(", target >= 0.95: {}", verdict(r.hit_ratio >= 0.95))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "scan {how} the scan ring: bufpool hot-set hit ratio {:.4} (scanner {:.0} pages/s){judged}",
            r.hit_ratio,
            r.scan_ops_per_sec.unwrap_or(0.0)
        );
    }
    // The background writer's effect on foreground tail latency.
    for on in results
        .iter()
        .filter(|r| r.workload == "mixed" && r.system == "bufpool" && r.features.background_writer == Some(true))
    {
        let off = results.iter().find(|r| {
            r.workload == "mixed"
                && r.system == "bufpool"
                && r.features.background_writer == Some(false)
                && r.threads == on.threads
                && r.dist == on.dist
        });
        if let Some(off) = off {
            let x = off.ns_per_op_p99 / on.ns_per_op_p99.max(1.0);
            let _ = writeln!(
                s,
                "mixed threads={}: bufpool p99 writer off / on {x:.2}x ({:.0} / {:.0} us; p50 {:.0} / {:.0} us), \
                 target >= 2x: {}",
                on.threads,
                off.ns_per_op_p99 / 1e3,
                on.ns_per_op_p99 / 1e3,
                off.ns_per_op_p50 / 1e3,
                on.ns_per_op_p50 / 1e3,
                verdict(x >= 2.0)
            );
        }
    }
    // Checkpoints' effect on readers' tail latency.
    let ckpt = |m: &str| {
        results
            .iter()
            .find(|r| r.workload == "checkpoint" && r.system == "bufpool" && r.features.checkpoint == Some(m))
    };
    if let Some(none) = ckpt("none") {
        for m in ["spread", "immediate"] {
            if let Some(c) = ckpt(m) {
                let x = c.ns_per_op_p999 / none.ns_per_op_p999.max(1.0);
                let _ = writeln!(
                    s,
                    "checkpoint {m}: reader p99.9 {:.0} ns vs {:.0} ns without, {x:.2}x, target <= 2x: {}",
                    c.ns_per_op_p999,
                    none.ns_per_op_p999,
                    verdict(x <= 2.0)
                );
            }
        }
    }
    s
}

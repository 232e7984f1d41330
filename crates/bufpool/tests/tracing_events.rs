//! Feature `tracing`: the pool tells a subscriber when a file fails (with the file's id and the first error) and
//! when a request finds every frame taken. A subscriber that records each event's fields stands in for a log.
#![cfg(feature = "tracing")]

mod common;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, MemoryStorage};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One event: its level and its fields (the message under "message"), formatted with `Debug`.
#[derive(Debug)]
struct Recorded {
    level: tracing::Level,
    fields: HashMap<String, String>,
}

/// Records every event; spans are not used by the pool.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    /// The recorded events whose message is `message`.
    fn take(&self, message: &str) -> Vec<Recorded> {
        let mut all = self.0.lock().unwrap();
        let (hit, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|e| e.fields["message"] == message);
        *all = rest;
        hit
    }
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        assert_eq!(event.metadata().target(), "bufpool");
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let level = *event.metadata().level();
        self.0.lock().unwrap().push(Recorded { level, fields });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_failed_write_reports_the_failed_file_once() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let bad = Arc::new(FaultyStorage::new(9, FaultConfig::none()));
        let pool = BufferPool::builder().frames(16).build().unwrap();
        let good = pool.open_storage(MemoryStorage::new()).unwrap();
        let f = pool.open_storage(bad.clone()).unwrap();
        for n in 0..4 {
            common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
        }
        pool.flush_file(good).unwrap();
        assert!(recorder.take("file failed").is_empty());

        bad.inject_next(Op::Write, Fault::EioPersistent);
        assert!(pool.flush_file(f).is_err());
        let failed = recorder.take("file failed");
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].level, tracing::Level::ERROR);
        assert_eq!(failed[0].fields["file"], f.0.to_string());
        assert!(!failed[0].fields["reason"].is_empty());
        let writes = recorder.take("write failed");
        assert!(!writes.is_empty());
        assert!(writes.iter().all(|w| w.fields["file"] == f.0.to_string()), "{writes:?}");

        // The failure is latched once: a second flush refuses the writes without a second event.
        assert!(pool.flush_file(f).is_err());
        assert!(recorder.take("file failed").is_empty());
    });
}

#[test]
fn a_request_with_every_frame_latched_reports_the_exhausted_pool() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let pool = BufferPool::builder().frames(4).build().unwrap();
        let f = pool.open_storage(MemoryStorage::new()).unwrap();
        let held: Vec<_> = (0..4).map(|_| pool.new_page(f).unwrap()).collect();
        assert!(recorder.take("pool exhausted").is_empty());

        assert!(pool.new_page(f).is_err());
        let exhausted = recorder.take("pool exhausted");
        assert_eq!(exhausted.len(), 1, "{exhausted:?}");
        assert_eq!(exhausted[0].level, tracing::Level::WARN);
        assert_eq!(exhausted[0].fields["frames"], "4");
        assert!(!exhausted[0].fields["error"].is_empty());

        // A frame given back ends it: the next request succeeds without an event.
        drop(held);
        pool.new_page(f).unwrap();
        assert!(recorder.take("pool exhausted").is_empty());
    });
}

/// `Builder::slow_io` sets the threshold: at zero every storage call is at or above it and is reported (with its
/// file and kind); at an hour none is. No timing judgement: both bounds hold whatever the machine's speed.
#[test]
fn the_slow_io_threshold_is_the_builders() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let pool = BufferPool::builder()
            .frames(4)
            .slow_io(std::time::Duration::ZERO)
            .build()
            .unwrap();
        let f = pool.open_storage(MemoryStorage::new()).unwrap();
        common::fill_page(&mut pool.new_page(f).unwrap(), 0, 1);
        pool.flush(bufpool::PageId::new(f, 0)).unwrap();
        let slow = recorder.take("slow io");
        let ops: Vec<&str> = slow.iter().map(|e| e.fields["op"].as_str()).collect();
        assert_eq!(ops, ["\"write\"", "\"sync\""], "{slow:?}");
        assert!(slow
            .iter()
            .all(|e| e.level == tracing::Level::WARN && e.fields["file"] == f.0.to_string()));
        assert!(
            slow.iter().all(|e| e.fields["elapsed_us"].parse::<u64>().is_ok()),
            "{slow:?}"
        );

        // A read (the page evicted first by four new pages) is reported as a read.
        for n in 1..5 {
            common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
        }
        recorder.take("slow io");
        drop(pool.read(bufpool::PageId::new(f, 0)).unwrap());
        let reads = recorder.take("slow io");
        assert!(reads.iter().any(|e| e.fields["op"] == "\"read\""), "{reads:?}");

        let patient = BufferPool::builder()
            .frames(4)
            .slow_io(std::time::Duration::from_secs(3600))
            .build()
            .unwrap();
        let g = patient.open_storage(MemoryStorage::new()).unwrap();
        common::fill_page(&mut patient.new_page(g).unwrap(), 0, 1);
        patient.flush(bufpool::PageId::new(g, 0)).unwrap();
        assert!(recorder.take("slow io").is_empty());
    });
}

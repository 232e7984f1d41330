//! Model tests for the replacement policies.
//!
//! Each policy is driven the way the pool drives it (a miss fills a free frame or asks `victim_for` for one,
//! a hit calls `on_hit`, a discard calls `on_remove`, the background writer calls `victim`), with random
//! refusals standing for latched or vetoed frames. For every policy the harness checks the contract: only
//! tracked frames are offered, a refused frame is never returned, the returned frame is the one `try_take`
//! accepted, and `None` only comes when every tracked frame was refused. For the policies that define an
//! exact victim order (FIFO, LRU, LRU-K, 2Q, ARC, SIEVE, S3-FIFO) a small reference model written from the
//! paper with plain vectors must choose the same victim every time; the adaptive policy, which runs S3-FIFO
//! until its shadow caches have seen an epoch of misses, must match the S3-FIFO model in these short runs.
//!
//! A multi-threaded smoke test then runs every policy (with and without TinyLFU admission) from four
//! threads and checks that no frame is handed out twice without an insert in between, and that the policy
//! still tracks exactly the resident frames afterwards.
//!
//! Case counts are kept small for CI; `PROPTEST_CASES=2000 cargo test -p bufpool --test integration --
//! policy_model::` runs a longer search.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};

use bufpool::policy::{Adaptive, Admission, ArcPolicy, LruK, Policy, PolicyKind, TinyLfuAdmission};
use proptest::prelude::*;

type Frame = u32;

/// A reference model: the same events as the policy, plain data structures.
trait Model {
    fn hit(&mut self, f: Frame);
    fn insert(&mut self, f: Frame, key: u64);
    fn remove(&mut self, f: Frame);
    fn victim(&mut self, key: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame>;
}

fn remove_item<T: PartialEq>(v: &mut Vec<T>, x: &T) -> bool {
    match v.iter().position(|y| y == x) {
        Some(i) => {
            v.remove(i);
            true
        }
        None => false,
    }
}

fn remove_deque<T: PartialEq>(v: &mut VecDeque<T>, x: &T) -> bool {
    match v.iter().position(|y| y == x) {
        Some(i) => {
            v.remove(i);
            true
        }
        None => false,
    }
}

fn first_unrefused(list: &[Frame], refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
    list.iter().copied().find(|&f| !refused(f))
}

// ---------------------------------------------------------------------------------------------------------
// Reference models.

/// FIFO: a queue; hits do nothing.
#[derive(Default)]
struct FifoModel(Vec<Frame>);

impl Model for FifoModel {
    fn hit(&mut self, _: Frame) {}
    fn insert(&mut self, f: Frame, _: u64) {
        self.0.push(f);
    }
    fn remove(&mut self, f: Frame) {
        remove_item(&mut self.0, &f);
    }
    fn victim(&mut self, _: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let f = first_unrefused(&self.0, refused)?;
        remove_item(&mut self.0, &f);
        Some(f)
    }
}

/// LRU: a vector in recency order, least recent first.
#[derive(Default)]
struct LruModel(Vec<Frame>);

impl Model for LruModel {
    fn hit(&mut self, f: Frame) {
        if remove_item(&mut self.0, &f) {
            self.0.push(f);
        }
    }
    fn insert(&mut self, f: Frame, _: u64) {
        self.0.push(f);
    }
    fn remove(&mut self, f: Frame) {
        remove_item(&mut self.0, &f);
    }
    fn victim(&mut self, _: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let f = first_unrefused(&self.0, refused)?;
        remove_item(&mut self.0, &f);
        Some(f)
    }
}

/// LRU-2 with a correlated reference period and a count-bounded retained history.
struct LruKModel {
    crp: u64,
    history_cap: usize,
    t: u64,
    /// frame -> (key, [HIST1, HIST2], LAST)
    pages: Vec<Option<(u64, [u64; 2], u64)>>,
    /// evicted (key, hist, last), oldest eviction first
    retained: VecDeque<(u64, [u64; 2], u64)>,
}

impl LruKModel {
    fn new(frames: usize, crp: u64, history_cap: usize) -> Self {
        LruKModel {
            crp,
            history_cap,
            t: 0,
            pages: vec![None; frames],
            retained: VecDeque::new(),
        }
    }
}

impl Model for LruKModel {
    fn hit(&mut self, f: Frame) {
        let crp = self.crp;
        if let Some((_, hist, last)) = &mut self.pages[f as usize] {
            self.t += 1;
            if self.t - *last > crp {
                let correlated = *last - hist[0];
                hist[1] = if hist[0] == 0 { 0 } else { hist[0] + correlated };
                hist[0] = self.t;
            }
            *last = self.t;
        }
    }
    fn insert(&mut self, f: Frame, key: u64) {
        self.t += 1;
        let t = self.t;
        let page = match self.retained.iter().position(|r| r.0 == key) {
            Some(i) => {
                let (_, hist, _) = self.retained.remove(i).unwrap();
                (key, [t, hist[0]], t)
            }
            None => (key, [t, 0], t),
        };
        self.pages[f as usize] = Some(page);
    }
    fn remove(&mut self, f: Frame) {
        self.pages[f as usize] = None;
    }
    fn victim(&mut self, _: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let now = self.t + 1;
        let mut cands: Vec<(bool, u64, u64, Frame)> = self
            .pages
            .iter()
            .enumerate()
            .filter_map(|(f, p)| p.map(|(_, hist, last)| (now - last <= self.crp, hist[1], last, f as Frame)))
            .collect();
        cands.sort(); // eligible (false) first, then oldest HIST(K), then oldest LAST
        let f = cands.iter().map(|c| c.3).find(|&f| !refused(f))?;
        let page = self.pages[f as usize].take().unwrap();
        self.retained.retain(|r| r.0 != page.0);
        self.retained.push_back(page);
        while self.retained.len() > self.history_cap {
            self.retained.pop_front();
        }
        Some(f)
    }
}

/// 2Q as in the paper's "full version".
struct TwoQModel {
    kin: usize,
    kout: usize,
    keys: Vec<u64>,
    a1in: Vec<Frame>,
    am: Vec<Frame>,
    a1out: VecDeque<u64>,
}

impl TwoQModel {
    fn new(frames: usize) -> Self {
        TwoQModel {
            kin: frames / 4,
            kout: frames / 2,
            keys: vec![0; frames],
            a1in: vec![],
            am: vec![],
            a1out: VecDeque::new(),
        }
    }
}

impl Model for TwoQModel {
    fn hit(&mut self, f: Frame) {
        if remove_item(&mut self.am, &f) {
            self.am.push(f);
        }
    }
    fn insert(&mut self, f: Frame, key: u64) {
        self.keys[f as usize] = key;
        if remove_deque(&mut self.a1out, &key) {
            self.am.push(f);
        } else {
            self.a1in.push(f);
        }
    }
    fn remove(&mut self, f: Frame) {
        remove_item(&mut self.a1in, &f);
        remove_item(&mut self.am, &f);
    }
    fn victim(&mut self, _: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let a1in_first = self.a1in.len() > self.kin;
        for from_a1in in [a1in_first, !a1in_first] {
            let list = if from_a1in { &mut self.a1in } else { &mut self.am };
            if let Some(f) = first_unrefused(list, refused) {
                remove_item(list, &f);
                if from_a1in {
                    let key = self.keys[f as usize];
                    remove_deque(&mut self.a1out, &key);
                    self.a1out.push_back(key);
                    while self.a1out.len() > self.kout {
                        self.a1out.pop_front();
                    }
                }
                return Some(f);
            }
        }
        None
    }
}

/// ARC, written from the paper's Figure 4 (real or integer δ).
struct ArcModel {
    c: usize,
    real: bool,
    p: f64,
    keys: Vec<u64>,
    t1: Vec<Frame>,
    t2: Vec<Frame>,
    b1: VecDeque<u64>,
    b2: VecDeque<u64>,
    /// Ghost hits already handled by `victim`, to enter T2 on insert.
    to_t2: Vec<u64>,
}

impl ArcModel {
    fn new(c: usize, real: bool) -> Self {
        ArcModel {
            c,
            real,
            p: 0.0,
            keys: vec![0; c],
            t1: vec![],
            t2: vec![],
            b1: VecDeque::new(),
            b2: VecDeque::new(),
            to_t2: vec![],
        }
    }

    fn delta(&self, num: usize, den: usize) -> f64 {
        if num <= den {
            1.0
        } else if self.real {
            num as f64 / den as f64
        } else {
            (num / den) as f64
        }
    }

    fn grow(&mut self) {
        self.p = (self.p + self.delta(self.b2.len(), self.b1.len())).min(self.c as f64);
    }

    fn shrink(&mut self) {
        self.p = (self.p - self.delta(self.b1.len(), self.b2.len())).max(0.0);
    }

    /// REPLACE(x, p), falling back to the other list when every candidate is refused.
    fn replace(&mut self, x_in_b2: bool, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let t1 = self.t1.len() as f64;
        let from_t1 = t1 >= 1.0 && (t1 > self.p || (x_in_b2 && t1 == self.p));
        self.take([from_t1, !from_t1], true, refused)
    }

    fn take(&mut self, order: [bool; 2], ghost_first: bool, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        for (i, from_t1) in order.into_iter().enumerate() {
            let list = if from_t1 { &mut self.t1 } else { &mut self.t2 };
            if let Some(f) = first_unrefused(list, refused) {
                remove_item(list, &f);
                if ghost_first || i > 0 {
                    let key = self.keys[f as usize];
                    if from_t1 {
                        self.b1.push_back(key);
                    } else {
                        self.b2.push_back(key);
                    }
                }
                return Some(f);
            }
        }
        None
    }
}

impl Model for ArcModel {
    fn hit(&mut self, f: Frame) {
        if remove_item(&mut self.t1, &f) || remove_item(&mut self.t2, &f) {
            self.t2.push(f);
        }
    }
    fn insert(&mut self, f: Frame, x: u64) {
        self.keys[f as usize] = x;
        if remove_item(&mut self.to_t2, &x) {
            self.t2.push(f);
        } else if self.b1.contains(&x) {
            self.grow();
            remove_deque(&mut self.b1, &x);
            self.t2.push(f);
        } else if self.b2.contains(&x) {
            self.shrink();
            remove_deque(&mut self.b2, &x);
            self.t2.push(f);
        } else {
            while self.t1.len() + self.b1.len() >= self.c && self.b1.pop_front().is_some() {}
            self.t1.push(f);
        }
        while self.t1.len() + self.t2.len() + self.b1.len() + self.b2.len() > 2 * self.c
            && (self.b2.pop_front().is_some() || self.b1.pop_front().is_some())
        {}
    }
    fn remove(&mut self, f: Frame) {
        remove_item(&mut self.t1, &f);
        remove_item(&mut self.t2, &f);
    }
    fn victim(&mut self, key: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        if let Some(x) = key {
            if self.b1.contains(&x) {
                // Case II
                self.grow();
                remove_deque(&mut self.b1, &x);
                self.to_t2.push(x);
                return self.replace(false, refused);
            }
            if self.b2.contains(&x) {
                // Case III
                self.shrink();
                remove_deque(&mut self.b2, &x);
                self.to_t2.push(x);
                return self.replace(true, refused);
            }
        }
        // Case IV
        if self.t1.len() + self.b1.len() >= self.c {
            if self.t1.len() < self.c {
                self.b1.pop_front();
                self.replace(false, refused)
            } else {
                self.take([true, false], false, refused)
            }
        } else {
            if self.t1.len() + self.t2.len() + self.b1.len() + self.b2.len() >= 2 * self.c
                && self.b2.pop_front().is_none()
            {
                self.b1.pop_front();
            }
            self.replace(false, refused)
        }
    }
}

/// SIEVE: queue oldest first, visited bits, a hand moving towards the newest end.
struct SieveModel {
    queue: Vec<Frame>,
    visited: Vec<bool>,
    hand: Option<Frame>,
}

impl SieveModel {
    fn new(frames: usize) -> Self {
        SieveModel {
            queue: vec![],
            visited: vec![false; frames],
            hand: None,
        }
    }
    fn next_of(&self, f: Frame) -> Option<Frame> {
        let i = self.queue.iter().position(|&g| g == f)?;
        self.queue.get(i + 1).copied()
    }
    fn unlink(&mut self, f: Frame) {
        if self.hand == Some(f) {
            self.hand = self.next_of(f);
        }
        remove_item(&mut self.queue, &f);
    }
}

impl Model for SieveModel {
    fn hit(&mut self, f: Frame) {
        self.visited[f as usize] = true;
    }
    fn insert(&mut self, f: Frame, _: u64) {
        self.visited[f as usize] = false;
        self.queue.push(f);
    }
    fn remove(&mut self, f: Frame) {
        self.unlink(f);
    }
    fn victim(&mut self, _: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let n = self.queue.len();
        let mut cur = self.hand.or_else(|| self.queue.first().copied());
        for _ in 0..3 * n {
            let f = cur?;
            let next = self.next_of(f);
            let was_visited = std::mem::replace(&mut self.visited[f as usize], false);
            if !was_visited && !refused(f) {
                remove_item(&mut self.queue, &f);
                self.hand = next;
                return Some(f);
            }
            cur = next.or_else(|| self.queue.first().copied());
        }
        self.hand = cur;
        None
    }
}

/// S3-FIFO: small and main FIFOs, ghost keys, 2-bit counters.
struct S3FifoModel {
    small_target: usize,
    main_cap: usize,
    keys: Vec<u64>,
    freq: Vec<u8>,
    small: Vec<Frame>,
    main: Vec<Frame>,
    ghost: VecDeque<u64>,
}

impl S3FifoModel {
    fn new(frames: usize) -> Self {
        let small_target = (frames / 10).max(1);
        S3FifoModel {
            small_target,
            main_cap: frames.saturating_sub(small_target).max(1),
            keys: vec![0; frames],
            freq: vec![0; frames],
            small: vec![],
            main: vec![],
            ghost: VecDeque::new(),
        }
    }

    fn evict_small(&mut self, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let mut i = 0;
        while i < self.small.len() {
            let t = self.small[i];
            if self.freq[t as usize] >= 2 {
                self.freq[t as usize] = 0;
                self.small.remove(i);
                self.main.push(t);
                if self.main.len() > self.main_cap {
                    if let Some(f) = self.evict_main(refused) {
                        return Some(f);
                    }
                }
            } else if !refused(t) {
                self.small.remove(i);
                let key = self.keys[t as usize];
                remove_deque(&mut self.ghost, &key);
                self.ghost.push_back(key);
                while self.ghost.len() > self.main_cap {
                    self.ghost.pop_front();
                }
                return Some(t);
            } else {
                i += 1;
            }
        }
        None
    }

    fn evict_main(&mut self, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        let mut steps = 4 * self.main.len() + 1;
        let mut i = 0;
        while i < self.main.len() && steps > 0 {
            steps -= 1;
            let t = self.main[i];
            let fr = self.freq[t as usize];
            if fr > 0 {
                self.freq[t as usize] = fr.min(3) - 1;
                self.main.remove(i);
                self.main.push(t);
            } else if !refused(t) {
                self.main.remove(i);
                return Some(t);
            } else {
                i += 1;
            }
        }
        None
    }
}

impl Model for S3FifoModel {
    fn hit(&mut self, f: Frame) {
        let v = &mut self.freq[f as usize];
        *v = (*v + 1).min(3);
    }
    fn insert(&mut self, f: Frame, key: u64) {
        self.keys[f as usize] = key;
        self.freq[f as usize] = 0;
        if remove_deque(&mut self.ghost, &key) {
            self.main.push(f);
        } else {
            self.small.push(f);
        }
    }
    fn remove(&mut self, f: Frame) {
        remove_item(&mut self.small, &f);
        remove_item(&mut self.main, &f);
    }
    fn victim(&mut self, _: Option<u64>, refused: &dyn Fn(Frame) -> bool) -> Option<Frame> {
        if self.small.len() >= self.small_target || self.main.is_empty() {
            self.evict_small(refused).or_else(|| self.evict_main(refused))
        } else {
            self.evict_main(refused).or_else(|| self.evict_small(refused))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The harness.

#[derive(Clone, Debug)]
enum Op {
    /// Access a page; on a miss with no free frame, `victim_for` with these frames refused.
    Access { key: u64, refuse: u8 },
    /// Discard the n-th resident page (`on_remove`).
    Remove { nth: usize },
    /// Background eviction (`victim` without a key) with these frames refused.
    Victim { refuse: u8 },
}

fn refusal() -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(0u8), 1 => any::<u8>()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..20u64, refusal()).prop_map(|(key, refuse)| Op::Access { key, refuse }),
        1 => any::<usize>().prop_map(|nth| Op::Remove { nth }),
        1 => refusal().prop_map(|refuse| Op::Victim { refuse }),
    ]
}

/// Runs `ops` on `policy` (and on `model`, comparing victims, when given).
fn run(frames: usize, policy: &dyn Policy, mut model: Option<&mut dyn Model>, ops: &[Op]) {
    let mut resident: Vec<Option<u64>> = vec![None; frames];
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Access { key, refuse } => {
                if let Some(f) = resident.iter().position(|r| *r == Some(key)) {
                    policy.on_hit(f as Frame);
                    if let Some(m) = model.as_deref_mut() {
                        m.hit(f as Frame);
                    }
                    continue;
                }
                let f = match resident.iter().position(Option::is_none) {
                    Some(f) => Some(f as Frame),
                    None => checked_victim(policy, &mut model, &resident, Some(key), refuse, step),
                };
                if let Some(f) = f {
                    resident[f as usize] = Some(key);
                    policy.on_insert(f, key);
                    if let Some(m) = model.as_deref_mut() {
                        m.insert(f, key);
                    }
                }
            }
            Op::Remove { nth } => {
                let live: Vec<usize> = (0..frames).filter(|&f| resident[f].is_some()).collect();
                if live.is_empty() {
                    continue;
                }
                let f = live[nth % live.len()];
                resident[f] = None;
                policy.on_remove(f as Frame);
                if let Some(m) = model.as_deref_mut() {
                    m.remove(f as Frame);
                }
            }
            Op::Victim { refuse } => {
                if let Some(f) = checked_victim(policy, &mut model, &resident, None, refuse, step) {
                    resident[f as usize] = None;
                }
            }
        }
    }
    // Finally every resident frame comes out, each once, and then nothing.
    let live = resident.iter().filter(|r| r.is_some()).count();
    for _ in 0..live {
        let f = checked_victim(policy, &mut model, &resident, None, 0, ops.len()).expect("a tracked frame is left");
        resident[f as usize] = None;
    }
    assert_eq!(policy.victim(&mut |f| panic!("offered untracked frame {f}")), None);
}

/// Calls the policy's victim (with `key`: `victim_for`) refusing the frames in `refuse`, checks the contract,
/// and compares with the model.
fn checked_victim(
    policy: &dyn Policy,
    model: &mut Option<&mut dyn Model>,
    resident: &[Option<u64>],
    key: Option<u64>,
    refuse: u8,
    step: usize,
) -> Option<Frame> {
    let refused = |f: Frame| f < 8 && refuse & (1 << f) != 0;
    let mut accepted = None;
    let mut try_take = |f: Frame| {
        assert!(accepted.is_none(), "step {step}: offered {f} after accepting");
        assert!(
            resident.get(f as usize).is_some_and(Option::is_some),
            "step {step}: offered untracked frame {f}"
        );
        if refused(f) {
            false
        } else {
            accepted = Some(f);
            true
        }
    };
    let got = match key {
        Some(k) => policy.victim_for(k, &mut try_take),
        None => policy.victim(&mut try_take),
    };
    assert_eq!(got, accepted, "step {step}: returned a frame try_take did not accept");
    if got.is_none() {
        let all_refused = resident
            .iter()
            .enumerate()
            .all(|(f, r)| r.is_none() || refused(f as Frame));
        assert!(all_refused, "step {step}: None while an unrefused frame is tracked");
    }
    if let Some(m) = model.as_deref_mut() {
        let expected = m.victim(key, &refused);
        assert_eq!(got, expected, "step {step}: policy and model disagree");
    }
    got
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(48),
        ..ProptestConfig::default()
    }
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (1..=8usize, prop::collection::vec(op(), 1..160))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn fifo_matches_model((frames, ops) in scenario()) {
        run(frames, &*PolicyKind::Fifo.build(frames), Some(&mut FifoModel::default()), &ops);
    }

    #[test]
    fn lru_matches_model((frames, ops) in scenario()) {
        run(frames, &*PolicyKind::Lru.build(frames), Some(&mut LruModel::default()), &ops);
    }

    #[test]
    fn lru_k_matches_model((frames, ops) in scenario()) {
        let mut m = LruKModel::new(frames, 0, frames);
        run(frames, &*PolicyKind::LruK.build(frames), Some(&mut m), &ops);
    }

    #[test]
    fn lru_k_with_correlated_period_matches_model((frames, ops) in scenario(), crp in 1..6u64) {
        let mut m = LruKModel::new(frames, crp, 3);
        run(frames, &LruK::with_params(frames, 2, crp, 3), Some(&mut m), &ops);
    }

    #[test]
    fn two_q_matches_model((frames, ops) in scenario()) {
        run(frames, &*PolicyKind::TwoQ.build(frames), Some(&mut TwoQModel::new(frames)), &ops);
    }

    #[test]
    fn arc_matches_model((frames, ops) in scenario()) {
        run(frames, &*PolicyKind::Arc.build(frames), Some(&mut ArcModel::new(frames, true)), &ops);
    }

    #[test]
    fn arc_integer_delta_matches_model((frames, ops) in scenario()) {
        let mut m = ArcModel::new(frames, false);
        run(frames, &ArcPolicy::with_real_delta(frames, false), Some(&mut m), &ops);
    }

    #[test]
    fn sieve_matches_model((frames, ops) in scenario()) {
        run(frames, &*PolicyKind::Sieve.build(frames), Some(&mut SieveModel::new(frames)), &ops);
    }

    #[test]
    fn s3_fifo_matches_model((frames, ops) in scenario()) {
        run(frames, &*PolicyKind::S3Fifo.build(frames), Some(&mut S3FifoModel::new(frames)), &ops);
    }

    /// The adaptive policy runs S3-FIFO until its shadows see a significant difference, which takes 1000 sampled
    /// misses (an epoch): in these short scenarios it must evict exactly as S3-FIFO, with W-TinyLFU tracking the
    /// same frames beside it.
    #[test]
    fn adaptive_matches_s3_fifo_model_before_any_switch((frames, ops) in scenario()) {
        let p = Adaptive::new(frames);
        run(frames, &p, Some(&mut S3FifoModel::new(frames)), &ops);
        prop_assert_eq!(p.switches(), 0);
    }

    #[test]
    fn clock_w_tinylfu_and_adaptive_keep_the_contract((frames, ops) in scenario()) {
        for kind in [PolicyKind::Clock, PolicyKind::WTinyLfu, PolicyKind::Adaptive] {
            run(frames, &*kind.build(frames), None, &ops);
        }
    }

    #[test]
    fn tinylfu_admission_keeps_the_contract((frames, ops) in scenario()) {
        for &kind in PolicyKind::ALL {
            run(frames, &*kind.with_admission(Admission::TinyLfu).build(frames), None, &ops);
            let floored = TinyLfuAdmission::with_probation_floor(kind.build(frames), frames, frames / 3);
            run(frames, &floored, None, &ops);
        }
    }
}

/// The adaptive policy across its switches: a loop over ten times the cache (where W-TinyLFU beats S3-FIFO)
/// with random refusals, discards and background victims mixed in, then a small hot set (where either does).
/// The contract is checked at every step, before and after the switch.
#[test]
fn adaptive_keeps_the_contract_across_switches() {
    const FRAMES: usize = 8;
    let mut rng = 0x853c_49e6_748f_ea9bu64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut ops = Vec::new();
    for i in 0..40_000u64 {
        let r = next();
        let refuse = if r % 4 == 0 { (r >> 8) as u8 } else { 0 };
        ops.push(match (r >> 16) % 64 {
            0 => Op::Remove {
                nth: (r >> 24) as usize,
            },
            1 => Op::Victim { refuse },
            _ if i < 30_000 => Op::Access { key: i % 80, refuse },
            _ => Op::Access {
                key: (r >> 32) % 6,
                refuse,
            },
        });
    }
    let p = Adaptive::new(FRAMES);
    run(FRAMES, &p, None, &ops);
    assert!(p.switches() >= 1, "the loop made it switch");
}

/// Four threads hit, insert, remove and evict concurrently. A frame is handed out (accepted by `try_take`,
/// which claims it with a CAS) at most once until it is inserted again; afterwards the policy still tracks
/// exactly the resident frames.
#[test]
fn concurrent_smoke() {
    const FRAMES: usize = 48;
    const THREADS: u64 = 4;
    const ITERS: usize = 3_000;
    const RESIDENT: u8 = 1;
    const TAKEN: u8 = 2;
    let mut configs: Vec<_> = PolicyKind::ALL.iter().map(|&k| k.into()).collect();
    configs.extend(PolicyKind::ALL.iter().map(|&k| k.with_admission(Admission::TinyLfu)));
    for config in configs {
        let policy = config.build(FRAMES);
        let state: Vec<AtomicU8> = (0..FRAMES).map(|_| AtomicU8::new(RESIDENT)).collect();
        for f in 0..FRAMES as Frame {
            policy.on_insert(f, u64::from(f));
        }
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (policy, state) = (&policy, &state);
                s.spawn(move || {
                    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1).wrapping_mul(0xff51_afd7_ed55_8ccd);
                    let mut next = move || {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        rng
                    };
                    for _ in 0..ITERS {
                        let r = next();
                        let f = (r % FRAMES as u64) as Frame;
                        let key = next() % (4 * FRAMES as u64);
                        match (r >> 32) % 10 {
                            0..=5 => {
                                if state[f as usize].load(SeqCst) == RESIDENT {
                                    policy.on_hit(f);
                                }
                            }
                            6..=8 => {
                                let mut accepted = None;
                                let mut try_take = |g: Frame| {
                                    assert!(accepted.is_none(), "offered {g} after accepting");
                                    let ok = state[g as usize]
                                        .compare_exchange(RESIDENT, TAKEN, SeqCst, SeqCst)
                                        .is_ok();
                                    if ok {
                                        accepted = Some(g);
                                    }
                                    ok
                                };
                                let got = if r & 1 == 0 {
                                    policy.victim(&mut try_take)
                                } else {
                                    policy.victim_for(key, &mut try_take)
                                };
                                assert_eq!(got, accepted, "{}: returned a frame it did not take", config.name());
                                if let Some(g) = got {
                                    policy.on_insert(g, key);
                                    state[g as usize].store(RESIDENT, SeqCst);
                                }
                            }
                            _ => {
                                // Discard the page and place another: on_remove then on_insert.
                                if state[f as usize]
                                    .compare_exchange(RESIDENT, TAKEN, SeqCst, SeqCst)
                                    .is_ok()
                                {
                                    policy.on_remove(f);
                                    policy.on_insert(f, key);
                                    state[f as usize].store(RESIDENT, SeqCst);
                                }
                            }
                        }
                    }
                });
            }
        });
        let mut seen = [false; FRAMES];
        for _ in 0..FRAMES {
            let f = policy
                .victim(&mut |_| true)
                .unwrap_or_else(|| panic!("{}: lost track of a resident frame", config.name()));
            assert!(!seen[f as usize], "{}: frame {f} returned twice", config.name());
            seen[f as usize] = true;
        }
        assert_eq!(policy.victim(&mut |_| true), None, "{}", config.name());
    }
}

/// Hit ratios of every configuration on a synthetic trace (Zipf-like skew with periodic one-pass scans),
/// replayed single-threaded as the simulator does. A sanity check that the scan-resistant policies beat LRU
/// here; prints a table. Run with
/// `cargo test --release -p bufpool --test integration -- --ignored --nocapture policy_model::hit_ratio_sanity`.
#[test]
#[ignore = "prints a table; seconds in release, slow in debug"]
fn hit_ratio_sanity() {
    const FRAMES: usize = 1_000;
    const REFS: usize = 400_000;
    const KEYS: u64 = 20_000;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Approximate Zipf(~1): key = KEYS^u - 1 for uniform u, so small keys are hot.
    let mut trace = Vec::with_capacity(REFS);
    let mut scan = 1_000_000u64;
    while trace.len() < REFS {
        if trace.len() % 50_000 == 0 && !trace.is_empty() {
            for _ in 0..3_000 {
                trace.push(scan);
                scan += 1;
            }
        }
        let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
        trace.push(((KEYS as f64).powf(u) - 1.0) as u64);
    }
    let mut configs: Vec<bufpool::policy::PolicyConfig> = PolicyKind::ALL.iter().map(|&k| k.into()).collect();
    configs.extend(PolicyKind::ALL.iter().map(|&k| k.with_admission(Admission::TinyLfu)));
    let mut ratios = std::collections::HashMap::new();
    for config in configs {
        let policy = config.build(FRAMES);
        let mut table = std::collections::HashMap::<u64, Frame>::new();
        let mut frame_key: Vec<Option<u64>> = vec![None; FRAMES];
        let mut free: Vec<Frame> = (0..FRAMES as Frame).rev().collect();
        let mut hits = 0usize;
        let start = std::time::Instant::now();
        for &key in &trace {
            if let Some(&f) = table.get(&key) {
                policy.on_hit(f);
                hits += 1;
                continue;
            }
            let f = match free.pop() {
                Some(f) => f,
                None => {
                    let f = policy.victim_for(key, &mut |_| true).expect("a victim");
                    table.remove(&frame_key[f as usize].take().expect("victim was resident"));
                    f
                }
            };
            table.insert(key, f);
            frame_key[f as usize] = Some(key);
            policy.on_insert(f, key);
        }
        let ratio = 100.0 * hits as f64 / trace.len() as f64;
        println!(
            "{:<18} hit ratio {:6.2} %  ({:.0} ns/ref)",
            config.name(),
            ratio,
            start.elapsed().as_nanos() as f64 / trace.len() as f64
        );
        ratios.insert(config.name(), ratio);
    }
    assert!(ratios["arc"] > ratios["lru"], "ARC resists the scans");
    assert!(ratios["w-tinylfu"] > ratios["lru"], "W-TinyLFU resists the scans");
    assert!(ratios["lru+tinylfu"] > ratios["lru"], "admission protects LRU");
}

/// Every policy behind the real pool: two threads read and rewrite pages of a file four times larger than
/// the pool, each page carrying its own number and a per-page version that only grows. Any policy bug that
/// hands out a latched or still-mapped frame shows up as a wrong page number or a version going backwards.
#[test]
fn every_policy_runs_the_pool() {
    use bufpool::{BufferPool, MemoryStorage, PageId};
    const FRAMES: usize = 16;
    const PAGES: u32 = 64;
    for &kind in PolicyKind::ALL {
        let pool = BufferPool::builder()
            .frames(FRAMES)
            .page_size(4096)
            .policy(kind)
            .build()
            .expect("pool");
        let file = pool.open_storage(MemoryStorage::new()).expect("file");
        for n in 0..PAGES {
            let mut g = pool.new_page(file).expect("new page");
            assert_eq!(g.page_id().page_no(), n);
            g[..4].copy_from_slice(&n.to_le_bytes());
        }
        let versions: Vec<std::sync::atomic::AtomicU32> =
            (0..PAGES).map(|_| std::sync::atomic::AtomicU32::new(0)).collect();
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let (pool, versions) = (&pool, &versions);
                s.spawn(move || {
                    let mut rng = 0x853c_49e6_748f_ea9bu64 ^ (t + 1);
                    for _ in 0..1_500 {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        // Skewed: half the accesses go to the first 8 pages.
                        let n = if rng & 1 == 0 {
                            (rng >> 8) % 8
                        } else {
                            (rng >> 8) % u64::from(PAGES)
                        } as u32;
                        let page = PageId::new(file, n);
                        if rng & 6 == 0 {
                            let mut g = pool.write(page).expect("write");
                            assert_eq!(u32::from_le_bytes(g[..4].try_into().unwrap()), n, "{}", kind.name());
                            let v = u32::from_le_bytes(g[4..8].try_into().unwrap()) + 1;
                            g[4..8].copy_from_slice(&v.to_le_bytes());
                            versions[n as usize].store(v, SeqCst);
                        } else {
                            let g = pool.read(page).expect("read");
                            assert_eq!(u32::from_le_bytes(g[..4].try_into().unwrap()), n, "{}", kind.name());
                            let v = u32::from_le_bytes(g[4..8].try_into().unwrap());
                            assert!(
                                v >= versions[n as usize].load(SeqCst),
                                "{}: page {n} went back",
                                kind.name()
                            );
                        }
                    }
                });
            }
        });
        assert!(pool.stats().evictions > 0, "{}: the workload evicts", kind.name());
    }
}

/// Cost of `on_hit` per configuration, with one and two threads hitting random resident frames (no
/// assertions: a table for the report). Run with
/// `cargo test --release -p bufpool --test integration -- --ignored --nocapture policy_model::hit_path_cost`.
#[test]
#[ignore = "prints a table of timings"]
fn hit_path_cost() {
    const FRAMES: usize = 4_096;
    const HITS: u64 = 2_000_000;
    let mut configs: Vec<bufpool::policy::PolicyConfig> = PolicyKind::ALL.iter().map(|&k| k.into()).collect();
    configs.push(PolicyKind::Lru.with_admission(Admission::TinyLfu));
    for config in configs {
        let policy = config.build(FRAMES);
        for f in 0..FRAMES as Frame {
            policy.on_insert(f, u64::from(f));
        }
        let mut line = format!("{:<14}", config.name());
        for threads in [1u64, 2] {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    let policy = &policy;
                    s.spawn(move || {
                        let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
                        for _ in 0..HITS / threads {
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            policy.on_hit((rng % FRAMES as u64) as Frame);
                        }
                    });
                }
            });
            // Drain what the buffers hold, as the next miss would.
            let _ = policy.victim(&mut |_| false);
            let ns = start.elapsed().as_nanos() as f64 / HITS as f64;
            line += &format!("  {threads} thread(s): {ns:5.1} ns/hit");
        }
        println!("{line}");
    }
}

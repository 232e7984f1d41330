//! The cache simulator: replays a [`Trace`] through one replacement policy, or through Belady's optimum.
//!
//! A simulated cache has `frames` slots. [`simulate_policy`] drives the pool's own policy code
//! (`PolicyConfig::build`, so also a policy behind an admission filter) exactly as the pool does: a map from page
//! to frame and a free-frame list; on a hit `on_hit(frame)`; on a miss a free frame if there is one, else
//! `victim_for(key, try_take)` (the contract's entry point for a caller that knows the incoming page, which ARC
//! needs to follow its paper), then `on_insert(frame, key)`.
//! Every frame is unlatched in a simulation, so `try_take` accepts every frame the policy tracks; it refuses (and
//! the simulation fails with [`SimError::Contract`]) a frame that holds no page, since the contract forbids
//! offering one. The page-to-frame map is a vector indexed by the trace's dense page index (see
//! [`Trace`]), which is the same map as a `HashMap<key, frame>`, without hashing on every request.
//!
//! [`simulate_opt`] is Belady's MIN for demand paging (every missed page is brought in, as every policy here
//! does): on a miss with a full cache it evicts the resident page whose next use is furthest in the future
//! (never used again counts as infinitely far). Next uses are precomputed once per trace ([`next_uses`]); the
//! resident pages sit in a max-heap keyed by next use, with stale entries dropped lazily, so a run costs
//! O(n log n). No demand-paging policy can miss less than it on the same trace and cache size.
//!
//! Miss ratios count every request, including the cold misses of first references.
//!
//! The adaptive policy runs through the same replay; the simulator also reads which candidate it runs after
//! each request ([`Adaptive::active_candidate`], one atomic load) and reports the changes as [`Outcome::choices`].

use std::collections::BinaryHeap;

use bufpool::policy::{Adaptive, Candidate, PolicyConfig};
use bufpool::{FrameIdx, Policy, PolicyKind};

use super::trace::Trace;

/// Marks "no page" / "no frame" / "never used again" in the simulator's `u32` index vectors.
const NONE: u32 = u32::MAX;

/// A simulation that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The policy broke the `Policy` contract (a bug in the policy, reported rather than hidden).
    #[error("policy {policy} with {frames} frames broke the Policy contract at request {request}: {what}")]
    Contract {
        /// The policy's name.
        policy: &'static str,
        /// The cache size.
        frames: usize,
        /// 0-based index of the request being served.
        request: usize,
        /// What it did.
        what: String,
    },
}

/// Misses of one policy at one cache size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Requests served.
    pub requests: u64,
    /// Requests that missed.
    pub misses: u64,
    /// The adaptive policy only: the candidate it ran from each request on (the first entry at request 0, then
    /// one per switch). Empty for every other policy.
    pub choices: Vec<Choice>,
}

/// The adaptive policy ran `candidate` from request `request` on (0-based, until the next choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The first request served under this candidate.
    pub request: u64,
    /// The candidate.
    pub candidate: Candidate,
}

impl Outcome {
    /// Misses per request (0 for an empty trace).
    pub fn miss_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.misses as f64 / self.requests as f64
        }
    }
}

/// Replays `trace` through `config`'s policy in a cache of `frames` frames (at least one).
pub fn simulate_policy(trace: &Trace, config: PolicyConfig, frames: usize) -> Result<Outcome, SimError> {
    let frames = frames.max(1);
    if config == PolicyKind::Adaptive.into() {
        let adaptive = Adaptive::new(frames);
        let mut choices: Vec<Choice> = Vec::new();
        let mut outcome = replay(trace, &adaptive, frames, |request| {
            let candidate = adaptive.active_candidate();
            if choices.last().is_none_or(|c| c.candidate != candidate) {
                choices.push(Choice {
                    request: request as u64,
                    candidate,
                });
            }
        })?;
        outcome.choices = choices;
        return Ok(outcome);
    }
    replay(trace, &*config.build(frames), frames, |_| {})
}

/// Replays `trace` through `policy`, built for `frames` frames (a built-in with other parameters, or a policy
/// of the caller's own).
pub fn simulate_built(trace: &Trace, policy: &dyn Policy, frames: usize) -> Result<Outcome, SimError> {
    replay(trace, policy, frames.max(1), |_| {})
}

/// Replays `trace` through `policy`, built for `frames` frames, calling `before` with each request's index
/// before serving it.
fn replay(
    trace: &Trace,
    policy: &dyn Policy,
    frames: usize,
    mut before: impl FnMut(usize),
) -> Result<Outcome, SimError> {
    assert!(frames < NONE as usize, "frame indices are u32");
    let contract = |request: usize, what: String| SimError::Contract {
        policy: policy.name(),
        frames,
        request,
        what,
    };

    // frame_of[page] is the frame holding dense page `page`, or NONE; page_in[frame] is its inverse.
    let mut frame_of = vec![NONE; trace.keys.len()];
    let mut page_in = vec![NONE; frames];
    // Handed out lowest index first, as a fresh pool's free list would.
    let mut free: Vec<FrameIdx> = (0..frames as FrameIdx).rev().collect();
    let mut misses = 0u64;

    for (i, &page) in trace.requests.iter().enumerate() {
        before(i);
        let f = frame_of[page as usize];
        if f != NONE {
            policy.on_hit(f);
            continue;
        }
        misses += 1;
        let frame = match free.pop() {
            Some(f) => f,
            None => {
                let mut offered_empty = None;
                let victim = policy.victim_for(trace.keys[page as usize], &mut |f| {
                    let holds_page = page_in.get(f as usize).is_some_and(|&p| p != NONE);
                    if !holds_page {
                        offered_empty = Some(f);
                    }
                    holds_page
                });
                if let Some(f) = offered_empty {
                    return Err(contract(i, format!("offered frame {f}, which holds no page")));
                }
                let Some(v) = victim else {
                    return Err(contract(
                        i,
                        "victim_for() found nothing although no frame is latched".into(),
                    ));
                };
                let old = page_in[v as usize];
                frame_of[old as usize] = NONE;
                page_in[v as usize] = NONE;
                v
            }
        };
        frame_of[page as usize] = frame;
        page_in[frame as usize] = page;
        policy.on_insert(frame, trace.keys[page as usize]);
    }
    Ok(Outcome {
        requests: trace.requests.len() as u64,
        misses,
        choices: Vec::new(),
    })
}

/// For each request `i`, the index of the next request for the same page, or `u32::MAX` if there is none.
pub fn next_uses(trace: &Trace) -> Vec<u32> {
    let mut last_seen = vec![NONE; trace.keys.len()];
    let mut next = vec![NONE; trace.requests.len()];
    for (i, &page) in trace.requests.iter().enumerate().rev() {
        next[i] = last_seen[page as usize];
        last_seen[page as usize] = i as u32;
    }
    next
}

/// Belady's optimum: replays `trace` in a cache of `frames` frames (at least one), evicting the resident page
/// whose next use is furthest. `next` is [`next_uses`] of the same trace.
pub fn simulate_opt(trace: &Trace, next: &[u32], frames: usize) -> Outcome {
    assert_eq!(next.len(), trace.requests.len(), "next uses of another trace");
    let frames = frames.max(1);
    // cur_next[page] is the next use of a resident page. NONE there means "never used again", so residency is
    // kept in its own vector.
    let mut resident = vec![false; trace.keys.len()];
    let mut cur_next = vec![NONE; trace.keys.len()];
    // (next use, page); an entry is current iff the page is resident and cur_next[page] equals it. Next uses are
    // distinct request indices (one page per index), and a page gets "never again" only once, at its last use,
    // so each resident page has exactly one current entry.
    let mut heap: BinaryHeap<(u32, u32)> = BinaryHeap::with_capacity(2 * frames + 1);
    let compact_at = 4 * frames + 1024;
    let mut held = 0usize;
    let mut misses = 0u64;

    for (i, &page) in trace.requests.iter().enumerate() {
        let p = page as usize;
        let nx = next[i];
        if resident[p] {
            cur_next[p] = nx;
            heap.push((nx, page));
        } else {
            misses += 1;
            if held == frames {
                loop {
                    let (x, q) = heap.pop().expect("a full cache has a current heap entry per page");
                    if resident[q as usize] && cur_next[q as usize] == x {
                        resident[q as usize] = false;
                        break;
                    }
                }
            } else {
                held += 1;
            }
            resident[p] = true;
            cur_next[p] = nx;
            heap.push((nx, page));
        }
        if heap.len() > compact_at {
            heap.retain(|&(x, q)| resident[q as usize] && cur_next[q as usize] == x);
        }
    }
    Outcome {
        requests: trace.requests.len() as u64,
        misses,
        choices: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use bufpool::policy::Admission;
    use bufpool::PolicyKind;
    use proptest::prelude::*;

    use super::*;

    /// The minimum number of misses over every possible sequence of eviction choices (demand paging), by
    /// exhaustive search with memoisation. Exponential: tiny traces only.
    fn brute_force_min(requests: &[u32], frames: usize) -> u64 {
        fn go(
            requests: &[u32],
            i: usize,
            cache: BTreeSet<u32>,
            frames: usize,
            memo: &mut HashMap<(usize, BTreeSet<u32>), u64>,
        ) -> u64 {
            if i == requests.len() {
                return 0;
            }
            if let Some(&m) = memo.get(&(i, cache.clone())) {
                return m;
            }
            let p = requests[i];
            let best = if cache.contains(&p) {
                go(requests, i + 1, cache.clone(), frames, memo)
            } else if cache.len() < frames {
                let mut c = cache.clone();
                c.insert(p);
                1 + go(requests, i + 1, c, frames, memo)
            } else {
                cache
                    .iter()
                    .map(|&v| {
                        let mut c = cache.clone();
                        c.remove(&v);
                        c.insert(p);
                        1 + go(requests, i + 1, c, frames, memo)
                    })
                    .min()
                    .expect("a full cache is not empty")
            };
            memo.insert((i, cache), best);
            best
        }
        go(requests, 0, BTreeSet::new(), frames, &mut HashMap::new())
    }

    fn opt_misses(keys: &[u64], frames: usize) -> u64 {
        let t = Trace::from_keys(keys.iter().copied());
        simulate_opt(&t, &next_uses(&t), frames).misses
    }

    /// Every policy, bare and behind each admission filter.
    fn all_configs() -> Vec<PolicyConfig> {
        PolicyKind::ALL
            .iter()
            .flat_map(|&k| [k.into(), k.with_admission(Admission::TinyLfu)])
            .collect()
    }

    #[test]
    fn next_uses_point_forward() {
        let t = Trace::from_keys([7, 8, 7, 9, 8, 7]);
        assert_eq!(next_uses(&t), vec![2, 4, 5, NONE, NONE, NONE]);
    }

    #[test]
    fn opt_textbook_example() {
        // The classic reference string (Silberschatz et al.): 9 faults with 3 frames under OPT, 12 under LRU.
        let refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(opt_misses(&refs, 3), 9);
        if let Some(lru) = PolicyKind::from_name("lru") {
            let t = Trace::from_keys(refs);
            assert_eq!(simulate_policy(&t, lru.into(), 3).unwrap().misses, 12);
        }
    }

    #[test]
    fn opt_compacts_its_heap_on_long_runs() {
        // Many hits per miss grow the heap with stale entries; the result must not change when it is compacted.
        let keys: Vec<u64> = (0..20_000u64).map(|i| (i * 7919) % 37).collect();
        let t = Trace::from_keys(keys.iter().copied());
        let got = simulate_opt(&t, &next_uses(&t), 5).misses;
        assert_eq!(got, brute_force_like_belady(&keys, 5));
    }

    /// Belady by the definition, in O(n * frames * n): scan forward for each resident page's next use.
    fn brute_force_like_belady(keys: &[u64], frames: usize) -> u64 {
        let mut cache: Vec<u64> = Vec::new();
        let mut misses = 0;
        for (i, &k) in keys.iter().enumerate() {
            if cache.contains(&k) {
                continue;
            }
            misses += 1;
            if cache.len() == frames {
                let far = |c: &u64| keys[i + 1..].iter().position(|x| x == c).unwrap_or(usize::MAX);
                let (at, _) = cache.iter().enumerate().max_by_key(|(_, c)| far(c)).unwrap();
                cache.swap_remove(at);
            }
            cache.push(k);
        }
        misses
    }

    #[test]
    fn every_policy_runs_cleanly_and_counts_cold_misses() {
        let keys: Vec<u64> = (0..500u64).map(|i| (i * 31) % 97 + 1000).collect();
        let t = Trace::from_keys(keys.iter().copied());
        for kind in all_configs() {
            // Large enough for everything: only cold misses.
            let all = simulate_policy(&t, kind, 97).unwrap();
            assert_eq!(all.misses, 97, "{}", kind.name());
            assert_eq!(all.requests, 500);
            let small = simulate_policy(&t, kind, 10).unwrap();
            assert!(small.misses > 97 && small.misses <= 500, "{}: {small:?}", kind.name());
        }
    }

    /// The adaptive policy's choices: S3-FIFO (10 %) from the first request, then W-TinyLFU on a loop ten times the
    /// cache; its misses are those of the policy as `PolicyKind::build` makes it (the pool's).
    #[test]
    fn adaptive_reports_its_choices() {
        let t = Trace::from_keys((0..100_000u64).map(|i| i % 1_000));
        let got = simulate_policy(&t, PolicyKind::Adaptive.into(), 100).unwrap();
        assert_eq!(
            got.choices[0],
            Choice {
                request: 0,
                candidate: Adaptive::candidates()[0],
            }
        );
        assert_eq!(got.choices[0].candidate.name(), "s3-fifo");
        assert_eq!(got.choices.len(), 2, "{:?}", got.choices);
        assert_eq!(got.choices[1].candidate, Candidate::WTinyLfu);
        let built = replay(&t, &*PolicyKind::Adaptive.build(100), 100, |_| {}).unwrap();
        assert_eq!(got.misses, built.misses);
        assert!(simulate_policy(&t, PolicyKind::S3Fifo.into(), 100)
            .unwrap()
            .choices
            .is_empty());
    }

    /// A policy that breaks the contract, to see the simulator report it rather than go wrong.
    enum Broken {
        /// `victim` finds nothing although nothing is latched.
        FindsNothing,
        /// `victim` offers a frame index that holds no page.
        OffersEmptyFrame,
    }

    impl Policy for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn on_hit(&self, _: FrameIdx) {}
        fn on_insert(&self, _: FrameIdx, _: u64) {}
        fn on_remove(&self, _: FrameIdx) {}
        fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
            match self {
                Broken::FindsNothing => None,
                Broken::OffersEmptyFrame => try_take(7).then_some(7),
            }
        }
    }

    #[test]
    fn contract_breaches_are_reported() {
        let t = Trace::from_keys([1, 2, 3, 4, 5]);
        let e = replay(&t, &Broken::FindsNothing, 2, |_| {}).unwrap_err().to_string();
        assert_eq!(
            e,
            "policy broken with 2 frames broke the Policy contract at request 2: victim_for() found \
             nothing although no frame is latched"
        );
        let e = replay(&t, &Broken::OffersEmptyFrame, 2, |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("at request 2: offered frame 7, which holds no page"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn opt_equals_exhaustive_search(keys in prop::collection::vec(0u64..5, 0..14), frames in 1usize..4) {
            let t = Trace::from_keys(keys.iter().copied());
            let want = brute_force_min(&t.requests, frames);
            prop_assert_eq!(simulate_opt(&t, &next_uses(&t), frames).misses, want);
        }

        #[test]
        fn no_policy_beats_opt(keys in prop::collection::vec(0u64..12, 0..300), frames in 1usize..8) {
            let t = Trace::from_keys(keys.iter().copied());
            let opt = simulate_opt(&t, &next_uses(&t), frames).misses;
            prop_assert_eq!(opt, brute_force_like_belady(&keys, frames));
            for kind in all_configs() {
                let got = simulate_policy(&t, kind, frames).unwrap().misses;
                prop_assert!(got >= opt, "{} missed {} < opt {}", kind.name(), got, opt);
            }
        }
    }
}

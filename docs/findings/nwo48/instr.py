# measurement build (never committed): outcomes of the hinted reads by table (none / hit / linked / wrong), printed
# when a worker's NearHints drops; P48_STICKY=0 turns the sticky note off (a linked answer renoted, as l1).
import sys
p=sys.argv[1]+'/crates/bufpool-cli/src/bench/tpcc/ours.rs'
s=open(p).read()
def rep(old,new):
    global s
    assert s.count(old)==1,old
    s=s.replace(old,new)
rep('''#[derive(Default)]
struct NearHints(Vec<NearSet>);
''','''#[derive(Default)]
struct NearHints(Vec<NearSet>);
pub static P48: [std::sync::atomic::AtomicU64; 2 * 16 * 4] = [const { std::sync::atomic::AtomicU64::new(0) }; 128];
fn p48(batch: bool, t: Table, before: &LeafHint, after: &LeafHint) {
    let o = if before.page().is_none() { 0 } else if before.same_leaf(after) { 1 } else if after.linked() { 2 } else { 3 };
    P48[(batch as usize * 16 + t.index()) * 4 + o].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
fn p48_sticky() -> bool {
    static S: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *S.get_or_init(|| std::env::var("P48_STICKY").map_or(true, |v| v != "0"))
}
impl Drop for NearHints {
    fn drop(&mut self) {
        for b in 0..2 { for t in 0..16 { let v: Vec<u64> = (0..4).map(|o| P48[(b*16+t)*4+o].load(std::sync::atomic::Ordering::Relaxed)).collect();
            if v.iter().sum::<u64>() > 0 { eprintln!("P48 {} table {} none {} hit {} linked {} wrong {}", if b==1 {"batch"} else {"single"}, t, v[0], v[1], v[2], v[3]); } } }
    }
}
''')
rep('''        if !set.read_hint.same_leaf(&remembered) && !set.read_hint.linked() {''','''        p48(false, t, &remembered, &set.read_hint);
        if !set.read_hint.same_leaf(&remembered) && !(p48_sticky() && set.read_hint.linked()) {''')
rep('''            if !hint.same_leaf(&hints[j]) && !hint.linked() {''','''            p48(true, t, &hints[j], &hint);
            if !hint.same_leaf(&hints[j]) && !(p48_sticky() && hint.linked()) {''')
open(p,'w').write(s)

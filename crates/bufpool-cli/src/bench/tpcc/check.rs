//! The consistency conditions of clause 3.3.2 (1 to 4), checked through the engine's own read-only
//! transactions after every run, and the crash test's check that every acknowledged New-Order survived.
//!
//! 1. W_YTD = sum(D_YTD) of the warehouse's districts.
//! 2. D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID) of the district (the last only if it has NEW-ORDER rows).
//! 3. max(NO_O_ID) - min(NO_O_ID) + 1 = the number of the district's NEW-ORDER rows.
//! 4. sum(O_OL_CNT) = the number of the district's ORDER-LINE rows.

use anyhow::Result;

use super::engine::{Access, Txn, Worker};
use super::schema::*;

/// What the checks found.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// Each violated condition, described (empty: consistent).
    pub failures: Vec<String>,
    /// ORDER rows seen.
    pub orders: u64,
    /// NEW-ORDER rows seen.
    pub new_orders: u64,
    /// ORDER-LINE rows seen.
    pub order_lines: u64,
}

impl Checked {
    /// Every condition held.
    pub fn consistent(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Checks conditions 1 to 4 on every warehouse and district of `scale` (one read-only transaction per
/// warehouse).
pub fn conditions(worker: &mut impl Worker, scale: Scale) -> Result<Checked> {
    let mut out = Checked::default();
    for w in 1..=scale.warehouses {
        let mut buf = Vec::new();
        worker.run(&Access::warehouse(w, true), &mut |t: &mut dyn Txn| {
            check_warehouse(t, w, &mut buf, &mut out)?;
            Ok(true)
        })?;
    }
    Ok(out)
}

fn check_warehouse(t: &mut dyn Txn, w: u16, buf: &mut Vec<u8>, out: &mut Checked) -> Result<()> {
    if !t.get(Table::Warehouse, &warehouse_key(w), buf)? {
        out.failures.push(format!("warehouse {w} is missing"));
        return Ok(());
    }
    let w_ytd = Warehouse::decode(buf)?.ytd;
    let mut d_ytd = 0i64;
    for d in 1..=DISTRICTS {
        if !t.get(Table::District, &district_key(w, d), buf)? {
            out.failures.push(format!("district {w}/{d} is missing"));
            continue;
        }
        let dist = District::decode(buf)?;
        d_ytd += dist.ytd;
        let (mut max_o, mut ol_sum, mut orders) = (0u32, 0u64, 0u64);
        let mut bad = None;
        t.scan(
            Table::Order,
            &wdx_key(w, d, 0),
            &wdx_key(w, d + 1, 0),
            &mut |k, v| match (wdx_id(k), Order::decode(v)) {
                (Ok(o), Ok(order)) => {
                    max_o = max_o.max(o);
                    ol_sum += u64::from(order.ol_cnt);
                    orders += 1;
                    true
                }
                (Err(e), _) | (_, Err(e)) => {
                    bad = Some(e);
                    false
                }
            },
        )?;
        let (mut no_min, mut no_max, mut no_count) = (u32::MAX, 0u32, 0u64);
        t.scan(
            Table::NewOrder,
            &wdx_key(w, d, 0),
            &wdx_key(w, d + 1, 0),
            &mut |k, _| match wdx_id(k) {
                Ok(o) => {
                    no_min = no_min.min(o);
                    no_max = no_max.max(o);
                    no_count += 1;
                    true
                }
                Err(e) => {
                    bad = Some(e);
                    false
                }
            },
        )?;
        let mut lines = 0u64;
        t.scan(
            Table::OrderLine,
            &order_line_key(w, d, 0, 0),
            &order_line_key(w, d + 1, 0, 0),
            &mut |_, _| {
                lines += 1;
                true
            },
        )?;
        if let Some(e) = bad {
            return Err(e);
        }
        out.orders += orders;
        out.new_orders += no_count;
        out.order_lines += lines;
        let next = dist.next_o_id;
        if next.checked_sub(1) != Some(max_o) {
            out.failures.push(format!(
                "condition 2: district {w}/{d}: D_NEXT_O_ID - 1 = {} but max(O_ID) = {max_o}",
                next.wrapping_sub(1)
            ));
        }
        if no_count > 0 {
            if no_max != max_o {
                out.failures.push(format!(
                    "condition 2: district {w}/{d}: max(NO_O_ID) = {no_max} but max(O_ID) = {max_o}"
                ));
            }
            if u64::from(no_max - no_min) + 1 != no_count {
                out.failures.push(format!(
                    "condition 3: district {w}/{d}: NEW-ORDER ids {no_min}..={no_max} but {no_count} rows"
                ));
            }
        }
        if ol_sum != lines {
            out.failures.push(format!(
                "condition 4: district {w}/{d}: sum(O_OL_CNT) = {ol_sum} but {lines} ORDER-LINE rows"
            ));
        }
    }
    if w_ytd != d_ytd {
        out.failures.push(format!(
            "condition 1: warehouse {w}: W_YTD = {w_ytd} but sum(D_YTD) = {d_ytd}"
        ));
    }
    Ok(())
}

/// How [`acknowledged`] ends the line of an order that is not there at all.
pub const NO_ORDER: &str = "no ORDER row";

/// Checks that every New-Order of `acked` (`(w, d, o)` of acknowledged ones) is present: its ORDER row and
/// as many ORDER-LINE rows as it says. Returns the missing ones, described (an absent one ends with
/// [`NO_ORDER`]).
pub fn acknowledged(worker: &mut impl Worker, acked: &[(u16, u8, u32)]) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    let mut buf = Vec::new();
    for &(w, d, o) in acked {
        worker.run(&Access::warehouse(w, true), &mut |t: &mut dyn Txn| {
            if !t.get(Table::Order, &wdx_key(w, d, o), &mut buf)? {
                missing.push(format!("order {w}/{d}/{o}: {NO_ORDER}"));
                return Ok(true);
            }
            let want = Order::decode(&buf)?.ol_cnt;
            let mut lines = 0u8;
            t.scan(
                Table::OrderLine,
                &order_line_key(w, d, o, 0),
                &order_line_key(w, d, o + 1, 0),
                &mut |_, _| {
                    lines += 1;
                    true
                },
            )?;
            if lines != want {
                missing.push(format!("order {w}/{d}/{o}: {lines} of {want} ORDER-LINE rows"));
            }
            Ok(true)
        })?;
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tpcc::engine::{Durability, Engine};
    use crate::bench::tpcc::load;
    use crate::bench::tpcc::ours::Ours;
    use crate::bench::tpcc::random::NuConstants;
    use crate::bench::workload::Rng;

    fn change(w: &mut impl Worker, commit: bool, f: impl Fn(&mut dyn Txn) -> Result<()>) {
        let done = w
            .run(&Access::warehouse(1, false), &mut |t: &mut dyn Txn| {
                f(t)?;
                Ok(commit)
            })
            .unwrap();
        assert_eq!(done, commit);
    }

    #[test]
    fn conditions_hold_after_the_load_and_catch_each_violation() {
        let dir = tempfile::tempdir().unwrap();
        let scale = Scale::reduced(1);
        let e = Ours::open(dir.path(), 4096, 1).unwrap();
        load::load(&e, scale, NuConstants::for_load(&mut Rng::new(1)), 1, |_| {}).unwrap();
        let mut w = e.worker(Durability::NondurableAutocommit).unwrap();
        let c = conditions(&mut w, scale).unwrap();
        assert!(c.consistent(), "{:?}", c.failures);
        assert_eq!(c.orders, 10 * 60);
        assert_eq!(c.new_orders, 10 * 18);
        let bump_ytd = |t: &mut dyn Txn| {
            let mut b = Vec::new();
            assert!(t.get(Table::District, &district_key(1, 3), &mut b)?);
            let mut d = District::decode(&b)?;
            d.ytd += 1;
            t.put(Table::District, &district_key(1, 3), &d.encode())
        };
        // Rolled back: nothing changes.
        change(&mut w, false, bump_ytd);
        assert!(conditions(&mut w, scale).unwrap().consistent());
        change(&mut w, true, bump_ytd);
        // A hole in district 5's NEW-ORDER ids; a missing line in district 7.
        change(&mut w, true, |t| t.delete(Table::NewOrder, &wdx_key(1, 5, 50)));
        change(&mut w, true, |t| {
            t.delete(Table::OrderLine, &order_line_key(1, 7, 3, 1))
        });
        // District 9 claims an order it has not.
        change(&mut w, true, |t| {
            let mut b = Vec::new();
            assert!(t.get(Table::District, &district_key(1, 9), &mut b)?);
            let mut d = District::decode(&b)?;
            d.next_o_id += 1;
            t.put(Table::District, &district_key(1, 9), &d.encode())
        });
        let c = conditions(&mut w, scale).unwrap();
        let starts = |p: &str| c.failures.iter().any(|f| f.starts_with(p));
        assert!(starts("condition 1: warehouse 1"), "{:?}", c.failures);
        assert!(starts("condition 2: district 1/9"), "{:?}", c.failures);
        assert!(starts("condition 3: district 1/5"), "{:?}", c.failures);
        assert!(starts("condition 4: district 1/7"), "{:?}", c.failures);
        assert_eq!(c.failures.len(), 4, "{:?}", c.failures);
        let missing = acknowledged(&mut w, &[(1, 7, 3), (1, 7, 4), (1, 2, 61)]).unwrap();
        assert_eq!(missing.len(), 2, "{missing:?}");
    }
}

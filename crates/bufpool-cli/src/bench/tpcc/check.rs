//! The consistency conditions of clause 3.3.2, all twelve, checked through the engine's own read-only
//! transactions after every run, and the crash test's check that every acknowledged New-Order survived.
//!
//! 1. W_YTD = sum(D_YTD) of the warehouse's districts.
//! 2. D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID) of the district (the last only if it has NEW-ORDER rows).
//! 3. max(NO_O_ID) - min(NO_O_ID) + 1 = the number of the district's NEW-ORDER rows.
//! 4. sum(O_OL_CNT) = the number of the district's ORDER-LINE rows.
//! 5. O_CARRIER_ID is null if and only if the order has a NEW-ORDER row.
//! 6. O_OL_CNT = the number of the order's ORDER-LINE rows (and no ORDER-LINE row without its ORDER row).
//! 7. OL_DELIVERY_D is null if and only if its order's O_CARRIER_ID is.
//! 8. W_YTD = sum(H_AMOUNT) of the HISTORY rows with H_W_ID = W_ID.
//! 9. D_YTD = sum(H_AMOUNT) of the HISTORY rows with (H_W_ID, H_D_ID) = (D_W_ID, D_ID) (and each HISTORY row is
//!    keyed under the district its H_W_ID and H_D_ID name).
//! 10. C_BALANCE = sum(OL_AMOUNT) of the customer's delivered order lines (OL_DELIVERY_D not null, their order's
//!     O_C_ID the customer) - sum(H_AMOUNT) of its HISTORY rows ((H_C_W_ID, H_C_D_ID, H_C_ID)).
//! 11. count(ORDER) - count(NEW-ORDER) of a district = its delivered orders (O_CARRIER_ID not null). The spec writes
//!     "= 2100", which holds of the initial population only (each Delivery adds one, each New-Order none): this
//!     is its form for a database after any transactions, and 2,100 (scaled) as loaded. With condition 5 it
//!     fails exactly where a NEW-ORDER row has no ORDER row.
//! 12. C_BALANCE + C_YTD_PAYMENT = sum(OL_AMOUNT) of the customer's delivered order lines.
//!
//! Every column these read is stored (`schema.rs`). The check reads every row of WAREHOUSE, DISTRICT, CUSTOMER,
//! HISTORY, ORDER, NEW-ORDER and ORDER-LINE: first HISTORY, one read-only transaction per warehouse, summed by
//! paying district and by paid customer (a Payment's customer may be another warehouse's); then one per
//! warehouse for the rest. The database must be quiet meanwhile (after a run, a recovery, a test's threads): the
//! two passes are separate transactions.
//!
//! Where it runs: after every bench run, in `--tpcc-verify`, and wherever the tests called the conditions (the
//! crash, power-loss, full-device, real-fault and concurrency tests). Its cost, measured in session 36 (R36-O10 in
//! RELIABILITY.md, BENCHMARKS.md "Session 36, the full consistency check's time"): about 0.7 s at 20 warehouses
//! in memory, seconds more out of memory, outside the runs' time; each run's line prints it.

use anyhow::{bail, Result};

use super::engine::{Access, Txn, Worker};
use super::schema::*;

/// What the checks found.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// Each violated condition, described (empty: consistent): per condition and district (or warehouse), the
    /// first violation and how many more there were.
    pub failures: Vec<String>,
    /// ORDER rows seen.
    pub orders: u64,
    /// NEW-ORDER rows seen.
    pub new_orders: u64,
    /// ORDER-LINE rows seen.
    pub order_lines: u64,
    /// CUSTOMER rows seen.
    pub customers: u64,
    /// HISTORY rows seen.
    pub history: u64,
}

impl Checked {
    /// Every condition held.
    pub fn consistent(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One place's (a district's or a warehouse's) violations, per condition: how many, and the first described.
#[derive(Default)]
struct Tally(std::collections::BTreeMap<u8, (u64, String)>);

impl Tally {
    fn add(&mut self, condition: u8, what: impl FnOnce() -> String) {
        self.0.entry(condition).or_insert_with(|| (0, what())).0 += 1;
    }
    /// Moves the violations into `out` as "condition N: PLACE: the first (and K more)".
    fn flush(&mut self, place: &str, out: &mut Vec<String>) {
        for (c, (n, first)) in std::mem::take(&mut self.0) {
            let more = if n > 1 {
                format!(" (and {} more)", n - 1)
            } else {
                String::new()
            };
            out.push(format!("condition {c}: {place}: {first}{more}"));
        }
    }
}

/// The HISTORY rows' amounts summed by paying district (H_W_ID, H_D_ID) and by customer (H_C_W_ID, H_C_D_ID,
/// H_C_ID), at [`district_slot`] and [`customer_slot`].
struct Paid {
    district: Vec<i64>,
    customer: Vec<i64>,
}

/// Where district `(w, d)` of `scale` is in a vector of one entry per district; `None` past the scale.
fn district_slot(scale: Scale, w: u16, d: u8) -> Option<usize> {
    ((1..=scale.warehouses).contains(&w) && (1..=DISTRICTS).contains(&d))
        .then(|| usize::from(w - 1) * usize::from(DISTRICTS) + usize::from(d - 1))
}

/// Where customer `(w, d, c)` of `scale` is in a vector of one entry per customer; `None` past the scale.
fn customer_slot(scale: Scale, w: u16, d: u8, c: u32) -> Option<usize> {
    let at = district_slot(scale, w, d)?;
    (1..=scale.customers)
        .contains(&c)
        .then(|| at * scale.customers as usize + (c - 1) as usize)
}

/// Checks conditions 1 to 12 on every warehouse, district and customer of `scale`.
pub fn conditions(worker: &mut impl Worker, scale: Scale) -> Result<Checked> {
    let mut out = Checked::default();
    let paid = history(worker, scale, &mut out)?;
    for w in 1..=scale.warehouses {
        let mut buf = Vec::new();
        worker.run(&Access::warehouse(w, true), &mut |t: &mut dyn Txn| {
            check_warehouse(t, scale, w, &paid, &mut buf, &mut out)?;
            Ok(true)
        })?;
    }
    Ok(out)
}

/// Sums every HISTORY row of `scale`'s warehouses (conditions 8, 9 and 10), one read-only transaction per
/// warehouse, and notes a row keyed under another district than its own, or naming one past the scale.
fn history(worker: &mut impl Worker, scale: Scale, out: &mut Checked) -> Result<Paid> {
    let districts = usize::from(scale.warehouses) * usize::from(DISTRICTS);
    let mut paid = Paid {
        district: vec![0; districts],
        customer: vec![0; districts * scale.customers as usize],
    };
    for w in 1..=scale.warehouses {
        let mut tally = Tally::default();
        let mut rows = 0u64;
        let mut bad = None;
        worker.run(&Access::warehouse(w, true), &mut |t: &mut dyn Txn| {
            t.scan(
                Table::History,
                &warehouse_key(w),
                &district_key(w, DISTRICTS + 1),
                &mut |k, v| {
                    let h = match History::decode(v) {
                        Ok(h) => h,
                        Err(e) => {
                            bad = Some(e);
                            return false;
                        }
                    };
                    rows += 1;
                    if k.get(..3) != Some(&district_key(h.w_id, h.d_id)[..]) {
                        tally.add(9, || {
                            format!("a HISTORY row keyed {k:02x?} names district {}/{}", h.w_id, h.d_id)
                        });
                    }
                    match district_slot(scale, h.w_id, h.d_id) {
                        Some(at) => paid.district[at] += h.amount,
                        None => tally.add(9, || format!("a HISTORY row names district {}/{}", h.w_id, h.d_id)),
                    }
                    match customer_slot(scale, h.c_w_id, h.c_d_id, h.c_id) {
                        Some(at) => paid.customer[at] += h.amount,
                        None => tally.add(10, || {
                            format!("a HISTORY row names customer {}/{}/{}", h.c_w_id, h.c_d_id, h.c_id)
                        }),
                    }
                    true
                },
            )?;
            Ok(true)
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
        out.history += rows;
        tally.flush(&format!("HISTORY of warehouse {w}"), &mut out.failures);
    }
    Ok(paid)
}

/// One district's ORDER rows, by order id (ascending).
type Orders = Vec<(u32, Order)>;

fn check_warehouse(
    t: &mut dyn Txn,
    scale: Scale,
    w: u16,
    paid: &Paid,
    buf: &mut Vec<u8>,
    out: &mut Checked,
) -> Result<()> {
    if !t.get(Table::Warehouse, &warehouse_key(w), buf)? {
        out.failures.push(format!("warehouse {w} is missing"));
        return Ok(());
    }
    let w_ytd = Warehouse::decode(buf)?.ytd;
    let (mut d_ytd, mut h_ytd) = (0i64, 0i64);
    for d in 1..=DISTRICTS {
        let Some(slot) = district_slot(scale, w, d) else {
            bail!("district {w}/{d} is past the scale {scale:?}");
        };
        h_ytd += paid.district[slot];
        if !t.get(Table::District, &district_key(w, d), buf)? {
            out.failures.push(format!("district {w}/{d} is missing"));
            continue;
        }
        let dist = District::decode(buf)?;
        d_ytd += dist.ytd;
        let mut tally = Tally::default();
        if dist.ytd != paid.district[slot] {
            tally.add(9, || {
                format!("D_YTD = {} but sum(H_AMOUNT) = {}", dist.ytd, paid.district[slot])
            });
        }
        check_district(t, scale, w, d, &dist, paid, &mut tally, out)?;
        tally.flush(&format!("district {w}/{d}"), &mut out.failures);
    }
    if w_ytd != d_ytd {
        out.failures.push(format!(
            "condition 1: warehouse {w}: W_YTD = {w_ytd} but sum(D_YTD) = {d_ytd}"
        ));
    }
    if w_ytd != h_ytd {
        out.failures.push(format!(
            "condition 8: warehouse {w}: W_YTD = {w_ytd} but sum(H_AMOUNT) = {h_ytd}"
        ));
    }
    Ok(())
}

/// Conditions 2 to 7 and 10 to 12 on district `(w, d)`, whose DISTRICT row is `dist`.
#[allow(clippy::too_many_arguments)]
fn check_district(
    t: &mut dyn Txn,
    scale: Scale,
    w: u16,
    d: u8,
    dist: &District,
    paid: &Paid,
    tally: &mut Tally,
    out: &mut Checked,
) -> Result<()> {
    let mut orders: Orders = Vec::new();
    let mut bad = None;
    t.scan(
        Table::Order,
        &wdx_key(w, d, 0),
        &wdx_key(w, d + 1, 0),
        &mut |k, v| match (wdx_id(k), Order::decode(v)) {
            (Ok(o), Ok(order)) => {
                orders.push((o, order));
                true
            }
            (Err(e), _) | (_, Err(e)) => {
                bad = Some(e);
                false
            }
        },
    )?;
    let mut new_orders = Vec::new();
    t.scan(
        Table::NewOrder,
        &wdx_key(w, d, 0),
        &wdx_key(w, d + 1, 0),
        &mut |k, _| match wdx_id(k) {
            Ok(o) => {
                new_orders.push(o);
                true
            }
            Err(e) => {
                bad = Some(e);
                false
            }
        },
    )?;
    // Per order (as `orders`), its ORDER-LINE rows; per customer of the district, the OL_AMOUNT delivered to it.
    let mut lines_of = vec![0u64; orders.len()];
    let mut delivered = vec![0i64; scale.customers as usize];
    let (mut lines, mut at) = (0u64, 0usize);
    t.scan(
        Table::OrderLine,
        &order_line_key(w, d, 0, 0),
        &order_line_key(w, d + 1, 0, 0),
        &mut |k, v| {
            let (o, (delivery_d, amount)) = match (
                k.get(..7).filter(|_| k.len() == 8).map(wdx_id),
                OrderLine::delivery_and_amount_of(v),
            ) {
                (Some(Ok(o)), Ok(row)) => (o, row),
                (None, _) => {
                    bad = Some(anyhow::anyhow!("an ORDER-LINE key of {} bytes", k.len()));
                    return false;
                }
                (Some(Err(e)), _) | (_, Err(e)) => {
                    bad = Some(e);
                    return false;
                }
            };
            lines += 1;
            while orders.get(at).is_some_and(|&(x, _)| x < o) {
                at += 1;
            }
            let Some(&(_, order)) = orders.get(at).filter(|&&(x, _)| x == o) else {
                tally.add(6, || format!("ORDER-LINE rows of order {o}, which has no ORDER row"));
                return true;
            };
            lines_of[at] += 1;
            if (delivery_d == 0) != (order.carrier_id == 0) {
                tally.add(7, || {
                    format!(
                        "order {o}: O_CARRIER_ID = {} but a line's OL_DELIVERY_D = {delivery_d}",
                        order.carrier_id
                    )
                });
            }
            if delivery_d != 0 {
                match delivered.get_mut((order.c_id as usize).wrapping_sub(1)) {
                    Some(sum) => *sum += amount,
                    None => tally.add(10, || format!("order {o} names customer {}", order.c_id)),
                }
            }
            true
        },
    )?;
    if let Some(e) = bad.take() {
        return Err(e);
    }
    let max_o = orders.last().map_or(0, |&(o, _)| o);
    let ol_sum: u64 = orders.iter().map(|(_, order)| u64::from(order.ol_cnt)).sum();
    let no_count = new_orders.len() as u64;
    out.orders += orders.len() as u64;
    out.new_orders += no_count;
    out.order_lines += lines;
    let next = dist.next_o_id;
    if next.checked_sub(1) != Some(max_o) {
        tally.add(2, || {
            format!("D_NEXT_O_ID - 1 = {} but max(O_ID) = {max_o}", next.wrapping_sub(1))
        });
    }
    if let (Some(&no_min), Some(&no_max)) = (new_orders.first(), new_orders.last()) {
        if no_max != max_o {
            tally.add(2, || format!("max(NO_O_ID) = {no_max} but max(O_ID) = {max_o}"));
        }
        if u64::from(no_max - no_min) + 1 != no_count {
            tally.add(3, || format!("NEW-ORDER ids {no_min}..={no_max} but {no_count} rows"));
        }
    }
    if ol_sum != lines {
        tally.add(4, || format!("sum(O_OL_CNT) = {ol_sum} but {lines} ORDER-LINE rows"));
    }
    let mut carried = 0u64;
    for (&(o, order), &n) in orders.iter().zip(&lines_of) {
        if u64::from(order.ol_cnt) != n {
            tally.add(6, || {
                format!("order {o}: O_OL_CNT = {} but {n} ORDER-LINE rows", order.ol_cnt)
            });
        }
        let waiting = new_orders.binary_search(&o).is_ok();
        if (order.carrier_id == 0) != waiting {
            tally.add(5, || {
                format!(
                    "order {o}: O_CARRIER_ID = {} but NEW-ORDER row: {waiting}",
                    order.carrier_id
                )
            });
        }
        carried += u64::from(order.carrier_id != 0);
    }
    let orders_count = orders.len() as u64;
    if orders_count.checked_sub(no_count) != Some(carried) {
        tally.add(11, || {
            format!("{orders_count} ORDER rows and {no_count} NEW-ORDER rows but {carried} orders delivered")
        });
    }
    // Conditions 10 and 12, per customer of the district.
    let mut customers = 0u64;
    t.scan(
        Table::Customer,
        &wdx_key(w, d, 0),
        &wdx_key(w, d + 1, 0),
        &mut |k, v| {
            let (c, (balance, ytd_payment)) = match (wdx_id(k), Customer::balance_and_ytd_payment_of(v)) {
                (Ok(c), Ok(row)) => (c, row),
                (Err(e), _) | (_, Err(e)) => {
                    bad = Some(e);
                    return false;
                }
            };
            customers += 1;
            let (Some(slot), Some(&ol)) = (
                customer_slot(scale, w, d, c),
                delivered.get((c as usize).wrapping_sub(1)),
            ) else {
                tally.add(10, || format!("a CUSTOMER row of id {c}"));
                return true;
            };
            let h = paid.customer[slot];
            if balance != ol - h {
                tally.add(10, || {
                    format!("customer {c}: C_BALANCE = {balance} but delivered sum(OL_AMOUNT) {ol} - sum(H_AMOUNT) {h}")
                });
            }
            if balance + ytd_payment != ol {
                tally.add(12, || {
                    format!(
                        "customer {c}: C_BALANCE + C_YTD_PAYMENT = {} but delivered sum(OL_AMOUNT) = {ol}",
                        balance + ytd_payment
                    )
                });
            }
            true
        },
    )?;
    if let Some(e) = bad {
        return Err(e);
    }
    out.customers += customers;
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

    /// One warehouse of reduced cardinalities, loaded into bufpool-btree in `dir`; the conditions hold.
    fn loaded(dir: &std::path::Path) -> (Ours, Checked) {
        let e = Ours::open(dir, 4096, 1).unwrap();
        load::load(
            &e,
            Scale::reduced(1),
            NuConstants::for_load(&mut Rng::new(1)),
            1,
            |_| {},
        )
        .unwrap();
        let c = conditions(
            &mut e.worker(Durability::NondurableAutocommit).unwrap(),
            Scale::reduced(1),
        )
        .unwrap();
        assert!(c.consistent(), "{:?}", c.failures);
        (e, c)
    }

    #[test]
    fn conditions_hold_after_the_load_and_catch_each_violation() {
        let dir = tempfile::tempdir().unwrap();
        let scale = Scale::reduced(1);
        let (e, c) = loaded(dir.path());
        let mut w = e.worker(Durability::NondurableAutocommit).unwrap();
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
        // Condition 1 and, the HISTORY rows unchanged, 9 too; the hole in NEW-ORDER is an undelivered order
        // without its row (5, 11); the missing line is its order's (6).
        assert_eq!(
            failed(&c),
            [
                "condition 1: warehouse 1",
                "condition 2: district 1/9",
                "condition 3: district 1/5",
                "condition 4: district 1/7",
                "condition 5: district 1/5",
                "condition 6: district 1/7",
                "condition 9: district 1/3",
                "condition 11: district 1/5",
            ],
            "{:?}",
            c.failures
        );
        let missing = acknowledged(&mut w, &[(1, 7, 3), (1, 7, 4), (1, 2, 61)]).unwrap();
        assert_eq!(missing.len(), 2, "{missing:?}");
    }

    /// The condition and place of each failure ("condition N: district W/D"), sorted by condition number.
    fn failed(c: &Checked) -> Vec<String> {
        let mut out: Vec<(u8, String)> = c
            .failures
            .iter()
            .map(|f| {
                let place = f.splitn(3, ": ").take(2).collect::<Vec<_>>().join(": ");
                let n = place["condition ".len()..].split(':').next().unwrap().parse().unwrap();
                (n, place)
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// Reads row `key` of `table`, changes it with `f` (decoded by `dec`, encoded by `enc`), writes it back.
    fn edit<R>(
        t: &mut dyn Txn,
        table: Table,
        key: &[u8],
        dec: fn(&[u8]) -> Result<R>,
        enc: fn(&R) -> Vec<u8>,
        f: impl FnOnce(&mut R),
    ) -> Result<()> {
        let mut b = Vec::new();
        assert!(t.get(table, key, &mut b)?);
        let mut row = dec(&b)?;
        f(&mut row);
        t.put(table, key, &enc(&row))
    }

    #[test]
    fn conditions_5_to_12_catch_a_changed_row_each() {
        let dir = tempfile::tempdir().unwrap();
        let scale = Scale::reduced(1);
        let (e, c) = loaded(dir.path());
        let mut w = e.worker(Durability::NondurableAutocommit).unwrap();
        assert_eq!((c.customers, c.history), (10 * 60, 10 * 60));
        // Condition 11 as the spec writes it, of the initial population: 2,100 (scaled) a district.
        assert_eq!(c.orders - c.new_orders, 10 * u64::from(scale.first_undelivered() - 1));
        assert_eq!(scale.first_undelivered(), 43);
        // District 1: a NEW-ORDER row of no order, past the last (2 and 11).
        change(&mut w, true, |t| t.put(Table::NewOrder, &wdx_key(1, 1, 61), &[]));
        // District 2: the oldest undelivered order loses its NEW-ORDER row (5 and 11).
        change(&mut w, true, |t| t.delete(Table::NewOrder, &wdx_key(1, 2, 43)));
        // District 3: a customer's C_BALANCE (10 and 12).
        change(&mut w, true, |t| {
            edit(
                t,
                Table::Customer,
                &wdx_key(1, 3, 9),
                Customer::decode,
                Customer::encode,
                |c| c.balance += 1,
            )
        });
        // District 4: a delivered order's O_OL_CNT (4 and 6).
        change(&mut w, true, |t| {
            edit(t, Table::Order, &wdx_key(1, 4, 10), Order::decode, Order::encode, |o| {
                o.ol_cnt += 1
            })
        });
        // District 6: a line of a delivered order not delivered (7; its OL_AMOUNT is 0, as loaded).
        change(&mut w, true, |t| {
            edit(
                t,
                Table::OrderLine,
                &order_line_key(1, 6, 10, 1),
                OrderLine::decode,
                OrderLine::encode,
                |l| l.delivery_d = 0,
            )
        });
        // District 8: a HISTORY row's H_AMOUNT (8, 9 and 10).
        change(&mut w, true, |t| {
            edit(
                t,
                Table::History,
                &history_key(1, 8, 0, 0, 5),
                History::decode,
                History::encode,
                |h| h.amount += 7,
            )
        });
        // District 10: a customer's C_YTD_PAYMENT (12).
        change(&mut w, true, |t| {
            edit(
                t,
                Table::Customer,
                &wdx_key(1, 10, 7),
                Customer::decode,
                Customer::encode,
                |c| c.ytd_payment += 1,
            )
        });
        let c = conditions(&mut w, scale).unwrap();
        assert_eq!(
            failed(&c),
            [
                "condition 2: district 1/1",
                "condition 4: district 1/4",
                "condition 5: district 1/2",
                "condition 6: district 1/4",
                "condition 7: district 1/6",
                "condition 8: warehouse 1",
                "condition 9: district 1/8",
                "condition 10: district 1/3",
                "condition 10: district 1/8",
                "condition 11: district 1/1",
                "condition 11: district 1/2",
                "condition 12: district 1/10",
                "condition 12: district 1/3",
            ],
            "{:?}",
            c.failures
        );
    }
}

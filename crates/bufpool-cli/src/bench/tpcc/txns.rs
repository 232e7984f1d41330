//! The five TPC-C transactions (clauses 2.4 to 2.8), written once against [`Worker`]/[`Txn`]: New-Order 45%,
//! Payment 43%, Order-Status, Delivery and Stock-Level 4% each (the minimum mix of clause 5.2.3, with the rest
//! given to New-Order), as research engines run them: no terminals, no think time, a uniformly chosen home
//! warehouse per transaction, Delivery executed whole in one transaction.
//!
//! Each transaction draws its inputs first (clauses 2.x.1), so it knows what it will touch (its [`Access`]:
//! New-Order its district and its lines' STOCK rows; Payment its district and the customer's; Delivery its
//! warehouse's ten districts) and hands that to [`Worker::run`]; then its body does the reads and writes of
//! clauses 2.x.2. A missing row that the spec guarantees (a warehouse,
//! district, customer, stock or order row) is an error that fails the run, never a silent skip.

use anyhow::{anyhow, bail, Context, Result};

use super::engine::{Access, Txn, Worker, WHOLE};
use super::random::{last_name, nurand, uniform, NuConstants, LAST_BYTES};
use super::schema::*;
use crate::bench::workload::Rng;

/// A transaction type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// New-Order (clause 2.4).
    NewOrder,
    /// Payment (clause 2.5).
    Payment,
    /// Order-Status (clause 2.6).
    OrderStatus,
    /// Delivery (clause 2.7).
    Delivery,
    /// Stock-Level (clause 2.8).
    StockLevel,
}

impl Kind {
    /// Every type, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::NewOrder,
        Kind::Payment,
        Kind::OrderStatus,
        Kind::Delivery,
        Kind::StockLevel,
    ];

    /// The name in output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::NewOrder => "new_order",
            Kind::Payment => "payment",
            Kind::OrderStatus => "order_status",
            Kind::Delivery => "delivery",
            Kind::StockLevel => "stock_level",
        }
    }

    /// Draws a type from the mix: 45 / 43 / 4 / 4 / 4 percent.
    pub fn draw(rng: &mut Rng) -> Kind {
        match rng.below(100) {
            0..45 => Kind::NewOrder,
            45..88 => Kind::Payment,
            88..92 => Kind::OrderStatus,
            92..96 => Kind::Delivery,
            _ => Kind::StockLevel,
        }
    }
}

/// What a thread needs to draw and run transactions.
pub struct Ctx {
    /// The database's cardinalities.
    pub scale: Scale,
    /// The run's NURand constants.
    pub nu: NuConstants,
    /// The thread's number (part of HISTORY keys).
    pub thread: u16,
    /// HISTORY rows this thread inserted (part of their keys).
    pub history_seq: u16,
    /// The thread's buffers, kept from one transaction to the next.
    scratch: Scratch,
}

impl Ctx {
    /// A thread's context: no HISTORY row inserted yet, its buffers empty.
    pub fn new(scale: Scale, nu: NuConstants, thread: u16) -> Ctx {
        Ctx {
            scale,
            nu,
            thread,
            history_seq: 0,
            scratch: Scratch::default(),
        }
    }
}

/// A thread's buffers for its transactions' inputs, keys, rows and [`Access`], emptied and refilled by each
/// transaction: none allocates once they have grown (until session 32 a New-Order made ten allocations and their
/// frees, a Payment four, a Delivery district two: about 1.5 K instructions a transaction).
#[derive(Default)]
struct Scratch {
    access: Access,
    /// New-Order's lines: (item, supplying warehouse, quantity).
    lines: Vec<(u32, u16, u8)>,
    item_keys: Vec<[u8; 4]>,
    stock_keys: Vec<[u8; 6]>,
    /// Rows read one at a time.
    row: Vec<u8>,
    row2: Vec<u8>,
    row3: Vec<u8>,
    /// Rows read in a batch, end to end, and where each is ([`read_batch`]); an ORDER-LINE row being encoded.
    rows: Vec<u8>,
    rows2: Vec<u8>,
    spans: Vec<Option<(usize, usize)>>,
    spans2: Vec<Option<(usize, usize)>>,
    line: Vec<u8>,
    /// Customer ids of a by-name lookup ([`find_customer`]); Stock-Level's items.
    ids: Vec<u32>,
    /// Delivery's order lines: their keys and where each row ends in `rows`.
    line_keys: Vec<[u8; 8]>,
    ends: Vec<usize>,
}

/// Refills `access` in place as [`Access::districts`] would make it (no STOCK row), keeping its vectors'
/// allocations.
fn set_access(access: &mut Access, read_only: bool, districts: impl IntoIterator<Item = (u16, u8)>) {
    access.read_only = read_only;
    access.districts.clear();
    access.districts.extend(districts);
    access.districts.sort_unstable();
    access.districts.dedup();
    access.stock.clear();
}

/// The most lines an order has (clause 2.4.1.3: 5 to 15), so the most keys of a New-Order's batch.
const LINES_MAX: usize = 15;

/// What a transaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// It committed (`false`: a New-Order rolled back on its unused item, clause 2.4.2.3).
    pub committed: bool,
    /// A committed New-Order's `(w, d, o)`.
    pub new_order: Option<(u16, u8, u32)>,
}

impl Outcome {
    /// The outcome of a transaction other than New-Order.
    fn other(committed: bool) -> Outcome {
        Outcome {
            committed,
            new_order: None,
        }
    }
}

/// Seconds since the epoch (O_ENTRY_D, H_DATE, OL_DELIVERY_D).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// A warehouse other than `w`, uniformly (clauses 2.4.1.5 and 2.5.1.2); `w` itself when it is the only one.
fn remote(rng: &mut Rng, scale: Scale, w: u16) -> u16 {
    if scale.warehouses == 1 {
        return w;
    }
    let r = uniform(rng, 1, u64::from(scale.warehouses) - 1) as u16;
    if r >= w {
        r + 1
    } else {
        r
    }
}

/// Reads a row the spec guarantees to exist.
/// Reads `keys` of `table` with one [`Txn::get_each`] into `rows`: the value of `keys[i]` is
/// `rows[at..at + len]` for `spans[i] == Some((at, len))`, and `spans[i]` is `None` if the row is absent.
fn read_batch(
    t: &mut dyn Txn,
    table: Table,
    keys: &[&[u8]],
    rows: &mut Vec<u8>,
    spans: &mut Vec<Option<(usize, usize)>>,
) -> Result<()> {
    rows.clear();
    spans.clear();
    spans.resize(keys.len(), None);
    t.get_each(table, keys, WHOLE, &mut |i, v| {
        if let Some(v) = v {
            spans[i] = Some((rows.len(), v.len()));
            rows.extend_from_slice(v);
        }
        Ok(())
    })
}

fn must_get(t: &mut dyn Txn, table: Table, key: &[u8], out: &mut Vec<u8>) -> Result<()> {
    if !t.get(table, key, out)? {
        bail!("{} row {:02x?} is missing", table.name(), key);
    }
    Ok(())
}

/// Runs one transaction of type `kind` on home warehouse `w`.
pub fn run(worker: &mut impl Worker, ctx: &mut Ctx, rng: &mut Rng, kind: Kind, w: u16) -> Result<Outcome> {
    match kind {
        Kind::NewOrder => new_order(worker, ctx, rng, w),
        Kind::Payment => payment(worker, ctx, rng, w).map(Outcome::other),
        Kind::OrderStatus => order_status(worker, ctx, rng, w).map(Outcome::other),
        Kind::Delivery => delivery(worker, &mut ctx.scratch, rng, w).map(Outcome::other),
        Kind::StockLevel => stock_level(worker, &mut ctx.scratch, rng, w).map(Outcome::other),
    }
    .with_context(|| format!("{} on warehouse {w}", kind.name()))
}

/// New-Order (clause 2.4). Never inlined, so that a profile attributes costs by transaction type (its commit included).
#[inline(never)]
fn new_order(worker: &mut impl Worker, ctx: &mut Ctx, rng: &mut Rng, w: u16) -> Result<Outcome> {
    let s = ctx.scale;
    let d = uniform(rng, 1, 10) as u8;
    let c = nurand(rng, 1023, ctx.nu.c_id, 1, u64::from(s.customers)) as u32;
    let ol_cnt = uniform(rng, 5, 15) as u8;
    let rollback = uniform(rng, 1, 100) == 1;
    let Scratch {
        access,
        lines,
        item_keys,
        stock_keys,
        row: buf,
        rows: irows,
        rows2: srows,
        spans: ispans,
        spans2: sspans,
        line,
        ..
    } = &mut ctx.scratch;
    // (item, supplying warehouse, quantity) per line; an unused item id on the last line rolls back.
    lines.clear();
    lines.extend((1..=ol_cnt).map(|n| {
        let i = if rollback && n == ol_cnt {
            s.items + 1
        } else {
            nurand(rng, 8191, ctx.nu.ol_i_id, 1, u64::from(s.items)) as u32
        };
        let supply = if uniform(rng, 1, 100) == 1 {
            remote(rng, s, w)
        } else {
            w
        };
        (i, supply, uniform(rng, 1, 10) as u8)
    }));
    let lines = &lines[..];
    let all_local = lines.iter().all(|l| l.1 == w);
    // The district's rows (its order ids, the customer) and the STOCK rows of the lines.
    set_access(access, false, [(w, d)]);
    access.stock.extend(lines.iter().map(|&(i, supply, _)| (supply, i)));
    let entry_d = now_secs();
    let mut placed = 0u32;
    item_keys.clear();
    item_keys.extend(lines.iter().map(|l| item_key(l.0)));
    stock_keys.clear();
    stock_keys.extend(lines.iter().map(|l| stock_key(l.1, l.0)));
    let (item_keys, stock_keys) = (&item_keys[..], &stock_keys[..]);
    // Room for every line's row from the start (an ITEM row is at most 90 bytes, a STOCK row 320): a batch's rows
    // grown from empty went through four or five reallocations, about 4 K instructions a New-Order. (Each line's
    // ORDER-LINE row is encoded in `line`: a row and its OL_DIST_INFO allocated per line were 20 allocations a
    // New-Order.)
    irows.reserve(lines.len() * 96);
    srows.reserve(lines.len() * 320);
    let committed = worker.run(access, &mut |t: &mut dyn Txn| {
        // Rows are read and changed in place where only their numbers matter (no decode, no allocation).
        must_get(t, Table::Warehouse, &warehouse_key(w), buf)?;
        let w_tax = Warehouse::tax_of(buf)?;
        let dkey = district_key(w, d);
        must_get(t, Table::District, &dkey, buf)?;
        let (d_tax, o) = District::tax_and_next_o_id(buf)?;
        District::set_next_o_id(buf, o + 1)?;
        t.update(Table::District, &dkey, buf, District::NEXT_O_ID_FIELDS)?;
        must_get(t, Table::Customer, &wdx_key(w, d, c), buf)?;
        let discount = Customer::discount_of(buf)?;
        let order = Order {
            c_id: c,
            entry_d,
            carrier_id: 0,
            ol_cnt,
            all_local: u8::from(all_local),
        };
        t.put(Table::Order, &wdx_key(w, d, o), &order.encode())?;
        t.put(Table::NewOrder, &wdx_key(w, d, o), &[])?;
        t.put(Table::OrderCustomer, &order_customer_key(w, d, c, o), &[])?;
        let mut total = 0i64;
        // The lines' items, then the stock rows of the lines before the first unused item, each read as one
        // batch (the same rows as a read per line; an engine that can overlaps their misses). The keys' slices on
        // the stack: at most LINES_MAX.
        let mut keys: [&[u8]; LINES_MAX] = [&[]; LINES_MAX];
        for (k, ik) in keys.iter_mut().zip(item_keys) {
            *k = ik;
        }
        read_batch(t, Table::Item, &keys[..lines.len()], irows, ispans)?;
        let valid = ispans.iter().position(Option::is_none).unwrap_or(lines.len());
        for (k, sk) in keys.iter_mut().zip(&stock_keys[..valid]) {
            *k = sk;
        }
        read_batch(t, Table::Stock, &keys[..valid], srows, sspans)?;
        for (li, &(i, supply, qty)) in lines.iter().enumerate() {
            let n = li as u8 + 1;
            let Some((at, len)) = ispans[li] else {
                // Clause 2.4.2.3: the unused item id rolls the whole transaction back.
                return Ok(false);
            };
            let (price, i_data) = Item::price_and_data(&irows[at..at + len])?;
            let skey = stock_keys[li];
            // The stock row is changed in place (its numbers only): in the batch's buffer, where it was read.
            let row: &mut [u8] = if stock_keys[..li].contains(&skey) {
                // An earlier line of this order changed this stock row: read it again, through the write set.
                must_get(t, Table::Stock, &skey, buf)?;
                &mut buf[..]
            } else {
                let (at, len) = sspans[li].ok_or_else(|| anyhow!("STOCK row {skey:02x?} is missing"))?;
                &mut srows[at..at + len]
            };
            let ([quantity, ytd, order_cnt, remote_cnt], dist_info, s_data) = Stock::borrow(row, d)?;
            let q = u32::from(qty);
            let quantity = if quantity >= q + 10 {
                quantity - q
            } else {
                quantity + 91 - q
            };
            let remote_cnt = remote_cnt + u32::from(supply != w);
            let amount = i64::from(qty) * price;
            total += amount;
            let original = |d: &[u8]| d.windows(8).any(|x| x == b"ORIGINAL");
            // The brand-generic field (clause 2.4.2.2) goes to the terminal, which this driver has not.
            std::hint::black_box(original(i_data) && original(s_data));
            OrderLine::encode_new(i, supply, qty, amount, dist_info, line);
            Stock::set_numbers(row, [quantity, ytd + q, order_cnt + 1, remote_cnt])?;
            t.update(Table::Stock, &skey, row, Stock::NUMBERS_FIELDS)?;
            t.put(Table::OrderLine, &order_line_key(w, d, o, n), line)?;
        }
        // Total amount in cents: sum * (1 - discount) * (1 + w_tax + d_tax), rates in 1/10000.
        let total = total as i128 * (10_000 - i128::from(discount)) * (10_000 + i128::from(w_tax + d_tax));
        std::hint::black_box(total / 100_000_000);
        placed = o;
        Ok(true)
    })?;
    Ok(Outcome {
        committed,
        new_order: committed.then_some((w, d, placed)),
    })
}

/// The customer a Payment or Order-Status names: by id, or by last name (the middle one by first name among those
/// with that name, clause 2.5.2.2).
enum Who {
    Id(u32),
    Name([u8; LAST_BYTES]),
}

fn draw_customer(rng: &mut Rng, ctx: &Ctx) -> Who {
    if uniform(rng, 1, 100) <= 60 {
        Who::Name(last_name(nurand(rng, 255, ctx.nu.c_last, 0, ctx.scale.last_name_max())))
    } else {
        Who::Id(nurand(rng, 1023, ctx.nu.c_id, 1, u64::from(ctx.scale.customers)) as u32)
    }
}

/// The id of the customer `who` names in district `(w, d)`; `ids` is the caller's buffer for a by-name lookup's
/// matches.
fn find_customer(t: &mut dyn Txn, w: u16, d: u8, who: &Who, ids: &mut Vec<u32>) -> Result<u32> {
    let name = match who {
        Who::Id(c) => return Ok(*c),
        Who::Name(n) => n,
    };
    let (from, to) = customer_name_range(w, d, name);
    ids.clear();
    let mut bad = None;
    t.scan(Table::CustomerName, &from, &to, &mut |k, _| match customer_name_id(k) {
        Ok(id) => {
            ids.push(id);
            true
        }
        Err(e) => {
            bad = Some(e);
            false
        }
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    if ids.is_empty() {
        bail!(
            "no customer named {:?} in district {w}/{d}",
            String::from_utf8_lossy(name)
        );
    }
    // Position n/2 rounded up (1-based) of the set sorted by first name: the index's order.
    Ok(ids[ids.len().div_ceil(2) - 1])
}

/// Payment (clause 2.5). Never inlined, so that a profile attributes costs by transaction type (its commit included).
#[inline(never)]
fn payment(worker: &mut impl Worker, ctx: &mut Ctx, rng: &mut Rng, w: u16) -> Result<bool> {
    let s = ctx.scale;
    let d = uniform(rng, 1, 10) as u8;
    let (c_w, c_d) = if uniform(rng, 1, 100) <= 85 || s.warehouses == 1 {
        (w, d)
    } else {
        (remote(rng, s, w), uniform(rng, 1, 10) as u8)
    };
    let who = draw_customer(rng, ctx);
    let amount = uniform(rng, 100, 500_000) as i64;
    ctx.history_seq = ctx.history_seq.wrapping_add(1);
    let hkey = history_key(w, d, now_nanos(), ctx.thread, ctx.history_seq);
    let date = now_secs();
    let Scratch {
        access,
        row: wbuf,
        row2: dbuf,
        row3: buf,
        line: h_data,
        ids,
        ..
    } = &mut ctx.scratch;
    // The home district's row and the customer's district (its rows); the warehouse row's YTD at commit.
    set_access(access, false, [(w, d), (c_w, c_d)]);
    let committed = worker.run(access, &mut |t: &mut dyn Txn| {
        // The warehouse's YTD is added at commit (no transaction reads it, and W_NAME never changes); the
        // district's YTD, and a good-credit customer's numbers, change in place.
        let wkey = warehouse_key(w);
        must_get(t, Table::Warehouse, &wkey, wbuf)?;
        t.update_on_commit(Table::Warehouse, &wkey, (Warehouse::pay, Warehouse::PAY_FIELDS), amount)?;
        let dkey = district_key(w, d);
        must_get(t, Table::District, &dkey, dbuf)?;
        District::pay(dbuf, amount)?;
        t.update(Table::District, &dkey, dbuf, District::PAY_FIELDS)?;
        let c = find_customer(t, c_w, c_d, &who, ids)?;
        let ckey = wdx_key(c_w, c_d, c);
        must_get(t, Table::Customer, &ckey, buf)?;
        if Customer::credit_of(buf)? == b"BC" {
            // C_DATA grows at its front: the row is put whole.
            let mut cust = Customer::decode(buf)?;
            cust.balance -= amount;
            cust.ytd_payment += amount;
            cust.payment_cnt += 1;
            let mut data = format!("{c} {c_d} {c_w} {d} {w} {amount}.").into_bytes();
            data.extend_from_slice(&cust.data);
            data.truncate(500);
            cust.data = data;
            t.put(Table::Customer, &ckey, &cust.encode())?;
        } else {
            Customer::pay(buf, amount)?;
            t.update(Table::Customer, &ckey, buf, Customer::PAY_FIELDS)?;
        }
        h_data.clear();
        h_data.extend_from_slice(Warehouse::name_of(wbuf)?);
        h_data.extend_from_slice(b"    ");
        h_data.extend_from_slice(District::name_of(dbuf)?);
        let h = History {
            c_id: c,
            c_d_id: c_d,
            c_w_id: c_w,
            d_id: d,
            w_id: w,
            date,
            amount,
            data: std::mem::take(h_data),
        };
        let put = t.put(Table::History, &hkey, &h.encode());
        *h_data = h.data;
        put?;
        Ok(true)
    })?;
    Ok(committed)
}

/// Calls `f` on every ORDER-LINE row of the orders `orders` of district `(w, d)`, in order.
fn order_lines(
    t: &mut dyn Txn,
    w: u16,
    d: u8,
    orders: std::ops::Range<u32>,
    mut f: impl FnMut(OrderLine),
) -> Result<()> {
    let mut bad = None;
    t.scan(
        Table::OrderLine,
        &order_line_key(w, d, orders.start, 0),
        &order_line_key(w, d, orders.end, 0),
        &mut |_, v| match OrderLine::decode(v) {
            Ok(l) => {
                f(l);
                true
            }
            Err(e) => {
                bad = Some(e);
                false
            }
        },
    )?;
    bad.map_or(Ok(()), Err)
}

/// Order-Status (clause 2.6), read-only. Never inlined, so that a profile attributes costs by transaction type (its commit included).
#[inline(never)]
fn order_status(worker: &mut impl Worker, ctx: &mut Ctx, rng: &mut Rng, w: u16) -> Result<bool> {
    let d = uniform(rng, 1, 10) as u8;
    let who = draw_customer(rng, ctx);
    let Scratch {
        access, row: buf, ids, ..
    } = &mut ctx.scratch;
    set_access(access, true, [(w, d)]);
    let committed = worker.run(access, &mut |t: &mut dyn Txn| {
        let c = find_customer(t, w, d, &who, ids)?;
        must_get(t, Table::Customer, &wdx_key(w, d, c), buf)?;
        std::hint::black_box(Customer::decode(buf)?.balance);
        let mut newest = None;
        t.scan(
            Table::OrderCustomer,
            &wdx_key(w, d, c),
            &wdx_key(w, d, c + 1),
            &mut |k, _| {
                newest = Some(order_customer_order(k));
                false
            },
        )?;
        let Some(o) = newest.transpose()? else {
            bail!("customer {w}/{d}/{c} has no order");
        };
        must_get(t, Table::Order, &wdx_key(w, d, o), buf)?;
        std::hint::black_box(Order::decode(buf)?);
        order_lines(t, w, d, o..o + 1, |l| {
            std::hint::black_box(l);
        })?;
        Ok(true)
    })?;
    Ok(committed)
}

/// Delivery (clause 2.7): one database transaction per district, each holding only its district. Clause 2.7.1
/// allows it: "Each order is processed (delivered) in full within the scope of a read-write database
/// transaction. The number of orders delivered as a group (or batched) within the same database transaction is
/// implementation specific. The business transaction, comprised of one or more (up to 10) database transactions,
/// [...]". Every consistency condition is per district (or per warehouse over rows Delivery does not touch), so
/// each holds after each of them. The business transaction counts as one, committed if every district's did.
/// Never inlined, so that a profile attributes costs by transaction type (its commits included).
#[inline(never)]
fn delivery(worker: &mut impl Worker, scratch: &mut Scratch, rng: &mut Rng, w: u16) -> Result<bool> {
    let carrier = uniform(rng, 1, 10) as u8;
    let date = now_secs();
    // One district's order lines: their keys, and their rows end to end in one buffer (no allocation per line).
    let Scratch {
        access,
        row: buf,
        rows,
        line_keys: keys,
        ends,
        ..
    } = scratch;
    let mut committed = true;
    for d in 1..=DISTRICTS {
        set_access(access, false, [(w, d)]);
        committed &= worker.run(access, &mut |t: &mut dyn Txn| {
            let mut oldest = None;
            t.scan(
                Table::NewOrder,
                &wdx_key(w, d, 0),
                &wdx_key(w, d + 1, 0),
                &mut |k, _| {
                    oldest = Some(wdx_id(k));
                    false
                },
            )?;
            // No undelivered order in this district: skipped (clause 2.7.4.2).
            let Some(o) = oldest.transpose()? else {
                return Ok(true);
            };
            let okey = wdx_key(w, d, o);
            t.delete(Table::NewOrder, &okey)?;
            must_get(t, Table::Order, &okey, buf)?;
            let c_id = Order::decode(buf)?.c_id;
            Order::set_carrier_id(buf, carrier)?;
            t.update(Table::Order, &okey, buf, Order::CARRIER_ID_FIELDS)?;
            keys.clear();
            rows.clear();
            ends.clear();
            let mut bad_key = false;
            t.scan(
                Table::OrderLine,
                &order_line_key(w, d, o, 0),
                &order_line_key(w, d, o + 1, 0),
                &mut |k, v| match k.try_into() {
                    Ok(k) => {
                        keys.push(k);
                        rows.extend_from_slice(v);
                        ends.push(rows.len());
                        true
                    }
                    Err(_) => {
                        bad_key = true;
                        false
                    }
                },
            )?;
            if bad_key {
                bail!("an ORDER-LINE key of district {w}/{d} is not 8 bytes");
            }
            let mut sum = 0i64;
            let mut start = 0;
            for (k, &end) in keys.iter().zip(ends.iter()) {
                let row = &mut rows[start..end];
                sum += OrderLine::deliver(row, date)?;
                t.update(Table::OrderLine, k, row, OrderLine::DELIVER_FIELDS)?;
                start = end;
            }
            let ckey = wdx_key(w, d, c_id);
            must_get(t, Table::Customer, &ckey, buf)?;
            Customer::deliver(buf, sum)?;
            t.update(Table::Customer, &ckey, buf, Customer::DELIVER_FIELDS)?;
            Ok(true)
        })?;
    }
    Ok(committed)
}

/// Stock-Level (clause 2.8), read-only. Never inlined, so that a profile attributes costs by transaction type (its commit included).
#[inline(never)]
fn stock_level(worker: &mut impl Worker, scratch: &mut Scratch, rng: &mut Rng, w: u16) -> Result<bool> {
    let d = uniform(rng, 1, 10) as u8;
    let threshold = uniform(rng, 10, 20) as u32;
    let Scratch {
        access,
        row: buf,
        ids: items,
        stock_keys,
        ..
    } = scratch;
    // The district's rows, then its items' STOCK rows in a transaction of their own that names no district:
    // clause 2.8.2.3 asks of Stock-Level neither full serialisability nor repeatable reads, only committed data no
    // older than the last committed before it began. An engine with district locks (bufpool-btree) so holds the
    // district only for its order lines, not for the STOCK reads (about 85% of a Stock-Level's instructions),
    // against which New-Order, Payment and Delivery of that district waited.
    set_access(access, true, [(w, d)]);
    let committed = worker.run(access, &mut |t: &mut dyn Txn| {
        must_get(t, Table::District, &district_key(w, d), buf)?;
        let (_, next) = District::tax_and_next_o_id(buf)?;
        items.clear();
        let mut bad = None;
        t.scan(
            Table::OrderLine,
            &order_line_key(w, d, next.saturating_sub(20).max(1), 0),
            &order_line_key(w, d, next, 0),
            &mut |_, v| match OrderLine::item_of(v) {
                Ok(i) => {
                    items.push(i);
                    true
                }
                Err(e) => {
                    bad = Some(e);
                    false
                }
            },
        )?;
        if let Some(e) = bad {
            return Err(e);
        }
        items.sort_unstable();
        items.dedup();
        Ok(true)
    })?;
    if !committed {
        return Ok(false);
    }
    set_access(access, true, []);
    stock_keys.clear();
    stock_keys.extend(items.iter().map(|&i| stock_key(w, i)));
    let committed = worker.run(access, &mut |t: &mut dyn Txn| {
        let keys: Vec<&[u8]> = stock_keys.iter().map(|k| &k[..]).collect();
        let mut low = 0u32;
        // S_QUANTITY only, not the rest of each ~300-byte row (vmcache's `lookupField` reads one field too).
        t.get_each(Table::Stock, &keys, Stock::QUANTITY, &mut |i, v| {
            let v = v.ok_or_else(|| anyhow!("STOCK row {:02x?} is missing", keys[i]))?;
            low += u32::from(Stock::quantity_of(v)? < threshold);
            Ok(())
        })?;
        std::hint::black_box(low);
        Ok(true)
    })?;
    Ok(committed)
}

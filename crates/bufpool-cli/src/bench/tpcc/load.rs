//! The initial database population (clause 4.3.3.1): ITEM, then per warehouse WAREHOUSE, STOCK, DISTRICT,
//! CUSTOMER (with its by-name index entry), HISTORY, ORDER (with its by-customer index entry), ORDER-LINE and
//! NEW-ORDER, with the spec's value ranges, through the engines' bulk-load transactions (one per 1,000 items or
//! stock rows, one per district).

use anyhow::Result;

use super::engine::{Engine, Txn};
use super::random::{astring, data_with_original, last_name, nstring, nurand, state, uniform, zip, NuConstants};
use super::schema::*;
use crate::bench::workload::Rng;

/// The load's timestamp (clause 4.3.3.1 says "current date and time"; a fixed one keeps loads reproducible).
pub const LOAD_DATE: u64 = 1_700_000_000;

/// H_AMOUNT of the HISTORY row loaded for each customer, and its C_YTD_PAYMENT (10.00, clause 4.3.3.1).
pub const LOAD_PAYMENT: i64 = 1000;

fn address(rng: &mut Rng) -> Address {
    let mut a = Address::default();
    for l in &mut a.lines[..3] {
        astring(rng, 10, 20, l);
    }
    a.lines[3] = state(rng);
    a.lines[4] = zip(rng);
    a
}

fn name(rng: &mut Rng, lo: u64, hi: u64) -> Vec<u8> {
    let mut s = Vec::new();
    astring(rng, lo, hi, &mut s);
    s
}

/// Loads a database of `scale` into `engine` with the NURand constants `nu` (only C_LAST's is used by the load);
/// `progress` is told the warehouse being loaded.
pub fn load(
    engine: &impl Engine,
    scale: Scale,
    nu: NuConstants,
    seed: u64,
    mut progress: impl FnMut(u16),
) -> Result<()> {
    let mut rng = Rng::new(seed ^ 0x10ad);
    for chunk in (1..=scale.items).collect::<Vec<_>>().chunks(1000) {
        engine.load(&mut |t: &mut dyn Txn| {
            for &i in chunk {
                let item = Item {
                    im_id: uniform(&mut rng, 1, 10_000) as u32,
                    price: uniform(&mut rng, 100, 10_000) as i64,
                    name: name(&mut rng, 14, 24),
                    data: data_with_original(&mut rng, 26, 50),
                };
                t.put(Table::Item, &item_key(i), &item.encode())?;
            }
            Ok(())
        })?;
    }
    for w in 1..=scale.warehouses {
        progress(w);
        load_warehouse(engine, scale, nu, w, &mut rng)?;
    }
    engine.finish_load()
}

fn load_warehouse(engine: &impl Engine, scale: Scale, nu: NuConstants, w: u16, rng: &mut Rng) -> Result<()> {
    engine.load(&mut |t: &mut dyn Txn| {
        let wh = Warehouse {
            tax: uniform(rng, 0, 2000) as u32,
            // 300,000.00 at the spec's scale: the sum of the warehouse's HISTORY rows (condition 8 of clause
            // 3.3.2), as it is at a reduced scale too.
            ytd: i64::from(scale.customers) * i64::from(DISTRICTS) * LOAD_PAYMENT,
            name: name(rng, 6, 10),
            address: address(rng),
        };
        t.put(Table::Warehouse, &warehouse_key(w), &wh.encode())
    })?;
    for chunk in (1..=scale.items).collect::<Vec<_>>().chunks(1000) {
        engine.load(&mut |t: &mut dyn Txn| {
            for &i in chunk {
                let s = Stock {
                    quantity: uniform(rng, 10, 100) as u32,
                    ytd: 0,
                    order_cnt: 0,
                    remote_cnt: 0,
                    dist: std::array::from_fn(|_| name(rng, 24, 24)),
                    data: data_with_original(rng, 26, 50),
                };
                t.put(Table::Stock, &stock_key(w, i), &s.encode())?;
            }
            Ok(())
        })?;
    }
    for d in 1..=DISTRICTS {
        engine.load(&mut |t: &mut dyn Txn| load_district(t, scale, nu, w, d, rng))?;
    }
    Ok(())
}

fn load_district(t: &mut dyn Txn, scale: Scale, nu: NuConstants, w: u16, d: u8, rng: &mut Rng) -> Result<()> {
    let dist = District {
        tax: uniform(rng, 0, 2000) as u32,
        // 30,000.00 at the spec's scale: the sum of the district's HISTORY rows (condition 9).
        ytd: i64::from(scale.customers) * LOAD_PAYMENT,
        next_o_id: scale.customers + 1,
        name: name(rng, 6, 10),
        address: address(rng),
    };
    t.put(Table::District, &district_key(w, d), &dist.encode())?;
    for c in 1..=scale.customers {
        let n = if c <= 1000 {
            u64::from(c - 1).min(scale.last_name_max())
        } else {
            nurand(rng, 255, nu.c_last, 0, scale.last_name_max())
        };
        let last = last_name(n);
        let last_len = last.iter().position(|&b| b == 0).unwrap_or(last.len());
        let mut phone = Vec::new();
        nstring(rng, 16, 16, &mut phone);
        let cust = Customer {
            since: LOAD_DATE,
            credit_lim: 5_000_000,
            discount: uniform(rng, 0, 5000) as u32,
            balance: -LOAD_PAYMENT,
            ytd_payment: LOAD_PAYMENT,
            payment_cnt: 1,
            delivery_cnt: 0,
            first: name(rng, 8, 16),
            middle: b"OE".to_vec(),
            last: last[..last_len].to_vec(),
            address: address(rng),
            phone,
            credit: if rng.below(10) == 0 {
                b"BC".to_vec()
            } else {
                b"GC".to_vec()
            },
            data: name(rng, 300, 500),
        };
        t.put(Table::Customer, &wdx_key(w, d, c), &cust.encode())?;
        t.put(
            Table::CustomerName,
            &customer_name_key(w, d, &last, &cust.first, c),
            &[],
        )?;
        let h = History {
            c_id: c,
            c_d_id: d,
            c_w_id: w,
            d_id: d,
            w_id: w,
            date: LOAD_DATE,
            amount: LOAD_PAYMENT,
            data: name(rng, 12, 24),
        };
        t.put(Table::History, &history_key(w, d, 0, 0, c as u16), &h.encode())?;
    }
    // Orders: customers in a random permutation.
    let mut perm: Vec<u32> = (1..=scale.customers).collect();
    rng.shuffle(&mut perm);
    for (o, &c) in (1..).zip(&perm) {
        let delivered = o < scale.first_undelivered();
        let ord = Order {
            c_id: c,
            entry_d: LOAD_DATE,
            carrier_id: if delivered { uniform(rng, 1, 10) as u8 } else { 0 },
            ol_cnt: uniform(rng, 5, 15) as u8,
            all_local: 1,
        };
        t.put(Table::Order, &wdx_key(w, d, o), &ord.encode())?;
        t.put(Table::OrderCustomer, &order_customer_key(w, d, c, o), &[])?;
        for n in 1..=ord.ol_cnt {
            let line = OrderLine {
                i_id: uniform(rng, 1, u64::from(scale.items)) as u32,
                supply_w_id: w,
                delivery_d: if delivered { LOAD_DATE } else { 0 },
                quantity: 5,
                amount: if delivered { 0 } else { uniform(rng, 1, 999_999) as i64 },
                dist_info: name(rng, 24, 24),
            };
            t.put(Table::OrderLine, &order_line_key(w, d, o, n), &line.encode())?;
        }
        if !delivered {
            t.put(Table::NewOrder, &wdx_key(w, d, o), &[])?;
        }
    }
    Ok(())
}

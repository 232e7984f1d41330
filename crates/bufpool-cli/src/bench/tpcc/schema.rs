//! The TPC-C schema (clause 1.3) as key-value tables: the nine tables, two secondary indexes, their key
//! encodings and the row codecs.
//!
//! Keys are big-endian composites of the primary key, so each table's rows sort as the spec's primary keys and a
//! forward range scan visits them in order:
//! - WAREHOUSE `w`, DISTRICT `w d`, CUSTOMER `w d c`, NEW-ORDER `w d o`, ORDER `w d o`, ORDER-LINE `w d o n`,
//!   ITEM `i`, STOCK `w i`; `w` is 2 bytes, `d` and `n` 1, `c`, `o` and `i` 4.
//! - HISTORY has no primary key in the spec: `w d` (the paying district) then a 12-byte unique suffix (a
//!   nanosecond clock, the thread and a per-thread counter).
//! - CUSTOMER-BY-NAME (the secondary index the spec asks for, clause 2.5.2.2): `w d last first c`, names padded
//!   with zero bytes to 16, empty value: the customers of a last name are one range, sorted by first name.
//! - ORDER-BY-CUSTOMER: `w d c !o` (the order id complemented), empty value: a forward scan from `w d c` finds a
//!   customer's newest order first (Order-Status, clause 2.6.2.2).
//!
//! Rows are their numeric fields at fixed offsets (little-endian; money in cents, rates in 1/10000) followed by
//! their strings, each a length byte then the bytes. Decoding never panics: a short or malformed row is an error.
//!
//! The transactions change rows in place where only numbers change (`Customer::pay` and the like); each such
//! change has beside it the byte ranges it writes (`Customer::PAY_FIELDS`), which the bodies hand to
//! `Txn::update` so that an engine can log those bytes alone, and which the tests check against the bytes the
//! change really writes.

use std::ops::Range;

use anyhow::{bail, Result};

use super::random::{FIRST_BYTES, LAST_BYTES};

/// A table or index: one tree (bufpool-btree), one named database (LMDB) or one table (redb) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// WAREHOUSE.
    Warehouse,
    /// DISTRICT.
    District,
    /// CUSTOMER.
    Customer,
    /// The customer-by-last-name index.
    CustomerName,
    /// HISTORY.
    History,
    /// NEW-ORDER.
    NewOrder,
    /// ORDER.
    Order,
    /// The order-by-customer index (newest first).
    OrderCustomer,
    /// ORDER-LINE.
    OrderLine,
    /// ITEM.
    Item,
    /// STOCK.
    Stock,
}

impl Table {
    /// Every table and index, in the order of their numbers.
    pub const ALL: [Table; 11] = [
        Table::Warehouse,
        Table::District,
        Table::Customer,
        Table::CustomerName,
        Table::History,
        Table::NewOrder,
        Table::Order,
        Table::OrderCustomer,
        Table::OrderLine,
        Table::Item,
        Table::Stock,
    ];

    /// The table's number (its position in [`Table::ALL`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name of its tree file, LMDB database or redb table.
    pub fn name(self) -> &'static str {
        match self {
            Table::Warehouse => "warehouse",
            Table::District => "district",
            Table::Customer => "customer",
            Table::CustomerName => "customer_name",
            Table::History => "history",
            Table::NewOrder => "new_order",
            Table::Order => "order",
            Table::OrderCustomer => "order_customer",
            Table::OrderLine => "order_line",
            Table::Item => "item",
            Table::Stock => "stock",
        }
    }
}

/// WAREHOUSE key.
pub fn warehouse_key(w: u16) -> [u8; 2] {
    w.to_be_bytes()
}

/// DISTRICT key.
pub fn district_key(w: u16, d: u8) -> [u8; 3] {
    let mut k = [0u8; 3];
    k[..2].copy_from_slice(&w.to_be_bytes());
    k[2] = d;
    k
}

/// The `w d x` keys (CUSTOMER, NEW-ORDER, ORDER), `x` a customer or order id.
pub fn wdx_key(w: u16, d: u8, x: u32) -> [u8; 7] {
    let mut k = [0u8; 7];
    k[..3].copy_from_slice(&district_key(w, d));
    k[3..].copy_from_slice(&x.to_be_bytes());
    k
}

/// The id in a `w d x` key.
pub fn wdx_id(key: &[u8]) -> Result<u32> {
    match key.get(3..7) {
        Some(b) if key.len() == 7 => Ok(u32::from_be_bytes(b.try_into()?)),
        _ => bail!("malformed w-d-id key of {} bytes", key.len()),
    }
}

/// ORDER-LINE key.
pub fn order_line_key(w: u16, d: u8, o: u32, n: u8) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..7].copy_from_slice(&wdx_key(w, d, o));
    k[7] = n;
    k
}

/// ORDER-BY-CUSTOMER key: newest order of a customer first.
pub fn order_customer_key(w: u16, d: u8, c: u32, o: u32) -> [u8; 11] {
    let mut k = [0u8; 11];
    k[..7].copy_from_slice(&wdx_key(w, d, c));
    k[7..].copy_from_slice(&(!o).to_be_bytes());
    k
}

/// The order id of an ORDER-BY-CUSTOMER key.
pub fn order_customer_order(key: &[u8]) -> Result<u32> {
    match key.get(7..11) {
        Some(b) if key.len() == 11 => Ok(!u32::from_be_bytes(b.try_into()?)),
        _ => bail!("malformed order-by-customer key of {} bytes", key.len()),
    }
}

/// Bytes of a CUSTOMER-BY-NAME key.
pub const NAME_KEY_BYTES: usize = 3 + LAST_BYTES + FIRST_BYTES + 4;

/// CUSTOMER-BY-NAME key; `last` is already padded, `first` is padded here.
pub fn customer_name_key(w: u16, d: u8, last: &[u8; LAST_BYTES], first: &[u8], c: u32) -> [u8; NAME_KEY_BYTES] {
    let mut k = [0u8; NAME_KEY_BYTES];
    k[..3].copy_from_slice(&district_key(w, d));
    k[3..3 + LAST_BYTES].copy_from_slice(last);
    let f = &first[..first.len().min(FIRST_BYTES)];
    k[3 + LAST_BYTES..3 + LAST_BYTES + f.len()].copy_from_slice(f);
    k[NAME_KEY_BYTES - 4..].copy_from_slice(&c.to_be_bytes());
    k
}

/// The first key after every CUSTOMER-BY-NAME key of `(w, d, last)`, and the first of them: their range.
pub fn customer_name_range(w: u16, d: u8, last: &[u8; LAST_BYTES]) -> ([u8; 3 + LAST_BYTES], [u8; 4 + LAST_BYTES]) {
    let mut from = [0u8; 3 + LAST_BYTES];
    from[..3].copy_from_slice(&district_key(w, d));
    from[3..].copy_from_slice(last);
    let mut to = [0u8; 4 + LAST_BYTES];
    to[..3 + LAST_BYTES].copy_from_slice(&from);
    // `from` then 0xff sorts after every key that extends `from` with a first name (never 0xff: ASCII).
    to[3 + LAST_BYTES] = 0xff;
    (from, to)
}

/// The customer id of a CUSTOMER-BY-NAME key.
pub fn customer_name_id(key: &[u8]) -> Result<u32> {
    match key.get(NAME_KEY_BYTES - 4..) {
        Some(b) if key.len() == NAME_KEY_BYTES => Ok(u32::from_be_bytes(b.try_into()?)),
        _ => bail!("malformed customer-name key of {} bytes", key.len()),
    }
}

/// HISTORY key.
pub fn history_key(w: u16, d: u8, nanos: u64, thread: u16, seq: u16) -> [u8; 15] {
    let mut k = [0u8; 15];
    k[..3].copy_from_slice(&district_key(w, d));
    k[3..11].copy_from_slice(&nanos.to_be_bytes());
    k[11..13].copy_from_slice(&thread.to_be_bytes());
    k[13..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// ITEM key.
pub fn item_key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// STOCK key.
pub fn stock_key(w: u16, i: u32) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[..2].copy_from_slice(&w.to_be_bytes());
    k[2..].copy_from_slice(&i.to_be_bytes());
    k
}

/// Writes a row: fixed numeric fields, then length-prefixed strings.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    /// An empty row.
    pub fn new() -> Enc {
        Enc(Vec::with_capacity(128))
    }
    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// Appends a `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends an `i64`.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a string of at most 255 bytes (longer ones are cut).
    pub fn str(&mut self, s: &[u8]) -> &mut Self {
        let s = &s[..s.len().min(255)];
        self.0.push(s.len() as u8);
        self.0.extend_from_slice(s);
        self
    }
    /// Appends a string of up to 65535 bytes (C_DATA).
    pub fn long_str(&mut self, s: &[u8]) -> &mut Self {
        let s = &s[..s.len().min(u16::MAX as usize)];
        self.0.extend_from_slice(&(s.len() as u16).to_le_bytes());
        self.0.extend_from_slice(s);
        self
    }
}

/// Reads a row written by [`Enc`].
pub struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    /// A reader at the start of `row`.
    pub fn new(row: &'a [u8]) -> Dec<'a> {
        Dec(row)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            bail!("row too short");
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// A `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into()?))
    }
    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    /// An `i64`.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into()?))
    }
    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    /// A string written by [`Enc::str`].
    pub fn str(&mut self) -> Result<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    /// A string written by [`Enc::long_str`].
    pub fn long_str(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

/// The `N` bytes at `at` of a row's fixed (numeric) part.
fn fixed<const N: usize>(row: &[u8], at: usize) -> Result<[u8; N]> {
    match row.get(at..at + N) {
        Some(b) => Ok(b.try_into()?),
        None => bail!("row too short"),
    }
}

/// Overwrites the bytes at `at` of a row's fixed part with `v` (the strings after it stay as they are).
fn set_fixed(row: &mut [u8], at: usize, v: &[u8]) -> Result<()> {
    match row.get_mut(at..at + v.len()) {
        Some(b) => {
            b.copy_from_slice(v);
            Ok(())
        }
        None => bail!("row too short"),
    }
}

fn fixed_u32(row: &[u8], at: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(fixed(row, at)?))
}

fn fixed_i64(row: &[u8], at: usize) -> Result<i64> {
    Ok(i64::from_le_bytes(fixed(row, at)?))
}

/// Adds `by` to the `i64` at `at`.
fn add_i64(row: &mut [u8], at: usize, by: i64) -> Result<()> {
    let v = fixed_i64(row, at)?.wrapping_add(by);
    set_fixed(row, at, &v.to_le_bytes())
}

/// The string after a row's `fixed` bytes of numbers and its first `skip` strings, borrowed from the row.
fn str_after(row: &[u8], fixed: usize, skip: usize) -> Result<&[u8]> {
    let mut d = Dec::new(row);
    d.take(fixed)?;
    for _ in 0..skip {
        d.str()?;
    }
    d.str()
}

/// Adds one to the `u32` at `at`.
fn bump_u32(row: &mut [u8], at: usize) -> Result<()> {
    let v = fixed_u32(row, at)?.wrapping_add(1);
    set_fixed(row, at, &v.to_le_bytes())
}

/// The address of a warehouse or district (street 1 and 2, city, state, zip).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Street 1, street 2, city, state, zip.
    pub lines: [Vec<u8>; 5],
}

impl Address {
    fn enc(&self, e: &mut Enc) {
        for l in &self.lines {
            e.str(l);
        }
    }
    fn dec(d: &mut Dec<'_>) -> Result<Address> {
        let mut a = Address::default();
        for l in &mut a.lines {
            *l = d.str()?.to_vec();
        }
        Ok(a)
    }
}

/// A WAREHOUSE row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Warehouse {
    /// W_TAX in 1/10000.
    pub tax: u32,
    /// W_YTD in cents.
    pub ytd: i64,
    /// W_NAME.
    pub name: Vec<u8>,
    /// W_STREET_1 .. W_ZIP.
    pub address: Address,
}

impl Warehouse {
    /// W_YTD's bytes in a row.
    pub const YTD: Range<usize> = 4..12;
    /// The bytes [`Warehouse::pay`] writes.
    pub const PAY_FIELDS: &'static [Range<usize>] = &[Self::YTD];

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u32(self.tax).i64(self.ytd).str(&self.name);
        self.address.enc(&mut e);
        e.0
    }
    /// W_TAX of a row, without decoding the rest (New-Order).
    pub fn tax_of(row: &[u8]) -> Result<u32> {
        fixed_u32(row, 0)
    }
    /// W_NAME, borrowed from a row (Payment).
    pub fn name_of(row: &[u8]) -> Result<&[u8]> {
        str_after(row, 12, 0)
    }
    /// Adds a payment to W_YTD in an encoded row.
    pub fn pay(row: &mut [u8], amount: i64) -> Result<()> {
        add_i64(row, Self::YTD.start, amount)
    }
    /// Parses a row.
    pub fn decode(b: &[u8]) -> Result<Warehouse> {
        let mut d = Dec::new(b);
        Ok(Warehouse {
            tax: d.u32()?,
            ytd: d.i64()?,
            name: d.str()?.to_vec(),
            address: Address::dec(&mut d)?,
        })
    }
}

/// A DISTRICT row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct District {
    /// D_TAX in 1/10000.
    pub tax: u32,
    /// D_YTD in cents.
    pub ytd: i64,
    /// D_NEXT_O_ID.
    pub next_o_id: u32,
    /// D_NAME.
    pub name: Vec<u8>,
    /// D_STREET_1 .. D_ZIP.
    pub address: Address,
}

impl District {
    /// D_YTD's bytes in a row.
    pub const YTD: Range<usize> = 4..12;
    /// D_NEXT_O_ID's bytes in a row.
    pub const NEXT_O_ID: Range<usize> = 12..16;
    /// The bytes [`District::pay`] writes.
    pub const PAY_FIELDS: &'static [Range<usize>] = &[Self::YTD];
    /// The bytes [`District::set_next_o_id`] writes.
    pub const NEXT_O_ID_FIELDS: &'static [Range<usize>] = &[Self::NEXT_O_ID];

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u32(self.tax).i64(self.ytd).u32(self.next_o_id).str(&self.name);
        self.address.enc(&mut e);
        e.0
    }
    /// D_TAX and D_NEXT_O_ID of a row, without decoding the rest (New-Order, Stock-Level).
    pub fn tax_and_next_o_id(row: &[u8]) -> Result<(u32, u32)> {
        Ok((fixed_u32(row, 0)?, fixed_u32(row, Self::NEXT_O_ID.start)?))
    }
    /// Writes D_NEXT_O_ID into an encoded row.
    pub fn set_next_o_id(row: &mut [u8], next: u32) -> Result<()> {
        set_fixed(row, Self::NEXT_O_ID.start, &next.to_le_bytes())
    }
    /// D_NAME, borrowed from a row (Payment).
    pub fn name_of(row: &[u8]) -> Result<&[u8]> {
        str_after(row, 16, 0)
    }
    /// Adds a payment to D_YTD in an encoded row.
    pub fn pay(row: &mut [u8], amount: i64) -> Result<()> {
        add_i64(row, Self::YTD.start, amount)
    }
    /// Parses a row.
    pub fn decode(b: &[u8]) -> Result<District> {
        let mut d = Dec::new(b);
        Ok(District {
            tax: d.u32()?,
            ytd: d.i64()?,
            next_o_id: d.u32()?,
            name: d.str()?.to_vec(),
            address: Address::dec(&mut d)?,
        })
    }
}

/// A CUSTOMER row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    /// C_SINCE (seconds since the epoch).
    pub since: u64,
    /// C_CREDIT_LIM in cents.
    pub credit_lim: i64,
    /// C_DISCOUNT in 1/10000.
    pub discount: u32,
    /// C_BALANCE in cents.
    pub balance: i64,
    /// C_YTD_PAYMENT in cents.
    pub ytd_payment: i64,
    /// C_PAYMENT_CNT.
    pub payment_cnt: u32,
    /// C_DELIVERY_CNT.
    pub delivery_cnt: u32,
    /// C_FIRST.
    pub first: Vec<u8>,
    /// C_MIDDLE.
    pub middle: Vec<u8>,
    /// C_LAST (unpadded).
    pub last: Vec<u8>,
    /// C_STREET_1 .. C_ZIP.
    pub address: Address,
    /// C_PHONE.
    pub phone: Vec<u8>,
    /// C_CREDIT: "GC" or "BC".
    pub credit: Vec<u8>,
    /// C_DATA.
    pub data: Vec<u8>,
}

impl Customer {
    /// C_BALANCE's bytes in a row.
    pub const BALANCE: Range<usize> = 20..28;
    /// C_YTD_PAYMENT's bytes in a row.
    pub const YTD_PAYMENT: Range<usize> = 28..36;
    /// C_PAYMENT_CNT's bytes in a row.
    pub const PAYMENT_CNT: Range<usize> = 36..40;
    /// C_DELIVERY_CNT's bytes in a row.
    pub const DELIVERY_CNT: Range<usize> = 40..44;
    /// C_BALANCE, C_YTD_PAYMENT and C_PAYMENT_CNT, one after another in a row.
    pub const PAYMENT: Range<usize> = Self::BALANCE.start..Self::PAYMENT_CNT.end;
    /// The bytes [`Customer::pay`] writes.
    pub const PAY_FIELDS: &'static [Range<usize>] = &[Self::PAYMENT];
    /// The bytes [`Customer::deliver`] writes.
    pub const DELIVER_FIELDS: &'static [Range<usize>] = &[Self::BALANCE, Self::DELIVERY_CNT];

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.since)
            .i64(self.credit_lim)
            .u32(self.discount)
            .i64(self.balance)
            .i64(self.ytd_payment)
            .u32(self.payment_cnt)
            .u32(self.delivery_cnt)
            .str(&self.first)
            .str(&self.middle)
            .str(&self.last);
        self.address.enc(&mut e);
        e.str(&self.phone).str(&self.credit).long_str(&self.data);
        e.0
    }
    /// C_DISCOUNT of a row, without decoding the rest (New-Order).
    pub fn discount_of(row: &[u8]) -> Result<u32> {
        fixed_u32(row, 16)
    }
    /// C_CREDIT, borrowed from a row (Payment: a "BC" customer's C_DATA changes, a "GC" one's numbers only).
    pub fn credit_of(row: &[u8]) -> Result<&[u8]> {
        // C_FIRST, C_MIDDLE, C_LAST, the five address lines, C_PHONE, then C_CREDIT.
        str_after(row, 44, 9)
    }
    /// A payment in an encoded row: C_BALANCE less `amount`, C_YTD_PAYMENT plus it, C_PAYMENT_CNT plus one.
    pub fn pay(row: &mut [u8], amount: i64) -> Result<()> {
        add_i64(row, Self::BALANCE.start, -amount)?;
        add_i64(row, Self::YTD_PAYMENT.start, amount)?;
        bump_u32(row, Self::PAYMENT_CNT.start)
    }
    /// C_BALANCE and C_YTD_PAYMENT of a row, without decoding the rest (consistency conditions 10 and 12).
    pub fn balance_and_ytd_payment_of(row: &[u8]) -> Result<(i64, i64)> {
        Ok((
            fixed_i64(row, Self::BALANCE.start)?,
            fixed_i64(row, Self::YTD_PAYMENT.start)?,
        ))
    }
    /// A delivery in an encoded row: C_BALANCE plus `amount`, C_DELIVERY_CNT plus one.
    pub fn deliver(row: &mut [u8], amount: i64) -> Result<()> {
        add_i64(row, Self::BALANCE.start, amount)?;
        bump_u32(row, Self::DELIVERY_CNT.start)
    }
    /// Parses a row.
    pub fn decode(b: &[u8]) -> Result<Customer> {
        let mut d = Dec::new(b);
        Ok(Customer {
            since: d.u64()?,
            credit_lim: d.i64()?,
            discount: d.u32()?,
            balance: d.i64()?,
            ytd_payment: d.i64()?,
            payment_cnt: d.u32()?,
            delivery_cnt: d.u32()?,
            first: d.str()?.to_vec(),
            middle: d.str()?.to_vec(),
            last: d.str()?.to_vec(),
            address: Address::dec(&mut d)?,
            phone: d.str()?.to_vec(),
            credit: d.str()?.to_vec(),
            data: d.long_str()?.to_vec(),
        })
    }
}

/// A HISTORY row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// H_C_ID.
    pub c_id: u32,
    /// H_C_D_ID.
    pub c_d_id: u8,
    /// H_C_W_ID.
    pub c_w_id: u16,
    /// H_D_ID.
    pub d_id: u8,
    /// H_W_ID.
    pub w_id: u16,
    /// H_DATE.
    pub date: u64,
    /// H_AMOUNT in cents.
    pub amount: i64,
    /// H_DATA.
    pub data: Vec<u8>,
}

impl History {
    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u32(self.c_id)
            .u8(self.c_d_id)
            .u16(self.c_w_id)
            .u8(self.d_id)
            .u16(self.w_id)
            .u64(self.date)
            .i64(self.amount)
            .str(&self.data);
        e.0
    }
    /// Parses a row.
    pub fn decode(b: &[u8]) -> Result<History> {
        let mut d = Dec::new(b);
        Ok(History {
            c_id: d.u32()?,
            c_d_id: d.u8()?,
            c_w_id: d.u16()?,
            d_id: d.u8()?,
            w_id: d.u16()?,
            date: d.u64()?,
            amount: d.i64()?,
            data: d.str()?.to_vec(),
        })
    }
}

/// An ORDER row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Order {
    /// O_C_ID.
    pub c_id: u32,
    /// O_ENTRY_D.
    pub entry_d: u64,
    /// O_CARRIER_ID, 0 for null.
    pub carrier_id: u8,
    /// O_OL_CNT.
    pub ol_cnt: u8,
    /// O_ALL_LOCAL.
    pub all_local: u8,
}

impl Order {
    /// O_CARRIER_ID's byte in a row.
    pub const CARRIER_ID: Range<usize> = 12..13;
    /// The bytes [`Order::set_carrier_id`] writes.
    pub const CARRIER_ID_FIELDS: &'static [Range<usize>] = &[Self::CARRIER_ID];

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u32(self.c_id)
            .u64(self.entry_d)
            .u8(self.carrier_id)
            .u8(self.ol_cnt)
            .u8(self.all_local);
        e.0
    }
    /// Writes O_CARRIER_ID into an encoded row (Delivery).
    pub fn set_carrier_id(row: &mut [u8], carrier_id: u8) -> Result<()> {
        set_fixed(row, Self::CARRIER_ID.start, &[carrier_id])
    }
    /// Parses a row.
    pub fn decode(b: &[u8]) -> Result<Order> {
        let mut d = Dec::new(b);
        Ok(Order {
            c_id: d.u32()?,
            entry_d: d.u64()?,
            carrier_id: d.u8()?,
            ol_cnt: d.u8()?,
            all_local: d.u8()?,
        })
    }
}

/// An ORDER-LINE row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderLine {
    /// OL_I_ID.
    pub i_id: u32,
    /// OL_SUPPLY_W_ID.
    pub supply_w_id: u16,
    /// OL_DELIVERY_D, 0 for null.
    pub delivery_d: u64,
    /// OL_QUANTITY.
    pub quantity: u8,
    /// OL_AMOUNT in cents.
    pub amount: i64,
    /// OL_DIST_INFO.
    pub dist_info: Vec<u8>,
}

impl OrderLine {
    /// OL_DELIVERY_D's bytes in a row.
    pub const DELIVERY_D: Range<usize> = 6..14;
    /// OL_AMOUNT's bytes in a row.
    pub const AMOUNT: Range<usize> = 15..23;
    /// The bytes [`OrderLine::deliver`] writes.
    pub const DELIVER_FIELDS: &'static [Range<usize>] = &[Self::DELIVERY_D];

    /// OL_I_ID of a row, without decoding the rest (Stock-Level reads only this).
    pub fn item_of(row: &[u8]) -> Result<u32> {
        Dec::new(row).u32()
    }

    /// OL_DELIVERY_D (0: null) and OL_AMOUNT of a row, without decoding the rest (consistency conditions 7, 10
    /// and 12).
    pub fn delivery_and_amount_of(row: &[u8]) -> Result<(u64, i64)> {
        Ok((
            u64::from_le_bytes(fixed(row, Self::DELIVERY_D.start)?),
            fixed_i64(row, Self::AMOUNT.start)?,
        ))
    }

    /// Delivery of an encoded row: writes OL_DELIVERY_D, returns OL_AMOUNT.
    pub fn deliver(row: &mut [u8], date: u64) -> Result<i64> {
        set_fixed(row, Self::DELIVERY_D.start, &date.to_le_bytes())?;
        fixed_i64(row, Self::AMOUNT.start)
    }

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        Self::encode_to(
            (self.i_id, self.supply_w_id, self.delivery_d, self.quantity, self.amount),
            &self.dist_info,
            &mut out,
        );
        out
    }

    /// A new line's row (OL_DELIVERY_D null) into `out`, replacing what it held: [`OrderLine::encode`]'s bytes
    /// without an owned OL_DIST_INFO or a new vector (New-Order's lines, one buffer for all).
    pub fn encode_new(i_id: u32, supply_w_id: u16, quantity: u8, amount: i64, dist_info: &[u8], out: &mut Vec<u8>) {
        Self::encode_to((i_id, supply_w_id, 0, quantity, amount), dist_info, out);
    }

    fn encode_to(
        (i_id, supply_w_id, delivery_d, quantity, amount): (u32, u16, u64, u8, i64),
        dist_info: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.clear();
        let mut e = Enc(std::mem::take(out));
        e.u32(i_id)
            .u16(supply_w_id)
            .u64(delivery_d)
            .u8(quantity)
            .i64(amount)
            .str(dist_info);
        *out = e.0;
    }

    /// Parses a row.
    pub fn decode(b: &[u8]) -> Result<OrderLine> {
        let mut d = Dec::new(b);
        Ok(OrderLine {
            i_id: d.u32()?,
            supply_w_id: d.u16()?,
            delivery_d: d.u64()?,
            quantity: d.u8()?,
            amount: d.i64()?,
            dist_info: d.str()?.to_vec(),
        })
    }
}

/// An ITEM row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// I_IM_ID.
    pub im_id: u32,
    /// I_PRICE in cents.
    pub price: i64,
    /// I_NAME.
    pub name: Vec<u8>,
    /// I_DATA.
    pub data: Vec<u8>,
}

impl Item {
    /// I_PRICE and, borrowed from the row, I_DATA: what New-Order reads.
    pub fn price_and_data(row: &[u8]) -> Result<(i64, &[u8])> {
        let mut dec = Dec::new(row);
        dec.u32()?;
        let price = dec.i64()?;
        dec.str()?;
        Ok((price, dec.str()?))
    }

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u32(self.im_id).i64(self.price).str(&self.name).str(&self.data);
        e.0
    }
}

/// A STOCK row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stock {
    /// S_QUANTITY.
    pub quantity: u32,
    /// S_YTD.
    pub ytd: u32,
    /// S_ORDER_CNT.
    pub order_cnt: u32,
    /// S_REMOTE_CNT.
    pub remote_cnt: u32,
    /// S_DIST_01 .. S_DIST_10.
    pub dist: [Vec<u8>; 10],
    /// S_DATA.
    pub data: Vec<u8>,
}

impl Stock {
    /// The bytes of a row that hold S_QUANTITY (its first field), which is all Stock-Level reads.
    pub const QUANTITY: Range<usize> = 0..4;
    /// The bytes of the numeric fields (S_QUANTITY, S_YTD, S_ORDER_CNT, S_REMOTE_CNT), which
    /// [`Stock::set_numbers`] writes.
    pub const NUMBERS: Range<usize> = 0..16;
    /// The bytes [`Stock::set_numbers`] writes.
    pub const NUMBERS_FIELDS: &'static [Range<usize>] = &[Self::NUMBERS];

    /// S_QUANTITY of a row, or of its bytes [`Stock::QUANTITY`], without decoding the rest.
    pub fn quantity_of(row: &[u8]) -> Result<u32> {
        Dec::new(row).u32()
    }

    /// The numeric fields of a row (quantity, ytd, order count, remote count) and, borrowed from it, S_DIST of
    /// district `d` and S_DATA: what New-Order reads, without copying the strings.
    pub fn borrow(row: &[u8], d: u8) -> Result<([u32; 4], &[u8], &[u8])> {
        let mut dec = Dec::new(row);
        let nums = [dec.u32()?, dec.u32()?, dec.u32()?, dec.u32()?];
        let mut dist: &[u8] = &[];
        for i in 1..=10u8 {
            let s = dec.str()?;
            if i == d {
                dist = s;
            }
        }
        Ok((nums, dist, dec.str()?))
    }

    /// Writes the numeric fields into an encoded row (whose strings stay as they are).
    pub fn set_numbers(row: &mut [u8], nums: [u32; 4]) -> Result<()> {
        let Some(head) = row.get_mut(Self::NUMBERS) else {
            bail!("row too short");
        };
        for (at, n) in head.chunks_exact_mut(4).zip(nums) {
            at.copy_from_slice(&n.to_le_bytes());
        }
        Ok(())
    }

    /// The row's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u32(self.quantity)
            .u32(self.ytd)
            .u32(self.order_cnt)
            .u32(self.remote_cnt);
        for s in &self.dist {
            e.str(s);
        }
        e.str(&self.data);
        e.0
    }
    /// Parses a row (New-Order reads only some fields: [`Stock::borrow`]).
    #[cfg(test)]
    pub fn decode(b: &[u8]) -> Result<Stock> {
        let mut d = Dec::new(b);
        let (quantity, ytd, order_cnt, remote_cnt) = (d.u32()?, d.u32()?, d.u32()?, d.u32()?);
        let mut dist: [Vec<u8>; 10] = Default::default();
        for s in &mut dist {
            *s = d.str()?.to_vec();
        }
        Ok(Stock {
            quantity,
            ytd,
            order_cnt,
            remote_cnt,
            dist,
            data: d.str()?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_their_fields() {
        assert!(wdx_key(1, 2, 300) < wdx_key(1, 2, 301));
        assert!(wdx_key(1, 2, 0xffff) < wdx_key(1, 3, 0));
        assert!(wdx_key(1, 10, 5) < wdx_key(2, 1, 1));
        assert!(order_line_key(1, 1, 7, 15) < order_line_key(1, 1, 8, 1));
        // Newest order of a customer first.
        assert!(order_customer_key(1, 1, 5, 3001) < order_customer_key(1, 1, 5, 3000));
        assert!(order_customer_key(1, 1, 5, 1) < order_customer_key(1, 1, 6, 9999));
        assert_eq!(order_customer_order(&order_customer_key(3, 4, 5, 77)).unwrap(), 77);
        let last = super::super::random::last_name(123);
        let (from, to) = customer_name_range(1, 1, &last);
        let k = customer_name_key(1, 1, &last, b"Zzzzzzzzzzzzzzzz", 3000);
        assert!(from[..] <= k[..] && k[..] < to[..]);
        assert!(customer_name_key(1, 1, &last, b"Aaa", 9) < customer_name_key(1, 1, &last, b"Aab", 1));
        assert_eq!(customer_name_id(&k).unwrap(), 3000);
    }

    /// Runs the in-place change `f` on `row` and checks that it wrote no byte outside `fields` (its declared
    /// `*_FIELDS`), each of which lies within the row.
    fn change_within(row: &mut [u8], fields: &[Range<usize>], f: impl FnOnce(&mut [u8]) -> Result<()>) {
        let before = row.to_vec();
        f(row).unwrap();
        assert!(
            fields.iter().all(|r| r.end <= row.len()),
            "{fields:?} past {}",
            row.len()
        );
        for (i, (a, b)) in before.iter().zip(row.iter()).enumerate() {
            assert!(
                a == b || fields.iter().any(|r| r.contains(&i)),
                "byte {i} changed outside {fields:?}"
            );
        }
    }

    #[test]
    fn in_place_changes_agree_with_decode_and_encode() {
        let addr = Address {
            lines: std::array::from_fn(|i| vec![b'a' + i as u8; 3 + i]),
        };
        let mut w = Warehouse {
            tax: 1234,
            ytd: 99,
            name: b"wname".to_vec(),
            address: addr.clone(),
        };
        let mut row = w.encode();
        assert_eq!(Warehouse::tax_of(&row).unwrap(), 1234);
        assert_eq!(Warehouse::name_of(&row).unwrap(), b"wname");
        change_within(&mut row, Warehouse::PAY_FIELDS, |r| Warehouse::pay(r, 500));
        w.ytd += 500;
        assert_eq!(Warehouse::decode(&row).unwrap(), w);
        let mut d = District {
            tax: 77,
            ytd: -5,
            next_o_id: 3001,
            name: b"dname".to_vec(),
            address: addr.clone(),
        };
        let mut row = d.encode();
        assert_eq!(District::tax_and_next_o_id(&row).unwrap(), (77, 3001));
        assert_eq!(District::name_of(&row).unwrap(), b"dname");
        change_within(&mut row, District::NEXT_O_ID_FIELDS, |r| {
            District::set_next_o_id(r, 3002)
        });
        change_within(&mut row, District::PAY_FIELDS, |r| District::pay(r, 10));
        (d.next_o_id, d.ytd) = (3002, 5);
        assert_eq!(District::decode(&row).unwrap(), d);
        let mut c = Customer {
            since: 1,
            credit_lim: 2,
            discount: 3,
            balance: -1000,
            ytd_payment: 4,
            payment_cnt: 5,
            delivery_cnt: 6,
            first: b"first".to_vec(),
            middle: b"OE".to_vec(),
            last: b"BARBARBAR".to_vec(),
            address: addr,
            phone: b"0123456789012345".to_vec(),
            credit: b"GC".to_vec(),
            data: vec![b'x'; 300],
        };
        let mut row = c.encode();
        assert_eq!(Customer::discount_of(&row).unwrap(), 3);
        assert_eq!(Customer::credit_of(&row).unwrap(), b"GC");
        change_within(&mut row, Customer::PAY_FIELDS, |r| Customer::pay(r, 250));
        change_within(&mut row, Customer::DELIVER_FIELDS, |r| Customer::deliver(r, 40));
        (c.balance, c.ytd_payment, c.payment_cnt, c.delivery_cnt) = (-1000 - 250 + 40, 254, 6, 7);
        assert_eq!(Customer::decode(&row).unwrap(), c);
        let mut l = OrderLine {
            i_id: 9,
            supply_w_id: 2,
            delivery_d: 0,
            quantity: 5,
            amount: 4321,
            dist_info: vec![b'd'; 24],
        };
        let mut row = l.encode();
        let mut new = b"stale".to_vec();
        OrderLine::encode_new(9, 2, 5, 4321, &[b'd'; 24], &mut new);
        assert_eq!(new, row);
        change_within(&mut row, OrderLine::DELIVER_FIELDS, |r| {
            assert_eq!(OrderLine::deliver(r, 777)?, 4321);
            Ok(())
        });
        l.delivery_d = 777;
        assert_eq!(OrderLine::decode(&row).unwrap(), l);
        let mut o = Order {
            c_id: 5,
            entry_d: 6,
            carrier_id: 0,
            ol_cnt: 7,
            all_local: 1,
        };
        let mut row = o.encode();
        change_within(&mut row, Order::CARRIER_ID_FIELDS, |r| Order::set_carrier_id(r, 9));
        o.carrier_id = 9;
        assert_eq!(Order::decode(&row).unwrap(), o);
        let mut st = Stock {
            quantity: 1,
            ytd: 2,
            order_cnt: 3,
            remote_cnt: 4,
            dist: std::array::from_fn(|i| vec![b'0' + i as u8; 24]),
            data: b"data".to_vec(),
        };
        let mut row = st.encode();
        change_within(&mut row, Stock::NUMBERS_FIELDS, |r| {
            Stock::set_numbers(r, [11, 12, 13, 14])
        });
        (st.quantity, st.ytd, st.order_cnt, st.remote_cnt) = (11, 12, 13, 14);
        assert_eq!(Stock::decode(&row).unwrap(), st);
        for short in [&mut [0u8; 3][..], &mut []] {
            assert!(Customer::pay(short, 1).is_err());
            assert!(OrderLine::deliver(short, 1).is_err());
            assert!(District::set_next_o_id(short, 1).is_err());
            assert!(Order::set_carrier_id(short, 1).is_err());
        }
    }

    #[test]
    fn rows_round_trip_and_short_rows_are_errors() {
        let c = Customer {
            balance: -1000,
            first: b"abc".to_vec(),
            data: vec![b'x'; 500],
            credit: b"BC".to_vec(),
            ..Default::default()
        };
        let b = c.encode();
        assert_eq!(Customer::decode(&b).unwrap(), c);
        for cut in 0..b.len() {
            assert!(Customer::decode(&b[..cut]).is_err());
        }
        let mut s = Stock {
            quantity: 17,
            dist: std::array::from_fn(|i| vec![b'a' + i as u8; 24]),
            data: b"ORIGINAL".to_vec(),
            ..Default::default()
        };
        assert_eq!(Stock::decode(&s.encode()).unwrap(), s);
        let mut row = s.encode();
        let (nums, dist, data) = Stock::borrow(&row, 3).unwrap();
        assert_eq!((nums, dist, data), ([17, 0, 0, 0], &s.dist[2][..], &b"ORIGINAL"[..]));
        // Stock-Level reads S_QUANTITY from the row's bytes `QUANTITY` alone.
        assert_eq!(Stock::quantity_of(&row[Stock::QUANTITY]).unwrap(), 17);
        Stock::set_numbers(&mut row, [1, 2, 3, 4]).unwrap();
        (s.quantity, s.ytd, s.order_cnt, s.remote_cnt) = (1, 2, 3, 4);
        assert_eq!(Stock::decode(&row).unwrap(), s);
        assert!(Stock::borrow(&row[..row.len() - 1], 1).is_err());
        let item = Item {
            price: 1234,
            name: b"n".to_vec(),
            data: b"d".to_vec(),
            ..Default::default()
        };
        assert_eq!(Item::price_and_data(&item.encode()).unwrap(), (1234, &b"d"[..]));
        // The fields the consistency conditions read without decoding the rows.
        assert_eq!(Customer::balance_and_ytd_payment_of(&b).unwrap(), (-1000, 0));
        let line = OrderLine {
            delivery_d: 77,
            amount: -5,
            dist_info: b"info".to_vec(),
            ..Default::default()
        };
        assert_eq!(OrderLine::delivery_and_amount_of(&line.encode()).unwrap(), (77, -5));
        assert!(OrderLine::delivery_and_amount_of(&line.encode()[..20]).is_err());
        let h = History {
            c_id: 3000,
            c_d_id: 10,
            c_w_id: 7,
            d_id: 9,
            w_id: 8,
            date: 5,
            amount: 123,
            data: b"w    d".to_vec(),
        };
        let row = h.encode();
        assert_eq!(History::decode(&row).unwrap(), h);
        for cut in 0..row.len() {
            assert!(History::decode(&row[..cut]).is_err());
        }
    }
}

/// Districts per warehouse (clause 1.2.1).
pub const DISTRICTS: u8 = 10;

/// The database's cardinalities (clause 1.2.1 and 4.3.3.1): the spec's, or reduced ones for smoke runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Warehouses, numbered `1..=warehouses`.
    pub warehouses: u16,
    /// ITEM rows, and STOCK rows per warehouse (spec: 100,000).
    pub items: u32,
    /// CUSTOMER rows per district, and ORDER rows per district at load (spec: 3,000).
    pub customers: u32,
}

impl Scale {
    /// The spec's cardinalities for `warehouses` warehouses.
    pub fn standard(warehouses: u16) -> Scale {
        Scale {
            warehouses,
            items: 100_000,
            customers: 3_000,
        }
    }

    /// Reduced cardinalities for smoke runs and tests (not TPC-C's: 1/50 of the items and 1/50 of the customers
    /// and orders; every rule keeps its proportions).
    pub fn reduced(warehouses: u16) -> Scale {
        Scale {
            warehouses,
            items: 2_000,
            customers: 60,
        }
    }

    /// Whether these are the spec's cardinalities.
    pub fn is_standard(&self) -> bool {
        self.items == 100_000 && self.customers == 3_000
    }

    /// NEW-ORDER rows per district at load: the last 900 of 3,000 orders (scaled).
    pub fn new_orders(&self) -> u32 {
        self.customers * 900 / 3000
    }

    /// The first order id loaded as undelivered (2,101 at the spec's scale).
    pub fn first_undelivered(&self) -> u32 {
        self.customers - self.new_orders() + 1
    }

    /// The largest last-name number (999 at the spec's scale; fewer customers than 1,000 use fewer names, so
    /// every name a transaction looks up can exist).
    pub fn last_name_max(&self) -> u64 {
        u64::from(self.customers.min(1000)) - 1
    }
}

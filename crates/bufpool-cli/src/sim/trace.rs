//! Trace readers: turn a page-access trace file into the sequence of page keys it requests.
//!
//! Owns the supported formats ([`Format`]), format detection from the file name, transparent decompression
//! (gzip, xz, zstd, detected by magic bytes, never by name) and the interned in-memory form [`Trace`].
//!
//! Every reader streams: it reads the (decompressed) file once, front to back, through a buffered reader, and
//! hands each page key to a sink. Only the interned trace is kept: four bytes per request and eight per distinct
//! page (plus, while reading, a hash index of the distinct keys), never the file's text or records.
//!
//! Formats (one access names one page; sizes are ignored, every page is one cache slot):
//! - `lis`: the ARC paper's traces. Each line is `start count ignored request_no`; it requests pages
//!   `start .. start+count-1` in order (a count of 0 requests nothing). Only the first two fields are read; at
//!   least two are required; blank lines are skipped.
//! - `lirs`: the LIRS paper's traces. One page number (`u64`) per line. Blank lines and lines holding only `*`
//!   (the LIRS simulator's "print the stacks here" breakpoint marker) are skipped; CRLF line ends are accepted.
//! - `u32be`: binary, one big-endian `u32` key per access (the cache2k traces).
//! - `oracle-general`: libCacheSim's `oracleGeneral` binary form, packed little-endian 24-byte records
//!   `u32 time, u64 id, u32 size, i64 next_access`; only `id` is used.
//! - `csv`: libCacheSim-style CSV. See [`CsvColumn`] for how the id column is found. A numeric id is the key
//!   itself; any other non-empty id (libCacheSim's string ids) is hashed to a key with 64-bit FNV-1a.
//!
//! Errors name the 1-based line of a text format, or the byte offset in the decompressed stream of a binary one,
//! and quote at most 80 characters of the trace's text. A text line longer than 64 KiB is refused (`LINE_BYTES_MAX`:
//! a file without line ends is not held whole).

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Buffer size of the readers between the file, the decompressor and the parser.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Longest line a text trace may have, its line end included: far beyond any line of the formats read (a `lis`
/// line is four numbers, a LIRS line one, a libCacheSim CSV line a few fields), short enough that a file without
/// line ends (zeroes, a binary trace read as text) is refused after this many bytes. Unbounded, such a file was
/// held whole in memory as one line (a file larger than memory: the allocator's failure aborts the process), and
/// its error quoted the line whole, two bytes on stderr for each of the file's (R46-3 in RELIABILITY.md).
const LINE_BYTES_MAX: usize = 64 * 1024;

/// Most characters of a trace's own text an error quotes ([`quoted`]).
const QUOTED_CHARS_MAX: usize = 80;

/// Bytes sniffed at the start of a `.trace` file to tell text from binary.
const SNIFF_BYTES: usize = 4096;

/// Column names tried, in this order, when a CSV header names the id column and no `--csv-column` is given.
pub const CSV_ID_COLUMNS: &[&str] = &[
    "obj_id",
    "object_id",
    "id",
    "key",
    "obj",
    "page",
    "page_id",
    "block",
    "lba",
    "lbn",
];

/// Errors of reading a trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read (including a corrupt compressed stream). The message names the file;
    /// the cause is the `source()` (printed after it in an error chain, `{:#}`), not repeated in the message.
    #[error("{path}")]
    Io {
        /// The trace file.
        path: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// A text trace has a line that is not in its format.
    #[error("{path}: line {line}: {reason}")]
    Line {
        /// The trace file.
        path: String,
        /// 1-based line number in the decompressed text.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A binary trace has a malformed record.
    #[error("{path}: byte offset {offset}: {reason}")]
    Binary {
        /// The trace file.
        path: String,
        /// Offset in the decompressed stream of the record that is malformed.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// `--format auto` could not tell the format from the file name.
    #[error("{path}: cannot tell the trace format from the file name; pass --format (lis, lirs, u32be, oracle-general, csv)")]
    UnknownFormat {
        /// The trace file.
        path: String,
    },
    /// The memory to hold the trace could not be had (R34-2): it was read this far.
    #[error("{path}: out of memory after {requests} requests of {pages} distinct pages: too large to simulate here")]
    OutOfMemory {
        /// The trace file.
        path: String,
        /// Requests read before memory ran out.
        requests: u64,
        /// Distinct pages among them.
        pages: u64,
    },
    /// The trace has more requests or distinct pages than the simulator indexes (`u32::MAX - 1`).
    #[error("{path}: more than {max} requests or distinct pages: too large to simulate")]
    TooLarge {
        /// The trace file.
        path: String,
        /// The limit.
        max: u64,
    },
}

/// A trace file format, as named by `--format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// Decide from the file name, after stripping a compression suffix: `.lis` is lis, `.trace`/`.trc` is lirs if
    /// its first bytes are text and u32be otherwise, a name with `.oracleGeneral` is oracle-general, `.csv` is csv.
    Auto,
    /// ARC traces: `start count ignored request_no` per line.
    Lis,
    /// LIRS traces: one page number per line.
    Lirs,
    /// Big-endian u32 keys.
    U32be,
    /// libCacheSim oracleGeneral records.
    OracleGeneral,
    /// libCacheSim-style CSV.
    Csv,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Lis => "lis",
            Format::Lirs => "lirs",
            Format::U32be => "u32be",
            Format::OracleGeneral => "oracle-general",
            Format::Csv => "csv",
        }
    }
}

/// The compression a trace file was found to use (by its magic bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (any number of members).
    Gzip,
    /// xz (any number of streams).
    Xz,
    /// zstd (any number of frames).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        })
    }
}

/// Which CSV column holds the page id.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum CsvColumn {
    /// The first line must be a header with one of [`CSV_ID_COLUMNS`] (case-insensitive); that column is used.
    #[default]
    Auto,
    /// The first line must be a header with this column name (case-insensitive).
    Name(String),
    /// This 1-based column (as libCacheSim's `obj-id-col`). The first line is a header, and skipped, only if that
    /// field of it is not a number.
    Index(usize),
}

impl CsvColumn {
    /// Parses `--csv-column`: a number is a 1-based index, anything else a header name.
    pub fn parse(s: &str) -> Result<CsvColumn, String> {
        match s.parse::<usize>() {
            Ok(0) => Err("CSV column indices start at 1".into()),
            Ok(i) => Ok(CsvColumn::Index(i)),
            Err(_) if s.trim().is_empty() => Err("empty CSV column name".into()),
            Err(_) => Ok(CsvColumn::Name(s.trim().to_string())),
        }
    }
}

/// A trace in memory: requests as dense page indices, and each dense index's original key.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// `keys[p]` is the key of dense page `p` (in order of first appearance).
    pub keys: Vec<u64>,
    /// Every request, as a dense page index (`< keys.len()`).
    pub requests: Vec<u32>,
}

impl Trace {
    /// Interns a sequence of keys (for tests).
    #[cfg(test)]
    pub fn from_keys(keys: impl IntoIterator<Item = u64>) -> Trace {
        let mut b = TraceBuilder::default();
        for k in keys {
            assert!(b.push(k), "out of memory");
        }
        b.finish()
    }

    /// Number of distinct pages.
    pub fn distinct_pages(&self) -> usize {
        self.keys.len()
    }
}

/// Hashes page keys for the interning index: one multiply and a fold (the 64-bit golden-ratio constant), far
/// cheaper than SipHash. Keys come from a trace file the user chose, so there is no adversary to resist.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, key: u64) {
        let m = u128::from(key ^ self.0) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

/// Builds a [`Trace`] from keys one at a time.
#[derive(Default)]
struct TraceBuilder {
    index: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    trace: Trace,
}

impl TraceBuilder {
    /// Largest count of requests or distinct pages: dense indices are `u32`, and `u32::MAX` is the simulator's
    /// "none" marker.
    const MAX: usize = u32::MAX as usize - 1;

    /// Adds a request for `key`; `false`, adding nothing, if the memory for it could not be had. Every growth is
    /// fallible (R34-2): a one-line `lis` trace can ask for 2^32 requests of as many pages (some 60 GB here), and
    /// an infallible push aborted the process when the allocator refused, or took all the machine's memory.
    fn push(&mut self, key: u64) -> bool {
        let next = self.trace.keys.len() as u32;
        if self.index.try_reserve(1).is_err() || self.trace.requests.try_reserve(1).is_err() {
            return false;
        }
        let p = *self.index.entry(key).or_insert(next);
        if p == next {
            if self.trace.keys.try_reserve(1).is_err() {
                self.index.remove(&key);
                return false;
            }
            self.trace.keys.push(key);
        }
        self.trace.requests.push(p);
        true
    }

    fn full(&self) -> bool {
        self.trace.requests.len() >= Self::MAX || self.trace.keys.len() >= Self::MAX
    }

    fn finish(self) -> Trace {
        self.trace
    }
}

/// A trace read from a file, with what was found out about it.
#[derive(Debug)]
pub struct LoadedTrace {
    /// The requests.
    pub trace: Trace,
    /// The format it was parsed as.
    pub format: Format,
    /// The compression it was stored with.
    pub compression: Compression,
}

/// Reads the whole trace at `path` in `format` (`Auto` decides from the name).
pub fn load(path: &Path, format: Format, csv: &CsvColumn) -> Result<LoadedTrace, TraceError> {
    let shown = path.display().to_string();
    let io_err = |source| TraceError::Io {
        path: shown.clone(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let (mut reader, compression) = decompress(file).map_err(io_err)?;
    let format = match format {
        Format::Auto => detect(path, &mut reader)
            .map_err(io_err)?
            .ok_or_else(|| TraceError::UnknownFormat { path: shown.clone() })?,
        f => f,
    };
    let mut builder = TraceBuilder::default();
    let (mut too_large, mut out_of_memory) = (false, false);
    parse(format, &mut reader, csv, &shown, &mut |key| {
        if builder.full() {
            too_large = true;
            return false;
        }
        out_of_memory = !builder.push(key);
        !out_of_memory
    })?;
    if too_large {
        return Err(TraceError::TooLarge {
            path: shown,
            max: TraceBuilder::MAX as u64,
        });
    }
    if out_of_memory {
        let trace = builder.finish();
        return Err(TraceError::OutOfMemory {
            path: shown,
            requests: trace.requests.len() as u64,
            pages: trace.keys.len() as u64,
        });
    }
    Ok(LoadedTrace {
        trace: builder.finish(),
        format,
        compression,
    })
}

/// Wraps `inner` in the decompressor its magic bytes call for.
pub fn decompress<R: Read + 'static>(mut inner: R) -> io::Result<(Box<dyn BufRead>, Compression)> {
    // Read the magic bytes by hand (a reader may return fewer than asked), then put them back in front.
    let mut head = [0u8; 6];
    let mut have = 0;
    while have < head.len() {
        match inner.read(&mut head[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = &head[..have];
    let compression = if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    };
    let raw = BufReader::with_capacity(READ_BUFFER_BYTES, io::Cursor::new(head.to_vec()).chain(inner));
    let reader: Box<dyn BufRead> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            flate2::bufread::MultiGzDecoder::new(raw),
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            liblzma::bufread::XzDecoder::new_multi_decoder(raw),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            zstd::stream::read::Decoder::with_buffer(raw)?,
        )),
    };
    Ok((reader, compression))
}

/// Decides the format of `path` for `--format auto` (`None`: the name says nothing), sniffing the stream's first
/// bytes for `.trace` files.
pub fn detect(path: &Path, reader: &mut dyn BufRead) -> io::Result<Option<Format>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = name.as_str();
    for suffix in [".gz", ".gzip", ".xz", ".zst", ".zstd"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            stem = s;
            break;
        }
    }
    let lower = stem.to_ascii_lowercase();
    if lower.ends_with(".lis") {
        return Ok(Some(Format::Lis));
    }
    if lower.contains(".oraclegeneral") {
        return Ok(Some(Format::OracleGeneral));
    }
    if lower.ends_with(".csv") {
        return Ok(Some(Format::Csv));
    }
    if lower.ends_with(".trace") || lower.ends_with(".trc") {
        // Text is printable ASCII and line ends; a binary u32be trace of real keys has other bytes (NULs at
        // least: keys below 2^24) within its first few records. Text that is not a valid LIRS trace is still
        // taken as text, so its error names the bad line.
        let head = reader.fill_buf()?;
        let head = &head[..head.len().min(SNIFF_BYTES)];
        let text = head.iter().all(|&b| b.is_ascii_graphic() || b" \t\r\n".contains(&b));
        return Ok(Some(if text { Format::Lirs } else { Format::U32be }));
    }
    Ok(None)
}

/// Parses `reader` as `format` (not `Auto`), calling `sink` with each key in order until it returns false.
pub fn parse(
    format: Format,
    reader: &mut dyn BufRead,
    csv: &CsvColumn,
    path: &str,
    sink: &mut dyn FnMut(u64) -> bool,
) -> Result<(), TraceError> {
    match format {
        Format::Auto => Err(TraceError::UnknownFormat { path: path.to_string() }),
        Format::Lis => parse_lines(reader, path, &mut |line, _| parse_lis(line, sink)),
        Format::Lirs => parse_lines(reader, path, &mut |line, _| parse_lirs(line, sink)),
        Format::Csv => {
            let mut state = CsvState::new(csv.clone());
            parse_lines(reader, path, &mut |line, no| state.line(as_text(line)?, no, sink))
        }
        Format::U32be => parse_records::<4>(reader, path, &mut |r| Ok(sink(u64::from(u32::from_be_bytes(*r))))),
        Format::OracleGeneral => parse_records::<24>(reader, path, &mut |r| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&r[4..12]);
            Ok(sink(u64::from_le_bytes(id)))
        }),
    }
}

/// What a line parser tells the line loop.
enum Flow {
    /// Go on with the next line.
    More,
    /// The sink asked to stop.
    Stop,
}

/// Parses one line (its bytes, its 1-based number) of a text format.
type LineParser<'a> = dyn FnMut(&[u8], u64) -> Result<Flow, String> + 'a;

/// Feeds each line (without its `\n` or `\r\n`) and its 1-based number to `each`.
///
/// Lines stay bytes: the number parsers below work on bytes, which keeps a debug build (`cargo test`) reading a
/// million-line trace in about a second. Parsers that need text call [`as_text`].
fn parse_lines(reader: &mut dyn BufRead, path: &str, each: &mut LineParser<'_>) -> Result<(), TraceError> {
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = (&mut *reader)
            .take(LINE_BYTES_MAX as u64)
            .read_until(b'\n', &mut buf)
            .map_err(|source| TraceError::Io {
                path: path.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        let line_err = |reason: String| TraceError::Line {
            path: path.to_string(),
            line: line_no,
            reason,
        };
        if n == LINE_BYTES_MAX && buf.last() != Some(&b'\n') && !reader.fill_buf().is_ok_and(|b| b.is_empty()) {
            return Err(line_err(format!(
                "longer than {LINE_BYTES_MAX} bytes (it starts {}): not a text trace of this format",
                quoted(&buf)
            )));
        }
        let mut line = buf.as_slice();
        if let [rest @ .., b'\n'] = line {
            line = rest;
        }
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        match each(line, line_no).map_err(line_err)? {
            Flow::More => {}
            Flow::Stop => return Ok(()),
        }
    }
}

/// The line as text, or the error every text format reports for bytes that are not UTF-8.
fn as_text(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|_| "not UTF-8 text".to_string())
}

/// `bytes` as an error quotes them: in Rust's string syntax (escapes for control characters), cut to
/// [`QUOTED_CHARS_MAX`] characters, so an error names a trace's bad text without repeating it whole.
fn quoted(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(QUOTED_CHARS_MAX) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// The next field of `line` from `*pos` on, fields being separated by ASCII whitespace.
fn next_field<'a>(line: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut i = *pos;
    while i < line.len() && line[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < line.len() && !line[i].is_ascii_whitespace() {
        i += 1;
    }
    *pos = i;
    (start < i).then(|| &line[start..i])
}

/// Parses a field of decimal digits (no sign) as a `u64`; `what` names it in the error.
fn parse_u64(field: &[u8], line: &[u8], what: &str) -> Result<u64, String> {
    let mut value: u64 = 0;
    let mut ok = !field.is_empty();
    for &b in field {
        let digit = b.wrapping_sub(b'0');
        match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(digit))) {
            Some(v) if digit <= 9 => value = v,
            _ => {
                ok = false;
                break;
            }
        }
    }
    if ok {
        return Ok(value);
    }
    as_text(line)?;
    Err(format!("{what} {} is not an unsigned integer", quoted(field)))
}

fn parse_lis(line: &[u8], sink: &mut dyn FnMut(u64) -> bool) -> Result<Flow, String> {
    let mut pos = 0;
    let Some(start) = next_field(line, &mut pos) else {
        return Ok(Flow::More);
    };
    let Some(count) = next_field(line, &mut pos) else {
        return Err(format!(
            "expected `start count ignored request_no`, found {}",
            quoted(as_text(line)?.as_bytes())
        ));
    };
    let start = parse_u64(start, line, "start page")?;
    let count = parse_u64(count, line, "page count")?;
    if start.checked_add(count).is_none() {
        return Err(format!("pages {start}+{count} overflow u64"));
    }
    for page in start..start + count {
        if !sink(page) {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::More)
}

fn parse_lirs(line: &[u8], sink: &mut dyn FnMut(u64) -> bool) -> Result<Flow, String> {
    let t = line.trim_ascii();
    if t.is_empty() || t == b"*" {
        return Ok(Flow::More);
    }
    let key = parse_u64(t, line, "page number")?;
    Ok(if sink(key) { Flow::More } else { Flow::Stop })
}

/// Feeds each `N`-byte record to `each`; a trailing partial record is an error at its offset.
fn parse_records<const N: usize>(
    reader: &mut dyn BufRead,
    path: &str,
    each: &mut dyn FnMut(&[u8; N]) -> Result<bool, String>,
) -> Result<(), TraceError> {
    let mut offset = 0u64;
    let mut partial = [0u8; N];
    let mut partial_len = 0usize;
    loop {
        let buf = reader.fill_buf().map_err(|source| TraceError::Io {
            path: path.to_string(),
            source,
        })?;
        if buf.is_empty() {
            if partial_len != 0 {
                return Err(TraceError::Binary {
                    path: path.to_string(),
                    offset,
                    reason: format!("truncated record: {partial_len} of {N} bytes"),
                });
            }
            return Ok(());
        }
        let len = buf.len();
        let mut i = 0;
        // Finish a record split across buffer refills.
        if partial_len != 0 {
            let take = (N - partial_len).min(len);
            partial[partial_len..partial_len + take].copy_from_slice(&buf[..take]);
            partial_len += take;
            i = take;
            if partial_len == N {
                partial_len = 0;
                let go = each(&partial).map_err(|reason| TraceError::Binary {
                    path: path.to_string(),
                    offset,
                    reason,
                })?;
                offset += N as u64;
                if !go {
                    return Ok(());
                }
            }
        }
        while i + N <= len {
            let rec: &[u8; N] = buf[i..i + N].try_into().expect("slice of length N");
            let go = each(rec).map_err(|reason| TraceError::Binary {
                path: path.to_string(),
                offset,
                reason,
            })?;
            offset += N as u64;
            i += N;
            if !go {
                return Ok(());
            }
        }
        if i < len {
            let rest = len - i;
            partial[..rest].copy_from_slice(&buf[i..]);
            partial_len = rest;
        }
        reader.consume(len);
    }
}

/// Parsing state of a CSV trace: the delimiter and id column, fixed by the first line.
struct CsvState {
    want: CsvColumn,
    /// `(delimiter, 0-based id column)`, once the first line has been seen.
    layout: Option<(char, usize)>,
}

impl CsvState {
    fn new(want: CsvColumn) -> CsvState {
        CsvState { want, layout: None }
    }

    fn line(&mut self, line: &str, no: u64, sink: &mut dyn FnMut(u64) -> bool) -> Result<Flow, String> {
        if line.trim().is_empty() {
            return Ok(Flow::More);
        }
        let (delim, col) = match self.layout {
            Some(l) => l,
            None => {
                let delim = [',', '\t', ';', '|']
                    .into_iter()
                    .find(|d| line.contains(*d))
                    .unwrap_or(',');
                let names: Vec<String> = line.split(delim).map(|f| unquote(f).to_ascii_lowercase()).collect();
                let find = |n: &str| names.iter().position(|h| h == &n.to_ascii_lowercase());
                let header_col = match &self.want {
                    CsvColumn::Auto => CSV_ID_COLUMNS.iter().find_map(|n| find(n)),
                    CsvColumn::Name(n) => find(n),
                    CsvColumn::Index(_) => None,
                };
                match (&self.want, header_col) {
                    (_, Some(c)) => {
                        self.layout = Some((delim, c));
                        return Ok(Flow::More);
                    }
                    (CsvColumn::Index(i), None) => {
                        let c = i - 1;
                        self.layout = Some((delim, c));
                        // A header line: its id field is not a number. Skip it.
                        if names.get(c).is_some_and(|f| !f.is_empty() && f.parse::<u64>().is_err()) && no == 1 {
                            return Ok(Flow::More);
                        }
                        (delim, c)
                    }
                    (CsvColumn::Name(n), None) => {
                        return Err(format!(
                            "the header has no column {n:?} (header: {})",
                            quoted(line.as_bytes())
                        ));
                    }
                    (CsvColumn::Auto, None) => {
                        return Err(format!(
                            "the first line is not a header naming the id column (one of {}); pass --csv-column \
                             NAME or a 1-based index",
                            CSV_ID_COLUMNS.join(", ")
                        ));
                    }
                }
            }
        };
        let field = line
            .split(delim)
            .nth(col)
            .ok_or_else(|| format!("no column {} (found {} fields)", col + 1, line.split(delim).count()))?;
        let id = unquote(field);
        if id.is_empty() {
            return Err(format!("empty id in column {}", col + 1));
        }
        let key = id.parse::<u64>().unwrap_or_else(|_| fnv1a(id.as_bytes()));
        Ok(if sink(key) { Flow::More } else { Flow::Stop })
    }
}

fn unquote(field: &str) -> &str {
    let f = field.trim();
    f.strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(f)
        .trim()
}

/// 64-bit FNV-1a: a stable hash of string ids (the same key on every run and machine).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

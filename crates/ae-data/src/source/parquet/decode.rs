//! Decoding rows of a [`ParquetSource`]: column readers positioned by row group and page, nulls
//! refused or filled, numeric columns or one list column into row-major f32, labels and medians.

use super::*;

/// Column readers positioned at row `next` of row group `group`, one per feature.
pub(super) struct Cursor {
    pub(super) group: usize,
    pub(super) next: usize,
    pub(super) readers: Vec<ColumnReader>,
}

/// What a null becomes while decoding.
#[derive(Clone, Copy)]
pub(super) enum Nulls<'a> {
    /// An error naming it.
    Refuse,
    /// The value of its feature.
    Fill(&'a [f32]),
    /// NaN (while sampling medians, which skip it).
    Nan,
}

impl ParquetSource {
    pub(super) fn feature(&self, field: usize, leaf: usize, kind: Kind) -> Feature {
        Feature {
            field,
            leaf,
            kind,
            max_def: self.schema.column(leaf).max_def_level(),
        }
    }

    /// Column `c` (from 0) as messages name it: `3 ("age")`.
    pub(super) fn column_name(&self, c: usize) -> String {
        format!("{} ({:?})", c + 1, self.names[c])
    }

    /// How a flag names column `c`: its name when it is a plain one, else its number.
    pub(super) fn flag_name(&self, c: usize) -> String {
        let name = &self.names[c];
        match name.is_empty() || name.contains([' ', ',', '"']) || name.parse::<usize>().is_ok() {
            true => (c + 1).to_string(),
            false => name.clone(),
        }
    }

    /// Output column `i` as messages name it: its column, and in a list its place.
    pub(super) fn feature_name(&self, i: usize) -> String {
        match self.list {
            Some(_) => format!("{}, element {i}", self.column_name(self.features[0].field)),
            None => self.column_name(self.features[i].field),
        }
    }

    pub(super) fn refuse(&self, c: usize, what: &str) -> Error {
        Error::format(
            &self.path,
            format!("column {}", self.column_name(c)),
            format!(
                "holds {what}, not numbers; leave the column out with --drop-columns {}",
                self.flag_name(c)
            ),
        )
    }

    pub(super) fn not_labels(&self, c: usize, what: &str) -> Error {
        Error::format(
            &self.path,
            format!("column {}", self.column_name(c)),
            format!("holds {what}; a labels column must hold integers"),
        )
    }

    /// An error unless every chunk of `feature`'s column is compressed with a codec this build
    /// reads and counts a value (or null) for each of its rows at least.
    pub(super) fn check_codec(&self, feature: &Feature) -> Result<()> {
        for (g, rg) in self.meta.row_groups().iter().enumerate() {
            // Every row has a level at least: fewer values than rows is a damaged footer.
            if rg.column(feature.leaf).num_values() < rg.num_rows() {
                return Err(Error::format(
                    &self.path,
                    format!("row group {g}, column {}", self.column_name(feature.field)),
                    format!(
                        "the footer counts {} values for {} rows",
                        rg.column(feature.leaf).num_values(),
                        rg.num_rows()
                    ),
                ));
            }
            let codec = match rg.column(feature.leaf).compression() {
                Compression::UNCOMPRESSED
                | Compression::SNAPPY
                | Compression::GZIP(_)
                | Compression::ZSTD(_) => continue,
                Compression::BROTLI(_) => "Brotli",
                Compression::LZ4 => "LZ4",
                Compression::LZ4_RAW => "LZ4_RAW",
                Compression::LZO => "LZO",
            };
            return Err(Error::format(
                &self.path,
                format!("column {}", self.column_name(feature.field)),
                format!(
                    "compressed with {codec}, which ae does not read (it reads Snappy, gzip, zstd \
                     and uncompressed Parquet); rewrite the file with one of those, e.g. \
                     pyarrow.parquet.write_table(table, path, compression=\"zstd\")"
                ),
            ));
        }
        Ok(())
    }

    /// An error for a row group whose data cannot be decoded.
    pub(super) fn damaged(&self, group: usize, feature: &Feature, e: ParquetError) -> Error {
        Error::format(
            &self.path,
            format!(
                "row group {group}, column {}",
                self.column_name(feature.field)
            ),
            format!("cannot be decoded ({})", message(&e)),
        )
    }

    /// An error for a column chunk that holds fewer rows than the footer says.
    pub(super) fn short(&self, group: usize, feature: &Feature) -> Error {
        Error::format(
            &self.path,
            format!(
                "row group {group}, column {}",
                self.column_name(feature.field)
            ),
            format!(
                "holds fewer than the {} rows the footer promises",
                self.starts[group + 1] - self.starts[group]
            ),
        )
    }

    /// The page locations of `feature`'s column chunk in row group `group` from the offset
    /// index, where the file has one that makes sense (first rows rising from 0 within the row
    /// group); a damaged index is left unused, so that pages are found by their headers.
    pub(super) fn page_locations(
        &self,
        group: usize,
        feature: &Feature,
    ) -> Option<Vec<PageLocation>> {
        let pages = self
            .meta
            .offset_index()?
            .get(group)?
            .get(feature.leaf)?
            .page_locations();
        let rows = (self.starts[group + 1] - self.starts[group]) as i64;
        let sane = pages.first().is_some_and(|p| p.first_row_index == 0)
            && pages
                .windows(2)
                .all(|w| w[0].first_row_index < w[1].first_row_index)
            && pages.last().is_some_and(|p| p.first_row_index < rows)
            && pages
                .iter()
                .all(|p| p.offset >= 0 && p.compressed_page_size > 0);
        sane.then(|| pages.clone())
    }

    /// A reader of `feature`'s column in row group `group`, at its first row.
    pub(super) fn column_reader(&self, group: usize, feature: &Feature) -> Result<ColumnReader> {
        let chunk = self.meta.row_group(group).column(feature.leaf);
        let pages = self.page_locations(group, feature);
        let rows = self.starts[group + 1] - self.starts[group];
        let pages = SerializedPageReader::new(Arc::clone(&self.file), chunk, rows, pages)
            .map_err(|e| self.damaged(group, feature, e))?;
        Ok(get_column_reader(
            self.schema.column(feature.leaf),
            Box::new(pages),
        ))
    }

    /// Moves `cursor` (in row group `group`) forward to row `local` of the group. Numeric
    /// columns skip (whole pages unread where their row counts are known). A list column is
    /// read forward instead, except for whole pages the offset index locates, which a fresh
    /// reader skips unread: the `parquet` crate's skip of a repeated column can loop forever
    /// on a damaged page, its read cannot.
    pub(super) fn skip_to(&self, cursor: &mut Cursor, group: usize, local: usize) -> Result<()> {
        if self.list.is_none() {
            let gap = local - cursor.next;
            for (reader, f) in cursor.readers.iter_mut().zip(&self.features) {
                let skipped = skip(reader, gap).map_err(|e| self.damaged(group, f, e))?;
                if skipped != gap {
                    return Err(self.short(group, f));
                }
            }
            cursor.next = local;
            return Ok(());
        }
        let f = &self.features[0];
        let page_start = self.page_locations(group, f).and_then(|pages| {
            let at = pages.partition_point(|p| p.first_row_index as usize <= local);
            Some(pages.get(at.checked_sub(1)?)?.first_row_index as usize)
        });
        if let Some(start) = page_start.filter(|&s| s > cursor.next) {
            let mut reader = self.column_reader(group, f)?;
            let skipped = skip(&mut reader, start).map_err(|e| self.damaged(group, f, e))?;
            if skipped != start {
                return Err(self.short(group, f));
            }
            (cursor.readers, cursor.next) = (vec![reader], start);
        }
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        while cursor.next < local {
            let n = (local - cursor.next).min(256);
            def.clear();
            rep.clear();
            values.clear();
            let got = read_leaf(
                &mut cursor.readers[0],
                f.kind,
                n,
                &mut def,
                &mut rep,
                &mut values,
            )
            .map_err(|e| self.damaged(group, f, e))?;
            if got != n {
                return Err(self.short(group, f));
            }
            cursor.next += n;
        }
        Ok(())
    }

    /// The row group that holds row `row` (empty row groups hold none).
    pub(super) fn group_of(&self, row: usize) -> usize {
        self.starts.partition_point(|&s| s <= row) - 1
    }

    /// The length of the first row's list (every row's must be the same), checked against each
    /// row group's value count; a row group that does not fit is read to name the row that
    /// differs.
    pub(super) fn list_width(&mut self) -> Result<usize> {
        let feature = self.features[0].clone();
        let element_def = self.list.expect("a list column");
        let group = self.group_of(0);
        let mut reader = self.column_reader(group, &feature)?;
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let got = read_leaf(
            &mut reader,
            feature.kind,
            1,
            &mut def,
            &mut rep,
            &mut values,
        )
        .map_err(|e| self.damaged(group, &feature, e))?;
        if got != 1 {
            return Err(self.short(group, &feature));
        }
        let width = def.iter().filter(|&&d| d >= element_def).count();
        if width == 0 {
            return Err(Error::format(
                &self.path,
                format!("row 0, column {}", self.column_name(feature.field)),
                "an empty or null list: the first row's list sets the width of every row",
            ));
        }
        self.cols = width;
        for g in 0..self.row_groups() {
            let rows = (self.starts[g + 1] - self.starts[g]) as i64;
            let levels = self.meta.row_group(g).column(feature.leaf).num_values();
            if rows.checked_mul(width as i64) != Some(levels) {
                // Decoding the row group finds the row whose list differs.
                for start in (self.starts[g]..self.starts[g + 1]).step_by(CHUNK_ROWS) {
                    let count = CHUNK_ROWS.min(self.starts[g + 1] - start);
                    self.decode(start, count, Nulls::Nan, &mut Vec::new())?;
                }
                return Err(Error::format(
                    &self.path,
                    format!("row group {g}, column {}", self.column_name(feature.field)),
                    format!(
                        "the footer counts {levels} values for {rows} rows of lists of {width}"
                    ),
                ));
            }
        }
        Ok(width)
    }

    /// Medians of the features over at most [`MEDIAN_SAMPLE`] rows: every row of a smaller
    /// file, else runs of 256 rows spread evenly through it. Nulls (and NaN) are left out.
    pub(super) fn medians(&self) -> Result<Vec<f32>> {
        const RUN: usize = 256;
        let rows = self.rows();
        let runs: Vec<(usize, usize)> = match rows <= MEDIAN_SAMPLE {
            true => (0..rows)
                .step_by(CHUNK_ROWS)
                .map(|s| (s, CHUNK_ROWS.min(rows - s)))
                .collect(),
            false => {
                let n = MEDIAN_SAMPLE / RUN;
                (0..n).map(|k| (k * (rows - RUN) / (n - 1), RUN)).collect()
            }
        };
        let mut medians = Medians::new(self.cols);
        let mut values = Vec::new();
        for (start, count) in runs {
            values.clear();
            self.decode(start, count, Nulls::Nan, &mut values)?;
            for row in values.chunks_exact(self.cols.max(1)) {
                for (c, &v) in row.iter().enumerate() {
                    if v.is_finite() {
                        medians.add(c, v);
                    }
                }
            }
        }
        medians.finish(&self.path, |c| self.feature_name(c))
    }

    /// Every row of the labels column, each an integer.
    pub(super) fn read_labels(&self, feature: &Feature) -> Result<Vec<i64>> {
        // Not more than a million up front: the footer's row count is checked, not proven.
        let mut labels = Vec::with_capacity(self.rows().min(1 << 20));
        let (mut def, mut values) = (Vec::new(), Vec::new());
        for g in 0..self.row_groups() {
            let rows = self.starts[g + 1] - self.starts[g];
            if rows == 0 {
                continue;
            }
            let mut reader = self.column_reader(g, feature)?;
            let mut done = 0;
            while done < rows {
                let n = CHUNK_ROWS.min(rows - done);
                def.clear();
                values.clear();
                let got = read_label_leaf(&mut reader, feature.kind, n, &mut def, &mut values)
                    .map_err(|e| self.damaged(g, feature, e))?;
                if got != n || (feature.max_def > 0 && def.len() != n) {
                    return Err(self.short(g, feature));
                }
                let mut at = values.iter();
                for r in 0..n {
                    let row = self.starts[g] + done + r;
                    let place = || format!("row {row}, column {}", self.column_name(feature.field));
                    if def.get(r).is_some_and(|&d| d < feature.max_def) {
                        return Err(Error::format(&self.path, place(), "a null label"));
                    }
                    let Some(&value) = at.next() else {
                        return Err(self.short(g, feature));
                    };
                    let label = value.map_err(|v| {
                        Error::format(
                            &self.path,
                            place(),
                            format!("expected an integer label, found {v}"),
                        )
                    })?;
                    labels.push(label);
                }
                done += n;
            }
        }
        Ok(labels)
    }

    /// The nulls policy of reads: the fill values, if any.
    pub(super) fn nulls(&self) -> Nulls<'_> {
        match &self.fill {
            Some(f) => Nulls::Fill(f),
            None => Nulls::Refuse,
        }
    }

    /// Appends the features of rows `start..start + count` to `out` (row-major), from the row
    /// groups that hold them, continuing from where the last read stopped when it can.
    pub(super) fn decode(
        &self,
        start: usize,
        count: usize,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let mut slot = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let result = guarded(&self.path, || {
            self.decode_with(&mut slot, start, count, nulls, out)
        });
        if result.is_err() {
            *slot = None;
        }
        result
    }

    pub(super) fn decode_with(
        &self,
        slot: &mut Option<Cursor>,
        start: usize,
        count: usize,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let end = start + count;
        let mut row = start;
        while row < end {
            let group = self.group_of(row);
            let local = row - self.starts[group];
            let take = (self.starts[group + 1] - row).min(end - row);
            let reuse = matches!(slot, Some(c) if c.group == group && c.next <= local);
            if !reuse {
                let readers = self
                    .features
                    .iter()
                    .map(|f| self.column_reader(group, f))
                    .collect::<Result<_>>()?;
                *slot = Some(Cursor {
                    group,
                    next: 0,
                    readers,
                });
            }
            let cursor = slot.as_mut().expect("positioned above");
            if cursor.next < local {
                self.skip_to(cursor, group, local)?;
            }
            match self.list {
                Some(element_def) => {
                    self.decode_list(cursor, row, take, element_def, nulls, out)?
                }
                None => self.decode_columns(cursor, row, take, nulls, out)?,
            }
            cursor.next += take;
            row += take;
        }
        Ok(())
    }

    /// The value of a null at `row` (in the file) of output column `i`.
    pub(super) fn null(&self, nulls: Nulls, row: usize, i: usize) -> Result<f32> {
        match nulls {
            Nulls::Fill(fill) => Ok(fill[i]),
            Nulls::Nan => Ok(f32::NAN),
            Nulls::Refuse => {
                let hint = match self.list {
                    Some(_) => String::new(),
                    None => format!(
                        ", or leave the column out with --drop-columns {}",
                        self.flag_name(self.features[i].field)
                    ),
                };
                Err(Error::format(
                    &self.path,
                    format!("row {row}, column {}", self.feature_name(i)),
                    format!("a null value; fill nulls with --impute median{hint}"),
                ))
            }
        }
    }

    /// Rows `row..row + take` (all in the cursor's row group, from its place) of numeric columns.
    pub(super) fn decode_columns(
        &self,
        cursor: &mut Cursor,
        row: usize,
        take: usize,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let (cols, base, group) = (self.cols, out.len(), cursor.group);
        out.resize(base + take * cols, 0.0);
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (reader, f)) in cursor.readers.iter_mut().zip(&self.features).enumerate() {
            def.clear();
            rep.clear();
            values.clear();
            let got = read_leaf(reader, f.kind, take, &mut def, &mut rep, &mut values)
                .map_err(|e| self.damaged(group, f, e))?;
            let defined = match f.max_def {
                0 => take,
                _ => def.iter().filter(|&&d| d == f.max_def).count(),
            };
            if got != take || (f.max_def > 0 && def.len() != take) || values.len() != defined {
                return Err(self.short(group, f));
            }
            let mut at = values.iter();
            for r in 0..take {
                out[base + r * cols + i] = match f.max_def == 0 || def[r] == f.max_def {
                    true => *at.next().ok_or_else(|| self.short(group, f))?,
                    false => self.null(nulls, row + r, i)?,
                };
            }
        }
        Ok(())
    }

    /// Rows `row..row + take` of the list column: each row's list, every one of `self.cols`
    /// values.
    pub(super) fn decode_list(
        &self,
        cursor: &mut Cursor,
        row: usize,
        take: usize,
        element_def: i16,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let (w, base, group) = (self.cols, out.len(), cursor.group);
        let f = &self.features[0];
        out.resize(base + take * w, 0.0);
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let got = read_leaf(
            &mut cursor.readers[0],
            f.kind,
            take,
            &mut def,
            &mut rep,
            &mut values,
        )
        .map_err(|e| self.damaged(group, f, e))?;
        if got != take || rep.len() != def.len() {
            return Err(self.short(group, f));
        }
        let wrong = |r: usize, len: usize| {
            Error::format(
                &self.path,
                format!("row {}, column {}", row + r, self.column_name(f.field)),
                format!(
                    "a list of {len} values where every row's list must have {w} (as row 0's \
                     has)"
                ),
            )
        };
        let mut at = values.iter();
        // The chunk row being filled and the length of its list so far.
        let (mut r, mut len) = (None::<usize>, 0usize);
        for (&d, &p) in def.iter().zip(&rep) {
            if p == 0 {
                if let Some(prev) = r {
                    if len != w {
                        return Err(wrong(prev, len));
                    }
                }
                r = Some(r.map_or(0, |prev| prev + 1));
                len = 0;
            }
            let Some(cur) = r.filter(|&cur| cur < take) else {
                return Err(self.short(group, f));
            };
            if d < element_def {
                continue;
            }
            let v = match d == f.max_def {
                true => *at.next().ok_or_else(|| self.short(group, f))?,
                false => self.null(nulls, row + cur, len.min(w - 1))?,
            };
            if len < w {
                out[base + cur * w + len] = v;
            }
            len += 1;
        }
        match r {
            Some(last) if last + 1 == take && len == w => Ok(()),
            Some(last) if last + 1 == take => Err(wrong(last, len)),
            _ => Err(self.short(group, f)),
        }
    }
}

/// Skips `n` records of any column reader; returns how many it skipped.
pub(super) fn skip(reader: &mut ColumnReader, n: usize) -> PqResult<usize> {
    match reader {
        ColumnReader::BoolColumnReader(r) => r.skip_records(n),
        ColumnReader::Int32ColumnReader(r) => r.skip_records(n),
        ColumnReader::Int64ColumnReader(r) => r.skip_records(n),
        ColumnReader::Int96ColumnReader(r) => r.skip_records(n),
        ColumnReader::FloatColumnReader(r) => r.skip_records(n),
        ColumnReader::DoubleColumnReader(r) => r.skip_records(n),
        ColumnReader::ByteArrayColumnReader(r) => r.skip_records(n),
        ColumnReader::FixedLenByteArrayColumnReader(r) => r.skip_records(n),
    }
}

/// A float16 stored as two little-endian bytes (NaN for anything else, refused as not finite).
pub(super) fn f16_of(x: &FixedLenByteArray) -> f32 {
    match x.data() {
        [a, b] => half::f16::from_le_bytes([*a, *b]).to_f32(),
        _ => f32::NAN,
    }
}

/// Reads `n` records of a numeric column: definition and repetition levels into `def` and
/// `rep` (left empty where the column has none), the values present as f32 into `values`.
/// Returns the records read.
pub(super) fn read_leaf(
    reader: &mut ColumnReader,
    kind: Kind,
    n: usize,
    def: &mut Vec<i16>,
    rep: &mut Vec<i16>,
    values: &mut Vec<f32>,
) -> PqResult<usize> {
    macro_rules! read {
        ($r:expr, |$x:ident: $t:ty| $conv:expr) => {{
            let mut raw: Vec<$t> = Vec::new();
            let (records, _, _) = $r.read_records(n, Some(&mut *def), Some(&mut *rep), &mut raw)?;
            values.extend(raw.into_iter().map(|$x: $t| $conv));
            records
        }};
    }
    Ok(match (reader, kind) {
        (ColumnReader::BoolColumnReader(r), _) => read!(r, |x: bool| x as u8 as f32),
        (ColumnReader::Int32ColumnReader(r), Kind::U32) => read!(r, |x: i32| x as u32 as f32),
        (ColumnReader::Int32ColumnReader(r), Kind::Decimal32(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i32| (x as f64 / scale) as f32)
        }
        (ColumnReader::Int32ColumnReader(r), _) => read!(r, |x: i32| x as f32),
        (ColumnReader::Int64ColumnReader(r), Kind::U64) => read!(r, |x: i64| x as u64 as f32),
        (ColumnReader::Int64ColumnReader(r), Kind::Decimal64(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i64| (x as f64 / scale) as f32)
        }
        (ColumnReader::Int64ColumnReader(r), _) => read!(r, |x: i64| x as f32),
        (ColumnReader::FloatColumnReader(r), _) => read!(r, |x: f32| x),
        (ColumnReader::DoubleColumnReader(r), _) => read!(r, |x: f64| x as f32),
        (ColumnReader::FixedLenByteArrayColumnReader(r), Kind::F16) => {
            read!(r, |x: FixedLenByteArray| f16_of(&x))
        }
        _ => return Err(ParquetError::General("not a numeric column".into())),
    })
}

/// Reads `n` records of a labels column: definition levels into `def`, each value present as an
/// integer, or `Err(value)` where it is not one.
pub(super) fn read_label_leaf(
    reader: &mut ColumnReader,
    kind: Kind,
    n: usize,
    def: &mut Vec<i16>,
    values: &mut Vec<std::result::Result<i64, f64>>,
) -> PqResult<usize> {
    let mut rep = Vec::new();
    let whole = |v: f64| crate::integral(v).ok_or(v);
    macro_rules! read {
        ($r:expr, |$x:ident: $t:ty| $conv:expr) => {{
            let mut raw: Vec<$t> = Vec::new();
            let (records, _, _) = $r.read_records(n, Some(&mut *def), Some(&mut rep), &mut raw)?;
            values.extend(raw.into_iter().map(|$x: $t| $conv));
            records
        }};
    }
    Ok(match (reader, kind) {
        (ColumnReader::BoolColumnReader(r), _) => read!(r, |x: bool| Ok(x as i64)),
        (ColumnReader::Int32ColumnReader(r), Kind::U32) => read!(r, |x: i32| Ok(x as u32 as i64)),
        (ColumnReader::Int32ColumnReader(r), Kind::Decimal32(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i32| whole(x as f64 / scale))
        }
        (ColumnReader::Int32ColumnReader(r), _) => read!(r, |x: i32| Ok(x as i64)),
        (ColumnReader::Int64ColumnReader(r), Kind::U64) => {
            read!(r, |x: i64| i64::try_from(x as u64)
                .map_err(|_| x as u64 as f64))
        }
        (ColumnReader::Int64ColumnReader(r), Kind::Decimal64(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i64| whole(x as f64 / scale))
        }
        (ColumnReader::Int64ColumnReader(r), _) => read!(r, |x: i64| Ok(x)),
        (ColumnReader::FloatColumnReader(r), _) => read!(r, |x: f32| whole(x as f64)),
        (ColumnReader::DoubleColumnReader(r), _) => read!(r, |x: f64| whole(x)),
        (ColumnReader::FixedLenByteArrayColumnReader(r), Kind::F16) => {
            read!(r, |x: FixedLenByteArray| whole(f16_of(&x) as f64))
        }
        _ => return Err(ParquetError::General("not a numeric column".into())),
    })
}

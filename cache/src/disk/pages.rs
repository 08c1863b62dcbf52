//! The pages of a frame file mapped into this process: which of them hold a frame read
//! from the file ([`mapped_ranges`], only when all of its data is there, so that keeping
//! the frame holds no heap memory the budgets do not count), and taking them out of the
//! process's memory map once no one reads them ([`unmap_pages`]).

use std::fs;

use polars::prelude::DataFrame;

use super::frame_files::FileId;

/// What a kept frame holds in the heap beside its mapping, an array (one column of one
/// record batch) at a time: its boxed array, shared storages and type (about this many
/// bytes, estimated from polars-arrow's types, not measured).
const BYTES_AN_ARRAY: usize = 512;

/// The page-aligned ranges (start, length) of this process's memory that hold `frame`'s
/// data, when all of it is mapped from the file `file` (as `/proc/self/maps` says): only
/// these may be handed to [`unmap_pages`]. `None` when any of it lies elsewhere (polars
/// copied it into the heap as it read the file: a kept mapping would then hold memory no
/// budget counts), when a column is of a kind whose buffers [`buffers`] does not list,
/// or when its arrays' own bookkeeping ([`BYTES_AN_ARRAY`] each, in the heap, counted by
/// no budget) would be over 1 % of its data (a wide frame of many small batches).
pub(super) fn mapped_ranges(frame: &DataFrame, file: FileId) -> Option<Vec<(usize, usize)>> {
    let (buffers, arrays) = buffers(frame)?;
    let data: usize = buffers.iter().map(|&(_, len)| len).sum();
    if arrays.saturating_mul(BYTES_AN_ARRAY).saturating_mul(100) > data.max(1) {
        return None;
    }
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    // (start, end) of every mapping of the file.
    let file: Vec<(usize, usize)> = maps.lines().filter_map(|line| file.maps(line)).collect();
    let page = page_size();
    buffers
        .into_iter()
        .filter(|&(_, len)| len > 0)
        .map(|(start, len)| {
            let (start, end) = (start - start % page, (start + len).div_ceil(page) * page);
            file.iter()
                .any(|&(lo, hi)| lo <= start && end <= hi)
                .then_some((start, end - start))
        })
        .collect()
}

/// Every buffer (start, length in bytes) holding `frame`'s data, and how many arrays
/// hold them: each column's values, validity, and a string or binary column's views and
/// bytes. `None` for a frame with a column of another kind: lists and structs (polars
/// maps them, but their buffers are not walked here), categoricals (read into a
/// dictionary in the heap), 128-bit integers, decimals and 16-bit floats.
fn buffers(frame: &DataFrame) -> Option<(Vec<(usize, usize)>, usize)> {
    use polars::prelude::{DataType, PolarsNumericType};
    use polars_arrow::array::{Array, BinaryViewArrayGeneric, ViewType};
    use polars_arrow::bitmap::Bitmap;

    fn bitmap(bits: Option<&Bitmap>, out: &mut Vec<(usize, usize)>) {
        if let Some(bits) = bits {
            let (bytes, _, _) = bits.as_slice();
            out.push((bytes.as_ptr() as usize, bytes.len()));
        }
    }
    fn values<T>(values: &[T], out: &mut Vec<(usize, usize)>) {
        out.push((values.as_ptr() as usize, std::mem::size_of_val(values)));
    }
    fn numeric<T: PolarsNumericType>(
        column: polars::prelude::PolarsResult<&polars::prelude::ChunkedArray<T>>,
        out: &mut Vec<(usize, usize)>,
    ) -> Option<()> {
        for array in column.ok()?.downcast_iter() {
            values(array.values().as_slice(), out);
            bitmap(array.validity(), out);
        }
        Some(())
    }
    fn views<T: ViewType + ?Sized>(array: &BinaryViewArrayGeneric<T>, out: &mut Vec<(usize, usize)>) {
        values(array.views().as_slice(), out);
        for data in array.data_buffers().iter() {
            values(data.as_slice(), out);
        }
        bitmap(array.validity(), out);
    }

    let mut out = Vec::new();
    let mut arrays = 0;
    for column in frame.columns() {
        if column.dtype().is_categorical() || column.dtype().is_enum() {
            return None;
        }
        arrays += column.n_chunks();
        let series = column.as_materialized_series().to_physical_repr();
        let out = &mut out;
        match series.dtype() {
            DataType::Boolean => {
                for array in series.bool().ok()?.downcast_iter() {
                    bitmap(Some(array.values()), out);
                    bitmap(array.validity(), out);
                }
            }
            DataType::String => series
                .str()
                .ok()?
                .downcast_iter()
                .for_each(|array| views(array, out)),
            DataType::Binary => series
                .binary()
                .ok()?
                .downcast_iter()
                .for_each(|array| views(array, out)),
            DataType::Int8 => numeric(series.i8(), out)?,
            DataType::Int16 => numeric(series.i16(), out)?,
            DataType::Int32 => numeric(series.i32(), out)?,
            DataType::Int64 => numeric(series.i64(), out)?,
            DataType::UInt8 => numeric(series.u8(), out)?,
            DataType::UInt16 => numeric(series.u16(), out)?,
            DataType::UInt32 => numeric(series.u32(), out)?,
            DataType::UInt64 => numeric(series.u64(), out)?,
            DataType::Float32 => numeric(series.f32(), out)?,
            DataType::Float64 => numeric(series.f64(), out)?,
            DataType::Null => {}
            _ => return None,
        }
    }
    Some((out, arrays))
}

/// Takes the pages of `ranges` (from [`mapped_ranges`]: shared mappings of a frame
/// file) out of this process's memory map (`MADV_DONTNEED`). The file and the page
/// cache keep them; a later read maps them again. Without it, pages a figure touched
/// stay mapped (on this VM's kernel a whole 2 MiB folio a touch: one full-range figure
/// of a 1e9-row frame left 4.2 GB of the file mapped, counted in the server's RSS).
pub(super) fn unmap_pages(ranges: &[(usize, usize)]) {
    for &(start, len) in ranges {
        // SAFETY: every range lies within a read-only mapping of a frame file (shared, or
        // private and never written; checked against /proc/self/maps by `mapped_ranges`,
        // and kept mapped by the frame that owns it). MADV_DONTNEED on such a mapping only
        // drops this process's page-table entries: the data stays in the file and the
        // page cache, and the next read faults it back in, the same bytes. It never
        // touches anonymous memory here.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
}

fn page_size() -> usize {
    // SAFETY: the page size query has no preconditions.
    #[allow(unsafe_code)]
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).max(1)
}

#[cfg(test)]
mod tests {
    use super::super::frame_files::{read_file, write_file, write_with, WriteShare};
    use super::*;
    use polars::prelude::*;
    use polars_io::ipc::IpcWriter;
    use polars_io::SerWriter;
    use std::io;

    /// Kilobytes of the process's memory mapped from the file with `inode` (smaps).
    fn mapped_kb(inode: u64) -> u64 {
        let smaps = fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut ours = false;
        let mut kb = 0;
        for line in smaps.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields
                .first()
                .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
            {
                ours = fields.get(4).and_then(|i| i.parse::<u64>().ok()) == Some(inode);
            } else if ours && fields.first() == Some(&"Rss:") {
                kb += fields[1].parse::<u64>().expect("kB");
            }
        }
        kb
    }

    #[test]
    fn only_mapped_values_are_unmapped_and_they_read_the_same_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("frame.arrow");
        let values: Vec<f64> = (0..2_000_000).map(|i| i as f64 * 0.25).collect();
        let names = vec!["v".to_owned()];
        let share = WriteShare::default();
        write_with(&path, &share, |out| {
            let mut writer = super::super::one_batch::ColumnsWriter::start(out, &names, values.len() as u64)?;
            writer.push(&values)?;
            writer.finish().map(|_| ())
        })
        .expect("written");
        let (frame, id) = read_file(&path).expect("read").expect("there");
        let inode = id.inode;
        let ranges = mapped_ranges(&frame, id).expect("all mapped");
        assert_eq!(ranges.len(), 1, "one column, one mapped range");
        let sum = |frame: &DataFrame| {
            frame
                .column("v")
                .expect("v")
                .f64()
                .expect("f64")
                .sum()
                .expect("sum")
        };
        let expected: f64 = values.iter().sum();
        assert_eq!(sum(&frame), expected);
        assert!(mapped_kb(inode) >= 15_000, "every value read: mapped");
        unmap_pages(&ranges);
        assert!(mapped_kb(inode) < 64, "unmapped: {} kB", mapped_kb(inode));
        assert_eq!(sum(&frame), expected, "read again from the page cache, the same");

        // A frame in the heap has no mapped range: it is never handed to madvise.
        let heap = df!("v" => &values).expect("frame");
        assert_eq!(mapped_ranges(&heap, id), None);
    }

    /// A frame read back as many small arrays (a file of tiny record batches) is not
    /// kept: their own bookkeeping, in the heap, would be far over 1 % of the data. The
    /// tier's own writes of the same frame are in batches large enough to be kept.
    #[test]
    fn many_small_arrays_are_not_kept_and_the_tiers_writes_avoid_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let columns: Vec<Column> = (0..50)
            .map(|c| {
                Column::new(
                    format!("c{c}").into(),
                    (0..20_000).map(|i| (i * c) as f64).collect::<Vec<_>>(),
                )
            })
            .collect();
        let frame = DataFrame::new(20_000, columns).expect("frame");
        let mut tiny = frame.slice(0, 20);
        for offset in (20..20_000).step_by(20) {
            tiny.vstack_mut(&frame.slice(offset, 20)).expect("stacked");
        }
        let path = dir.path().join("tiny.arrow");
        write_with(&path, &WriteShare::default(), |out| {
            IpcWriter::new(out).finish(&mut tiny).map_err(io::Error::other)
        })
        .expect("written");
        let (read, id) = read_file(&path).expect("read").expect("there");
        assert_eq!(read.first_col_n_chunks(), 1_000);
        assert!(read.equals(&frame));
        assert_eq!(mapped_ranges(&read, id), None, "50,000 arrays for 8 MB");

        let path = dir.path().join("ours.arrow");
        write_file(&path, &frame, &WriteShare::default()).expect("written");
        let (read, id) = read_file(&path).expect("read").expect("there");
        assert!(read.equals(&frame));
        assert!(
            mapped_ranges(&read, id).is_some(),
            "{} batches of 50 columns",
            read.first_col_n_chunks()
        );
    }

    /// Every buffer of a frame of strings, booleans, integers and nulls is found in its
    /// file's mapping (views, string bytes, validity), and unmapping them leaves the same
    /// frame to read.
    #[test]
    fn strings_booleans_and_nulls_are_mapped_and_unmapped_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("frame.arrow");
        let rows: i32 = 300_000;
        let frame = df!(
            "s" => (0..rows).map(|i| (i % 9 != 0).then(|| format!("row number {i} of a long text"))).collect::<Vec<_>>(),
            "ok" => (0..rows).map(|i| (i % 4 != 0).then_some(i % 3 == 0)).collect::<Vec<_>>(),
            "n" => (0..rows).map(|i| (i % 5 != 0).then_some(i)).collect::<Vec<_>>(),
        )
        .expect("frame");
        write_file(&path, &frame, &WriteShare::default()).expect("written");
        let (read, id) = read_file(&path).expect("read").expect("there");
        let inode = id.inode;
        let (buffers, _) = buffers(&read).expect("listed");
        let ranges = mapped_ranges(&read, id).expect("every buffer mapped");
        assert_eq!(ranges.len(), buffers.iter().filter(|&&(_, len)| len > 0).count());
        assert!(
            buffers.len() >= 7,
            "views, bytes and validity of s; values and validity of ok and n: {buffers:?}"
        );
        assert!(read.equals_missing(&frame));
        assert!(mapped_kb(inode) > 0);
        unmap_pages(&ranges);
        assert!(mapped_kb(inode) < 64, "unmapped: {} kB", mapped_kb(inode));
        assert!(read.equals_missing(&frame), "read again, the same");
    }
}

//! Lazy queries run by polars' streaming engine a batch at a time, never whole: into an
//! Arrow IPC writer ([`write_ipc`], how a frame larger than memory is written into the
//! disk tier), or only counted ([`count`], how an upload placed on disk is checked), or
//! to any writer of batches ([`for_each_batch`], a download of such a frame).
//!
//! The engine calls back with each batch on its own threads; the batch crosses a
//! channel of one to the caller's thread, which writes it. So at most a few batches are
//! in memory at once, besides what the query's own steps hold (a group-by's groups). When
//! the caller stops (its writer failed, the request went away), the channel closes and
//! the engine is told to stop at its next batch.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::mpsc::{sync_channel, Receiver};

use polars::prelude::*;

/// Most rows of a batch the engine hands over.
const BATCH_ROWS: usize = 1 << 17;
/// Fewest rows of a batch, however wide its rows.
const MIN_BATCH_ROWS: usize = 1 << 10;
/// About the most bytes of a batch: its rows follow their width, so a batch of a wide
/// frame is no larger than one of a narrow frame. A batch of a narrow frame still keeps
/// its columns' arrays (their bookkeeping, a few hundred bytes each) far under 1 % of
/// their data, which is what the disk tier asks before it keeps a frame's mapping.
const BATCH_BYTES: usize = 4 << 20;

/// Memory a query run by the streaming engine holds at most besides what its steps keep
/// (a sort's input, a group-by's groups): the batches in flight, the engine's own, the
/// channel's and the writer's. What is reserved for it before it runs. It assumes rows
/// of up to a few hundred bytes: the engine's own morsels are 100,000 rows whatever
/// their width.
pub const IN_FLIGHT_BYTES: u64 = 16 << 20;

/// Rows of each batch for rows of `schema`: [`BATCH_BYTES`] of them, from
/// [`MIN_BATCH_ROWS`] to [`BATCH_ROWS`]. A text value is taken as 32 bytes.
fn batch_rows(schema: &Schema) -> usize {
    let width: usize = schema
        .iter_values()
        .map(|dtype| match dtype.to_physical() {
            DataType::Boolean | DataType::Int8 | DataType::UInt8 => 1,
            DataType::Int16 | DataType::UInt16 => 2,
            DataType::Int32 | DataType::UInt32 | DataType::Float32 => 4,
            DataType::Int64 | DataType::UInt64 | DataType::Float64 => 8,
            DataType::Int128 | DataType::UInt128 => 16,
            _ => 32,
        })
        .sum();
    (BATCH_BYTES / width.max(1)).clamp(MIN_BATCH_ROWS, BATCH_ROWS)
}

/// What a query streamed: its rows, the bytes of its batches in memory, its columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    pub rows: u64,
    pub bytes: u64,
    pub cols: u64,
}

/// What the engine's thread sends: a batch, or how the run ended.
enum Message {
    Batch(DataFrame),
    Done(PolarsResult<()>),
}

/// Runs `query` with the streaming engine, handing each batch to `each` on this thread
/// (in order); stops the engine when `each` fails.
pub fn for_each_batch(
    query: LazyFrame,
    mut each: impl FnMut(DataFrame) -> PolarsResult<()>,
) -> PolarsResult<()> {
    let mut query = query;
    let rows = batch_rows(&*query.collect_schema()?);
    let (send, receive) = sync_channel::<Message>(1);
    let done = send.clone();
    let plan = query.sink_batches(
        // `true` stops the engine: the caller has gone.
        PlanCallback::new(move |batch: DataFrame| Ok(send.send(Message::Batch(batch)).is_err())),
        true,
        NonZeroUsize::new(rows),
    )?;
    let engine = std::thread::Builder::new()
        .name("stayput-streamed".into())
        .spawn(move || {
            let ran = plan.collect_with_engine(Engine::Streaming).map(|_| ());
            let _ = done.send(Message::Done(ran));
        })
        .map_err(|err| polars_err!(ComputeError: "could not start the streaming engine: {err}"))?;
    let outcome = drain(&receive, &mut each);
    // Closed before the engine is waited for: a send it is blocked in fails, and it stops.
    drop(receive);
    let joined = engine.join();
    match (outcome, joined) {
        (Err(err), _) => Err(err),
        (Ok(()), Ok(())) => Ok(()),
        (Ok(()), Err(_)) => Err(polars_err!(ComputeError: "the streaming engine failed")),
    }
}

/// Hands each batch to `each` until the engine says it is done.
fn drain(
    receive: &Receiver<Message>,
    each: &mut impl FnMut(DataFrame) -> PolarsResult<()>,
) -> PolarsResult<()> {
    loop {
        match receive.recv() {
            Ok(Message::Batch(batch)) => each(batch)?,
            Ok(Message::Done(ran)) => return ran,
            // Its thread went without a word: it panicked.
            Err(_) => return Err(polars_err!(ComputeError: "the streaming engine failed")),
        }
    }
}

/// Writes what `query` gives to `out` as an Arrow IPC file (uncompressed, so that a read
/// of it memory-mapped holds nothing in the heap), batch by batch.
pub fn write_ipc(query: LazyFrame, out: &mut dyn Write) -> PolarsResult<Streamed> {
    let mut query = query;
    let schema = query.collect_schema()?;
    let arrow = schema.to_arrow(CompatLevel::newest());
    let fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
    let mut writer = IpcWriter::new(out).batched(&schema, fields)?;
    let mut streamed = Streamed {
        cols: schema.len() as u64,
        ..Streamed::default()
    };
    for_each_batch(query, |batch| {
        streamed.rows += batch.height() as u64;
        streamed.bytes += batch.estimated_size() as u64;
        writer.write_batch(&batch)
    })?;
    writer.finish()?;
    Ok(streamed)
}

/// Runs `query` to its end a batch at a time, keeping nothing but its counts: every
/// batch decoded, so a file that does not read fails here.
pub fn count(query: LazyFrame) -> PolarsResult<Streamed> {
    let mut query = query;
    let cols = query.collect_schema()?.len() as u64;
    let mut streamed = Streamed {
        cols,
        ..Streamed::default()
    };
    for_each_batch(query, |batch| {
        streamed.rows += batch.height() as u64;
        streamed.bytes += batch.estimated_size() as u64;
        Ok(())
    })?;
    Ok(streamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: usize) -> DataFrame {
        let x: Vec<f64> = (0..rows).map(|i| i as f64).collect();
        let s: Vec<String> = (0..rows).map(|i| format!("v{}", i % 13)).collect();
        DataFrame::new(rows, vec![Column::new("x".into(), x), Column::new("s".into(), s)]).expect("frame")
    }

    #[test]
    fn a_query_streams_into_an_ipc_file_that_reads_back_the_same_in_order() {
        let rows = 3 * BATCH_ROWS + 17;
        let query = frame(rows).lazy().filter(col("x").gt_eq(lit(5.0)));
        let mut file = Vec::new();
        let streamed = write_ipc(query.clone(), &mut file).expect("written");
        let back = IpcReader::new(std::io::Cursor::new(file))
            .set_rechunk(false)
            .finish()
            .expect("read back");
        let expected = query.collect().expect("collected");
        assert!(back.equals(&expected));
        assert_eq!((streamed.rows, streamed.cols), (rows as u64 - 5, 2));
        assert!(back.first_col_n_chunks() > 1, "written batch by batch");
    }

    #[test]
    fn an_empty_result_is_a_file_of_its_schema() {
        let query = frame(100).lazy().filter(col("x").lt(lit(0.0)));
        let mut file = Vec::new();
        let streamed = write_ipc(query, &mut file).expect("written");
        let back = IpcReader::new(std::io::Cursor::new(file))
            .finish()
            .expect("read back");
        assert_eq!((back.height(), back.width(), streamed.rows), (0, 2, 0));
    }

    #[test]
    fn a_writer_that_fails_stops_the_engine_and_says_so() {
        struct Fails(usize);
        impl Write for Fails {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                if self.0 > 1 << 20 {
                    return Err(std::io::Error::other("gone"));
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let query = frame(20 * BATCH_ROWS).lazy();
        let failed = write_ipc(query, &mut Fails(0));
        assert!(failed.is_err());
    }

    #[test]
    fn a_query_that_fails_mid_way_fails_the_write_and_the_count() {
        // Text that is no number, cast strictly: the engine fails on its first batch.
        let bad = || {
            frame(3 * BATCH_ROWS)
                .lazy()
                .select([col("s").strict_cast(DataType::Int64)])
        };
        let mut file = Vec::new();
        assert!(write_ipc(bad(), &mut file).is_err());
        assert!(count(bad()).is_err());
    }

    #[test]
    fn a_batch_of_wide_rows_has_fewer_of_them() {
        let narrow = frame(1).schema().clone();
        assert_eq!(batch_rows(&narrow), BATCH_BYTES / 40);
        let wide: Schema = (0..2_000)
            .map(|c| Field::new(format!("c{c}").into(), DataType::Float64))
            .collect();
        assert_eq!(batch_rows(&wide), MIN_BATCH_ROWS, "16 KB rows: the fewest");
        let one: Schema = [Field::new("b".into(), DataType::Boolean)].into_iter().collect();
        assert_eq!(batch_rows(&one), BATCH_ROWS, "1-byte rows: the most");
        // Handed over in batches of at most that many rows.
        let columns: Vec<Column> = (0..64)
            .map(|c| Column::new(format!("c{c}").into(), vec![c as f64; 50_000]))
            .collect();
        let wide = DataFrame::new(50_000, columns).expect("frame");
        let mut largest = 0;
        for_each_batch(wide.lazy(), |batch| {
            largest = largest.max(batch.height());
            Ok(())
        })
        .expect("streamed");
        assert!(largest > 0 && largest <= BATCH_BYTES / (64 * 8), "{largest} rows");
    }

    #[test]
    fn counting_reads_every_batch_and_keeps_nothing() {
        let counted = count(frame(2 * BATCH_ROWS + 1).lazy()).expect("counted");
        assert_eq!((counted.rows, counted.cols), (2 * BATCH_ROWS as u64 + 1, 2));
        assert!(counted.bytes > 0);
    }
}

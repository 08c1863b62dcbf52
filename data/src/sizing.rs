//! What running a chain will take in memory, worked out before it runs: a join's
//! rows and bytes from its keys and the real widths of both sides' rows (list items and
//! string bytes included), and a chain's peak from its upload and each step. The
//! transform recipe declares the peak, so the cache reserves it before polars starts a
//! collect that cannot be stopped, and refuses what the session cannot hold.

use crate::chain::{self, Chain, ChainStep, KnownRows};
use crate::error::StepError;
use crate::streamed::IN_FLIGHT_BYTES;
use crate::transform::{AggFn, JoinHow, Transform};
use crate::Uploads;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// A join's result as sized before it was kept: recorded in the chain, so a rebuild
/// reserves it without reading the files again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinSize {
    /// Rows it makes.
    pub rows: u64,
    /// Bytes they take in memory.
    pub bytes: u64,
}

/// Bytes each row number, sort index or join index entry takes while a step runs.
const INDEX_BYTES: u64 = 8;
/// Bytes a string or binary value takes besides its own bytes (its view).
const VIEW_BYTES: f64 = 16.0;
/// Bytes a list value takes besides its items (its offset).
const OFFSET_BYTES: f64 = 8.0;

/// The size of joining `left` and `right` on `on`. For each key, the matched rows are the
/// product of its counts on both sides, and their bytes the sum of each side's row widths
/// times the other side's count: a key repeated on both sides multiplies, and so do the
/// list items and string bytes of its rows. A left join adds every left row.
pub fn join_size(
    left: &Chain,
    right: &Chain,
    on: &str,
    how: JoinHow,
    uploads: &Uploads,
) -> Result<JoinSize, StepError> {
    let mut l = left.lazy(uploads)?;
    let mut r = right.lazy(uploads)?;
    let (l_schema, r_schema) = (chain::schema_of(&mut l)?, chain::schema_of(&mut r)?);
    let per_key = |frame: LazyFrame, schema: &Schema, n: &str, w: &str| {
        frame
            .group_by([col(on)])
            .agg([len().cast(DataType::Float64).alias(n), row_bytes(schema).alias(w)])
    };
    let sums = per_key(l.clone(), &l_schema, "nl", "wl")
        .join(
            per_key(r, &r_schema, "nr", "wr"),
            [col(on)],
            [col(on)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([
            (col("nl") * col("nr")).sum().alias("rows"),
            (col("nr") * col("wl") + col("nl") * col("wr"))
                .sum()
                .alias("bytes"),
        ])
        .collect()?;
    let (mut rows, mut bytes) = (first(&sums, "rows"), first(&sums, "bytes"));
    if how == JoinHow::Left {
        // At most the matched pairs plus every left row, its right side null.
        let all = l
            .select([
                len().cast(DataType::Float64).alias("rows"),
                row_bytes(&l_schema).alias("bytes"),
            ])
            .collect()?;
        let left_rows = first(&all, "rows");
        rows += left_rows;
        let nulls: f64 = r_schema.iter().map(|(_, dtype)| null_width(dtype)).sum();
        bytes += first(&all, "bytes") + left_rows * nulls;
    }
    Ok(JoinSize {
        rows: saturate(rows),
        bytes: saturate(bytes),
    })
}

/// Bytes the rows of a frame of `schema` take, summed over the group (or the frame).
fn row_bytes(schema: &Schema) -> Expr {
    schema
        .iter()
        .map(|(name, dtype)| bytes_of(col(name.clone()), dtype))
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| lit(0.0))
}

/// Bytes the values of `e`, of type `dtype`, take, summed: a string's bytes and view, a
/// list's offset and its items (nested lists and structs followed down).
fn bytes_of(e: Expr, dtype: &DataType) -> Expr {
    let count = |e: &Expr| e.clone().len().cast(DataType::Float64);
    let sum = |e: Expr| e.cast(DataType::Float64).sum().fill_null(lit(0.0));
    match dtype {
        DataType::String => count(&e) * lit(VIEW_BYTES) + sum(e.str().len_bytes()),
        DataType::Binary | DataType::BinaryOffset => {
            count(&e) * lit(VIEW_BYTES) + sum(e.binary().size_bytes())
        }
        DataType::List(inner) => {
            let items = e.clone().explode(ExplodeOptions {
                empty_as_null: false,
                keep_nulls: false,
            });
            count(&e) * lit(OFFSET_BYTES) + bytes_of(items, inner)
        }
        DataType::Array(inner, _) => {
            let as_list = DataType::List(inner.clone());
            bytes_of(e.cast(as_list.clone()), &as_list)
        }
        DataType::Struct(fields) => fields.iter().fold(count(&e), |total, field| {
            total + bytes_of(e.clone().struct_().field_by_name(field.name()), field.dtype())
        }),
        DataType::Null => lit(0.0),
        other => count(&e) * lit(fixed_width(other)),
    }
}

/// Bytes a null of `dtype` takes in a column: a view, an offset, a fixed-size array's
/// slots, a struct's fields.
fn null_width(dtype: &DataType) -> f64 {
    match dtype {
        DataType::String | DataType::Binary | DataType::BinaryOffset => VIEW_BYTES,
        DataType::List(_) => OFFSET_BYTES,
        DataType::Array(inner, width) => *width as f64 * null_width(inner),
        DataType::Struct(fields) => 1.0 + fields.iter().map(|f| null_width(f.dtype())).sum::<f64>(),
        DataType::Null => 0.0,
        other => fixed_width(other),
    }
}

/// Bytes one value of a fixed-width type takes (8 for the few not listed).
fn fixed_width(dtype: &DataType) -> f64 {
    match dtype.to_physical() {
        DataType::Boolean | DataType::Int8 | DataType::UInt8 => 1.0,
        DataType::Int16 | DataType::UInt16 => 2.0,
        DataType::Int32 | DataType::UInt32 | DataType::Float32 => 4.0,
        DataType::Int128 | DataType::UInt128 => 16.0,
        _ => 8.0,
    }
}

fn first(frame: &DataFrame, name: &str) -> f64 {
    frame
        .column(name)
        .ok()
        .and_then(|c| c.get(0).ok())
        .and_then(|v| v.extract::<f64>())
        .unwrap_or(0.0)
}

fn saturate(value: f64) -> u64 {
    if value.is_nan() {
        u64::MAX
    } else {
        value.max(0.0).min(u64::MAX as f64) as u64
    }
}

/// A frame's rows and bytes at one point of a chain, and the most memory the chain has
/// needed up to there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    rows: u64,
    bytes: u64,
    peak: u64,
}

/// The most memory running `chain` takes at once, an upper bound: at each step its input
/// and its output (with the step's own working space: a mask, an index, a hash table) are
/// held together. Filters keep at most their input's rows; a group-by at most one group
/// per row; a join what [`join_size`] found when it was added.
pub fn peak_bytes(chain: &Chain) -> u64 {
    shape(chain).peak
}

/// The bytes `chain`'s frame takes, an upper bound (filters keep every row).
pub fn output_bytes(chain: &Chain) -> u64 {
    shape(chain).bytes
}

/// Whether polars' streaming engine runs every step of `chain` a batch at a time, holding
/// no more than a few batches: filters, selections, renames, derived columns, a linked
/// view's selection, all row by row. A sort, a join or a plot's sort by x holds its whole
/// input; a group-by holds its groups, as many as the rows at worst, which nothing
/// bounds before it runs.
pub fn streams(chain: &Chain) -> bool {
    chain.steps.iter().all(step_streams)
}

/// Whether `step` runs row by row ([`streams`]).
fn step_streams(step: &ChainStep) -> bool {
    match step {
        ChainStep::Transform(step) => !matches!(
            step,
            Transform::Sort(_) | Transform::Join { .. } | Transform::GroupBy { .. }
        ),
        ChainStep::Join { .. } | ChainStep::Plot { .. } => false,
    }
}

/// How a chain runs within a memory limit ([`how_to_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Collected in memory, its peak ([`peak_bytes`]) reserved first.
    Memory,
    /// By polars' streaming engine: the steps that stream run a batch at a time over the
    /// file, and only what the steps after them hold is in memory
    /// ([`streamed_bytes`] reserved first).
    Streamed,
    /// Written by the streaming engine straight into the disk tier, never whole in memory.
    Disk,
}

/// How `chain` runs when one frame may take at most `limit` bytes of memory: in memory
/// when its peak fits; else on disk when every step streams; else streamed when what
/// its steps after the streaming ones hold fits. Otherwise in memory, and its
/// reservation is refused.
pub fn how_to_run(chain: &Chain, limit: u64) -> Run {
    if peak_bytes(chain) <= limit {
        Run::Memory
    } else if streams(chain) {
        Run::Disk
    } else if streamed_bytes(chain) <= limit {
        Run::Streamed
    } else {
        Run::Memory
    }
}

/// The memory `chain` takes when it runs in memory (streamed or not, as [`how_to_run`]
/// says), to reserve first. A chain that runs on disk reserves none: this is for a cache
/// with no disk tier, where it runs in memory after all.
pub fn memory_bytes(chain: &Chain, limit: u64) -> u64 {
    match how_to_run(chain, limit) {
        Run::Streamed => streamed_bytes(chain),
        Run::Memory | Run::Disk => peak_bytes(chain),
    }
}

/// The memory `chain` takes run by the streaming engine: its first steps that stream run
/// a batch at a time (their output, as counted once made, is what the rest
/// starts from); a plot right after them collects only its two columns as f64, sorted
/// into a second copy through an index.
pub fn streamed_bytes(chain: &Chain) -> u64 {
    let streaming = chain.steps.iter().take_while(|s| step_streams(s)).count();
    let at = shape(&chain.prefix(streaming));
    let at = match chain.known.iter().find(|k| k.after == streaming) {
        Some(k) => counted(at, k),
        None => at,
    };
    let rest = &chain.steps[streaming..];
    let held = match rest.first() {
        Some(ChainStep::Plot { .. }) => at.rows.saturating_mul(16 + 16 + INDEX_BYTES),
        _ => {
            let start = Shape { peak: at.bytes, ..at };
            walk(start, rest, streaming, &chain.known).peak
        }
    };
    held.saturating_add(IN_FLIGHT_BYTES)
}

fn shape(chain: &Chain) -> Shape {
    let source = &chain.source;
    // An upload recorded without its rows: at most one row a byte.
    let rows = if source.rows > 0 {
        source.rows
    } else {
        source.bytes
    };
    let start = Shape {
        rows,
        bytes: source.bytes,
        peak: source.bytes,
    };
    walk(start, &chain.steps, 0, &chain.known)
}

/// `now` as `known` counted it once made: its rows and bytes, where the steps up to it
/// were sized at most (a filter that keeps every row).
fn counted(now: Shape, known: &KnownRows) -> Shape {
    Shape {
        rows: known.rows,
        bytes: known.bytes,
        ..now
    }
}

/// The shape after `steps` from `now`, the first of them step `done + 1` of its chain,
/// taken as counted where `known` has them.
fn walk(mut now: Shape, steps: &[ChainStep], done: usize, known: &[KnownRows]) -> Shape {
    for (i, step) in steps.iter().enumerate() {
        now = after(now, step);
        if let Some(k) = known.iter().find(|k| k.after == done + i + 1) {
            now = counted(now, k);
        }
    }
    now
}

/// The shape after `step` from `now`.
fn after(mut now: Shape, step: &ChainStep) -> Shape {
    let (r, b) = (now.rows, now.bytes);
    let index = r.saturating_mul(INDEX_BYTES);
    let mut input = b;
    let (rows, bytes, working) = match step {
        ChainStep::Transform(step) => match step {
            Transform::Derive { .. } => (r, b.saturating_add(index), 0),
            Transform::GroupBy { aggs, .. } => {
                // Keys at most the input; each aggregate a number a group, a min or
                // max of text at most the input again.
                let numbers = index.saturating_mul(aggs.len().max(1) as u64);
                let text = if aggs.iter().any(|a| matches!(a.func, AggFn::Min | AggFn::Max)) {
                    b
                } else {
                    0
                };
                (
                    r,
                    b.saturating_add(numbers).saturating_add(text),
                    index.saturating_mul(2),
                )
            }
            // Filters, selections, renames, sorts: at most the input, with a mask,
            // row numbers or a sort index beside it.
            _ => (r, b, index),
        },
        ChainStep::Join { other, size, .. } => {
            let other = shape(other);
            // This side is held while the other is made.
            now.peak = now.peak.max(b.saturating_add(other.peak));
            input = b.saturating_add(other.bytes);
            let size = if *size == JoinSize::default() {
                // Recorded before sizes were: as if every row matched once.
                JoinSize {
                    rows: r.max(other.rows),
                    bytes: input,
                }
            } else {
                *size
            };
            // The pairs' indices, and a hash table over both sides' keys.
            let table = r.saturating_add(other.rows).saturating_mul(2 * INDEX_BYTES);
            (
                size.rows,
                size.bytes,
                size.rows.saturating_mul(2 * INDEX_BYTES).saturating_add(table),
            )
        }
        ChainStep::Plot { .. } => (r, index.saturating_mul(2), index),
    };
    Shape {
        rows,
        bytes,
        peak: now.peak.max(input.saturating_add(bytes).saturating_add(working)),
    }
}

#[cfg(test)]
mod tests {
    use crate::UploadSource;

    use super::*;
    use crate::transform::{Agg, Condition, Op, Operand};

    fn upload(rows: u64, bytes: u64) -> Chain {
        Chain::of(UploadSource {
            file: "0".repeat(32),
            stored: "ipc".into(),
            name: "a.csv".into(),
            bytes,
            rows,
        })
    }

    #[test]
    fn an_upload_alone_needs_its_frame() {
        assert_eq!(peak_bytes(&upload(1_000, 80_000)), 80_000);
    }

    #[test]
    fn a_filter_holds_its_input_output_and_mask() {
        let chain = upload(1_000, 80_000).then(ChainStep::Transform(Transform::Filter(vec![Condition {
            column: "a".into(),
            op: Op::Lt,
            value: "1".into(),
        }])));
        assert_eq!(peak_bytes(&chain), 80_000 + 80_000 + 8_000);
    }

    fn filter() -> ChainStep {
        ChainStep::Transform(Transform::Filter(vec![Condition {
            column: "a".into(),
            op: Op::Lt,
            value: "1".into(),
        }]))
    }

    fn sort() -> ChainStep {
        ChainStep::Transform(Transform::Sort(crate::transform::SortBy {
            column: "a".into(),
            descending: false,
        }))
    }

    #[test]
    fn over_the_limit_a_chain_that_streams_goes_on_disk_and_one_that_does_not_is_refused() {
        // 100 MB: over a 10 MB limit.
        let big = upload(1_000_000, 100_000_000);
        let limit = 10_000_000;
        assert_eq!(how_to_run(&big.then(filter()), limit), Run::Disk);
        assert_eq!(how_to_run(&big.then(sort()), limit), Run::Memory);
        assert_eq!(
            memory_bytes(&big.then(sort()), limit),
            peak_bytes(&big.then(sort()))
        );
        // Under it, everything in memory.
        assert_eq!(
            how_to_run(&upload(1_000, 80_000).then(sort()), limit),
            Run::Memory
        );
    }

    #[test]
    fn a_plot_of_a_frame_over_the_limit_holds_only_its_two_columns() {
        let big = upload(1_000_000, 100_000_000);
        let plot = big.then(ChainStep::Plot {
            x: "a".into(),
            y: "b".into(),
        });
        assert_eq!(streamed_bytes(&plot), 1_000_000 * 40 + IN_FLIGHT_BYTES);
        assert_eq!(how_to_run(&plot, 60_000_000), Run::Streamed);
        assert_eq!(memory_bytes(&plot, 60_000_000), 1_000_000 * 40 + IN_FLIGHT_BYTES);
        // Too many rows for even that: refused at its full peak.
        assert_eq!(how_to_run(&plot, 40_000_000), Run::Memory);
    }

    #[test]
    fn steps_after_a_filter_are_sized_by_the_rows_it_kept() {
        let big = upload(1_000_000, 100_000_000);
        let limit = 20_000_000;
        let filtered = big.then(filter());
        // Not counted: the filter may keep every row; a sort after it is refused.
        assert_eq!(how_to_run(&filtered.then(sort()), limit), Run::Memory);
        // Counted at 1,000 rows (100 KB): the sort holds those, streamed.
        let known = filtered.clone().knowing(1_000, 100_000).then(sort());
        assert_eq!(how_to_run(&known, limit), Run::Streamed);
        assert_eq!(
            streamed_bytes(&known),
            100_000 + 100_000 + 8_000 + IN_FLIGHT_BYTES,
            "input, output, its index, the batches"
        );
        // The prefix of the sorted chain is the filtered chain as it was made (its own
        // rows were counted later), so the breadcrumb finds its handle.
        assert_eq!(known.prefix(1), filtered);
        // An upload's rows are known already: nothing recorded.
        assert!(big.clone().knowing(5, 500).known.is_empty());
        // Not recorded twice.
        assert_eq!(filtered.clone().knowing(3, 300).knowing(4, 400).known.len(), 1);
        // The bytes counted, not the rows' share: 1,000 rows of long text kept of a
        // million short ones take what they were counted at.
        let wide = filtered.knowing(1_000, 30_000_000).then(sort());
        assert_eq!(how_to_run(&wide, limit), Run::Memory, "{}", streamed_bytes(&wide));
        assert_eq!(
            streamed_bytes(&wide),
            30_000_000 + 30_000_000 + 8_000 + IN_FLIGHT_BYTES
        );
    }

    #[test]
    fn a_chain_with_no_rows_counted_is_recorded_as_before() {
        let chain = upload(10, 80).then(filter());
        let text = serde_json::to_string(&chain).expect("json");
        assert!(!text.contains("known"), "{text}");
        let counted = serde_json::to_string(&chain.knowing(3, 24)).expect("json");
        assert!(
            counted.contains("\"known\":[{\"after\":1,\"rows\":3,\"bytes\":24}]"),
            "{counted}"
        );
    }

    #[test]
    fn a_group_by_of_text_counts_its_min_again() {
        let agg = |func| Agg {
            column: "s".into(),
            func,
        };
        let by = |aggs| {
            upload(1_000, 80_000).then(ChainStep::Transform(Transform::GroupBy {
                keys: vec!["k".into()],
                aggs,
            }))
        };
        let mean = peak_bytes(&by(vec![agg(AggFn::Mean)]));
        let min = peak_bytes(&by(vec![agg(AggFn::Min)]));
        assert_eq!(mean, 80_000 + (80_000 + 8_000) + 16_000);
        assert_eq!(min, mean + 80_000);
    }

    #[test]
    fn a_join_counts_what_it_was_sized_at_and_both_sides() {
        let other = upload(10, 1_000);
        let chain = upload(1_000, 80_000).then(ChainStep::Join {
            other,
            on: "k".into(),
            how: JoinHow::Inner,
            size: JoinSize {
                rows: 1_000_000,
                bytes: 64_000_000,
            },
        });
        // Both sides, the joined rows, their indices and a hash table of both sides' rows.
        assert_eq!(
            peak_bytes(&chain),
            80_000 + 1_000 + 64_000_000 + 16_000_000 + (1_000 + 10) * 16
        );
    }

    #[test]
    fn a_chain_is_never_smaller_than_its_largest_step() {
        let big = upload(1_000, 80_000).then(ChainStep::Join {
            other: upload(10, 1_000),
            on: "k".into(),
            how: JoinHow::Inner,
            size: JoinSize {
                rows: 1_000_000,
                bytes: 64_000_000,
            },
        });
        let after = big.then(ChainStep::Transform(Transform::Select(vec!["k".into()])));
        assert!(peak_bytes(&after) >= peak_bytes(&big));
        // A select after the join holds the join's output, its own and a mask.
        assert_eq!(peak_bytes(&after), 64_000_000 * 2 + 8_000_000);
    }

    #[test]
    fn a_rows_bytes_follow_its_lists_text_and_structs_down() {
        let words = Series::new("w".into(), [Some("ab"), None, Some("cdef")]);
        let lists = Series::new("l".into(), [words.clone(), words.slice(0, 1), words.slice(0, 0)]);
        let nested = Series::new("n".into(), [lists.clone(), lists.slice(1, 1), lists.slice(0, 0)]);
        let numbers = Series::new("x".into(), [1i32, 2, 3]);
        let point = StructChunked::from_series("p".into(), 3, [numbers.clone(), words.clone()].iter())
            .expect("struct")
            .into_series();
        let frame = DataFrame::new(
            3,
            vec![
                numbers.into(),
                words.into(),
                lists.into(),
                nested.into(),
                point.into(),
            ],
        )
        .expect("frame");
        let bytes = |name: &str| {
            let schema = frame.select([name]).expect("column").schema().clone();
            let total = frame
                .clone()
                .lazy()
                .select([row_bytes(&schema).alias("b")])
                .collect()
                .expect("bytes");
            first(&total, "b")
        };
        // Three i32.
        assert_eq!(bytes("x"), 12.0);
        // Three views, six bytes of text.
        assert_eq!(bytes("w"), 3.0 * 16.0 + 6.0);
        // Three offsets; four words in all (ab, null, cdef; ab), eight bytes of text.
        assert_eq!(bytes("l"), 3.0 * 8.0 + 4.0 * 16.0 + 8.0);
        // Three offsets; four inner lists (the three above; the one-word one), their
        // offsets, and the words in them: 3 + 1 + 0 and 1.
        assert_eq!(bytes("n"), 3.0 * 8.0 + 4.0 * 8.0 + 5.0 * 16.0 + 10.0);
        // The struct: a byte a row, then its i32s and words.
        assert_eq!(bytes("p"), 3.0 + 12.0 + 3.0 * 16.0 + 6.0);
    }

    #[test]
    fn unknown_rows_count_a_row_a_byte() {
        let mut chain = upload(0, 4_000);
        chain.steps.push(ChainStep::Transform(Transform::Derive {
            name: "d".into(),
            expr: crate::transform::Derived::Arith {
                left: Operand::Number(1.0),
                op: crate::transform::ArithOp::Add,
                right: Operand::Number(2.0),
            },
        }));
        assert_eq!(peak_bytes(&chain), 4_000 + 4_000 + 32_000);
    }
}

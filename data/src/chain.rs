//! A frame's chain: the upload it starts from and the steps after it. The chain is the
//! lineage of every transformed frame, so an evicted one is rebuilt by running it again
//! as one lazy polars query over the kept file (filters and selections pushed down to
//! the scan).

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use stayput_cache::Lineage;

use crate::error::{bad, StepError};
use crate::exprs::{agg_expr, condition_expr, derived_expr};
use crate::sizing::JoinSize;
use crate::transform::{Agg, JoinHow, SortBy, Transform};
use crate::{UploadSource, Uploads, TRANSFORM_RECIPE, UPLOAD_RECIPE};

/// An upload and the steps applied to it, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    /// The kept file it starts from.
    pub source: UploadSource,
    /// The steps.
    pub steps: Vec<ChainStep>,
    /// Rows counted at points of the chain: each frame the next step was added to, when
    /// it had been made. Sizing uses them instead of the upper bound (a filter keeping
    /// every row), so a step after a filter of a frame larger than memory is sized by
    /// what the filter kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<KnownRows>,
}

/// The rows and bytes of a chain's frame after its first `after` steps, as the cache
/// counted them once it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownRows {
    /// Steps done.
    pub after: usize,
    /// Rows then.
    pub rows: u64,
    /// Bytes then (in memory, or its file's on disk).
    pub bytes: u64,
}

/// One step as the lineage records it: a join records the other frame's whole chain
/// (not its handle), so a rebuild needs nothing but files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainStep {
    /// Any step but a join (recorded as `"step"` in lineages).
    #[serde(rename = "step")]
    Transform(Transform),
    /// A join with the frame of `other`.
    Join {
        /// The other frame's chain.
        other: Chain,
        /// The key column.
        on: String,
        /// Which rows stay.
        how: JoinHow,
        /// Its rows and bytes as sized when it was added (what a rebuild reserves).
        #[serde(default)]
        size: JoinSize,
    },
    /// Ready to plot: `x` and `y` only, x as f64 (dates as epoch milliseconds), sorted,
    /// rows without an x dropped.
    Plot {
        /// The x column.
        x: String,
        /// The y column.
        y: String,
    },
}

impl ChainStep {
    /// The breadcrumb's label.
    pub fn label(&self) -> String {
        match self {
            Self::Transform(step) => step.label(),
            Self::Join { other, on, .. } => format!("join {} on {on}", other.source.name),
            Self::Plot { x, y } => format!("plot {y} by {x}"),
        }
    }
}

impl Chain {
    /// The chain of a fresh upload.
    pub fn of(source: UploadSource) -> Self {
        Self {
            source,
            steps: Vec::new(),
            known: Vec::new(),
        }
    }

    /// The chain of its first `steps` steps, as it was when its last step was added: with
    /// the rows known before it (those of its own frame were counted later, when a step
    /// was added to it).
    pub fn prefix(&self, steps: usize) -> Self {
        let steps = steps.min(self.steps.len());
        Self {
            source: self.source.clone(),
            steps: self.steps[..steps].to_vec(),
            known: self.known.iter().copied().filter(|k| k.after < steps).collect(),
        }
    }

    /// Records that the chain's frame, as it is now, has `rows` rows and takes `bytes`
    /// (counted once it was made); an upload's own are known already.
    pub fn knowing(mut self, rows: u64, bytes: u64) -> Self {
        let after = self.steps.len();
        if after > 0 && !self.known.iter().any(|k| k.after == after) {
            self.known.push(KnownRows { after, rows, bytes });
        }
        self
    }

    /// The chain a frame's `lineage` records: an upload's (its file alone) or a step's.
    /// Only frames made from files have one.
    pub fn of_lineage(lineage: &Lineage) -> Result<Self, StepError> {
        let unreadable = |err: serde_json::Error| {
            tracing::error!(%err, function = %lineage.function, "a lineage that is not a chain");
            StepError::Unreadable
        };
        match lineage.function.as_str() {
            UPLOAD_RECIPE => serde_json::from_str(&lineage.args)
                .map(Self::of)
                .map_err(unreadable),
            TRANSFORM_RECIPE => serde_json::from_str(&lineage.args).map_err(unreadable),
            _ => Err(StepError::NotFromFile),
        }
    }

    /// This chain followed by `step`.
    pub fn then(&self, step: ChainStep) -> Self {
        let mut next = self.clone();
        next.steps.push(step);
        next
    }

    /// Steps in all, those of joined chains included.
    pub fn steps_in_all(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                ChainStep::Join { other, .. } => 1 + other.steps_in_all(),
                _ => 1,
            })
            .sum()
    }

    /// The work of running the chain, in rows of 8 bytes: every kept file it reads (the
    /// joined chains' too) at its size in memory. A step's admission counts it, however few
    /// rows the chain ends with: a filter down to ten rows still reads its whole file.
    pub fn source_rows(&self) -> u64 {
        self.steps
            .iter()
            .fold(self.source.bytes / 8, |rows, step| match step {
                ChainStep::Join { other, .. } => rows.saturating_add(other.source_rows()),
                _ => rows,
            })
    }

    /// Runs the whole chain to a frame (what [`TRANSFORM_RECIPE`] does; blocking: call
    /// it off the async runtime). A chain ending in a plot step has its x flagged as
    /// sorted, so the figure engine finds a zoom's rows by binary search.
    pub fn run(&self, uploads: &Uploads) -> Result<DataFrame, StepError> {
        self.run_with(uploads, Engine::InMemory)
    }

    /// [`Chain::run`] by polars' `engine`: the streaming engine runs each step a batch at
    /// a time where it can ([`crate::sizing::Run::Streamed`]).
    pub fn run_with(&self, uploads: &Uploads, engine: Engine) -> Result<DataFrame, StepError> {
        // One query, one sink: never the several results of a multi-sink plan.
        let mut frame = self.lazy(uploads)?.collect_with_engine(engine)?.unwrap_single();
        if let Some(ChainStep::Plot { x, .. }) = self.steps.last() {
            mark_sorted(&mut frame, x);
        }
        Ok(frame)
    }

    /// The whole chain as one lazy query.
    pub fn lazy(&self, uploads: &Uploads) -> Result<LazyFrame, StepError> {
        let mut frame = uploads.scan(&self.source)?;
        for step in &self.steps {
            frame = apply(frame, step, uploads)?;
        }
        Ok(frame)
    }
}

/// Flags column `x` of `frame` (f64, sorted ascending by the plot step) as sorted. Only
/// a speed-up of the figure's zoom: a column that is not f64 is left as it is.
fn mark_sorted(frame: &mut DataFrame, x: &str) {
    let Ok(values) = frame.column(x).and_then(|c| c.f64().cloned()) else {
        return;
    };
    let mut values = values;
    values.set_sorted_flag(polars::series::IsSorted::Ascending);
    if let Err(err) = frame.with_column(values.into_column()) {
        tracing::warn!(%err, "flagging a plot's x as sorted");
    }
}

/// The schema of `frame` (cheap: from the scan's metadata and the plan).
pub fn schema_of(frame: &mut LazyFrame) -> Result<SchemaRef, StepError> {
    Ok(frame.collect_schema()?)
}

/// The dtype of `column` in `schema`, or a message naming the missing column.
pub(crate) fn dtype<'a>(schema: &'a Schema, column: &str) -> Result<&'a DataType, StepError> {
    schema
        .get(column)
        .ok_or_else(|| bad(format!("there is no column named {column:?}")))
}

/// `frame` with `step` applied, every column and value checked first.
pub fn apply(mut frame: LazyFrame, step: &ChainStep, uploads: &Uploads) -> Result<LazyFrame, StepError> {
    let schema = schema_of(&mut frame)?;
    Ok(match step {
        ChainStep::Transform(step) => apply_step(frame, step, &schema)?,
        ChainStep::Join { other, on, how, .. } => {
            let mut right = other.lazy(uploads)?;
            let right_schema = schema_of(&mut right)?;
            let (left_type, right_type) = (dtype(&schema, on)?, dtype(&right_schema, on)?);
            if left_type != right_type {
                return Err(bad(format!(
                    "the key {on:?} is {left_type} here but {right_type} in the other frame"
                )));
            }
            let how = match how {
                JoinHow::Inner => JoinType::Inner,
                JoinHow::Left => JoinType::Left,
            };
            frame.join(right, [col(on.as_str())], [col(on.as_str())], JoinArgs::new(how))
        }
        ChainStep::Plot { x, y } => {
            let x_type = dtype(&schema, x)?;
            let y_type = dtype(&schema, y)?;
            if !y_type.is_primitive_numeric() {
                return Err(bad(format!("{y:?} is {y_type}, not numbers: choose a numeric y")));
            }
            let x_expr = if matches!(x_type, DataType::Time | DataType::Duration(_)) {
                // A time of day or a duration: its count of units, a plain number axis
                // (Time and Duration cannot become a date).
                col(x.as_str()).cast(DataType::Int64).cast(DataType::Float64)
            } else if x_type.is_temporal() {
                // Dates and times as epoch milliseconds, the x of a date axis.
                col(x.as_str())
                    .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
                    .cast(DataType::Int64)
                    .cast(DataType::Float64)
            } else if x_type.is_primitive_numeric() {
                col(x.as_str()).cast(DataType::Float64)
            } else {
                return Err(bad(format!("{x:?} is {x_type}: choose a numeric or date x")));
            };
            let same = x == y;
            let y_name = if same { format!("{y} ") } else { y.clone() };
            frame
                .select([
                    x_expr.alias(x.as_str()),
                    col(y.as_str()).cast(DataType::Float64).alias(y_name.as_str()),
                ])
                .filter(col(x.as_str()).is_not_null().and(col(x.as_str()).is_not_nan()))
                .sort([x.as_str()], SortMultipleOptions::default())
        }
    })
}

fn apply_step(frame: LazyFrame, step: &Transform, schema: &Schema) -> Result<LazyFrame, StepError> {
    Ok(match step {
        Transform::Filter(conditions) => {
            if conditions.is_empty() {
                return Err(bad("a filter needs at least one condition"));
            }
            let mut all: Option<Expr> = None;
            for condition in conditions {
                let one = condition_expr(condition, dtype(schema, &condition.column)?)?;
                all = Some(match all {
                    Some(before) => before.and(one),
                    None => one,
                });
            }
            frame.filter(all.unwrap_or_else(|| lit(true)))
        }
        Transform::Select(columns) => {
            if columns.is_empty() {
                return Err(bad("select at least one column"));
            }
            for (i, c) in columns.iter().enumerate() {
                dtype(schema, c)?;
                if columns[..i].contains(c) {
                    return Err(bad(format!("the column {c:?} is selected twice")));
                }
            }
            frame.select(columns.iter().map(|c| col(c.as_str())).collect::<Vec<_>>())
        }
        Transform::Drop(columns) => {
            for c in columns {
                dtype(schema, c)?;
            }
            let keep: Vec<Expr> = schema
                .iter_names()
                .filter(|name| !columns.iter().any(|c| c.as_str() == name.as_str()))
                .map(|name| col(name.clone()))
                .collect();
            if keep.is_empty() {
                return Err(bad("dropping every column leaves nothing"));
            }
            frame.select(keep)
        }
        Transform::Rename { from, to } => {
            dtype(schema, from)?;
            if to.trim().is_empty() {
                return Err(bad("the new name is empty"));
            }
            if schema.contains(to) && from != to {
                return Err(bad(format!("there already is a column named {to:?}")));
            }
            frame.rename([from.as_str()], [to.as_str()], true)
        }
        Transform::Sort(SortBy { column, descending }) => {
            dtype(schema, column)?;
            frame.sort(
                [column.as_str()],
                SortMultipleOptions::default()
                    .with_order_descending(*descending)
                    .with_nulls_last(true)
                    .with_maintain_order(true),
            )
        }
        Transform::GroupBy { keys, aggs } => {
            if keys.is_empty() {
                return Err(bad("group by at least one column"));
            }
            for k in keys {
                dtype(schema, k)?;
            }
            let mut exprs = Vec::with_capacity(aggs.len().max(1));
            for Agg { column, func } in aggs {
                exprs.push(agg_expr(column, *func, schema)?);
            }
            if exprs.is_empty() {
                exprs.push(len().alias("count"));
            }
            let key_exprs: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
            frame.group_by(key_exprs).agg(exprs).sort(
                keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                SortMultipleOptions::default(),
            )
        }
        Transform::Derive { name, expr } => {
            if name.trim().is_empty() {
                return Err(bad("the new column needs a name"));
            }
            frame.with_column(derived_expr(expr, schema)?.alias(name.as_str()))
        }
        Transform::Within(clauses) => {
            use stayput_figures::filter::{reads_row_number, selection_expr, with_row_numbers, ROW_NUMBER};
            let keep = selection_expr(clauses, schema).map_err(|err| bad(err.to_string()))?;
            if reads_row_number(clauses) {
                with_row_numbers(frame, 0)
                    .filter(keep)
                    .drop(by_name([ROW_NUMBER], true, false))
            } else {
                frame.filter(keep)
            }
        }
        Transform::Join { .. } => return Err(bad("a join is resolved before it is applied")),
    })
}

/// The first line of a library message; a message about files (which may name a path
/// on the server) is replaced by a plain one and logged.
pub fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    if line.contains('/') || line.to_ascii_lowercase().contains("os error") {
        tracing::warn!(%message, "query over a kept file");
        return "the data could not be read right now; try again".to_owned();
    }
    line.to_owned()
}

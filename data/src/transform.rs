//! The steps of `/data`, as the browser sends them and lineages record them: plain,
//! serde-able data (no polars), shared with the wasm client. `chain` (feature `engine`) turns them
//! into lazy polars plans.

use serde::{Deserialize, Serialize};
use stayput_cache::FrameHandle;

/// How a page of rows is ordered (asked of the server; the frame is not changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortBy {
    /// The column.
    pub column: String,
    /// Largest first.
    pub descending: bool,
}

/// A comparison of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `=`
    Eq,
    /// `≠`
    Ne,
    /// `<`
    Lt,
    /// `≤`
    Le,
    /// `>`
    Gt,
    /// `≥`
    Ge,
    /// The text contains the value.
    Contains,
    /// The value is missing (the filter's value is ignored).
    IsNull,
    /// The value is present.
    NotNull,
}

impl Op {
    /// Every operator, in a picker's order.
    pub const ALL: [Op; 9] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::Contains,
        Op::IsNull,
        Op::NotNull,
    ];

    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "≠",
            Self::Lt => "<",
            Self::Le => "≤",
            Self::Gt => ">",
            Self::Ge => "≥",
            Self::Contains => "contains",
            Self::IsNull => "is missing",
            Self::NotNull => "is present",
        }
    }

    /// Whether it takes a value.
    pub fn takes_value(self) -> bool {
        !matches!(self, Self::IsNull | Self::NotNull)
    }
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The comparison.
    pub op: Op,
    /// The value, as typed (read as the column's type on the server).
    pub value: String,
}

/// An aggregate of a group-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFn {
    /// Rows in the group (the column is ignored).
    Count,
    /// Sum.
    Sum,
    /// Mean.
    Mean,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Median.
    Median,
}

impl AggFn {
    /// Every aggregate, in a picker's order.
    pub const ALL: [AggFn; 6] = [
        AggFn::Count,
        AggFn::Sum,
        AggFn::Mean,
        AggFn::Min,
        AggFn::Max,
        AggFn::Median,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Mean => "mean",
            Self::Min => "min",
            Self::Max => "max",
            Self::Median => "median",
        }
    }

    /// The aggregate named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One aggregate column of a group-by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Agg {
    /// The column aggregated.
    pub column: String,
    /// How.
    pub func: AggFn,
}

/// An operand of a derived column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    /// A column's values.
    Column(String),
    /// A number.
    Number(f64),
}

/// Arithmetic of a derived column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithOp {
    /// `+`
    Add,
    /// `−`
    Sub,
    /// `×`
    Mul,
    /// `÷`
    Div,
}

/// A part of a date or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePart {
    /// The year.
    Year,
    /// The month (1–12).
    Month,
    /// The day of the month.
    Day,
    /// The day of the week (1 = Monday).
    Weekday,
    /// The hour (times only).
    Hour,
}

/// What a derived column computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Derived {
    /// `left op right`.
    Arith {
        /// Left operand.
        left: Operand,
        /// The operation.
        op: ArithOp,
        /// Right operand.
        right: Operand,
    },
    /// A part of a date column.
    Part {
        /// The date or time column.
        column: String,
        /// Which part.
        part: DatePart,
    },
}

/// How a join keeps rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinHow {
    /// Rows with a match on both sides.
    Inner,
    /// Every row of this frame, matched where possible.
    Left,
}

/// A transform: each makes a new handle whose lineage points at its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Keep the rows meeting every condition.
    Filter(Vec<Condition>),
    /// Keep these columns, in this order.
    Select(Vec<String>),
    /// Drop these columns.
    Drop(Vec<String>),
    /// Rename a column.
    Rename {
        /// Its name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Order the rows.
    Sort(SortBy),
    /// One row per group of `keys`, with the aggregates.
    GroupBy {
        /// The columns that make a group.
        keys: Vec<String>,
        /// The aggregates.
        aggs: Vec<Agg>,
    },
    /// A new column.
    Derive {
        /// Its name.
        name: String,
        /// What it computes.
        expr: Derived,
    },
    /// Keep the rows inside a selection made on a linked view (every clause holds).
    Within(Vec<stayput_figures::select::Clause>),
    /// Join another frame of the session on a key column both have.
    Join {
        /// The other frame.
        other: FrameHandle,
        /// The key.
        on: String,
        /// Which rows stay.
        how: JoinHow,
    },
}

impl Transform {
    /// A short label for the breadcrumb.
    pub fn label(&self) -> String {
        match self {
            Self::Filter(conditions) => {
                let parts: Vec<String> = conditions
                    .iter()
                    .map(|c| {
                        if c.op.takes_value() {
                            format!("{} {} {}", c.column, c.op.symbol(), c.value)
                        } else {
                            format!("{} {}", c.column, c.op.symbol())
                        }
                    })
                    .collect();
                format!("filter {}", parts.join(" and "))
            }
            Self::Select(columns) => format!("select {}", columns.join(", ")),
            Self::Drop(columns) => format!("drop {}", columns.join(", ")),
            Self::Rename { from, to } => format!("rename {from} → {to}"),
            Self::Sort(by) => format!("sort by {}{}", by.column, if by.descending { " ↓" } else { "" }),
            Self::GroupBy { keys, aggs } => {
                let aggs: Vec<String> = aggs
                    .iter()
                    .map(|a| format!("{}({})", a.func.as_str(), a.column))
                    .collect();
                format!("group by {}: {}", keys.join(", "), aggs.join(", "))
            }
            Self::Derive { name, .. } => format!("derive {name}"),
            Self::Within(clauses) => {
                let parts: Vec<String> = clauses.iter().map(|c| c.label()).collect();
                format!("keep {}", parts.join(" and "))
            }
            Self::Join { on, .. } => format!("join on {on}"),
        }
    }
}

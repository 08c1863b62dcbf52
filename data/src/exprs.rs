//! The polars expressions of a step's parts, each column and value checked against the
//! schema first: aggregates of a group-by, derived columns, filter conditions.

use polars::prelude::*;

use crate::chain::dtype;
use crate::error::{bad, StepError};
use crate::transform::{AggFn, ArithOp, Condition, DatePart, Derived, Op, Operand};

pub(crate) fn agg_expr(column: &str, func: AggFn, schema: &Schema) -> Result<Expr, StepError> {
    let t = match func {
        AggFn::Count => return Ok(len().alias("count")),
        _ => dtype(schema, column)?,
    };
    let numeric_only = matches!(func, AggFn::Sum | AggFn::Mean | AggFn::Median);
    if numeric_only && !t.is_primitive_numeric() {
        return Err(bad(format!(
            "{} needs numbers, but {column:?} is {t}",
            func.as_str()
        )));
    }
    let c = col(column);
    let e = match func {
        AggFn::Sum => c.sum(),
        AggFn::Mean => c.mean(),
        AggFn::Min => c.min(),
        AggFn::Max => c.max(),
        AggFn::Median => c.median(),
        AggFn::Count => len(),
    };
    Ok(e.alias(format!("{}_{column}", func.as_str())))
}

fn operand(op: &Operand, schema: &Schema) -> Result<Expr, StepError> {
    match op {
        Operand::Number(n) if n.is_finite() => Ok(lit(*n)),
        Operand::Number(_) => Err(bad("numbers must be finite")),
        Operand::Column(c) => {
            let t = dtype(schema, c)?;
            if !t.is_primitive_numeric() {
                return Err(bad(format!("{c:?} is {t}, not numbers")));
            }
            Ok(col(c.as_str()).cast(DataType::Float64))
        }
    }
}

pub(crate) fn derived_expr(expr: &Derived, schema: &Schema) -> Result<Expr, StepError> {
    Ok(match expr {
        Derived::Arith { left, op, right } => {
            let (l, r) = (operand(left, schema)?, operand(right, schema)?);
            match op {
                ArithOp::Add => l + r,
                ArithOp::Sub => l - r,
                ArithOp::Mul => l * r,
                ArithOp::Div => l / r,
            }
        }
        Derived::Part { column, part } => {
            let t = dtype(schema, column)?;
            if !t.is_temporal() {
                return Err(bad(format!("{column:?} is {t}, not a date or time")));
            }
            let dt = col(column.as_str()).dt();
            match part {
                DatePart::Year => dt.year(),
                DatePart::Month => dt.month(),
                DatePart::Day => dt.day(),
                DatePart::Weekday => dt.weekday(),
                DatePart::Hour if matches!(t, DataType::Datetime(..)) => dt.hour(),
                DatePart::Hour => return Err(bad(format!("{column:?} holds dates without a time of day"))),
            }
        }
    })
}

/// One filter condition on a column of type `t`, the value read as that type.
/// Longest filter value, in bytes: it is kept in the lineage of every frame made from
/// the step (issue 23: 60 KB values in 64-step chains).
pub(crate) const MAX_FILTER_VALUE: usize = 1_000;

pub(crate) fn condition_expr(condition: &Condition, t: &DataType) -> Result<Expr, StepError> {
    let Condition { column, op, value } = condition;
    let c = col(column.as_str());
    match op {
        Op::IsNull => return Ok(c.is_null()),
        Op::NotNull => return Ok(c.is_not_null()),
        _ => {}
    }
    let value = value.trim();
    if value.len() > MAX_FILTER_VALUE {
        // The value is part of the step's lineage, kept with every frame made from it.
        return Err(bad(format!(
            "a filter value may be at most {MAX_FILTER_VALUE} bytes long (this one is {})",
            value.len()
        )));
    }
    let wrong = |what: &str| {
        bad(format!(
            "{value:?} is not {what}, as column {column:?} ({t}) needs"
        ))
    };
    let rhs: Expr = if t.is_primitive_numeric() {
        if *op == Op::Contains {
            return Err(bad(format!("\"contains\" compares text, but {column:?} is {t}")));
        }
        lit(value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| wrong("a number"))?)
    } else if matches!(t, DataType::Boolean) {
        lit(match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(wrong("true or false")),
        })
    } else if t.is_temporal() {
        // ISO text compares like the dates it spells: 2012-03-04 < 2012-10-01.
        if !looks_like_iso_date(value) {
            return Err(wrong("a date written YYYY-MM-DD"));
        }
        // A date alone compares with the date part of a time ("2012-01-01" equals any
        // time on that day).
        let day_only = value.len() == 10;
        let text = if day_only && !matches!(t, DataType::Date) {
            c.clone().cast(DataType::Date).cast(DataType::String)
        } else {
            c.clone().cast(DataType::String)
        };
        return compare(text, *op, lit(value.to_owned()), column, t);
    } else if matches!(t, DataType::String) {
        lit(value.to_owned())
    } else {
        return Err(bad(format!(
            "column {column:?} ({t}) cannot be filtered by value"
        )));
    };
    let lhs = if t.is_primitive_numeric() {
        c.cast(DataType::Float64)
    } else {
        c
    };
    compare(lhs, *op, rhs, column, t)
}

fn compare(lhs: Expr, op: Op, rhs: Expr, column: &str, t: &DataType) -> Result<Expr, StepError> {
    Ok(match op {
        Op::Eq => lhs.eq(rhs),
        Op::Ne => lhs.neq(rhs),
        Op::Lt => lhs.lt(rhs),
        Op::Le => lhs.lt_eq(rhs),
        Op::Gt => lhs.gt(rhs),
        Op::Ge => lhs.gt_eq(rhs),
        Op::Contains if matches!(t, DataType::String) => lhs.str().contains_literal(rhs),
        Op::Contains => return Err(bad(format!("\"contains\" compares text, but {column:?} is {t}"))),
        Op::IsNull | Op::NotNull => return Err(bad("internal: null tests take no value")),
    })
}

fn looks_like_iso_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() >= 4
        && b.iter().take(4).all(u8::is_ascii_digit)
        && value
            .chars()
            .all(|ch| ch.is_ascii_digit() || "-:T .".contains(ch))
}

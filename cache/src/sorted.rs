//! Polars' sorted flag, which Arrow IPC does not carry: put back on frames read from a
//! tier (disk, Redis), so that a frame read back is what was written.

use polars::prelude::{Column, DataFrame, DataType, IntoColumn};
use polars::series::IsSorted;

/// Flags the float columns of `frame` that are sorted ascending as such. Arrow IPC does not
/// carry polars' sorted flag, and readers rely on it (a figure's x axis is found by binary
/// search only in a column flagged sorted): a frame read back must be what was written.
/// One pass over each float column without nulls.
pub(crate) fn restore_sorted(frame: &mut DataFrame) {
    let sorted: Vec<bool> = frame.columns().iter().map(sorted_unflagged).collect();
    if !sorted.contains(&true) {
        return;
    }
    // The frame built again once (replacing columns one by one looks each up by name:
    // quadratic in the columns, seconds for a few thousand).
    let columns: Vec<Column> = frame
        .columns()
        .iter()
        .zip(sorted)
        .map(|(column, sorted)| match column.f64() {
            Ok(values) if sorted => {
                let mut values = values.clone();
                values.set_sorted_flag(IsSorted::Ascending);
                values.into_column()
            }
            _ => column.clone(),
        })
        .collect();
    if let Ok(flagged) = DataFrame::new(frame.height(), columns) {
        *frame = flagged;
    }
}

/// Whether `column` is a float column without nulls, sorted ascending but not flagged so.
fn sorted_unflagged(column: &Column) -> bool {
    if column.dtype() != &DataType::Float64
        || column.null_count() > 0
        || column.is_sorted_flag() != IsSorted::Not
    {
        return false;
    }
    let Ok(values) = column.f64() else {
        return false;
    };
    let mut last = f64::NEG_INFINITY;
    values.into_no_null_iter().all(|v| {
        let ok = v >= last; // false for NaN
        last = v;
        ok
    })
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::restore_sorted;

    #[test]
    fn arrow_ipc_loses_the_sorted_flag() {
        use polars_io::ipc::{IpcReader, IpcWriter};
        use polars_io::{SerReader, SerWriter};
        let mut values = Float64Chunked::from_vec("x".into(), vec![1.0, 2.0, 3.0]);
        values.set_sorted_flag(polars::series::IsSorted::Ascending);
        let mut frame = DataFrame::new(3, vec![values.into_column()]).expect("frame");
        let mut bytes = Vec::new();
        IpcWriter::new(&mut bytes).finish(&mut frame).expect("write");
        let back = IpcReader::new(std::io::Cursor::new(bytes))
            .finish()
            .expect("read");
        // Why `restore_sorted` exists (if polars starts keeping it, it costs one pass).
        assert_eq!(
            back.column("x").expect("x").is_sorted_flag(),
            polars::series::IsSorted::Not
        );
    }

    #[test]
    fn sorted_float_columns_get_their_flag_back_and_others_do_not() {
        let mut frame = df!(
            "x" => [1.0, 2.0, 2.0, 5.0],
            "y" => [3.0, 1.0, 2.0, 0.0],
            "n" => [1.0, f64::NAN, 2.0, 3.0],
        )
        .expect("frame");
        restore_sorted(&mut frame);
        let flag = |name: &str| frame.column(name).expect("column").is_sorted_flag();
        assert_eq!(flag("x"), polars::series::IsSorted::Ascending);
        assert_eq!(flag("y"), polars::series::IsSorted::Not);
        assert_eq!(flag("n"), polars::series::IsSorted::Not);
    }
}

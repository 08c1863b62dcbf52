//! Polars' sorted flag, which Arrow IPC does not carry: put back on frames read from a
//! tier (disk, Redis), so that a frame read back is what was written.

use polars::prelude::DataFrame;

/// Flags the float columns of `frame` that are sorted ascending as such. Arrow IPC does not
/// carry polars' sorted flag, and readers rely on it (a figure's x axis is found by binary
/// search only in a column flagged sorted): a frame read back must be what was written.
/// One pass over each float column without nulls.
pub(crate) fn restore_sorted(frame: &mut DataFrame) {
    let names: Vec<_> = frame
        .columns()
        .iter()
        .filter(|c| c.dtype() == &polars::prelude::DataType::Float64 && c.null_count() == 0)
        .filter(|c| c.is_sorted_flag() == polars::series::IsSorted::Not)
        .filter_map(|c| {
            let values = c.f64().ok()?;
            let mut last = f64::NEG_INFINITY;
            let sorted = values.into_no_null_iter().all(|v| {
                let ok = v >= last; // false for NaN
                last = v;
                ok
            });
            sorted.then(|| c.name().clone())
        })
        .collect();
    for name in names {
        let flagged = frame.column(name.as_str()).ok().and_then(|c| {
            let mut values = c.f64().ok()?.clone();
            values.set_sorted_flag(polars::series::IsSorted::Ascending);
            Some(polars::prelude::IntoColumn::into_column(values))
        });
        if let Some(column) = flagged {
            let _ = frame.with_column(column);
        }
    }
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

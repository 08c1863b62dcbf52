//! Plotly figures of polars frames, reduced on the server to what the plot's pixels can
//! show: the idea of Dash's plotly-resampler, as a Rust library with no UI, no runtime
//! and no cache.
//!
//! Given a frame, a [`FigureSpec`] (x and y columns, a [`ChartKind`], the visible x range
//! and the plot's width in pixels), [`figure`] returns Plotly figure JSON whose size
//! follows the pixels, not the rows:
//! - the visible rows are found by binary search on the sorted x column (or the row
//!   number, [`ROW`]);
//! - lines and scatters keep each pixel bucket's min and max (MinMax decimation, so a
//!   spike never disappears): at most two points per pixel, as plotly.js typed arrays,
//!   with x implied by `x0`/`dx` when it is evenly sampled;
//! - histograms, box plots and density heatmaps are binned on the server: a fixed number
//!   of numbers whatever the rows.
//!
//! # What it promises
//! - **Read-only and copy-free.** Contiguous f64 columns are borrowed from the frame.
//! - **Stateless.** The spec is the whole state: any zoom is one call. [`figure_kept`]
//!   adds the one thing worth keeping between calls, a column's min/max pyramid, so a
//!   full-range line of 1e8 rows reads its summaries instead of every row.
//! - **Bad specs are errors, not panics.** [`FigureError`] names the column or range at
//!   fault, in words a user can be shown.
//!
//! # Example: a 1e7-row series as a 1,000 px line
//!
//! ```
//! use stayput_figures::demo::{time_series, TIME};
//! use stayput_figures::{figure, ChartKind, FigureSpec};
//!
//! let frame = time_series(10_000_000, 42)?;
//! let spec = FigureSpec {
//!     x: TIME.into(),
//!     y: "walk".into(),
//!     kind: ChartKind::Line,
//!     range: (None, None), // the whole series; a zoom sends its x range
//!     width_px: 1_000,
//!     time_x: true,
//! };
//! let reduced = figure(&frame, &spec)?;
//! assert_eq!(reduced.rows_in_range, 10_000_000);
//! assert_eq!(reduced.points, 2_000); // each pixel's min and max
//! assert!(reduced.figure.len() < 20_000); // bytes of figure JSON, not 160 MB of rows
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//! - `plotly`: `scalable`, plotly.rs figures made scalable: a user's `plotly::Plot`
//!   whose big traces are filled per view from a frame's columns (plotly-resampler's
//!   `FigureResampler`).
//! - `engine` (default): the reduction itself (polars, rayon). Without it the crate is
//!   only the serde vocabulary ([`ChartKind`], [`FigureSpec`], [`ColumnInfo`],
//!   [`Figure`], [`with_thousands`]), which a wasm client compiles to share one contract
//!   with the server.
//!
//! # Where the rest of Stayput's data engine lives, and why
//! The [`stats`] a figure is made of (a parallel mean, histograms, quantiles) live here,
//! and so does [`demo`], the reference series the engine is tested, benchmarked and
//! documented on. The benchmark's random fill and its raw-byte codec stay in the app
//! (they are that benchmark's workload, compared with Dash, not a figure); the pool of
//! spare buffers lives in `stayput-cache`, which evicts the frames it recycles and
//! accounts for their memory.
//!
//! # Layout
//! - `spec`: [`ChartKind`], [`FigureSpec`], [`ColumnInfo`], [`Figure`], [`ROW`] and the
//!   width limits: the plain data both sides share.
//! - `text`: [`with_thousands`], counts as people read them.
//! - `error`: [`FigureError`].
//! - [`select`]: selections ([`select::Clause`]) and a linked view's figures
//!   ([`select::LinkedFigure`]): the plain data of cross-filtering.
//! - `figure` (engine): [`figure`], the one entry point, dispatching on the kind.
//! - `columns` (engine): [`columns`] and [`values`], a frame's columns as f64.
//! - `axis` (engine): the x axis and its visible rows.
//! - [`decimate`] (engine): visible-row search and MinMax decimation.
//! - [`pyramid`] (engine): [`pyramid::MinMaxPyramid`], a column's min/max summaries at
//!   several block sizes, so a line's reduction reads summaries instead of every row;
//!   [`bin_counts`] (engine): [`bin_counts::BinCounts`], a column's histogram counted
//!   block by block, so a brush's histogram adds the counts of the blocks it keeps
//!   whole; `pyramid_store`: [`PyramidStore`], both kept between figures within a byte
//!   budget, read by [`figure_kept`] and [`linked_kept`].
//! - `line`, [`histogram`], `boxplot`, `density`, `bar` (engine): one module a chart kind.
//! - [`filter`] (engine): a selection as one polars predicate (ranges, categories, a
//!   lasso's polygon).
//! - `linked` (engine): [`linked`], a linked view's figures, each re-aggregated against
//!   the other figures' selections; `brushed` (engine): the same figures of a selection
//!   of ranges drawn in place, with no copy of the kept rows; `ranges` (engine): that
//!   selection tested row by row, and block by block from the columns' pyramids;
//!   `nothing` (engine): the figure of a view with no row in it.
//! - `layout` (engine): the plotly layout pieces every figure shares.
//! - [`typed`] (engine): plotly.js typed arrays (`{"dtype", "bdata"}`).
//! - [`stats`] (engine): mean, histograms and quantiles of f64 slices.
//! - [`demo`] (engine): the reference time series.
//! - `scalable` (plotly): plotly.rs figures with big traces reduced per view.
//!
//! Every figure is built as `serde_json` values: the plotly crate has no typed arrays
//! and no `x0`/`dx`, so building there meant serialising, parsing back and patching.

mod error;
pub mod select;
mod spec;
mod text;

pub use error::FigureError;
pub use spec::{ChartKind, ColumnInfo, Figure, FigureSpec, EMPTY_FIGURE, MAX_WIDTH_PX, MIN_WIDTH_PX, ROW};
pub use text::with_thousands;

#[cfg(feature = "engine")]
mod axis;
#[cfg(feature = "engine")]
mod bar;
#[cfg(feature = "engine")]
pub mod bin_counts;
#[cfg(feature = "engine")]
mod boxplot;
#[cfg(feature = "engine")]
mod brushed;
#[cfg(feature = "engine")]
mod columns;
#[cfg(feature = "engine")]
pub mod decimate;
#[cfg(feature = "engine")]
pub mod demo;
#[cfg(feature = "engine")]
mod density;
#[cfg(feature = "engine")]
mod figure;
#[cfg(feature = "engine")]
pub mod filter;
#[cfg(feature = "engine")]
pub mod histogram;
#[cfg(feature = "engine")]
mod layout;
#[cfg(feature = "engine")]
mod line;
#[cfg(feature = "engine")]
mod linked;
#[cfg(feature = "engine")]
mod nothing;
#[cfg(feature = "engine")]
pub mod pyramid;
#[cfg(feature = "engine")]
mod pyramid_store;
#[cfg(feature = "engine")]
mod ranges;
#[cfg(feature = "plotly")]
pub mod scalable;
#[cfg(feature = "engine")]
pub mod stats;
#[cfg(feature = "engine")]
pub mod typed;

#[cfg(feature = "engine")]
pub use columns::{columns, f64_slices, values};
#[cfg(feature = "engine")]
pub use figure::{figure, figure_kept};
#[cfg(feature = "engine")]
pub use linked::{check_view, linked, linked_bytes, linked_kept};
#[cfg(feature = "engine")]
pub use pyramid_store::{PyramidStore, PYRAMID_MIN_ROWS};

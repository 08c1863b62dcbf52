//! The surface under test: every server function, its fields and limits, and the
//! placeholders a generated value may hold.

/// A server function's endpoint (`/api/<name>`) and its form fields as the browser
/// sends them (struct arguments as `arg[field]`).
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [&'static str],
}

/// A `FrameHandle` argument named `handle`.
pub(crate) const HANDLE: &[&str] = &["handle[id]", "handle[rows]", "handle[cols]", "handle[bytes]"];

/// Every HTTP server function of `app/src/api.rs` (the WebSocket `bench_steps` is
/// tested in `steps_socket.rs`). `the_list_covers_every_server_function` keeps it whole.
pub(crate) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: "create_frame",
        fields: &[
            "rows",
            "replaces[id]",
            "replaces[rows]",
            "replaces[cols]",
            "replaces[bytes]",
        ],
    },
    Endpoint {
        name: "start_session",
        fields: &[],
    },
    Endpoint {
        name: "frame_mean",
        fields: HANDLE,
    },
    Endpoint {
        name: "frame_histogram",
        fields: HANDLE,
    },
    Endpoint {
        name: "cache_view",
        fields: &[],
    },
    Endpoint {
        name: "drop_frame",
        fields: &["id"],
    },
    Endpoint {
        name: "drop_all",
        fields: &[],
    },
    Endpoint {
        name: "explore_limits",
        fields: &[],
    },
    Endpoint {
        name: "make_series",
        fields: &["rows"],
    },
    Endpoint {
        name: "frame_columns",
        fields: HANDLE,
    },
    Endpoint {
        name: "explore_figure",
        fields: &[
            "handle[id]",
            "handle[rows]",
            "handle[cols]",
            "handle[bytes]",
            "x",
            "y",
            "kind",
            "x_min",
            "x_max",
            "width",
        ],
    },
    Endpoint {
        name: "explore_make",
        fields: &[
            "kind",
            "rows",
            "replaces[id]",
            "replaces[rows]",
            "replaces[cols]",
            "replaces[bytes]",
            "chart",
            "width",
        ],
    },
    Endpoint {
        name: "data_examples",
        fields: &[],
    },
    Endpoint {
        name: "load_example",
        fields: &["file"],
    },
    Endpoint {
        name: "data_info",
        fields: HANDLE,
    },
    Endpoint {
        name: "data_rows",
        fields: &[
            "handle[id]",
            "handle[rows]",
            "handle[cols]",
            "handle[bytes]",
            "offset",
            "sort[column]",
            "sort[descending]",
        ],
    },
    // JSON input: a form is refused as unreadable, whatever its fields.
    Endpoint {
        name: "data_transform",
        fields: &["handle[id]", "step"],
    },
    // JSON input, like data_transform.
    Endpoint {
        name: "linked_figures",
        fields: &["handle[id]", "figures", "selections"],
    },
    Endpoint {
        name: "data_plot",
        fields: &[
            "handle[id]",
            "handle[rows]",
            "handle[cols]",
            "handle[bytes]",
            "x",
            "y",
            "kind",
            "x_min",
            "x_max",
            "width",
        ],
    },
];

/// Every field of every endpoint, for keys sent to the wrong endpoint.
pub(crate) fn all_fields() -> Vec<&'static str> {
    let mut fields: Vec<_> = ENDPOINTS.iter().flat_map(|e| e.fields.iter().copied()).collect();
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// Small budgets, so that a random valid row count is refused (413) before any work
/// rather than filling hundreds of megabytes in a debug build.
pub(crate) const LIMITS: &[(&str, &str)] = &[
    ("STAYPUT_MEMORY_BUDGET", "64MiB"),
    ("STAYPUT_SESSION_QUOTA", "8MiB"),
];

/// A handle no session holds.
pub(crate) const MADE_UP_ID: &str = "7d444840-9dc0-41a6-a1f3-2a5f3c1e6b6e";

// Placeholders a generated value may hold, replaced when the request is sent by the
// session's real frames (which a case may have dropped: they are re-made after it).
pub(crate) const FRAME: &str = "⟪frame⟫";
pub(crate) const SERIES: &str = "⟪series⟫";
pub(crate) const ROWS: &str = "⟪rows⟫";
pub(crate) const BYTES: &str = "⟪bytes⟫";
pub(crate) const COLUMNS: [&str; 4] = ["⟪col0⟫", "⟪col1⟫", "⟪col2⟫", "⟪col3⟫"];

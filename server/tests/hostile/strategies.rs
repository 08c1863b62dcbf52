//! The strategies: hostile values, keys and forms, raw bodies, random handles.

use super::*;

/// Values no argument expects: numbers that do not fit or are not numbers, empty,
/// JSON where a form value goes, percent-escapes, unicode, control characters, long text.
pub(crate) fn hostile_value() -> BoxedStrategy<String> {
    let fixed = prop::sample::select(vec![
        "",
        " ",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "18446744073709551615",
        "340282366920938463463374607431768211456",
        "-1",
        "-0",
        "0",
        "-9223372036854775809",
        "4294967296",
        "NaN",
        "nan",
        "-NaN",
        "inf",
        "-inf",
        "+inf",
        "Infinity",
        "infinity",
        "1.5",
        "0x10",
        "1_000",
        " 1",
        "1 ",
        "+1",
        "01",
        "1e3",
        "null",
        "true",
        "[]",
        "{}",
        "\"1\"",
        "%",
        "%zz",
        "%00",
        "%FF%FE",
        "&",
        "=",
        "[",
        "]",
        "\u{0}",
        "\u{feff}",
        "ü",
        "🦀",
        "\u{202e}",
        "line",
        "density",
        MADE_UP_ID,
        FRAME,
        SERIES,
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        6 => fixed,
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => "[0-9]{20,400}",
        2 => ".{0,40}",
        1 => "[\\x00-\\x7f]{0,40}",
        1 => long_text(),
    ]
    .boxed()
}

/// Text well over `MAX_ECHO` characters (up to 20,000), of characters no encoding
/// changes, so an echo of it is found as such.
pub(crate) fn long_text() -> BoxedStrategy<String> {
    ("[a-zA-Z0-9]{16,64}", (MAX_ECHO + 50)..20_000)
        .prop_map(|(seed, len)| seed.chars().cycle().take(len).collect())
        .boxed()
}

/// Keys: the endpoint's own fields, other endpoints' fields, bracket junk, deep
/// nesting, random text.
pub(crate) fn hostile_key(fields: &'static [&'static str]) -> BoxedStrategy<String> {
    let own = if fields.is_empty() {
        all_fields()
    } else {
        fields.to_vec()
    };
    let junk = prop::sample::select(vec![
        "handle",
        "handle[]",
        "handle[id][id]",
        "handle[id",
        "handle]id[",
        "handle[[id]]",
        "handle[id]]",
        "handle[0]",
        "handle[-1]",
        "handle[18446744073709551616]",
        "handle%5Bid%5D",
        "handle[id]%00",
        "[id]",
        "[]",
        "[",
        "]",
        "rows[]",
        "rows[0]",
        "rows[rows]",
        "replaces",
        "replaces[]",
        "replaces[id][]",
        "x[]",
        "kind[line]",
        "width[]",
        "a[b][c][d][e][f][g]",
        "",
    ]);
    prop_oneof![
        3 => prop::sample::select(own).prop_map(str::to_owned),
        2 => prop::sample::select(all_fields()).prop_map(str::to_owned),
        2 => junk.prop_map(str::to_owned),
        1 => (1usize..3_000).prop_map(|n| format!("handle{}", "[a]".repeat(n))),
        1 => (1usize..3_000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        2 => ".{0,16}",
    ]
    .boxed()
}

/// A plausible value for `field` (often the session's real frame or column, so that
/// decoding gets past the handle and the other arguments reach the work); `None` leaves
/// an optional field out.
pub(crate) fn valid_value(field: &str) -> BoxedStrategy<Option<String>> {
    let leaf = field.rsplit('[').next().unwrap_or(field).trim_end_matches(']');
    let text = |values: Vec<&'static str>| prop::sample::select(values).prop_map(str::to_owned);
    let value: BoxedStrategy<String> = match leaf {
        "rows" => prop_oneof![(1u64..=2_000).prop_map(|n| n.to_string()), Just(ROWS.to_owned()),].boxed(),
        "cols" => {
            return prop::option::weighted(0.5, (0u64..8).prop_map(|n| n.to_string())).boxed();
        }
        "bytes" => prop_oneof![
            Just(BYTES.to_owned()),
            (0u64..100_000).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        "id" => text(vec![FRAME, FRAME, SERIES, SERIES, MADE_UP_ID]).boxed(),
        "x" => text(vec![COLUMNS[0], COLUMNS[0], COLUMNS[1], "row"]).boxed(),
        "y" => text(COLUMNS.to_vec()).boxed(),
        // `kind` is a chart kind for explore_figure and a kind of data for explore_make.
        "kind" => text(vec![
            "line",
            "scatter",
            "histogram",
            "box",
            "density",
            "series",
            "uniform",
        ])
        .boxed(),
        "chart" => text(vec!["line", "scatter", "histogram", "box", "density"]).boxed(),
        "x_min" | "x_max" => {
            let bound = prop_oneof![
                any::<f64>().prop_map(|f| f.to_string()),
                (-2e12..2e12f64).prop_map(|f| f.to_string()),
                (0.0..2_000.0f64).prop_map(|f| f.to_string()),
                text(vec!["NaN", "inf", "-inf", "1e400", "-1e400", "-0", "0"]),
            ];
            return prop::option::weighted(0.5, bound).boxed();
        }
        "width" => prop_oneof![
            any::<u32>().prop_map(|n| n.to_string()),
            (0u32..4_000).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        _ => hostile_value(),
    };
    value.prop_map(Some).boxed()
}

/// A request the endpoint would serve (every field plausible, optional ones sometimes
/// absent), then up to two of its fields replaced by a hostile value or dropped, and
/// sometimes a few stray pairs: the hostile part reaches decoding with everything
/// around it right, and often gets past it into the work.
pub(crate) fn structured_pairs(fields: &'static [&'static str]) -> BoxedStrategy<Vec<(String, String)>> {
    let valid: Vec<_> = fields.iter().map(|&name| valid_value(name)).collect();
    let mutations = prop::collection::vec(
        (
            0..fields.len().max(1),
            prop_oneof![3 => hostile_value().prop_map(Some), 1 => Just(None)],
        ),
        0..=2,
    );
    let stray = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec((hostile_key(fields), hostile_value()), 1..3),
    ];
    // `replaces` (an optional handle) is sent whole or not at all.
    let replaces = any::<bool>();
    (valid, mutations, stray, replaces)
        .prop_map(move |(valid, mutations, stray, replaces)| {
            let mut values: Vec<Option<String>> = valid;
            for (i, value) in mutations {
                if let Some(slot) = values.get_mut(i) {
                    *slot = value;
                }
            }
            fields
                .iter()
                .zip(values)
                .filter(|(name, _)| replaces || !name.starts_with("replaces["))
                .filter_map(|(name, value)| Some(((*name).to_owned(), value?)))
                .chain(stray)
                .collect()
        })
        .boxed()
}

/// How a form case's pairs go on the wire.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// Properly form-encoded.
    Encoded(Vec<(String, String)>),
    /// `k=v&k=v` as is: `%`, `&`, `=`, `+` and brackets in them break the structure.
    Unencoded(Vec<(String, String)>),
    /// Form-ish characters at random.
    Text(String),
}

#[derive(Debug, Clone)]
pub(crate) struct FormCase {
    pub(crate) shape: Shape,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) accept: Option<&'static str>,
}

pub(crate) const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=zz",
    "application/cbor",
    "application/octet-stream",
    "garbage",
    "",
];

pub(crate) const ACCEPTS: &[&str] = &[
    "*/*",
    "application/json",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/plain",
    "application/cbor",
];

pub(crate) fn content_type() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![
        4 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(None),
        2 => prop::sample::select(CONTENT_TYPES.to_vec()).prop_map(Some),
    ]
    .boxed()
}

pub(crate) fn accept() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![
        3 => Just(None),
        2 => prop::sample::select(ACCEPTS.to_vec()).prop_map(Some),
    ]
    .boxed()
}

pub(crate) fn form_case(fields: &'static [&'static str]) -> BoxedStrategy<FormCase> {
    let shape = prop_oneof![
        4 => structured_pairs(fields).prop_map(Shape::Encoded),
        2 => prop::collection::vec((hostile_key(fields), hostile_value()), 0..8).prop_map(Shape::Encoded),
        2 => structured_pairs(fields).prop_map(Shape::Unencoded),
        1 => "[a-z_\\[\\]=&%+;0-9 .-]{0,300}".prop_map(Shape::Text),
    ];
    (shape, content_type(), accept())
        .prop_map(|(shape, content_type, accept)| FormCase {
            shape,
            content_type,
            accept,
        })
        .boxed()
}

/// A body of any bytes, under any content type, by any method, to any endpoint.
#[derive(Debug, Clone)]
pub(crate) struct RawCase {
    pub(crate) endpoint: usize,
    pub(crate) method: &'static str,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) accept: Option<&'static str>,
    pub(crate) body: Vec<u8>,
}

pub(crate) fn raw_body() -> BoxedStrategy<Vec<u8>> {
    let json_field = (prop::sample::select(all_fields()), hostile_value())
        .prop_map(|(k, v)| serde_json::json!({ k: v }).to_string().into_bytes());
    let json_handle = (hostile_value(), hostile_value(), hostile_value()).prop_map(|(id, rows, bytes)| {
        format!(r#"{{"handle":{{"id":"{id}","rows":{rows},"bytes":{bytes}}}}}"#).into_bytes()
    });
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..4_096),
        2 => ".{0,2000}".prop_map(String::into_bytes),
        2 => json_field,
        2 => json_handle,
        1 => (1usize..20_000).prop_map(|n| "[".repeat(n).into_bytes()),
        1 => (1usize..5_000).prop_map(|n| r#"{"a":"#.repeat(n).into_bytes()),
        1 => (1usize..20_000).prop_map(|n| "a[".repeat(n).into_bytes()),
    ]
    .boxed()
}

pub(crate) fn raw_case() -> BoxedStrategy<RawCase> {
    let method = prop_oneof![
        6 => Just("POST"),
        1 => prop::sample::select(vec!["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    ];
    (0..ENDPOINTS.len(), method, content_type(), accept(), raw_body())
        .prop_map(|(endpoint, method, content_type, accept, body)| RawCase {
            endpoint,
            method,
            content_type,
            accept,
            body,
        })
        .boxed()
}

/// A random handle: mostly well-formed UUIDs (v4 like the server's, or any hex), and
/// garbage ids of any text; rows, bytes and columns anything.
#[derive(Debug, Clone)]
pub(crate) struct RandomHandle {
    pub(crate) id: String,
    pub(crate) rows: u64,
    pub(crate) cols: Option<u64>,
    pub(crate) bytes: u64,
}

pub(crate) fn random_handle() -> BoxedStrategy<RandomHandle> {
    let id = prop_oneof![
        6 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        1 => "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
        1 => "[0-9a-fA-F{}:urn-]{0,48}",
        1 => ".{0,80}",
        1 => "[\\x00-\\x7f]{0,300}",
    ];
    (id, any::<u64>(), prop::option::of(any::<u64>()), any::<u64>())
        .prop_map(|(id, rows, cols, bytes)| RandomHandle {
            id,
            rows,
            cols,
            bytes,
        })
        .boxed()
}

impl RandomHandle {
    pub(crate) fn form(&self) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("handle[id]", self.id.clone()),
            ("handle[rows]", self.rows.to_string()),
            ("handle[bytes]", self.bytes.to_string()),
        ];
        if let Some(cols) = self.cols {
            form.push(("handle[cols]", cols.to_string()));
        }
        form
    }
}

/// `count` values of `strategy`, drawn at random.
pub(crate) fn draw<T: std::fmt::Debug>(strategy: &BoxedStrategy<T>, count: usize) -> Vec<T> {
    let mut runner = TestRunner::default();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("value").current())
        .collect()
}

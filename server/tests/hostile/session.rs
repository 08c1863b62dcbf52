//! A session with real frames, kept alive across cases.

use super::*;

/// The session's real frames, whose ids and columns the placeholders stand for.
#[derive(Debug, Clone)]
pub(crate) struct Real {
    pub(crate) frame: Value,
    pub(crate) series: Value,
    pub(crate) columns: Vec<String>,
}

pub(crate) struct Session<'a> {
    pub(crate) server: &'a Running,
    pub(crate) client: Client,
    pub(crate) real: Mutex<Option<Real>>,
    /// How often each status answered a case (printed: shows the cases reach past
    /// decoding, not only its refusals).
    pub(crate) statuses: Mutex<BTreeMap<u16, u32>>,
}

pub(crate) fn field(handle: &Value, name: &str) -> String {
    handle[name].to_string().trim_matches('"').to_owned()
}

pub(crate) fn handle_form(prefix: &str, handle: &Value) -> Vec<(String, String)> {
    ["id", "rows", "cols", "bytes"]
        .iter()
        .filter(|name| !handle[**name].is_null())
        .map(|name| (format!("{prefix}[{name}]"), field(handle, name)))
        .collect()
}

impl<'a> Session<'a> {
    pub(crate) fn new(server: &'a Running) -> Self {
        Self {
            server,
            client: stranger(),
            real: Mutex::new(None),
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn count(&self, status: StatusCode) {
        *self
            .statuses
            .lock()
            .expect("lock")
            .entry(status.as_u16())
            .or_default() += 1;
    }

    pub(crate) fn statuses(&self) -> BTreeMap<u16, u32> {
        self.statuses.lock().expect("lock").clone()
    }

    pub(crate) fn post(&self, endpoint: &str) -> reqwest::RequestBuilder {
        self.client.post(self.server.url(&format!("/api/{endpoint}")))
    }

    pub(crate) fn real(&self) -> Real {
        self.real.lock().expect("lock").clone().expect("frames made")
    }

    /// The normal requests every case is followed by: the session's benchmark frame
    /// answers its mean and its series its columns, each re-made when a case dropped
    /// or replaced it. Any failure here means hostile input broke the server.
    pub(crate) async fn still_serves(&self) -> Result<(), TestCaseError> {
        let mut real = self.real.lock().expect("lock").clone();
        let frame_ok = match &real {
            Some(r) => frame_mean(self.server, &self.client, &r.frame).await.status() == StatusCode::OK,
            None => false,
        };
        let series_ok = match &real {
            Some(r) => {
                let answer = send(self.post("frame_columns").form(&handle_form("handle", &r.series))).await?;
                answer.status == StatusCode::OK
            }
            None => false,
        };
        if !frame_ok || !series_ok {
            let made = create(self.server, &self.client, "1000").await;
            if made.status() != StatusCode::OK {
                return Err(TestCaseError::fail(format!(
                    "a normal create_frame failed after the case: {}",
                    made.status()
                )));
            }
            let frame: Value = made
                .json()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let made = send(self.post("make_series").form(&[("rows", "1000")])).await?;
            if made.status != StatusCode::OK {
                return Err(TestCaseError::fail(format!(
                    "a normal make_series failed after the case: {made:?}"
                )));
            }
            let series: Value =
                serde_json::from_str(&made.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let columns = send(self.post("frame_columns").form(&handle_form("handle", &series))).await?;
            if columns.status != StatusCode::OK {
                return Err(TestCaseError::fail(format!(
                    "a normal frame_columns failed after the case: {columns:?}"
                )));
            }
            let columns: Vec<Value> =
                serde_json::from_str(&columns.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let columns = columns.iter().map(|c| field(c, "name")).collect();
            real = Some(Real {
                frame,
                series,
                columns,
            });
        }
        let mean = frame_mean(self.server, &self.client, &real.as_ref().expect("made").frame).await;
        if mean.status() != StatusCode::OK {
            return Err(TestCaseError::fail(format!(
                "a normal frame_mean failed after the case: {}",
                mean.status()
            )));
        }
        *self.real.lock().expect("lock") = real;
        assert_no_server_panic()
    }

    /// `text` with its placeholders replaced by this session's real frames.
    pub(crate) fn fill(&self, text: &str) -> String {
        if !text.contains('⟪') {
            return text.to_owned();
        }
        let real = self.real();
        let mut text = text
            .replace(FRAME, &field(&real.frame, "id"))
            .replace(SERIES, &field(&real.series, "id"))
            .replace(ROWS, &field(&real.series, "rows"))
            .replace(BYTES, &field(&real.series, "bytes"));
        for (i, placeholder) in COLUMNS.iter().enumerate() {
            text = text.replace(placeholder, real.columns.get(i).map_or("", String::as_str));
        }
        text
    }
}

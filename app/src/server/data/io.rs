//! The two raw routes of `/data`: an upload streamed to the server's disk (never whole in
//! memory on either side, never base64), and a download streamed back.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use polars::prelude::*;
use serde::Deserialize;
use stayput_cache::{FrameHandle, FrameId};
use stayput_data::{IngestError, StepError, UploadLimit};
use tokio::io::AsyncReadExt;

use super::{chain_of, entry, lazy_of};
use crate::contract::StayputError;
use crate::server::blocking;
use crate::server::body::{for_each_chunk, BodyFault};
use crate::server::caller::Caller;
use crate::server::errors::error_response;
use crate::server::places::Places;
use crate::server::state::AppState;
use crate::server::work::Work;

/// Uploads in progress at once, all sessions: each holds a connection, a file descriptor
/// and a 64 KiB buffer until it finishes, stalls or falls under the slowest rate (which
/// now frees the place of a client that drips). 32 shed ten of fifty users uploading at
/// once in the `/data` campaign; 256 hold 16 MiB of buffers (and gzip'd ones up to
/// 64 KiB of output and a decoder's 64 KiB each more: 48 MiB in all).
pub const MAX_UPLOADS: usize = 256;
/// Uploads in progress at once in one session.
pub const MAX_UPLOADS_PER_SESSION: usize = 2;

/// Who is uploading (or downloading) now, per session and in all (cheap to clone).
#[derive(Debug, Clone)]
pub struct Uploading(Places<stayput_cache::SessionKey>);

impl Default for Uploading {
    fn default() -> Self {
        Self(Places::new(MAX_UPLOADS_PER_SESSION, MAX_UPLOADS))
    }
}

/// Query of the upload route.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    name: String,
    /// An Excel workbook's sheet to read (its first when absent).
    #[serde(default)]
    sheet: Option<String>,
}

/// `POST /api/upload?name=…[&sheet=…]`: the body is the file (`sheet`: an Excel
/// workbook's sheet, its first when absent). Refused before reading when its
/// declared length is over `STAYPUT_UPLOAD_MAX`; streamed to a temporary file within the
/// limit (413 the moment it passes), checked on the way, cut off when it stalls; parsed
/// within the session's memory; answered with the new handle. At most
/// [`MAX_UPLOADS_PER_SESSION`] a session and [`MAX_UPLOADS`] in all at once (429, 503).
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    State(AppState {
        cache,
        uploads,
        heavy,
        limits,
        uploading,
        ..
    }): State<AppState>,
    caller: Caller,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let Query(UploadQuery { name, sheet }) =
            query.map_err(|err| StayputError::BadRequest(err.body_text()))?;
        let limit = uploads.limit();
        let too_large = || {
            StayputError::from(IngestError::TooLarge {
                limit: UploadLimit::UploadMax,
                max_bytes: limit,
            })
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        // A text or Arrow file becomes a frame about its size: one larger than a session
        // may hold is refused before a byte is read (Parquet, which expands, is checked
        // against the quota once its size is known, before it is parsed), unless it can
        // be kept on disk (a CSV, an Arrow or a Parquet file, with a disk tier).
        let (limit_name, most) = cache.memory_limit();
        let expands = super::expands(&name);
        let on_disk = cache.has_disk() && super::may_go_on_disk(&name);
        if let Some(n) = declared.filter(|&n| !expands && !on_disk && n > most) {
            return Err(StayputError::from(stayput_cache::CacheError::TooLarge {
                needed: stayput_cache::ByteSize(n),
                limit: limit_name,
                budget: stayput_cache::ByteSize(most),
            }));
        }
        let session = caller.session().await?;
        let place = uploading.0.enter_session(session)?;
        let mut incoming = uploads.incoming(session, &name).map_err(StayputError::from)?;
        incoming.choose_sheet(sheet.filter(|s| !s.is_empty()));
        // A gzip'd chunk unpacks to up to 100 times its size, and a CSV parsed while it
        // arrives may wait for its worker: such a chunk runs off the runtime's workers.
        // Any other chunk is checked and written in place (handing each one to a
        // blocking thread cost more than the work).
        for_each_chunk(body, limit, limits.body_timeout, |chunk: Bytes| {
            if incoming.may_block(chunk.len()) {
                blocking_here(|| incoming.write(&chunk))
            } else {
                incoming.write(&chunk)
            }
        })
        .await
        .map_err(|fault| match fault {
            Ok(BodyFault::TooLarge) => too_large(),
            Ok(fault) => fault.into_error("the upload", limits.body_timeout),
            Err(err) => StayputError::from(err),
        })?;
        // Complete before waiting for a slot: a CSV parsed while it arrived gives back
        // its place among the parses as soon as its tail is written.
        blocking_here(|| incoming.complete()).map_err(StayputError::from)?;
        // Parsing is the heavy part: a file that will take a million values or more
        // takes a slot like any large job, held by the parse itself (a client that hangs
        // up does not free it while the parse runs on). Smaller files parse at once:
        // their memory is reserved all the same.
        let slot = heavy
            .admit(
                Some(session),
                Work::Parse {
                    name: &name,
                    bytes: incoming.bytes(),
                },
            )
            .await?;
        // The upload's place goes with its slot into the work: held until the sizing
        // and the parse end, though the client hangs up.
        Ok::<_, StayputError>(
            uploads
                .ingest_holding(&cache, session, incoming, (slot, place))
                .await?,
        )
    }
    .await;
    match result {
        Ok(handle) => Json(handle).into_response(),
        Err(err) => error_response(err),
    }
}

/// Writes what `frame` gives to `out` as Parquet or CSV, a batch at a time (polars'
/// streaming engine): a download of a frame larger than memory.
fn write_streamed(frame: LazyFrame, out: &mut impl std::io::Write, parquet: bool) -> PolarsResult<()> {
    let mut frame = frame;
    let schema = frame.collect_schema()?;
    if parquet {
        let mut writer = ParquetWriter::new(out).batched(&schema)?;
        stayput_data::streamed::for_each_batch(frame, |batch| writer.write_batch(&batch))?;
        writer.finish().map(drop)
    } else {
        let mut writer = CsvWriter::new(out).batched(&schema)?;
        stayput_data::streamed::for_each_batch(frame, |batch| writer.write_batch(&batch))?;
        writer.finish()
    }
}

/// Runs `work`, blocking file IO and CPU of one chunk, telling a multi-threaded runtime
/// first so that its other tasks move to another worker meanwhile (a single-threaded
/// runtime, as in-process tests run, has no other worker to move them to).
fn blocking_here<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Query of the download route.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    handle: String,
    format: String,
}

/// `GET /api/download?handle=…&format=csv|parquet`: the frame as a file, written to a
/// private scratch file and streamed from it. The one time data leaves the server,
/// because the user asked.
pub async fn download(
    State(AppState {
        cache,
        uploads,
        heavy,
        downloading,
        ..
    }): State<AppState>,
    caller: Caller,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let Query(DownloadQuery { handle, format }) =
            query.map_err(|err| StayputError::BadRequest(err.body_text()))?;
        let parquet = match format.as_str() {
            "csv" => false,
            "parquet" => true,
            _ => return Err(StayputError::BadRequest("format must be csv or parquet".into())),
        };
        let session = caller
            .existing_session()
            .await?
            .ok_or(StayputError::UnknownHandle)?;
        // A place among the downloads in progress (2 a session, as for uploads), held
        // until the file is streamed: a slow reader keeps its scratch bytes counted.
        let place = downloading.0.enter_session(session)?;
        let handle = FrameHandle {
            id: FrameId::from(handle),
            rows: 0,
            cols: 0,
            bytes: 0,
        };
        // A step that is gone is rebuilt from the kept files before it is written.
        let found = entry(&cache, session, &handle)?;

        let stem = chain_of(&cache, session, &handle)
            .map(|c| file_stem(&c.source.name))
            .unwrap_or_else(|_| "frame".to_owned());
        let slot = heavy.admit(Some(session), Work::ReadWhole(&found)).await?;
        // The frame is collected whole before it is written: its memory reserved first
        // (its size when it was made, or 8 bytes a value), held by the work itself with
        // the slot, so a client that hangs up does not free them while it runs.
        // A frame already in memory is collected without new memory (and reserving would
        // evict, maybe the frame itself): nothing to reserve then.
        // A frame larger than memory is written a batch at a time instead, by polars'
        // streaming engine: nothing of it held whole.
        let streamed = found.bytes > cache.memory_limit().1;
        let memory = if found.residence == stayput_cache::Residence::Memory || streamed {
            None
        } else {
            let bytes = found
                .bytes
                .max(found.rows.saturating_mul(found.cols).saturating_mul(8));
            Some(cache.reserve(session, bytes).await?)
        };
        let frame = lazy_of(&cache, &uploads, session, &handle).await?;
        let (file, held) = blocking(move || {
            let _held_while_working = (slot, memory);
            // Counted in the uploads budget as it is written: stops when the room runs out.
            let mut file = uploads.scratch().map_err(StayputError::from)?;
            let written = if streamed {
                write_streamed(frame, &mut file, parquet)
            } else {
                let mut frame = frame.collect().map_err(StepError::from)?;
                if parquet {
                    ParquetWriter::new(&mut file).finish(&mut frame).map(drop)
                } else {
                    CsvWriter::new(&mut file).finish(&mut frame)
                }
            };
            if let Err(err) = written {
                tracing::warn!(%err, "download");
                return Err(match file.refused() {
                    Some(refused) => StayputError::from(refused.clone()),
                    None => StayputError::Storage("download".into()),
                });
            }
            file.into_parts()
                .map_err(|_| StayputError::Storage("download".into()))
        })
        .await?;
        let length = file.metadata().map(|m| m.len()).unwrap_or(0);
        let (ext, mime) = if parquet {
            ("parquet", "application/vnd.apache.parquet")
        } else {
            ("csv", "text/csv; charset=utf-8")
        };
        Ok::<_, StayputError>((file, (held, place), length, format!("{stem}.{ext}"), mime))
    }
    .await;
    match result {
        Ok((file, held, length, name, mime)) => {
            let file = tokio::fs::File::from_std(file);
            // Fused: a layer may poll the body again after its end. The scratch file's
            // budget bytes (`held`) go with the stream: back when it ends or is dropped.
            let chunks = futures::StreamExt::fuse(futures::stream::unfold(
                (file, held),
                |(mut file, held)| async move {
                    let mut buffer = vec![0u8; 256 * 1024];
                    match file.read(&mut buffer).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buffer.truncate(n);
                            Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), (file, held)))
                        }
                        Err(err) => Some((Err(err), (file, held))),
                    }
                },
            ));
            (
                [
                    (header::CONTENT_TYPE, mime.to_owned()),
                    (header::CONTENT_LENGTH, length.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                Body::from_stream(chunks),
            )
                .into_response()
        }
        Err(err) => error_response(err),
    }
}

/// A safe file stem from an uploaded name: letters, digits, `-` and `_` only.
fn file_stem(name: &str) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if clean.is_empty() {
        "data".to_owned()
    } else {
        clean
    }
}

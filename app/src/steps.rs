//! The benchmark's two steps, sent on one WebSocket the page keeps open
//! ([`crate::api::bench_steps`]), with the HTTP server functions as the fallback when
//! there is no socket (not open yet, closed, refused by a proxy).

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use leptos::prelude::*;
use leptos::server_fn::BoxedStream;
use leptos::task::spawn_local;

use crate::api::{bench_steps, create_frame, frame_mean, start_session};
use crate::contract::benchmark::{Step, StepReply};
use crate::contract::StayputError;

/// An open channel: steps go out on `steps`, their replies come back in order.
struct Channel {
    steps: mpsc::Sender<Result<Step, StayputError>>,
    replies: BoxedStream<StepReply, StayputError>,
}

/// The socket is gone; the step was not answered.
struct Closed;

impl Channel {
    async fn open() -> Result<Self, StayputError> {
        // The socket shares the page's session: make sure there is one (and its cookie).
        start_session().await?;
        let (steps, outgoing) = mpsc::channel(1);
        let replies = bench_steps(outgoing.into()).await?;
        Ok(Self { steps, replies })
    }

    async fn call(&mut self, step: Step) -> Result<Result<StepReply, StayputError>, Closed> {
        self.steps.send(Ok(step)).await.map_err(|_| Closed)?;
        match self.replies.next().await {
            // The server never sends `Network`: it is the socket failing on this side.
            None | Some(Err(StayputError::Network(_))) => Err(Closed),
            Some(reply) => Ok(reply),
        }
    }
}

/// The page's channel, if one is open, and whether it is (for the page's
/// `data-steps` hook). Owned by the page: leaving it closes the socket.
#[derive(Clone, Copy)]
pub(crate) struct Steps {
    channel: StoredValue<Option<Channel>, LocalStorage>,
    open: RwSignal<bool>,
}

impl Steps {
    /// No channel yet; call [`Steps::connect`] once the page runs in the browser.
    pub(crate) fn new() -> Self {
        Self {
            channel: StoredValue::new_local(None),
            open: RwSignal::new(false),
        }
    }

    /// Whether steps go on the socket now (else over HTTP).
    pub(crate) fn on_socket(self) -> bool {
        self.open.get()
    }

    /// Opens the channel in the background; until it is open, steps go over HTTP.
    pub(crate) fn connect(self) {
        spawn_local(async move {
            match Channel::open().await {
                Ok(channel) => {
                    self.channel.set_value(Some(channel));
                    self.open.set(true);
                }
                Err(err) => leptos::logging::warn!("benchmark steps go over HTTP: {err}"),
            }
        });
    }

    /// Runs `step` on the channel, or as its HTTP server function when there is none.
    /// A step that fails on the server is an error either way; a closed socket is not:
    /// the step goes over HTTP and the channel is opened again for the next one.
    pub(crate) async fn run(self, step: Step) -> Result<StepReply, StayputError> {
        if let Some(mut channel) = self.channel.try_update_value(Option::take).flatten() {
            match channel.call(step.clone()).await {
                Ok(reply) => {
                    self.channel.set_value(Some(channel));
                    return reply;
                }
                Err(Closed) => {
                    self.open.set(false);
                    self.connect();
                }
            }
        }
        match step {
            Step::Create { rows, replaces } => create_frame(rows, replaces).await.map(StepReply::Created),
            Step::Mean { handle } => frame_mean(handle).await.map(StepReply::Mean),
        }
    }
}

impl Default for Steps {
    fn default() -> Self {
        Self::new()
    }
}

//! The benchmark's two steps and `/explore`'s figure requests, sent on one WebSocket
//! the page keeps open ([`STEPS_PATH`], served by `crate::server::steps_socket`), with
//! the HTTP server functions as the fallback when there is no socket (not open yet,
//! closed, refused by a proxy).
//!
//! The socket shares the page's session: the page makes sure there is one
//! ([`start_session`]) before opening it, and its cookie goes with the upgrade. A
//! message on an open socket costs under 1 ms where a `fetch` costs 4–8 ms in Chromium.

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;

use crate::api::{create_frame, explore_figure, frame_mean, start_session};
#[cfg(doc)]
use crate::contract::benchmark::STEPS_PATH;
use crate::contract::benchmark::{Step, StepReply};
use crate::contract::StayputError;

/// Why a step was not answered on the socket (it then goes over HTTP).
enum Closed {
    /// Still connecting: the channel stays, the next step tries it again. (Only a
    /// browser's socket connects.)
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    Connecting,
    /// Gone: a new channel is opened for the next step.
    Gone,
}

/// An open socket: one step out, its reply back.
#[cfg(target_arch = "wasm32")]
struct Channel {
    socket: gloo_net::websocket::futures::WebSocket,
}

#[cfg(target_arch = "wasm32")]
impl Channel {
    async fn open() -> Result<Self, StayputError> {
        start_session().await?;
        let location = web_sys::window()
            .map(|w| w.location())
            .ok_or_else(|| StayputError::Network("no window".into()))?;
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location
            .host()
            .map_err(|_| StayputError::Network("no host".into()))?;
        let url = format!("{scheme}://{host}{}", crate::contract::benchmark::STEPS_PATH);
        let socket = gloo_net::websocket::futures::WebSocket::open(&url)
            .map_err(|err| StayputError::Network(err.to_string()))?;
        Ok(Self { socket })
    }

    async fn call(&mut self, step: Step) -> Result<Result<StepReply, StayputError>, Closed> {
        use futures::{SinkExt, StreamExt};
        use gloo_net::websocket::Message;
        use gloo_net::websocket::State;
        // Only an open socket is written to: gloo-net's sink waits for the `open` event,
        // and a socket closed while connecting (no `error` event) would never wake it.
        match self.socket.state() {
            State::Open => {}
            State::Connecting => return Err(Closed::Connecting),
            State::Closing | State::Closed => return Err(Closed::Gone),
        }
        let text = serde_json::to_string(&step).map_err(|_| Closed::Gone)?;
        self.socket
            .send(Message::Text(text))
            .await
            .map_err(|_| Closed::Gone)?;
        match self.socket.next().await {
            Some(Ok(Message::Text(reply))) => serde_json::from_str(&reply).map_err(|_| Closed::Gone),
            _ => Err(Closed::Gone),
        }
    }
}

/// Off the browser there is no socket: every step goes over HTTP.
#[cfg(not(target_arch = "wasm32"))]
struct Channel;

#[cfg(not(target_arch = "wasm32"))]
impl Channel {
    async fn open() -> Result<Self, StayputError> {
        start_session().await?;
        Err(StayputError::Network("no WebSocket outside the browser".into()))
    }

    async fn call(&mut self, _step: Step) -> Result<Result<StepReply, StayputError>, Closed> {
        Err(Closed::Gone)
    }
}

/// The page's channel, if one is open, and whether it is (for the page's
/// `data-steps` hook). Owned by the page: leaving it closes the socket.
#[derive(Clone, Copy)]
pub(crate) struct Steps {
    /// Only ever `Some` in the browser (one thread). A `Send` value holding the wrapper
    /// only around a `Some`: a `new_local` value is wrapped on the server too, and its
    /// wrapper dropped on another server thread after rendering panics.
    channel: StoredValue<Option<SendWrapper<Channel>>>,
    open: RwSignal<bool>,
}

impl Steps {
    /// No channel yet; call [`Steps::connect`] once the page runs in the browser.
    pub(crate) fn new() -> Self {
        Self {
            channel: StoredValue::new(None),
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
                    self.channel.set_value(Some(SendWrapper::new(channel)));
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
                Err(Closed::Connecting) => self.channel.set_value(Some(channel)),
                Err(Closed::Gone) => {
                    self.open.set(false);
                    self.connect();
                }
            }
        }
        match step {
            Step::Create { rows, replaces } => create_frame(rows, replaces).await.map(StepReply::Created),
            Step::Mean { handle } => frame_mean(handle).await.map(StepReply::Mean),
            Step::Figure {
                handle,
                x,
                y,
                kind,
                x_min,
                x_max,
                width,
            } => explore_figure(handle, x, y, kind, x_min, x_max, width)
                .await
                .map(StepReply::Figure),
        }
    }
}

impl Default for Steps {
    fn default() -> Self {
        Self::new()
    }
}

//! `GET /api/v1/builds/{id}/logs/stream`: Server-Sent Events. Every stored line after
//! `?after=` (or the `Last-Event-ID` header) as a `log` event (`id`: its sequence number,
//! `data`: the line as JSON), then new lines as they are written, and an `end` event with the
//! build's final status once it finished and every line was sent (or a `shutdown` event when
//! the server stops first).

use lockgate_model::ErrorReport;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use super::auth::Viewer;
use super::builds::{LogQuery, build_id};
use super::error::ApiResult;
use super::wire::{self, event};
use super::{AppState, Q};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use lockgate_store::Store;

/// An event of name `name` with `data` as JSON.
fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_default())
}

/// How often the store is polled for new lines.
const POLL: Duration = Duration::from_millis(200);

struct Follow {
    store: Store,
    build: i64,
    after: i64,
    queue: VecDeque<Event>,
    ended: bool,
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// Follow a build's log live (Server-Sent Events).
///
/// Sends every stored line as an event `log` (`id`: its sequence number, `data`: a
/// `LogLine`), then new lines as they are written, then one event `end` (`data`: a
/// `StreamEnd`) once the build finished, and closes. A reconnecting client resumes with
/// `Last-Event-ID` (or `?after=`). When the server stops first, the stream ends with an event
/// `shutdown` (`data`: a `StreamShutdown`); when it cannot read the build, with an event
/// `error` (`data`: an `ErrorBody`).
#[utoipa::path(get, path = "/api/v1/builds/{id}/logs/stream", tag = "builds",
    params(("id" = i64, Path, description = "Build id."),
           ("after" = Option<i64>, Query, description = "Start after this sequence number."),
           ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this sequence number (wins over `after`).")),
    responses(
        (status = 200, description = "The event stream.", body = String, content_type = "text/event-stream"),
        (status = 400, description = "The id is not a number.", body = wire::ErrorBody),
        (status = 404, description = "No such build.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn stream(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Q(q): Q<LogQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = build_id(&id)?;
    let store = state.scheduler.store().clone();
    store.build(id).await?;
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let follow = Follow {
        store,
        build: id,
        after: last_event.or(q.after).unwrap_or(0).max(0),
        queue: VecDeque::new(),
        ended: false,
        stopping: state.shutdown.subscribe(),
    };
    let events = futures::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.queue.pop_front() {
                return Some((Ok(event), f));
            }
            if f.ended {
                return None;
            }
            if *f.stopping.borrow() {
                f.ended = true;
                f.queue.push_back(json_event(
                    event::SHUTDOWN,
                    &wire::StreamShutdown { build_id: f.build },
                ));
                continue;
            }
            // Read the status before the lines: a build that finished has written them all.
            let finished = match f.store.build(f.build).await {
                Ok(b) => b.status.is_finished().then_some(b.status),
                Err(e) => {
                    f.ended = true;
                    f.queue.push_back(json_event(
                        event::ERROR,
                        &wire::ErrorBody {
                            error: e.report().to_string(),
                        },
                    ));
                    continue;
                }
            };
            match f.store.logs(f.build, f.after, 500).await {
                Ok(lines) if !lines.is_empty() => {
                    for l in &lines {
                        f.after = l.seq;
                        f.queue.push_back(
                            json_event(event::LOG, &wire::LogLine::from(l)).id(l.seq.to_string()),
                        );
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    f.ended = true;
                    f.queue.push_back(json_event(
                        event::ERROR,
                        &wire::ErrorBody {
                            error: e.report().to_string(),
                        },
                    ));
                    continue;
                }
            }
            if let Some(status) = finished {
                f.ended = true;
                f.queue.push_back(json_event(
                    event::END,
                    &wire::StreamEnd {
                        build_id: f.build,
                        status,
                    },
                ));
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = f.stopping.changed() => {}
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

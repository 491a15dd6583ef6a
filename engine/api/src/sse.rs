//! `GET /api/v1/builds/{id}/logs/stream`: Server-Sent Events. Every stored line after
//! `?after=` (or the `Last-Event-ID` header) as a `log` event (`id`: its sequence number,
//! `data`: the line as JSON), then new lines as they are written, and an `end` event with the
//! build's final status once it finished and every line was sent (or a `shutdown` event when
//! the server stops first).

use lockgate_model::ErrorReport;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;

use super::auth::Viewer;
use super::builds::{LogQuery, build_id, log_json};
use super::error::ApiResult;
use super::{AppState, Q};
use lockgate_store::Store;

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

/// The handler.
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
                f.queue.push_back(
                    Event::default()
                        .event("shutdown")
                        .data(json!({"build_id": f.build}).to_string()),
                );
                continue;
            }
            // Read the status before the lines: a build that finished has written them all.
            let finished = match f.store.build(f.build).await {
                Ok(b) => b.status.is_finished().then_some(b.status),
                Err(e) => {
                    f.ended = true;
                    f.queue.push_back(
                        Event::default()
                            .event("error")
                            .data(json!({"error": e.report().to_string()}).to_string()),
                    );
                    continue;
                }
            };
            match f.store.logs(f.build, f.after, 500).await {
                Ok(lines) if !lines.is_empty() => {
                    for l in &lines {
                        f.after = l.seq;
                        f.queue.push_back(
                            Event::default()
                                .event("log")
                                .id(l.seq.to_string())
                                .data(log_json(l).to_string()),
                        );
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    f.ended = true;
                    f.queue.push_back(
                        Event::default()
                            .event("error")
                            .data(json!({"error": e.report().to_string()}).to_string()),
                    );
                    continue;
                }
            }
            if let Some(status) = finished {
                f.ended = true;
                f.queue.push_back(
                    Event::default()
                        .event("end")
                        .data(json!({"build_id": f.build, "status": status.as_str()}).to_string()),
                );
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

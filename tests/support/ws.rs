//! A WebSocket client for the chat feed, as an app or a browser would use it.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How a client presents its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth<'a> {
    None,
    /// `Authorization: Bearer <token>`
    Header(&'a str),
    /// `Sec-WebSocket-Protocol: lms.chat.v1, bearer.<token>` (what a browser can send).
    Subprotocol(&'a str),
}

pub struct ChatSocket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
}

/// What happened to a socket that was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Json(Value),
    Closed(Option<u16>),
    Timeout,
}

/// Opens `/api/v1/courses/{course}/chat/ws` on the app at `base` (`http://host:port`). On a refused
/// handshake, the HTTP status and body.
pub async fn connect(
    base: &str,
    course_id: i64,
    auth: Auth<'_>,
    since_seq: Option<i64>,
) -> Result<ChatSocket, (u16, String)> {
    let mut url = format!(
        "{}/api/v1/courses/{course_id}/chat/ws",
        base.replacen("http://", "ws://", 1)
    );
    if let Some(since) = since_seq {
        url.push_str(&format!("?since_seq={since}"));
    }
    let mut request = url.into_client_request().expect("a WebSocket request");
    let headers = request.headers_mut();
    match auth {
        Auth::None => {}
        Auth::Header(token) => {
            headers.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
            );
        }
        Auth::Subprotocol(token) => {
            headers.insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(&format!("lms.chat.v1, bearer.{token}")).expect("header"),
            );
        }
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((stream, response)) => Ok(ChatSocket {
            stream,
            protocol: response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }),
        Err(Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((status, body))
        }
        Err(other) => panic!("WebSocket handshake failed: {other}"),
    }
}

impl ChatSocket {
    /// The next JSON frame, the close, or a timeout.
    pub async fn next(&mut self, wait: Duration) -> Next {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Err(_) => return Next::Timeout,
                Ok(None) | Ok(Some(Err(_))) => return Next::Closed(None),
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Next::Json(serde_json::from_str(&text).expect("JSON frame"));
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Next::Closed(frame.map(|f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next JSON frame; panics on a close or after `wait`.
    pub async fn json(&mut self, wait: Duration) -> Value {
        match self.next(wait).await {
            Next::Json(v) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Waits for the `ready` frame and returns its `last_seq`; returns the events sent before it.
    pub async fn ready(&mut self) -> (Vec<Value>, i64) {
        let mut events = Vec::new();
        loop {
            let frame = self.json(Duration::from_secs(10)).await;
            if frame["type"] == "ready" {
                return (events, frame["last_seq"].as_i64().expect("last_seq"));
            }
            events.push(frame);
        }
    }

    /// Reads events until one has `seq >= until` (panics after `wait` without progress).
    pub async fn events_until(&mut self, until: i64, wait: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while events
            .last()
            .and_then(|e: &Value| e["seq"].as_i64())
            .is_none_or(|s| s < until)
        {
            events.push(self.json(wait).await);
        }
        events
    }

    pub async fn close(mut self) {
        let _ = self.stream.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.stream.next().await.is_some() {}
        })
        .await;
    }
}

//! A minimal keep-alive HTTP/1.1 client for GET requests, for the load generator of read benchmarks.
//!
//! The load generator shares the 2 cores with the server and the database, so what it spends per
//! request is taken from them: reqwest (header maps, connection pool, body streams) costs several times
//! what pgbench spends per query. This client writes one request per round trip on its own connection
//! and parses the answer with `httparse` (hyper's own parser); answers must carry `Content-Length` (the
//! API's do) or have no body (304).
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Connection {
    stream: TcpStream,
    host: String,
    buffer: Vec<u8>,
}

impl Connection {
    /// Connects to `base` (`http://host:port`).
    pub async fn open(base: &str) -> anyhow::Result<Self> {
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("not an http:// URL: {base}"))?
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// GET `path` with the given extra headers; answers the status and the body's length.
    pub async fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, usize)> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in headers {
            request.push_str(name);
            request.push_str(": ");
            request.push_str(value);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        self.buffer.clear();
        loop {
            let mut parsed_headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut parsed_headers);
            if let httparse::Status::Complete(head) = response.parse(&self.buffer)? {
                let status = response.code.unwrap_or(0);
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .unwrap_or(0usize);
                while self.buffer.len() < head + length {
                    self.read_more().await?;
                }
                anyhow::ensure!(
                    self.buffer.len() == head + length,
                    "bytes after the answer: this client sends one request at a time"
                );
                return Ok((status, length));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        let start = self.buffer.len();
        self.buffer.resize(start + 16 * 1024, 0);
        let n = self.stream.read(&mut self.buffer[start..]).await?;
        self.buffer.truncate(start + n);
        anyhow::ensure!(n > 0, "the server closed the connection");
        Ok(())
    }
}

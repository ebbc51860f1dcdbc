//! The demo API's TCP listener: a large accept backlog, TCP_NODELAY on every
//! connection, and connections that can be cut off at once when a graceful
//! shutdown takes too long.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Listen backlog asked for (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 16_384;

/// Binds with a large backlog, so that thousands of clients connecting at
/// once are not dropped at the SYN queue.
pub(super) async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The TCP listener the demo API accepts on: sets TCP_NODELAY on every
/// connection and wraps it so that the hard stop can drop it.
pub(super) struct DemoListener {
    inner: TcpListener,
    hard_stop: CancellationToken,
}

impl DemoListener {
    /// Wraps a bound listener; cancelling `hard_stop` cuts off every
    /// connection it has accepted.
    pub(super) fn new(inner: TcpListener, hard_stop: CancellationToken) -> Self {
        Self { inner, hard_stop }
    }
}

impl Listener for DemoListener {
    type Io = StoppableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Best effort: a connection without it still works.
                    let _ = stream.set_nodelay(true);
                    let stream = StoppableStream {
                        inner: stream,
                        stop: Box::pin(self.hard_stop.clone().cancelled_owned()),
                    };
                    return (stream, addr);
                }
                // The peer gave up before we accepted: try the next one.
                Err(e) if is_connection_error(&e) => continue,
                // Out of file descriptors or similar: back off a little
                // instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A connection that fails every read and write once the hard stop is
/// cancelled, so hyper drops it even if the peer is stalled.
///
/// The stop future is only polled when the socket itself has nothing to do,
/// which keeps the busy path as lean as a bare `TcpStream`.
pub(super) struct StoppableStream {
    inner: TcpStream,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl StoppableStream {
    fn check_stop<T>(
        &mut self,
        cx: &mut Context<'_>,
        inner: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match inner {
            Poll::Pending => match self.stop.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "demo API shutting down",
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }
}

impl AsyncRead for StoppableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.check_stop(cx, inner)
    }
}

impl AsyncWrite for StoppableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.check_stop(cx, inner)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.check_stop(cx, inner)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner).poll_flush(cx);
        this.check_stop(cx, inner)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.check_stop(cx, inner)
    }
}

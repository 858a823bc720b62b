//! A session's command channel, read only after something was sent.
//!
//! A session waits on its commands and its device's notifications together, and is woken
//! mostly by notifications (thousands a second across a fleet). Polling an `mpsc::Receiver` on
//! every such wake reads the channel's shared state and its current block, which with a
//! thousand sessions are never in cache. The receiver here is polled with a waker of its own
//! that records the send before waking the task, so a wake by anything else costs one flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use futures::task::{ArcWake, AtomicWaker};
use tokio::sync::mpsc;

pub(crate) struct Inbox<T> {
    rx: mpsc::Receiver<T>,
    signal: Arc<Signal>,
    /// `signal` as a waker, made once: the channel keeps it until the next send.
    waker: Waker,
}

struct Signal {
    /// Set by the channel's wake; the receiver is polled only while it is set.
    sent: AtomicBool,
    /// The task to wake, as of its latest poll.
    task: AtomicWaker,
}

impl ArcWake for Signal {
    fn wake_by_ref(signal: &Arc<Self>) {
        signal.sent.store(true, Ordering::Release);
        signal.task.wake();
    }
}

impl<T> Inbox<T> {
    pub(crate) fn new(rx: mpsc::Receiver<T>) -> Inbox<T> {
        let signal = Arc::new(Signal {
            // The receiver has registered no waker yet: the first poll must reach it.
            sent: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = futures::task::waker(signal.clone());
        Inbox { rx, signal, waker }
    }

    /// The next command; None once every sender is gone. Cancel-safe, as `mpsc::Receiver::recv`.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // Registered before the flag is read: a send after the read wakes this task.
        self.signal.task.register(cx.waker());
        if !self.signal.sent.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = self.rx.poll_recv(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            // More may be queued, and the channel holds no waker until it says Pending again.
            self.signal.sent.store(true, Ordering::Release);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::time::Duration;

    #[tokio::test]
    async fn every_command_arrives_in_order_whenever_it_is_sent() {
        let (tx, rx) = mpsc::channel(4);
        let mut inbox = Inbox::new(rx);
        assert!(inbox.recv().now_or_never().is_none(), "nothing sent yet");
        // A send while the receiver waits wakes it.
        let sender = tokio::spawn({
            let tx = tx.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                tx.send(1).await.expect("open");
            }
        });
        assert_eq!(inbox.recv().await, Some(1));
        sender.await.expect("sender");
        // Several queued between two polls all come out, in order.
        for n in 2..=4 {
            tx.send(n).await.expect("open");
        }
        for n in 2..=4 {
            assert_eq!(inbox.recv().now_or_never(), Some(Some(n)));
        }
        assert!(inbox.recv().now_or_never().is_none(), "drained");
        drop(tx);
        assert_eq!(inbox.recv().await, None, "every sender gone");
    }

    #[tokio::test]
    async fn a_wait_abandoned_by_select_loses_nothing() {
        let (tx, rx) = mpsc::channel(1024);
        let mut inbox = Inbox::new(rx);
        let sender = tokio::spawn(async move {
            for n in 0..1000u32 {
                tx.send(n).await.expect("open");
                if n % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut got = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(50));
        let received = async {
            while got.len() < 1000 {
                tokio::select! {
                    n = inbox.recv() => got.push(n.expect("open until all are sent")),
                    _ = tick.tick() => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), received)
            .await
            .expect("a sent command was never received");
        sender.await.expect("sender");
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
}

//! The click writer: takes clicks off the queue and writes them in multi-row batches, so a burst of
//! redirects costs a few transactions instead of one each. A batch that fails is kept and retried;
//! a flush (shutdown, tests) returns once everything queued before it is written.

use super::Command;
use crate::store::tracking::{insert_clicks, NewClick};
use crate::store::Db;
use std::time::Duration;
use tokio::sync::mpsc;

const BATCH: usize = 1_000;
/// How long a click may wait for companions before its batch is written.
const LINGER: Duration = Duration::from_millis(100);
/// Attempts of a whole batch before it is written click by click (about a minute of backoff).
const RETRIES: u32 = 16;

pub struct Writer {
    db: Db,
    receiver: mpsc::Receiver<Command>,
}

impl Writer {
    pub(crate) fn new(db: Db, receiver: mpsc::Receiver<Command>) -> Self {
        Self { db, receiver }
    }

    pub async fn run(mut self) {
        let mut batch: Vec<NewClick> = Vec::with_capacity(BATCH);
        loop {
            let mut flushes = Vec::new();
            // Wait for work, then let a burst gather: waiting in `recv` instead would wake this
            // task (a thread hop) for every click.
            match self.receiver.recv().await {
                None => {
                    self.write(&mut batch).await;
                    return;
                }
                Some(Command::Click(click)) => batch.push(click),
                Some(Command::Flush(done)) => flushes.push(done),
            }
            if flushes.is_empty() {
                tokio::time::sleep(LINGER).await;
            }
            // Then write everything queued, a batch at a time, before sleeping again. The queue is
            // first in, first out, so a flush taken here has every click queued before it in this
            // batch or an earlier one, and is answered once they are written.
            loop {
                while batch.len() < BATCH {
                    match self.receiver.try_recv() {
                        Ok(Command::Click(click)) => batch.push(click),
                        Ok(Command::Flush(done)) => flushes.push(done),
                        Err(_) => break,
                    }
                }
                let full = batch.len() == BATCH;
                self.write(&mut batch).await;
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
                if !full {
                    break;
                }
            }
        }
    }

    /// Writes the batch, retrying with backoff (about a minute) so a click survives the database
    /// being briefly unavailable. A batch still refused after that is written click by click, and
    /// only a click the database itself rejects (its affiliate was deleted meanwhile) is dropped,
    /// so one bad row never blocks the rest.
    async fn write(&self, batch: &mut Vec<NewClick>) {
        let mut delay = Duration::from_millis(100);
        for _ in 0..RETRIES {
            match insert_clicks(&self.db, batch).await {
                Ok(_) => {
                    batch.clear();
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, clicks = batch.len(), "could not write clicks; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        for click in batch.drain(..) {
            if let Err(error) = insert_clicks(&self.db, std::slice::from_ref(&click)).await {
                tracing::error!(%error, affiliate = %click.affiliate_id, "a click could not be recorded");
            }
        }
    }
}

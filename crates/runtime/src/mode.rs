//! The operator's hand on one server: run, pause, drain, stop. The driver looks at it only at
//! step boundaries, so a call in flight always finishes and is persisted first.

use tokio::sync::watch;

/// What a server should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Work: finish this number, lease the next.
    Run,
    /// Hold at the next step boundary until resumed; the binding stays as it is.
    Pause,
    /// Finish the current number, then stay idle.
    Drain,
    /// The process is shutting down: stop at the next step boundary, leave the binding for
    /// recovery.
    Stop,
}

/// The sending side, held by whoever controls the server.
#[derive(Debug, Clone)]
pub struct ModeSwitch(watch::Sender<Mode>);

/// The receiving side, held by the driver. It also remembers which mode the server's row was
/// last moved for (`PAUSED`, `DRAINING`), so that leaving it is recorded too without reading
/// the row at every step.
#[derive(Debug, Clone)]
pub struct ModeWatch {
    rx: watch::Receiver<Mode>,
    recorded: Mode,
}

/// The driver was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server was told to stop")]
pub struct Stopped;

pub fn channel() -> (ModeSwitch, ModeWatch) {
    let (tx, rx) = watch::channel(Mode::Run);
    (
        ModeSwitch(tx),
        ModeWatch {
            rx,
            recorded: Mode::Run,
        },
    )
}

impl ModeSwitch {
    pub fn set(&self, mode: Mode) {
        self.0.send_replace(mode);
    }
    pub fn get(&self) -> Mode {
        *self.0.borrow()
    }
}

impl ModeWatch {
    /// The mode the server's row was last moved for.
    pub fn recorded(&self) -> Mode {
        self.recorded
    }

    pub fn set_recorded(&mut self, mode: Mode) {
        self.recorded = mode;
    }

    pub fn get(&self) -> Mode {
        *self.rx.borrow()
    }

    /// A step boundary: returns at once when running or draining, waits while paused, and
    /// says `Stopped` when the process is shutting down.
    pub async fn checkpoint(&mut self) -> Result<(), Stopped> {
        loop {
            match *self.rx.borrow_and_update() {
                Mode::Run | Mode::Drain => return Ok(()),
                Mode::Stop => return Err(Stopped),
                Mode::Pause => {}
            }
            // The sender lives as long as the server; if it is gone, the process is going.
            if self.rx.changed().await.is_err() {
                return Err(Stopped);
            }
        }
    }

    /// Waits for the next change of mode; `Stopped` if the switch is gone.
    pub async fn wait_changed(&mut self) -> Result<(), Stopped> {
        self.rx.changed().await.map_err(|_| Stopped)?;
        if self.get() == Mode::Stop {
            return Err(Stopped);
        }
        Ok(())
    }

    /// Returns once the process is told to stop (to race against a long wait).
    pub async fn wait_for_stop(&mut self) -> Stopped {
        loop {
            if self.get() == Mode::Stop {
                return Stopped;
            }
            if self.rx.changed().await.is_err() {
                return Stopped;
            }
        }
    }

    /// Sleeps, but wakes early (with `Stopped`) when told to stop.
    pub async fn sleep(&mut self, duration: std::time::Duration) -> Result<(), Stopped> {
        let deadline = tokio::time::Instant::now() + duration;
        loop {
            if self.get() == Mode::Stop {
                return Err(Stopped);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(()),
                changed = self.rx.changed() => if changed.is_err() { return Err(Stopped) },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pause_holds_until_resume_and_stop_interrupts() {
        let (switch, mut watch) = channel();
        assert_eq!(watch.checkpoint().await, Ok(()));
        switch.set(Mode::Pause);
        let waiter = tokio::spawn(async move {
            let r = watch.checkpoint().await;
            (r, watch)
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !waiter.is_finished(),
            "a paused server must not take a step"
        );
        switch.set(Mode::Run);
        let (r, mut watch) = waiter.await.unwrap();
        assert_eq!(r, Ok(()));
        switch.set(Mode::Stop);
        assert_eq!(watch.checkpoint().await, Err(Stopped));
        assert_eq!(watch.sleep(Duration::from_secs(5)).await, Err(Stopped));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_wakes_early_on_stop() {
        let (switch, mut watch) = channel();
        let sleeper = tokio::spawn(async move { watch.sleep(Duration::from_secs(3600)).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        switch.set(Mode::Stop);
        assert_eq!(sleeper.await.unwrap(), Err(Stopped));
    }
}

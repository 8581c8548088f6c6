//! A small pool of ready-made network namespaces (loopback up), filled by one
//! dedicated thread, so a container start joins one with `setns` instead of
//! paying the kernel's ~2-3 ms to create it (see `skiff_sys::netns`).
//! Empty pool (a burst of starts): the keeper creates the namespace in clone3
//! as before, so the pool only ever makes starts faster.

use std::os::fd::OwnedFd;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

pub struct NetnsPool {
    ready: Mutex<Receiver<OwnedFd>>,
}

impl NetnsPool {
    /// Starts the filler thread, keeping up to `size` namespaces ready.
    pub fn start(size: usize) -> Option<NetnsPool> {
        let (tx, rx) = sync_channel(size);
        let filler = std::thread::Builder::new()
            .name("netns-pool".into())
            .spawn(move || loop {
                match skiff_sys::netns::create_detached() {
                    // Blocks while the pool is full; ends when the daemon drops the pool.
                    Ok(fd) => {
                        if tx.send(fd).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // This thread may now sit in the wrong namespace: stop using it.
                        eprintln!("skiff daemon: network namespace pool stopped: {e}");
                        return;
                    }
                }
            });
        filler.ok().map(|_| NetnsPool {
            ready: Mutex::new(rx),
        })
    }

    /// A ready namespace, if one is waiting.
    pub fn take(&self) -> Option<OwnedFd> {
        self.ready.lock().ok()?.try_recv().ok()
    }
}

//! One token store for every driver: the access token calls to one API
//! share, refreshed once however many calls hit 401 together.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::outcome::Refresh;

/// The token calls to one API share, with single-flight refresh: when
/// several calls hit 401 together, the first refreshes and the others wait
/// for it, then go on with its token.
///
/// Remember the generation [`current`](Self::current) gave you with the
/// token you sent; on a 401, refresh with that generation. A refresh for a
/// generation that is no longer current has already been done by another
/// caller and returns at once. Blocking code refreshes with
/// [`refresh`](Self::refresh), async code with
/// [`refresh_async`](Self::refresh_async) (feature `tokio`); both may share
/// one store. A refresh whose caller panics or is dropped mid-fetch lets
/// the next waiter fetch instead: nothing stays locked.
#[derive(Debug)]
pub struct TokenStore<T> {
    slot: Mutex<Slot<T>>,
    /// Wakes blocking waiters when a refresh lands or is abandoned.
    landed: Condvar,
    /// Wakes async waiters likewise.
    #[cfg(feature = "tokio")]
    notify: tokio::sync::Notify,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u64,
    token: T,
    /// A caller is fetching a new token.
    refreshing: bool,
}

impl<T: Default> Default for TokenStore<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> TokenStore<T> {
    /// A store holding `token` as generation 0.
    pub fn new(token: T) -> Self {
        Self {
            slot: Mutex::new(Slot {
                generation: 0,
                token,
                refreshing: false,
            }),
            landed: Condvar::new(),
            #[cfg(feature = "tokio")]
            notify: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the caller that saw `seen` should fetch: `Err` when another
    /// caller already refreshed, `Ok(true)` when it may fetch now (and is
    /// marked as the one fetching), `Ok(false)` when a fetch is under way.
    fn claim(slot: &mut Slot<T>, seen: u64) -> Result<bool, Refresh> {
        if slot.generation != seen {
            Err(Refresh::Refreshed)
        } else if slot.refreshing {
            Ok(false)
        } else {
            slot.refreshing = true;
            Ok(true)
        }
    }

    fn wake(&self) {
        self.landed.notify_all();
        #[cfg(feature = "tokio")]
        self.notify.notify_waiters();
    }
}

impl<T: Clone> TokenStore<T> {
    /// The current token and its generation.
    pub fn current(&self) -> (u64, T) {
        let slot = self.lock();
        (slot.generation, slot.token.clone())
    }

    /// Refreshes the token if it is still generation `seen`, with `fetch`;
    /// if another caller refreshed it meanwhile, returns at once; if one is
    /// refreshing it now, waits for that.
    pub fn refresh(&self, seen: u64, fetch: impl FnOnce() -> Option<T>) -> Refresh {
        let mut slot = self.lock();
        loop {
            match Self::claim(&mut slot, seen) {
                Err(done) => return done,
                Ok(true) => break,
                Ok(false) => {
                    slot = self
                        .landed
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        drop(slot);
        let flight = Flight(self);
        flight.land(fetch())
    }

    /// [`refresh`](Self::refresh) for async code: `fetch` is awaited, and so
    /// is another caller's refresh under way.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn refresh_async<F>(&self, seen: u64, fetch: F) -> Refresh
    where
        F: core::future::Future<Output = Option<T>>,
    {
        loop {
            // Registered before the check, so a landing in between is seen.
            let notified = self.notify.notified();
            let mut notified = core::pin::pin!(notified);
            notified.as_mut().enable();
            // The guard must be gone before the await: the fetching task
            // needs the lock to land.
            let claimed = Self::claim(&mut self.lock(), seen);
            match claimed {
                Err(done) => return done,
                Ok(true) => break,
                Ok(false) => notified.await,
            }
        }
        let flight = Flight(self);
        flight.land(fetch.await)
    }
}

/// A refresh under way. Landing installs the new token; dropped without
/// landing (its caller panicked or was cancelled), it lets a waiter fetch.
struct Flight<'a, T>(&'a TokenStore<T>);

impl<T> Flight<'_, T> {
    fn land(self, fetched: Option<T>) -> Refresh {
        let refreshed = match fetched {
            Some(token) => {
                let mut slot = self.0.lock();
                slot.generation = slot.generation.wrapping_add(1);
                slot.token = token;
                Refresh::Refreshed
            }
            None => Refresh::Failed,
        };
        drop(self);
        refreshed
    }
}

impl<T> Drop for Flight<'_, T> {
    fn drop(&mut self) {
        self.0.lock().refreshing = false;
        self.0.wake();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn concurrent_refreshes_fetch_once() {
        let store = Arc::new(TokenStore::new("t0".to_owned()));
        let fetches = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, fetches) = (Arc::clone(&store), Arc::clone(&fetches));
                std::thread::spawn(move || {
                    store.refresh(0, || {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        Some("t1".to_owned())
                    })
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Refresh::Refreshed);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(store.current(), (1, "t1".to_owned()));
    }

    #[test]
    fn a_failed_fetch_keeps_the_token_and_the_next_caller_tries_again() {
        let store = TokenStore::new(1);
        assert_eq!(store.refresh(0, || None), Refresh::Failed);
        assert_eq!(store.current(), (0, 1));
        assert_eq!(store.refresh(0, || Some(2)), Refresh::Refreshed);
        assert_eq!(store.refresh(0, || Some(3)), Refresh::Refreshed, "stale");
        assert_eq!(store.current(), (1, 2));
    }

    #[test]
    fn a_fetch_that_panics_does_not_wedge_the_store() {
        let store = TokenStore::new(1);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.refresh(0, || panic!("the token endpoint's client panicked"))
        }));
        assert!(caught.is_err());
        assert_eq!(store.refresh(0, || Some(2)), Refresh::Refreshed);
        assert_eq!(store.current(), (1, 2));
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_refreshes_fetch_once_and_survive_a_cancelled_fetch() {
        let store = Arc::new(TokenStore::new(0u32));
        // A fetch cut by a timeout leaves nothing claimed.
        let cut = tokio::time::timeout(
            Duration::from_millis(10),
            store.refresh_async(0, std::future::pending()),
        )
        .await;
        assert!(cut.is_err());
        let fetches = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, fetches) = (Arc::clone(&store), Arc::clone(&fetches));
                tokio::spawn(async move {
                    store
                        .refresh_async(0, async {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Some(7)
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Refresh::Refreshed);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(store.current(), (1, 7));
    }
}

//! One fetch per key however many requests ask at the same time: the first
//! starts it, the others wait on the same future, and the key is free again
//! once it is done (so a failure is never kept).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

type Flight<T> = Shared<BoxFuture<'static, T>>;

/// The fetches under way, by key.
pub(crate) struct SingleFlight<T: Clone> {
    flights: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// The result of the fetch for `key`: the one under way, or the one
    /// `start` begins now.
    pub(crate) async fn run<F>(&self, key: &str, start: impl FnOnce() -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            match flights.get(key) {
                Some(f) => f.clone(),
                None => {
                    let all = Arc::clone(&self.flights);
                    let owned = key.to_owned();
                    let work = start();
                    let f: BoxFuture<'static, T> = Box::pin(async move {
                        let out = work.await;
                        all.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&owned);
                        out
                    });
                    let f = f.shared();
                    flights.insert(key.to_owned(), f.clone());
                    f
                }
            }
        };
        flight.await
    }
}

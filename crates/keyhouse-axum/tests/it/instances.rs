//! Several instances on one database: one key set, one code redeemed once,
//! one purge at a time (decision 0035).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use common::get_json;
use keyhouse_axum::{Config, Keyhouse, MasterKey};
use keyhouse_core::ClientType;
use keyhouse_store::Store;
use serde_json::Value;

/// A second server on the first one's database, with the same master key.
async fn second(
    first: &common::TestServer,
    db_url: &str,
    master: MasterKey,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let store = Store::connect(db_url).await.unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Same issuer: both sit behind one public URL.
    let mut config = Config::for_issuer(&first.base);
    config.scopes = first.kh.config().scopes.clone();
    let kh = Keyhouse::new(config, store, master).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(keyhouse_axum::serve(
        listener,
        axum::Router::new().merge(kh.router()),
        async {
            let _ = rx.await;
        },
    ));
    (base, tx)
}

#[tokio::test]
async fn instances_share_keys_and_codes() {
    let master = MasterKey::from_bytes(rand::random());
    let (db_url, dir) = common::fresh_database().await;
    let first = common::spawn_on(&db_url, master.clone()).await;
    let (b_base, _stop) = second(&first, &db_url, master).await;

    let jwks_a = get_json(first.url("/.well-known/jwks.json")).await;
    let jwks_b = get_json(format!("{b_base}/.well-known/jwks.json")).await;
    assert_eq!(jwks_a, jwks_b, "one key set for every instance");

    let c = first.client(ClientType::ThirdParty).await;
    first.user("ada@example.com").await;
    let b = first.signed_in("ada@example.com").await;
    let q = first.code_for(&b, &common::params(&c.client.id)).await;
    let code = q["code"].clone();
    let secret = c.client_secret.clone().unwrap();
    // The same code raced across both instances: exactly one success.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", common::REDIRECT),
    ];
    let http = reqwest::Client::new();
    let mut calls = Vec::new();
    for i in 0..20 {
        let url = if i % 2 == 0 {
            first.url("/oauth2/token")
        } else {
            format!("{b_base}/oauth2/token")
        };
        calls.push(
            http.post(url)
                .basic_auth(&c.client.id, Some(&secret))
                .form(&form)
                .send(),
        );
    }
    let results = futures::future::join_all(calls).await;
    let ok: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|r| r.status() == 200)
        .collect();
    assert_eq!(ok.len(), 1, "exactly one exchange wins");

    // A token issued through one instance is accepted by the other.
    let fresh = first.code_for(&b, &common::params(&c.client.id)).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", fresh["code"].as_str()),
        ("redirect_uri", common::REDIRECT),
    ];
    let tokens: Value = http
        .post(first.url("/oauth2/token"))
        .basic_auth(&c.client.id, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let info = http
        .get(format!("{b_base}/oauth2/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    drop(first);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

// ---------------------------------------------------------------------------
// One purge at a time (decision 0035).

use std::sync::Arc;
use std::time::Duration;

use keyhouse_axum::PurgeTurn;
use keyhouse_axum::housekeeping::PURGE_LEASE;
use keyhouse_core::clock::FixedClock;

const T0: i64 = 1_800_000_000;

/// An instance on `db_url` (a pool of its own, as another process would
/// have) on the shared test clock, purging every `interval`.
async fn instance(db_url: &str, master: &MasterKey, clock: &FixedClock, interval: u64) -> Keyhouse {
    let store = Store::connect(db_url).await.unwrap();
    store.migrate().await.unwrap();
    let mut config = Config::for_issuer("http://127.0.0.1:3000");
    config.purge_interval = Duration::from_secs(interval);
    config.mail.transport = keyhouse_axum::MailTransport::Outbox(
        std::env::temp_dir().join(format!("keyhouse-outbox-{:x}", rand::random::<u64>())),
    );
    Keyhouse::with_clock(config, store, master.clone(), Arc::new(clock.clone()))
        .await
        .unwrap()
}

/// One purge turn of every instance at the same instant; the indices of
/// those that purged.
async fn turns(instances: &[&Keyhouse]) -> Vec<usize> {
    let all = futures::future::join_all(instances.iter().map(|kh| kh.purge_turn())).await;
    all.iter()
        .enumerate()
        .filter_map(|(i, t)| {
            assert!(*t != PurgeTurn::Failed, "instance {i} failed its turn");
            matches!(t, PurgeTurn::Purged { .. }).then_some(i)
        })
        .collect()
}

#[tokio::test]
async fn a_lease_is_held_by_one_holder_at_a_time() {
    let (db_url, dir) = common::fresh_database().await;
    let mut stores = Vec::new();
    for _ in 0..3 {
        let s = Store::connect(&db_url).await.unwrap();
        s.migrate().await.unwrap();
        stores.push(s);
    }
    let holders: Vec<String> = (0..9).map(|i| format!("holder-{i}")).collect();
    // Holders on three pools take the lease at the same instant (all but
    // `except`); the indices of those that got it.
    let race = |now: i64, except: Option<usize>| {
        let stores = &stores;
        let holders = &holders;
        async move {
            let takes = holders
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != except)
                .map(|(i, h)| async move {
                    let r = stores[i % stores.len()].take_lease("t", h, now, now + 60);
                    (i, r.await.unwrap())
                });
            let won: Vec<usize> = futures::future::join_all(takes)
                .await
                .into_iter()
                .filter_map(|(i, taken)| taken.then_some(i))
                .collect();
            won
        }
    };
    let won = race(T0, None).await;
    assert_eq!(won.len(), 1, "one winner of a free lease: {won:?}");
    let first_index = won[0];
    let first = &holders[first_index];
    let other = &holders[(won[0] + 1) % holders.len()];
    let s = &stores[0];
    let lease = s.lease("t").await.unwrap().unwrap();
    assert_eq!((&lease.holder, lease.expires_at), (first, T0 + 60));

    // Held: refused up to the last second before it expires.
    assert!(!s.take_lease("t", other, T0 + 59, T0 + 119).await.unwrap());
    // The holder renews it, before it expires.
    assert!(s.take_lease("t", first, T0 + 59, T0 + 119).await.unwrap());
    assert_eq!(s.lease("t").await.unwrap().unwrap().expires_at, T0 + 119);
    assert!(!s.take_lease("t", other, T0 + 60, T0 + 120).await.unwrap());
    assert!(!s.take_lease("t", other, T0 + 118, T0 + 178).await.unwrap());
    // Another lease name is another lease.
    assert!(s.take_lease("u", other, T0 + 118, T0 + 178).await.unwrap());

    // Expired (at its expiry second): the eight others race for it, and
    // one wins; the old holder is then refused.
    let won = race(T0 + 119, Some(first_index)).await;
    assert_eq!(won.len(), 1, "one winner of an expired lease: {won:?}");
    let second = &holders[won[0]];
    let lease = s.lease("t").await.unwrap().unwrap();
    assert_eq!((&lease.holder, lease.expires_at), (second, T0 + 179));
    assert!(!s.take_lease("t", first, T0 + 120, T0 + 180).await.unwrap());

    // Given up: only by its holder, and then anyone takes it at once.
    let third = holders.iter().find(|h| *h != second).unwrap();
    assert!(!s.release_lease("t", third).await.unwrap());
    assert_eq!(s.lease("t").await.unwrap().unwrap().holder, *second);
    assert!(s.release_lease("t", second).await.unwrap());
    assert_eq!(s.lease("t").await.unwrap(), None);
    assert!(s.take_lease("t", third, T0 + 120, T0 + 180).await.unwrap());
    assert_eq!(s.lease("u").await.unwrap().unwrap().holder, *other);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn one_instance_purges_each_interval_and_another_takes_over_when_it_stops() {
    let (db_url, dir) = common::fresh_database().await;
    let master = MasterKey::from_bytes(rand::random());
    let clock = FixedClock::new(T0);
    let mut all = Vec::new();
    for _ in 0..3 {
        all.push(instance(&db_url, &master, &clock, 60).await);
    }
    // Rows the purge deletes: login counters of windows two days old.
    for i in 0..5 {
        all[0]
            .store()
            .hit(&format!("old-{i}"), 900, T0 - 2 * 86_400)
            .await
            .unwrap();
    }
    let refs: Vec<&Keyhouse> = all.iter().collect();

    // The first interval: one purges (and deletes the rows), two skip.
    let mut deleted = 0;
    let results = futures::future::join_all(refs.iter().map(|kh| kh.purge_turn())).await;
    let mut purged = Vec::new();
    for (i, t) in results.iter().enumerate() {
        match t {
            PurgeTurn::Purged { rows, .. } => {
                purged.push(i);
                deleted += rows;
            }
            PurgeTurn::Skipped => {}
            other => panic!("instance {i}: {other:?}"),
        }
    }
    assert_eq!(purged.len(), 1, "one purge in the interval: {purged:?}");
    assert_eq!(deleted, 5);
    let holder = purged[0];
    let lease = all[0].store().lease(PURGE_LEASE).await.unwrap().unwrap();
    assert_eq!(lease.holder, all[holder].holder_id());
    assert_eq!(lease.expires_at, T0 + 120, "twice the interval");

    // The next intervals: the holder renews, the others keep skipping.
    for _ in 0..3 {
        clock.advance(60);
        assert_eq!(turns(&refs).await, vec![holder]);
    }
    let last_renewal = all[0].now();

    // The holder dies (it takes no more turns): the others skip until its
    // lease expires, twice the interval after its last renewal, then one
    // of them takes it over.
    let survivors: Vec<&Keyhouse> = (0..3).filter(|i| *i != holder).map(|i| &all[i]).collect();
    clock.advance(60);
    assert_eq!(turns(&survivors).await, Vec::<usize>::new());
    clock.advance(59);
    assert_eq!(turns(&survivors).await, Vec::<usize>::new());
    clock.advance(1);
    assert_eq!(all[0].now(), last_renewal + 120);
    let took = turns(&survivors).await;
    assert_eq!(took.len(), 1, "one survivor takes over: {took:?}");
    let next = survivors[took[0]];
    let last = survivors[1 - took[0]];
    assert_eq!(
        all[0]
            .store()
            .lease(PURGE_LEASE)
            .await
            .unwrap()
            .unwrap()
            .holder,
        next.holder_id()
    );

    // The new holder's housekeeping takes its first turn at once (the
    // clock moved, so its renewal shows), and stopping it gives the lease
    // up: the last instance takes it at its next turn, before any expiry.
    clock.advance(1);
    let housekeeping = next.spawn_housekeeping();
    wait_for_lease(&all[0], next.holder_id(), all[0].now() + 120).await;
    housekeeping.stop().await;
    assert_eq!(all[0].store().lease(PURGE_LEASE).await.unwrap(), None);
    assert_eq!(turns(&[last]).await, vec![0]);
    assert_eq!(turns(&[next]).await, Vec::<usize>::new());
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn a_failing_purge_gives_the_lease_up() {
    let (db_url, dir) = common::fresh_database().await;
    let master = MasterKey::from_bytes(rand::random());
    let clock = FixedClock::new(T0);
    let a = instance(&db_url, &master, &clock, 60).await;
    let b = instance(&db_url, &master, &clock, 60).await;
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    let db = a.store().connection();
    // A table the purge deletes from is missing: its purge fails.
    sea_orm::ConnectionTrait::execute_unprepared(db, &rename("rate_limits", "rate_limits_away"))
        .await
        .unwrap();
    assert_eq!(a.purge_turn().await, PurgeTurn::Failed);
    assert_eq!(
        a.store().lease(PURGE_LEASE).await.unwrap(),
        None,
        "given up"
    );
    sea_orm::ConnectionTrait::execute_unprepared(db, &rename("rate_limits_away", "rate_limits"))
        .await
        .unwrap();
    // So the other instance purges at its next turn, at the same instant.
    assert!(matches!(b.purge_turn().await, PurgeTurn::Purged { .. }));
    assert_eq!(a.purge_turn().await, PurgeTurn::Skipped);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn housekeeping_tasks_purge_on_one_instance_and_a_survivor_takes_over() {
    let (db_url, dir) = common::fresh_database().await;
    let master = MasterKey::from_bytes(rand::random());
    // The clock stays put unless moved: leases expire only when the test says.
    let clock = FixedClock::new(T0);
    let mut all = Vec::new();
    for _ in 0..3 {
        all.push(instance(&db_url, &master, &clock, 1).await);
    }
    let mut tasks: Vec<Option<keyhouse_axum::Housekeeping>> =
        all.iter().map(|kh| Some(kh.spawn_housekeeping())).collect();
    // Every task's first turn is at once: one of them holds the lease.
    let store = all[0].store();
    let first = wait_for_any_lease(store, None).await;
    let holder = all.iter().position(|kh| kh.holder_id() == first).unwrap();

    // Killed: its task ends where it is and leaves its lease behind,
    // which the others cannot take before it expires.
    drop(tasks[holder].take());
    let survivors: Vec<&Keyhouse> = (0..3).filter(|i| *i != holder).map(|i| &all[i]).collect();
    assert_eq!(turns(&survivors).await, Vec::<usize>::new());
    // Expired (twice the one-second interval): a survivor's task takes
    // it at its next turn, within a second.
    clock.advance(2);
    let next = wait_for_any_lease(store, Some(&first)).await;
    assert!(
        survivors.iter().any(|kh| kh.holder_id() == next),
        "a survivor holds it: {next}"
    );
    for t in tasks.iter_mut().filter_map(Option::take) {
        t.stop().await;
    }
    assert_eq!(store.lease(PURGE_LEASE).await.unwrap(), None);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Waits (up to 20 s) until `holder` holds the purge lease until `until`.
async fn wait_for_lease(kh: &Keyhouse, holder: &str, until: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let lease = kh.store().lease(PURGE_LEASE).await.unwrap();
        if lease
            .as_ref()
            .is_some_and(|l| l.holder == holder && l.expires_at == until)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease is {lease:?}, not {holder}'s until {until}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to 20 s) until someone other than `not` holds the purge
/// lease; returns the holder.
async fn wait_for_any_lease(store: &Store, not: Option<&str>) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let lease = store.lease(PURGE_LEASE).await.unwrap();
        if let Some(l) = &lease
            && Some(l.holder.as_str()) != not
        {
            return l.holder.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new holder of the purge lease: {lease:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

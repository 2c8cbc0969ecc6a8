//! Instance slots shared fairly: when all are taken, a freed slot goes to the next
//! *account* in turn that has a run waiting, and within an account to its next
//! *deployment* in turn, so one tenant's burst of runs queues behind itself instead
//! of in front of everyone. FIFO within one deployment.
//!
//! A slot is a [`Slot`] value: dropping it hands it to the next waiter (or frees it).
//! A grant travels to its waiter through a oneshot channel as a `Slot`, so a waiter
//! that gave up (its future dropped) simply drops the grant, which passes it on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hermes_types::sync::Locked;
use tokio::sync::oneshot;

/// Who is asking for a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The account (the first level of fairness).
    pub account: String,
    /// The deployment (the second).
    pub deployment: String,
}

/// A taken instance slot; dropping it passes it on.
pub struct Slot {
    pool: Arc<Pool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pool.release();
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

type Waiters = VecDeque<oneshot::Sender<Slot>>;

/// One account's waiting deployments, in turn order.
struct AccountQueue {
    account: String,
    deployments: VecDeque<(String, Waiters)>,
}

struct State {
    free: usize,
    taken: usize,
    /// Accounts with waiters, in turn order.
    accounts: VecDeque<AccountQueue>,
}

/// The pool of instance slots.
pub struct Pool {
    state: Mutex<State>,
}

impl Pool {
    /// A pool of `n` slots.
    pub fn new(n: usize) -> Arc<Pool> {
        Arc::new(Pool { state: Mutex::new(State { free: n, taken: 0, accounts: VecDeque::new() }) })
    }

    /// Slots taken right now.
    pub fn taken(&self) -> usize {
        self.state.locked().taken
    }

    /// Waits for a slot, in `tenant`'s fair turn.
    pub async fn acquire(self: &Arc<Pool>, tenant: &Tenant) -> Slot {
        let rx = {
            let mut s = self.state.locked();
            if s.free > 0 && s.accounts.is_empty() {
                s.free -= 1;
                s.taken += 1;
                return Slot { pool: self.clone() };
            }
            let (tx, rx) = oneshot::channel();
            let account = match s.accounts.iter_mut().position(|a| a.account == tenant.account) {
                Some(i) => &mut s.accounts[i],
                None => {
                    s.accounts
                        .push_back(AccountQueue { account: tenant.account.clone(), deployments: VecDeque::new() });
                    let last = s.accounts.len() - 1;
                    &mut s.accounts[last]
                }
            };
            match account.deployments.iter_mut().find(|(d, _)| *d == tenant.deployment) {
                Some((_, waiters)) => waiters.push_back(tx),
                None => account.deployments.push_back((tenant.deployment.clone(), VecDeque::from([tx]))),
            }
            // A slot may be free with others waiting only between a release and the
            // waiter it woke taking it; hand it over now rather than wait for one.
            if s.free > 0 {
                s.free -= 1;
                s.taken += 1;
                drop(s);
                self.grant(Slot { pool: self.clone() });
            }
            rx
        };
        match rx.await {
            Ok(slot) => slot,
            // The pool never drops a waiter's sender without sending: unreachable, but
            // waiting again is the safe answer.
            Err(_) => Box::pin(self.acquire(tenant)).await,
        }
    }

    /// A slot came back: the next waiter in turn gets it, or it is free.
    fn release(self: &Arc<Pool>) {
        let slot = Slot { pool: self.clone() };
        // The new `Slot` stands for the same slot; forget the bookkeeping of the old.
        self.grant(slot);
    }

    /// Gives `slot` to the next live waiter in fair order; frees it when none waits.
    fn grant(self: &Arc<Pool>, mut slot: Slot) {
        loop {
            let next = {
                let mut s = self.state.locked();
                match next_waiter(&mut s) {
                    Some(tx) => tx,
                    None => {
                        s.free += 1;
                        s.taken -= 1;
                        std::mem::forget(slot);
                        return;
                    }
                }
            };
            match next.send(slot) {
                Ok(()) => return,
                // That waiter gave up; try the next one.
                Err(back) => slot = back,
            }
        }
    }
}

/// Pops the next waiter: the first deployment of the first account, each then moved
/// to the back of its ring (dropped from it when it has no more waiters).
fn next_waiter(s: &mut State) -> Option<oneshot::Sender<Slot>> {
    loop {
        let mut account = s.accounts.pop_front()?;
        let Some((deployment, mut waiters)) = account.deployments.pop_front() else { continue };
        let tx = waiters.pop_front();
        if !waiters.is_empty() {
            account.deployments.push_back((deployment, waiters));
        }
        if !account.deployments.is_empty() {
            s.accounts.push_back(account);
        }
        match tx {
            // A waiter that is gone is skipped (the ring has already moved on).
            Some(tx) if !tx.is_closed() => return Some(tx),
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(account: &str, deployment: &str) -> Tenant {
        Tenant { account: account.into(), deployment: deployment.into() }
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_next_account_in_turn() {
        let pool = Pool::new(1);
        let first = pool.acquire(&t("a", "a1")).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Account a queues five runs before account b queues two.
        for (account, dep, label) in [
            ("a", "a1", "a1"),
            ("a", "a1", "a2"),
            ("a", "a2", "a3"),
            ("a", "a1", "a4"),
            ("b", "b1", "b1"),
            ("b", "b1", "b2"),
        ] {
            let (pool, order) = (pool.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let slot = pool.acquire(&t(account, dep)).await;
                order.locked().push(label);
                tokio::task::yield_now().await;
                drop(slot);
            }));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(first);
        for task in tasks {
            task.await.unwrap();
        }
        // Accounts alternate; within a, deployments a1 and a2 alternate.
        assert_eq!(*order.locked(), vec!["a1", "b1", "a3", "b2", "a2", "a4"]);
        assert_eq!((pool.taken(), pool.state.locked().free), (0, 1));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_passes_its_turn_on() {
        let pool = Pool::new(1);
        let first = pool.acquire(&t("a", "a1")).await;
        let quitter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire(&t("b", "b1")).await })
        };
        let stayer = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire(&t("c", "c1")).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        quitter.abort();
        let _ = quitter.await;
        drop(first);
        let slot = tokio::time::timeout(std::time::Duration::from_secs(2), stayer).await.unwrap().unwrap();
        assert_eq!(pool.taken(), 1);
        drop(slot);
        assert_eq!(pool.taken(), 0);
    }
}

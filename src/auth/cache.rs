//! The FastCGI password cache: remembers, for a bounded time and number of entries, that a
//! (user, password) pair verified against a given stored hash, so that a client repeating its
//! correct credentials does not pay Argon2 on every request. An entry is the HMAC-SHA256,
//! under a random key made when the process starts, of the user name, the stored PHC string
//! and the password; the password itself is never kept. Because the stored hash is part of
//! what is authenticated, a changed hash (`user passwd`, a rehash) never finds an old entry.
//! Only verified successes are entered: a wrong password never hits and always pays Argon2.
//! Nothing here reads the database or the clock; callers pass the stored hash and `now`.
//! CGI mode has no cache (every process is new).

use std::collections::HashMap;
use std::sync::Mutex;

use ring::hmac;

/// The entries and their bounds.
#[derive(Debug)]
pub(crate) struct PasswordCache {
    key: hmac::Key,
    /// How long an entry is believed, in seconds.
    ttl_seconds: i64,
    capacity: usize,
    /// Tag → the time (seconds since the epoch) the entry stops counting.
    entries: Mutex<HashMap<[u8; 32], i64>>,
}

impl PasswordCache {
    /// A cache with a fresh random key; `None` when `capacity` or `ttl_seconds` is 0 (disabled)
    /// or there is no randomness (then every request pays Argon2, as in CGI).
    pub(crate) fn new(ttl_seconds: u32, capacity: u32) -> Option<PasswordCache> {
        if ttl_seconds == 0 || capacity == 0 {
            return None;
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).ok()?;
        Some(PasswordCache {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            ttl_seconds: i64::from(ttl_seconds),
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Each part is length-prefixed, so no two different triples give the same input.
    fn tag(&self, username: &str, stored_hash: &str, password: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [username, stored_hash, password] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let mut tag = [0u8; 32];
        tag.copy_from_slice(ctx.sign().as_ref());
        tag
    }

    /// Whether this password verified against this stored hash less than the cache's time
    /// ago. A poisoned lock counts as a miss.
    pub(crate) fn hit(&self, username: &str, stored_hash: &str, password: &str, now: i64) -> bool {
        let tag = self.tag(username, stored_hash, password);
        let Ok(entries) = self.entries.lock() else { return false };
        entries.get(&tag).is_some_and(|until| now < *until)
    }

    /// Remembers a verified password. When full, expired entries go first, then the one
    /// closest to expiring; that scan is rare and cheap next to the Argon2 run that precedes
    /// every insert.
    pub(crate) fn insert(&self, username: &str, stored_hash: &str, password: &str, now: i64) {
        let tag = self.tag(username, stored_hash, password);
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity && !entries.contains_key(&tag) {
            entries.retain(|_, until| now < *until);
            if entries.len() >= self.capacity
                && let Some(oldest) = entries.iter().min_by_key(|(_, until)| **until).map(|(t, _)| *t)
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(tag, now.saturating_add(self.ttl_seconds));
    }

    /// How many entries are held, expired ones included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_user_hash_and_password_within_the_time() {
        let cache = PasswordCache::new(300, 10).expect("cache");
        cache.insert("alice", "$argon2id$a", "pw", 1000);
        assert!(cache.hit("alice", "$argon2id$a", "pw", 1000));
        assert!(cache.hit("alice", "$argon2id$a", "pw", 1299));
        assert!(!cache.hit("alice", "$argon2id$a", "pw", 1300), "expired");
        assert!(!cache.hit("alice", "$argon2id$a", "pw2", 1000), "another password");
        assert!(!cache.hit("alice", "$argon2id$b", "pw", 1000), "the stored hash changed");
        assert!(!cache.hit("bob", "$argon2id$a", "pw", 1000), "another user");
        // Length prefixes: moving a byte from one part to the next is another input.
        cache.insert("ab", "c", "d", 1000);
        assert!(!cache.hit("a", "bc", "d", 1000));
    }

    #[test]
    fn bounded_in_size() {
        let cache = PasswordCache::new(300, 3).expect("cache");
        for i in 0..10 {
            cache.insert(&format!("u{i}"), "h", "pw", 1000 + i);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.hit("u9", "h", "pw", 1010), "the newest stays");
        assert!(!cache.hit("u0", "h", "pw", 1010), "the oldest went");
    }

    /// Mutation gap (issue 12): making room on every insert into a full cache, also for a
    /// password already held, dropped another user's entry (an Argon2 run more for them).
    #[test]
    fn refreshing_a_held_entry_of_a_full_cache_evicts_nothing() {
        let cache = PasswordCache::new(300, 2).expect("cache");
        cache.insert("bob", "h", "pw", 1000);
        cache.insert("alice", "h", "pw", 1001);
        cache.insert("alice", "h", "pw", 1002);
        assert_eq!(cache.len(), 2);
        assert!(cache.hit("bob", "h", "pw", 1002), "bob's entry stays");
        assert!(cache.hit("alice", "h", "pw", 1301), "alice's entry is refreshed");
    }

    #[test]
    fn disabled_by_zero() {
        assert!(PasswordCache::new(0, 10).is_none());
        assert!(PasswordCache::new(300, 0).is_none());
    }
}

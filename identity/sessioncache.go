package identity

import (
	"sync"
	"time"
)

// sessionCache remembers the sessions this replica looked up recently, so a
// busy client costs one session lookup per TTL instead of one per request.
// Revocations on this replica take effect at once; on other replicas after
// at most the TTL.
type sessionCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]*cachedSession
	// revocations counts forget calls, so a lookup that raced a revocation
	// does not cache what was just revoked.
	revocations uint64
}

type cachedSession struct {
	actor   Actor
	fetched time.Time
	touched time.Time // last time this replica recorded the session's use
}

// maxCachedSessions bounds memory; past it the cache starts over.
const maxCachedSessions = 100_000

func newSessionCache(ttl time.Duration) *sessionCache {
	return &sessionCache{ttl: ttl, entries: map[string]*cachedSession{}}
}

// lookup returns a copy of the cached caller, and whether its use should be
// recorded now. On a miss, generation is to be given to store.
func (c *sessionCache) lookup(hash []byte, now time.Time) (a *Actor, touch, ok bool, generation uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.entries[string(hash)]
	if !found {
		return nil, false, false, c.revocations
	}
	if !now.Before(e.actor.expires) {
		delete(c.entries, string(hash))
		return nil, false, false, c.revocations
	}
	if now.Sub(e.fetched) >= c.ttl {
		return nil, false, false, c.revocations // stale: reload (the entry keeps its touch time)
	}
	touch = now.Sub(e.touched) >= lastSeenGranularity
	if touch {
		e.touched = now
	}
	cp := e.actor
	return &cp, touch, true, 0
}

// store caches a freshly loaded caller, unless a revocation happened since
// lookup gave generation; it reports whether the session's use should be
// recorded (once per lastSeenGranularity per replica).
func (c *sessionCache) store(hash []byte, a *Actor, now time.Time, generation uint64) (touch bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, found := c.entries[string(hash)]
	touch = !found || now.Sub(prev.touched) >= lastSeenGranularity
	touched := now
	if !touch {
		touched = prev.touched
	}
	if generation != c.revocations {
		return touch
	}
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	c.entries[string(hash)] = &cachedSession{actor: *a, fetched: now, touched: touched}
	return touch
}

func (c *sessionCache) forget(hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revocations++
	delete(c.entries, string(hash))
}

// forgetUser drops userID's sessions except keep.
func (c *sessionCache) forgetUser(userID int, keep []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revocations++
	for k, e := range c.entries {
		if e.actor.UserID == userID && k != string(keep) {
			delete(c.entries, k)
		}
	}
}

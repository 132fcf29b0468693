// Package memory keeps challenges, rate-limit windows and cached values in
// process memory. It is the default when no Redis URL is configured and the
// store of the domain tests; nothing is shared between replicas.
package memory

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/carcity/identity/identity"
)

var (
	_ identity.CodeStore = (*Store)(nil)
	_ identity.Cache     = (*Store)(nil)
)

// sweepEvery bounds how long expired entries that nobody reads again stay in
// memory.
const sweepEvery = time.Minute

// Store is an in-process CodeStore and Cache. One mutex
// guards everything, which makes every operation atomic.
type Store struct {
	now func() time.Time

	mu         sync.Mutex
	challenges map[string]*challenge
	logs       map[string]*eventLog
	values     map[string]value
	nextSweep  time.Time
}

type challenge struct {
	digest   []byte
	attempts int
	verified bool
	expires  time.Time
}

// eventLog is the sliding window of one rate-limit key, oldest event first.
type eventLog struct {
	window time.Duration
	events []event
}

type event struct {
	id string
	at time.Time
}

type value struct {
	data    []byte
	expires time.Time
}

// New returns an empty store reading time from now (time.Now when nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:        now,
		challenges: make(map[string]*challenge),
		logs:       make(map[string]*eventLog),
		values:     make(map[string]value),
	}
}

// Put implements identity.ChallengeStore.
func (s *Store) Put(ctx context.Context, key string, digest []byte, ttl time.Duration) error {
	_, err := s.PutIfRoom(ctx, "", nil, key, digest, ttl)
	return err
}

// Check implements identity.ChallengeStore.
func (s *Store) Check(_ context.Context, key string, digest []byte, mode identity.CheckMode, maxAttempts int) (identity.CheckResult, error) {
	if mode != identity.Verify && mode != identity.Consume {
		return 0, errors.New("memory: unknown check mode")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	c, ok := s.challenges[key]
	if !ok || !now.Before(c.expires) {
		delete(s.challenges, key)
		return identity.Missing, nil
	}
	if mode == identity.Verify && c.verified {
		return identity.Missing, nil
	}
	if subtle.ConstantTimeCompare(c.digest, digest) == 1 {
		if mode == identity.Verify {
			c.verified = true
		} else {
			delete(s.challenges, key)
		}
		return identity.Accepted, nil
	}
	c.attempts++
	if c.attempts >= maxAttempts {
		delete(s.challenges, key)
	}
	return identity.Mismatch, nil
}

// Take implements identity.RateLimiter. Like a Redis sorted set, a log holds
// an id at most once: taking it again moves it to now.
func (s *Store) Take(_ context.Context, id string, limits ...identity.Limit) (time.Duration, error) {
	if err := validLimits(limits); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.take(id, limits), nil
}

// PutIfRoom implements identity.CodeStore.
func (s *Store) PutIfRoom(_ context.Context, id string, groups [][]identity.Limit, key string, digest []byte, ttl time.Duration) ([]time.Duration, error) {
	for _, limits := range groups {
		if err := validLimits(limits); err != nil {
			return nil, err
		}
	}
	if ttl <= 0 {
		return nil, errors.New("memory: ttl must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	waits := make([]time.Duration, len(groups))
	room := true
	for i, limits := range groups {
		waits[i] = s.take(id, limits)
		room = room && waits[i] == 0
	}
	if room {
		s.challenges[key] = &challenge{digest: slices.Clone(digest), expires: s.clock().Add(ttl)}
	}
	return waits, nil
}

// take is Take with s.mu held.
func (s *Store) take(id string, limits []identity.Limit) time.Duration {
	now := s.clock()
	// A log keeps the events of the longest window of its limits.
	longest := make(map[string]time.Duration, len(limits))
	for _, l := range limits {
		longest[l.Key] = max(longest[l.Key], l.Window)
	}
	logs := make(map[string]*eventLog, len(longest))
	for key, window := range longest {
		logs[key] = s.log(key, window, now)
	}
	var retry time.Duration
	for _, l := range limits {
		events := logs[l.Key].events
		cutoff := now.Add(-l.Window)
		first, _ := slices.BinarySearchFunc(events, cutoff, func(e event, t time.Time) int {
			if e.at.After(t) {
				return 1
			}
			return -1
		})
		if n := len(events) - first; n >= l.Max {
			// Room comes back when the event that makes the window full leaves.
			retry = max(retry, events[len(events)-l.Max].at.Add(l.Window).Sub(now))
		}
	}
	if retry > 0 {
		return retry
	}
	for _, lg := range logs {
		lg.events = slices.DeleteFunc(lg.events, func(e event) bool { return e.id == id })
		lg.events = append(lg.events, event{id: id, at: now})
	}
	return 0
}

// Refund implements identity.RateLimiter.
func (s *Store) Refund(_ context.Context, id string, limits ...identity.Limit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range limits {
		if lg, ok := s.logs[l.Key]; ok {
			lg.events = slices.DeleteFunc(lg.events, func(e event) bool { return e.id == id })
		}
	}
	return nil
}

// log returns the log of key without the events that slid out of window,
// creating it when absent.
func (s *Store) log(key string, window time.Duration, now time.Time) *eventLog {
	lg, ok := s.logs[key]
	if !ok {
		lg = &eventLog{}
		s.logs[key] = lg
	}
	lg.window = window
	lg.prune(now)
	return lg
}

// prune drops events at or before now-window, as ZREMRANGEBYSCORE does in
// the Redis store.
func (lg *eventLog) prune(now time.Time) {
	cutoff := now.Add(-lg.window)
	i := 0
	for i < len(lg.events) && !lg.events[i].at.After(cutoff) {
		i++
	}
	lg.events = slices.Delete(lg.events, 0, i)
}

// Get implements identity.Cache.
func (s *Store) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	v, ok := s.values[key]
	if !ok || !now.Before(v.expires) {
		delete(s.values, key)
		return nil, false, nil
	}
	return slices.Clone(v.data), true, nil
}

// Set implements identity.Cache.
func (s *Store) Set(_ context.Context, key string, data []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("memory: ttl must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	// A non-nil empty value, so Get tells "empty" from "absent".
	s.values[key] = value{data: append([]byte{}, data...), expires: now.Add(ttl)}
	return nil
}

// clock reads the time and, at most once per sweepEvery, drops everything
// that expired; the caller holds s.mu.
func (s *Store) clock() time.Time {
	now := s.now()
	if now.Before(s.nextSweep) {
		return now
	}
	s.nextSweep = now.Add(sweepEvery)
	for k, c := range s.challenges {
		if !now.Before(c.expires) {
			delete(s.challenges, k)
		}
	}
	for k, v := range s.values {
		if !now.Before(v.expires) {
			delete(s.values, k)
		}
	}
	for k, lg := range s.logs {
		lg.prune(now)
		if len(lg.events) == 0 {
			delete(s.logs, k)
		}
	}
	return now
}

func validLimits(limits []identity.Limit) error {
	for _, l := range limits {
		if l.Max <= 0 || l.Window <= 0 {
			return errors.New("memory: limit needs a positive max and window")
		}
	}
	return nil
}

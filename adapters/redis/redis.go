// Package redis keeps challenges, rate-limit windows and cached values in
// Redis, so that every replica of the service shares them. Each
// check-and-update is one Lua script: Redis runs a script without
// interleaving other commands, which gives the atomicity identity/ports.go
// promises.
package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/carcity/identity/identity"
)

var (
	_ identity.CodeStore = (*Store)(nil)
	_ identity.Cache     = (*Store)(nil)
	_ identity.Pinger    = (*Store)(nil)
)

// Store is a CodeStore (challenges and rate limits), Cache and Pinger over
// Redis.
type Store struct {
	client rueidis.Client
	prefix string
	// perSlot sends one script call per limit group: a cluster runs a
	// script only on keys of one slot.
	perSlot bool
}

// opTimeout bounds every call, so that requests fail fast with
// "unavailable" while Redis is down instead of waiting for it.
const opTimeout = 2 * time.Second

// New returns a store that prepends prefix (such as "idsvc:") to every key.
func New(client rueidis.Client, prefix string) *Store {
	return &Store{client: client, prefix: prefix, perSlot: client.Mode() == rueidis.ClientModeCluster}
}

// KEYS[1] challenge; ARGV[1] digest, ARGV[2] mode (1 verify, 2 consume),
// ARGV[3] max attempts. Returns 1 accepted, 2 mismatch, 3 missing.
//
// The digest comparison is not constant-time; digests are keyed, so timing
// reveals nothing about the code.
var checkScript = rueidis.NewLuaScript(`
local c = redis.call('HMGET', KEYS[1], 'digest', 'verified')
if not c[1] then
  return 3
end
if ARGV[2] == '1' and c[2] == '1' then
  return 3
end
if c[1] == ARGV[1] then
  if ARGV[2] == '1' then
    redis.call('HSET', KEYS[1], 'verified', 1)
  else
    redis.call('DEL', KEYS[1])
  end
  return 1
end
if redis.call('HINCRBY', KEYS[1], 'attempts', 1) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
end
return 2
`)

// A rate-limit log is a sorted set of event ids scored by the server's time
// in ms (the server's clock, so replicas agree). Limits on one key share its
// log, each counting the events inside its own window. One call takes one or
// more groups of limits, each group all-or-nothing on its own, and returns
// each group's wait in ms, 0 when the event was recorded in its logs.
//
// When every group has room (or there are none) and a challenge is given,
// the call also stores it: a hash {digest, attempts, verified} expiring with
// its ttl. HSET sets all three fields, so it replaces an earlier challenge
// whole.
//
// KEYS: one per limit, then the challenge's; ARGV[1] event id, ARGV[2] "1"
// to store a challenge, ARGV[3] its digest, ARGV[4] its ttl (ms), then group
// (1, 2, ...), max and window (ms) per limit.
var takeScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limits = (#ARGV - 4) / 3
local logs, longest = {}, {}
for i = 1, limits do
  local key, window = KEYS[i], tonumber(ARGV[3 * i + 4])
  if not longest[key] then
    table.insert(logs, key)
    longest[key] = window
  elseif window > longest[key] then
    longest[key] = window
  end
end
-- size: the events left in a log trimmed to its longest window, which
-- are that window's count; an empty log (most are: a phone's first send)
-- needs neither trimming nor counting
local size = {}
for _, key in ipairs(logs) do
  size[key] = redis.call('ZCARD', key)
  if size[key] > 0 then
    size[key] = size[key] - redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest[key])
  end
end
local waits, room = {}, true
for i = 1, limits do
  local key, g = KEYS[i], tonumber(ARGV[3 * i + 2])
  local max, window = tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 4])
  waits[g] = waits[g] or 0
  local n = size[key]
  if n > 0 and window < longest[key] then
    n = redis.call('ZCOUNT', key, '(' .. (now - window), '+inf')
  end
  if n >= max then
    -- room comes back when the event that makes the window full leaves
    local at = size[key] - max
    local e = redis.call('ZRANGE', key, at, at, 'WITHSCORES')
    local wait = tonumber(e[2]) + window - now
    if wait > waits[g] then
      waits[g] = wait
    end
    room = false
  end
end
local recorded = {}
for i = 1, limits do
  local key = KEYS[i]
  if waits[tonumber(ARGV[3 * i + 2])] == 0 and not recorded[key] then
    recorded[key] = true
    redis.call('ZADD', key, now, ARGV[1])
    redis.call('PEXPIRE', key, longest[key])
  end
end
if room and ARGV[2] == '1' then
  local c = KEYS[limits + 1]
  redis.call('HSET', c, 'digest', ARGV[3], 'attempts', 0, 'verified', 0)
  redis.call('PEXPIRE', c, ARGV[4])
end
return waits
`)

// KEYS: one set per limit; ARGV[1] event id.
var refundScript = rueidis.NewLuaScript(`
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return 0
`)

// Put implements identity.ChallengeStore.
func (s *Store) Put(ctx context.Context, key string, digest []byte, ttl time.Duration) error {
	_, err := s.PutIfRoom(ctx, "", nil, key, digest, ttl)
	return err
}

// Check implements identity.ChallengeStore.
func (s *Store) Check(ctx context.Context, key string, digest []byte, mode identity.CheckMode, maxAttempts int) (identity.CheckResult, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var m string
	switch mode {
	case identity.Verify:
		m = "1"
	case identity.Consume:
		m = "2"
	default:
		return 0, errors.New("redis: unknown check mode")
	}
	n, err := checkScript.Exec(ctx, s.client, []string{s.prefix + key},
		[]string{string(digest), m, strconv.Itoa(maxAttempts)}).AsInt64()
	if err != nil {
		return 0, wrap("check challenge", err)
	}
	switch n {
	case 1:
		return identity.Accepted, nil
	case 2:
		return identity.Mismatch, nil
	case 3:
		return identity.Missing, nil
	}
	return 0, fmt.Errorf("redis check challenge: unexpected result %d", n)
}

// Take implements identity.RateLimiter. Event ids must be unique per event:
// a sorted set holds an id once, so taking it again only moves it to now.
func (s *Store) Take(ctx context.Context, id string, limits ...identity.Limit) (time.Duration, error) {
	waits, err := s.take(ctx, id, [][]identity.Limit{limits}, nil)
	if err != nil {
		return 0, err
	}
	return waits[0], nil
}

// PutIfRoom implements identity.CodeStore: one script call on one server.
// On a cluster, where a call's keys must share a slot, the groups go one
// call each in one pipeline, and the challenge in a second round trip.
func (s *Store) PutIfRoom(ctx context.Context, id string, groups [][]identity.Limit, key string, digest []byte, ttl time.Duration) ([]time.Duration, error) {
	if ttl <= 0 {
		return nil, errors.New("redis: ttl must be positive")
	}
	c := &challenge{key: key, digest: digest, ttl: ttl}
	if !s.perSlot {
		return s.take(ctx, id, groups, c)
	}
	waits, err := s.take(ctx, id, groups, nil)
	if err != nil || slices.ContainsFunc(waits, func(w time.Duration) bool { return w > 0 }) {
		return waits, err
	}
	_, err = s.take(ctx, "", nil, c)
	return waits, err
}

type challenge struct {
	key    string
	digest []byte
	ttl    time.Duration
}

// take runs takeScript: all groups and put in one call, or with perSlot
// one call per group (put must then be nil or come without groups).
func (s *Store) take(ctx context.Context, id string, groups [][]identity.Limit, put *challenge) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	waits := make([]time.Duration, len(groups))
	head := []string{id, "0", "", "0"}
	if put != nil {
		head = []string{id, "1", string(put.digest), millis(put.ttl)}
	}
	var (
		calls []rueidis.LuaExec
		sent  [][]int // per call, the groups it takes; empty groups have room
		call  = rueidis.LuaExec{Args: head}
		in    []int
	)
	for g, limits := range groups {
		if len(limits) == 0 {
			continue
		}
		if s.perSlot && len(in) > 0 {
			calls, sent = append(calls, call), append(sent, in)
			call, in = rueidis.LuaExec{Args: head}, nil
		}
		in = append(in, g)
		n := strconv.Itoa(len(in))
		for _, l := range limits {
			if l.Max <= 0 || l.Window <= 0 {
				return nil, errors.New("redis: limit needs a positive max and window")
			}
			call.Keys = append(call.Keys, s.prefix+l.Key)
			call.Args = append(call.Args, n, strconv.Itoa(l.Max), millis(l.Window))
		}
	}
	if put != nil {
		call.Keys = append(call.Keys, s.prefix+put.key)
	}
	if len(in) > 0 || put != nil {
		calls, sent = append(calls, call), append(sent, in)
	}
	if len(calls) == 0 {
		return waits, nil
	}
	for i, res := range s.evalEach(ctx, takeScript, calls) {
		ms, err := res.AsIntSlice()
		if err == nil && len(ms) != len(sent[i]) {
			err = fmt.Errorf("%d waits for %d groups", len(ms), len(sent[i]))
		}
		if err != nil {
			op := "take rate limit"
			if put != nil {
				op = "put challenge"
			}
			return nil, wrap(op, err)
		}
		for j, g := range sent[i] {
			waits[g] = time.Duration(ms[j]) * time.Millisecond
		}
	}
	return waits, nil
}

// script is a Lua script run by its SHA-1 in pipelines (rueidis's
// ExecMulti would load it first, one round trip more on every call).
type script struct{ src, sha string }

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// evalEach runs sc once per exec in one pipeline: EVALSHA, then EVAL for any
// the server has not cached (after a restart, say).
func (s *Store) evalEach(ctx context.Context, sc script, execs []rueidis.LuaExec) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(execs))
	for i, e := range execs {
		cmds[i] = s.client.B().Evalsha().Sha1(sc.sha).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build()
	}
	res := s.client.DoMulti(ctx, cmds...)
	for i, r := range res {
		if err, ok := rueidis.IsRedisErr(r.Error()); ok && err.IsNoScript() {
			e := execs[i]
			res[i] = s.client.Do(ctx, s.client.B().Eval().Script(sc.src).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build())
		}
	}
	return res
}

// Refund implements identity.RateLimiter.
func (s *Store) Refund(ctx context.Context, id string, limits ...identity.Limit) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if len(limits) == 0 {
		return nil
	}
	keys := make([]string, len(limits))
	for i, l := range limits {
		keys[i] = s.prefix + l.Key
	}
	return wrap("refund rate limit", refundScript.Exec(ctx, s.client, keys, []string{id}).Error())
}

// Get implements identity.Cache.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	v, err := s.client.Do(ctx, s.client.B().Get().Key(s.prefix+key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("get cache", err)
	}
	if v == nil {
		v = []byte{} // found, but empty
	}
	return v, true, nil
}

// Set implements identity.Cache.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if ttl <= 0 {
		return errors.New("redis: ttl must be positive")
	}
	cmd := s.client.B().Set().Key(s.prefix + key).Value(string(value)).Px(roundUp(ttl)).Build()
	return wrap("set cache", s.client.Do(ctx, cmd).Error())
}

// Ping implements identity.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return wrap("ping", s.client.Do(ctx, s.client.B().Ping().Build()).Error())
}

// wrap gives network, timeout and context errors from rueidis the context
// of the operation; errors.Is still sees context.Canceled and the like.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis %s: %w", op, err)
}

// roundUp rounds d up to whole milliseconds, Redis's finest ttl, so that a
// sub-millisecond ttl does not become zero.
func roundUp(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

func millis(d time.Duration) string {
	return strconv.FormatInt(roundUp(d).Milliseconds(), 10)
}

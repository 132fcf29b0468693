// Package identitytest holds helpers for tests of the identity service and
// its adapters.
package identitytest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
)

// Advance moves the clock of a store under test forward. A store without a
// controllable clock passes nil, and the subtests that need one are skipped.
type Advance func(time.Duration)

// skipWithoutClock skips the test when the store's clock cannot be moved.
func skipWithoutClock(t *testing.T, advance Advance) {
	t.Helper()
	if advance == nil {
		t.Skip("needs a controllable clock")
	}
}

// TestChallengeStore is the contract every identity.ChallengeStore meets.
// newStore returns an empty store for each subtest.
func TestChallengeStore(t *testing.T, newStore func(t *testing.T) (identity.ChallengeStore, Advance)) {
	right := []byte("right digest 0123456789abcdef012")
	wrong := []byte("wrong digest 0123456789abcdef012")
	const (
		key  = "code:{13800138000}"
		ttl  = 5 * time.Minute
		max5 = 5
	)

	put := func(t *testing.T, s identity.ChallengeStore, key string, digest []byte, ttl time.Duration) {
		t.Helper()
		if err := s.Put(t.Context(), key, digest, ttl); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	check := func(t *testing.T, s identity.ChallengeStore, key string, digest []byte, mode identity.CheckMode, maxAttempts int, want identity.CheckResult) {
		t.Helper()
		got, err := s.Check(t.Context(), key, digest, mode, maxAttempts)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if got != want {
			t.Fatalf("Check(%s, mode %d) = %s, want %s", digest, mode, resultName(got), resultName(want))
		}
	}

	t.Run("a stored challenge is accepted once with the right digest", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, right, identity.Consume, max5, identity.Accepted)
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
	})

	t.Run("a challenge that was never put is missing in both modes", func(t *testing.T) {
		s, _ := newStore(t)
		check(t, s, key, right, identity.Verify, max5, identity.Missing)
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
	})

	t.Run("challenges under different keys are independent", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, "code:{13800138000}", right, ttl)
		put(t, s, "code:{13900139000}", wrong, ttl)
		check(t, s, "code:{13800138000}", right, identity.Consume, max5, identity.Accepted)
		check(t, s, "code:{13900139000}", wrong, identity.Consume, max5, identity.Accepted)
	})

	t.Run("wrong digests are mismatches until the last attempt voids the challenge", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		for range max5 {
			check(t, s, key, wrong, identity.Consume, max5, identity.Mismatch)
		}
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
	})

	t.Run("the right digest is still accepted after fewer wrong ones than the maximum", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		for range max5 - 1 {
			check(t, s, key, wrong, identity.Verify, max5, identity.Mismatch)
		}
		check(t, s, key, right, identity.Verify, max5, identity.Accepted)
	})

	t.Run("a digest of another length is a mismatch", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, right[:8], identity.Consume, max5, identity.Mismatch)
		check(t, s, key, nil, identity.Consume, max5, identity.Mismatch)
		check(t, s, key, right, identity.Consume, max5, identity.Accepted)
	})

	t.Run("a captcha allowing one attempt is void after one wrong answer", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, wrong, identity.Consume, 1, identity.Mismatch)
		check(t, s, key, right, identity.Consume, 1, identity.Missing)
	})

	t.Run("put replaces the digest and resets the attempts", func(t *testing.T) {
		s, _ := newStore(t)
		other := []byte("other digest 0123456789abcdef01")
		put(t, s, key, right, ttl)
		for range max5 - 1 {
			check(t, s, key, wrong, identity.Consume, max5, identity.Mismatch)
		}
		put(t, s, key, other, ttl)
		// The old digest no longer matches, and counting starts again.
		for range max5 - 1 {
			check(t, s, key, right, identity.Consume, max5, identity.Mismatch)
		}
		check(t, s, key, other, identity.Consume, max5, identity.Accepted)
	})

	t.Run("put replaces a verified challenge with a pending one", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, right, identity.Verify, max5, identity.Accepted)
		put(t, s, key, right, ttl)
		check(t, s, key, right, identity.Verify, max5, identity.Accepted)
	})

	t.Run("put keeps its own copy of the digest", func(t *testing.T) {
		s, _ := newStore(t)
		d := append([]byte(nil), right...)
		put(t, s, key, d, ttl)
		d[0] ^= 0xff
		check(t, s, key, right, identity.Consume, max5, identity.Accepted)
	})

	t.Run("verify accepts once and consume then accepts once", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, right, identity.Verify, max5, identity.Accepted)
		check(t, s, key, right, identity.Verify, max5, identity.Missing)
		check(t, s, key, wrong, identity.Verify, max5, identity.Missing)
		check(t, s, key, right, identity.Consume, max5, identity.Accepted)
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
		check(t, s, key, right, identity.Verify, max5, identity.Missing)
	})

	t.Run("consume accepts a challenge that was never verified", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, right, identity.Consume, max5, identity.Accepted)
		check(t, s, key, right, identity.Verify, max5, identity.Missing)
	})

	t.Run("a verified challenge still counts wrong digests when consumed", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		check(t, s, key, right, identity.Verify, max5, identity.Accepted)
		check(t, s, key, wrong, identity.Consume, 2, identity.Mismatch)
		check(t, s, key, wrong, identity.Consume, 2, identity.Mismatch)
		check(t, s, key, right, identity.Consume, 2, identity.Missing)
	})

	t.Run("a challenge expires after its ttl", func(t *testing.T) {
		s, advance := newStore(t)
		skipWithoutClock(t, advance)
		put(t, s, key, right, time.Minute)
		advance(59 * time.Second)
		check(t, s, key, right, identity.Verify, max5, identity.Accepted)
		advance(time.Second)
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
	})

	t.Run("wrong digests do not extend the ttl", func(t *testing.T) {
		s, advance := newStore(t)
		skipWithoutClock(t, advance)
		put(t, s, key, right, time.Minute)
		advance(30 * time.Second)
		check(t, s, key, wrong, identity.Consume, max5, identity.Mismatch)
		advance(30 * time.Second)
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
	})

	t.Run("of many concurrent right digests exactly one is accepted in each mode", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		for _, mode := range []identity.CheckMode{identity.Verify, identity.Consume} {
			got := concurrentChecks(t, s, key, right, mode, max5)
			if got[identity.Accepted] != 1 || got[identity.Missing] != 63 {
				t.Errorf("mode %d: got %v, want 1 accepted and 63 missing", mode, got)
			}
		}
	})

	t.Run("many concurrent wrong digests count no more than the maximum attempts", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, key, right, ttl)
		got := concurrentChecks(t, s, key, wrong, identity.Consume, max5)
		if got[identity.Mismatch] != max5 || got[identity.Missing] != 64-max5 {
			t.Errorf("got %v, want %d mismatches and %d missing", got, max5, 64-max5)
		}
		check(t, s, key, right, identity.Consume, max5, identity.Missing)
	})
}

// simultaneously runs f(0), ..., f(n-1) in n goroutines released together.
func simultaneously(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// concurrentChecks runs 64 simultaneous Checks and counts the results.
func concurrentChecks(t *testing.T, s identity.ChallengeStore, key string, digest []byte, mode identity.CheckMode, maxAttempts int) map[identity.CheckResult]int {
	t.Helper()
	const n = 64
	results := make([]identity.CheckResult, n)
	errs := make([]error, n)
	simultaneously(n, func(i int) {
		results[i], errs[i] = s.Check(t.Context(), key, digest, mode, maxAttempts)
	})
	counts := make(map[identity.CheckResult]int)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Check: %v", errs[i])
		}
		counts[results[i]]++
	}
	return counts
}

func resultName(r identity.CheckResult) string {
	switch r {
	case identity.Accepted:
		return "Accepted"
	case identity.Mismatch:
		return "Mismatch"
	case identity.Missing:
		return "Missing"
	}
	return fmt.Sprintf("CheckResult(%d)", int(r))
}

// TestRateLimiter is the contract every identity.RateLimiter meets.
// newLimiter returns an empty limiter for each subtest. The keys of the
// limits passed together share a hash tag, as on Redis Cluster.
func TestRateLimiter(t *testing.T, newLimiter func(t *testing.T) (identity.RateLimiter, Advance)) {
	minute := identity.Limit{Key: "sms:{13800138000}:minute", Max: 3, Window: time.Minute}
	hour := identity.Limit{Key: "sms:{13800138000}:hour", Max: 5, Window: time.Hour}

	take := func(t *testing.T, rl identity.RateLimiter, id string, limits ...identity.Limit) time.Duration {
		t.Helper()
		retry, err := rl.Take(t.Context(), id, limits...)
		if err != nil {
			t.Fatalf("Take(%q): %v", id, err)
		}
		return retry
	}
	allowed := func(t *testing.T, rl identity.RateLimiter, id string, limits ...identity.Limit) {
		t.Helper()
		if retry := take(t, rl, id, limits...); retry != 0 {
			t.Fatalf("Take(%q) refused, retry after %v; want it allowed", id, retry)
		}
	}
	refused := func(t *testing.T, rl identity.RateLimiter, id string, limits ...identity.Limit) time.Duration {
		t.Helper()
		retry := take(t, rl, id, limits...)
		if retry <= 0 {
			t.Fatalf("Take(%q) allowed; want it refused", id)
		}
		return retry
	}
	refund := func(t *testing.T, rl identity.RateLimiter, id string, limits ...identity.Limit) {
		t.Helper()
		if err := rl.Refund(t.Context(), id, limits...); err != nil {
			t.Fatalf("Refund(%q): %v", id, err)
		}
	}

	t.Run("max events are allowed and the next is refused with a retry within the window", func(t *testing.T) {
		rl, _ := newLimiter(t)
		for i := range minute.Max {
			allowed(t, rl, fmt.Sprint("e", i), minute)
		}
		if retry := refused(t, rl, "e-last", minute); retry > minute.Window {
			t.Errorf("retry after %v, want at most %v", retry, minute.Window)
		}
	})

	t.Run("the retry counts from the oldest event in the window", func(t *testing.T) {
		rl, advance := newLimiter(t)
		skipWithoutClock(t, advance)
		allowed(t, rl, "e0", minute)
		advance(20 * time.Second)
		allowed(t, rl, "e1", minute)
		allowed(t, rl, "e2", minute)
		retry := refused(t, rl, "e3", minute)
		// Within a millisecond: Redis keeps ms.
		if d := retry - 40*time.Second; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("retry after %v, want 40s", retry)
		}
	})

	t.Run("limits with different keys are independent", func(t *testing.T) {
		rl, _ := newLimiter(t)
		other := minute
		other.Key = "sms:{13900139000}:minute"
		for i := range minute.Max {
			allowed(t, rl, fmt.Sprint("e", i), minute)
		}
		allowed(t, rl, "o0", other)
	})

	t.Run("an allowed event is recorded under every limit", func(t *testing.T) {
		rl, _ := newLimiter(t)
		a := identity.Limit{Key: "ip:{10.0.0.1}:a", Max: 1, Window: time.Minute}
		b := identity.Limit{Key: "ip:{10.0.0.1}:b", Max: 1, Window: time.Hour}
		allowed(t, rl, "e0", a, b)
		refused(t, rl, "e1", a)
		refused(t, rl, "e2", b)
	})

	t.Run("a refusal by one limit records nothing under the other", func(t *testing.T) {
		rl, _ := newLimiter(t)
		for i := range minute.Max {
			allowed(t, rl, fmt.Sprint("m", i), minute)
		}
		for i := range 3 {
			refused(t, rl, fmt.Sprint("both", i), minute, hour)
		}
		// Nothing was recorded under hour: all its room is still there.
		for i := range hour.Max {
			allowed(t, rl, fmt.Sprint("h", i), hour)
		}
		refused(t, rl, "h-last", hour)
	})

	t.Run("the retry is that of the fullest limit", func(t *testing.T) {
		rl, advance := newLimiter(t)
		skipWithoutClock(t, advance)
		short := identity.Limit{Key: "ip:{10.0.0.1}:short", Max: 1, Window: time.Minute}
		long := identity.Limit{Key: "ip:{10.0.0.1}:long", Max: 1, Window: time.Hour}
		allowed(t, rl, "e0", short, long)
		advance(10 * time.Second)
		retry := refused(t, rl, "e1", short, long)
		if d := retry - (time.Hour - 10*time.Second); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("retry after %v, want 59m50s", retry)
		}
	})

	t.Run("the window slides as time passes", func(t *testing.T) {
		rl, advance := newLimiter(t)
		skipWithoutClock(t, advance)
		l := identity.Limit{Key: "sms:{13800138000}:slide", Max: 2, Window: time.Minute}
		allowed(t, rl, "e0", l)
		advance(30 * time.Second)
		allowed(t, rl, "e1", l)
		refused(t, rl, "e2", l)
		advance(29 * time.Second)
		refused(t, rl, "e3", l)
		advance(time.Second) // e0 leaves the window
		allowed(t, rl, "e4", l)
		refused(t, rl, "e5", l)
		advance(30 * time.Second) // e1 leaves
		allowed(t, rl, "e6", l)
	})

	t.Run("refund frees a slot", func(t *testing.T) {
		rl, _ := newLimiter(t)
		for i := range minute.Max {
			allowed(t, rl, fmt.Sprint("e", i), minute)
		}
		refused(t, rl, "e-late", minute)
		refund(t, rl, "e1", minute)
		allowed(t, rl, "e-after-refund", minute)
		refused(t, rl, "e-late-again", minute)
	})

	t.Run("refund removes the event from every limit", func(t *testing.T) {
		rl, _ := newLimiter(t)
		a := identity.Limit{Key: "ip:{10.0.0.1}:a", Max: 1, Window: time.Minute}
		b := identity.Limit{Key: "ip:{10.0.0.1}:b", Max: 1, Window: time.Hour}
		allowed(t, rl, "e0", a, b)
		refund(t, rl, "e0", a, b)
		allowed(t, rl, "e1", a)
		allowed(t, rl, "e2", b)
	})

	t.Run("refunding an unknown event changes nothing", func(t *testing.T) {
		rl, _ := newLimiter(t)
		refund(t, rl, "never", minute)
		allowed(t, rl, "e0", minute)
		refund(t, rl, "never", minute)
		for i := 1; i < minute.Max; i++ {
			allowed(t, rl, fmt.Sprint("e", i), minute)
		}
		refused(t, rl, "e-last", minute)
	})

	t.Run("limits on one key count the same events, each over its own window", func(t *testing.T) {
		rl, advance := newLimiter(t)
		skipWithoutClock(t, advance)
		const key = "sms:{13800138000}:sends"
		cooldown := identity.Limit{Key: key, Max: 1, Window: time.Minute}
		hourly := identity.Limit{Key: key, Max: 3, Window: time.Hour}
		daily := identity.Limit{Key: key, Max: 4, Window: 24 * time.Hour}
		allowed(t, rl, "e0", cooldown, hourly, daily)
		if retry := refused(t, rl, "e1", cooldown, hourly, daily); retry > time.Minute {
			t.Errorf("within the cool-down: retry after %v, want at most 1m", retry)
		}
		advance(time.Minute)
		allowed(t, rl, "e2", cooldown, hourly, daily)
		advance(time.Minute)
		allowed(t, rl, "e3", cooldown, hourly, daily)
		advance(time.Minute)
		// Three in the hour: the shorter window does not forget e0.
		retry := refused(t, rl, "e4", cooldown, hourly, daily)
		if d := retry - (time.Hour - 3*time.Minute); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("hourly cap: retry after %v, want 57m", retry)
		}
		advance(time.Hour)
		allowed(t, rl, "e5", cooldown, hourly, daily)
		advance(time.Hour)
		// Four in the day: the hour's window does not forget e0.
		retry = refused(t, rl, "e6", cooldown, hourly, daily)
		if d := retry - (24*time.Hour - 2*time.Hour - 3*time.Minute); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("daily cap: retry after %v, want 21h57m", retry)
		}
		refund(t, rl, "e5", cooldown, hourly, daily)
		allowed(t, rl, "e7", cooldown, hourly, daily)
	})

	t.Run("of many concurrent takes exactly max are allowed", func(t *testing.T) {
		rl, _ := newLimiter(t)
		const n = 100
		l := identity.Limit{Key: "sms:{13800138000}:burst", Max: 10, Window: time.Minute}
		retries := make([]time.Duration, n)
		errs := make([]error, n)
		simultaneously(n, func(i int) {
			retries[i], errs[i] = rl.Take(t.Context(), fmt.Sprint("e", i), l)
		})
		ok := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Take: %v", errs[i])
			}
			if retries[i] == 0 {
				ok++
			}
		}
		if ok != l.Max {
			t.Errorf("%d takes allowed, want %d", ok, l.Max)
		}
	})
}

// TestCodeStore is the contract of identity.CodeStore's PutIfRoom (Put,
// Check, Take and Refund have theirs above). newStore returns an empty store
// for each subtest.
func TestCodeStore(t *testing.T, newStore func(t *testing.T) (identity.CodeStore, Advance)) {
	const (
		key = "otp:{13800138000}:DEALER"
		ttl = 5 * time.Minute
	)
	earlier := []byte("earlier digest 0123456789abcdef0")
	next := []byte("next digest 0123456789abcdef0123")
	phone := identity.Limit{Key: "sms:{13800138000}:sends", Max: 1, Window: time.Minute}
	client := identity.Limit{Key: "sms:{client:c1}:hour", Max: 1, Window: time.Hour}

	putIfRoom := func(t *testing.T, s identity.CodeStore, id string, digest []byte, groups ...[]identity.Limit) []time.Duration {
		t.Helper()
		waits, err := s.PutIfRoom(t.Context(), id, groups, key, digest, ttl)
		if err != nil {
			t.Fatalf("PutIfRoom(%q): %v", id, err)
		}
		if len(waits) != len(groups) {
			t.Fatalf("PutIfRoom(%q) = %v for %d groups", id, waits, len(groups))
		}
		return waits
	}
	check := func(t *testing.T, s identity.CodeStore, digest []byte, want identity.CheckResult) {
		t.Helper()
		got, err := s.Check(t.Context(), key, digest, identity.Verify, 5)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if got != want {
			t.Fatalf("Check(%s) = %s, want %s", digest, resultName(got), resultName(want))
		}
	}

	t.Run("the challenge is stored and the event recorded when every group has room", func(t *testing.T) {
		s, _ := newStore(t)
		if waits := putIfRoom(t, s, "e0", next, []identity.Limit{phone}, []identity.Limit{client}); waits[0] != 0 || waits[1] != 0 {
			t.Fatalf("waits %v, want none", waits)
		}
		check(t, s, next, identity.Accepted)
		for _, l := range []identity.Limit{phone, client} {
			if retry, err := s.Take(t.Context(), "e1", l); err != nil || retry <= 0 {
				t.Fatalf("Take(%s) after the put = %v, %v; want it full", l.Key, retry, err)
			}
		}
	})

	t.Run("each group is taken on its own: a full one stops only the challenge", func(t *testing.T) {
		s, _ := newStore(t)
		full := identity.Limit{Key: "sms:{ip:10.0.0.1}:hour", Max: 1, Window: time.Hour}
		if retry, err := s.Take(t.Context(), "e0", full); err != nil || retry != 0 {
			t.Fatalf("Take = %v, %v", retry, err)
		}
		roomy := identity.Limit{Key: "sms:{client:c2}:hour", Max: 2, Window: time.Hour}
		waits := putIfRoom(t, s, "e1", next, []identity.Limit{phone}, nil, []identity.Limit{full}, []identity.Limit{roomy})
		if waits[0] != 0 || waits[1] != 0 || waits[2] <= 0 || waits[3] != 0 {
			t.Fatalf("waits %v, want [0 0 >0 0]", waits)
		}
		if got, err := s.Check(t.Context(), key, next, identity.Verify, 5); err != nil || got != identity.Missing {
			t.Fatalf("Check = %s, %v; want the challenge not stored", resultName(got), err)
		}
		take := func(id string, l identity.Limit, want bool) {
			t.Helper()
			retry, err := s.Take(t.Context(), id, l)
			if err != nil || (retry == 0) != want {
				t.Fatalf("Take(%s, %s) = %v, %v; want allowed=%v", id, l.Key, retry, err, want)
			}
		}
		take("e2", phone, false) // e1 was recorded for the phone
		take("e3", roomy, true)
		take("e4", roomy, false) // and for the other group with room
		if err := s.Refund(t.Context(), "e0", full); err != nil {
			t.Fatal(err)
		}
		take("e5", full, true) // but not under the full limit
	})

	t.Run("a refusal by any group stores nothing and keeps the earlier challenge", func(t *testing.T) {
		s, _ := newStore(t)
		if err := s.Put(t.Context(), key, earlier, ttl); err != nil {
			t.Fatal(err)
		}
		if retry, err := s.Take(t.Context(), "other", client); err != nil || retry != 0 {
			t.Fatalf("Take = %v, %v", retry, err)
		}
		waits := putIfRoom(t, s, "e0", next, []identity.Limit{phone}, []identity.Limit{client})
		if waits[0] != 0 || waits[1] <= 0 {
			t.Fatalf("waits %v, want room for the phone only", waits)
		}
		check(t, s, next, identity.Mismatch)
		check(t, s, earlier, identity.Accepted)
	})

	t.Run("without groups it is a put", func(t *testing.T) {
		s, _ := newStore(t)
		putIfRoom(t, s, "", next)
		check(t, s, next, identity.Accepted)
	})

	t.Run("of many concurrent sends under a cool-down exactly one stores its challenge", func(t *testing.T) {
		s, _ := newStore(t)
		const n = 20
		waits := make([][]time.Duration, n)
		errs := make([]error, n)
		simultaneously(n, func(i int) {
			waits[i], errs[i] = s.PutIfRoom(t.Context(), fmt.Sprint("e", i), [][]identity.Limit{{phone}}, key, fmt.Appendf(nil, "digest %02d", i), ttl)
		})
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("PutIfRoom: %v", errs[i])
			}
			if waits[i][0] == 0 {
				if winner >= 0 {
					t.Fatalf("sends %d and %d both had room", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no send had room")
		}
		check(t, s, fmt.Appendf(nil, "digest %02d", winner), identity.Accepted)
	})
}

// TestCache is the contract every identity.Cache meets. newCache returns an
// empty cache for each subtest.
func TestCache(t *testing.T, newCache func(t *testing.T) (identity.Cache, Advance)) {
	const key = "captcha:{abc}:image"

	set := func(t *testing.T, c identity.Cache, key string, value []byte, ttl time.Duration) {
		t.Helper()
		if err := c.Set(t.Context(), key, value, ttl); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	get := func(t *testing.T, c identity.Cache, key string) ([]byte, bool) {
		t.Helper()
		v, found, err := c.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		return v, found
	}
	wantValue := func(t *testing.T, c identity.Cache, key, want string) {
		t.Helper()
		v, found := get(t, c, key)
		if !found || string(v) != want {
			t.Fatalf("Get = %q, %v; want %q, true", v, found, want)
		}
	}
	wantMissing := func(t *testing.T, c identity.Cache, key string) {
		t.Helper()
		if v, found := get(t, c, key); found {
			t.Fatalf("Get = %q, true; want not found", v)
		}
	}

	t.Run("a value that was set is returned", func(t *testing.T) {
		c, _ := newCache(t)
		set(t, c, key, []byte("\x89PNG\x00\xff"), time.Minute)
		wantValue(t, c, key, "\x89PNG\x00\xff")
	})

	t.Run("a key that was never set is not found", func(t *testing.T) {
		c, _ := newCache(t)
		wantMissing(t, c, key)
	})

	t.Run("an empty value is found", func(t *testing.T) {
		c, _ := newCache(t)
		set(t, c, key, nil, time.Minute)
		wantValue(t, c, key, "")
	})

	t.Run("set replaces the value", func(t *testing.T) {
		c, _ := newCache(t)
		set(t, c, key, []byte("old"), time.Minute)
		set(t, c, key, []byte("new"), time.Minute)
		wantValue(t, c, key, "new")
	})

	t.Run("the cache keeps its own copy of the value", func(t *testing.T) {
		c, _ := newCache(t)
		v := []byte("token")
		set(t, c, key, v, time.Minute)
		v[0] = 'X'
		got, _ := get(t, c, key)
		got[0] = 'Y'
		wantValue(t, c, key, "token")
	})

	t.Run("a value expires after its ttl", func(t *testing.T) {
		c, advance := newCache(t)
		skipWithoutClock(t, advance)
		set(t, c, key, []byte("token"), time.Minute)
		advance(59 * time.Second)
		wantValue(t, c, key, "token")
		advance(time.Second)
		wantMissing(t, c, key)
	})

	t.Run("set replaces the ttl", func(t *testing.T) {
		c, advance := newCache(t)
		skipWithoutClock(t, advance)
		set(t, c, key, []byte("short"), time.Minute)
		set(t, c, key, []byte("long"), time.Hour)
		advance(2 * time.Minute)
		wantValue(t, c, key, "long")
	})
}

package redis_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/rueidis"

	"github.com/carcity/identity/adapters/redis"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

// newMiniredis returns a store on a fresh miniredis whose clock (TTLs and
// TIME alike) only Advance moves.
func newMiniredis(t *testing.T) (*redis.Store, identitytest.Advance, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mr.SetTime(now)
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{mr.Addr()},
		// miniredis has no CLIENT TRACKING, and answers CLUSTER SLOTS.
		DisableCache:      true,
		ForceSingleClient: true,
	})
	if err != nil {
		t.Fatalf("connecting to miniredis: %v", err)
	}
	t.Cleanup(c.Close)
	advance := func(d time.Duration) {
		now = now.Add(d)
		mr.SetTime(now)
		mr.FastForward(d)
	}
	return redis.New(c, "idsvc:"), advance, mr
}

func TestMiniredis(t *testing.T) {
	runSuites(t, func(t *testing.T) (*redis.Store, identitytest.Advance) {
		s, advance, _ := newMiniredis(t)
		return s, advance
	})
	t.Run("one call per limit group, as on a cluster", func(t *testing.T) {
		identitytest.TestRateLimiter(t, func(t *testing.T) (identity.RateLimiter, identitytest.Advance) {
			s, advance, _ := newMiniredis(t)
			return redis.PerSlot(s), advance
		})
		identitytest.TestCodeStore(t, func(t *testing.T) (identity.CodeStore, identitytest.Advance) {
			s, advance, _ := newMiniredis(t)
			return redis.PerSlot(s), advance
		})
	})
}

// TestRealRedis runs the suites against TEST_REDIS_URL, each subtest under
// its own random prefix. Expiry tests are skipped: the server's clock runs on.
func TestRealRedis(t *testing.T) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		t.Skip("set TEST_REDIS_URL to also test against a real Redis")
	}
	c, err := redis.Open(url)
	if err == nil {
		t.Cleanup(c.Close)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err = redis.New(c, "").Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("TEST_REDIS_URL is set but unreachable: %v", err)
		}
		t.Skipf("TEST_REDIS_URL is set but unreachable: %v", err)
	}
	runSuites(t, func(t *testing.T) (*redis.Store, identitytest.Advance) {
		prefix := "idsvc-test:" + rand.Text() + ":"
		t.Cleanup(func() { deleteKeys(t, c, prefix) })
		return redis.New(c, prefix), nil
	})
}

func runSuites(t *testing.T, newStore func(t *testing.T) (*redis.Store, identitytest.Advance)) {
	t.Helper()
	t.Run("challenge store", func(t *testing.T) {
		identitytest.TestChallengeStore(t, func(t *testing.T) (identity.ChallengeStore, identitytest.Advance) {
			return newStore(t)
		})
	})
	t.Run("rate limiter", func(t *testing.T) {
		identitytest.TestRateLimiter(t, func(t *testing.T) (identity.RateLimiter, identitytest.Advance) {
			return newStore(t)
		})
	})
	t.Run("code store", func(t *testing.T) {
		identitytest.TestCodeStore(t, func(t *testing.T) (identity.CodeStore, identitytest.Advance) {
			return newStore(t)
		})
	})
	t.Run("cache", func(t *testing.T) {
		identitytest.TestCache(t, func(t *testing.T) (identity.Cache, identitytest.Advance) {
			return newStore(t)
		})
	})
}

// deleteKeys removes every key under prefix, on every node of a cluster.
func deleteKeys(t *testing.T, c rueidis.Client, prefix string) {
	t.Helper()
	// t.Context is already canceled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range c.Nodes() {
		var cursor uint64
		for {
			e, err := n.Do(ctx, n.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Errorf("scanning test keys: %v", err)
				return
			}
			for _, k := range e.Elements {
				if err := c.Do(ctx, c.B().Del().Key(k).Build()).Error(); err != nil {
					t.Errorf("deleting test key: %v", err)
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
}

func TestKeysCarryThePrefix(t *testing.T) {
	s, _, mr := newMiniredis(t)
	ctx := t.Context()
	if err := s.Set(ctx, "captcha:{a}", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "code:{138}", []byte("d"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, "e", identity.Limit{Key: "sms:{138}:hour", Max: 1, Window: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(mr.Keys(), " ")
	if want := "idsvc:captcha:{a} idsvc:code:{138} idsvc:sms:{138}:hour"; got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
}

func TestCallsAgainstAStoppedServerReturnErrors(t *testing.T) {
	s, _, mr := newMiniredis(t)
	mr.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	limit := identity.Limit{Key: "sms:{138}:hour", Max: 1, Window: time.Hour}
	calls := map[string]func() error{
		"ping": func() error { return s.Ping(ctx) },
		"put":  func() error { return s.Put(ctx, "k", []byte("d"), time.Minute) },
		"check": func() error {
			_, err := s.Check(ctx, "k", []byte("d"), identity.Consume, 5)
			return err
		},
		"take": func() error {
			_, err := s.Take(ctx, "e", limit)
			return err
		},
		"refund": func() error { return s.Refund(ctx, "e", limit) },
		"get": func() error {
			_, _, err := s.Get(ctx, "k")
			return err
		},
		"set": func() error { return s.Set(ctx, "k", []byte("v"), time.Minute) },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error from a stopped server", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "redis ") {
			t.Errorf("%s: error %q lacks its context", name, err)
		}
	}
}

func TestOpenConnectsToOneServer(t *testing.T) {
	mr := miniredis.RunT(t)
	c, err := redis.Open("redis://" + mr.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := redis.New(c, "").Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestOpenReportsAServerThatIsNotThere(t *testing.T) {
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	mr.Close()
	c, err := redis.Open("redis://" + addr)
	if err == nil {
		c.Close()
		t.Fatal("Open succeeded without a server")
	}
}

// A restarted or flushed server has forgotten the scripts the store runs by
// SHA-1: the store sends them again.
func TestScriptsSurviveAScriptFlush(t *testing.T) {
	s, _, mr := newMiniredis(t)
	ctx := t.Context()
	limit := identity.Limit{Key: "sms:{138}:hour", Max: 2, Window: time.Hour}
	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{mr.Addr()}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	for i, want := range []bool{true, true, false} {
		if err := admin.Do(ctx, admin.B().ScriptFlush().Build()).Error(); err != nil {
			t.Fatal(err)
		}
		retry, err := s.Take(ctx, fmt.Sprint("e", i), limit)
		if err != nil {
			t.Fatalf("take %d after SCRIPT FLUSH: %v", i, err)
		}
		if got := retry == 0; got != want {
			t.Errorf("take %d allowed=%v, want %v", i, got, want)
		}
	}
}

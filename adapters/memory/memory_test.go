package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/carcity/identity/adapters/memory"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

// newStore returns a store on a fake clock that only Advance moves.
func newStore(t *testing.T) (*memory.Store, identitytest.Advance) {
	t.Helper()
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	return memory.New(clock), advance
}

func TestChallengeStore(t *testing.T) {
	identitytest.TestChallengeStore(t, func(t *testing.T) (identity.ChallengeStore, identitytest.Advance) {
		return newStore(t)
	})
}

func TestRateLimiter(t *testing.T) {
	identitytest.TestRateLimiter(t, func(t *testing.T) (identity.RateLimiter, identitytest.Advance) {
		return newStore(t)
	})
}

func TestCodeStore(t *testing.T) {
	identitytest.TestCodeStore(t, func(t *testing.T) (identity.CodeStore, identitytest.Advance) {
		return newStore(t)
	})
}

func TestCache(t *testing.T) {
	identitytest.TestCache(t, func(t *testing.T) (identity.Cache, identitytest.Advance) {
		return newStore(t)
	})
}

func TestNewWithoutClockUsesTheWallClock(t *testing.T) {
	s := memory.New(nil)
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Get(ctx, "k"); !found {
		t.Fatal("value set with a wall clock is not found")
	}
}

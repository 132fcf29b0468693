package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
)

func TestExpiredEntriesThatNobodyReadsAreDropped(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(func() time.Time { return now })
	ctx := context.Background()
	for i := range 100 {
		k := fmt.Sprint("k", i)
		if err := s.Put(ctx, k, []byte("d"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Take(ctx, "e", identity.Limit{Key: k, Max: 1, Window: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(sweepEvery + time.Minute)
	if _, _, err := s.Get(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.challenges) + len(s.values) + len(s.logs); n != 0 {
		t.Errorf("%d expired entries left after a sweep", n)
	}
}

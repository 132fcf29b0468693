package graph

import (
	"context"

	"github.com/carcity/identity/identity"
)

// Page sizes of admin listings: the default when neither first nor last is
// given, and the cap.
const (
	defaultPage = 20
	maxPage     = 100
)

// adminPage authorizes an admin listing and bounds its page size.
func (r *Resolver) adminPage(ctx context.Context, first, last *int) (*int, error) {
	if err := r.svc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	for _, n := range []*int{first, last} {
		if n != nil && (*n < 0 || *n > maxPage) {
			return nil, identity.Invalid("first", "每页最多 100 条")
		}
	}
	if first == nil && last == nil {
		n := defaultPage
		first = &n
	}
	return first, nil
}

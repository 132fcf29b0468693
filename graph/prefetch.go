package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/certification"
	"github.com/carcity/identity/identity"
)

// prefetched holds per-request results loaded for a whole page at once, so
// that a list of users with their certifications costs a fixed number of
// queries instead of one per row.
type prefetched struct {
	mu     sync.Mutex
	asked  map[int]bool                          // users whose latest certification was loaded
	certs  map[int]*ent.Certification            // their certifications (absent: none)
	images map[int]*identity.CertificationImages // by certification, so both URL fields sign (and audit) once
}

type prefetchKey struct{}

func withPrefetch(ctx context.Context) context.Context {
	return context.WithValue(ctx, prefetchKey{}, &prefetched{})
}

func prefetchFrom(ctx context.Context) *prefetched {
	p, _ := ctx.Value(prefetchKey{}).(*prefetched)
	return p
}

// certification returns the prefetched latest certification of userID;
// ok is false when userID was not prefetched.
func (p *prefetched) certification(userID int) (c *ent.Certification, ok bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.asked[userID] {
		return nil, false
	}
	return p.certs[userID], true
}

// prefetchCertifications loads the latest certification of every user of an
// admin's page, with its reviews, when the query asks for
// edges.node.certification: two queries for the whole page.
func (r *Resolver) prefetchCertifications(ctx context.Context, conn *ent.UserConnection) error {
	p := prefetchFrom(ctx)
	if p == nil || len(conn.Edges) == 0 || !selects(ctx, "edges", "node", "certification") {
		return nil
	}
	ids := make([]int, len(conn.Edges))
	for i, e := range conn.Edges {
		ids[i] = e.Node.ID
	}
	// Reviews are loaded under the field's name, where the generated edge
	// resolver looks for them.
	certs, err := r.svc.DB().Certification.Query().
		Where(certification.UserIDIn(ids...)).
		WithNamedReviews("reviews").
		Order(ent.Asc(certification.FieldSubmittedAt), ent.Asc(certification.FieldID)).
		All(ctx)
	if err != nil {
		return err
	}
	latest := make(map[int]*ent.Certification, len(ids))
	for _, c := range certs {
		latest[c.UserID] = c // ascending: the latest wins
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.asked == nil {
		p.asked, p.certs = map[int]bool{}, map[int]*ent.Certification{}
	}
	for _, id := range ids {
		p.asked[id] = true
		if c, ok := latest[id]; ok {
			p.certs[id] = c
		}
	}
	return nil
}

// selects reports whether the current field's selection contains path.
func selects(ctx context.Context, path ...string) bool {
	op := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFieldsCtx(ctx, nil)
	for _, name := range path {
		var next []graphql.CollectedField
		found := false
		for _, f := range fields {
			if f.Name == name {
				found = true
				next = append(next, graphql.CollectFields(op, f.Selections, nil)...)
			}
		}
		if !found {
			return false
		}
		fields = next
	}
	return true
}

// images returns the photos of c, once per request.
func (r *Resolver) images(ctx context.Context, c *ent.Certification) (*identity.CertificationImages, error) {
	p := prefetchFrom(ctx)
	if p == nil {
		return r.svc.Images(ctx, c)
	}
	p.mu.Lock()
	defer p.mu.Unlock() // held across the call: the two URL fields resolve concurrently
	if img, ok := p.images[c.ID]; ok {
		return img, nil
	}
	img, err := r.svc.Images(ctx, c)
	if err != nil {
		return nil, err
	}
	if p.images == nil {
		p.images = map[int]*identity.CertificationImages{}
	}
	p.images[c.ID] = img
	return img, nil
}

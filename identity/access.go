package identity

import (
	"context"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/certification"
	"github.com/carcity/identity/ent/review"
	"github.com/carcity/identity/ent/user"
)

// Node fetches any object by global id, if the caller may see it: admins see
// everything; others their own account, certifications and reviews.
//
// Errors: CodeUnauthenticated, CodeNotFound (also for objects the caller may
// not see, so ids cannot be probed), CodeUnavailable.
func (s *Service) Node(ctx context.Context, id int) (ent.Noder, error) {
	nodes, err := s.Nodes(ctx, []int{id})
	if err != nil {
		return nil, err
	}
	if nodes[0] == nil {
		return nil, E(CodeNotFound)
	}
	return nodes[0], nil
}

// Nodes is Node for many ids: missing objects and objects the caller may not
// see are both nil.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeUnavailable.
func (s *Service) Nodes(ctx context.Context, ids []int) ([]ent.Noder, error) {
	if ActorFrom(ctx) == nil {
		return nil, E(CodeUnauthenticated)
	}
	if len(ids) > 100 {
		return nil, Invalid("ids", "一次最多查询 100 个对象")
	}
	nodes := make([]ent.Noder, len(ids))
	for i, id := range ids {
		n, err := s.db.Noder(ctx, id)
		if ent.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, dbError(err)
		}
		if ok, err := s.canSeeNode(ctx, n); err != nil {
			return nil, err
		} else if ok {
			nodes[i] = n
		}
	}
	return nodes, nil
}

// canSeeNode looks owners up afresh: nodes fetched for GraphQL only carry
// the fields the query selected.
func (s *Service) canSeeNode(ctx context.Context, n ent.Noder) (bool, error) {
	if ActorFrom(ctx).Kind == user.KindAdmin {
		return true, nil
	}
	var owner int
	var err error
	switch n := n.(type) {
	case *ent.User:
		return s.CanSee(ctx, n.ID), nil
	case *ent.Certification:
		owner, err = s.db.Certification.Query().Where(certification.ID(n.ID)).Select(certification.FieldUserID).Int(ctx)
	case *ent.Review:
		owner, err = s.db.Review.Query().Where(review.ID(n.ID)).QueryCertification().Select(certification.FieldUserID).Int(ctx)
	default:
		return false, nil // audit events and anything new: admins only
	}
	if err != nil {
		return false, dbError(err)
	}
	return s.CanSee(ctx, owner), nil
}

// OpenID is the account's WeChat openId, shown to admins only.
func (s *Service) OpenID(ctx context.Context, u *ent.User) *string {
	if a := ActorFrom(ctx); a != nil && a.Kind == user.KindAdmin {
		return u.OpenID
	}
	return nil
}

// Reviewer is the admin behind a review, shown to admins only.
//
// Errors: CodeUnavailable.
func (s *Service) Reviewer(ctx context.Context, r *ent.Review) (*ent.User, error) {
	if a := ActorFrom(ctx); a == nil || a.Kind != user.KindAdmin {
		return nil, nil
	}
	u, err := s.db.User.Get(ctx, r.ReviewerID)
	if err != nil {
		return nil, dbError(err)
	}
	return u, nil
}

// LatestCertification is an account's newest certification, for its owner
// and admins (nil for others and when there is none).
//
// Errors: CodeUnavailable.
func (s *Service) LatestCertification(ctx context.Context, u *ent.User) (*ent.Certification, error) {
	if !s.CanSee(ctx, u.ID) {
		return nil, nil
	}
	c, err := s.latestCertification(ctx, s.db, u.ID)
	if err != nil {
		return nil, dbError(err)
	}
	return c, nil
}

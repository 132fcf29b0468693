package identity

import (
	"context"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/accountevent"
)

// record appends to the account audit log, inside the caller's transaction.
func (s *Service) record(ctx context.Context, db *ent.Client, userID int, action accountevent.Action, detail string) error {
	c := db.AccountEvent.Create().
		SetUserID(userID).
		SetAction(action).
		SetDetail(detail).
		SetIP(RequestFrom(ctx).IP).
		SetCreatedAt(s.now())
	if a := ActorFrom(ctx); a != nil {
		c.SetActorID(a.UserID)
	}
	return c.Exec(ctx)
}

package identity

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/session"
	"github.com/carcity/identity/ent/user"
)

// AuthPayload is what a successful sign-in returns.
type AuthPayload struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	User      *ent.User `json:"user"`
	// Certification is the account's latest certification (nil: none), for
	// the legacy responses that carry its status.
	Certification *ent.Certification `json:"-"`
}

// lastSeenGranularity bounds how often a request writes last_seen_at.
const lastSeenGranularity = time.Minute

func (s *Service) tokenHash(token string) []byte {
	return s.keyed("session", token)
}

// startSession creates a session for u and returns its payload.
func (s *Service) startSession(ctx context.Context, db *ent.Client, u *ent.User) (*AuthPayload, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	expires := now.Add(s.cfg.SessionTTL)
	err := db.Session.Create().
		SetTokenHash(s.tokenHash(token)).
		SetUserID(u.ID).
		SetCreatedAt(now).
		SetLastSeenAt(now).
		SetExpiresAt(expires).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	return &AuthPayload{Token: token, ExpiresAt: expires, User: u}, nil
}

// Authenticate resolves a bearer token to its caller: from this replica's
// session cache, or with one statement.
//
// Errors: CodeUnauthenticated (unknown, revoked or expired token), CodeUnavailable.
func (s *Service) Authenticate(ctx context.Context, token string) (*Actor, error) {
	if token == "" || len(token) > 256 {
		return nil, E(CodeUnauthenticated)
	}
	now := s.now()
	hash := s.tokenHash(token)
	a, touch, ok, generation := s.sessions.lookup(hash, now)
	if !ok {
		var err error
		if a, err = s.loadSession(ctx, hash, now); err != nil {
			return nil, err
		}
		touch = s.sessions.store(hash, a, now, generation)
	}
	if touch {
		// Best effort: a failed touch only shortens the idle window.
		err := s.db.Session.Update().
			Where(session.TokenHash(hash), session.LastSeenAtLT(now.Add(-lastSeenGranularity))).
			SetLastSeenAt(now).
			Exec(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "touching session", "err", err)
		}
	}
	return a, nil
}

// loadSession reads a live session joined to its user.
func (s *Service) loadSession(ctx context.Context, hash []byte, now time.Time) (*Actor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.expires_at, u.id, u.kind, u.telephone, u.open_id
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3`,
		hash, now, now.Add(-s.cfg.SessionIdle))
	if err != nil {
		return nil, Wrap(CodeUnavailable, fmt.Errorf("looking up session: %w", err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, Wrap(CodeUnavailable, fmt.Errorf("looking up session: %w", err))
		}
		return nil, E(CodeUnauthenticated)
	}
	a := &Actor{tokenHash: hash}
	var openID sql.NullString
	if err := rows.Scan(&a.expires, &a.UserID, &a.Kind, &a.Telephone, &openID); err != nil {
		return nil, Wrap(CodeUnavailable, fmt.Errorf("reading session: %w", err))
	}
	a.OpenID = openID.String
	return a, nil
}

// Logout revokes the caller's session.
//
// Errors: CodeUnauthenticated.
func (s *Service) Logout(ctx context.Context) (bool, error) {
	a := ActorFrom(ctx)
	if a == nil {
		return false, E(CodeUnauthenticated)
	}
	s.sessions.forget(a.tokenHash)
	if _, err := s.db.Session.Delete().Where(session.TokenHash(a.tokenHash)).Exec(ctx); err != nil {
		return false, Wrap(CodeUnavailable, fmt.Errorf("deleting session: %w", err))
	}
	return true, nil
}

// revokeSessions ends every session of userID except the one whose token
// hash is keep (nil: none).
func (s *Service) revokeSessions(ctx context.Context, db *ent.Client, userID int, keep []byte) error {
	onCommit(ctx, func() { s.sessions.forgetUser(userID, keep) })
	q := db.Session.Delete().Where(session.UserID(userID))
	if keep != nil {
		q.Where(session.TokenHashNEQ(keep))
	}
	_, err := q.Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoking sessions: %w", err)
	}
	return nil
}

// Me returns the caller's account.
//
// Errors: CodeUnauthenticated.
func (s *Service) Me(ctx context.Context) (*ent.User, error) {
	a := ActorFrom(ctx)
	if a == nil {
		return nil, E(CodeUnauthenticated)
	}
	u, err := s.db.User.Get(ctx, a.UserID)
	if err != nil {
		return nil, dbError(err)
	}
	return u, nil
}

// RequireAdmin fails unless the caller is an admin.
//
// Errors: CodeUnauthenticated, CodeForbidden.
func (s *Service) RequireAdmin(ctx context.Context) error {
	a := ActorFrom(ctx)
	switch {
	case a == nil:
		return E(CodeUnauthenticated)
	case a.Kind != user.KindAdmin:
		return E(CodeForbidden)
	}
	return nil
}

// CanSee reports whether the caller may read objects owned by ownerID.
func (s *Service) CanSee(ctx context.Context, ownerID int) bool {
	a := ActorFrom(ctx)
	return a != nil && (a.Kind == user.KindAdmin || a.UserID == ownerID)
}

// account resolves the account a call acts on. telephone is the account the
// request names (legacy bodies do); empty means the caller's own.
//
// With a session: the caller's account, or any account for an admin; naming
// another account is refused. Without one: only in legacy mode, by phone.
func (s *Service) account(ctx context.Context, db *ent.Client, telephone string) (*ent.User, error) {
	id, u, err := s.resolveAccount(ctx, db, telephone)
	if err != nil || u != nil {
		return u, err
	}
	if u, err = db.User.Get(ctx, id); err != nil {
		return nil, dbError(err)
	}
	return u, nil
}

// resolveAccount is account without loading the caller's own row: u is nil
// when only the id was needed to decide.
func (s *Service) resolveAccount(ctx context.Context, db *ent.Client, telephone string) (id int, u *ent.User, err error) {
	a := ActorFrom(ctx)
	phone := ""
	if telephone != "" {
		p, ok := NormalizePhone(telephone)
		if !ok {
			return 0, nil, Invalid("telephone", fieldMessages["telephone"])
		}
		phone = p
	}
	switch {
	case a != nil && (phone == "" || phone == a.Telephone):
		return a.UserID, nil, nil
	case a != nil && a.Kind != user.KindAdmin:
		return 0, nil, Ef(CodeForbidden, "只能操作本人账号")
	case a == nil && !RequestFrom(ctx).Legacy:
		return 0, nil, E(CodeUnauthenticated)
	case phone == "":
		return 0, nil, Invalid("telephone", fieldMessages["telephone"])
	}
	u, err = db.User.Query().Where(user.Telephone(phone)).Only(ctx)
	if ent.IsNotFound(err) {
		return 0, nil, Ef(CodeNotFound, "用户不存在")
	}
	if err != nil {
		return 0, nil, dbError(err)
	}
	return u.ID, u, nil
}

// accountChanged drops the cached callers of userID once the transaction
// commits: their phone, openId or kind changed.
func (s *Service) accountChanged(ctx context.Context, userID int) {
	onCommit(ctx, func() { s.sessions.forgetUser(userID, nil) })
}
